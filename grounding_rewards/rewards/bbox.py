"""R_bbox: Hungarian-matched box similarity with a length penalty.

With ``n`` predicted boxes (those in the counted region, invalid ones included) and
``m`` ground-truth boxes::

    R_bbox = (Σ_matched S[i, j] / m) · min(1, m / n) ** α

``S`` is IoU (or GIoU/DIoU/CIoU mapped to ``[0, 1]``), optionally gated by labels,
and the matching is the one-to-one assignment maximizing ``Σ S``. With ``α = 1``
this equals ``Σ S / max(n, m)``: a model cannot raise its reward by spraying boxes.

Edge cases: ``m = 0`` gives ``None`` (not applicable); ``n = 0 < m`` gives 0; more
than ``max_boxes`` boxes, a completion over ``max_chars`` or one that is not text give 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grounding_rewards._frozen import rebuild
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.ground_truth import (
    BoxesLike,
    GroundTruth,
    LabelsLike,
    SizeLike,
    parse_ground_truth,
)
from grounding_rewards.matching import iou_rows, similarity_matrix
from grounding_rewards.parsing import Trace
from grounding_rewards.rewards._bbox_value import BoxParts, matched_parts, to_pixels
from grounding_rewards.rewards._fused import clean_scores, fused_weights
from grounding_rewards.rewards._trace import as_trace

__all__ = ["BoxScore", "bbox_reward", "score_boxes"]


@dataclass(frozen=True, slots=True)
class BoxScore:
    """R_bbox with its details.

    Attributes:
        value: R_bbox in ``[0, 1]``, or ``None`` when there is no ground-truth box.
        n_pred: Predicted boxes counted (``n``).
        n_gt: Ground-truth boxes (``m``).
        pairs: Matched ``(predicted, ground truth)`` index pairs.
        pair_scores: Similarity of each matched pair.
    """

    value: float | None
    n_pred: int
    n_gt: int
    pairs: tuple[tuple[int, int], ...] = ()
    pair_scores: tuple[float, ...] = ()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


def score_boxes(trace: Trace, truth: GroundTruth, config: RewardConfig) -> BoxScore:
    """Score a parsed trace against validated ground truth.

    Args:
        trace: The parsed completion.
        truth: Validated ground truth (pixel boxes, labels, image size).
        config: Configuration.

    Returns:
        The :class:`BoxScore`.

    Raises:
        ValueError: When ``config.coords`` needs an image size that ``truth`` lacks, or
            label gating is on without ground-truth labels.

    Example:
        >>> from grounding_rewards import parse_trace, DEFAULT_CONFIG
        >>> trace = parse_trace("<think><obj>a</obj><bbox>[0, 0, 10, 10]</bbox></think>")
        >>> score_boxes(trace, parse_ground_truth(gt_boxes=[[0, 0, 10, 10]]), DEFAULT_CONFIG)
        BoxScore(value=1.0, n_pred=1, n_gt=1, pairs=((0, 0),), pair_scores=(1.0,))
    """
    return BoxScore(*_box_parts(trace, truth, config))


def _box_parts(trace: Trace, truth: GroundTruth, config: RewardConfig) -> BoxParts:
    """The fields of :func:`score_boxes`' :class:`BoxScore`, as a plain tuple.

    ``bbox_reward`` needs the value alone: a tuple costs a fraction of a frozen instance.
    """
    spans = trace.counted_spans(config)
    n, m = len(spans), len(truth.boxes)
    if m == 0:
        return None, n, 0, (), ()
    # Before looking at the model's boxes: a missing image size is the caller's error
    # whatever the model wrote.
    sx, sy = to_pixels(truth, config)
    # The parser keeps max_boxes + 1 spans when there are too many, counted or not.
    if n == 0 or len(trace.spans) > config.max_boxes:
        return 0.0, n, m, (), ()
    if sx == 1.0 and sy == 1.0:
        predicted = [span.box for span in spans]
    else:
        predicted = [(s.box[0] * sx, s.box[1] * sy, s.box[2] * sx, s.box[3] * sy) for s in spans]
    gated = config.label_matching != "ignore"
    if gated and truth.labels is None:
        raise InputError(f"label_matching={config.label_matching!r} needs gt_labels, got None")
    valid = [span.valid for span in spans]
    if gated or config.similarity != "iou":
        scores = similarity_matrix(
            predicted,
            truth.boxes,
            valid1=valid,
            valid2=[True] * m,
            labels1=[span.label for span in spans] if gated else None,
            labels2=truth.labels,
            similarity=config.similarity,
            label_matching=config.label_matching,
        )
    else:  # the default: plain IoU against validated ground truth
        scores = iou_rows(predicted, valid, truth.boxes)
    return matched_parts(scores, n, m, config.length_penalty)


def bbox_reward(
    completion: object,
    gt_boxes: BoxesLike,
    *,
    gt_labels: LabelsLike = None,
    image_size: SizeLike = None,
    config: RewardConfig | None = None,
) -> float | None:
    """R_bbox in ``[0, 1]``, or ``None`` when there is no ground-truth box.

    Args:
        completion: The completion, or its parsed trace (anything else is read as a
            completion that is not text: it never raises).
        gt_boxes: Ground-truth pixel ``xyxy`` boxes of the original image (list,
            numpy array or JSON string).
        gt_labels: One label per ground-truth box (needed for label gating).
        image_size: ``(width, height)`` of the original image; required unless
            ``config.coords == 'pixel'``.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The box reward.

    Raises:
        GroundTruthError: For malformed ground truth.
        ValueError: For a normalized coordinate space without ``image_size``.

    Example:
        >>> text = ("<think><obj>cat</obj><bbox>[0, 0, 10, 10]</bbox> and "
        ...         "<obj>cat</obj><bbox>[50, 50, 60, 60]</bbox></think><answer>A</answer>")
        >>> bbox_reward(text, [[0, 0, 10, 10]])  # one right box, one spare: 1 / max(2, 1)
        0.5
        >>> bbox_reward(text, []) is None
        True
        >>> cfg = RewardConfig(coords="norm1000")
        >>> bbox_reward("<think><obj>cat</obj><bbox>[0, 0, 500, 500]</bbox></think>",
        ...             [[0, 0, 320, 240]], image_size=(640, 480), config=cfg)
        1.0
    """
    config = config or DEFAULT_CONFIG
    truth = parse_ground_truth(gt_boxes=gt_boxes, gt_labels=gt_labels, image_size=image_size)
    if type(completion) is str and fused_weights(config) is not None:
        clean = clean_scores(completion, truth, config, True, False)  # the clean path
        if clean is not None and clean[4] is not None:
            return clean[4][0]
    return _box_parts(as_trace(completion, config), truth, config)[0]
