"""``grounding_reward_batch``: the composite reward of many completions, as columns.

The same values as calling :func:`~grounding_rewards.grounding_reward` on each
completion (tested equal), with the per-call costs paid once per batch: the
configuration is resolved once, ground truth that consecutive completions share (the
``G`` completions of one GRPO prompt, when the caller passes the same objects, as
veRL's repeated batch does) is validated once, and no per-completion result object is
built. For veRL and EasyR1 batch reward functions and any loop over a rollout file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grounding_rewards._frozen import rebuild
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import GroundTruthError, InputError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.parsing import FormatIssue
from grounding_rewards.rewards._fused import clean_scores, clean_values, fused_weights
from grounding_rewards.rewards._trace import as_trace
from grounding_rewards.rewards.composite import score_trace

__all__ = ["BatchRewards", "grounding_reward_batch"]


@dataclass(frozen=True, slots=True)
class BatchRewards:
    """The composite reward of a batch, one list per field (one item per completion).

    Attributes:
        total: The weighted sum of the components that apply.
        scores: ``{component: [value or None, ...]}`` for every component of
            ``config.weights``, in its order.
        n_pred: Predicted boxes counted.
        n_gt: Ground-truth boxes.
        issues: The format issues of each completion (empty for a clean one).
    """

    total: list[float]
    scores: dict[str, list[float | None]]
    n_pred: list[int]
    n_gt: list[int]
    issues: list[tuple[FormatIssue, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        """The number of completions."""
        return len(self.total)

    def rows(self) -> list[dict[str, Any]]:
        """One flat dict per completion, as :meth:`RewardBreakdown.as_dict` gives.

        Example:
            >>> batch = grounding_reward_batch(["<think>x</think><answer>A</answer>"],
            ...                                answers=["A"], gt_boxes=[[]])
            >>> batch.rows()[0]["total"], batch.rows()[0]["issues"]
            (1.0, 'too_few_spans')
        """
        names = list(self.scores)
        return [
            {
                "total": self.total[i],
                **{name: self.scores[name][i] for name in names},
                "n_pred": self.n_pred[i],
                "n_gt": self.n_gt[i],
                "n_issues": len(self.issues[i]),
                "issues": ",".join(issue.code for issue in self.issues[i]),
            }
            for i in range(len(self.total))
        ]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


def _column(name: str, values: Sequence[Any] | None, size: int) -> Sequence[Any]:
    if values is None:
        return [None] * size
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InputError(f"{name}: expected one value per completion, got {type(values).__name__}")
    if len(values) != size:
        raise InputError(f"{name}: expected {size} values (one per completion), got {len(values)}")
    return values


def grounding_reward_batch(
    completions: Sequence[object],
    *,
    answers: Sequence[Any] | None = None,
    gt_boxes: Sequence[Any] | None = None,
    gt_labels: Sequence[Any] | None = None,
    choices: Sequence[Any] | None = None,
    image_sizes: Sequence[Any] | None = None,
    gt_polygons: Sequence[Any] | None = None,
    config: RewardConfig | None = None,
) -> BatchRewards:
    """:func:`~grounding_rewards.grounding_reward` of every completion, as columns.

    Each ground-truth argument holds one value per completion (what
    ``grounding_reward`` takes for one), or is ``None`` for none at all.

    Args:
        completions: The completions (or parsed traces).
        answers: The correct option of each completion.
        gt_boxes: Ground-truth pixel ``xyxy`` boxes of each completion.
        gt_labels: One label per ground-truth box, per completion.
        choices: Option texts, per completion.
        image_sizes: ``(width, height)`` of each completion's image.
        gt_polygons: Pixel polygons per ground-truth box, per completion.
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The :class:`BatchRewards`.

    Raises:
        InputError: When a column's length differs from the completions'.
        GroundTruthError: For malformed ground truth; the message names the item.

    Example:
        >>> truth = [[10, 10, 50, 90]]
        >>> batch = grounding_reward_batch(
        ...     ["<think><obj>man</obj><bbox>[10, 10, 50, 90]</bbox></think><answer>B</answer>",
        ...      "<think>no box</think><answer>A</answer>"],
        ...     answers=["B", "B"], gt_boxes=[truth, truth])
        >>> batch.total, batch.scores["bbox"]
        ([3.0, 0.0], [1.0, 0.0])
    """
    config = config or DEFAULT_CONFIG
    size = len(completions)
    columns = (
        _column("answers", answers, size),
        _column("gt_boxes", gt_boxes, size),
        _column("gt_labels", gt_labels, size),
        _column("choices", choices, size),
        _column("image_sizes", image_sizes, size),
        _column("gt_polygons", gt_polygons, size),
    )
    plan = fused_weights(config)
    weights = None if plan is None else plan[0]
    score_bbox = plan is not None and plan[1]
    names = [name for name, _ in weights] if weights is not None else None
    totals: list[float] = []
    scores: dict[str, list[float | None]] = {name: [] for name in names or ()}
    n_pred: list[int] = []
    n_gt: list[int] = []
    issues: list[tuple[FormatIssue, ...]] = []
    answers_, boxes_, labels_, choices_, sizes_, polygons_ = columns
    previous: tuple[Any, ...] = ()
    truth = GroundTruth()
    for index, completion in enumerate(completions):
        given = (
            answers_[index],
            boxes_[index],
            labels_[index],
            choices_[index],
            sizes_[index],
            polygons_[index],
        )
        if not _same_objects(given, previous):  # a GRPO group's completions share them
            truth = _validated(index, given)
            previous = given
        clean = None
        if weights is not None and type(completion) is str:
            clean = clean_scores(completion, truth, config, score_bbox)
        if clean is None:
            breakdown = score_trace(as_trace(completion, config), truth, config)
            if names is None:
                names = list(breakdown.scores)
                scores = {name: [] for name in names}
            totals.append(breakdown.total)
            for name in names:
                scores[name].append(breakdown.scores[name])
            n_pred.append(breakdown.n_pred)
            n_gt.append(breakdown.n_gt)
            issues.append(breakdown.issues)
            continue
        assert weights is not None
        total, values = clean_values(clean, truth, weights)
        for (name, _), value in zip(weights, values, strict=True):
            scores[name].append(value)
        totals.append(total)
        n_pred.append(clean[1])
        n_gt.append(len(truth.boxes))
        issues.append(clean[3])
    return BatchRewards(totals, scores, n_pred, n_gt, issues)


def _same_objects(values: tuple[Any, ...], previous: tuple[Any, ...]) -> bool:
    """Whether ``values`` are the very objects of the previous item (identity, not equality)."""
    return bool(previous) and all(v is p for v, p in zip(values, previous, strict=True))


def _validated(index: int, values: tuple[Any, ...]) -> GroundTruth:
    """The validated ground truth of item ``index``; errors name the item."""
    answer, boxes, labels, options, image_size, polygons = values
    try:
        return parse_ground_truth(
            answer=answer,
            gt_boxes=boxes,
            gt_labels=labels,
            choices=options,
            image_size=image_size,
            gt_polygons=polygons,
        )
    except GroundTruthError as error:
        raise GroundTruthError(f"item {index}: {error}") from None
