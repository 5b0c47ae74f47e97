"""Hand-checkable cases for grounding_rewards.iou: IoU, GIoU, DIoU, CIoU and the reward mapping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grounding_rewards import (
    box_iou,
    box_similarity,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
    paired_box_iou,
    paired_complete_box_iou,
    paired_distance_box_iou,
    paired_generalized_box_iou,
)
from grounding_rewards.errors import ConfigError, InputError
from grounding_rewards.iou import iou_rows, pair_similarity_function

PAIRWISE = {
    "iou": box_iou,
    "giou": generalized_box_iou,
    "diou": distance_box_iou,
    "ciou": complete_box_iou,
}
PAIRED = {
    "iou": paired_box_iou,
    "giou": paired_generalized_box_iou,
    "diou": paired_distance_box_iou,
    "ciou": paired_complete_box_iou,
}
KINDS = sorted(PAIRWISE)


def one(function, a, b) -> float:  # type: ignore[no-untyped-def]
    return float(function([a], [b])[0, 0])


# --- IoU ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 2, 2], [0, 0, 2, 2], 1.0),  # identical
        ([0, 0, 2, 2], [1, 1, 3, 3], 1 / 7),  # 1x1 overlap / (4 + 4 - 1)
        ([0, 0, 2, 2], [0, 0, 2, 1], 0.5),  # 2 / (4 + 2 - 2)
        ([0, 0, 4, 4], [1, 1, 3, 3], 0.25),  # contained: 4 / 16
        ([0, 0, 1, 1], [1, 0, 2, 1], 0.0),  # touching edge: zero-width overlap
        ([0, 0, 1, 1], [5, 5, 6, 6], 0.0),  # far apart
        ([-3, -3, -1, -1], [-2, -2, 0, 0], 1 / 7),  # negative coordinates, same as case 2
        ([0, 0, 10, 20], [5, 0, 15, 20], 1 / 3),  # 5x20=100 / (200 + 200 - 100)
    ],
)
def test_iou_by_hand(a: list[float], b: list[float], expected: float) -> None:
    assert one(box_iou, a, b) == pytest.approx(expected, abs=1e-15)
    assert one(box_iou, b, a) == pytest.approx(expected, abs=1e-15)


# --- GIoU, DIoU, CIoU -----------------------------------------------------------------------


def test_giou_by_hand() -> None:
    # Disjoint unit boxes one apart: IoU 0, hull 3x1 = 3, union 2 -> 0 - (3 - 2)/3 = -1/3.
    assert one(generalized_box_iou, [0, 0, 1, 1], [2, 0, 3, 1]) == pytest.approx(-1 / 3)
    # [0,0,2,2] vs [1,1,3,3]: IoU 1/7, hull 3x3 = 9, union 7 -> 1/7 - 2/9 = -5/63.
    assert one(generalized_box_iou, [0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(-5 / 63)
    # Contained: the hull is the outer box, so GIoU = IoU = 1/4.
    assert one(generalized_box_iou, [0, 0, 4, 4], [1, 1, 3, 3]) == pytest.approx(0.25)


def test_diou_by_hand() -> None:
    # [0,0,2,2] vs [1,1,3,3]: centres (1,1) and (2,2), rho^2 = 2; hull diagonal^2 = 3^2 + 3^2 = 18
    # -> 1/7 - 2/18 = 1/7 - 1/9 = 2/63.
    assert one(distance_box_iou, [0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(2 / 63)
    # Disjoint unit boxes: centres 2 apart (rho^2 = 4), hull 3x1 (c^2 = 10) -> -0.4.
    assert one(distance_box_iou, [0, 0, 1, 1], [2, 0, 3, 1]) == pytest.approx(-0.4)
    # Same centre: DIoU = IoU.
    assert one(distance_box_iou, [0, 0, 4, 4], [1, 1, 3, 3]) == pytest.approx(0.25)


def test_ciou_by_hand() -> None:
    # Same aspect ratio: v = 0, CIoU = DIoU.
    assert one(complete_box_iou, [0, 0, 2, 2], [1, 1, 3, 3]) == pytest.approx(2 / 63)
    # [0,0,4,2] vs [0,0,2,4]: overlap 2x2 = 4, union 8 + 8 - 4 = 12 -> IoU 1/3;
    # centres (2,1), (1,2): rho^2 = 2; hull 4x4: c^2 = 32 -> DIoU = 1/3 - 1/16 = 13/48.
    # v = 4/pi^2 (atan(2/4) - atan(4/2))^2, alpha = v / (1 - 1/3 + v).
    v = 4 / math.pi**2 * (math.atan(0.5) - math.atan(2.0)) ** 2
    alpha = v / (1 - 1 / 3 + v)
    assert one(complete_box_iou, [0, 0, 4, 2], [0, 0, 2, 4]) == pytest.approx(13 / 48 - alpha * v)


@pytest.mark.parametrize("kind", KINDS)
def test_identical_boxes_score_one(kind: str) -> None:
    assert one(PAIRWISE[kind], [3, 4, 50, 60], [3, 4, 50, 60]) == pytest.approx(1.0)


# --- degenerate and non-finite --------------------------------------------------------------

BAD_BOXES = [
    [1, 1, 0, 0],  # inverted
    [0, 0, 0, 5],  # zero width
    [0, 0, 5, 0],  # zero height
    [0, 0, math.nan, 1],
    [0, 0, math.inf, 1],
    [-math.inf, 0, 1, 1],
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", BAD_BOXES)
def test_degenerate_or_non_finite_boxes_give_the_worst_value_never_nan(
    kind: str, bad: list[float]
) -> None:
    worst = 0.0 if kind == "iou" else -1.0
    good = [0, 0, 2, 2]
    for a, b in ((bad, good), (good, bad), (bad, bad)):
        assert one(PAIRWISE[kind], a, b) == worst
        assert float(PAIRED[kind]([a], [b])[0]) == worst
    assert float(box_similarity([bad], [good], kind)[0, 0]) == 0.0  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_huge_boxes_stay_finite_and_in_range(kind: str) -> None:
    huge = [[0, 0, 1e300, 1e300], [-1e300, -1e300, 1e300, 1e300], [1e300, 1e300, 2e300, 2e300]]
    values = PAIRWISE[kind](huge, [[0, 0, 10, 10], [0, 0, 1e300, 1e300]])
    assert np.isfinite(values).all()
    low = 0.0 if kind == "iou" else -1.0
    assert ((values >= low) & (values <= 1.0)).all()
    similarity = box_similarity(huge, [[0, 0, 10, 10]], kind)  # type: ignore[arg-type]
    assert ((similarity >= 0) & (similarity <= 1)).all()


# --- shapes and paired variants -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_shapes(kind: str) -> None:
    function = PAIRWISE[kind]
    assert function([[0, 0, 1, 1]] * 3, [[0, 0, 1, 1]] * 2).shape == (3, 2)
    assert function(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert function([[0, 0, 1, 1]], []).shape == (1, 0)
    assert function([0, 0, 1, 1], [0, 0, 1, 1]).shape == (1, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_paired_is_the_diagonal_of_pairwise(kind: str) -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 50, (12, 2))
    a = np.hstack([xy, xy + rng.uniform(1, 30, (12, 2))])
    xy = rng.uniform(0, 50, (12, 2))
    b = np.hstack([xy, xy + rng.uniform(1, 30, (12, 2))])
    np.testing.assert_allclose(PAIRED[kind](a, b), np.diag(PAIRWISE[kind](a, b)), rtol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_paired_rejects_different_lengths(kind: str) -> None:
    with pytest.raises(ValueError, match="same N"):
        PAIRED[kind]([[0, 0, 1, 1]] * 2, [[0, 0, 1, 1]] * 3)


# --- the reward's similarity ----------------------------------------------------------------


def test_box_similarity_maps_giou_style_measures_as_half_s_plus_one() -> None:
    a, b = [[0, 0, 1, 1]], [[2, 0, 3, 1]]
    # GIoU -1/3 -> (1 - 1/3) / 2 = 1/3; DIoU -0.4 -> 0.3; IoU stays 0.
    assert float(box_similarity(a, b, "giou")[0, 0]) == pytest.approx(1 / 3)
    assert float(box_similarity(a, b, "diou")[0, 0]) == pytest.approx(0.3)
    assert float(box_similarity(a, b, "iou")[0, 0]) == 0.0
    # A near miss earns signal under GIoU-style measures but nothing under IoU.
    assert float(box_similarity(a, b, "ciou")[0, 0]) > 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_box_similarity_of_a_perfect_box_is_one(kind: str) -> None:
    box = [[12.5, 7, 80, 44]]
    assert float(box_similarity(box, box, kind)[0, 0]) == pytest.approx(1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", KINDS)
def test_pair_similarity_function_equals_box_similarity(kind: str) -> None:
    rng = np.random.default_rng(2)
    xy = rng.uniform(-50, 50, (40, 2))
    boxes = np.hstack([xy, xy + rng.uniform(0.5, 40, (40, 2))])
    pair = pair_similarity_function(kind)  # type: ignore[arg-type]
    expected = box_similarity(boxes[:20], boxes[20:], kind)  # type: ignore[arg-type]
    got = [[pair(tuple(a), tuple(b)) for b in boxes[20:]] for a in boxes[:20]]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_pairwise_is_symmetric(kind: str) -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 20, (10, 2))
    boxes = np.hstack([xy, xy + rng.uniform(1, 10, (10, 2))])
    matrix = PAIRWISE[kind](boxes, boxes)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-12, atol=1e-15)


# --- one kernel per representation: the plain-Python rows equal the numpy arrays -----------


def random_boxes(seed: int, n: int, scale: float) -> list[tuple[float, ...]]:
    """Boxes at ``scale``: overlapping, nested, touching and disjoint pairs all occur."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 4 * scale, (n, 2))
    boxes = np.hstack([xy, xy + rng.uniform(0.05 * scale, 2 * scale, (n, 2))])
    boxes[::7, 2:] = boxes[::7, :2] + scale  # shared sizes, so some edges touch exactly
    return [tuple(b) for b in boxes.tolist()]


@pytest.mark.parametrize("scale", [1e-3, 1.0, 640.0, 1e7])
def test_iou_rows_equal_box_iou_bit_for_bit(scale: float) -> None:
    # Both build on the same intersection and union, in the same order of operations.
    boxes1, boxes2 = random_boxes(10, 30, scale), random_boxes(11, 25, scale)
    rows = iou_rows(boxes1, [True] * len(boxes1), boxes2)
    assert rows == box_iou(boxes1, boxes2).tolist()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 640.0, 1e7])
def test_iou_rows_equal_box_similarity_for_every_kind(kind: str, scale: float) -> None:
    boxes1, boxes2 = random_boxes(12, 20, scale), random_boxes(13, 15, scale)
    rows = iou_rows(boxes1, [True] * len(boxes1), boxes2, kind)  # type: ignore[arg-type]
    expected = box_similarity(boxes1, boxes2, kind)  # type: ignore[arg-type]
    np.testing.assert_allclose(rows, expected, rtol=1e-12, atol=1e-15)


def test_iou_rows_zero_invalid_rows_and_keep_the_shape() -> None:
    rows = iou_rows([(0, 0, 2, 2), (5, 5, 1, 1)], [True, False], [(0, 0, 2, 2), (1, 1, 3, 3)])
    # 1x1 overlap of two 2x2 boxes: 1 / (4 + 4 - 1)
    assert rows == [[1.0, 1 / 7], [0.0, 0.0]]
    assert iou_rows([], [], [(0, 0, 1, 1)]) == []
    assert iou_rows([(0, 0, 1, 1)], [True], []) == [[]]


@pytest.mark.parametrize("kind", KINDS)
def test_iou_rows_stay_in_range_on_absurd_coordinates(kind: str) -> None:
    absurd = [(-1e308, -1e308, 1e308, 1e308), (0, 0, 1e-320, 1e-320), (1e300, 1e300, 1e301, 1e301)]
    rows = iou_rows(absurd, [True] * 3, absurd, kind)  # type: ignore[arg-type]
    assert all(0.0 <= v <= 1.0 for row in rows for v in row), rows


def test_unknown_similarity_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="similarity: expected one of"):
        pair_similarity_function("jaccard")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="similarity: expected one of"):
        box_similarity([[0, 0, 1, 1]], [[0, 0, 1, 1]], "jaccard")  # type: ignore[arg-type]


def test_bad_shapes_are_input_errors_and_value_errors() -> None:
    with pytest.raises(InputError, match=r"expected boxes of shape \[N, 4\]"):
        box_iou([[0, 0, 1]], [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="same N"):
        paired_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1], [0, 0, 2, 2]])
