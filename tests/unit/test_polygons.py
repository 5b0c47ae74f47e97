"""Hand-checkable cases for grounding_rewards.polygons (polygon and rotated-box IoU)."""

from __future__ import annotations

import math

import pytest

from grounding_rewards import polygon_iou, rotated_box_iou
from grounding_rewards.polygons import rotated_box_to_polygon

SQUARE = [(0, 0), (2, 0), (2, 2), (0, 2)]


def test_overlapping_squares() -> None:
    # 1x1 overlap / (4 + 4 - 1) = 1/7
    shifted = [(1, 1), (3, 1), (3, 3), (1, 3)]
    assert float(polygon_iou([SQUARE], [shifted])[0, 0]) == pytest.approx(1 / 7)


def test_triangle_in_square() -> None:
    # The triangle is half of the unit square: 0.5 / 1.
    triangle = [(0, 0), (1, 0), (0, 1)]
    unit = [(0, 0), (1, 0), (1, 1), (0, 1)]
    assert float(polygon_iou([triangle], [unit])[0, 0]) == pytest.approx(0.5)


def test_point_order_does_not_matter() -> None:
    clockwise = list(reversed(SQUARE))
    assert float(polygon_iou([clockwise], [SQUARE])[0, 0]) == pytest.approx(1.0)


def test_self_intersecting_polygon_is_repaired() -> None:
    # The bow tie (0,0)-(2,2)-(2,0)-(0,2) is two triangles of area 1 each, both inside the
    # 2x2 square: IoU = 2 / 4.
    bowtie = [(0, 0), (2, 2), (2, 0), (0, 2)]
    assert float(polygon_iou([bowtie], [SQUARE])[0, 0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad",
    [
        [(0, 0), (1, 1)],  # two points
        [(0, 0), (1, 1), (2, 2)],  # collinear: zero area
        [(0, 0), (1, math.nan), (1, 1)],
        [(0, 0), (math.inf, 0), (1, 1)],
    ],
)
def test_degenerate_polygons_give_zero(bad: list[tuple[float, float]]) -> None:
    assert polygon_iou([bad], [SQUARE]).tolist() == [[0.0]]
    assert polygon_iou([bad], [bad]).tolist() == [[0.0]]


def test_polygon_shapes_and_errors() -> None:
    assert polygon_iou([], [SQUARE]).shape == (0, 1)
    assert polygon_iou([SQUARE, SQUARE, SQUARE], [SQUARE, SQUARE]).shape == (3, 2)
    with pytest.raises(ValueError, match=r"\[K, 2\]"):
        polygon_iou([[(0, 0, 0), (1, 1, 1), (2, 0, 0)]], [SQUARE])


def test_rotated_box_corners() -> None:
    # (cx, cy, w, h, angle) = (0, 0, 4, 2, 90): turning 90 degrees counter-clockwise sends the
    # corner (-2, -1) to (1, -2), so the box spans x in [-1, 1] and y in [-2, 2].
    corners = [(round(x, 9), round(y, 9)) for x, y in rotated_box_to_polygon((0, 0, 4, 2, 90))]
    assert corners == [(1.0, -2.0), (1.0, 2.0), (-1.0, 2.0), (-1.0, -2.0)]


def test_rotated_box_iou_by_hand() -> None:
    # Shifted by 1 along x: overlap 1x2 = 2 / (4 + 4 - 2) = 1/3.
    assert float(rotated_box_iou([[0, 0, 2, 2, 0]], [[1, 0, 2, 2, 0]])[0, 0]) == pytest.approx(
        1 / 3
    )
    # A 4x2 box and the same box turned 90 degrees about its centre: overlap 2x2 = 4,
    # union 8 + 8 - 4 = 12 -> 1/3.
    assert float(rotated_box_iou([[0, 0, 4, 2, 0]], [[0, 0, 4, 2, 90]])[0, 0]) == pytest.approx(
        1 / 3
    )
    # Turning a box by 180 degrees gives the same box.
    assert float(rotated_box_iou([[5, 5, 4, 2, 30]], [[5, 5, 4, 2, 210]])[0, 0]) == pytest.approx(
        1.0
    )
    # 4x2 at 0 degrees is 2x4 at 90 degrees.
    assert float(rotated_box_iou([[5, 5, 4, 2, 0]], [[5, 5, 2, 4, 90]])[0, 0]) == pytest.approx(1.0)


def test_rotated_box_45_degrees() -> None:
    # A unit-area square (side 1) turned 45 degrees inside the same square unturned:
    # the intersection is an octagon of area 2(sqrt 2 - 1) = 0.8284;
    # union = 2 - 0.8284 -> IoU = 0.8284 / 1.1716 = 0.7071 (= 1/sqrt 2).
    value = float(rotated_box_iou([[0, 0, 1, 1, 0]], [[0, 0, 1, 1, 45]])[0, 0])
    octagon = 2 * (math.sqrt(2) - 1)
    assert value == pytest.approx(octagon / (2 - octagon))


def test_rotated_zero_size_and_shapes() -> None:
    assert rotated_box_iou([[0, 0, 0, 2, 0]], [[0, 0, 2, 2, 0]]).tolist() == [[0.0]]
    assert rotated_box_iou([[0, 0, 2, -1, 0]], [[0, 0, 2, 2, 0]]).tolist() == [[0.0]]
    assert rotated_box_iou([], [[0, 0, 2, 2, 0]]).shape == (0, 1)
    with pytest.raises(ValueError, match=r"\[N, 5\]"):
        rotated_box_iou([[0, 0, 2, 2]], [[0, 0, 2, 2, 0]])
