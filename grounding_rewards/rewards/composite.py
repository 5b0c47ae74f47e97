"""The composite reward: ``R = Σ_c w_c·R_c`` over the configured components, parsed once.

The components are those of ``config.weights`` (by default format, accuracy and bbox:
``R = w_f·R_format + w_a·R_accuracy + w_b·R_bbox``), each scored by its registered
function (see :mod:`grounding_rewards.components`). A component without ground truth
(no answer, no boxes) is ``None``: it is left out of the total and reported as ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grounding_rewards._frozen import rebuild
from grounding_rewards.components import active_scorers, component_value
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.ground_truth import (
    AnswerLike,
    BoxesLike,
    ChoicesLike,
    GroundTruth,
    LabelsLike,
    PolygonsLike,
    SizeLike,
    parse_ground_truth,
)
from grounding_rewards.parsing import FormatIssue, Trace
from grounding_rewards.rewards._fused import (
    CleanScores,
    clean_scores,
    clean_values,
    fused_weights,
)
from grounding_rewards.rewards._trace import as_trace
from grounding_rewards.rewards.bbox import BoxScore
from grounding_rewards.rewards.format import FormatResult, format_checks

__all__ = ["RewardBreakdown", "grounding_reward", "score_completion", "score_trace"]


# Compiled by mypyc, an assignment in ``__init__`` stores the field natively (and the
# frozen ``__setattr__`` refuses ``object.__setattr__``); interpreted, it would meet that
# ``__setattr__``: each path builds the instance its own way, giving the same object.
_COMPILED = not __file__.endswith(".py")


@dataclass(frozen=True, slots=True, init=False)
class RewardBreakdown:
    """Every component of the reward of one completion, with the details behind it.

    Attributes:
        total: The weighted sum of the components that apply.
        format: R_format in ``[0, 1]`` (0.0 when the configuration leaves it out).
        accuracy: R_accuracy in ``{0, 1}``, or ``None`` without a ground-truth answer.
        bbox: R_bbox in ``[0, 1]``, or ``None`` without ground-truth boxes.
        n_pred: Predicted boxes counted.
        n_gt: Ground-truth boxes.
        pairs: Matched ``(predicted, ground truth)`` index pairs.
        pair_scores: Similarity of each matched pair.
        issues: Every format issue found.
        scores: ``{component: value or None}`` for every component of ``config.weights``,
            in its order (``format``, ``accuracy`` and ``bbox`` included).
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
    scores: dict[str, float | None] = field(default_factory=dict)

    def __init__(
        self,
        total: float,
        format: float,
        accuracy: float | None,
        bbox: float | None,
        n_pred: int,
        n_gt: int,
        pairs: tuple[tuple[int, int], ...],
        pair_scores: tuple[float, ...],
        issues: tuple[FormatIssue, ...],
        scores: dict[str, float | None] | None = None,
    ) -> None:
        """Every field, as the frozen dataclass' own constructor would take them.

        Written out because, compiled, it is about 20 times faster than the generated one,
        and a breakdown is built for every scored completion.
        """
        if scores is None:
            scores = {}
        if _COMPILED:
            self.total = total  # type: ignore[misc]
            self.format = format  # type: ignore[misc]
            self.accuracy = accuracy  # type: ignore[misc]
            self.bbox = bbox  # type: ignore[misc]
            self.n_pred = n_pred  # type: ignore[misc]
            self.n_gt = n_gt  # type: ignore[misc]
            self.pairs = pairs  # type: ignore[misc]
            self.pair_scores = pair_scores  # type: ignore[misc]
            self.issues = issues  # type: ignore[misc]
            self.scores = scores  # type: ignore[misc]
            return
        store = object.__setattr__
        store(self, "total", total)
        store(self, "format", format)
        store(self, "accuracy", accuracy)
        store(self, "bbox", bbox)
        store(self, "n_pred", n_pred)
        store(self, "n_gt", n_gt)
        store(self, "pairs", pairs)
        store(self, "pair_scores", pair_scores)
        store(self, "issues", issues)
        store(self, "scores", scores)

    def __getitem__(self, component: str) -> float | None:
        """The value of ``component`` (``KeyError`` when the configuration left it out)."""
        return self.scores[component]

    def as_dict(self) -> dict[str, Any]:
        """Flat scalars, for logs and tables (``None`` marks a component that does not apply).

        Returns:
            ``total``, one key per component (``format``, ``accuracy``, ``bbox``, ...),
            ``n_pred``, ``n_gt``, ``n_issues`` and ``issues`` (the codes, comma-separated).

        Example:
            >>> r = grounding_reward("<think>x</think><answer>A</answer>", answer="A", gt_boxes=[])
            >>> r.as_dict()["bbox"], r.as_dict()["total"]
            (None, 1.0)
        """
        return {
            "total": self.total,
            **self.scores,
            "n_pred": self.n_pred,
            "n_gt": self.n_gt,
            "n_issues": len(self.issues),
            "issues": ",".join(issue.code for issue in self.issues),
        }

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


def score_trace(trace: Trace, truth: GroundTruth, config: RewardConfig) -> RewardBreakdown:
    """Score a parsed trace against validated ground truth (no parsing, no validation).

    Every component of ``config.weights`` is scored by its registered function.

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
    scores: dict[str, float | None] = {}
    form: FormatResult | None = None
    boxes: BoxScore | None = None
    total = 0.0
    value: float | None
    for name, weight, scorer in active_scorers(config):
        result = scorer(trace, truth, config)
        if type(result) is float:
            value = result
        else:
            if isinstance(result, FormatResult):
                form = result
            elif isinstance(result, BoxScore):
                boxes = result
            value = component_value(result)
        scores[name] = value
        if value is not None:
            total += weight * value
    if form is None:  # the issues are reported whatever the weights
        form = format_checks(trace, truth.image_size, config)
    if boxes is None:
        n_pred = len(trace.counted_spans(config))
        boxes = BoxScore(None, n_pred, len(truth.boxes))
    return RewardBreakdown(
        total=total,
        format=form.score if "format" in scores else 0.0,
        accuracy=scores.get("accuracy"),
        bbox=boxes.value,
        n_pred=boxes.n_pred,
        n_gt=boxes.n_gt,
        pairs=boxes.pairs,
        pair_scores=boxes.pair_scores,
        issues=form.issues,
        scores=scores,
    )


def grounding_reward(
    completion: object,
    *,
    answer: AnswerLike,
    gt_boxes: BoxesLike,
    gt_labels: LabelsLike = None,
    choices: ChoicesLike = None,
    image_size: SizeLike = None,
    gt_polygons: PolygonsLike = None,
    config: RewardConfig | None = None,
) -> RewardBreakdown:
    """Every configured component and their weighted total, parsing the completion once.

    ``total = Σ_c w_c·R_c`` over the components that apply: by default
    ``w_f·R_format + w_a·R_accuracy + w_b·R_bbox`` (weights 1, so the total lies in
    ``[0, 3]``); ``RewardConfig(weights={"point": 1})`` adds R_point.

    Args:
        completion: The completion, or its parsed trace (anything else is read as a
            completion that is not text: it never raises).
        answer: The correct option, or ``None`` when there is none to check.
        gt_boxes: Ground-truth pixel ``xyxy`` boxes (empty or ``None`` when there are none).
        gt_labels: One label per ground-truth box.
        choices: Option texts in order, or ``None``.
        image_size: ``(width, height)`` of the original image.
        gt_polygons: One pixel polygon per ground-truth box, for the point component.
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
        gt_polygons=gt_polygons,
    )
    return score_completion(completion, truth, config)


def score_completion(
    completion: object, truth: GroundTruth, config: RewardConfig
) -> RewardBreakdown:
    """:func:`score_trace` of ``completion`` against validated ground truth, parsed once.

    A clean text completion takes the clean-completion path (:mod:`._fused`), which
    gives the same breakdown without building the trace; anything else is parsed. This
    is what :func:`grounding_reward` and the trainer adapters call once the ground truth
    is validated.

    Args:
        completion: The completion, or its parsed trace.
        truth: Validated ground truth (:func:`~grounding_rewards.parse_ground_truth`).
        config: Configuration.

    Returns:
        The :class:`RewardBreakdown`.

    Raises:
        ValueError: For a normalized coordinate space without an image size.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG, parse_ground_truth
        >>> truth = parse_ground_truth(answer="A", gt_boxes=[[0, 0, 4, 4]])
        >>> text = "<think><obj>x</obj><bbox>[0, 0, 4, 2]</bbox></think><answer>A</answer>"
        >>> score_completion(text, truth, DEFAULT_CONFIG).total
        2.5
        >>> from grounding_rewards import parse_trace
        >>> score_completion(parse_trace(text), truth, DEFAULT_CONFIG).total
        2.5
    """
    if type(completion) is str:
        plan = fused_weights(config)
        if plan is not None:
            clean = clean_scores(completion, truth, config, plan[1])
            if clean is not None:
                return clean_breakdown(clean, truth, plan[0])
    return score_trace(as_trace(completion, config), truth, config)


def clean_breakdown(
    clean: CleanScores, truth: GroundTruth, weights: tuple[tuple[str, float], ...]
) -> RewardBreakdown:
    """The :class:`RewardBreakdown` of a clean completion (see :mod:`._fused`).

    The same fields, in the same order of summation, as :func:`score_trace` gives for it.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG
        >>> from grounding_rewards.rewards._fused import clean_scores, fused_weights
        >>> truth = parse_ground_truth(answer="A", gt_boxes=[[0, 0, 4, 4]])
        >>> text = "<think><obj>x</obj><bbox>[0, 0, 4, 2]</bbox></think><answer>A</answer>"
        >>> weights = fused_weights(DEFAULT_CONFIG)[0]
        >>> clean_breakdown(clean_scores(text, truth, DEFAULT_CONFIG, True), truth, weights).total
        2.5
    """
    total, values = clean_values(clean, truth, weights)
    scores = {name: value for (name, _), value in zip(weights, values, strict=True)}
    parts = clean[4]
    if parts is None:
        parts = (None, clean[1], len(truth.boxes), (), ())
    return RewardBreakdown(
        total=total,
        format=clean[2] if "format" in scores else 0.0,
        accuracy=scores.get("accuracy"),
        bbox=parts[0],
        n_pred=parts[1],
        n_gt=parts[2],
        pairs=parts[3],
        pair_scores=parts[4],
        issues=clean[3],
        scores=scores,
    )
