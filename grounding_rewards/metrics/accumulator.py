"""Streaming metrics: ``update`` batch by batch, ``compute`` at the end, ``merge`` partials.

An evaluation split across processes or machines keeps one accumulator each and
merges them; the result equals the one-shot functions on all the data, bit for bit
(counts are integers and the IoU sum is exact, see :class:`ExactSum`). Accumulators
pickle, so partials can travel between processes.

Example:
    >>> a, b = GroundingAccumulator(thresholds=[0.5]), GroundingAccumulator(thresholds=[0.5])
    >>> a.update([[[0, 0, 10, 10]]], [[[0, 0, 10, 10]]])
    >>> b.update([[[0, 0, 10, 10]]], [[[0, 0, 10, 5]]])
    >>> a.merge(b)
    >>> a.compute().miou, a.compute().accuracy[0.5]
    (0.75, 1.0)
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from typing import Any

from numpy.typing import ArrayLike

from grounding_rewards.boxes import as_boxes
from grounding_rewards.config import LabelMatching, RewardConfig
from grounding_rewards.errors import ConfigError, InputError
from grounding_rewards.ground_truth import GroundTruth
from grounding_rewards.metrics._exact import ExactSum
from grounding_rewards.metrics.coco import CocoBackend, CocoResult, coco_ap
from grounding_rewards.metrics.grounding import (
    COCO_THRESHOLDS,
    BoxMatch,
    GroundingResult,
    _check_thresholds,
    match_sample,
    result_from_counts,
)
from grounding_rewards.metrics.reasoning import (
    ReasoningCounts,
    ReasoningResult,
    SampleAnalysis,
    Synonyms,
    analyze_sample,
)
from grounding_rewards.parsing import Trace

__all__ = ["GroundingAccumulator", "ReasoningAccumulator"]

BoxTuple = tuple[float, ...]


class GroundingAccumulator:
    """Streaming Acc@τ, mIoU, P/R/F1@τ and (with ``keep_boxes``) COCO AP.

    Args:
        thresholds: IoU thresholds (default 0.50:0.95).
        label_matching: Label gate of the matcher (``ignore`` by default).
        keep_boxes: Keep every sample's boxes so that :meth:`coco` can run; memory
            grows with the data, the other metrics need constant memory.
    """

    def __init__(
        self,
        thresholds: Sequence[float] = COCO_THRESHOLDS,
        *,
        label_matching: LabelMatching = "ignore",
        keep_boxes: bool = False,
    ) -> None:
        self.thresholds = _check_thresholds(thresholds)
        self.label_matching = label_matching
        self.keep_boxes = keep_boxes
        self.reset()

    def reset(self) -> None:
        """Forget everything seen."""
        self.samples = 0
        self.samples_without_gt = 0
        self.n_pred = 0
        self.n_gt = 0
        self.iou_sum = ExactSum()
        self.correct = dict.fromkeys(self.thresholds, 0)
        self.true_positives = dict.fromkeys(self.thresholds, 0)
        self._pred_boxes: list[Sequence[BoxTuple]] = []
        self._gt_boxes: list[Sequence[BoxTuple]] = []

    def add(
        self,
        match: BoxMatch,
        *,
        pred_boxes: Sequence[BoxTuple] | None = None,
        gt_boxes: Sequence[BoxTuple] | None = None,
    ) -> None:
        """Count one already matched sample (boxes are needed only with ``keep_boxes``)."""
        if match.n_gt == 0:
            self.samples_without_gt += 1
            return
        self.samples += 1
        self.n_pred += match.n_pred
        self.n_gt += match.n_gt
        self.iou_sum.add(match.sample_iou)
        # Equivalent to match.correct(t) and match.true_positives(t), with one sort per sample.
        ious = sorted(match.ious)
        exact = match.n_pred == match.n_gt == len(ious)
        lowest = ious[0] if ious else 0.0
        count = len(ious)
        for t in self.thresholds:
            if exact and lowest >= t:
                self.correct[t] += 1
            if count:
                self.true_positives[t] += count - bisect_left(ious, t)
        if self.keep_boxes:
            if pred_boxes is None or gt_boxes is None:
                raise InputError("keep_boxes=True: expected pred_boxes and gt_boxes, got None")
            # Boxes are tuples of floats (immutable): keep them as they are.
            self._pred_boxes.append(
                pred_boxes if isinstance(pred_boxes, tuple) else tuple(pred_boxes)
            )
            self._gt_boxes.append(gt_boxes if isinstance(gt_boxes, tuple) else tuple(gt_boxes))

    def update(
        self,
        preds: Sequence[ArrayLike],
        target: Sequence[ArrayLike],
        *,
        pred_labels: Sequence[Sequence[str]] | None = None,
        target_labels: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Add a batch: per sample, predicted and ground-truth pixel ``xyxy`` boxes.

        Raises:
            InputError: When ``preds`` and ``target`` differ in length.
        """
        if len(preds) != len(target):
            raise InputError(
                f"preds and target: expected one entry per sample in each, got {len(preds)} "
                f"and {len(target)}"
            )
        for i, (pred, truth) in enumerate(zip(preds, target, strict=True)):
            p = [tuple(b) for b in as_boxes(pred).tolist()]
            g = [tuple(b) for b in as_boxes(truth).tolist()]
            match = match_sample(
                p,
                g,
                pred_labels=None if pred_labels is None else pred_labels[i],
                gt_labels=None if target_labels is None else target_labels[i],
                label_matching=self.label_matching,
            )
            self.add(match, pred_boxes=p, gt_boxes=g)

    def merge(self, other: GroundingAccumulator) -> None:
        """Add everything ``other`` has seen (same thresholds required).

        Raises:
            ConfigError: When the thresholds differ.
        """
        if other.thresholds != self.thresholds:
            raise ConfigError(
                f"merge: expected the same thresholds, got {self.thresholds} and {other.thresholds}"
            )
        self.samples += other.samples
        self.samples_without_gt += other.samples_without_gt
        self.n_pred += other.n_pred
        self.n_gt += other.n_gt
        self.iou_sum.merge(other.iou_sum)
        for t in self.thresholds:
            self.correct[t] += other.correct[t]
            self.true_positives[t] += other.true_positives[t]
        self._pred_boxes.extend(other._pred_boxes)
        self._gt_boxes.extend(other._gt_boxes)

    def compute(self) -> GroundingResult:
        """The metrics over everything seen so far."""
        return result_from_counts(
            samples=self.samples,
            samples_without_gt=self.samples_without_gt,
            n_pred=self.n_pred,
            n_gt=self.n_gt,
            iou_sum=self.iou_sum.value(),
            correct=self.correct,
            true_positives=self.true_positives,
        )

    def coco(self, *, backend: CocoBackend = "faster-coco-eval") -> CocoResult:
        """COCO AP over the kept boxes of samples with ground truth (class-agnostic).

        Raises:
            ConfigError: Without ``keep_boxes=True``.
            MissingDependencyError: Without the COCO library.
        """
        if not self.keep_boxes:
            raise ConfigError("coco(): expected an accumulator made with keep_boxes=True")
        return coco_ap(self._pred_boxes, self._gt_boxes, backend=backend)

    def state(self) -> dict[str, Any]:
        """The counts, for logging or debugging."""
        return {
            "samples": self.samples,
            "samples_without_gt": self.samples_without_gt,
            "n_pred": self.n_pred,
            "n_gt": self.n_gt,
            "iou_sum": self.iou_sum.value(),
            "correct": dict(self.correct),
            "true_positives": dict(self.true_positives),
        }


class ReasoningAccumulator:
    """Streaming grounded-reasoning metrics (:mod:`~grounding_rewards.metrics.reasoning`).

    Args:
        config: Reward configuration (coordinate space, box region, label gate...).
        threshold: IoU τ of the box metrics.
        synonyms: Label normalizer for label agreement and CHAIR.
    """

    def __init__(
        self,
        config: RewardConfig | None = None,
        *,
        threshold: float = 0.5,
        synonyms: Synonyms | None = None,
    ) -> None:
        self.config = config
        self.threshold = float(threshold)
        self.synonyms = synonyms
        self.counts = ReasoningCounts()

    def add(self, sample: SampleAnalysis) -> None:
        """Count one already analysed completion."""
        self.counts.add(sample, self.threshold)

    def update(
        self,
        preds: Sequence[str | Trace],
        target: Sequence[GroundTruth | Mapping[str, Any]],
    ) -> None:
        """Add a batch of completions with their ground truth.

        Raises:
            InputError: When ``preds`` and ``target`` differ in length.
            GroundTruthError: For malformed ground truth.
        """
        if len(preds) != len(target):
            raise InputError(
                f"preds and target: expected one entry per completion in each, got "
                f"{len(preds)} and {len(target)}"
            )
        for pred, truth in zip(preds, target, strict=True):
            self.add(
                analyze_sample(
                    pred,
                    truth,
                    config=self.config,
                    threshold=self.threshold,
                    synonyms=self.synonyms,
                )
            )

    def merge(self, other: ReasoningAccumulator) -> None:
        """Add everything ``other`` has seen.

        Raises:
            ConfigError: When the thresholds differ.
        """
        if other.threshold != self.threshold:
            raise ConfigError(
                f"merge: expected the same threshold, got {self.threshold} and {other.threshold}"
            )
        self.counts.merge(other.counts)

    def compute(self) -> ReasoningResult:
        """The metrics over everything seen so far."""
        return self.counts.result(self.threshold)
