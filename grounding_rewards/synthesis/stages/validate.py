"""Validation: every QA rationale must parse back to the record's boxes and score 1.

A rationale is kept only if :func:`~grounding_rewards.parse_trace` finds exactly
its objects' boxes and labels, in order, and
:func:`~grounding_rewards.grounding_reward` gives 1 on format, accuracy and bbox
against the item's own ground truth. Anything else (a label that breaks the tag
syntax, a box outside the image, a shuffled answer gone wrong) drops the item
with a reason, so no training example contradicts the rewards it will be scored by.

Example:
    >>> from grounding_rewards.synthesis.records import QAItem
    >>> good = QAItem(id="q1", kind="counting", question="How many cats?", choices=["2", "1"],
    ...     answer="B", rationale="<think>I count 1 cat: <obj>cat</obj><bbox>[1, 2, 30, 40]"
    ...     "</bbox>.</think><answer>B</answer>", object_ids=["o1"],
    ...     gt_boxes=[(1, 2, 30, 40)], gt_labels=["cat"])
    >>> bad = good.model_copy(update={"id": "q2", "answer": "A"})
    >>> kept, errors = validate_qa([good, bad], image_size=(64, 64))
    >>> [item.id for item in kept], [(e.subject, e.reason) for e in errors]
    (['q1'], [('q2', 'reward_below_1')])
"""

from __future__ import annotations

from collections.abc import Sequence

from grounding_rewards.config import RewardConfig
from grounding_rewards.parsing import parse_trace
from grounding_rewards.rewards import grounding_reward
from grounding_rewards.synthesis.records import QAItem, StageError

__all__ = ["check_item", "validate_qa"]

_PIXEL_CONFIG = RewardConfig(coords="pixel")


def check_item(
    item: QAItem, *, image_size: tuple[int, int], config: RewardConfig = _PIXEL_CONFIG
) -> StageError | None:
    """Why ``item`` fails validation, or ``None`` when it passes."""
    trace = parse_trace(item.rationale, config=config)
    spans = trace.counted_spans(config)
    found = [(s.label, tuple(s.box)) for s in spans]
    expected = [
        (label, tuple(float(v) for v in box))
        for label, box in zip(item.gt_labels, item.gt_boxes, strict=True)
    ]
    if found != expected:
        return StageError(
            stage="validate",
            reason="rationale_mismatch",
            subject=item.id,
            message=f"expected spans {expected}, got {found}",
        )
    result = grounding_reward(
        trace,
        answer=item.answer,
        gt_boxes=[list(b) for b in item.gt_boxes],
        gt_labels=item.gt_labels,
        choices=item.choices,
        image_size=image_size,
        config=config,
    )
    scores = {"format": result.format, "accuracy": result.accuracy, "bbox": result.bbox}
    if any(value != 1.0 for value in scores.values()):
        issues = ",".join(issue.code for issue in result.issues)
        return StageError(
            stage="validate",
            reason="reward_below_1",
            subject=item.id,
            message=f"expected 1 on every component, got {scores}"
            + (f" (issues: {issues})" if issues else ""),
        )
    return None


def validate_qa(
    items: Sequence[QAItem], *, image_size: tuple[int, int]
) -> tuple[list[QAItem], list[StageError]]:
    """Split ``items`` into those that pass and the errors of those that do not."""
    kept: list[QAItem] = []
    errors: list[StageError] = []
    for item in items:
        error = check_item(item, image_size=image_size)
        if error is None:
            kept.append(item)
        else:
            errors.append(error)
    return kept, errors
