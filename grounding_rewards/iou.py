"""Box similarity: IoU, GIoU, DIoU and CIoU, pairwise (``[N, M]``) and paired (``[N]``).

Boxes are ``xyxy``. Every function is total: a degenerate box (``x1 >= x2`` or
``y1 >= y2``) or a non-finite coordinate gives IoU 0, and -1 for the GIoU-style
measures (their worst value), never NaN. Pairwise and paired variants share one
broadcasting implementation, so they agree by construction.

The reward uses :func:`box_similarity`, which maps GIoU/DIoU/CIoU into ``[0, 1]``
as ``(s + 1) / 2`` (clipped), so a perfect box scores 1 under every measure.

Example:
    >>> box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3], [0, 0, 2, 2]]).round(4).tolist()
    [[0.1429, 1.0]]
    >>> # GIoU of disjoint boxes is negative: IoU 0 minus the empty share of the hull.
    >>> generalized_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]).tolist()
    [[-0.3333333333333333]]
    >>> paired_box_iou([[0, 0, 2, 2], [0, 0, 1, 1]], [[0, 0, 2, 1], [5, 5, 4, 4]]).tolist()
    [0.5, 0.0]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias, get_args

from grounding_rewards.boxes import as_boxes
from grounding_rewards.config import Similarity
from grounding_rewards.errors import ConfigError, InputError

if TYPE_CHECKING:  # numpy is imported where it is used: the reward's path never needs it
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

    Array: TypeAlias = NDArray[np.float64]

__all__ = [
    "box_iou",
    "box_similarity",
    "complete_box_iou",
    "distance_box_iou",
    "generalized_box_iou",
    "iou_rows",
    "pair_similarity_function",
    "paired_box_iou",
    "paired_complete_box_iou",
    "paired_distance_box_iou",
    "paired_generalized_box_iou",
]

BoxTuple = tuple[float, ...]
_FOUR_OVER_PI_SQUARED = 4.0 / math.pi**2
_KINDS: tuple[str, ...] = get_args(Similarity)


def _box_inter_union(b1: Array, b2: Array) -> tuple[Array, Array]:
    """Intersection and union areas of broadcastable ``xyxy`` box arrays ``[..., 4]``.

    The array kernel every numpy variant builds on (as torchvision's
    ``_box_inter_union``); :func:`iou_rows` is its plain-Python twin.
    """
    import numpy as np

    x1, y1, x2, y2 = b1[..., 0], b1[..., 1], b1[..., 2], b1[..., 3]
    u1, v1, u2, v2 = b2[..., 0], b2[..., 1], b2[..., 2], b2[..., 3]
    inter = np.clip(np.minimum(x2, u2) - np.maximum(x1, u1), 0, None) * np.clip(
        np.minimum(y2, v2) - np.maximum(y1, v1), 0, None
    )
    union = (x2 - x1) * (y2 - y1) + (u2 - u1) * (v2 - v1) - inter
    return inter, union


def _geometry(b1: Array, b2: Array, kind: Similarity) -> Array:
    """Similarity of broadcastable box arrays ``[..., 4]``, built on :func:`_box_inter_union`."""
    if kind not in _KINDS:
        raise ConfigError(f"similarity: expected one of {_KINDS}, got {kind!r}")
    import numpy as np

    with np.errstate(all="ignore"):
        x1, y1, x2, y2 = b1[..., 0], b1[..., 1], b1[..., 2], b1[..., 3]
        u1, v1, u2, v2 = b2[..., 0], b2[..., 1], b2[..., 2], b2[..., 3]
        valid = (
            np.isfinite(b1).all(axis=-1)
            & np.isfinite(b2).all(axis=-1)
            & (x1 < x2)
            & (y1 < y2)
            & (u1 < u2)
            & (v1 < v2)
        )
        inter, union = _box_inter_union(b1, b2)
        iou = inter / union
        if kind == "iou":
            out = iou
        else:
            hull_w = np.maximum(x2, u2) - np.minimum(x1, u1)
            hull_h = np.maximum(y2, v2) - np.minimum(y1, v1)
            if kind == "giou":
                hull = hull_w * hull_h
                out = iou - (hull - union) / hull
            else:
                centre_distance2 = ((x1 + x2 - u1 - u2) ** 2 + (y1 + y2 - v1 - v2) ** 2) / 4
                out = iou - centre_distance2 / (hull_w**2 + hull_h**2)
                if kind == "ciou":
                    angle1 = np.arctan((x2 - x1) / (y2 - y1))
                    angle2 = np.arctan((u2 - u1) / (v2 - v1))
                    v = _FOUR_OVER_PI_SQUARED * (angle2 - angle1) ** 2
                    alpha = np.where(v > 0, v / (1 - iou + v), 0.0)
                    out = out - alpha * v
        worst = 0.0 if kind == "iou" else -1.0
        result: Array = np.where(valid & np.isfinite(out), out, worst)
    return result


def _pairwise(boxes1: ArrayLike, boxes2: ArrayLike, kind: Similarity) -> Array:
    b1, b2 = as_boxes(boxes1), as_boxes(boxes2)
    return _geometry(b1[:, None, :], b2[None, :, :], kind)


def _paired(boxes1: ArrayLike, boxes2: ArrayLike, kind: Similarity) -> Array:
    b1, b2 = as_boxes(boxes1), as_boxes(boxes2)
    if b1.shape != b2.shape:
        raise InputError(f"expected two [N, 4] arrays of the same N, got {b1.shape} and {b2.shape}")
    return _geometry(b1, b2, kind)


def box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """Pairwise intersection over union.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[M, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N, M]`` IoU in ``[0, 1]``; 0 wherever a box is degenerate or non-finite.

    Example:
        >>> # 1x1 overlap of two 2x2 boxes: 1 / (4 + 4 - 1)
        >>> float(box_iou([[0, 0, 2, 2]], [[1, 1, 3, 3]])[0, 0]) == 1 / 7
        True
    """
    return _pairwise(boxes1, boxes2, "iou")


def generalized_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """Pairwise generalized IoU: ``IoU - (|C| - |A ∪ B|) / |C|``, ``C`` the enclosing box.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[M, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N, M]`` values in ``(-1, 1]``; -1 for degenerate or non-finite boxes.

    Example:
        >>> generalized_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]]).tolist()
        [[1.0]]
    """
    return _pairwise(boxes1, boxes2, "giou")


def distance_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """Pairwise distance IoU: ``IoU - ρ²(centres) / c²``, ``c`` the enclosing box's diagonal.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[M, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N, M]`` values in ``(-1, 1]``; -1 for degenerate or non-finite boxes.

    Example:
        >>> # disjoint unit boxes, centres 2 apart, hull 3x1: 0 - 4 / 10
        >>> distance_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]).tolist()
        [[-0.4]]
    """
    return _pairwise(boxes1, boxes2, "diou")


def complete_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """Pairwise complete IoU: DIoU minus an aspect-ratio term ``α·v``.

    ``v = 4/π² · (atan(w₂/h₂) - atan(w₁/h₁))²`` and ``α = v / (1 - IoU + v)``.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[M, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N, M]`` values in ``[-2, 1]``; -1 for degenerate or non-finite boxes.

    Example:
        >>> # same centre and aspect ratio: CIoU equals IoU (1/4 here)
        >>> complete_box_iou([[0, 0, 4, 4]], [[1, 1, 3, 3]]).tolist()
        [[0.25]]
    """
    return _pairwise(boxes1, boxes2, "ciou")


def paired_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """IoU of ``boxes1[i]`` with ``boxes2[i]``.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[N, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N]`` IoU values.

    Example:
        >>> paired_box_iou([[0, 0, 1, 1]], [[0, 0, 1, 1]]).tolist()
        [1.0]
    """
    return _paired(boxes1, boxes2, "iou")


def paired_generalized_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """GIoU of ``boxes1[i]`` with ``boxes2[i]``; see :func:`generalized_box_iou`.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[N, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N]`` GIoU values.

    Example:
        >>> paired_generalized_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]).round(4).tolist()
        [-0.3333]
    """
    return _paired(boxes1, boxes2, "giou")


def paired_distance_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """DIoU of ``boxes1[i]`` with ``boxes2[i]``; see :func:`distance_box_iou`.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[N, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N]`` DIoU values.

    Example:
        >>> paired_distance_box_iou([[0, 0, 1, 1]], [[2, 0, 3, 1]]).tolist()
        [-0.4]
    """
    return _paired(boxes1, boxes2, "diou")


def paired_complete_box_iou(boxes1: ArrayLike, boxes2: ArrayLike) -> Array:
    """CIoU of ``boxes1[i]`` with ``boxes2[i]``; see :func:`complete_box_iou`.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[N, 4]`` boxes, ``xyxy``.

    Returns:
        ``[N]`` CIoU values.

    Example:
        >>> paired_complete_box_iou([[0, 0, 4, 4]], [[1, 1, 3, 3]]).tolist()
        [0.25]
    """
    return _paired(boxes1, boxes2, "ciou")


def box_similarity(boxes1: ArrayLike, boxes2: ArrayLike, kind: Similarity = "iou") -> Array:
    """Pairwise similarity in ``[0, 1]`` as the reward uses it.

    IoU as is; GIoU, DIoU and CIoU mapped as ``clip((s + 1) / 2, 0, 1)``.

    Args:
        boxes1: ``[N, 4]`` boxes, ``xyxy``.
        boxes2: ``[M, 4]`` boxes, ``xyxy``.
        kind: ``iou``, ``giou``, ``diou`` or ``ciou``.

    Returns:
        ``[N, M]`` similarities in ``[0, 1]``.

    Example:
        >>> box_similarity([[0, 0, 1, 1]], [[2, 0, 3, 1]], "giou").round(4).tolist()
        [[0.3333]]
    """
    raw = _pairwise(boxes1, boxes2, kind)
    if kind == "iou":
        return raw
    import numpy as np

    mapped: Array = np.clip((raw + 1.0) / 2.0, 0.0, 1.0)
    return mapped


def iou_rows(
    boxes1: Sequence[BoxTuple],
    valid1: Sequence[bool],
    boxes2: Sequence[BoxTuple],
    kind: Similarity = "iou",
) -> list[list[float]]:
    """Similarity of every pair as nested lists, in plain Python: the reward's hot path.

    For the handful of boxes of one completion, plain Python is several times faster
    than building numpy arrays. This is the scalar twin of :func:`box_similarity`
    (which it equals on valid boxes, tested): the only place outside
    :func:`_box_inter_union` where an intersection or a union is computed.

    Args:
        boxes1: ``N`` predicted ``xyxy`` boxes.
        valid1: Which predicted boxes are valid; invalid rows are all 0.
        boxes2: ``M`` *valid* ground-truth boxes (finite, ``x1 < x2``, ``y1 < y2``).
        kind: ``iou``, ``giou``, ``diou`` or ``ciou`` (the last three mapped to ``[0, 1]``).

    Returns:
        ``N`` rows of ``M`` similarities in ``[0, 1]``; huge coordinates give a value in
        range too, never NaN.

    Example:
        >>> iou_rows([(0, 0, 2, 2), (0, 0, 0, 0)], [True, False], [(1, 1, 3, 3)])
        [[0.14285714285714285], [0.0]]
        >>> iou_rows([(0, 0, 1, 1)], [True], [(2, 0, 3, 1)], "giou")
        [[0.33333333333333337]]
    """
    extended = kind != "iou"
    targets = [(u1, v1, u2, v2, (u2 - u1) * (v2 - v1)) for u1, v1, u2, v2 in boxes2]
    zeros = [0.0] * len(boxes2)
    rows = []
    for (x1, y1, x2, y2), ok in zip(boxes1, valid1, strict=True):
        if not ok:
            rows.append(zeros[:])
            continue
        area = (x2 - x1) * (y2 - y1)
        row = []
        for u1, v1, u2, v2, target_area in targets:
            # The intersection and union, inlined: a function call per pair would cost
            # about 5% of the whole reward.
            iw = (x2 if x2 < u2 else u2) - (x1 if x1 > u1 else u1)
            ih = (y2 if y2 < v2 else v2) - (y1 if y1 > v1 else v1)
            if iw <= 0.0 or ih <= 0.0:  # disjoint: most pairs, so decided first
                row.append(
                    _extended(kind, 0.0, area + target_area, x1, y1, x2, y2, u1, v1, u2, v2)
                    if extended
                    else 0.0
                )
                continue
            inter = iw * ih
            union = area + target_area - inter
            if extended:
                row.append(_extended(kind, inter, union, x1, y1, x2, y2, u1, v1, u2, v2))
                continue
            # union <= 0 only when areas underflow; NaN (inf / inf) fails the range test
            value = inter / union if union > 0.0 else 0.0
            row.append(value if 0.0 <= value <= 1.0 else 0.0)
        rows.append(row)
    return rows


def _extended(
    kind: Similarity,
    inter: float,
    union: float,
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    u1: float,
    v1: float,
    u2: float,
    v2: float,
) -> float:
    """GIoU, DIoU or CIoU of one pair from its intersection and union, mapped to ``[0, 1]``."""
    try:
        iou = inter / union
        hull_w = (x2 if x2 > u2 else u2) - (x1 if x1 < u1 else u1)
        hull_h = (y2 if y2 > v2 else v2) - (y1 if y1 < v1 else v1)
        if kind == "giou":
            hull = hull_w * hull_h
            return _map(iou - (hull - union) / hull)
        dx = (x1 + x2 - u1 - u2) / 2
        dy = (y1 + y2 - v1 - v2) / 2
        diou = iou - (dx * dx + dy * dy) / (hull_w * hull_w + hull_h * hull_h)
        if kind == "diou":
            return _map(diou)
        v = (
            _FOUR_OVER_PI_SQUARED
            * (math.atan((u2 - u1) / (v2 - v1)) - math.atan((x2 - x1) / (y2 - y1))) ** 2
        )
        alpha = v / (1 - iou + v) if v > 0 else 0.0
        return _map(diou - alpha * v)
    except (ZeroDivisionError, OverflowError):  # only reachable with absurd coordinates
        return 0.0


def _map(value: float) -> float:
    mapped = (value + 1.0) / 2.0
    if mapped >= 1.0:
        return 1.0
    return mapped if mapped > 0.0 else 0.0  # also sends NaN to 0


def pair_similarity_function(
    kind: Similarity,
) -> Callable[[BoxTuple, BoxTuple], float]:
    """Plain-Python similarity of two *valid* ``xyxy`` boxes, mapped to ``[0, 1]``.

    One pair through :func:`iou_rows`; callers guarantee both boxes are finite with
    ``x1 < x2`` and ``y1 < y2``; huge coordinates still give a value in ``[0, 1]``.

    Args:
        kind: ``iou``, ``giou``, ``diou`` or ``ciou``.

    Returns:
        A function ``(box_a, box_b) -> float`` in ``[0, 1]``, equal to
        :func:`box_similarity` on valid boxes.

    Example:
        >>> pair_similarity_function("iou")((0, 0, 2, 2), (1, 1, 3, 3)) == 1 / 7
        True
    """
    if kind not in _KINDS:
        raise ConfigError(f"similarity: expected one of {_KINDS}, got {kind!r}")

    def similarity(a: BoxTuple, b: BoxTuple) -> float:
        return iou_rows((a,), _ONE_VALID, (b,), kind)[0][0]

    similarity.__name__ = f"{kind}_similarity"
    return similarity


_ONE_VALID = (True,)
