"""Seeded adversarial completions for the audit's crash and range checks.

The audit runs without hypothesis (it is a runtime tool), so this generator uses
:class:`random.Random` with a seed: the same seed gives the same completions. It
mixes well-formed pieces with the things that break parsers: mis-cased, nested
and unclosed tags, tags with attributes, NaN/inf/1e309, integers thousands of
digits long, non-ASCII digits, NUL bytes, and now and then thousands of tags;
marks are written in the audit's dialect too.

Example:
    >>> import random
    >>> from grounding_rewards.audit.scenarios import SCENARIOS, TraceWriter
    >>> texts = fuzz_completions(TraceWriter(SCENARIOS[0]), random.Random(0), 5)
    >>> len(texts), all(isinstance(t, str) for t in texts)
    (5, True)
    >>> texts == fuzz_completions(TraceWriter(SCENARIOS[0]), random.Random(0), 5)
    True
"""

from __future__ import annotations

import random

from grounding_rewards.audit.scenarios import TraceWriter

__all__ = ["NASTY_NUMBERS", "fuzz_completions"]

NASTY_NUMBERS: tuple[str, ...] = (
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "1e30",
    "-1e30",
    "9" * 400,
    "9" * 5000,
    "0",
    "-0",
    "+5",
    "5.",
    ".5",
    "--3",
    "1_000",
    "0x1F",
    "١٢٣",
    "１２３",
    "1e",
    "e5",
    "",
    " ",
    "12.34.56",
    "3,5",
)
"""Number texts that trip parsers: non-finite, overflowing, malformed, non-ASCII digits."""


def _number(rng: random.Random, limit: float) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(NASTY_NUMBERS)
    if roll < 0.7:
        return str(rng.randint(-50, int(limit) + 50))
    return f"{rng.uniform(-0.5, 1.5) * limit:.{rng.randint(0, 6)}f}"


def _box(rng: random.Random, limit: float) -> str:
    count = rng.choice((4, 4, 4, 3, 5, 8, 0, 2))
    numbers = ", ".join(_number(rng, limit) for _ in range(count))
    return rng.choice(("[{}]", "({})", "{}", "[[{}]]", "[{}", "{}]")).format(numbers)


def _tag(rng: random.Random, name: str) -> str:
    variant = rng.random()
    if variant < 0.6:
        written = name
    elif variant < 0.75:
        written = name.upper()
    elif variant < 0.85:
        written = name.title()
    else:
        written = name + rng.choice((" ", " x=1", "/", "\x00"))
    return f"<{rng.choice(('', '/'))}{written}>"


def _piece(rng: random.Random, w: TraceWriter, limit: float) -> str:
    s = w.settings
    roll = rng.random()
    if roll < 0.3:
        label = rng.choice((*w.scenario.labels, "", " ", "<obj>", "a" * 300, "狗"))
        if s.dialect != "tags" and rng.random() < 0.7:
            size = 2 if w.points else 4
            return w.render([(label, tuple(_number(rng, limit) for _ in range(size)))])
        box = _box(rng, limit)
        tag = s.point_tag if w.points else s.bbox_tag
        return f"<{s.obj_tag}>{label}</{s.obj_tag}><{tag}>{box}</{tag}>"
    if roll < 0.5:
        return _tag(rng, rng.choice((s.think_tag, s.answer_tag, s.obj_tag, s.bbox_tag)))
    if roll < 0.6:
        words = w.scenario.letters or w.scenario.labels
        return rng.choice(words) + rng.choice((")", ".", " or ", ""))
    if roll < 0.7:
        return "".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 30)))
    if roll < 0.75:
        depth = rng.randint(2, 60)
        tag = rng.choice((s.think_tag, s.answer_tag, s.obj_tag))
        return f"<{tag}>" * depth + "x" + f"</{tag}>" * rng.randint(0, depth)
    return rng.choice(
        (" ", "\n", "The answer is ", "I see ", "<", ">", "</", "[", "]", "<<>>", "\x00")
    )


def fuzz_completions(writer: TraceWriter, rng: random.Random, count: int) -> list[str]:
    """``count`` adversarial completions for ``writer``'s scenario.

    Args:
        writer: Scenario and settings (tag names, image size).
        rng: The random source (seed it for reproducible audits).
        count: How many completions.

    Returns:
        The completions; one in twenty has thousands of tags.
    """
    limit = float(max(writer.scenario.image_size))
    out = []
    for _ in range(count):
        if rng.random() < 0.05:
            piece = _piece(rng, writer, limit)
            out.append(f"<{writer.settings.think_tag}>" + piece * rng.randint(1000, 5000))
            continue
        pieces = [_piece(rng, writer, limit) for _ in range(rng.randint(1, 40))]
        if rng.random() < 0.5:  # often wrap in a plausible template, so deeper code runs
            t, a = writer.settings.think_tag, writer.settings.answer_tag
            cut = rng.randint(0, len(pieces))
            pieces = [f"<{t}>", *pieces[:cut], f"</{t}><{a}>", *pieces[cut:], f"</{a}>"]
        out.append("".join(pieces))
    return out
