"""Naive reward designs from the literature, written here to show what the audit catches.

**Do not train with these.** Each function follows the *published description* of a
reward design found in public grounding-RL code (see ``docs/audit.md``), adapted to
our trace format and written from scratch for this project; none is copied code.
Each has the hole its description implies, and ``grounding-rewards audit`` finds it:

=========================  ====================================================
function                   the hole
=========================  ====================================================
:func:`first_box_iou`      only the first box counts: spam after it is free,
                           span order changes the reward
:func:`max_iou_precision`  each box takes its best IoU, no one-to-one matching:
                           duplicates of the best box are free
:func:`max_iou_recall`     each true box takes its best IoU over all predicted
                           boxes, no count penalty: spraying guesses pays
:func:`substring_answer`   "one string contains the other": an empty answer
                           or "A B C D" earns full credit
:func:`lenient_format`     an unescaped ``|`` in the pattern: anything that
                           starts with ``<`` passes
:func:`prompt_answer`      reads the first answer tag of prompt + completion:
                           an example answer in the prompt is taken as the model's
=========================  ====================================================

All take our ``plain`` contract: ``f(completion, **ground_truth)``.

Example:
    >>> text = ("<think>The <obj>dog</obj><bbox>[0, 0, 10, 10]</bbox> naps.</think>"
    ...         "<answer>B</answer>")
    >>> first_box_iou(text + "<bbox>[50, 50, 90, 90]</bbox>" * 9, gt_boxes=[[0, 0, 10, 10]])
    1.0
    >>> substring_answer("<think>x</think><answer></answer>", answer="B")
    1.0
    >>> lenient_format("<")
    1.0
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = [
    "first_box_iou",
    "lenient_format",
    "max_iou_precision",
    "max_iou_recall",
    "prompt_answer",
    "substring_answer",
]

# "IoU of the first [x1, y1, x2, y2] found; integers only" (no validation).
_INT_BOX = re.compile(r"\[\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\]")
_BBOX_TAG = re.compile(r"<bbox>(.*?)</bbox>", re.DOTALL)
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)", re.I)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
# Meant to accept an optional "<|think|>" special token before the template; the
# unescaped "|" splits the pattern, and its first alternative is a lone "<".
_FORMAT = re.compile(r"<|think|>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def _naive_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The textbook formula with no validation of the boxes."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def first_box_iou(completion: str, gt_boxes: Sequence[Sequence[float]], **_: Any) -> float:
    """IoU of the first integer box in the completion with the first ground-truth box.

    Written from the description "IoU of the first ``[x1, y1, x2, y2]``; integers only"
    (a referring-expression reward, one ground-truth box). Everything after the first
    box is ignored, so extra boxes cost nothing.

    Args:
        completion: The model output.
        gt_boxes: Ground-truth pixel boxes; only the first is used.
        **_: Other ground truth, ignored.

    Returns:
        The IoU, or 0 when no box is found.

    Example:
        >>> first_box_iou("<bbox>[0, 0, 10, 10]</bbox>", gt_boxes=[[0, 0, 10, 5]])
        0.5
    """
    match = _INT_BOX.search(completion)
    if match is None or not gt_boxes:
        return 0.0
    box = [float(v) for v in match.groups()]
    return _naive_iou(box, [float(v) for v in gt_boxes[0]])


def _tagged_boxes(completion: str) -> list[list[float]]:
    """Every ``<bbox>`` block that holds exactly four numbers, anywhere in the text."""
    preds = []
    for content in _BBOX_TAG.findall(completion):
        numbers = [float(v) for v in _FLOAT.findall(content)]
        if len(numbers) == 4:
            preds.append(numbers)
    return preds


def max_iou_precision(completion: str, gt_boxes: Sequence[Sequence[float]], **_: Any) -> float:
    """Mean over predicted boxes of each one's best IoU with any ground-truth box.

    Written from the description "each prediction's best IoU, not one-to-one": a
    greedy max-IoU precision. Without one-to-one matching, a duplicate of a good box
    is as good as the box itself.

    Args:
        completion: The model output.
        gt_boxes: Ground-truth pixel boxes.
        **_: Other ground truth, ignored.

    Returns:
        The mean best IoU, or 0 when there is no box.

    Example:
        >>> good = "<bbox>[0, 0, 10, 10]</bbox>"
        >>> max_iou_precision(good * 5, gt_boxes=[[0, 0, 10, 10], [20, 20, 30, 30]])
        1.0
    """
    preds = _tagged_boxes(completion)
    if not preds or not gt_boxes:
        return 0.0
    gts = [[float(v) for v in g] for g in gt_boxes]
    return sum(max(_naive_iou(p, g) for g in gts) for p in preds) / len(preds)


def max_iou_recall(completion: str, gt_boxes: Sequence[Sequence[float]], **_: Any) -> float:
    """Mean over ground-truth boxes of each one's best IoU with any predicted box.

    Written from the description "each ground-truth box takes its best-matching
    prediction" (a max-IoU recall with no count penalty, the public detection-reward
    pattern where one box plus jittered copies of it outscores the box alone). Nothing
    charges for extra boxes, so every further guess can only raise a true box's best
    IoU: spraying boxes around the object pays.

    Args:
        completion: The model output.
        gt_boxes: Ground-truth pixel boxes.
        **_: Other ground truth, ignored.

    Returns:
        The mean best IoU, or 0 when there is no box.

    Example:
        >>> one = "<bbox>[0, 0, 10, 10]</bbox>"
        >>> max_iou_recall(one, gt_boxes=[[5, 0, 15, 10]])
        0.3333333333333333
        >>> max_iou_recall(one + "<bbox>[5, 0, 15, 10]</bbox>", gt_boxes=[[5, 0, 15, 10]])
        1.0
    """
    preds = _tagged_boxes(completion)
    if not preds or not gt_boxes:
        return 0.0
    gts = [[float(v) for v in g] for g in gt_boxes]
    return sum(max(_naive_iou(p, g) for p in preds) for g in gts) / len(gts)


def substring_answer(completion: str, answer: str, **_: Any) -> float:
    """1 when the answer block and the ground truth contain one another.

    Written from the description "substring answer matching", meant to accept
    ``B``, ``(B)`` or ``B. white`` alike. The empty string is a substring of
    everything, and ``"A B C D"`` contains every letter.

    Args:
        completion: The model output.
        answer: The right option letter.
        **_: Other ground truth, ignored.

    Returns:
        1.0 or 0.0.

    Example:
        >>> substring_answer("<answer>(B)</answer>", answer="B")
        1.0
    """
    match = _ANSWER.search(completion)
    if match is None:
        return 0.0
    predicted, expected = match.group(1).strip().lower(), str(answer).strip().lower()
    return 1.0 if predicted in expected or expected in predicted else 0.0


def lenient_format(completion: str, **_: Any) -> float:
    """1 when the completion matches the template pattern (which has a typo).

    Written from the description "a format regex with an unescaped ``|``": the
    pattern was meant to allow a ``<|think|>`` token, but ``|`` is alternation, so
    the pattern's first branch is a lone ``<`` and any string starting with ``<``
    matches.

    Args:
        completion: The model output.
        **_: Ground truth, ignored.

    Returns:
        1.0 or 0.0.

    Example:
        >>> lenient_format("<think>x</think><answer>B</answer>"), lenient_format("B")
        (1.0, 0.0)
    """
    return 1.0 if _FORMAT.match(completion) else 0.0


def prompt_answer(completion: str, answer: str, prompt: str = "", **_: Any) -> float:
    """1 when the first answer block of prompt + completion is the right letter.

    Written from the description "answer extraction that reads the prompt's own
    tags": the reward scores the decoded sequence, prompt included, so a worked
    example in the prompt is read as the model's answer.

    Args:
        completion: The model output.
        answer: The right option letter.
        prompt: The prompt the completion answers.
        **_: Other ground truth, ignored.

    Returns:
        1.0 or 0.0.

    Example:
        >>> prompt_answer("<answer>A</answer>", answer="B", prompt="e.g. <answer>B</answer>")
        1.0
    """
    match = _ANSWER.search(prompt + completion)
    if match is None:
        return 0.0
    return 1.0 if match.group(1).strip().upper() == str(answer).strip().upper() else 0.0
