r"""Read zoom calls from model output, in the syntaxes the field uses.

============  =========================================================================  ========
syntax        what the model writes                                                      coords
============  =========================================================================  ========
deepeyes      ``<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [..]}}``  config
mini-o3       ``<grounding>{"bbox_2d": [..], "source": "observation_1"}</grounding>``       0-1
function      an assistant message's ``tool_calls`` (Qwen / OpenAI function calling)      config
============  =========================================================================  ========

Any call may name the view it zooms into with ``"source"`` (``"original_image"`` or
``"observation_i"``); without it the call is on the original image.

Model output is untrusted. The readers never raise, never call ``json.loads`` on it and never
recurse: a call is a ``<tool_call>`` ... ``</tool_call>`` span found with ``str.find``
(one pass), its body is capped (``max_call_chars``) and read with bounded regular
expressions, and at most ``max_calls + 1`` calls are kept.

Example:
    >>> text = ('<tool_call>{"name": "image_zoom_in_tool", "arguments": '
    ...         '{"bbox_2d": [10, 20, 50, 60], "label": "cat"}}</tool_call> ... '
    ...         '<grounding>{"bbox_2d": [0, 0, 0.5, 0.5], "source": "observation_1"}</grounding>')
    >>> for c in read_text_calls(text)[0]:
    ...     print(c.syntax, c.box, c.source, c.label)
    deepeyes (10.0, 20.0, 50.0, 60.0) None cat
    mini-o3 (0.0, 0.0, 0.5, 0.5) observation_1
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from grounding_rewards.dialects._numbers import read_numbers
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.views import Box

__all__ = [
    "CALL_TAGS",
    "Syntax",
    "ZoomCall",
    "read_arguments",
    "read_text_calls",
    "read_tool_calls",
]

Syntax = Literal["deepeyes", "mini-o3", "function"]
CALL_TAGS: dict[str, tuple[str, str]] = {
    "deepeyes": ("<tool_call>", "</tool_call>"),
    "mini-o3": ("<grounding>", "</grounding>"),
}
"""The opening and closing tag of each text syntax."""

_Q = r"""\\?["']"""  # a quote, maybe escaped (arguments given as a JSON-encoded string)
_NAME = re.compile(_Q + r"name" + _Q + r"\s*:\s*" + _Q + r"""([^"'\\\n]{1,128})""")
_BOX_KEY = re.compile(_Q + r"(?:bbox_2d|bbox)" + _Q + r"\s*:\s*")
_VALUE = re.compile(r"\[[-+\d.eE\s,\[\]]{0,512}\]")
_SOURCE = re.compile(_Q + r"(?:source|image)" + _Q + r"\s*:\s*" + _Q + r"([\w -]{0,48})" + _Q)
_LABEL = re.compile(_Q + r"label" + _Q + r"\s*:\s*" + _Q + r"""([^"'\\\n]{0,200})""")


@dataclass(frozen=True, slots=True)
class ZoomCall:
    """One zoom call as the model wrote it.

    Attributes:
        syntax: ``deepeyes``, ``mini-o3`` or ``function``.
        box: ``(x1, y1, x2, y2)`` as written (its space depends on the syntax), or
            ``None`` when it cannot be read as four finite numbers.
        source: The view it zooms into (``"observation_2"``), or ``None`` for the original.
        label: What the model says it zooms on (may be empty).
        offset: Character offset in the text (text syntaxes) or message index (function).
        issue: Why ``box`` is ``None``; empty otherwise.
    """

    syntax: Syntax
    box: Box | None
    source: str | None = None
    label: str = ""
    offset: int = 0
    issue: str = ""


def _box_of(numbers: Any) -> Box | None:
    if not isinstance(numbers, list) or len(numbers) != 4:
        return None
    values = []
    for n in numbers:
        if isinstance(n, bool) or not isinstance(n, (int, float)):
            return None
        value = float(n)
        if not math.isfinite(value):
            return None
        values.append(value)
    return (values[0], values[1], values[2], values[3])


def read_arguments(body: str, syntax: Syntax, offset: int = 0) -> ZoomCall:
    """Read one call's box, source and label from its (capped) body text.

    Args:
        body: The call's text (a JSON object, possibly malformed or JSON-encoded).
        syntax: The syntax it was written in.
        offset: Where it starts.

    Returns:
        The :class:`ZoomCall` (with ``box=None`` and an ``issue`` when unreadable).

    Example:
        >>> read_arguments('{"bbox_2d": [[1, 2, 3, 4]]}', "mini-o3").box
        (1.0, 2.0, 3.0, 4.0)
        >>> read_arguments('{"bbox_2d": [1, 2, 3]}', "mini-o3").issue
        'expected bbox_2d as four numbers'
    """
    source_match = _SOURCE.search(body)
    source = source_match.group(1).strip() if source_match else None
    label_match = _LABEL.search(body)
    label = label_match.group(1).strip() if label_match else ""
    key = _BOX_KEY.search(body)
    if key is None:
        return ZoomCall(syntax, None, source, label, offset, "no bbox_2d")
    value = _VALUE.match(body, key.end())
    numbers = None if value is None else read_numbers(value.group(0))
    box = _box_of(numbers)
    if box is None:
        return ZoomCall(syntax, None, source, label, offset, "expected bbox_2d as four numbers")
    return ZoomCall(syntax, box, source, label, offset)


def _is_zoom(body: str, zoom: ZoomConfig) -> bool:
    name = _NAME.search(body)
    return name is not None and name.group(1).strip() in zoom.tool_names


def read_text_calls(text: str, zoom: ZoomConfig | None = None) -> tuple[list[ZoomCall], int]:
    """Every zoom call written in ``text`` (``<tool_call>`` and ``<grounding>``), in order.

    A ``<tool_call>`` counts when its ``name`` is one of ``zoom.tool_names`` (calls to
    other tools are not zoom calls); one whose body exceeds ``max_call_chars`` counts as an
    invalid call. An unclosed tag ends the reading (the tool never ran it).

    Args:
        text: Model output (a whole multi-turn text, or one assistant turn).
        zoom: ``tool_names``, ``max_calls`` and ``max_call_chars``.

    Returns:
        ``(calls, end)``: at most ``max_calls + 1`` calls, and the offset just after the
        last one (0 when there is none), where the final answer is looked for.
    """
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    found: list[tuple[int, int, ZoomCall]] = []
    for syntax, (opening, closing) in CALL_TAGS.items():
        at = 0
        kept = 0
        while kept <= zoom.max_calls:
            start = text.find(opening, at)
            if start < 0:
                break
            body_start = start + len(opening)
            stop = text.find(closing, body_start)
            if stop < 0:
                break
            at = stop + len(closing)
            if stop - body_start > zoom.max_call_chars:
                call = ZoomCall(syntax, None, None, "", start, "call longer than max_call_chars")  # type: ignore[arg-type]
            else:
                body = text[body_start:stop]
                if syntax == "deepeyes" and not _is_zoom(body, zoom):
                    continue
                call = read_arguments(body, syntax, start)  # type: ignore[arg-type]
            found.append((start, at, call))
            kept += 1
    found.sort(key=lambda item: item[0])
    calls = [call for _, _, call in found[: zoom.max_calls + 1]]
    end = max((stop for _, stop, _ in found), default=0)
    return calls, end


def _function_of(item: Any) -> tuple[Any, Any]:
    if not isinstance(item, Mapping):
        return None, None
    function = item.get("function", item)
    if not isinstance(function, Mapping):
        return None, None
    return function.get("name"), function.get("arguments")


def read_tool_calls(
    tool_calls: Any, zoom: ZoomConfig | None = None, offset: int = 0
) -> list[ZoomCall]:
    """Zoom calls from an assistant message's ``tool_calls`` (function calling).

    Each item is ``{"type": "function", "function": {"name": ..., "arguments": ...}}``
    (or the function itself); ``arguments`` is a JSON string or a dict.

    Args:
        tool_calls: The message's ``tool_calls`` value (anything: it is checked).
        zoom: ``tool_names``, ``max_calls`` and ``max_call_chars``.
        offset: The message's index, recorded on each call.

    Returns:
        At most ``max_calls + 1`` calls.

    Example:
        >>> item = {"type": "function", "function": {"name": "image_zoom_in_tool",
        ...         "arguments": {"bbox_2d": [1, 2, 3, 4], "source": "observation_1"}}}
        >>> [(c.box, c.source) for c in read_tool_calls([item])]
        [((1.0, 2.0, 3.0, 4.0), 'observation_1')]
    """
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    if not isinstance(tool_calls, Sequence) or isinstance(tool_calls, (str, bytes)):
        return []
    calls: list[ZoomCall] = []
    for item in tool_calls[: zoom.max_calls + 1]:
        name, arguments = _function_of(item)
        if not isinstance(name, str) or name.strip() not in zoom.tool_names:
            continue
        if isinstance(arguments, str):
            if len(arguments) > zoom.max_call_chars:
                calls.append(
                    ZoomCall("function", None, None, "", offset, "call longer than max_call_chars")
                )
            else:
                calls.append(read_arguments(arguments, "function", offset))
        elif isinstance(arguments, Mapping):
            calls.append(_from_mapping(arguments, offset))
        else:
            calls.append(
                ZoomCall("function", None, None, "", offset, "expected arguments as a dict or JSON")
            )
    return calls


def _from_mapping(arguments: Mapping[Any, Any], offset: int) -> ZoomCall:
    raw = arguments.get("bbox_2d", arguments.get("bbox"))
    if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
        raw = raw[0]
    source = arguments.get("source", arguments.get("image"))
    label = arguments.get("label")
    source_text = source.strip()[:48] if isinstance(source, str) else None
    label_text = label.strip()[:200] if isinstance(label, str) else ""
    box = _box_of(raw)
    issue = "" if box is not None else "expected bbox_2d as four numbers"
    return ZoomCall("function", box, source_text, label_text, offset, issue)
