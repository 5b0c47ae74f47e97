"""Shared number reading for the dialect readers: bounded, linear, never raising.

Example:
    >>> read_numbers("(10,20),(30,40)")
    [10.0, 20.0, 30.0, 40.0]
    >>> read_numbers("[1, 2, oops]") is None
    True
"""

from __future__ import annotations

import math
import re

__all__ = ["NUMBER", "group", "label_text", "number_text", "read_numbers"]

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(NUMBER)
_ALLOWED = re.compile(r"[\d\s.,eE+\-\[\]()<>]*")
_MAX_CHARS = 96 * 101  # a hundred boxes of long numbers; longer content is junk


def read_numbers(content: str, max_chars: int = _MAX_CHARS) -> list[float] | None:
    """Every number in ``content``, or ``None`` if it holds anything else (or nothing).

    Numbers, separators, brackets, parentheses and angle brackets are allowed; content
    longer than ``max_chars`` is junk.
    """
    if len(content) > max_chars or not _ALLOWED.fullmatch(content):
        return None
    numbers = [float(n) for n in _NUMBER.findall(content)]
    return numbers or None


def group(numbers: list[float], size: int, cap: int) -> list[tuple[float, ...]] | None:
    """Split ``numbers`` into tuples of ``size`` (at most ``cap + 1``), or ``None``."""
    if len(numbers) % size:
        return None
    numbers = numbers[: size * (cap + 1)]
    return [tuple(numbers[i : i + size]) for i in range(0, len(numbers), size)]


def number_text(value: float) -> str:
    """A number as models write it: integral values without a decimal point."""
    number = float(value)
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return repr(number)


_TAG = re.compile(r"<[^<>]{0,64}>")


def label_text(raw: str, limit: int = 200) -> str:
    """A label: tags removed, whitespace collapsed, at most ``limit`` characters."""
    return " ".join(_TAG.sub(" ", raw[-4 * limit :]).split())[-limit:]
