"""R_point: one-to-one points inside ground-truth boxes (or masks), with a length penalty.

With ``n`` predicted points (those in the counted region, invalid ones included) and
``m`` ground-truth targets (boxes, or polygons when ``gt_polygons`` is given)::

    S[i, j] = hit(point i, target j) · label_gate(i, j)
    R_point = (Σ_matched S[i, j] / m) · min(1, m / n) ** α

``hit`` is 1 when the point lies inside the target, edges included (``point_scoring=
"inside"``, the default), or a Gaussian around the box centre for GUI clicks
(``point_scoring="gaussian"``, as GUI-G² proposes): ``exp(-½((dx/σx)² + (dy/σy)²))``
with ``σx = point_sigma · width`` and ``σy = point_sigma · height``. The matching is the
one-to-one assignment maximizing ``Σ S`` (with 0/1 scores: the maximum number of targets
hit by distinct points), so two points in one box earn one hit, and a click "near" a box
earns nothing under ``inside``.

Edge cases, as for boxes: ``m = 0`` gives ``None``; ``n = 0 < m`` gives 0; more than
``max_boxes`` points, a completion over ``max_chars`` or one that is not text give 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from grounding_rewards.boxes import pixel_scale
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.ground_truth import (
    BoxesLike,
    GroundTruth,
    LabelsLike,
    PolygonsLike,
    SizeLike,
    parse_ground_truth,
)
from grounding_rewards.matching import assign, labels_agree
from grounding_rewards.parsing import Trace
from grounding_rewards.rewards._trace import as_trace

__all__ = ["PointScore", "point_reward", "score_points"]


@dataclass(frozen=True, slots=True)
class PointScore:
    """R_point with its details.

    Attributes:
        value: R_point in ``[0, 1]``, or ``None`` when there is no ground-truth target.
        n_pred: Predicted points counted (``n``).
        n_gt: Ground-truth targets (``m``).
        pairs: Matched ``(point, target)`` index pairs with a positive score.
        pair_scores: Score of each matched pair.
    """

    value: float | None
    n_pred: int
    n_gt: int
    pairs: tuple[tuple[int, int], ...] = ()
    pair_scores: tuple[float, ...] = ()


def _inside_polygon(x: float, y: float, polygon: Sequence[tuple[float, float]]) -> bool:
    import shapely

    return bool(shapely.Polygon(polygon).covers(shapely.Point(x, y)))


def _hit(
    x: float,
    y: float,
    box: tuple[float, float, float, float],
    polygon: Sequence[tuple[float, float]] | None,
    config: RewardConfig,
) -> float:
    x1, y1, x2, y2 = box
    if config.point_scoring == "gaussian":
        sx = config.point_sigma * (x2 - x1)
        sy = config.point_sigma * (y2 - y1)
        dx = (x - (x1 + x2) / 2) / sx
        dy = (y - (y1 + y2) / 2) / sy
        return math.exp(-0.5 * (dx * dx + dy * dy))
    if not (x1 <= x <= x2 and y1 <= y <= y2):
        return 0.0
    if polygon is not None:
        return 1.0 if _inside_polygon(x, y, polygon) else 0.0
    return 1.0


def score_points(trace: Trace, truth: GroundTruth, config: RewardConfig) -> PointScore:
    """Score a parsed trace's points against validated ground truth.

    Args:
        trace: The parsed completion.
        truth: Validated ground truth (pixel boxes and/or polygons, labels, image size).
        config: Configuration (``point_scoring``, ``point_sigma``, ``length_penalty``,
            ``label_matching``, ``coords``).

    Returns:
        The :class:`PointScore`.

    Raises:
        ValueError: When ``config.coords`` needs an image size that ``truth`` lacks, or
            label gating is on without ground-truth labels.

    Example:
        >>> from grounding_rewards import parse_trace
        >>> trace = parse_trace("<think><obj>a</obj><point>[5, 5]</point>"
        ...                     "<obj>b</obj><point>[6, 6]</point></think><answer>A</answer>")
        >>> score_points(trace, parse_ground_truth(gt_boxes=[[0, 0, 10, 10]]), DEFAULT_CONFIG)
        PointScore(value=0.5, n_pred=2, n_gt=1, pairs=((0, 0),), pair_scores=(1.0,))
    """
    points = trace.counted_points(config)
    targets = truth.boxes
    n, m = len(points), len(targets)
    if m == 0:
        return PointScore(None, n, 0)
    sx, sy = pixel_scale(
        config.coords, truth.image_size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
    )
    if n == 0 or len(trace.points) > config.max_boxes:
        return PointScore(0.0, n, m)
    gated = config.label_matching != "ignore"
    if gated and truth.labels is None:
        raise InputError(f"label_matching={config.label_matching!r} needs gt_labels, got None")
    polygons = truth.polygons
    scores: list[list[float]] = []
    for point in points:
        if not point.valid:
            scores.append([0.0] * m)
            continue
        x, y = point.point[0] * sx, point.point[1] * sy
        row = []
        for j, box in enumerate(targets):
            score = _hit(x, y, box, None if polygons is None else polygons[j], config)
            if gated and score > 0.0:
                assert truth.labels is not None  # checked above
                score *= labels_agree(point.label, truth.labels[j], config.label_matching)
            row.append(score)
        scores.append(row)
    pairs = tuple((i, j) for i, j in assign(scores) if scores[i][j] > 0.0)
    matched = tuple(scores[i][j] for i, j in pairs)
    value = (math.fsum(matched) / m) * min(1.0, m / n) ** config.length_penalty
    return PointScore(min(1.0, max(0.0, value)), n, m, pairs, matched)


def point_reward(
    completion: str | Trace,
    gt_boxes: BoxesLike,
    *,
    gt_labels: LabelsLike = None,
    gt_polygons: PolygonsLike = None,
    image_size: SizeLike = None,
    config: RewardConfig | None = None,
) -> float | None:
    """R_point in ``[0, 1]``: points matched one-to-one to the ground-truth boxes they hit.

    ``R_point = (matched / m) · min(1, m / n) ** α`` (see the module docs for the
    Gaussian variant for GUI clicks).

    Args:
        completion: The completion, or its parsed trace.
        gt_boxes: Ground-truth pixel ``xyxy`` boxes of the original image (with
            ``gt_polygons``, the polygons' bounding boxes may be given, or ``None``).
        gt_labels: One label per target, for ``label_matching``.
        gt_polygons: One polygon ``[[x, y], ...]`` per target (pixel): a point must lie
            inside the polygon (a mask's outline), not just its box.
        image_size: ``(width, height)`` of the original image.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The reward, or ``None`` when there is no ground-truth target.

    Raises:
        GroundTruthError: For malformed ground truth.
        ValueError: For a normalized coordinate space without ``image_size``.

    Example:
        >>> text = '<think><obj>cat</obj><point>[50, 40]</point></think><answer>A</answer>'
        >>> point_reward(text, [[0, 0, 100, 100]]), point_reward(text, [[60, 0, 100, 100]])
        (1.0, 0.0)
        >>> molmo = RewardConfig(dialect="molmo", coords="norm100")
        >>> point_reward('<point x="25" y="50" alt="cat">cat</point>', [[0, 0, 100, 100]],
        ...              image_size=(200, 200), config=molmo)
        1.0
    """
    config = config or DEFAULT_CONFIG
    truth = parse_ground_truth(
        gt_boxes=gt_boxes, gt_labels=gt_labels, gt_polygons=gt_polygons, image_size=image_size
    )
    return score_points(as_trace(completion, config), truth, config).value
