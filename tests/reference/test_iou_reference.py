"""IoU, GIoU, DIoU and CIoU against independent formulas (shapely, the papers).

torchvision is not compared: no torchvision build installs next to the pinned CPU torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from grounding_rewards import (
    box_iou,
    box_similarity,
    complete_box_iou,
    distance_box_iou,
    generalized_box_iou,
)

PAIRWISE = {
    "iou": box_iou,
    "giou": generalized_box_iou,
    "diou": distance_box_iou,
    "ciou": complete_box_iou,
}


def ref_iou(a: list[float], b: list[float]) -> float:
    """Area of intersection over area of union, computed by shapely on polygons."""
    pa, pb = shapely.box(*a), shapely.box(*b)
    return float(pa.intersection(pb).area / pa.union(pb).area)


def ref_giou(a: list[float], b: list[float]) -> float:
    """Rezatofighi et al. 2019: IoU - |C minus (A union B)| / |C|, C the smallest enclosing box."""
    pa, pb = shapely.box(*a), shapely.box(*b)
    union = pa.union(pb).area
    hull = shapely.box(*pa.union(pb).bounds).area
    return ref_iou(a, b) - (hull - union) / hull


def ref_diou(a: list[float], b: list[float]) -> float:
    """Zheng et al. 2020: IoU - d^2 / c^2, d the centre distance, c the enclosing diagonal."""
    ca = ((a[0] + a[2]) / 2, (a[1] + a[3]) / 2)
    cb = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    d2 = (ca[0] - cb[0]) ** 2 + (ca[1] - cb[1]) ** 2
    left, top = min(a[0], b[0]), min(a[1], b[1])
    right, bottom = max(a[2], b[2]), max(a[3], b[3])
    c2 = (right - left) ** 2 + (bottom - top) ** 2
    return ref_iou(a, b) - d2 / c2


def ref_ciou(a: list[float], b: list[float]) -> float:
    """Zheng et al. 2020: DIoU - alpha v, v = 4/pi^2 (atan(w_b/h_b) - atan(w_a/h_a))^2."""
    v = (4 / math.pi**2) * (
        math.atan((b[2] - b[0]) / (b[3] - b[1])) - math.atan((a[2] - a[0]) / (a[3] - a[1]))
    ) ** 2
    iou = ref_iou(a, b)
    alpha = 0.0 if v == 0 else v / ((1 - iou) + v)
    return ref_diou(a, b) - alpha * v


REFERENCE = {"iou": ref_iou, "giou": ref_giou, "diou": ref_diou, "ciou": ref_ciou}


def random_boxes(rng: np.random.Generator, count: int, scale: float = 100.0) -> np.ndarray:
    xy = rng.uniform(-scale, scale, (count, 2))
    return np.hstack([xy, xy + rng.uniform(0.01 * scale, scale, (count, 2))])


def special_boxes() -> np.ndarray:
    """Identical, contained, touching, disjoint, sharing an edge, thin and far-apart boxes."""
    return np.array(
        [
            [0, 0, 10, 10],
            [0, 0, 10, 10],
            [2, 2, 8, 8],
            [10, 0, 20, 10],
            [11, 0, 21, 10],
            [0, 10, 10, 20],
            [5, 5, 15, 15],
            [0, 0, 100, 0.5],
            [1000, 1000, 1001, 1001],
            [-50, -50, -40, -45],
        ],
        dtype=np.float64,
    )


@pytest.mark.parametrize("kind", sorted(PAIRWISE))
def test_against_independent_formula_on_random_boxes(kind: str) -> None:
    rng = np.random.default_rng(sorted(PAIRWISE).index(kind))
    for scale in (1.0, 100.0, 1e5):
        a, b = random_boxes(rng, 25, scale), random_boxes(rng, 20, scale)
        got = PAIRWISE[kind](a, b)
        expected = [[REFERENCE[kind](list(x), list(y)) for y in b] for x in a]
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(PAIRWISE))
def test_against_independent_formula_on_special_boxes(kind: str) -> None:
    boxes = special_boxes()
    got = PAIRWISE[kind](boxes, boxes)
    expected = [[REFERENCE[kind](list(x), list(y)) for y in boxes] for x in boxes]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(PAIRWISE))
def test_reward_similarity_is_the_mapped_reference(kind: str) -> None:
    rng = np.random.default_rng(5)
    a, b = random_boxes(rng, 10), random_boxes(rng, 10)
    got = box_similarity(a, b, kind)  # type: ignore[arg-type]
    raw = np.array([[REFERENCE[kind](list(x), list(y)) for y in b] for x in a])
    expected = raw if kind == "iou" else np.clip((raw + 1) / 2, 0, 1)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
