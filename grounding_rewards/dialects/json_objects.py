r"""The ``json`` dialect: Qwen2.5-VL / Qwen3-VL grounding objects.

Models write ``{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}`` (and
``{"point_2d": [x, y], "label": ...}`` for points), one object or a list, bare or in a
```` ```json ```` fence, anywhere in the text. What models really emit is read:
single quotes, trailing commas, keys in any order, ``[[x1, y1, x2, y2]]``. A list cut off
by the token limit keeps its complete objects; a box key whose object never closes is
reported (``truncated_json``) and not counted. A ``bbox_2d`` whose value is not numbers
(``null``, ``"1,2,3,4"``, ``[NaN, ...]``, a nested object) counts as one invalid box and
is reported (``malformed_json``).

The reader never calls ``json.loads`` on model output and never recurses: an object is
a ``{...}`` without braces inside (found in one linear scan), so nesting
``[[[[...`` a hundred thousand deep costs one pass.

Example:
    >>> from grounding_rewards import DEFAULT_CONFIG
    >>> text = "[{'label': 'cat', 'bbox_2d': [1, 2, 3, 4],}, {\"bbox_2d\": [5, 6"
    >>> reading = read_json(text, DEFAULT_CONFIG)
    >>> [(m.label, m.box) for m in reading.boxes], [i.code for i in reading.issues]
    ([('cat', (1.0, 2.0, 3.0, 4.0))], ['truncated_json'])
"""

from __future__ import annotations

import bisect
import json
import re
from typing import TYPE_CHECKING

from grounding_rewards.dialects._numbers import group, read_numbers
from grounding_rewards.dialects.marks import BoxMark, PointMark, Reading
from grounding_rewards.parsing import possessive

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = ["read_json"]

# Possessive quantifiers (no backtracking into a number, blanks or a label: what follows
# each one cannot continue it, so they match exactly what plain ones would, faster).
_N = r"\s*+([-+]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+)\s*+"
# The common case in one match: {"bbox_2d": [x1, y1, x2, y2], "label": "..."}; any other
# flat object ({...} without braces inside) is read key by key.
_OBJECT = re.compile(
    possessive(
        rf'\{{\s*+"bbox_2d"\s*+:\s*+\[{_N},{_N},{_N},{_N}\]\s*+,\s*+"label"\s*+:\s*+'
        rf'"([^"\\{{}}]*+)"\s*+\}}'
        r"|\{[^{}]*+\}"
    )
)
_KEY = re.compile(r"""["'](bbox_2d|point_2d)["']\s*:\s*""")
_VALUE = re.compile(r"\[[-+\d.eE\s,\[\]]*\]")
_LABEL = re.compile(
    r"""["']label["']\s*:\s*(?:"((?:[^"\\\n]|\\.){0,400})"|'((?:[^'\\\n]|\\.){0,400})')"""
)
_MAX_VALUE_CHARS = 96 * 101
_make_box = BoxMark._make  # tuple.__new__: several times cheaper than the constructor


def _label(text: str, start: int, end: int) -> str:
    match = _LABEL.search(text, start, end)
    if match is None:
        return ""
    double, single = match.groups()
    if double is not None:
        try:
            value = json.loads(f'"{double}"')
        except ValueError:
            value = double
        return str(value).strip()
    return (single or "").replace("\\'", "'").strip()


def read_json(text: str, config: RewardConfig) -> Reading:
    """Read every ``bbox_2d`` / ``point_2d`` object of ``text`` (see the module docs).

    Args:
        text: The completion.
        config: ``max_boxes`` caps what is read.

    Returns:
        The boxes, points and issues found.
    """
    reading = Reading()
    cap = config.max_boxes
    found = 0
    for match in _OBJECT.finditer(text):
        start, end = match.span()
        x1 = match.group(1)
        if x1 is not None:  # the common case, read in one match
            box = (float(x1), float(match.group(2)), float(match.group(3)), float(match.group(4)))
            reading.boxes.append(_make_box((match.group(5).strip(), box, start, end)))
            found += 1
        elif text.find("_2d", start, end) >= 0:
            found += _read_object(text, start, end, reading, cap)
        if len(reading.boxes) > cap or len(reading.points) > cap:
            return reading
    if text.count("bbox_2d") + text.count("point_2d") > found:
        _read_outside(text, reading)
        reading.boxes.sort(key=lambda mark: mark.start)  # in order of appearance
        reading.points.sort(key=lambda mark: mark.start)
    return reading


def _read_object(text: str, start: int, end: int, reading: Reading, cap: int) -> int:
    """Read the box and point keys of one flat object; return how many keys it had."""
    from grounding_rewards.parsing import FormatIssue

    keys = 0
    label: str | None = None
    for key in _KEY.finditer(text, start, end):
        keys += 1
        if label is None:
            label = _label(text, start, end)
        is_point = key.group(1) == "point_2d"
        value = _VALUE.match(text, key.end(), end)
        numbers = None
        if value is not None and value.end() - value.start() <= _MAX_VALUE_CHARS:
            numbers = read_numbers(value.group(0))
        items = None if numbers is None else group(numbers, 2 if is_point else 4, cap)
        if items is None:
            reading.issues.append(
                FormatIssue(
                    "malformed_json",
                    key.start(),
                    f"cannot read {key.group(1)!r} from {text[key.end() : key.end() + 40]!r}",
                )
            )
            if is_point:
                reading.points.append(PointMark(label, None, start, end))
            else:
                reading.boxes.append(BoxMark(label, None, start, end))
        elif is_point:
            reading.points.extend(PointMark(label, (p[0], p[1]), start, end) for p in items)
        else:
            reading.boxes.extend(
                BoxMark(label, (b[0], b[1], b[2], b[3]), start, end) for b in items
            )
    return keys


def _read_outside(text: str, reading: Reading) -> None:
    """Report the box and point keys that no flat object holds (cut off, or nested)."""
    from grounding_rewards.parsing import FormatIssue

    objects = [match.span() for match in _OBJECT.finditer(text)]
    starts = [start for start, _ in objects]
    last_close = text.rfind("}")
    truncated = False
    for key in _KEY.finditer(text):
        at = key.start()
        index = bisect.bisect_right(starts, at) - 1
        if index >= 0 and at < objects[index][1]:
            continue  # read with its object
        if at > last_close:  # cut off: the object never closes
            if not truncated:
                truncated = True
                reading.issues.append(
                    FormatIssue("truncated_json", at, f"{key.group(1)!r} is cut off")
                )
            continue
        # Inside something that is not a flat object (a nested value): unreadable.
        reading.issues.append(
            FormatIssue("malformed_json", at, f"{key.group(1)!r} in a nested object")
        )
        if key.group(1) == "point_2d":
            reading.points.append(PointMark("", None, at, key.end()))
        else:
            reading.boxes.append(BoxMark("", None, at, key.end()))
