"""Grounding accuracy: Acc@τ, mean IoU and one-to-one precision / recall / F1 at IoU τ.

Every metric starts from the reward's own matcher (:mod:`grounding_rewards.matching`):
per sample, predicted boxes ``P`` (``n`` of them, invalid ones included) are assigned
one-to-one to ground-truth boxes ``G`` (``m``), maximizing total IoU. With the IoUs
``IoU_k`` of the matched pairs:

* sample IoU ``= Σ_k IoU_k / max(n, m)`` (an unmatched box on either side counts 0);
  for one predicted and one ground-truth box it is their IoU;
* a sample is *correct at τ* when ``n = m`` and every pair has ``IoU_k ≥ τ`` (the
  "F1 = 1" criterion of generalized referring expressions); for one box each this is
  RefCOCO's ``IoU ≥ τ``;
* ``TP_τ = #{k : IoU_k ≥ τ}``; ``precision_τ = Σ TP_τ / Σ n``, ``recall_τ = Σ TP_τ / Σ m``
  (micro-averaged over samples), ``F1_τ = 2PR / (P + R)``.

``Acc@τ`` and ``mIoU`` average over samples with ground truth (``m > 0``); samples
with ``m = 0`` are counted apart, as ``R_bbox`` is ``None`` ("not applicable") for
them. Boxes are pixel ``xyxy``, ground truth and predictions alike (convert predicted
boxes with :func:`grounding_rewards.boxes.to_pixels` first). Thresholds compare with
``≥``, as COCO does.

Example:
    >>> preds = [[[0, 0, 10, 10]], [[0, 0, 10, 10], [50, 50, 60, 60]]]
    >>> target = [[[0, 0, 10, 20]], [[0, 0, 10, 10]]]
    >>> r = grounding_metrics(preds, target, thresholds=(0.5, 0.75))
    >>> r.miou, r.accuracy[0.5], r.precision[0.5], r.recall[0.5]
    (0.5, 0.5, 0.6666666666666666, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from grounding_rewards.boxes import as_boxes
from grounding_rewards.config import LabelMatching
from grounding_rewards.errors import ConfigError, InputError
from grounding_rewards.matching import assign, labels_agree, similarity_matrix

__all__ = [
    "COCO_THRESHOLDS",
    "BoxMatch",
    "GroundingResult",
    "grounding_metrics",
    "iou_accuracy",
    "match_sample",
    "mean_iou",
    "precision_recall_f1",
    "threshold_key",
]

COCO_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
"""IoU thresholds 0.50, 0.55, ..., 0.95, as COCO averages them."""

BoxTuple = tuple[float, float, float, float]


def threshold_key(threshold: float) -> str:
    """Format a threshold the way result keys spell it: ``0.5``, ``0.75``.

    Example:
        >>> threshold_key(0.5), threshold_key(0.7000000000000001)
        ('0.5', '0.7')
    """
    return f"{round(threshold, 4):g}"


def _valid(box: Sequence[float]) -> bool:
    x1, y1, x2, y2 = box
    return math.isfinite(x1 + y1 + x2 + y2) and x1 < x2 and y1 < y2


@dataclass(frozen=True, slots=True)
class BoxMatch:
    """What the metrics need to know about one sample.

    Attributes:
        n_pred: Predicted boxes ``n``, invalid ones included.
        n_gt: Ground-truth boxes ``m``.
        pairs: Matched ``(pred_index, gt_index)`` pairs (the matcher's assignment).
        ious: IoU of each matched pair; under label gating, IoU times the label gate
            (so a pair whose labels disagree counts 0).
        best_ious: For each predicted box, its highest IoU with any ground-truth box
            (0 for an invalid box); the hallucinated-box rate reads it.
    """

    n_pred: int
    n_gt: int
    pairs: tuple[tuple[int, int], ...]
    ious: tuple[float, ...]
    best_ious: tuple[float, ...]

    @property
    def sample_iou(self) -> float:
        """``Σ IoU_k / max(n, m)``; 0 when there is nothing on either side."""
        denominator = max(self.n_pred, self.n_gt)
        return math.fsum(self.ious) / denominator if denominator else 0.0

    def correct(self, threshold: float) -> bool:
        """Whether ``n = m`` and every ground-truth box is matched at ``IoU ≥ threshold``."""
        return (
            self.n_pred == self.n_gt
            and len(self.ious) == self.n_gt
            and all(iou >= threshold for iou in self.ious)
        )

    def true_positives(self, threshold: float) -> int:
        """Matched pairs with ``IoU ≥ threshold``."""
        return sum(1 for iou in self.ious if iou >= threshold)


def match_sample(
    pred_boxes: Sequence[Sequence[float]],
    gt_boxes: Sequence[Sequence[float]],
    *,
    pred_labels: Sequence[str] | None = None,
    gt_labels: Sequence[str] | None = None,
    label_matching: LabelMatching = "ignore",
) -> BoxMatch:
    """Match one sample's predicted boxes to its ground truth with the reward's matcher.

    The assignment maximizes total IoU, times the label gate when ``label_matching``
    is not ``ignore`` (then a pair's IoU is gated too: labels that disagree give 0).

    Args:
        pred_boxes: ``n`` pixel ``xyxy`` boxes; invalid ones (non-finite, ``x1 >= x2``
            or ``y1 >= y2``) count in ``n`` and match nothing.
        gt_boxes: ``m`` pixel ``xyxy`` boxes.
        pred_labels: Labels of the predicted boxes (for label gating).
        gt_labels: Labels of the ground-truth boxes (for label gating).
        label_matching: ``ignore``, ``exact``, ``fuzzy`` or a callable, as in the reward.

    Returns:
        The sample's :class:`BoxMatch`.

    Example:
        >>> m = match_sample([(0, 0, 10, 10), (0, 0, 5, 10)], [(0, 0, 10, 10)])
        >>> m.pairs, m.ious, m.best_ious
        (((0, 0),), (1.0,), (1.0, 0.5))
    """
    preds = [tuple(map(float, box)) for box in pred_boxes]
    gts = [tuple(map(float, box)) for box in gt_boxes]
    valid_pred = [_valid(box) for box in preds]
    valid_gt = [_valid(box) for box in gts]
    ious = similarity_matrix(preds, gts, valid1=valid_pred, valid2=valid_gt, similarity="iou")
    if label_matching != "ignore" and preds and gts:
        if pred_labels is None or gt_labels is None:
            raise InputError(
                f"label_matching={label_matching!r}: expected pred_labels and gt_labels, got None"
            )
        scores = [
            [
                iou * labels_agree(pred_labels[i], gt_labels[j], label_matching) if iou else 0.0
                for j, iou in enumerate(row)
            ]
            for i, row in enumerate(ious)
        ]
    else:
        scores = ious
    pairs = tuple(assign(scores)) if preds and gts else ()
    return BoxMatch(
        n_pred=len(preds),
        n_gt=len(gts),
        pairs=pairs,
        ious=tuple(scores[i][j] for i, j in pairs),
        best_ious=tuple(max(row) if row else 0.0 for row in ious),
    )


@dataclass(frozen=True, slots=True)
class GroundingResult:
    """Grounding metrics over a set of samples.

    Attributes:
        samples: Samples with ground truth (``m > 0``), over which Acc and mIoU average.
        samples_without_gt: Samples with no ground-truth box (not applicable).
        n_pred: Predicted boxes in samples with ground truth.
        n_gt: Ground-truth boxes.
        miou: Mean sample IoU (``None`` without samples).
        accuracy: Acc@τ per threshold.
        precision: One-to-one precision per threshold (``None`` without predictions).
        recall: One-to-one recall per threshold.
        f1: F1 per threshold (0 when precision and recall are 0).
    """

    samples: int
    samples_without_gt: int
    n_pred: int
    n_gt: int
    miou: float | None
    accuracy: Mapping[float, float | None]
    precision: Mapping[float, float | None]
    recall: Mapping[float, float | None]
    f1: Mapping[float, float | None]

    def as_dict(self) -> dict[str, Any]:
        """Flat, JSON-ready keys: ``miou``, ``acc@0.5``, ``acc@0.5:0.95``, ``f1@0.5``...

        ``acc@0.5:0.95`` (the mean of Acc over the COCO thresholds) is present when every
        one of them was computed.
        """
        out: dict[str, Any] = {
            "samples": self.samples,
            "samples_without_gt": self.samples_without_gt,
            "n_pred": self.n_pred,
            "n_gt": self.n_gt,
            "miou": self.miou,
        }
        for name, values in (
            ("acc", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("f1", self.f1),
        ):
            for threshold, value in values.items():
                out[f"{name}@{threshold_key(threshold)}"] = value
        if all(t in self.accuracy for t in COCO_THRESHOLDS) and self.samples:
            accuracies = [self.accuracy[t] for t in COCO_THRESHOLDS]
            out["acc@0.5:0.95"] = math.fsum(a for a in accuracies if a is not None) / len(
                accuracies
            )
        return out


def result_from_counts(
    *,
    samples: int,
    samples_without_gt: int,
    n_pred: int,
    n_gt: int,
    iou_sum: float,
    correct: Mapping[float, int],
    true_positives: Mapping[float, int],
) -> GroundingResult:
    """Turn summed counts into rates (shared by the functions and the accumulator)."""
    precision: dict[float, float | None] = {}
    recall: dict[float, float | None] = {}
    f1: dict[float, float | None] = {}
    for threshold, tp in true_positives.items():
        p = tp / n_pred if n_pred else None
        r = tp / n_gt if n_gt else None
        precision[threshold], recall[threshold] = p, r
        if p is None or r is None:
            f1[threshold] = None
        else:
            f1[threshold] = 2 * p * r / (p + r) if p + r else 0.0
    return GroundingResult(
        samples=samples,
        samples_without_gt=samples_without_gt,
        n_pred=n_pred,
        n_gt=n_gt,
        miou=iou_sum / samples if samples else None,
        accuracy={t: (c / samples if samples else None) for t, c in correct.items()},
        precision=precision,
        recall=recall,
        f1=f1,
    )


def _check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(t) for t in thresholds)
    if not out or not all(0.0 <= t <= 1.0 for t in out):
        raise ConfigError(f"thresholds: expected IoU values in [0, 1], got {list(thresholds)}")
    return out


def _matches(
    preds: Sequence[ArrayLike],
    target: Sequence[ArrayLike],
    pred_labels: Sequence[Sequence[str]] | None,
    target_labels: Sequence[Sequence[str]] | None,
    label_matching: LabelMatching,
) -> list[BoxMatch]:
    if len(preds) != len(target):
        raise InputError(
            f"preds and target: expected one entry per sample in each, got {len(preds)} and "
            f"{len(target)}"
        )
    out = []
    for i, (pred, truth) in enumerate(zip(preds, target, strict=True)):
        out.append(
            match_sample(
                as_boxes(pred).tolist(),
                as_boxes(truth).tolist(),
                pred_labels=None if pred_labels is None else pred_labels[i],
                gt_labels=None if target_labels is None else target_labels[i],
                label_matching=label_matching,
            )
        )
    return out


def summarize_matches(
    matches: Sequence[BoxMatch], thresholds: Sequence[float] = COCO_THRESHOLDS
) -> GroundingResult:
    """Reduce per-sample matches to :class:`GroundingResult` (one shot).

    Args:
        matches: One :class:`BoxMatch` per sample.
        thresholds: IoU thresholds for Acc, precision, recall and F1.

    Returns:
        The metrics.
    """
    thresholds = _check_thresholds(thresholds)
    with_gt = [m for m in matches if m.n_gt > 0]
    return result_from_counts(
        samples=len(with_gt),
        samples_without_gt=len(matches) - len(with_gt),
        n_pred=sum(m.n_pred for m in with_gt),
        n_gt=sum(m.n_gt for m in with_gt),
        iou_sum=math.fsum(m.sample_iou for m in with_gt),
        correct={t: sum(m.correct(t) for m in with_gt) for t in thresholds},
        true_positives={t: sum(m.true_positives(t) for m in with_gt) for t in thresholds},
    )


def grounding_metrics(
    preds: Sequence[ArrayLike],
    target: Sequence[ArrayLike],
    *,
    thresholds: Sequence[float] = COCO_THRESHOLDS,
    pred_labels: Sequence[Sequence[str]] | None = None,
    target_labels: Sequence[Sequence[str]] | None = None,
    label_matching: LabelMatching = "ignore",
) -> GroundingResult:
    """Acc@τ, mIoU and one-to-one P/R/F1@τ of per-sample boxes.

    Args:
        preds: Per sample, predicted pixel ``xyxy`` boxes ``[n_i, 4]``.
        target: Per sample, ground-truth pixel ``xyxy`` boxes ``[m_i, 4]``.
        thresholds: IoU thresholds (default 0.50:0.95 in steps of 0.05).
        pred_labels: Per sample, labels of the predicted boxes (label-gated matching).
        target_labels: Per sample, labels of the ground-truth boxes.
        label_matching: Label gate of the matcher (``ignore`` by default).

    Returns:
        A :class:`GroundingResult`.

    Raises:
        InputError: When ``preds`` and ``target`` differ in length or a box array is
            not ``[K, 4]``.

    Example:
        >>> r = grounding_metrics([[[0, 0, 4, 4]]], [[[0, 0, 4, 2]]], thresholds=[0.5])
        >>> r.miou, r.accuracy[0.5], r.f1[0.5]  # IoU = 8 / 16
        (0.5, 1.0, 1.0)
    """
    matches = _matches(preds, target, pred_labels, target_labels, label_matching)
    return summarize_matches(matches, thresholds)


def iou_accuracy(
    preds: Sequence[ArrayLike], target: Sequence[ArrayLike], *, threshold: float = 0.5
) -> float | None:
    """Acc@τ: the share of samples (with ground truth) whose boxes all match at ``IoU ≥ τ``.

    Args:
        preds: Per sample, predicted pixel ``xyxy`` boxes.
        target: Per sample, ground-truth pixel ``xyxy`` boxes.
        threshold: τ.

    Returns:
        The accuracy, or ``None`` when no sample has ground truth.

    Example:
        >>> iou_accuracy([[[0, 0, 10, 10]], [[0, 0, 3, 10]]], [[[0, 0, 10, 10]], [[0, 0, 10, 10]]])
        0.5
    """
    return grounding_metrics(preds, target, thresholds=[threshold]).accuracy[float(threshold)]


def mean_iou(preds: Sequence[ArrayLike], target: Sequence[ArrayLike]) -> float | None:
    """Mean over samples (with ground truth) of ``Σ matched IoU / max(n, m)``.

    Example:
        >>> mean_iou([[[0, 0, 10, 10]], []], [[[0, 0, 10, 5]], [[1, 1, 2, 2]]])
        0.25
    """
    return grounding_metrics(preds, target, thresholds=[0.5]).miou


def precision_recall_f1(
    preds: Sequence[ArrayLike], target: Sequence[ArrayLike], *, threshold: float = 0.5
) -> tuple[float | None, float | None, float | None]:
    """One-to-one precision, recall and F1 at ``IoU ≥ threshold``, micro-averaged.

    Example:
        >>> # two predictions for one object: one true positive, one false positive
        >>> precision_recall_f1([[[0, 0, 10, 10], [0, 0, 10, 10]]], [[[0, 0, 10, 10]]])
        (0.5, 1.0, 0.6666666666666666)
    """
    t = float(threshold)
    result = grounding_metrics(preds, target, thresholds=[t])
    return result.precision[t], result.recall[t], result.f1[t]
