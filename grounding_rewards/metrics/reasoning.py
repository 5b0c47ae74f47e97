"""Grounded-reasoning metrics: how well a completion's reasoning is grounded.

Every completion is parsed once by :func:`~grounding_rewards.parsing.parse_trace`, scored
by the reward code (:func:`~grounding_rewards.rewards.score_trace`) and matched by the
reward's matcher; the metrics then count, over completions:

* **answer accuracy**: mean ``R_accuracy`` over completions with a ground-truth answer;
* **format validity**: share of completions with ``R_format = 1``, and for each
  :data:`~grounding_rewards.parsing.ISSUE_CODES` code the share of completions that
  have it;
* **spans per completion**: mean number of counted grounded spans (the boxes in
  ``config.box_region``);
* **box precision / recall at τ**: one-to-one matched pairs with ``IoU ≥ τ`` over
  predicted boxes / over ground-truth boxes (completions with ground-truth boxes);
* **hallucinated-box rate**: share of valid predicted boxes whose best IoU with *any*
  ground-truth box is below τ: boxes that point at nothing (a duplicate of a found
  object is not hallucinated, though it lowers precision);
* **label agreement**: share of matched pairs with ``IoU ≥ τ`` whose labels agree;
* **CHAIR-style object hallucination** (Rohrbach et al., 2018), on completions whose
  ground truth has labelled boxes: a *mention* is one ``<obj>`` label in the counted
  region; it is hallucinated when it agrees with no ground-truth label. ``CHAIR_i`` is
  hallucinated mentions / mentions, ``CHAIR_s`` completions with a hallucinated
  mention / completions.

Labels agree when, after the synonym map, the reward's ``fuzzy`` label rule holds
(case, punctuation, articles and plural ``-s`` ignored; one label's words contained
in the other's, so "white helmet" agrees with "helmet"). The synonym map is pluggable:
a mapping from a (lower-cased) label to its canonical name, e.g.
``{"man": "person", "woman": "person"}``, or a callable.

Example:
    >>> text = ("<think>A <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox> near a "
    ...         "<obj>unicorn</obj><bbox>[50, 50, 60, 60]</bbox></think><answer>A</answer>")
    >>> r = reasoning_metrics([text], [{"answer": "A", "gt_boxes": [[0, 0, 10, 10]],
    ...                                 "gt_labels": ["cat"]}])
    >>> r.answer_accuracy, r.hallucinated_box_rate, r.chair_mention, r.chair_completion
    (1.0, 0.5, 0.5, 1.0)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

from grounding_rewards.boxes import pixel_scale
from grounding_rewards.components import GROUND_TRUTH_FIELDS
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.matching import assign, iou_rows, labels_agree
from grounding_rewards.metrics.grounding import BoxMatch, threshold_key
from grounding_rewards.parsing import ISSUE_CODES, GroundedSpan, Trace, parse_trace
from grounding_rewards.rewards import RewardBreakdown, score_trace

__all__ = [
    "ReasoningCounts",
    "ReasoningResult",
    "SampleAnalysis",
    "Synonyms",
    "analyze_sample",
    "as_ground_truth",
    "canonical_label",
    "object_hallucination",
    "reasoning_metrics",
]

Synonyms: TypeAlias = Mapping[str, str] | Callable[[str], str]
"""A label normalizer: ``{"man": "person"}`` (keys compared lower-cased) or ``label -> name``."""

BoxTuple = tuple[float, float, float, float]
_NAN_BOX: BoxTuple = (math.nan, math.nan, math.nan, math.nan)


def canonical_label(label: str, synonyms: Synonyms | None = None) -> str:
    """The label a comparison uses: lower-cased, whitespace collapsed, then mapped.

    Args:
        label: A predicted or ground-truth label.
        synonyms: Mapping from lower-cased label to canonical name, or a callable.

    Returns:
        The canonical label.

    Example:
        >>> canonical_label("  Young   MAN ", {"young man": "person"})
        'person'
    """
    key = " ".join(label.lower().split())
    if synonyms is None:
        return key
    if callable(synonyms):
        return str(synonyms(label))
    return synonyms.get(key, key)


def _agree(predicted: str, truth: str) -> bool:
    """Whether two canonical labels agree under the reward's ``fuzzy`` rule."""
    return labels_agree(predicted, truth, "fuzzy") > 0.0


def as_ground_truth(target: GroundTruth | Mapping[str, Any]) -> GroundTruth:
    """Accept a :class:`GroundTruth` or a mapping with the rollout ground-truth keys.

    The keys are :data:`~grounding_rewards.components.GROUND_TRUTH_FIELDS` (``answer``,
    ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``, ``gt_polygons``); others
    are ignored.

    Raises:
        GroundTruthError: For malformed ground truth.
    """
    if isinstance(target, GroundTruth):
        return target
    return parse_ground_truth(**{key: target.get(key) for key in GROUND_TRUTH_FIELDS})


@dataclass(frozen=True, slots=True)
class SampleAnalysis:
    """Everything the metrics and the report read from one completion.

    Attributes:
        trace: The parsed completion.
        truth: Its validated ground truth.
        rewards: The reward breakdown (the same numbers training used).
        pred_boxes: Counted predicted boxes in pixels (all NaN for an invalid box), or
            ``None`` when they cannot be converted (a normalized space without image size).
        pred_labels: Labels of the counted boxes.
        match: The one-to-one box match, or ``None`` without ground-truth boxes.
        issue_codes: Distinct format-issue codes.
        hallucinated_boxes: Valid predicted boxes overlapping no ground truth at τ.
        valid_boxes: Valid predicted boxes (in samples with ground-truth boxes).
        label_pairs: Matched pairs at ``IoU ≥ τ`` with both labels known.
        label_agreements: Those whose labels agree.
        mentions: Object mentions (``<obj>`` labels) when CHAIR applies, else 0.
        hallucinated_mentions: Mentions agreeing with no ground-truth label.
        chair_applicable: Whether the ground truth has labelled boxes.
    """

    trace: Trace
    truth: GroundTruth
    rewards: RewardBreakdown
    pred_boxes: tuple[BoxTuple, ...] | None
    pred_labels: tuple[str, ...]
    match: BoxMatch | None
    issue_codes: frozenset[str]
    hallucinated_boxes: int = 0
    valid_boxes: int = 0
    label_pairs: int = 0
    label_agreements: int = 0
    mentions: int = 0
    hallucinated_mentions: int = 0
    chair_applicable: bool = False


def _pixel_boxes(
    spans: Sequence[GroundedSpan], truth: GroundTruth, config: RewardConfig
) -> tuple[BoxTuple, ...] | None:
    if config.coords != "pixel" and truth.image_size is None:
        return None
    sx, sy = pixel_scale(
        config.coords, truth.image_size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
    )
    return tuple(
        (s.box[0] * sx, s.box[1] * sy, s.box[2] * sx, s.box[3] * sy) if s.valid else _NAN_BOX
        for s in spans
    )


def _match(
    spans: Sequence[GroundedSpan],
    pred_boxes: Sequence[BoxTuple],
    truth: GroundTruth,
    rewards: RewardBreakdown,
    config: RewardConfig,
) -> BoxMatch:
    valid = [span.valid for span in spans]
    ious = iou_rows(pred_boxes, valid, truth.boxes) if spans else []
    best = tuple(max(row) if row else 0.0 for row in ious)
    if config.similarity == "iou" and config.label_matching == "ignore" and rewards.pairs:
        # The reward already ran the matcher on these very boxes with IoU: reuse it.
        pairs, pair_ious = rewards.pairs, rewards.pair_scores
    else:
        scores = ious
        if config.label_matching != "ignore" and truth.labels is not None:
            scores = [
                [
                    iou * labels_agree(spans[i].label, truth.labels[j], config.label_matching)
                    if iou
                    else 0.0
                    for j, iou in enumerate(row)
                ]
                for i, row in enumerate(ious)
            ]
        pairs = tuple(assign(scores)) if spans else ()
        pair_ious = tuple(scores[i][j] for i, j in pairs)
    return BoxMatch(len(spans), len(truth.boxes), pairs, pair_ious, best)


def analyze_sample(
    completion: str | Trace,
    target: GroundTruth | Mapping[str, Any],
    *,
    config: RewardConfig | None = None,
    threshold: float = 0.5,
    synonyms: Synonyms | None = None,
) -> SampleAnalysis:
    """Parse (unless given a trace), score and match one completion.

    Args:
        completion: The completion text, or its :class:`Trace` (parsed with ``config``).
        target: Its ground truth (:class:`GroundTruth` or a mapping of the rollout keys).
        config: Reward configuration (coordinate space, region, label gate...).
        threshold: IoU τ of the box counts.
        synonyms: Label normalizer for label agreement and CHAIR.

    Returns:
        The :class:`SampleAnalysis`.

    Raises:
        GroundTruthError: For malformed ground truth.
        GroundTruthError: When boxes must be compared but a normalized coordinate
            space has no image size (as the reward raises).
    """
    config = config or DEFAULT_CONFIG
    trace = completion if isinstance(completion, Trace) else parse_trace(completion, config=config)
    truth = as_ground_truth(target)
    rewards = score_trace(trace, truth, config)
    spans = trace.counted_spans(config)
    labels = tuple(span.label for span in spans)
    m = len(truth.boxes)
    pred_boxes = _pixel_boxes(spans, truth, config) if m or truth.image_size else None
    match = (
        None if m == 0 or pred_boxes is None else _match(spans, pred_boxes, truth, rewards, config)
    )
    hallucinated = valid = pairs = agreements = 0
    mentions = bad_mentions = 0
    chair = truth.labels is not None and m > 0
    if match is not None:
        for span, best in zip(spans, match.best_ious, strict=True):
            if span.valid:
                valid += 1
                hallucinated += best < threshold
    if chair:
        assert truth.labels is not None
        known = [canonical_label(label, synonyms) for label in truth.labels]
        known_set = set(known)  # equal names agree: skip the fuzzy rule for them
        if match is not None:
            for (i, j), iou in zip(match.pairs, match.ious, strict=True):
                if iou >= threshold and labels[i]:
                    pairs += 1
                    name = canonical_label(labels[i], synonyms)
                    agreements += name == known[j] or _agree(name, known[j])
        seen: set[int] = set()
        for span in spans:
            # A plural <obj> with several boxes yields several spans but is one mention.
            if not span.label or span.start in seen:
                continue
            seen.add(span.start)
            mentions += 1
            name = canonical_label(span.label, synonyms)
            bad_mentions += name not in known_set and not any(_agree(name, gt) for gt in known)
    return SampleAnalysis(
        trace=trace,
        truth=truth,
        rewards=rewards,
        pred_boxes=pred_boxes,
        pred_labels=labels,
        match=match,
        issue_codes=frozenset(issue.code for issue in rewards.issues),
        hallucinated_boxes=hallucinated,
        valid_boxes=valid,
        label_pairs=pairs,
        label_agreements=agreements,
        mentions=mentions,
        hallucinated_mentions=bad_mentions,
        chair_applicable=chair,
    )


@dataclass
class ReasoningCounts:
    """Summable counts behind :class:`ReasoningResult` (what the accumulator keeps).

    Every field is an integer count, so adding counts is exact and order-free.
    """

    completions: int = 0
    answers: int = 0
    answers_correct: int = 0
    format_valid: int = 0
    issues: Counter[str] = field(default_factory=Counter)
    spans: int = 0
    box_samples: int = 0
    n_pred: int = 0
    n_gt: int = 0
    true_positives: int = 0
    valid_boxes: int = 0
    hallucinated_boxes: int = 0
    label_pairs: int = 0
    label_agreements: int = 0
    chair_completions: int = 0
    chair_hallucinated_completions: int = 0
    mentions: int = 0
    hallucinated_mentions: int = 0

    def add(self, sample: SampleAnalysis, threshold: float) -> None:
        """Count one analysed completion."""
        self.completions += 1
        if sample.rewards.accuracy is not None:
            self.answers += 1
            self.answers_correct += sample.rewards.accuracy == 1.0
        self.format_valid += sample.rewards.format == 1.0
        self.issues.update(sample.issue_codes)
        self.spans += len(sample.pred_labels)
        if sample.match is not None:
            self.box_samples += 1
            self.n_pred += sample.match.n_pred
            self.n_gt += sample.match.n_gt
            self.true_positives += sample.match.true_positives(threshold)
        self.valid_boxes += sample.valid_boxes
        self.hallucinated_boxes += sample.hallucinated_boxes
        self.label_pairs += sample.label_pairs
        self.label_agreements += sample.label_agreements
        if sample.chair_applicable:
            self.chair_completions += 1
            self.chair_hallucinated_completions += sample.hallucinated_mentions > 0
            self.mentions += sample.mentions
            self.hallucinated_mentions += sample.hallucinated_mentions

    def merge(self, other: ReasoningCounts) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__dataclass_fields__:
            if name == "issues":
                self.issues.update(other.issues)
            else:
                setattr(self, name, getattr(self, name) + getattr(other, name))

    def result(self, threshold: float) -> ReasoningResult:
        """Turn the counts into rates."""

        def rate(numerator: int, denominator: int) -> float | None:
            return numerator / denominator if denominator else None

        n = self.completions
        return ReasoningResult(
            threshold=threshold,
            completions=n,
            answer_accuracy=rate(self.answers_correct, self.answers),
            format_validity=rate(self.format_valid, n),
            issue_rates={
                code: self.issues[code] / n for code in ISSUE_CODES if n and self.issues[code]
            },
            spans_per_completion=rate(self.spans, n),
            box_precision=rate(self.true_positives, self.n_pred),
            box_recall=rate(self.true_positives, self.n_gt),
            hallucinated_box_rate=rate(self.hallucinated_boxes, self.valid_boxes),
            label_agreement=rate(self.label_agreements, self.label_pairs),
            chair_mention=rate(self.hallucinated_mentions, self.mentions),
            chair_completion=rate(self.chair_hallucinated_completions, self.chair_completions),
            counts=replace(self, issues=Counter(self.issues)),
        )


@dataclass(frozen=True)
class ReasoningResult:
    """Grounded-reasoning metrics; a rate is ``None`` when nothing it divides by was seen.

    Attributes:
        threshold: IoU τ used by the box metrics.
        completions: Completions evaluated.
        answer_accuracy: Mean R_accuracy over completions with a ground-truth answer.
        format_validity: Share of completions with R_format = 1.
        issue_rates: Share of completions with each format-issue code (codes seen only).
        spans_per_completion: Mean counted grounded spans.
        box_precision: One-to-one matches at ``IoU ≥ τ`` / predicted boxes.
        box_recall: One-to-one matches at ``IoU ≥ τ`` / ground-truth boxes.
        hallucinated_box_rate: Valid predicted boxes with best IoU < τ / valid boxes.
        label_agreement: Agreeing labels / matched pairs at ``IoU ≥ τ``.
        chair_mention: CHAIR_i, hallucinated mentions / mentions.
        chair_completion: CHAIR_s, completions with a hallucinated mention / completions.
        counts: The raw counts.
    """

    threshold: float
    completions: int
    answer_accuracy: float | None
    format_validity: float | None
    issue_rates: Mapping[str, float]
    spans_per_completion: float | None
    box_precision: float | None
    box_recall: float | None
    hallucinated_box_rate: float | None
    label_agreement: float | None
    chair_mention: float | None
    chair_completion: float | None
    counts: ReasoningCounts

    def as_dict(self) -> dict[str, Any]:
        """Flat, JSON-ready keys (``box_precision@0.5`` etc.) plus ``issue_rates``."""
        t = threshold_key(self.threshold)
        return {
            "completions": self.completions,
            "answer_accuracy": self.answer_accuracy,
            "format_validity": self.format_validity,
            "spans_per_completion": self.spans_per_completion,
            f"box_precision@{t}": self.box_precision,
            f"box_recall@{t}": self.box_recall,
            f"hallucinated_box_rate@{t}": self.hallucinated_box_rate,
            f"label_agreement@{t}": self.label_agreement,
            "chair_mention": self.chair_mention,
            "chair_completion": self.chair_completion,
            "issue_rates": dict(self.issue_rates),
        }


def _analyses(
    preds: Sequence[str | Trace],
    target: Sequence[GroundTruth | Mapping[str, Any]],
    config: RewardConfig | None,
    threshold: float,
    synonyms: Synonyms | None,
) -> list[SampleAnalysis]:
    if len(preds) != len(target):
        raise InputError(
            f"preds and target: expected one entry per completion in each, got {len(preds)} "
            f"and {len(target)}"
        )
    return [
        analyze_sample(p, t, config=config, threshold=threshold, synonyms=synonyms)
        for p, t in zip(preds, target, strict=True)
    ]


def reasoning_metrics(
    preds: Sequence[str | Trace],
    target: Sequence[GroundTruth | Mapping[str, Any]],
    *,
    config: RewardConfig | None = None,
    threshold: float = 0.5,
    synonyms: Synonyms | None = None,
) -> ReasoningResult:
    """All grounded-reasoning metrics of completions against their ground truth.

    Args:
        preds: Completions (text or parsed traces).
        target: Ground truth per completion: :class:`GroundTruth` or a mapping with
            ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``.
        config: Reward configuration; ``None`` uses the defaults.
        threshold: IoU τ for the box metrics.
        synonyms: Label normalizer (mapping or callable) for label agreement and CHAIR.

    Returns:
        The :class:`ReasoningResult`.

    Raises:
        GroundTruthError: For malformed ground truth.
        InputError: For mismatched lengths.
    """
    counts = ReasoningCounts()
    for sample in _analyses(preds, target, config, threshold, synonyms):
        counts.add(sample, threshold)
    return counts.result(threshold)


def object_hallucination(
    preds: Sequence[str | Trace],
    target: Sequence[GroundTruth | Mapping[str, Any]],
    *,
    config: RewardConfig | None = None,
    synonyms: Synonyms | None = None,
) -> tuple[float | None, float | None]:
    """CHAIR-style ``(CHAIR_i, CHAIR_s)``: hallucinated mentions and completions.

    Example:
        >>> texts = ["<think><obj>dog</obj><bbox>[0,0,1,1]</bbox></think><answer>A</answer>",
        ...          "<think><obj>man</obj><bbox>[0,0,1,1]</bbox></think><answer>A</answer>"]
        >>> truth = [{"gt_boxes": [[0, 0, 1, 1]], "gt_labels": ["person"]}] * 2
        >>> object_hallucination(texts, truth, synonyms={"man": "person"})
        (0.5, 0.5)
    """
    result = reasoning_metrics(preds, target, config=config, synonyms=synonyms)
    return result.chair_mention, result.chair_completion
