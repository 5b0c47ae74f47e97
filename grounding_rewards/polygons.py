"""IoU of polygons and rotated boxes, computed exactly by shapely.

Invalid polygons (self-intersecting, fewer than three distinct points) are repaired
with ``shapely.make_valid``; an empty or zero-area result gives IoU 0, never NaN.

Example:
    >>> square = [(0, 0), (2, 0), (2, 2), (0, 2)]
    >>> shifted = [(1, 1), (3, 1), (3, 3), (1, 3)]
    >>> float(polygon_iou([square], [shifted])[0, 0]) == 1 / 7
    True
    >>> # a square turned 90 degrees about its centre is itself
    >>> rotated_box_iou([[5, 5, 4, 2, 0]], [[5, 5, 2, 4, 90]]).round(6).tolist()
    [[1.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from grounding_rewards.errors import InputError

if TYPE_CHECKING:  # numpy and shapely are imported where they are used, off the reward's path
    import numpy as np
    import shapely
    from numpy.typing import ArrayLike, NDArray

__all__ = ["polygon_iou", "rotated_box_iou", "rotated_box_to_polygon"]

Point = Sequence[float]


def _as_geometry(points: Sequence[Point]) -> shapely.Geometry:
    import numpy as np
    import shapely

    coords = np.asarray(points, dtype=np.float64)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise InputError(f"expected a polygon as [K, 2] points, got shape {coords.shape}")
    if len(coords) < 3 or not np.isfinite(coords).all():
        return shapely.Polygon()
    return shapely.make_valid(shapely.Polygon(coords))


def polygon_iou(
    polygons1: Sequence[Sequence[Point]], polygons2: Sequence[Sequence[Point]]
) -> NDArray[np.float64]:
    """Pairwise IoU of simple polygons given as point lists.

    Args:
        polygons1: ``N`` polygons, each ``[K, 2]`` points ``(x, y)``.
        polygons2: ``M`` polygons, each ``[K, 2]`` points ``(x, y)``.

    Returns:
        ``[N, M]`` IoU in ``[0, 1]``.

    Raises:
        InputError: When a polygon is not a ``[K, 2]`` point array.

    Example:
        >>> polygon_iou([[(0, 0), (1, 0), (0, 1)]], [[(0, 0), (1, 0), (1, 1), (0, 1)]]).tolist()
        [[0.5]]
    """
    return _geometry_iou(
        _object_array([_as_geometry(p) for p in polygons1]),
        _object_array([_as_geometry(p) for p in polygons2]),
    )


def _object_array(items: list[shapely.Geometry]) -> NDArray[np.object_]:
    import numpy as np

    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _geometry_iou(geoms1: NDArray[np.object_], geoms2: NDArray[np.object_]) -> NDArray[np.float64]:
    import numpy as np
    import shapely

    if geoms1.size == 0 or geoms2.size == 0:
        return np.zeros((geoms1.size, geoms2.size))
    a, b = geoms1[:, None], geoms2[None, :]
    inter = shapely.area(shapely.intersection(a, b))
    union = shapely.area(a) + shapely.area(b) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    result: NDArray[np.float64] = np.clip(np.nan_to_num(iou, nan=0.0), 0.0, 1.0)
    return result


def rotated_box_to_polygon(box: Sequence[float]) -> list[tuple[float, float]]:
    """Corners of a rotated box ``(cx, cy, w, h, angle)``, angle in degrees counter-clockwise.

    Args:
        box: Centre, width, height and rotation angle in degrees.

    Returns:
        The four corners in order.

    Example:
        >>> [tuple(round(v, 6) for v in p) for p in rotated_box_to_polygon((0, 0, 2, 2, 0))]
        [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    """
    cx, cy, w, h, angle = (float(v) for v in box)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    corners = ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))
    return [(cx + dx * cos - dy * sin, cy + dx * sin + dy * cos) for dx, dy in corners]


def rotated_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> NDArray[np.float64]:
    """Pairwise IoU of rotated boxes ``(cx, cy, w, h, angle_degrees)``.

    Args:
        boxes1: ``[N, 5]`` rotated boxes.
        boxes2: ``[M, 5]`` rotated boxes.

    Returns:
        ``[N, M]`` IoU in ``[0, 1]``; boxes with ``w <= 0`` or ``h <= 0`` give 0.

    Raises:
        InputError: When an input is not ``[N, 5]``.

    Example:
        >>> rotated_box_iou([[0, 0, 2, 2, 0]], [[1, 0, 2, 2, 0]]).round(4).tolist()
        [[0.3333]]
    """
    import numpy as np
    import shapely

    polygons = []
    for name, boxes in (("boxes1", boxes1), ("boxes2", boxes2)):
        array = np.asarray(boxes, dtype=np.float64)
        if array.size == 0:
            array = array.reshape(0, 5)
        if array.ndim != 2 or array.shape[1] != 5:
            raise InputError(f"{name}: expected rotated boxes of shape [N, 5], got {array.shape}")
        polygons.append(
            _object_array(
                [
                    _as_geometry(rotated_box_to_polygon(row.tolist()))
                    if row[2] > 0 and row[3] > 0
                    else shapely.Polygon()
                    for row in array
                ]
            )
        )
    return _geometry_iou(polygons[0], polygons[1])
