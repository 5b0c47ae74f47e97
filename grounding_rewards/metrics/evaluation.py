"""Evaluate rollouts end to end: rewards, grounding, reasoning, COCO AP and a worst-first gallery.

:class:`RolloutEvaluator` reads :class:`~grounding_rewards.metrics.rollouts.Rollout`
records one at a time (constant memory but for the kept COCO boxes and the gallery),
parses each completion once, scores it with the reward code and feeds every metric.
Evaluators merge, so a large evaluation can be split across processes.

Example:
    >>> from grounding_rewards.metrics.rollouts import Rollout
    >>> evaluator = RolloutEvaluator(coco=False)
    >>> text = "<think><obj>cat</obj><bbox>[0, 0, 10, 10]</bbox></think><answer>A</answer>"
    >>> truth = {"answer": "A", "gt_boxes": [[0, 0, 10, 20]], "gt_labels": ["cat"]}
    >>> _ = evaluator.add(Rollout(text, truth))
    >>> result = evaluator.compute()
    >>> result.rewards["total"], result.grounding.miou, result.reasoning.answer_accuracy
    (2.5, 0.5, 1.0)
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from grounding_rewards.components import active_components
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import ConfigError, GroundTruthError, InputError
from grounding_rewards.metrics._exact import ExactSum
from grounding_rewards.metrics.accumulator import GroundingAccumulator, ReasoningAccumulator
from grounding_rewards.metrics.coco import CocoBackend, CocoResult
from grounding_rewards.metrics.grounding import COCO_THRESHOLDS, GroundingResult
from grounding_rewards.metrics.reasoning import (
    ReasoningResult,
    SampleAnalysis,
    Synonyms,
    analyze_sample,
)
from grounding_rewards.metrics.rollouts import Rollout, RolloutFormatError
from grounding_rewards.zoom.draw import crop_boxes
from grounding_rewards.zoom.metrics import ZoomMetrics
from grounding_rewards.zoom.reward import ZoomScore

__all__ = [
    "REWARD_COMPONENTS",
    "EvaluationResult",
    "Histogram",
    "RolloutEvaluator",
    "SampleView",
    "SpanView",
    "reward_columns",
    "sample_view",
]

REWARD_COMPONENTS: tuple[str, ...] = ("total", "format", "accuracy", "bbox")
"""The reward columns of the default configuration; see :func:`reward_columns`."""


def reward_columns(config: RewardConfig) -> tuple[str, ...]:
    """``total`` then every component ``config`` scores (from the component registry).

    Example:
        >>> reward_columns(RewardConfig(weights={"point": 1}))
        ('total', 'format', 'accuracy', 'bbox', 'point')
    """
    return ("total", *config.weights)


BoxTuple = tuple[float, float, float, float]


@dataclass
class Histogram:
    """Fixed-bin counts over ``[low, high]`` (the last bin includes ``high``); mergeable.

    Attributes:
        low: Lower edge.
        high: Upper edge.
        counts: One count per bin.
        missing: Values that were ``None`` (component not applicable).

    Example:
        >>> h = Histogram(0.0, 1.0, [0] * 4)
        >>> for v in [0.0, 0.3, 1.0, None]:
        ...     h.add(v)
        >>> h.counts, h.missing
        ([1, 1, 0, 1], 1)
    """

    low: float
    high: float
    counts: list[int]
    missing: int = 0

    def add(self, value: float | None) -> None:
        """Count one value (clipped into range) or one ``None``."""
        if value is None or not math.isfinite(value):
            self.missing += 1
            return
        bins = len(self.counts)
        span = self.high - self.low
        position = (value - self.low) / span if span > 0 else 0.0
        index = min(bins - 1, max(0, int(position * bins)))
        self.counts[index] += 1

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts (same edges and bins required)."""
        if (other.low, other.high, len(other.counts)) != (self.low, self.high, len(self.counts)):
            raise InputError("merge: expected histograms with the same range and bins")
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        self.missing += other.missing

    def edges(self) -> list[float]:
        """The ``bins + 1`` bin edges."""
        bins = len(self.counts)
        return [self.low + (self.high - self.low) * i / bins for i in range(bins + 1)]


@dataclass(frozen=True, slots=True)
class SpanView:
    """One grounded span as the report shows it.

    Attributes:
        start: Offset of the span in the completion.
        end: Offset just past it.
        label: The object label.
        box: Pixel ``xyxy`` box, or ``None`` (invalid, or not convertible to pixels).
        counted: Whether the box counts (inside ``config.box_region``).
        iou: IoU with its matched ground-truth box, or ``None`` when unmatched.
        gt_index: Index of the matched ground-truth box, or ``None``.
    """

    start: int
    end: int
    label: str
    box: BoxTuple | None
    counted: bool
    iou: float | None = None
    gt_index: int | None = None


@dataclass(frozen=True, slots=True)
class SampleView:
    """What the report's gallery shows of one rollout.

    Attributes:
        index: Position of the rollout in the input (0-based).
        id: Sample id, when recorded.
        source: ``file:line``.
        completion: The completion text (``repr`` of a non-text value).
        image: Image path as recorded.
        image_size: ``(width, height)`` when known.
        spans: Every grounded span, in order.
        gt_boxes: Ground-truth pixel boxes.
        gt_labels: Ground-truth labels, when known.
        rewards: ``total``, ``format``, ``accuracy`` and ``bbox`` (``None``: not applicable).
        issues: ``(code, message)`` of each format issue.
        answer: The answer block text, or ``None``.
        expected: The ground-truth answer letter, or ``None``.
        sample_iou: ``Σ matched IoU / max(n, m)``, or ``None`` without ground-truth boxes.
        zoom_crops: Each valid zoom crop (pixel box, caption with its score), for a
            rollout that zoomed.
    """

    index: int
    id: str | None
    source: str
    completion: str
    image: str | None
    image_size: tuple[float, float] | None
    spans: tuple[SpanView, ...]
    gt_boxes: tuple[BoxTuple, ...]
    gt_labels: tuple[str, ...] | None
    rewards: Mapping[str, float | None]
    issues: tuple[tuple[str, str], ...]
    answer: str | None
    expected: str | None
    sample_iou: float | None
    zoom_crops: tuple[tuple[BoxTuple, str], ...] = ()


def _rewards(sample: SampleAnalysis) -> dict[str, float | None]:
    r = sample.rewards
    return {"total": r.total, **r.scores}


def sample_view(
    sample: SampleAnalysis,
    rollout: Rollout,
    *,
    index: int,
    config: RewardConfig | None = None,
) -> SampleView:
    """Build the gallery view of one analysed rollout.

    Args:
        sample: The analysis of the rollout.
        rollout: The rollout itself (id, image, source).
        index: Its position in the input.
        config: The configuration the analysis used.

    Returns:
        The :class:`SampleView`.
    """
    config = config or DEFAULT_CONFIG
    counted = sample.trace.counted_spans(config)
    matched: dict[int, tuple[int, float]] = {}
    if sample.match is not None:
        for (i, j), pair_iou in zip(sample.match.pairs, sample.match.ious, strict=True):
            if pair_iou > 0.0:  # the matcher pairs min(n, m) boxes; IoU 0 matches nothing
                matched[i] = (j, pair_iou)
    position = {id(span): k for k, span in enumerate(counted)}
    spans = []
    for span in sample.trace.spans:
        k = position.get(id(span))
        box = None
        if k is not None and sample.pred_boxes is not None:
            pixel = sample.pred_boxes[k]
            box = pixel if all(math.isfinite(v) for v in pixel) else None
        elif k is None and span.valid and config.coords == "pixel":
            box = span.box
        gt_index: int | None = None
        iou: float | None = None
        if k is not None and k in matched:
            gt_index, iou = matched[k]
        spans.append(SpanView(span.start, span.end, span.label, box, k is not None, iou, gt_index))
    completion = (
        rollout.completion if isinstance(rollout.completion, str) else repr(rollout.completion)
    )
    return SampleView(
        index=index,
        id=rollout.id,
        source=rollout.source,
        completion=completion,
        image=rollout.image,
        image_size=sample.truth.image_size,
        spans=tuple(spans),
        gt_boxes=sample.truth.boxes,
        gt_labels=sample.truth.labels,
        rewards=_rewards(sample),
        issues=tuple((i.code, i.message) for i in sample.rewards.issues),
        answer=sample.trace.answer,
        expected=sample.truth.answer,
        sample_iou=None if sample.match is None else sample.match.sample_iou,
    )


@dataclass(frozen=True)
class EvaluationResult:
    """Everything ``grounding-rewards evaluate`` reports.

    Attributes:
        rollouts: Rollouts evaluated.
        rewards: Mean of each reward component over the rollouts it applies to.
        reward_counts: How many rollouts each component applied to.
        grounding: Acc@τ, mIoU, P/R/F1@τ.
        reasoning: Grounded-reasoning metrics.
        coco: COCO AP, or ``None`` when not computed.
        histograms: One :class:`Histogram` per reward component.
        config: The reward configuration used (as a dict).
        zoom: Zoom metrics (:class:`~grounding_rewards.zoom.metrics.ZoomMetrics`) when
            rollouts carry zoom calls or multi-turn trajectories, else ``None``.
    """

    rollouts: int
    rewards: Mapping[str, float | None]
    reward_counts: Mapping[str, int]
    grounding: GroundingResult
    reasoning: ReasoningResult
    coco: CocoResult | None
    histograms: Mapping[str, Histogram]
    config: Mapping[str, Any] = field(default_factory=dict)
    zoom: Mapping[str, float | None] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``evaluate --json`` prints)."""
        return {
            "rollouts": self.rollouts,
            "rewards": {
                name: {"mean": self.rewards[name], "count": self.reward_counts[name]}
                for name in self.rewards
            },
            "grounding": self.grounding.as_dict(),
            "coco": None if self.coco is None else self.coco.as_dict(),
            "reasoning": self.reasoning.as_dict(),
            "histograms": {
                name: {"edges": h.edges(), "counts": list(h.counts), "not_applicable": h.missing}
                for name, h in self.histograms.items()
            },
            "config": dict(self.config),
            "zoom": None if self.zoom is None else dict(self.zoom),
        }


def _config_summary(config: RewardConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.model_dump().items():
        out[key] = value if isinstance(value, (str, int, float, bool, tuple, list)) else repr(value)
    return out


class _Held:
    """A gallery view in the heap; never decides an ordering (equal keys keep heap order)."""

    __slots__ = ("view",)

    def __init__(self, view: SampleView) -> None:
        self.view = view

    def __lt__(self, other: _Held) -> bool:
        return False

    def __getstate__(self) -> SampleView:
        return self.view

    def __setstate__(self, state: SampleView) -> None:
        self.view = state


class RolloutEvaluator:
    """Streaming evaluation of rollouts, with mergeable state.

    Args:
        config: Reward configuration; ``None`` uses the defaults.
        thresholds: IoU thresholds of the grounding metrics (default 0.50:0.95).
        threshold: IoU τ of P/R/F1 in the reasoning metrics and the hallucinated-box rate.
        synonyms: Label normalizer for label agreement and CHAIR.
        gallery_size: How many worst rollouts to keep for the report.
        coco: Keep boxes and compute COCO AP in :meth:`compute`.
        coco_backend: ``faster-coco-eval`` (default) or ``pycocotools``.
        bins: Histogram bins per reward component.
        index_offset: Index of the first rollout this evaluator sees (so that partial
            evaluators of one file keep distinct, ordered indices).
    """

    def __init__(
        self,
        config: RewardConfig | None = None,
        *,
        thresholds: Sequence[float] = COCO_THRESHOLDS,
        threshold: float = 0.5,
        synonyms: Synonyms | None = None,
        gallery_size: int = 50,
        coco: bool = True,
        coco_backend: CocoBackend = "faster-coco-eval",
        bins: int = 20,
        index_offset: int = 0,
    ) -> None:
        if gallery_size < 0 or bins < 1:
            raise ConfigError(
                f"expected gallery_size >= 0 and bins >= 1, got {gallery_size} and {bins}"
            )
        self.config = config or DEFAULT_CONFIG
        self.threshold = float(threshold)
        self.synonyms = synonyms
        self.gallery_size = gallery_size
        self.coco_enabled = coco
        self.coco_backend: CocoBackend = coco_backend
        self.grounding = GroundingAccumulator(
            thresholds, label_matching=self.config.label_matching, keep_boxes=coco
        )
        self.reasoning = ReasoningAccumulator(self.config, threshold=threshold, synonyms=synonyms)
        self.count = 0
        self.next_index = index_offset
        self.reward_names = reward_columns(self.config)
        self.sums = {name: ExactSum() for name in self.reward_names}
        self.applicable = dict.fromkeys(self.reward_names, 0)
        highs = {c.name: c.value_range[1] for c in active_components(self.config)}
        top = float(sum(w * highs[name] for name, w in self.config.weights.items())) or 1.0
        self.histograms = {
            name: Histogram(0.0, top if name == "total" else highs[name], [0] * bins)
            for name in self.reward_names
        }
        # Max-heap (by negated keys) of the worst rollouts: (-total, -index, view).
        self._worst: list[tuple[float, int, _Held]] = []
        self.zoom = ZoomMetrics(self.config)
        self.zoom_rollouts = 0  # rollouts that zoomed or came as multi-turn trajectories

    def add(self, rollout: Rollout) -> SampleAnalysis:
        """Evaluate one rollout and return its analysis.

        Raises:
            RolloutFormatError: For malformed ground truth or a coordinate space that
                needs an image size the rollout lacks; the message names ``file:line``.
        """
        index = self.next_index
        self.next_index += 1
        try:
            sample = analyze_sample(
                rollout.completion,
                rollout.target,
                config=self.config,
                threshold=self.threshold,
                synonyms=self.synonyms,
            )
        except (GroundTruthError, ValueError) as exc:
            raise RolloutFormatError(f"{rollout.source}: {exc}") from exc
        self.count += 1
        rewards = _rewards(sample)
        for name, value in rewards.items():
            self.histograms[name].add(value)
            if value is not None:
                self.sums[name].add(value)
                self.applicable[name] += 1
        if sample.match is not None:
            self.grounding.add(
                sample.match, pred_boxes=sample.pred_boxes or (), gt_boxes=sample.truth.boxes
            )
        else:
            self.grounding.samples_without_gt += 1
        self.reasoning.add(sample)
        self._keep(sample, rollout, index, self._add_zoom(sample, rollout))
        return sample

    def _add_zoom(self, sample: SampleAnalysis, rollout: Rollout) -> ZoomScore | None:
        truth = sample.truth
        if truth.boxes and truth.image_size is None:
            return None  # crops are replayed on the image: its size is needed
        trajectory = rollout.completion if rollout.trajectory is None else rollout.trajectory
        score = self.zoom.update(trajectory, truth)
        self.zoom_rollouts += score.n_calls > 0 or rollout.trajectory is not None
        return score if score.n_calls else None

    def _keep(
        self, sample: SampleAnalysis, rollout: Rollout, index: int, zoom: ZoomScore | None = None
    ) -> None:
        if self.gallery_size == 0:
            return
        key = (-sample.rewards.total, -index)
        if len(self._worst) >= self.gallery_size and key <= self._worst[0][:2]:
            return  # better than every kept rollout: build no view for it
        view = sample_view(sample, rollout, index=index, config=self.config)
        if zoom is not None:
            view = replace(view, zoom_crops=tuple(crop_boxes(zoom)))
        if len(self._worst) < self.gallery_size:
            heapq.heappush(self._worst, (*key, _Held(view)))
        else:
            heapq.heapreplace(self._worst, (*key, _Held(view)))

    def update(self, rollouts: Iterable[Rollout]) -> None:
        """Evaluate many rollouts."""
        for rollout in rollouts:
            self.add(rollout)

    def merge(self, other: RolloutEvaluator) -> None:
        """Add everything ``other`` has seen (same configuration and thresholds).

        Raises:
            InputError: When the evaluators are not configured alike.
        """
        if other.config != self.config or other.histograms.keys() != self.histograms.keys():
            raise InputError("merge: expected evaluators with the same configuration")
        self.count += other.count
        self.next_index = max(self.next_index, other.next_index)
        for name in self.reward_names:
            self.sums[name].merge(other.sums[name])
            self.applicable[name] += other.applicable[name]
            self.histograms[name].merge(other.histograms[name])
        self.grounding.merge(other.grounding)
        self.reasoning.merge(other.reasoning)
        self.zoom.merge(other.zoom)
        self.zoom_rollouts += other.zoom_rollouts
        for item in other._worst:
            if len(self._worst) < self.gallery_size:
                heapq.heappush(self._worst, item)
            elif self.gallery_size and item[:2] > self._worst[0][:2]:
                heapq.heapreplace(self._worst, item)

    def gallery(self) -> list[SampleView]:
        """The kept rollouts, worst (lowest total reward) first, ties by input order."""
        ordered = sorted(self._worst, key=lambda item: (-item[0], -item[1]))
        return [held.view for _, _, held in ordered]

    def compute(self) -> EvaluationResult:
        """The metrics over everything seen so far.

        Raises:
            MissingDependencyError: When COCO AP is on and its library is missing.
        """
        coco = None
        if self.coco_enabled and self.grounding.samples:
            coco = self.grounding.coco(backend=self.coco_backend)
        return EvaluationResult(
            rollouts=self.count,
            rewards={
                name: (self.sums[name].value() / self.applicable[name])
                if self.applicable[name]
                else None
                for name in self.reward_names
            },
            reward_counts=dict(self.applicable),
            grounding=self.grounding.compute(),
            reasoning=self.reasoning.compute(),
            coco=coco,
            histograms={
                name: Histogram(h.low, h.high, list(h.counts), h.missing)
                for name, h in self.histograms.items()
            },
            config=_config_summary(self.config),
            zoom=self.zoom.compute() if self.zoom_rollouts else None,
        )
