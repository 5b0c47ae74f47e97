"""The composite reward: ``R = w_f·R_format + w_a·R_accuracy + w_b·R_bbox``, parsed once.

A component without ground truth (no answer, no boxes) is ``None``: it is left out
of the total and reported as ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.parsing import FormatIssue, Trace
from grounding_rewards.rewards._trace import as_trace
from grounding_rewards.rewards.bbox import score_boxes
from grounding_rewards.rewards.format import format_checks
from grounding_rewards.rewards.option import score_option

__all__ = ["RewardBreakdown", "grounding_reward", "score_trace"]


@dataclass(frozen=True, slots=True)
class RewardBreakdown:
    """Every component of the reward of one completion, with the details behind it.

    Attributes:
        total: The weighted sum of the components that apply.
        format: R_format in ``[0, 1]``.
        accuracy: R_accuracy in ``{0, 1}``, or ``None`` without a ground-truth answer.
        bbox: R_bbox in ``[0, 1]``, or ``None`` without ground-truth boxes.
        n_pred: Predicted boxes counted.
        n_gt: Ground-truth boxes.
        pairs: Matched ``(predicted, ground truth)`` index pairs.
        pair_scores: Similarity of each matched pair.
        issues: Every format issue found.
    """

    total: float
    format: float
    accuracy: float | None
    bbox: float | None
    n_pred: int
    n_gt: int
    pairs: tuple[tuple[int, int], ...]
    pair_scores: tuple[float, ...]
    issues: tuple[FormatIssue, ...]

    def as_dict(self) -> dict[str, Any]:
        """Flat scalars, for logs and tables (``None`` marks a component that does not apply).

        Returns:
            ``total``, ``format``, ``accuracy``, ``bbox``, ``n_pred``, ``n_gt``,
            ``n_issues`` and ``issues`` (the codes, comma-separated).

        Example:
            >>> r = grounding_reward("<think>x</think><answer>A</answer>", answer="A", gt_boxes=[])
            >>> r.as_dict()["bbox"], r.as_dict()["total"]
            (None, 1.0)
        """
        return {
            "total": self.total,
            "format": self.format,
            "accuracy": self.accuracy,
            "bbox": self.bbox,
            "n_pred": self.n_pred,
            "n_gt": self.n_gt,
            "n_issues": len(self.issues),
            "issues": ",".join(issue.code for issue in self.issues),
        }


def score_trace(trace: Trace, truth: GroundTruth, config: RewardConfig) -> RewardBreakdown:
    """Score a parsed trace against validated ground truth (no parsing, no validation).

    Args:
        trace: The parsed completion.
        truth: Validated ground truth.
        config: Configuration.

    Returns:
        The :class:`RewardBreakdown`.

    Example:
        >>> from grounding_rewards import parse_trace, DEFAULT_CONFIG
        >>> truth = parse_ground_truth(answer="A", gt_boxes=[[0, 0, 4, 4]])
        >>> trace = parse_trace("<think><obj>x</obj><bbox>[0, 0, 4, 2]</bbox></think>"
        ...                     "<answer>A</answer>")
        >>> score_trace(trace, truth, DEFAULT_CONFIG).total
        2.5
    """
    form = format_checks(trace, truth.image_size, config)
    accuracy = None if truth.answer is None else score_option(trace, truth.answer, truth.choices)
    boxes = score_boxes(trace, truth, config)
    w_format, w_accuracy, w_bbox = config.weights
    total = w_format * form.score
    if accuracy is not None:
        total += w_accuracy * accuracy
    if boxes.value is not None:
        total += w_bbox * boxes.value
    return RewardBreakdown(
        total=total,
        format=form.score,
        accuracy=accuracy,
        bbox=boxes.value,
        n_pred=boxes.n_pred,
        n_gt=boxes.n_gt,
        pairs=boxes.pairs,
        pair_scores=boxes.pair_scores,
        issues=form.issues,
    )


def grounding_reward(
    completion: str | Trace,
    *,
    answer: Any,
    gt_boxes: Any,
    gt_labels: Any = None,
    choices: Any = None,
    image_size: Any = None,
    config: RewardConfig | None = None,
) -> RewardBreakdown:
    """All three components and their weighted total, parsing the completion once.

    ``total = w_f·R_format + w_a·R_accuracy + w_b·R_bbox`` over the components that
    apply (default weights 1, so the total lies in ``[0, 3]``).

    Args:
        completion: The completion, or its parsed trace.
        answer: The correct option, or ``None`` when there is none to check.
        gt_boxes: Ground-truth pixel ``xyxy`` boxes (empty or ``None`` when there are none).
        gt_labels: One label per ground-truth box.
        choices: Option texts in order, or ``None``.
        image_size: ``(width, height)`` of the original image.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The :class:`RewardBreakdown`.

    Raises:
        GroundTruthError: For malformed ground truth.
        ValueError: For a normalized coordinate space without ``image_size``.

    Example:
        >>> r = grounding_reward(
        ...     "<think>The <obj>man</obj><bbox>[10, 10, 50, 90]</bbox> wears a "
        ...     "<obj>helmet</obj><bbox>[20, 10, 40, 25]</bbox>.</think><answer>B</answer>",
        ...     answer="B", gt_boxes=[[10, 10, 50, 90], [20, 10, 40, 30]], image_size=(100, 100))
        >>> r.format, r.accuracy, round(r.bbox, 4), round(r.total, 4)
        (1.0, 1.0, 0.875, 2.875)
    """
    config = config or DEFAULT_CONFIG
    truth = parse_ground_truth(
        answer=answer,
        gt_boxes=gt_boxes,
        gt_labels=gt_labels,
        choices=choices,
        image_size=image_size,
    )
    return score_trace(as_trace(completion, config), truth, config)
