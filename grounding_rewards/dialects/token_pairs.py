"""Dialects that write a label marker, then a box marker: ``qwen2-tokens`` and ``ref-box``.

``qwen2-tokens`` (Qwen2-VL, also Rex-Omni's quantized boxes)::

    <|object_ref_start|>cat<|object_ref_end|><|box_start|>(120,45),(380,600)<|box_end|>
    <|object_ref_start|>person<|object_ref_end|><|box_start|><0><35><980><987><|box_end|>

``ref-box`` (InternVL)::

    <ref>cat</ref><box>[[120, 45, 380, 600], [400, 50, 600, 610]]</box>

A box marker holds one or more boxes (4 numbers each); in ``qwen2-tokens`` two numbers
are a point. One linear scan over the four markers, like the ``tags`` parser.

Example:
    >>> from grounding_rewards import DEFAULT_CONFIG
    >>> r = read_ref_box("<ref>cat</ref><box>[[1, 2, 3, 4]]</box>", DEFAULT_CONFIG)
    >>> [(m.label, m.box) for m in r.boxes]
    [('cat', (1.0, 2.0, 3.0, 4.0))]
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from grounding_rewards.dialects._numbers import group, read_numbers
from grounding_rewards.dialects.marks import BoxMark, PointMark, Reading

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = ["read_paired", "read_qwen2_tokens", "read_ref_box"]


@lru_cache(maxsize=16)
def _markers(label_open: str, label_close: str, box_open: str, box_close: str) -> re.Pattern[str]:
    names = (label_open, label_close, box_open, box_close)
    return re.compile("|".join(re.escape(name) for name in names))


def read_paired(
    text: str,
    config: RewardConfig,
    markers: tuple[str, str, str, str],
    *,
    points: bool,
) -> Reading:
    """Read ``label_open label label_close box_open numbers box_close`` marks.

    Args:
        text: The completion.
        config: ``max_boxes`` caps what is read.
        markers: ``(label_open, label_close, box_open, box_close)`` literals.
        points: Whether two numbers in a box marker are a point.

    Returns:
        The boxes, points and issues found.
    """
    from grounding_rewards.parsing import FormatIssue

    label_open, label_close, box_open, box_close = markers
    reading = Reading()
    issues = reading.issues
    cap = config.max_boxes
    label_at = -1  # offset of an open label marker
    pending: tuple[str, int] | None = None  # a closed label and its start
    box_at = -1
    used = False  # whether the pending label already owns a box
    for match in _markers(*markers).finditer(text):
        token, at = match.group(0), match.start()
        if box_at >= 0 and token != box_close:
            issues.append(FormatIssue("unclosed_tag", box_at, f"{box_open} is not closed"))
            reading.boxes.append(BoxMark(pending[0] if pending else "", None, box_at, at))
            box_at, pending = -1, None
        if token == label_open:
            if label_at >= 0:
                issues.append(FormatIssue("unclosed_tag", label_at, f"{label_open} is not closed"))
            if pending is not None and not used:
                issues.append(FormatIssue("obj_without_bbox", pending[1], "a label without a box"))
            label_at, pending = at, None
        elif token == label_close:
            if label_at < 0:
                issues.append(FormatIssue("stray_closing_tag", at, f"{label_close} without opener"))
                continue
            label = text[label_at + len(label_open) : at].strip()
            if not label:
                issues.append(FormatIssue("empty_label", label_at, "the object label is empty"))
            pending, label_at, used = (label, label_at), -1, False
        elif token == box_open:
            if label_at >= 0:
                issues.append(FormatIssue("unclosed_tag", label_at, f"{label_open} is not closed"))
                label_at = -1
            box_at = at
        elif box_at < 0:
            issues.append(FormatIssue("stray_closing_tag", at, f"{box_close} without opener"))
        else:
            if pending is None:
                issues.append(FormatIssue("bbox_without_obj", box_at, "a box without a label"))
            label, start = pending if pending is not None else ("", box_at)
            _add(reading, label, text[box_at + len(box_open) : at], start, match.end(), points, cap)
            box_at, used = -1, True  # a label may own several consecutive box markers
        if len(reading.boxes) > cap or len(reading.points) > cap:
            return reading
    if box_at >= 0:
        issues.append(FormatIssue("unclosed_tag", box_at, f"{box_open} is not closed"))
        reading.boxes.append(BoxMark(pending[0] if pending else "", None, box_at, len(text)))
    if label_at >= 0:
        issues.append(FormatIssue("unclosed_tag", label_at, f"{label_open} is not closed"))
    if pending is not None and not used:
        issues.append(FormatIssue("obj_without_bbox", pending[1], "a label without a box"))
    return reading


def _add(
    reading: Reading, label: str, content: str, start: int, end: int, points: bool, cap: int
) -> None:
    from grounding_rewards.parsing import FormatIssue

    numbers = read_numbers(content)
    if points and numbers is not None and len(numbers) == 2:
        reading.points.append(PointMark(label, (numbers[0], numbers[1]), start, end))
        return
    boxes = None if numbers is None else group(numbers, 4, cap)
    if boxes is None:
        reading.issues.append(
            FormatIssue("unparsable_bbox", start, f"cannot read boxes from {content[:40]!r}")
        )
        reading.boxes.append(BoxMark(label, None, start, end))
        return
    reading.boxes.extend(BoxMark(label, (b[0], b[1], b[2], b[3]), start, end) for b in boxes)


_QWEN2 = ("<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>")
_REF_BOX = ("<ref>", "</ref>", "<box>", "</box>")


def read_qwen2_tokens(text: str, config: RewardConfig) -> Reading:
    """Read Qwen2-VL's ``<|object_ref_start|>``/``<|box_start|>`` marks (boxes and points)."""
    return read_paired(text, config, _QWEN2, points=True)


def read_ref_box(text: str, config: RewardConfig) -> Reading:
    """Read InternVL's ``<ref>label</ref><box>[[x1, y1, x2, y2], ...]</box>`` marks."""
    return read_paired(text, config, _REF_BOX, points=False)
