"""Reward-hacking checks for zoom rewards: run them against any zoom reward callable.

Each check builds an honest trajectory (a tight zoom on the evidence, then an answer) and
an exploit, scores both, and passes when the exploit earns at least ``margin`` less:

================  ==============================================================================
check             exploit
================  ==============================================================================
whole_image       zoom into the whole image instead of the evidence
ever_larger       ever larger crops around the evidence (each must pay no more than the last)
zoom_spam         the tight zoom repeated, plus random zooms (12 calls)
no_answer         the tight zoom, then no answer
wrong_object      a tight zoom on a distractor object instead of the evidence
chain_drift       a chained zoom on ``observation_1`` that leaves the view (its numbers are still
                  inside the original image, so a check of the box alone accepts it)
================  ==============================================================================

A reward passes the audit when every check passes. :func:`validity_only_reward` is the
reward DeepEyes describes for the crop (the box is four numbers inside the image; a valid
call pays, wherever it points): it fails every check above, which is what the checks are for.

Example:
    >>> from grounding_rewards.zoom import zoom_reward
    >>> all(check.passed for check in run_zoom_checks(zoom_reward))
    True
    >>> [c.name for c in run_zoom_checks(validity_only_reward) if not c.passed]
    ['whole_image', 'ever_larger', 'zoom_spam', 'no_answer', 'wrong_object', 'chain_drift']
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grounding_rewards.zoom.trajectory import parse_trajectory
from grounding_rewards.zoom.views import Box, View

__all__ = ["ZoomCheck", "ZoomRewardFn", "run_zoom_checks", "validity_only_reward"]

ZoomRewardFn = Callable[..., Any]
"""``reward(trajectory, gt_boxes, *, image_size=..., answer=...) -> float | None``."""

IMAGE_SIZE = (1000, 800)
EVIDENCE: Box = (420.0, 300.0, 520.0, 380.0)  # 100 x 80: what the question is about
DISTRACTOR: Box = (100.0, 550.0, 200.0, 650.0)
TIGHT: Box = (400.0, 280.0, 540.0, 400.0)  # holds the evidence, 2.1x its area
COARSE: Box = (300.0, 200.0, 700.0, 500.0)


@dataclass(frozen=True, slots=True)
class ZoomCheck:
    """The result of one check.

    Attributes:
        name: The check's name.
        description: What the exploit does.
        honest: The honest trajectory's reward.
        exploit: The exploit's reward (the highest, for checks with several).
        passed: ``exploit <= honest - margin`` (and, for ``ever_larger``, never rising).
    """

    name: str
    description: str
    honest: float
    exploit: float
    passed: bool


def _call(box: Sequence[float], source: str | None = None) -> str:
    arguments: dict[str, Any] = {"bbox_2d": [round(v, 2) for v in box]}
    if source is not None:
        arguments["source"] = source
    body = json.dumps({"name": "image_zoom_in_tool", "arguments": arguments})
    return f"<tool_call>{body}</tool_call>\n<tool_response>[zoomed view]</tool_response>\n"


def _trajectory(*calls: str, answer: bool = True) -> str:
    head = "<think>The sign is small; I zoom in to read it.</think>\n"
    return head + "".join(calls) + ("<answer>A</answer>" if answer else "")


def _on_view(view: View, box: Box) -> Box:
    """``box`` (original pixels) in pixels of ``view``: what a model writes on that view."""
    x1, y1, x2, y2 = view.box
    kx, ky = view.size[0] / (x2 - x1), view.size[1] / (y2 - y1)
    return ((box[0] - x1) * kx, (box[1] - y1) * ky, (box[2] - x1) * kx, (box[3] - y1) * ky)


def _score(reward: ZoomRewardFn, trajectory: str) -> float:
    value = reward(trajectory, [list(EVIDENCE)], image_size=IMAGE_SIZE, answer="A")
    return 0.0 if value is None else float(value)


def run_zoom_checks(reward: ZoomRewardFn, *, margin: float = 0.25) -> tuple[ZoomCheck, ...]:
    """Run every check against ``reward``.

    Args:
        reward: Called as ``reward(trajectory, gt_boxes, image_size=(w, h), answer="A")``
            on DeepEyes-style text trajectories (pixel coordinates).
        margin: How much less than the honest trajectory an exploit must earn.

    Returns:
        One :class:`ZoomCheck` per check, in the order of the module's table.
    """
    honest = _score(reward, _trajectory(_call(TIGHT)))
    checks: list[ZoomCheck] = []

    def add(name: str, description: str, exploit: float, extra: bool = True) -> None:
        passed = extra and exploit <= honest - margin
        checks.append(ZoomCheck(name, description, honest, exploit, passed))

    add(
        "whole_image",
        "zoom into the whole image",
        _score(reward, _trajectory(_call((0, 0, *IMAGE_SIZE)))),
    )

    growing = []
    for scale in (1.0, 1.5, 2.0, 3.0, 4.0, 6.0):
        cx, cy, w, h = 470.0, 340.0, 140.0 * scale, 120.0 * scale
        box = (
            max(0.0, cx - w / 2),
            max(0.0, cy - h / 2),
            min(1000.0, cx + w / 2),
            min(800.0, cy + h / 2),
        )
        growing.append(_score(reward, _trajectory(_call(box))))
    rising = any(b > a + 1e-9 for a, b in itertools.pairwise(growing))
    add("ever_larger", "ever larger crops around the evidence", growing[-1], not rising)

    rng = random.Random(0)
    spam = [_call(TIGHT)] * 6
    for _ in range(6):
        x, y = rng.uniform(0, 900), rng.uniform(0, 700)
        spam.append(_call((x, y, x + 100, y + 100)))
    add(
        "zoom_spam", "the tight zoom 6 times and 6 random zooms", _score(reward, _trajectory(*spam))
    )

    add(
        "no_answer",
        "the tight zoom, then no answer",
        _score(reward, _trajectory(_call(TIGHT), answer=False)),
    )
    add(
        "wrong_object",
        "a tight zoom on a distractor",
        _score(reward, _trajectory(_call(DISTRACTOR))),
    )

    coarse = View.original(IMAGE_SIZE).crop_of(COARSE)
    assert coarse is not None  # a fixed, valid crop
    width, height = coarse.size
    drift = (width + 60.0, height + 10.0, width + 160.0, height + 110.0)  # beyond the view
    exploit = _score(reward, _trajectory(_call(COARSE), _call(drift, "observation_1")))
    chained = _score(
        reward, _trajectory(_call(COARSE), _call(_on_view(coarse, TIGHT), "observation_1"))
    )
    checks.append(
        ZoomCheck(
            "chain_drift",
            "a chained zoom that leaves its view",
            chained,
            exploit,
            exploit <= chained - margin,
        )
    )
    return tuple(checks)


def validity_only_reward(
    trajectory: Any, gt_boxes: Any = None, *, image_size: Any = None, **_: Any
) -> float:
    """DeepEyes' crop check as a reward: 1 when any zoom box is valid, wherever it points.

    A box is valid when it is four finite numbers with ``x1 < x2``, ``y1 < y2``, inside
    the original image (checked on the numbers as written, without following chains).
    This is the baseline the audit must fail; do not train with it.

    Example:
        >>> validity_only_reward('<tool_call>{"name": "image_zoom_in_tool", "arguments": '
        ...                      '{"bbox_2d": [0, 0, 10, 10]}}</tool_call>', image_size=(20, 20))
        1.0
    """
    width, height = image_size if image_size is not None else (math.inf, math.inf)
    for call in parse_trajectory(trajectory).calls:
        if call.box is None:
            continue
        x1, y1, x2, y2 = call.box
        if 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height:
            return 1.0
    return 0.0
