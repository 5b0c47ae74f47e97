"""Normalize the completions and images that trainers hand to reward functions.

TRL passes a completion as a string (standard datasets) or as a list of messages
(conversational datasets), whose ``content`` is a string or a list of typed blocks,
and (AsyncGRPO, vLLM reasoning parsers) a ``reasoning_content`` split off the text.
Images arrive as PIL images, lists of them, or arrays.

Example:
    >>> completion_text("<answer>A</answer>")
    '<answer>A</answer>'
    >>> completion_text([{"role": "assistant", "content": "<answer>A</answer>"}])
    '<answer>A</answer>'
    >>> blocks = [{"type": "text", "text": "<answer>"}, {"type": "text", "text": "B</answer>"}]
    >>> completion_text([{"role": "assistant", "content": blocks}])
    '<answer>B</answer>'
    >>> completion_text([{"role": "assistant", "reasoning_content": "It is B.",
    ...                   "content": "<answer>B</answer>"}])
    '<think>It is B.</think><answer>B</answer>'
    >>> image_size_of(None) is None
    True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

__all__ = ["Completion", "Message", "completion_text", "image_size_of"]

Message: TypeAlias = Mapping[str, Any]
"""A chat message: ``{"role": ..., "content": text or typed blocks, ...}``."""
Completion: TypeAlias = str | Message | Sequence[Message]
"""What a trainer hands a reward as one completion: text, a message, or a conversation."""


def _content_text(content: Any) -> Any:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts)
    return content


def completion_text(completion: Any) -> Any:
    """The text to score: the completion itself, or its last assistant message.

    With tool calls a conversational completion holds several messages; the final
    assistant turn carries the reasoning and the answer, so that is what is scored.
    Anything unreadable is returned unchanged, and the parser reports it as ``not_text``
    (the completion scores 0, nothing raises).

    Args:
        completion: A string, a message dict, or a list of message dicts.

    Returns:
        The text, or ``completion`` itself when it holds none.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _message_text(completion)
    if isinstance(completion, Sequence) and completion:
        assistant = [
            m for m in completion if isinstance(m, Mapping) and m.get("role") == "assistant"
        ]
        message = assistant[-1] if assistant else completion[-1]
        if isinstance(message, Mapping):
            return _message_text(message)
    return completion


def _message_text(message: Mapping[str, Any]) -> Any:
    """A message's text, with the reasoning a response parser split off put back.

    TRL's ``parse_response`` (AsyncGRPO) and vLLM's reasoning parsers move the
    ``<think>...</think>`` block of Qwen-style output into ``reasoning_content``; the
    boxes and the format live there, so the block is restored in front of the content.
    """
    text = _content_text(message.get("content"))
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning and isinstance(text, str) and reasoning not in text:
        return f"<think>{reasoning}</think>{text}"
    return text


def image_size_of(image: Any) -> tuple[int, int] | None:
    """``(width, height)`` of a PIL image, an ``[H, W, ...]`` array, or the first of a list.

    Args:
        image: A PIL image (``.size`` is ``(width, height)``), an array with ``.shape``,
            a ``{"width": .., "height": ..}`` mapping, a list of those (the first one
            is the image the boxes refer to), or ``None``.

    Returns:
        The size, or ``None`` when it cannot be told.

    Example:
        >>> import numpy as np
        >>> image_size_of(np.zeros((48, 64, 3))), image_size_of([{"width": 5, "height": 7}])
        ((64, 48), (5, 7))
    """
    if image is None:
        return None
    if isinstance(image, Mapping):
        width, height = image.get("width"), image.get("height")
        if isinstance(width, int) and isinstance(height, int):
            return (width, height)
        return None
    size = getattr(image, "size", None)
    if isinstance(size, tuple) and len(size) == 2:
        return (int(size[0]), int(size[1]))
    shape = getattr(image, "shape", None)
    if isinstance(shape, tuple) and len(shape) >= 2:
        return (int(shape[1]), int(shape[0]))
    if isinstance(image, Sequence) and not isinstance(image, (str, bytes)) and image:
        return image_size_of(image[0])
    return None
