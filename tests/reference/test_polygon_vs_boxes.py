"""Polygon and rotated-box IoU (shapely) against the axis-aligned box math."""

from __future__ import annotations

import numpy as np
import pytest

from grounding_rewards import box_iou, polygon_iou, rotated_box_iou


def random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    xy = rng.uniform(-50, 50, (count, 2))
    return np.hstack([xy, xy + rng.uniform(0.5, 60, (count, 2))])


def corners(box: np.ndarray) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = box.tolist()
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def to_rotated(box: np.ndarray, angle: float) -> list[float]:
    """(cx, cy, w, h, angle); at 90 degrees width and height trade places."""
    x1, y1, x2, y2 = box.tolist()
    w, h = x2 - x1, y2 - y1
    if angle % 180 == 90:
        w, h = h, w
    return [(x1 + x2) / 2, (y1 + y2) / 2, w, h, angle]


def test_polygon_iou_of_rectangles_equals_box_iou() -> None:
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 30), random_boxes(rng, 25)
    np.testing.assert_allclose(
        polygon_iou([corners(x) for x in a], [corners(y) for y in b]),
        box_iou(a, b),
        rtol=1e-9,
        atol=1e-12,
    )


def test_polygon_iou_of_touching_and_nested_rectangles_equals_box_iou() -> None:
    boxes = np.array(
        [[0, 0, 10, 10], [10, 0, 20, 10], [2, 2, 8, 8], [0, 0, 10, 10], [5, -5, 15, 5]],
        dtype=np.float64,
    )
    np.testing.assert_allclose(
        polygon_iou([corners(x) for x in boxes], [corners(y) for y in boxes]),
        box_iou(boxes, boxes),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.mark.parametrize("angle", [0.0, 90.0, 180.0, 270.0, -90.0])
def test_rotated_boxes_at_right_angles_equal_box_iou(angle: float) -> None:
    rng = np.random.default_rng(int(angle) % 360)
    a, b = random_boxes(rng, 20), random_boxes(rng, 15)
    np.testing.assert_allclose(
        rotated_box_iou([to_rotated(x, angle) for x in a], [to_rotated(y, angle) for y in b]),
        box_iou(a, b),
        rtol=1e-9,
        atol=1e-9,
    )


def test_rotating_both_boxes_together_keeps_iou() -> None:
    # Rotating both boxes about the same point is a rigid motion. A rotated box rotates about
    # its own centre, so rotate both centres about the origin as well.
    rng = np.random.default_rng(3)
    a, b = random_boxes(rng, 10), random_boxes(rng, 10)
    expected = box_iou(a, b)
    theta = np.radians(37.0)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])

    def turned(box: np.ndarray) -> list[float]:
        cx, cy, w, h, _ = to_rotated(box, 0.0)
        nx, ny = rotation @ np.array([cx, cy])
        return [float(nx), float(ny), w, h, 37.0]

    got = rotated_box_iou([turned(x) for x in a], [turned(y) for y in b])
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
