"""Public grounding-reward designs, written here from their published descriptions.

**Do not train with these.** Each function follows the *description* of a reward in a
public grounding-RL project (as ``naive.py`` does for smaller designs), in that
project's own dialect, solution format and trainer contract, so that
``grounding-rewards audit`` runs on it with flags alone (the commands are in
``docs/audit.md``). None is copied code; each keeps the hole its description implies.

==========================  ==========  ===========  ================================
function                    contract    dialect      described as
==========================  ==========  ===========  ================================
:func:`rec_iou`             trl         json         REC: IoU of the first ``bbox_2d``
                                                     in the answer with the solution box
:func:`rec_answer_check`    trl         bare         REC: IoU of the answer box, else
                                                     "the answer matches" on the text
:func:`giou_reward`         plain       bare         (GIoU + 1) of the answer box,
                                                     positional ``(predict, ground_truth)``
:func:`soft_f1`             easyr1      json         detection: soft F1 of best IoUs
                                                     (EasyR1 batch, ``REWARD_TYPE``)
:func:`ap_reward`           verl        qwen2-tokens detection: AP at IoU 0.5
:class:`DetectionORM`       swift       json         detection: label-gated IoU over
                                                     the JSON objects
==========================  ==========  ===========  ================================

Example:
    >>> answer = '<answer>[{"bbox_2d": [0, 0, 10, 10], "label": "dog"}]</answer>'
    >>> rec_iou([answer], ["<answer>[0, 0, 10, 5]</answer>"])
    [0.5]
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "REWARD_TYPE",
    "DetectionORM",
    "ap_reward",
    "giou_reward",
    "rec_answer_check",
    "rec_iou",
    "soft_f1",
]

REWARD_TYPE = "batch"
"""EasyR1 reads this from the module of :func:`soft_f1` (its batch form)."""

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_LIST4 = re.compile(r"\[\s*([^\[\]]*?)\s*\]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_OBJECT = re.compile(r"\{[^{}]*\}")
_QWEN2 = re.compile(
    r"<\|object_ref_start\|>(.*?)<\|object_ref_end\|><\|box_start\|>"
    r"\(([^,]*),([^)]*)\),\(([^,]*),([^)]*)\)<\|box_end\|>"
)


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The textbook formula: no check that the corners are ordered."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def _answer(text: str) -> str | None:
    match = _ANSWER.search(text)
    return None if match is None else match.group(1)


def _solution_box(solution: str) -> list[float]:
    return [float(v) for v in _NUMBER.findall(solution)][:4]


def _json_objects(text: str) -> list[dict[str, Any]]:
    out = []
    for chunk in _OBJECT.findall(text):
        try:
            data = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(data)
    return out


def rec_iou(completions: Sequence[str], solution: Sequence[str], **kwargs: Any) -> list[float]:
    """IoU of the first ``bbox_2d`` of the answer with the solution's box (TRL).

    Described as: "the IoU of the predicted box in ``<answer>`` with the ground truth
    box". The union is not guarded: a box inverted on one axis with the size of the
    target makes it zero.
    """
    rewards = []
    for completion, sol in zip(completions, solution, strict=True):
        answer = _answer(completion)
        objects = _json_objects(answer) if answer is not None else []
        box = objects[0].get("bbox_2d") if objects else None
        if not isinstance(box, list) or len(box) != 4:
            rewards.append(0.0)
            continue
        rewards.append(_iou([float(v) for v in box], _solution_box(sol)))
    return rewards


def rec_answer_check(
    completions: Sequence[str], solution: Sequence[str], **kwargs: Any
) -> list[float]:
    """IoU of the answer's ``[x1, y1, x2, y2]``, else an answer check on the whole text.

    Described as: "accuracy reward: IoU for a box; otherwise the extracted answer is
    compared with the ground truth". The answer is looked for in ``<answer>`` and, when
    there is none, in the whole completion: a completion that is only a number equal to
    a coordinate of the ground truth counts as the right answer.
    """
    rewards = []
    for completion, sol in zip(completions, solution, strict=True):
        content = _answer(completion)
        content = completion if content is None else content
        truth = _solution_box(sol)
        match = _LIST4.search(content)
        numbers = [float(v) for v in _NUMBER.findall(match.group(1))] if match else []
        if len(numbers) == 4 and numbers[2] > numbers[0] and numbers[3] > numbers[1]:
            rewards.append(_iou(numbers, truth))
            continue
        last = _NUMBER.findall(content)
        rewards.append(1.0 if last and float(last[-1]) in truth else 0.0)
    return rewards


def giou_reward(predict: str, ground_truth: str) -> float:
    """``GIoU + 1`` of the answer's box, in ``[0, 2]`` (positional, one sample).

    Described as: "GIoU between the predicted and the ground-truth box, shifted to be
    non-negative". The corners are not checked: an inverted box has a negative area and
    the enclosing-box term turns into a bonus.
    """
    content = _answer(predict)
    if content is None:
        return 0.0
    match = _LIST4.search(content)
    if match is None:
        return 0.0
    try:
        a = [float(v) for v in match.group(1).split(",")]
    except ValueError:
        return 0.0
    if len(a) != 4:
        return 0.0
    b = _solution_box(ground_truth)
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(
        0.0, min(a[3], b[3]) - max(a[1], b[1])
    )
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    if union == 0 or hull == 0:
        return 0.0
    return inter / union - (hull - union) / hull + 1.0


def _boxes(objects: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    out = []
    for obj in objects:
        box = obj.get("bbox_2d")
        if isinstance(box, list) and len(box) == 4:
            try:
                out.append([float(v) for v in box])
            except (TypeError, ValueError):
                continue
    return out


def soft_f1(reward_inputs: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    """Soft F1 of best IoUs, EasyR1 batch form (``REWARD_TYPE = "batch"``).

    Described as: "precision: each prediction's best IoU; recall: each ground truth's
    best IoU; their F1". Nothing is one-to-one, so a duplicate of a good box is free.
    """
    out = []
    for item in reward_inputs:
        answer = _answer(str(item["response"]))
        preds = [b for b in _boxes(_json_objects(answer or "")) if b[2] > b[0] and b[3] > b[1]]
        gts = _boxes(json.loads(item["ground_truth"]))
        if not preds or not gts:
            out.append({"overall": 0.0, "f1": 0.0})
            continue
        precision = sum(max(_iou(p, g) for g in gts) for p in preds) / len(preds)
        recall = sum(max(_iou(p, g) for p in preds) for g in gts) / len(gts)
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out.append({"overall": f1, "f1": f1})
    return out


def ap_reward(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None
) -> float:
    """AP at IoU 0.5 of Qwen2-VL token boxes against the ground truth (veRL).

    Described as: "average precision of the predicted boxes at IoU 0.5". A prediction
    is a false positive when ``iou < 0.5``; a NaN IoU is not less than anything, so
    NaN boxes are true positives.
    """
    gts = [[float(v) for v in box] for box in ground_truth["gt_boxes"]]
    preds = []
    for match in _QWEN2.finditer(solution_str):
        try:
            preds.append([float(v) for v in match.groups()[1:]])
        except ValueError:
            continue
    if not preds or not gts:
        return 0.0
    used: set[int] = set()
    hits = 0
    for pred in preds:
        pixel = _to_pixels(pred, extra_info)
        best, best_j = math.nan, -1
        for j, gt in enumerate(gts):
            try:
                value = _iou(pixel, gt)
            except ZeroDivisionError:
                value = 0.0
            if not best >= value:
                best, best_j = value, j
        if not best < 0.5 and best_j not in used:
            used.add(best_j)
            hits += 1
    precision = hits / len(preds)
    recall = hits / len(gts)
    return precision * recall


def _to_pixels(box: Sequence[float], extra_info: Any) -> list[float]:
    width, height = extra_info["image_size"]
    sx, sy = width / 1000, height / 1000
    return [box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy]


class DetectionORM:
    """Label-gated IoU over the answer's JSON objects, as an ms-swift ORM.

    Described as: "for each predicted object with the label of a ground-truth object,
    its IoU with that object; the mean over the ground truth". Every object is assumed
    to carry a ``label``: one without it raises.
    """

    def __init__(self, args: Any = None, **kwargs: Any) -> None:
        self.args = args

    def __call__(
        self, completions: Sequence[str], solution: Sequence[str], **kwargs: Any
    ) -> list[float]:
        """Score a batch as ms-swift calls an ORM."""
        rewards = []
        for completion, sol in zip(completions, solution, strict=True):
            gts = json.loads(sol)
            answer = _answer(completion) or ""
            total = 0.0
            for gt in gts:
                best = 0.0
                for obj in _json_objects(answer):
                    if obj["label"] != gt["label"]:
                        continue
                    box = obj.get("bbox_2d")
                    if isinstance(box, list) and len(box) == 4 and box[2] > box[0]:
                        best = max(best, _iou([float(v) for v in box], gt["bbox_2d"]))
                total += best
            rewards.append(total / len(gts) if gts else 0.0)
        return rewards
