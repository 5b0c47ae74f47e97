"""Parse a completion into a :class:`Trace`: reasoning, answer and grounded spans.

A grounded trace looks like::

    <think>The <obj>man</obj><bbox>[212, 88, 405, 610]</bbox> rides ...</think>
    <answer>B</answer>

:func:`parse_trace` reads it in one linear pass over the tags. Model output is
untrusted: the parser never raises, never evaluates anything, caps the input length
and the number of boxes, and reports every deviation as a :class:`FormatIssue`
with a stable ``code``, the character ``offset`` and a message.

Example:
    >>> trace = parse_trace(
    ...     "<think>The <obj>cat</obj><bbox>[10, 20, 110, 220]</bbox> sleeps.</think>"
    ...     "<answer>B</answer>"
    ... )
    >>> trace.answer, trace.issues
    ('B', ())
    >>> trace.spans[0].label, trace.spans[0].box, trace.spans[0].region
    ('cat', (10.0, 20.0, 110.0, 220.0), 'think')
    >>> [issue.code for issue in parse_trace("<think>x</think>").issues]
    ['missing_answer']
"""

from __future__ import annotations

import bisect
import math
import numbers
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

from grounding_rewards._frozen import rebuild
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.dialects.marks import Reading
from grounding_rewards.dialects.registry import get_dialect

if TYPE_CHECKING:
    from grounding_rewards.config import BoxRegion

__all__ = [
    "ISSUE_CODES",
    "Box",
    "FormatIssue",
    "GroundedPoint",
    "GroundedSpan",
    "Point",
    "Region",
    "Trace",
    "format_box",
    "format_span",
    "parse_trace",
]

Box: TypeAlias = tuple[float, float, float, float]
Point: TypeAlias = tuple[float, float]
Region: TypeAlias = Literal["think", "answer", "outside"]

ISSUE_CODES: dict[str, str] = {
    "not_text": "the completion is not a string",
    "too_long": "the completion is longer than max_chars",
    "too_many_boxes": "more boxes than max_boxes",
    "missing_think": "no reasoning block",
    "missing_answer": "no answer block",
    "empty_answer": "the answer block is empty",
    "duplicate_block": "a second reasoning or answer block",
    "nested_tag": "a tag opened inside a block it cannot nest in",
    "unclosed_tag": "a tag is never closed",
    "stray_closing_tag": "a closing tag without its opening tag",
    "misordered_blocks": "the answer comes before the reasoning",
    "text_outside_blocks": "non-blank text outside the reasoning and answer blocks",
    "obj_without_bbox": "an object label not followed by a box",
    "bbox_without_obj": "a box not preceded by an object label",
    "empty_label": "an object label is empty",
    "unparsable_bbox": "a box tag whose content is not 4 numbers per box",
    "unparsable_point": "a point whose content is not 2 numbers per point",
    "degenerate_box": "a box with x1 >= x2, y1 >= y2 or a non-finite coordinate",
    "degenerate_point": "a point with a non-finite coordinate",
    "malformed_json": "a JSON object with a box or point that cannot be read",
    "truncated_json": "a JSON box or point cut off before its object closes",
    "miscased_tag": "a known tag written in other letter case",
    "box_out_of_image": "a box lies outside the image",
    "too_few_spans": "fewer grounded spans than min_spans",
}
"""Every issue code, with what it means. Codes are stable: dashboards may key on them."""

_NAN_BOX: Box = (math.nan, math.nan, math.nan, math.nan)
_NAN_POINT: Point = (math.nan, math.nan)
_BIG = sys.maxsize
_MAX_ISSUES = 64  # enough to debug a completion; bounded for adversarial ones
_MAX_BOX_CHARS_PER_BOX = 96  # "[-123456.789, ...]" fits easily; longer content is junk
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_BOX_CHARS = re.compile(r"[\d\s.,eE+\-\[\]()]*")


@dataclass(frozen=True, slots=True)
class FormatIssue:
    """One deviation from the trace format.

    Attributes:
        code: Stable identifier, a key of :data:`ISSUE_CODES`.
        offset: Character offset in the completion where it was found.
        message: Human-readable detail.
    """

    code: str
    offset: int
    message: str

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


class GroundedSpan(NamedTuple):
    """One ``<obj>label</obj><bbox>box</bbox>`` mention (one per box of a plural object).

    An immutable named tuple: it is built once per box on the reward's hot path, where
    a tuple is several times cheaper to create than a frozen dataclass.

    Attributes:
        label: The object label, stripped; empty when the box had no ``<obj>``.
        box: ``(x1, y1, x2, y2)`` in the model's coordinate space, as written;
            all NaN when the box could not be parsed.
        start: Offset of the span's first character (the ``<obj>`` tag, or the
            ``<bbox>`` tag when there is no label).
        end: Offset just past the closing box tag.
        region: Block the box was written in: ``think``, ``answer`` or ``outside``.
        valid: Whether the box is finite with ``x1 < x2`` and ``y1 < y2``.
    """

    label: str
    box: Box
    start: int
    end: int
    region: Region = "think"
    valid: bool = True


class GroundedPoint(NamedTuple):
    """One pointed-at object: ``<obj>label</obj><point>[x, y]</point>`` or a dialect's point.

    Attributes:
        label: The object label, stripped; empty when the point had none.
        point: ``(x, y)`` in the model's coordinate space, as written; NaN when unreadable.
        start: Offset of the mention's first character.
        end: Offset just past the mention.
        region: Block the point was written in: ``think``, ``answer`` or ``outside``.
        valid: Whether both coordinates are finite.
    """

    label: str
    point: Point
    start: int
    end: int
    region: Region = "think"
    valid: bool = True


@dataclass(frozen=True, slots=True)
class Trace:
    """A parsed completion.

    Attributes:
        think: Text of the reasoning block, or ``None`` when there is none.
        answer: Stripped text of the first answer block, or ``None``.
        spans: Every grounded span, in order of appearance (capped at ``max_boxes + 1``).
        issues: Every format issue found (capped at 64), empty for a clean trace.
        answer_blocks: How many answer blocks were opened; more than one names
            several answers, which the option reward scores 0.
        points: Every grounded point, in order of appearance (capped like spans).
        blockless: The completion has no ``<think>``/``<answer>`` tag at all and its
            dialect allows that (every dialect but ``tags``, unless ``require_blocks``):
            its boxes and points count wherever they are written.
        text: The completion that was parsed (``""`` for one that was not text).
    """

    think: str | None
    answer: str | None
    spans: tuple[GroundedSpan, ...]
    issues: tuple[FormatIssue, ...]
    answer_blocks: int = 0
    points: tuple[GroundedPoint, ...] = ()
    blockless: bool = False
    text: str = field(default="", repr=False)

    def has_issue(self, code: str) -> bool:
        """Return whether an issue with ``code`` was found.

        Args:
            code: An issue code from :data:`ISSUE_CODES`.

        Returns:
            True when at least one issue has that code.
        """
        return any(issue.code == code for issue in self.issues)

    def counted_spans(self, config: RewardConfig | None = None) -> tuple[GroundedSpan, ...]:
        """Return the spans inside ``config.box_region``: the boxes that count in ``n``.

        Args:
            config: Configuration; ``None`` uses the defaults.

        Returns:
            The spans written in the configured region (all of them for ``anywhere``).

        Example:
            >>> t = parse_trace("<think><obj>a</obj><bbox>[0,0,1,1]</bbox></think>"
            ...                 "<answer><obj>b</obj><bbox>[0,0,2,2]</bbox></answer>")
            >>> [s.label for s in t.counted_spans()]
            ['a']
            >>> [s.label for s in t.counted_spans(RewardConfig(box_region="anywhere"))]
            ['a', 'b']
        """
        region: BoxRegion = (config or DEFAULT_CONFIG).box_region
        if region == "anywhere" or self.blockless:
            return self.spans
        return tuple([span for span in self.spans if span.region == region])

    def counted_points(self, config: RewardConfig | None = None) -> tuple[GroundedPoint, ...]:
        """Return the points inside ``config.box_region``: the points that count in ``n``.

        Args:
            config: Configuration; ``None`` uses the defaults.

        Returns:
            The points written in the configured region (all of them for ``anywhere``
            or a blockless completion).

        Example:
            >>> t = parse_trace("<think><obj>a</obj><point>[3, 4]</point></think>")
            >>> [(p.label, p.point) for p in t.counted_points()]
            [('a', (3.0, 4.0))]
        """
        region: BoxRegion = (config or DEFAULT_CONFIG).box_region
        if region == "anywhere" or self.blockless:
            return self.points
        return tuple([point for point in self.points if point.region == region])

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through the constructor (works compiled too, see ``_frozen``)."""
        return rebuild(self)


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
# The same numbers with possessive quantifiers (Python >= 3.11): no backtracking into a
# number, a label or blanks, which could never lead to another match (what follows each
# one cannot continue it), so the patterns below match exactly what they would without,
# about a third faster.
_NUM_FAST = r"[-+]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][-+]?+\d++)?+"
_NUMBER_FAST = rf"\s*+({_NUM_FAST})\s*+"


_POSSESSIVE: bool = sys.version_info >= (3, 11)


def possessive(pattern: str) -> str:
    r"""``pattern`` as written on Python >= 3.11; without its possessive quantifiers before.

    Python 3.10's ``re`` has no possessive quantifiers; the plain ones match the same.

    Example:
        >>> possessive(r"\d++") in (r"\d++", r"\d+")
        True
    """
    if _POSSESSIVE:
        return pattern
    return pattern.replace("*+", "*").replace("++", "+").replace("?+", "?")


@lru_cache(maxsize=64)
def _tag_pattern(think: str, answer: str, obj: str, bbox: str, point: str) -> re.Pattern[str]:
    """Token pattern of the one pass.

    A token is either a whole well-formed one-box span (the common case: one match
    instead of four) or any single known tag in any letter case.
    """
    o, b = re.escape(obj), re.escape(bbox)
    number = _NUMBER_FAST
    span = rf"<{o}>([^<>]*+)</{o}>\s*+<{b}>\[{number},{number},{number},{number}\]</{b}>"
    names = "|".join(re.escape(name) for name in (think, answer, obj, bbox, point))
    return re.compile(possessive(rf"{span}|<(/?)((?i:{names}))>"))


@lru_cache(maxsize=64)
def _fast_plan(
    think: str, answer: str, obj: str, bbox: str
) -> tuple[str, str, str, str, re.Pattern[str]]:
    """The four block tags and the span pattern of :func:`_fast_trace`.

    The span pattern reads ``<obj>label</obj>`` (no ``<`` or ``>`` in the label), blank
    text, then either a well-formed one-box ``<bbox>`` (its four numbers: exactly the
    first alternative of :func:`_tag_pattern`) or any ``<bbox>`` content without ``<`` or
    ``>`` (a plural box, or content the general pass would read as tags and then
    :func:`_parse_boxes`).
    """
    o, b = re.escape(obj), re.escape(bbox)
    number = _NUMBER_FAST
    pattern = re.compile(
        possessive(
            rf"<{o}>([^<>]*+)</{o}>\s*+<{b}>"
            rf"(?:\[{number},{number},{number},{number}\]|([^<>]*+))</{b}>"
        )
    )
    return f"<{think}>", f"</{think}>", f"<{answer}>", f"</{answer}>", pattern


_PLANS: dict[int, tuple[RewardConfig, tuple[str, str, str, str, re.Pattern[str]]]] = {}


def _plan(config: RewardConfig) -> tuple[str, str, str, str, re.Pattern[str]]:
    """:func:`_fast_plan` of ``config``, looked up by identity (the entry keeps it alive)."""
    entry = _PLANS.get(id(config))
    if entry is not None and entry[0] is config:
        return entry[1]
    plan = _fast_plan(config.think_tag, config.answer_tag, config.obj_tag, config.bbox_tag)
    if len(_PLANS) >= 64:
        _PLANS.clear()
    _PLANS[id(config)] = (config, plan)
    return plan


_make_span = GroundedSpan._make  # tuple.__new__: several times cheaper than the constructor


def _blocks_in_order(
    text: str, plan: tuple[str, str, str, str, re.Pattern[str]]
) -> tuple[int, int, int, int] | None:
    """Content offsets of a reasoning block then an answer block, or ``None``.

    Returns ``(think_start, think_end, answer_start, answer_end)`` when the four block
    tags stand in order with only blank text before and between the blocks. The tags
    are found by plain search, as written (no other letter case).
    """
    think_open, think_close, answer_open, answer_close, _ = plan
    i = text.find(think_open)
    if i < 0 or (i and not text[:i].isspace()):
        return None
    think_start = i + len(think_open)
    j = text.find(think_close, think_start)
    if j < 0:
        return None
    after_think = j + len(think_close)
    a = text.find(answer_open, after_think)
    if a < 0 or (a > after_think and not text[after_think:a].isspace()):
        return None
    answer_start = a + len(answer_open)
    b = text.find(answer_close, answer_start)
    if b < 0:
        return None
    return think_start, j, answer_start, b


def _canonical_blocks(
    text: str, plan: tuple[str, str, str, str, re.Pattern[str]]
) -> tuple[int, int, str] | None:
    """``(think_start, think_end, answer)`` of the canonical block shape, or ``None``.

    The shape: the blocks in order (:func:`_blocks_in_order`), blank text after the
    answer block, and no ``<`` in the answer (its raw text, not stripped). What lies in
    the reasoning is left to the caller.
    """
    blocks = _blocks_in_order(text, plan)
    if blocks is None:
        return None
    think_start, think_end, answer_start, answer_end = blocks
    end = answer_end + len(plan[3])
    if end < len(text) and not text[end:].isspace():
        return None
    answer = text[answer_start:answer_end]
    if "<" in answer:
        return None
    return think_start, think_end, answer


def _fast_trace(text: str, config: RewardConfig) -> Trace | None:
    """The trace of a completion in the canonical shape, or ``None`` for the general pass.

    The canonical shape: blank text, ``<think>``, reasoning, ``</think>``, blank text,
    ``<answer>``, an answer without ``<``, ``</answer>``, blank text, where every ``<``
    of the reasoning opens a tag of a span read by the pattern of :func:`_fast_plan`.
    Then every tag of the completion is accounted for, so the general pass would meet
    exactly these tags in this order, and its trace is the one built here (same spans,
    same issues in the same order, same messages): tested against :meth:`_Parser.run`
    on every shape the property strategies write and on the benchmark corpus. Anything
    else (a stray ``<``, a mis-cased or missing tag, more boxes than ``max_boxes`` or
    issues than the general pass keeps) returns ``None``.
    """
    plan = _plan(config)
    blocks = _canonical_blocks(text, plan)
    if blocks is None:
        return None
    think_start, j, answer = blocks
    pattern = plan[4]
    tags = text.count("<", think_start, j)
    if tags % 4:
        return None
    spans: list[GroundedSpan] = []
    issues: list[FormatIssue] = []
    if tags:
        max_boxes = config.max_boxes
        found = 0
        for match in pattern.finditer(text, think_start, j):
            raw, n1, n2, n3, n4, content = match.groups()
            at = match.start()
            stop = match.end()
            found += 1
            label = raw.strip()
            if not label:
                issues.append(FormatIssue("empty_label", at, "the object label is empty"))
            boxes: list[Box]
            if content is None:
                boxes = [(float(n1), float(n2), float(n3), float(n4))]
            else:
                parsed = _parse_boxes(content, max_boxes)
                if parsed is None:
                    bbox_at = match.start(6) - len(config.bbox_tag) - 2
                    issues.append(
                        FormatIssue(
                            "unparsable_bbox", bbox_at, f"cannot read boxes from {content[:40]!r}"
                        )
                    )
                    spans.append(_make_span((label, _NAN_BOX, at, stop, "think", False)))
                    continue
                boxes = parsed
            for box in boxes:
                x1, y1, x2, y2 = box
                # NaN fails every comparison; the differences catch inf and overflow.
                valid = x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)
                if not valid:
                    issues.append(FormatIssue("degenerate_box", at, f"degenerate box {box}"))
                spans.append(_make_span((label, box, at, stop, "think", valid)))
        # A "<" that is not a span's, or more boxes or issues than the general pass
        # keeps: it decides.
        if found * 4 != tags or len(spans) > max_boxes or len(issues) >= _MAX_ISSUES:
            return None
    answer = answer.strip()
    if not answer:
        issues.append(
            FormatIssue("empty_answer", len(text), f"the <{config.answer_tag}> block is empty")
        )
    return Trace(text[think_start:j], answer, tuple(spans), tuple(issues), 1, (), False, text)


@lru_cache(maxsize=64)
def _block_pattern(think: str, answer: str) -> re.Pattern[str]:
    """The block tags alone, for dialects that write boxes in their own syntax."""
    names = "|".join(re.escape(name) for name in (think, answer))
    return re.compile(rf"<(/?)((?i:{names}))>")


class _Parser:
    """The state of one linear pass; a fresh instance per call keeps parsing thread-safe."""

    __slots__ = (
        "answer",
        "answer_blocks",
        "answer_state",
        "block",
        "block_start",
        "blocks",
        "config",
        "issues",
        "outside_from",
        "points",
        "reported",
        "spans",
        "text",
        "think",
        "think_state",
    )

    def __init__(self, text: str, config: RewardConfig) -> None:
        self.text = text
        self.config = config
        self.issues: list[FormatIssue] = []
        self.reported: set[str] = set()
        self.spans: list[GroundedSpan] = []
        self.points: list[GroundedPoint] = []
        self.blocks: list[tuple[int, int, Region]] = []  # (start, end, region) of closed blocks
        self.think: str | None = None
        self.answer: str | None = None
        self.block: str | None = None  # "think" / "answer" while one is open
        self.block_start = 0
        self.think_state = 0  # 0 not seen, 1 open, 2 closed
        self.answer_state = 0
        self.answer_blocks = 0
        self.outside_from = 0  # start of the current stretch outside any block

    def issue(self, code: str, offset: int, message: str) -> None:
        if len(self.issues) < _MAX_ISSUES:
            self.issues.append(FormatIssue(code, offset, message))

    def issue_once(self, code: str, offset: int, message: str) -> None:
        if code not in self.reported:
            self.reported.add(code)
            self.issue(code, offset, message)

    def run(self, blocks_optional: bool = False) -> Trace:
        config = self.config
        text = self.text
        names = (
            config.think_tag,
            config.answer_tag,
            config.obj_tag,
            config.bbox_tag,
            config.point_tag,
        )
        think_tag, _, obj_tag, bbox_tag, point_tag = names
        lowered = {name.lower(): name for name in names}
        obj_open = -1  # offset of an open <obj>, content starts at obj_content
        obj_content = 0
        pending: tuple[str, int, int] | None = None  # (label, start, end) of a closed <obj>
        box_open = -1  # offset of an open <bbox> or <point> (named box_name)
        box_name = bbox_tag
        box_content = 0
        for match in _tag_pattern(*names).finditer(text):
            label, x1, y1, x2, y2, slash, written = match.groups()
            at = match.start()
            if written is None:  # a whole span: settle what was open, then add it
                if box_open >= 0:
                    self.issue("unclosed_tag", box_open, f"<{box_name}> is not closed")
                    self.add_invalid(pending, box_open, at, box_name == point_tag)
                    pending, box_open = None, -1
                if obj_open >= 0:
                    self.issue("unclosed_tag", obj_open, f"<{obj_tag}> is not closed")
                    obj_open = -1
                if pending is not None:
                    self.issue(
                        "obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it"
                    )
                    pending = None
                label = label.strip()
                if not label:
                    self.issue("empty_label", at, "the object label is empty")
                self.add_box(label, (float(x1), float(y1), float(x2), float(y2)), at, match.end())
                continue
            closing = slash == "/"
            name = written if written in names else lowered[written.lower()]
            if written != name:
                self.issue("miscased_tag", at, f"expected <{name}>, got {match.group(0)!r}")
            is_box = name in (bbox_tag, point_tag)
            if box_open >= 0 and not (closing and name == box_name):
                self.issue("unclosed_tag", box_open, f"<{box_name}> is not closed")
                self.add_invalid(pending, box_open, at, box_name == point_tag)
                pending, box_open = None, -1
            if obj_open >= 0 and not (closing and name == obj_tag):
                self.issue("unclosed_tag", obj_open, f"<{obj_tag}> is not closed")
                obj_open = -1
            if pending is not None and box_open < 0 and not (is_box and not closing):
                self.issue("obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it")
                pending = None
            if name == obj_tag:
                if not closing:
                    obj_open, obj_content = at, match.end()
                elif obj_open < 0:
                    self.issue("stray_closing_tag", at, f"</{obj_tag}> without <{obj_tag}>")
                else:
                    label = text[obj_content:at].strip()
                    if not label:
                        self.issue("empty_label", obj_open, "the object label is empty")
                    pending, obj_open = (label, obj_open, match.end()), -1
            elif is_box:
                if not closing:
                    if pending is not None and text[pending[2] : at].strip():
                        self.issue(
                            "obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it"
                        )
                        pending = None
                    box_open, box_content, box_name = at, match.end(), name
                elif box_open < 0:
                    self.issue("stray_closing_tag", at, f"</{name}> without <{name}>")
                elif name == point_tag:
                    self.add_points(pending, box_open, text[box_content:at], match.end())
                    pending, box_open = None, -1
                else:
                    self.add_spans(pending, box_open, text[box_content:at], match.end())
                    pending, box_open = None, -1
            elif closing:
                self.close_block(name == think_tag, at, match.end())
            else:
                self.open_block(name == think_tag, at, match.end())
        end = len(text)
        if box_open >= 0:
            self.issue("unclosed_tag", box_open, f"<{box_name}> is not closed")
            self.add_invalid(pending, box_open, end, box_name == point_tag)
        elif pending is not None:
            self.issue("obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it")
        if obj_open >= 0:
            self.issue("unclosed_tag", obj_open, f"<{obj_tag}> is not closed")
        return self.finish(end, blocks_optional)

    def open_block(self, is_think: bool, at: int, content_start: int) -> None:
        name = self.config.think_tag if is_think else self.config.answer_tag
        if self.block is not None:
            self.issue("nested_tag", at, f"<{name}> inside <{self.block}>")
            return
        if self.text[self.outside_from : at].strip():
            self.issue_once("text_outside_blocks", self.outside_from, "text outside the blocks")
        state = self.think_state if is_think else self.answer_state
        if state:
            self.issue("duplicate_block", at, f"a second <{name}> block")
        if is_think:
            if self.answer_state:
                self.issue_once("misordered_blocks", at, f"<{name}> after the answer")
            self.think_state = 1
        else:
            self.answer_state = 1
            self.answer_blocks += 1
        self.block = name
        self.block_start = content_start

    def close_block(self, is_think: bool, at: int, after: int) -> None:
        name = self.config.think_tag if is_think else self.config.answer_tag
        if self.block != name:
            self.issue("stray_closing_tag", at, f"</{name}> without an open <{name}>")
            return
        content = self.text[self.block_start : at]
        self.blocks.append((self.block_start, at, "think" if is_think else "answer"))
        if is_think:
            self.think_state = 2
            if self.think is None:
                self.think = content
        else:
            self.answer_state = 2
            if self.answer is None:
                self.answer = content.strip()
        self.block = None
        self.outside_from = after

    def region(self) -> Region:
        if self.block is None:
            return "outside"
        return "think" if self.block == self.config.think_tag else "answer"

    def add_invalid(
        self, pending: tuple[str, int, int] | None, box_at: int, end: int, is_point: bool = False
    ) -> None:
        label, start = (pending[0], pending[1]) if pending else ("", box_at)
        if is_point:
            self.append_point(GroundedPoint(label, _NAN_POINT, start, end, self.region(), False))
        else:
            self.append(GroundedSpan(label, _NAN_BOX, start, end, self.region(), False))

    def add_spans(
        self, pending: tuple[str, int, int] | None, bbox_at: int, content: str, end: int
    ) -> None:
        if pending is None:
            self.issue("bbox_without_obj", bbox_at, "a box without an object label before it")
            label, start = "", bbox_at
        else:
            label, start = pending[0], pending[1]
        boxes = _parse_boxes(content, self.config.max_boxes)
        if boxes is None:
            self.issue("unparsable_bbox", bbox_at, f"cannot read boxes from {content[:40]!r}")
            self.append(GroundedSpan(label, _NAN_BOX, start, end, self.region(), False))
            return
        for box in boxes:
            self.add_box(label, box, start, end)

    def add_points(
        self, pending: tuple[str, int, int] | None, point_at: int, content: str, end: int
    ) -> None:
        if pending is None:
            self.issue("bbox_without_obj", point_at, "a point without an object label before it")
            label, start = "", point_at
        else:
            label, start = pending[0], pending[1]
        points = _parse_numbers(content, 2, self.config.max_boxes)
        if points is None:
            self.issue("unparsable_point", point_at, f"cannot read points from {content[:40]!r}")
            self.append_point(GroundedPoint(label, _NAN_POINT, start, end, self.region(), False))
            return
        for x, y in points:
            self.add_point(label, (x, y), start, end)

    def add_box(
        self, label: str, box: Box, start: int, end: int, region: Region | None = None
    ) -> None:
        x1, y1, x2, y2 = box
        # NaN fails every comparison; the differences catch inf and overflow.
        valid = x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)
        if not valid:
            self.issue("degenerate_box", start, f"degenerate box {box}")
        if region is None:
            block = self.block
            region = (
                "outside"
                if block is None
                else "think"
                if block == self.config.think_tag
                else "answer"
            )
        spans = self.spans
        if len(spans) < self.config.max_boxes:
            spans.append(_make_span((label, box, start, end, region, valid)))
        else:
            self.append(_make_span((label, box, start, end, region, valid)))

    def add_point(
        self, label: str, point: Point, start: int, end: int, region: Region | None = None
    ) -> None:
        valid = math.isfinite(point[0]) and math.isfinite(point[1])
        if not valid:
            self.issue("degenerate_point", start, f"degenerate point {point}")
        self.append_point(
            GroundedPoint(
                label, point, start, end, self.region() if region is None else region, valid
            )
        )

    def append(self, span: GroundedSpan) -> None:
        if len(self.spans) <= self.config.max_boxes:
            self.spans.append(span)
            if len(self.spans) > self.config.max_boxes:
                self.issue("too_many_boxes", span.start, f"more than {self.config.max_boxes} boxes")

    def append_point(self, point: GroundedPoint) -> None:
        if len(self.points) <= self.config.max_boxes:
            self.points.append(point)
            if len(self.points) > self.config.max_boxes:
                self.issue(
                    "too_many_boxes", point.start, f"more than {self.config.max_boxes} points"
                )

    def fast_blocks(self) -> bool:
        """Read the blocks of a completion whose only tags are its four block tags, in order.

        With exactly four ``<`` in the text, found as ``<think>``, ``</think>``,
        ``<answer>``, ``</answer>`` with blank text around the blocks, :meth:`scan_blocks`
        would meet these four tags alone and report nothing: this leaves the state it
        would leave (tested against it), without its pass. Otherwise it changes nothing
        and returns False.
        """
        text = self.text
        if text.count("<") != 4:
            return False
        plan = _plan(self.config)
        blocks = _blocks_in_order(text, plan)
        if blocks is None:
            return False
        think_start, j, answer_start, b = blocks
        answer_close = plan[3]
        self.think = text[think_start:j]
        self.answer = text[answer_start:b].strip()
        self.blocks = [(think_start, j, "think"), (answer_start, b, "answer")]
        self.think_state = self.answer_state = 2
        self.answer_blocks = 1
        self.outside_from = b + len(answer_close)
        return True

    def scan_blocks(self) -> None:
        """Read only the block tags (dialects write boxes in their own syntax)."""
        think_tag, answer_tag = self.config.think_tag, self.config.answer_tag
        lowered = {think_tag.lower(): think_tag, answer_tag.lower(): answer_tag}
        for match in _block_pattern(think_tag, answer_tag).finditer(self.text):
            slash, written = match.groups()
            name = lowered[written.lower()]
            at = match.start()
            if written != name:
                self.issue("miscased_tag", at, f"expected <{name}>, got {match.group(0)!r}")
            if slash:
                self.close_block(name == think_tag, at, match.end())
            else:
                self.open_block(name == think_tag, at, match.end())
        if self.block is not None:  # an unclosed block runs to the end
            region: Region = "think" if self.block == think_tag else "answer"
            self.blocks.append((self.block_start, len(self.text), region))

    def region_at(self, offset: int) -> Region:
        """The block holding ``offset``, from the blocks :meth:`scan_blocks` recorded."""
        blocks = self.blocks
        index = bisect.bisect_right(blocks, (offset, _BIG)) - 1
        if index >= 0 and blocks[index][0] <= offset < blocks[index][1]:
            return blocks[index][2]
        return "outside"

    def add_reading(self, reading: Reading) -> None:
        """Add a dialect reader's boxes, points and issues, each in its block."""
        for issue in reading.issues:
            self.issue(issue.code, issue.offset, issue.message)
        for mark in reading.boxes:
            region = self.region_at(mark.start)
            if mark.box is None:
                self.append(GroundedSpan(mark.label, _NAN_BOX, mark.start, mark.end, region, False))
            else:
                self.add_box(mark.label, mark.box, mark.start, mark.end, region)
        for pmark in reading.points:
            region = self.region_at(pmark.start)
            if pmark.point is None:
                self.append_point(
                    GroundedPoint(pmark.label, _NAN_POINT, pmark.start, pmark.end, region, False)
                )
            else:
                self.add_point(pmark.label, pmark.point, pmark.start, pmark.end, region)

    def finish(self, end: int, blocks_optional: bool = False) -> Trace:
        config = self.config
        blockless = blocks_optional and not self.think_state and not self.answer_state
        if self.block is not None:
            self.issue("unclosed_tag", self.block_start, f"<{self.block}> is not closed")
            content = self.text[self.block_start : end]
            if self.block == config.think_tag and self.think is None:
                self.think = content
            elif self.block == config.answer_tag and self.answer is None:
                self.answer = content.strip()
        elif not blockless and self.text[self.outside_from : end].strip():
            self.issue_once("text_outside_blocks", self.outside_from, "text outside the blocks")
        if not blockless:
            if not self.think_state:
                self.issue("missing_think", 0, f"no <{config.think_tag}> block")
            if not self.answer_state:
                self.issue("missing_answer", end, f"no <{config.answer_tag}> block")
            elif not self.answer:
                self.issue("empty_answer", end, f"the <{config.answer_tag}> block is empty")
        return Trace(
            self.think,
            self.answer,
            tuple(self.spans),
            tuple(self.issues),
            self.answer_blocks,
            tuple(self.points),
            blockless,
            self.text,
        )


def _parse_numbers(content: str, size: int, max_items: int) -> list[tuple[float, ...]] | None:
    """Read ``size`` numbers per item (a list, or a list of lists) from a tag's content."""
    if len(content) > _MAX_BOX_CHARS_PER_BOX * (max_items + 1):
        return None
    if not _BOX_CHARS.fullmatch(content):
        return None
    numbers = _NUMBER.findall(content)
    if not numbers or len(numbers) % size:
        return None
    values = [float(number) for number in numbers[: size * (max_items + 1)]]
    return [tuple(values[i : i + size]) for i in range(0, len(values), size)]


def _parse_boxes(content: str, max_boxes: int) -> list[Box] | None:
    """Read one or more boxes (4 numbers each) from a box tag's content, or None."""
    if len(content) > _MAX_BOX_CHARS_PER_BOX * (max_boxes + 1):
        return None
    if not _BOX_CHARS.fullmatch(content):
        return None
    numbers = _NUMBER.findall(content)
    if not numbers or len(numbers) % 4:
        return None
    values = [float(number) for number in numbers[: 4 * (max_boxes + 1)]]
    return [
        (values[i], values[i + 1], values[i + 2], values[i + 3]) for i in range(0, len(values), 4)
    ]


def parse_trace(text: object, *, config: RewardConfig | None = None) -> Trace:
    """Parse a completion into a :class:`Trace`; never raises on any input.

    Args:
        text: The completion. Anything that is not a ``str`` gives an empty trace
            with a ``not_text`` issue.
        config: Tag names, ``max_chars`` and ``max_boxes``; ``None`` uses the defaults.

    Returns:
        The trace. A completion longer than ``max_chars`` is not read: its trace
        holds only a ``too_long`` issue, so it scores 0 on every component.

    Example:
        >>> t = parse_trace("<think><obj>dogs</obj><bbox>[[0, 0, 5, 5], [6, 6, 9, 9]]</bbox>"
        ...                 "</think><answer>(A)</answer>")
        >>> [(s.label, s.box) for s in t.spans]
        [('dogs', (0.0, 0.0, 5.0, 5.0)), ('dogs', (6.0, 6.0, 9.0, 9.0))]
        >>> parse_trace("<think><bbox>oops</bbox></think><answer>A</answer>").spans[0].valid
        False
        >>> [i.code for i in parse_trace(None).issues]
        ['not_text']
    """
    config = config or DEFAULT_CONFIG
    if not isinstance(text, str):
        issue = FormatIssue("not_text", 0, f"expected a string, got {type(text).__name__}")
        return Trace(None, None, (), (issue,))
    if len(text) > config.max_chars:
        issue = FormatIssue(
            "too_long", config.max_chars, f"{len(text)} characters > max_chars {config.max_chars}"
        )
        return Trace(None, None, (), (issue,))
    if config.dialect == "tags":
        fast = _fast_trace(text, config)
        if fast is not None:
            return fast
        return _Parser(text, config).run(blocks_optional=config.require_blocks is False)
    parser = _Parser(text, config)
    if not parser.fast_blocks():
        parser.scan_blocks()
    try:
        reading = get_dialect(config.dialect).read(text, config)
    except Exception as error:  # a user's reader must not crash a training run
        issue = FormatIssue("unparsable_bbox", 0, f"dialect {config.dialect!r} failed: {error!r}")
        reading = Reading(issues=[issue])
    parser.add_reading(reading)
    return parser.finish(len(text), blocks_optional=config.require_blocks is not True)


def format_box(box: Sequence[float]) -> str:
    """Write one box the way the trace format expects: ``[x1, y1, x2, y2]``.

    Integral values are written without a decimal point; others keep Python's shortest
    round-tripping representation, so parsing gives the same floats back.

    Args:
        box: Four numbers.

    Returns:
        The box as text.

    Example:
        >>> format_box((1.0, 2.5, 30, 40))
        '[1, 2.5, 30, 40]'
    """
    parts = []
    for value in box:
        number = float(value)
        parts.append(str(int(number)) if number.is_integer() else repr(number))
    return "[" + ", ".join(parts) + "]"


def format_span(
    label: str,
    box: Sequence[float] | Iterable[Sequence[float]],
    *,
    config: RewardConfig | None = None,
) -> str:
    """Write one grounded span: ``<obj>label</obj><bbox>[x1, y1, x2, y2]</bbox>``.

    Args:
        label: The object label.
        box: One box, or several boxes of a plural object.
        config: Tag names; ``None`` uses the defaults.

    Returns:
        The span text, which :func:`parse_trace` reads back exactly.

    Example:
        >>> format_span("cat", (10, 20, 30, 40))
        '<obj>cat</obj><bbox>[10, 20, 30, 40]</bbox>'
        >>> format_span("eyes", [(1, 1, 2, 2), (3, 1, 4, 2)])
        '<obj>eyes</obj><bbox>[[1, 1, 2, 2], [3, 1, 4, 2]]</bbox>'
    """
    config = config or DEFAULT_CONFIG
    boxes: list[Any] = list(box)
    if boxes and isinstance(boxes[0], numbers.Real):
        body = format_box(boxes)
    else:
        body = "[" + ", ".join(format_box(b) for b in boxes) + "]"
    obj, bbox = config.obj_tag, config.bbox_tag
    return f"<{obj}>{label}</{obj}><{bbox}>{body}</{bbox}>"
