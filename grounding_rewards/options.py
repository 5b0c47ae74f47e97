"""Read the multiple-choice option an answer names, refusing anything ambiguous.

Accepted: ``B``, ``(B)``, ``B.``, ``b`` (a lone lowercase letter only when it is the
whole answer), ``B) white``, ``Option B``, ``The answer is B``, or the option's own
text when the choices are given. An empty answer, or one naming several options
("A or B", "(A) and (C)"), names none. Letters run from A to the number of choices
(A-Z when no choices are given); inside a sentence only an uppercase letter counts.

Example:
    >>> [extract_option(a) for a in ["B", "(b)", "B) white", "The answer is C.", "A or B", ""]]
    ['B', 'B', 'B', 'C', None, None]
    >>> extract_option("a white helmet", choices=["black helmet", "white helmet"])
    'B'
    >>> extract_option("E", choices=["x", "y", "z", "w"]) is None
    True
    >>> extract_option("y", choices=["x", "y"])  # a lone out-of-range letter that is an option text
    'B'
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = ["extract_option", "option_letters"]

_WHOLE = re.compile(r"[\(\[]?\s*([A-Za-z])\s*[\)\]]?\s*[.:]?")
# Explicit option markers: "(B)", "B)", "B." / "B:" followed by a space or the end,
# "option B", "choice B", "answer is B", "answer: B".
_MARKED = re.compile(
    r"\(([A-Za-z])\)"
    r"|(?<![\w(.])([A-Z])[.):](?=\s|$)"
    r"|(?i:\b(?:option|choice|answer\s+is|answer\s*:))\s*\(?([A-Z])\b"
)
_BARE = re.compile(r"\b([A-Z])\b")
_NORMALIZE = re.compile(r"[^\w\s]+")
_ARTICLES = frozenset({"a", "an", "the"})


def option_letters(n_choices: int | None) -> str:
    """Letters that name an option: ``A`` to the ``n_choices``-th letter, or ``A-Z``.

    Args:
        n_choices: Number of choices, or ``None`` when unknown.

    Returns:
        The allowed letters.

    Example:
        >>> option_letters(4)
        'ABCD'
    """
    if n_choices is None or n_choices >= 26:
        return string.ascii_uppercase
    return string.ascii_uppercase[: max(n_choices, 0)]


def _normalize(text: str) -> str:
    words = _NORMALIZE.sub(" ", text.lower()).split()
    return " ".join(w for w in words if w not in _ARTICLES)


def extract_option(answer: str | None, *, choices: Sequence[str] | None = None) -> str | None:
    """Return the single option letter ``answer`` names, or ``None``.

    Args:
        answer: The answer text (the content of the answer block).
        choices: The option texts in order (A, B, ...), when known.

    Returns:
        An uppercase letter, or ``None`` for an empty, ambiguous or out-of-range answer.

    Example:
        >>> extract_option("Option D", choices=["a", "b", "c"]) is None
        True
        >>> extract_option("(A) or (B)") is None
        True
    """
    if not answer:
        return None
    text = answer.strip()
    if not text:
        return None
    allowed = option_letters(len(choices) if choices is not None else None)
    whole = _WHOLE.fullmatch(text)
    if whole:
        letter = whole.group(1).upper()
        if letter in allowed:
            return letter
    if choices:  # the option's own text (also a one-letter text such as "y")
        wanted = _normalize(text)
        hits = [i for i, choice in enumerate(choices) if _normalize(choice) == wanted]
        if len(hits) == 1:
            return allowed[hits[0]]
    if whole:
        return None
    # Every explicitly marked letter counts, in range or not: "(A) or (E)" names two.
    marked = {(a or b or c).upper() for a, b, c in _MARKED.findall(text)}
    if marked:
        letter = marked.pop()
        return letter if not marked and letter in allowed else None
    bare = set(_BARE.findall(text)) & set(allowed)
    return bare.pop() if len(bare) == 1 else None
