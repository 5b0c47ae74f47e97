"""A multi-turn trajectory, read into its zoom calls and its final answer.

Trainers hand a trajectory over in one of two shapes:

- **one text** (veRL's ``solution_str``, EasyR1's ``response``, a TRL string completion):
  the assistant turns with the tool responses in between; calls are ``<tool_call>`` or
  ``<grounding>`` spans, and the final answer is the ``<answer>`` block written after the
  last call;
- **chat messages** (TRL conversational completions, veRL / OpenAI message lists):
  assistant messages carry calls in their text or in ``tool_calls``; the final answer is
  the last assistant message's ``<answer>`` block, when that message calls no tool.

A parsed :class:`~grounding_rewards.parsing.Trace` is read through its ``text``.

Example:
    >>> messages = [
    ...     {"role": "user", "content": "What is on the sign?"},
    ...     {"role": "assistant", "content": "<think>zoom</think>", "tool_calls": [
    ...         {"type": "function", "function": {"name": "image_zoom_in_tool",
    ...          "arguments": '{"bbox_2d": [10, 10, 60, 40]}'}}]},
    ...     {"role": "tool", "content": [{"type": "image"}]},
    ...     {"role": "assistant", "content": "<answer>B</answer>"}]
    >>> t = parse_trajectory(messages)
    >>> [c.box for c in t.calls], t.answer
    ([(10.0, 10.0, 60.0, 40.0)], 'B')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grounding_rewards._completions import _content_text
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.zoom.calls import ZoomCall, read_text_calls, read_tool_calls
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig

__all__ = ["Trajectory", "ZoomTrajectory", "parse_trajectory"]

Trajectory = str | Sequence[Mapping[str, Any]] | Mapping[str, Any] | Any
"""A string, a list of chat messages, one message, or a parsed ``Trace``."""


@dataclass(frozen=True, slots=True)
class ZoomTrajectory:
    """What a trajectory says: its zoom calls in order and its final answer.

    Attributes:
        calls: Every zoom call (at most ``max_calls + 1``).
        answer: Stripped text of the final ``<answer>`` block, or ``None``.
        issues: Why parts were not read (``not_text``, ``too_long``, ``too_many_calls``,
            ``truncated_call``, and each invalid call's reason).
    """

    calls: tuple[ZoomCall, ...]
    answer: str | None
    issues: tuple[str, ...] = ()

    @property
    def readable(self) -> bool:
        """False when the trajectory is not text, too long or holds too many calls (scores 0)."""
        return not any(i in ("not_text", "too_long", "too_many_calls") for i in self.issues)


def _answer(text: str, start: int, config: RewardConfig) -> str | None:
    opening, closing = f"<{config.answer_tag}>", f"</{config.answer_tag}>"
    at = text.rfind(opening, start)
    if at < 0:
        return None
    stop = text.find(closing, at + len(opening))
    if stop < 0:
        return None
    answer = text[at + len(opening) : stop].strip()
    return answer or None


def _finish(
    calls: list[ZoomCall], answer: str | None, issues: list[str], zoom: ZoomConfig
) -> ZoomTrajectory:
    if len(calls) > zoom.max_calls:
        issues.append("too_many_calls")
        calls = calls[: zoom.max_calls + 1]
    issues.extend(call.issue for call in calls if call.issue)
    return ZoomTrajectory(tuple(calls), answer, tuple(issues[:64]))


def _from_text(text: str, config: RewardConfig, zoom: ZoomConfig) -> ZoomTrajectory:
    if len(text) > config.max_chars:
        return ZoomTrajectory((), None, ("too_long",))
    calls, end = read_text_calls(text, zoom)
    issues = []
    for opening, _ in (("<tool_call>", ""), ("<grounding>", "")):
        if text.find(opening, end) >= 0 and text.find(opening.replace("<", "</"), end) < 0:
            issues.append("truncated_call")
    return _finish(calls, _answer(text, end, config), issues, zoom)


def _from_messages(
    messages: Sequence[Any], config: RewardConfig, zoom: ZoomConfig
) -> ZoomTrajectory:
    calls: list[ZoomCall] = []
    issues: list[str] = []
    answer: str | None = None
    total = 0
    for index, message in enumerate(messages[: zoom.max_messages]):
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        text = _content_text(message.get("content"))
        text = text if isinstance(text, str) else ""
        total += len(text)
        if total > config.max_chars:
            return ZoomTrajectory((), None, ("too_long",))
        in_text, end = read_text_calls(text, zoom)
        in_field = read_tool_calls(message.get("tool_calls"), zoom, index)
        calls.extend(in_text)
        calls.extend(in_field)
        answer = None if in_field else _answer(text, end, config)
        if len(calls) > zoom.max_calls:
            break
    return _finish(calls, answer, issues, zoom)


def parse_trajectory(
    trajectory: Trajectory,
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
) -> ZoomTrajectory:
    """Read a trajectory's zoom calls and final answer; never raises.

    Args:
        trajectory: One text, a list of chat messages, one message, or a ``Trace``.
        config: ``max_chars`` (total length read) and ``answer_tag``.
        zoom: Tool names and caps.

    Returns:
        The :class:`ZoomTrajectory`; anything unreadable gives no calls and a
        ``not_text`` issue.

    Example:
        >>> text = '<grounding>{"bbox_2d": [0, 0, 1, 1]}</grounding><answer>A</answer>'
        >>> parse_trajectory(text).answer
        'A'
        >>> parse_trajectory(42).issues
        ('not_text',)
    """
    config = config or DEFAULT_CONFIG
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    text = getattr(trajectory, "text", None)
    if isinstance(text, str) and not isinstance(trajectory, (str, Mapping)):
        trajectory = text  # a parsed Trace
    if isinstance(trajectory, str):
        return _from_text(trajectory, config, zoom)
    if isinstance(trajectory, Mapping):
        trajectory = [trajectory]
    if isinstance(trajectory, Sequence) and not isinstance(trajectory, (bytes, bytearray)):
        return _from_messages(trajectory, config, zoom)
    return ZoomTrajectory((), None, ("not_text",))
