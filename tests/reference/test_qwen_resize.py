"""qwen25vl_resize against hand-checked values and against transformers' Qwen2-VL smart_resize."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
import pytest

from grounding_rewards import GroundTruthError
from grounding_rewards.boxes import qwen25vl_resize

DEFAULT_MIN, DEFAULT_MAX = 3136, 12845056  # Qwen2.5-VL's preprocessor_config.json

# (width, height), min_pixels, max_pixels -> (width, height); each worked out by hand.
HAND_TABLE = [
    # round(640/28 = 22.86) = 23 -> 644; round(480/28 = 17.14) = 17 -> 476; 306544 is in range.
    ((640, 480), DEFAULT_MIN, DEFAULT_MAX, (644, 476)),
    # The same image in portrait: the sides swap with it.
    ((480, 640), DEFAULT_MIN, DEFAULT_MAX, (476, 644)),
    # round(68.57) = 69 -> 1932; round(38.57) = 39 -> 1092; 2109744 is in range.
    ((1920, 1080), DEFAULT_MIN, DEFAULT_MAX, (1932, 1092)),
    # 1932 x 1092 > 1003520: beta = sqrt(1920*1080/1003520) = 1.43747;
    # floor(1920/1.43747/28 = 47.70) = 47 -> 1316; floor(1080/1.43747/28 = 26.83) = 26 -> 728.
    ((1920, 1080), DEFAULT_MIN, 1003520, (1316, 728)),
    # round(1) = 1 -> 28 x 28 = 784 < 3136: beta = sqrt(3136/784) = 2; ceil(28*2/28) = 2 -> 56.
    ((28, 28), DEFAULT_MIN, DEFAULT_MAX, (56, 56)),
    # Python's round is half-to-even, as in the processor: 70/28 = 2.5 -> 2 -> 56 (not 84).
    ((70, 280), DEFAULT_MIN, DEFAULT_MAX, (56, 280)),
    # 98/28 = 3.5 -> 4 -> 112.
    ((98, 280), DEFAULT_MIN, DEFAULT_MAX, (112, 280)),
    # 126/28 = 4.5 -> 4 -> 112 (half-up would give 140).
    ((126, 280), DEFAULT_MIN, DEFAULT_MAX, (112, 280)),
    # round(107.14) = 107 -> 2996; round(142.86) = 143 -> 4004; 11995984 <= 12845056.
    ((3000, 4000), DEFAULT_MIN, DEFAULT_MAX, (2996, 4004)),
    # 1008 x 1008 = 1016064 > 1003520: beta = sqrt(1e6/1003520) = 0.99825;
    # floor(1000/0.99825/28 = 35.78) = 35 -> 980.
    ((1000, 1000), DEFAULT_MIN, 1003520, (980, 980)),
    # 1008 x 504 > 100000: beta = sqrt(500000/100000) = 2.2361;
    # floor(1000/2.2361/28 = 15.97) = 15 -> 420; floor(500/2.2361/28 = 7.99) = 7 -> 196.
    ((1000, 500), DEFAULT_MIN, 100000, (420, 196)),
    # 112 x 56 = 6272 < 50000: beta = sqrt(50000/5000) = 3.1623;
    # ceil(100*3.1623/28 = 11.29) = 12 -> 336; ceil(50*3.1623/28 = 5.65) = 6 -> 168.
    ((100, 50), 50000, DEFAULT_MAX, (336, 168)),
    # Aspect ratio exactly 200 is allowed: 200*28 = 5600 and 28.
    ((5600, 28), DEFAULT_MIN, DEFAULT_MAX, (5600, 28)),
]


@pytest.mark.parametrize(("size", "min_pixels", "max_pixels", "expected"), HAND_TABLE)
def test_hand_checked_values(
    size: tuple[int, int], min_pixels: int, max_pixels: int, expected: tuple[int, int]
) -> None:
    got = qwen25vl_resize(size, min_pixels=min_pixels, max_pixels=max_pixels)
    assert got == expected
    width, height = got
    assert width % 28 == 0 and height % 28 == 0
    assert min_pixels <= width * height <= max_pixels


def test_too_extreme_aspect_ratio_is_refused() -> None:
    with pytest.raises(GroundTruthError, match="aspect ratio"):
        qwen25vl_resize((5601, 28))
    with pytest.raises(GroundTruthError, match="aspect ratio"):
        qwen25vl_resize((28, 5601))


# --- transformers --------------------------------------------------------------------------


def smart_resize() -> Callable[..., tuple[int, int]]:
    """transformers' function, from whichever Qwen2-VL image processor imports here.

    CI installs the transformers extra: a missing transformers, or one where neither
    module imports, fails the tests that use it instead of skipping them.
    """
    # transformers >= 5 has a torch-backed and a PIL-backed processor module; either holds it.
    for name in ("image_processing_qwen2_vl", "image_processing_pil_qwen2_vl"):
        try:
            module = importlib.import_module(f"transformers.models.qwen2_vl.{name}")
        except ImportError:
            continue
        function: Callable[..., tuple[int, int]] = module.smart_resize
        return function
    pytest.fail("neither Qwen2-VL image processor of transformers imports (is it installed?)")


def sizes() -> list[tuple[int, int]]:
    rng = np.random.default_rng(2025)
    picked = [
        (int(w), int(h))
        for w, h in zip(rng.integers(1, 8000, 400), rng.integers(1, 8000, 400), strict=True)
    ]
    picked += [(int(w), int(h)) for w, h in rng.integers(10, 600, (200, 2))]  # small images
    # Sides on the rounding boundary (odd multiples of 14), exact multiples of 28, tiny and
    # near-limit images.
    picked += [(14 * k, 14 * j) for k in range(1, 40, 2) for j in range(1, 40, 6)]
    picked += [(28 * k, 28 * (k + 3)) for k in range(1, 130, 7)]
    picked += [(1, 1), (1, 200), (200, 1), (3584, 3584), (4000, 4000), (5600, 28), (8192, 4096)]
    return [(w, h) for w, h in picked if max(w, h) / min(w, h) <= 200]


PIXEL_LIMITS = [
    (DEFAULT_MIN, DEFAULT_MAX),  # Qwen2.5-VL checkpoints
    (56 * 56, 28 * 28 * 1280),  # transformers' Qwen2-VL defaults
    (256 * 28 * 28, 1280 * 28 * 28),  # the model card's suggested range
    (100_000, 200_000),
]


@pytest.mark.parametrize(("min_pixels", "max_pixels"), PIXEL_LIMITS)
def test_against_transformers(min_pixels: int, max_pixels: int) -> None:
    reference = smart_resize()
    mismatches = []
    for width, height in sizes():
        ref_h, ref_w = reference(
            height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels
        )
        got = qwen25vl_resize((width, height), min_pixels=min_pixels, max_pixels=max_pixels)
        if got != (ref_w, ref_h):
            mismatches.append(((width, height), got, (ref_w, ref_h)))
    assert mismatches == []


def test_hand_table_agrees_with_transformers() -> None:
    reference = smart_resize()
    for (width, height), min_pixels, max_pixels, expected in HAND_TABLE:
        ref_h, ref_w = reference(
            height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels
        )
        assert (ref_w, ref_h) == expected


def test_transformers_refuses_the_same_aspect_ratios() -> None:
    reference = smart_resize()
    with pytest.raises(ValueError):
        reference(28, 5601, factor=28, min_pixels=DEFAULT_MIN, max_pixels=DEFAULT_MAX)
