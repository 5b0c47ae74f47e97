"""Evaluation metrics for grounded reasoning: grounding accuracy, COCO AP, reasoning quality.

One parser and one matcher serve rewards and metrics alike: every metric here reads
completions with :func:`~grounding_rewards.parsing.parse_trace` and matches boxes with
the reward's matcher (:mod:`grounding_rewards.matching`). Functions take
``(preds, target)``; accumulators stream (``update`` / ``compute`` / ``merge``).

Example:
    >>> from grounding_rewards.metrics import grounding_metrics
    >>> grounding_metrics([[[0, 0, 10, 10]]], [[[0, 0, 10, 10]]], thresholds=[0.5]).accuracy
    {0.5: 1.0}
"""

from grounding_rewards.metrics.accumulator import GroundingAccumulator, ReasoningAccumulator
from grounding_rewards.metrics.coco import COCO_STAT_NAMES, CocoResult, coco_ap, to_coco
from grounding_rewards.metrics.evaluation import (
    EvaluationResult,
    Histogram,
    RolloutEvaluator,
    SampleView,
    SpanView,
)
from grounding_rewards.metrics.grounding import (
    COCO_THRESHOLDS,
    BoxMatch,
    GroundingResult,
    grounding_metrics,
    iou_accuracy,
    match_sample,
    mean_iou,
    precision_recall_f1,
)
from grounding_rewards.metrics.reasoning import (
    ReasoningResult,
    SampleAnalysis,
    Synonyms,
    analyze_sample,
    canonical_label,
    object_hallucination,
    reasoning_metrics,
)
from grounding_rewards.metrics.rollouts import (
    Rollout,
    RolloutFormatError,
    read_rollouts,
)

__all__ = [
    "COCO_STAT_NAMES",
    "COCO_THRESHOLDS",
    "BoxMatch",
    "CocoResult",
    "EvaluationResult",
    "GroundingAccumulator",
    "GroundingResult",
    "Histogram",
    "ReasoningAccumulator",
    "ReasoningResult",
    "Rollout",
    "RolloutEvaluator",
    "RolloutFormatError",
    "SampleAnalysis",
    "SampleView",
    "SpanView",
    "Synonyms",
    "analyze_sample",
    "canonical_label",
    "coco_ap",
    "grounding_metrics",
    "iou_accuracy",
    "match_sample",
    "mean_iou",
    "object_hallucination",
    "precision_recall_f1",
    "read_rollouts",
    "reasoning_metrics",
    "to_coco",
]
