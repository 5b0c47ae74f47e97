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

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig

if TYPE_CHECKING:
    from grounding_rewards.config import BoxRegion

__all__ = [
    "ISSUE_CODES",
    "Box",
    "FormatIssue",
    "GroundedSpan",
    "Region",
    "Trace",
    "format_box",
    "format_span",
    "parse_trace",
]

Box: TypeAlias = tuple[float, float, float, float]
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
    "degenerate_box": "a box with x1 >= x2, y1 >= y2 or a non-finite coordinate",
    "miscased_tag": "a known tag written in other letter case",
    "box_out_of_image": "a box lies outside the image",
    "too_few_spans": "fewer grounded spans than min_spans",
}
"""Every issue code, with what it means. Codes are stable: dashboards may key on them."""

_NAN_BOX: Box = (math.nan, math.nan, math.nan, math.nan)
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
    """

    think: str | None
    answer: str | None
    spans: tuple[GroundedSpan, ...]
    issues: tuple[FormatIssue, ...]
    answer_blocks: int = 0

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
        if region == "anywhere":
            return self.spans
        return tuple([span for span in self.spans if span.region == region])


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"


@lru_cache(maxsize=64)
def _tag_pattern(think: str, answer: str, obj: str, bbox: str) -> re.Pattern[str]:
    """Token pattern of the one pass.

    A token is either a whole well-formed one-box span (the common case: one match
    instead of four) or any single known tag in any letter case.
    """
    o, b = re.escape(obj), re.escape(bbox)
    number = rf"\s*({_NUM})\s*"
    span = rf"<{o}>([^<>]*)</{o}>\s*<{b}>\[{number},{number},{number},{number}\]</{b}>"
    names = "|".join(re.escape(name) for name in (think, answer, obj, bbox))
    return re.compile(rf"{span}|<(/?)((?i:{names}))>")


class _Parser:
    """The state of one linear pass; a fresh instance per call keeps parsing thread-safe."""

    __slots__ = (
        "answer",
        "answer_blocks",
        "answer_state",
        "block",
        "block_start",
        "config",
        "issues",
        "outside_from",
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

    def run(self) -> Trace:
        config = self.config
        text = self.text
        names = (config.think_tag, config.answer_tag, config.obj_tag, config.bbox_tag)
        think_tag, _, obj_tag, bbox_tag = names
        lowered = {name.lower(): name for name in names}
        obj_open = -1  # offset of an open <obj>, content starts at obj_content
        obj_content = 0
        pending: tuple[str, int, int] | None = None  # (label, start, end) of a closed <obj>
        bbox_open = -1
        bbox_content = 0
        for match in _tag_pattern(*names).finditer(text):
            label, x1, y1, x2, y2, slash, written = match.groups()
            at = match.start()
            if written is None:  # a whole span: settle what was open, then add it
                if bbox_open >= 0:
                    self.issue("unclosed_tag", bbox_open, f"<{bbox_tag}> is not closed")
                    self.add_invalid(pending, bbox_open, at)
                    pending, bbox_open = None, -1
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
            if bbox_open >= 0 and not (closing and name == bbox_tag):
                self.issue("unclosed_tag", bbox_open, f"<{bbox_tag}> is not closed")
                self.add_invalid(pending, bbox_open, at)
                pending, bbox_open = None, -1
            if obj_open >= 0 and not (closing and name == obj_tag):
                self.issue("unclosed_tag", obj_open, f"<{obj_tag}> is not closed")
                obj_open = -1
            if pending is not None and bbox_open < 0 and not (name == bbox_tag and not closing):
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
            elif name == bbox_tag:
                if not closing:
                    if pending is not None and text[pending[2] : at].strip():
                        self.issue(
                            "obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it"
                        )
                        pending = None
                    bbox_open, bbox_content = at, match.end()
                elif bbox_open < 0:
                    self.issue("stray_closing_tag", at, f"</{bbox_tag}> without <{bbox_tag}>")
                else:
                    self.add_spans(pending, bbox_open, text[bbox_content:at], match.end())
                    pending, bbox_open = None, -1
            elif closing:
                self.close_block(name == think_tag, at, match.end())
            else:
                self.open_block(name == think_tag, at, match.end())
        end = len(text)
        if bbox_open >= 0:
            self.issue("unclosed_tag", bbox_open, f"<{bbox_tag}> is not closed")
            self.add_invalid(pending, bbox_open, end)
        elif pending is not None:
            self.issue("obj_without_bbox", pending[1], f"{pending[0]!r} has no box after it")
        if obj_open >= 0:
            self.issue("unclosed_tag", obj_open, f"<{obj_tag}> is not closed")
        return self.finish(end)

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

    def add_invalid(self, pending: tuple[str, int, int] | None, bbox_at: int, end: int) -> None:
        label, start = (pending[0], pending[1]) if pending else ("", bbox_at)
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

    def add_box(self, label: str, box: Box, start: int, end: int) -> None:
        x1, y1, x2, y2 = box
        # NaN fails every comparison; the differences catch inf and overflow.
        valid = x1 < x2 and y1 < y2 and math.isfinite((x2 - x1) + (y2 - y1) + x1 + y1)
        if not valid:
            self.issue("degenerate_box", start, f"degenerate box {box}")
        block = self.block
        region: Region = (
            "outside" if block is None else "think" if block == self.config.think_tag else "answer"
        )
        spans = self.spans
        if len(spans) < self.config.max_boxes:
            spans.append(GroundedSpan(label, box, start, end, region, valid))
        else:
            self.append(GroundedSpan(label, box, start, end, region, valid))

    def append(self, span: GroundedSpan) -> None:
        if len(self.spans) <= self.config.max_boxes:
            self.spans.append(span)
            if len(self.spans) > self.config.max_boxes:
                self.issue("too_many_boxes", span.start, f"more than {self.config.max_boxes} boxes")

    def finish(self, end: int) -> Trace:
        config = self.config
        if self.block is not None:
            self.issue("unclosed_tag", self.block_start, f"<{self.block}> is not closed")
            content = self.text[self.block_start : end]
            if self.block == config.think_tag and self.think is None:
                self.think = content
            elif self.block == config.answer_tag and self.answer is None:
                self.answer = content.strip()
        elif self.text[self.outside_from : end].strip():
            self.issue_once("text_outside_blocks", self.outside_from, "text outside the blocks")
        if not self.think_state:
            self.issue("missing_think", 0, f"no <{config.think_tag}> block")
        if not self.answer_state:
            self.issue("missing_answer", end, f"no <{config.answer_tag}> block")
        elif not self.answer:
            self.issue("empty_answer", end, f"the <{config.answer_tag}> block is empty")
        return Trace(
            self.think, self.answer, tuple(self.spans), tuple(self.issues), self.answer_blocks
        )


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
    return _Parser(text, config).run()


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
