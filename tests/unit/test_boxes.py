"""Hand-checkable cases for grounding_rewards.boxes: formats, spaces, Qwen2.5-VL resize."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grounding_rewards import ConfigError, GroundTruthError, box_convert, from_pixels, to_pixels
from grounding_rewards.boxes import (
    as_boxes,
    box_area,
    pixel_scale,
    qwen25vl_resize,
    validate_image_size,
)

# --- shapes --------------------------------------------------------------------------------


def test_as_boxes_shapes() -> None:
    assert as_boxes([1, 2, 3, 4]).shape == (1, 4)
    assert as_boxes([[1, 2, 3, 4], [5, 6, 7, 8]]).shape == (2, 4)
    assert as_boxes([]).shape == (0, 4)
    assert as_boxes(np.zeros((0, 4))).shape == (0, 4)
    assert as_boxes([[1, 2, 3, 4]]).dtype == np.float64


@pytest.mark.parametrize("bad", [[1, 2, 3], [[1, 2, 3]], [[[1, 2, 3, 4]]], [[1, 2, 3, 4, 5]]])
def test_as_boxes_rejects_other_shapes(bad: object) -> None:
    with pytest.raises(ValueError, match=r"\[N, 4\]"):
        as_boxes(bad)


def test_box_area() -> None:
    # 2 x 3 = 6; an inverted box has area 0, not a positive product of two negatives.
    assert box_area([[0, 0, 2, 3], [5, 5, 4, 4], [0, 0, 0, 9]]).tolist() == [6.0, 0.0, 0.0]


# --- box_convert ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("box", "in_fmt", "out_fmt", "expected"),
    [
        # xywh (10, 20, 30, 40): x2 = 10 + 30, y2 = 20 + 40
        ([10, 20, 30, 40], "xywh", "xyxy", [10, 20, 40, 60]),
        # xyxy (10, 10, 20, 30): centre (15, 20), size (10, 20)
        ([10, 10, 20, 30], "xyxy", "cxcywh", [15, 20, 10, 20]),
        # cxcywh (15, 20, 10, 20): x1 = 15 - 5, y1 = 20 - 10, x2 = 15 + 5, y2 = 20 + 10
        ([15, 20, 10, 20], "cxcywh", "xyxy", [10, 10, 20, 30]),
        # cxcywh (15, 20, 10, 20) -> top-left (10, 10), size (10, 20)
        ([15, 20, 10, 20], "cxcywh", "xywh", [10, 10, 10, 20]),
        # xywh (10, 10, 10, 20) -> centre (15, 20)
        ([10, 10, 10, 20], "xywh", "cxcywh", [15, 20, 10, 20]),
        ([1, 2, 3, 4], "xyxy", "xyxy", [1, 2, 3, 4]),
    ],
)
def test_box_convert_by_hand(
    box: list[float], in_fmt: str, out_fmt: str, expected: list[float]
) -> None:
    assert box_convert([box], in_fmt, out_fmt).tolist() == [expected]


def test_box_convert_round_trips_and_does_not_modify_its_input() -> None:
    rng = np.random.default_rng(0)
    boxes = rng.uniform(0, 100, (20, 4))
    original = boxes.copy()
    for fmt in ("xywh", "cxcywh"):
        back = box_convert(box_convert(boxes, "xyxy", fmt), fmt, "xyxy")
        np.testing.assert_allclose(back, boxes, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(boxes, original)
    assert box_convert(boxes, "xyxy", "xyxy") is not boxes


def test_box_convert_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"out_fmt: expected one of .* got 'yolo'"):
        box_convert([[0, 0, 1, 1]], "xyxy", "yolo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="in_fmt"):
        box_convert([[0, 0, 1, 1]], "xxyy", "xyxy")  # type: ignore[arg-type]


# --- image size -----------------------------------------------------------------------------


def test_validate_image_size_accepts_pairs_and_mappings() -> None:
    assert validate_image_size((640, 480)) == (640.0, 480.0)
    assert validate_image_size([640, 480]) == (640.0, 480.0)
    assert validate_image_size({"width": 640, "height": 480}) == (640.0, 480.0)
    assert validate_image_size(np.array([640, 480])) == (640.0, 480.0)


@pytest.mark.parametrize(
    "bad",
    [
        (0, 480),
        (640, -1),
        (math.nan, 480),
        (math.inf, 480),
        (1, 2, 3),
        (640,),
        "ab",
        None,
        {"w": 1},
    ],
)
def test_validate_image_size_rejects(bad: object) -> None:
    with pytest.raises(GroundTruthError, match="image_size: expected"):
        validate_image_size(bad)


# --- coordinate spaces ----------------------------------------------------------------------

# A non-square image, so that reading (width, height) as (height, width) would fail.
SIZE = (640, 480)


def test_pixel_space_is_the_identity_and_needs_no_image_size() -> None:
    assert to_pixels([[1, 2, 3, 4]], "pixel").tolist() == [[1, 2, 3, 4]]
    assert pixel_scale("pixel", None) == (1.0, 1.0)


def test_norm1000_uses_width_for_x_and_height_for_y() -> None:
    # x * 640 / 1000, y * 480 / 1000: 500 -> 320 (x) and 240 (y); 1000 -> 640 and 480.
    assert to_pixels([[500, 500, 1000, 1000]], "norm1000", SIZE).tolist() == [
        [320.0, 240.0, 640.0, 480.0]
    ]
    # Swapped, the same box would be [240, 320, 480, 640]: the size order matters.
    assert to_pixels([[500, 500, 1000, 1000]], "norm1000", (480, 640)).tolist() == [
        [240.0, 320.0, 480.0, 640.0]
    ]


def test_norm1_scales_by_the_image_size() -> None:
    # 0.25 * 640 = 160, 0.5 * 480 = 240, 0.75 * 640 = 480, 1 * 480 = 480
    assert to_pixels([[0.25, 0.5, 0.75, 1.0]], "norm1", SIZE).tolist() == [
        [160.0, 240.0, 480.0, 480.0]
    ]


def test_image_size_as_mapping() -> None:
    size = {"width": 640, "height": 480}
    assert to_pixels([[500, 500, 1000, 1000]], "norm1000", size).tolist() == [
        [320.0, 240.0, 640.0, 480.0]
    ]


def test_qwen25vl_default_pixels() -> None:
    # 640 x 480 -> round(640/28)=23 -> 644, round(480/28)=17 -> 476 (inside the default range),
    # so the full resized image [0, 0, 644, 476] maps back to [0, 0, 640, 480].
    assert qwen25vl_resize(SIZE) == (644, 476)
    np.testing.assert_allclose(
        to_pixels([[0, 0, 644, 476]], "qwen25vl", SIZE), [[0, 0, 640, 480]], rtol=1e-12
    )
    # Half of it: x 322 * 640/644 = 320, y 238 * 480/476 = 240.
    np.testing.assert_allclose(
        to_pixels([[322, 238, 644, 476]], "qwen25vl", SIZE), [[320, 240, 640, 480]], rtol=1e-12
    )


def test_qwen25vl_custom_max_pixels() -> None:
    # 1920 x 1080 with max_pixels = 1280*28*28 = 1003520: the rounded 1932 x 1092 is too big,
    # beta = sqrt(1920*1080 / 1003520) = 1.43747; floor(1920/beta/28)=47 -> 1316,
    # floor(1080/beta/28)=26 -> 728. A box at a quarter of the resized image,
    # [329, 182, 658, 364], maps to a quarter of the original: [480, 270, 960, 540].
    assert qwen25vl_resize((1920, 1080), max_pixels=1003520) == (1316, 728)
    np.testing.assert_allclose(
        to_pixels([[329, 182, 658, 364]], "qwen25vl", (1920, 1080), max_pixels=1003520),
        [[480, 270, 960, 540]],
        rtol=1e-12,
    )
    # With the default max_pixels the resized image is 1932 x 1092, so the same numbers
    # land elsewhere: 329 * 1920 / 1932 = 326.96.
    default = to_pixels([[329, 182, 658, 364]], "qwen25vl", (1920, 1080))
    assert default[0, 0] == pytest.approx(329 * 1920 / 1932)


def test_qwen25vl_custom_min_pixels() -> None:
    # 100 x 50 with min_pixels 50000: rounded 112 x 56 = 6272 is too small,
    # beta = sqrt(50000 / 5000) = 3.1623; ceil(100*beta/28)=12 -> 336, ceil(50*beta/28)=6 -> 168.
    assert qwen25vl_resize((100, 50), min_pixels=50000) == (336, 168)
    np.testing.assert_allclose(
        to_pixels([[0, 0, 336, 168]], "qwen25vl", (100, 50), min_pixels=50000),
        [[0, 0, 100, 50]],
        rtol=1e-12,
    )


def test_qwen25vl_rejects_extreme_aspect_ratio() -> None:
    # 5600 / 28 = 200 exactly is allowed; 5601 / 28 > 200 is refused, as the processor does.
    assert qwen25vl_resize((5600, 28)) == (5600, 28)
    with pytest.raises(GroundTruthError, match="aspect ratio"):
        qwen25vl_resize((5601, 28))


@pytest.mark.parametrize("space", ["norm1000", "norm1", "qwen25vl"])
def test_normalized_spaces_without_image_size_raise_value_error(space: str) -> None:
    with pytest.raises(ValueError, match="image_size"):
        to_pixels([[0, 0, 1, 1]], space)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image_size"):
        from_pixels([[0, 0, 1, 1]], space)  # type: ignore[arg-type]


def test_unknown_space_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="coords: expected one of"):
        to_pixels([[0, 0, 1, 1]], "norm10", SIZE)  # type: ignore[arg-type]


@pytest.mark.parametrize("space", ["pixel", "norm1000", "norm1", "qwen25vl"])
def test_from_pixels_inverts_to_pixels(space: str) -> None:
    boxes = np.array([[10.0, 20.0, 300.0, 400.0], [0.0, 0.0, 640.0, 480.0]])
    there = from_pixels(boxes, space, SIZE)  # type: ignore[arg-type]
    np.testing.assert_allclose(to_pixels(there, space, SIZE), boxes, rtol=1e-12)  # type: ignore[arg-type]


def test_from_pixels_by_hand() -> None:
    # 320 / 640 * 1000 = 500, 240 / 480 * 1000 = 500
    assert from_pixels([[320, 240, 640, 480]], "norm1000", SIZE).tolist() == [
        [500.0, 500.0, 1000.0, 1000.0]
    ]
    # pixels of the resized 644 x 476 image: 640 -> 644, 480 -> 476
    np.testing.assert_allclose(
        from_pixels([[0, 0, 640, 480]], "qwen25vl", SIZE), [[0, 0, 644, 476]], rtol=1e-12
    )
