"""Hand-checkable cases for grounding_rewards.parsing (parse_trace, format_span, Trace)."""

from __future__ import annotations

import math

import pytest

from grounding_rewards import (
    ISSUE_CODES,
    FormatIssue,
    GroundedSpan,
    RewardConfig,
    Trace,
    format_box,
    format_span,
    parse_trace,
)
from grounding_rewards.rewards import check_format


def codes(text: object, config: RewardConfig | None = None) -> list[str]:
    return [issue.code for issue in parse_trace(text, config=config).issues]


def wrap(think: str, answer: str = "A") -> str:
    return f"<think>{think}</think><answer>{answer}</answer>"


# --- a well-formed trace ------------------------------------------------------------------


def test_clean_trace_has_think_answer_spans_and_no_issues() -> None:
    text = (
        "<think>The <obj>man</obj><bbox>[212, 88, 405, 610]</bbox> rides a "
        "<obj>motorcycle</obj><bbox>[150, 330, 560, 702]</bbox>.</think>\n<answer>B</answer>"
    )
    trace = parse_trace(text)
    assert trace.issues == ()
    assert trace.answer == "B"
    assert trace.think is not None and trace.think.startswith("The <obj>man</obj>")
    assert trace.answer_blocks == 1
    assert [(s.label, s.box, s.region, s.valid) for s in trace.spans] == [
        ("man", (212.0, 88.0, 405.0, 610.0), "think", True),
        ("motorcycle", (150.0, 330.0, 560.0, 702.0), "think", True),
    ]


def test_span_offsets_cover_obj_through_closing_bbox() -> None:
    span_text = "<obj>cat</obj><bbox>[1, 2, 3, 4]</bbox>"
    text = f"<think>A {span_text} sits.</think><answer>A</answer>"
    (span,) = parse_trace(text).spans
    # "<think>A " is 9 characters, so the span starts at 9 and ends 9 + len(span_text) later.
    assert (span.start, span.end) == (9, 9 + len(span_text))
    assert text[span.start : span.end] == span_text


def test_answer_is_stripped_and_think_is_kept_verbatim() -> None:
    trace = parse_trace("<think>  two spaces </think><answer>\n  B \n</answer>")
    assert trace.answer == "B"
    assert trace.think == "  two spaces "


def test_label_is_stripped() -> None:
    (span,) = parse_trace(wrap("<obj>  red car \n</obj><bbox>[0, 0, 1, 1]</bbox>")).spans
    assert span.label == "red car"


def test_whitespace_between_obj_and_bbox_is_allowed() -> None:
    trace = parse_trace(wrap("<obj>a</obj> \n <bbox>[0, 0, 1, 1]</bbox>"))
    assert trace.issues == ()
    assert trace.spans[0].label == "a"


# --- box syntaxes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "box"),
    [
        ("[1, 2, 3, 4]", (1.0, 2.0, 3.0, 4.0)),
        ("[1,2,3,4]", (1.0, 2.0, 3.0, 4.0)),
        ("  [ 1 , 2 , 3 , 4 ]  ", (1.0, 2.0, 3.0, 4.0)),
        ("(1,2),(3,4)", (1.0, 2.0, 3.0, 4.0)),
        ("(1, 2), (3, 4)", (1.0, 2.0, 3.0, 4.0)),
        ("[[1, 2, 3, 4]]", (1.0, 2.0, 3.0, 4.0)),
        ("[1.5, 2.25, 3e1, 4E1]", (1.5, 2.25, 30.0, 40.0)),
        ("[.5, 0.75, 1., +2]", (0.5, 0.75, 1.0, 2.0)),
        ("[-5, -4, -1, -2]", (-5.0, -4.0, -1.0, -2.0)),
        ("1, 2, 3, 4", (1.0, 2.0, 3.0, 4.0)),
    ],
)
def test_accepted_box_syntaxes(content: str, box: tuple[float, ...]) -> None:
    trace = parse_trace(wrap(f"<obj>a</obj><bbox>{content}</bbox>"))
    assert trace.issues == ()
    assert [s.box for s in trace.spans] == [box]
    assert trace.spans[0].valid


@pytest.mark.parametrize(
    "content",
    ["[[1, 2, 3, 4], [5, 6, 7, 8]]", "[1, 2, 3, 4], [5, 6, 7, 8]", "(1,2),(3,4),(5,6),(7,8)"],
)
def test_plural_bbox_gives_one_span_per_box_with_the_same_label(content: str) -> None:
    text = wrap(f"<obj>eyes</obj><bbox>{content}</bbox>")
    trace = parse_trace(text)
    assert trace.issues == ()
    assert [(s.label, s.box) for s in trace.spans] == [
        ("eyes", (1.0, 2.0, 3.0, 4.0)),
        ("eyes", (5.0, 6.0, 7.0, 8.0)),
    ]
    # Both boxes come from the same written span.
    assert trace.spans[0].start == trace.spans[1].start
    assert trace.spans[0].end == trace.spans[1].end


@pytest.mark.parametrize(
    "content",
    ["[1, 2, 3]", "[1, 2, 3, 4, 5]", "junk", "[nan, 2, 3, 4]", "[inf, 2, 3, 4]", '{"x": 1}', ""],
)
def test_unparsable_box_is_one_invalid_nan_span(content: str) -> None:
    trace = parse_trace(wrap(f"<obj>a</obj><bbox>{content}</bbox>"))
    assert "unparsable_bbox" in codes(wrap(f"<obj>a</obj><bbox>{content}</bbox>"))
    (span,) = trace.spans
    assert span.label == "a"
    assert not span.valid
    assert all(math.isnan(v) for v in span.box)


@pytest.mark.parametrize(
    ("content", "box"),
    [
        ("[3, 2, 1, 4]", (3.0, 2.0, 1.0, 4.0)),  # x1 > x2
        ("[1, 4, 3, 4]", (1.0, 4.0, 3.0, 4.0)),  # y1 == y2: zero height
        ("[1e309, 2, 3, 4]", (math.inf, 2.0, 3.0, 4.0)),  # overflows to inf
        ("[-1e308, 0, 1e308, 1]", (-1e308, 0.0, 1e308, 1.0)),  # width overflows to inf
    ],
)
def test_degenerate_box_is_kept_but_invalid(content: str, box: tuple[float, ...]) -> None:
    text = wrap(f"<obj>a</obj><bbox>{content}</bbox>")
    assert codes(text) == ["degenerate_box"]
    (span,) = parse_trace(text).spans
    assert span.box == box
    assert not span.valid


def test_bbox_without_obj_counts_with_empty_label() -> None:
    text = wrap("<bbox>[0, 0, 1, 1]</bbox>")
    assert codes(text) == ["bbox_without_obj"]
    (span,) = parse_trace(text).spans
    # "<think>" is 7 characters: the span starts at the <bbox> tag.
    assert (span.label, span.valid, span.start) == ("", True, 7)


# --- regions and counted spans -----------------------------------------------------------------


REGIONS_TEXT = (
    "<obj>out</obj><bbox>[0, 0, 3, 3]</bbox>"
    "<think><obj>t</obj><bbox>[0, 0, 1, 1]</bbox></think>"
    "<answer>B <obj>a</obj><bbox>[0, 0, 2, 2]</bbox></answer>"
)


def test_each_span_records_its_region() -> None:
    trace = parse_trace(REGIONS_TEXT)
    assert [(s.label, s.region) for s in trace.spans] == [
        ("out", "outside"),
        ("t", "think"),
        ("a", "answer"),
    ]


@pytest.mark.parametrize(
    ("box_region", "labels"),
    [("think", ["t"]), ("answer", ["a"]), ("anywhere", ["out", "t", "a"])],
)
def test_counted_spans_follow_box_region(box_region: str, labels: list[str]) -> None:
    trace = parse_trace(REGIONS_TEXT)
    config = RewardConfig(box_region=box_region)
    assert [s.label for s in trace.counted_spans(config)] == labels


def test_counted_spans_default_is_think() -> None:
    assert [s.label for s in parse_trace(REGIONS_TEXT).counted_spans()] == ["t"]


# --- every issue code --------------------------------------------------------------------------

# One input per code. box_out_of_image and too_few_spans come from the format check (they
# need an image size and min_spans); the rest from the parser.
ISSUE_EXAMPLES: dict[str, str] = {
    "not_text": "(None is passed instead)",
    "too_long": "(101 characters with max_chars=100)",
    "too_many_boxes": wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>" * 3),
    "missing_think": "<answer>A</answer>",
    "missing_answer": "<think>x</think>",
    "empty_answer": "<think>x</think><answer> </answer>",
    "duplicate_block": "<think>x</think><answer>A</answer><answer>B</answer>",
    "nested_tag": "<think>x <think>y</think><answer>A</answer>",
    "unclosed_tag": "<think>x <obj>a</think><answer>A</answer>",
    "stray_closing_tag": "<think>x</think></bbox><answer>A</answer>",
    "misordered_blocks": "<answer>A</answer><think>x</think>",
    "text_outside_blocks": "Sure! <think>x</think><answer>A</answer>",
    "obj_without_bbox": wrap("<obj>a</obj> is here"),
    "bbox_without_obj": wrap("<bbox>[0, 0, 1, 1]</bbox>"),
    "empty_label": wrap("<obj> </obj><bbox>[0, 0, 1, 1]</bbox>"),
    "unparsable_bbox": wrap("<obj>a</obj><bbox>[0, 0, 1]</bbox>"),
    "degenerate_box": wrap("<obj>a</obj><bbox>[5, 0, 1, 1]</bbox>"),
    "unparsable_point": wrap("<obj>a</obj><point>[0, 0, 1]</point>"),
    "degenerate_point": wrap("<obj>a</obj><point>[1e999, 0]</point>"),
    "malformed_json": '{"bbox_2d": null, "label": "a"}',
    "truncated_json": '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"bbox_2d": [5, 6',
    "miscased_tag": "<Think>x</Think><answer>A</answer>",
    "box_out_of_image": wrap("<obj>a</obj><bbox>[0, 0, 700, 10]</bbox>"),
    "too_few_spans": wrap("no boxes"),
}


def issues_of(code: str) -> tuple[FormatIssue, ...]:
    if code == "not_text":
        return parse_trace(None).issues
    if code == "too_long":
        return parse_trace("x" * 101, config=RewardConfig(max_chars=100)).issues
    if code == "too_many_boxes":
        return parse_trace(ISSUE_EXAMPLES[code], config=RewardConfig(max_boxes=2)).issues
    if code in ("box_out_of_image", "too_few_spans"):
        return check_format(ISSUE_EXAMPLES[code], image_size=(640, 480)).issues
    if code.endswith("_json"):
        return parse_trace(ISSUE_EXAMPLES[code], config=RewardConfig(dialect="json")).issues
    return parse_trace(ISSUE_EXAMPLES[code]).issues


def issues_for(code: str) -> list[str]:
    return [issue.code for issue in issues_of(code)]


def test_issue_examples_cover_every_code() -> None:
    assert set(ISSUE_EXAMPLES) == set(ISSUE_CODES)


@pytest.mark.parametrize("code", sorted(ISSUE_CODES))
def test_every_issue_code_is_produced(code: str) -> None:
    assert code in issues_for(code)


@pytest.mark.parametrize("code", sorted(ISSUE_CODES))
def test_issue_code_has_a_description(code: str) -> None:
    assert isinstance(ISSUE_CODES[code], str) and ISSUE_CODES[code]


def test_issue_offsets_point_at_the_problem() -> None:
    trace = parse_trace("Sure! <think>x</think><answer>A</answer>")
    assert [(i.code, i.offset) for i in trace.issues] == [("text_outside_blocks", 0)]
    # "<think>x</think>" is 16 characters: the stray text starts right after it.
    trace = parse_trace("<think>x</think>zz<answer>A</answer>")
    assert [(i.code, i.offset) for i in trace.issues] == [("text_outside_blocks", 16)]
    # The <bbox> tag of a label-less box starts at 7, after "<think>".
    trace = parse_trace(wrap("<bbox>[0, 0, 1, 1]</bbox>"))
    assert [(i.code, i.offset) for i in trace.issues] == [("bbox_without_obj", 7)]
    # missing_answer points at the end of the text (16 characters).
    trace = parse_trace("<think>x</think>")
    assert [(i.code, i.offset) for i in trace.issues] == [("missing_answer", 16)]


@pytest.mark.parametrize("code", sorted(ISSUE_CODES))
def test_issue_messages_are_non_empty(code: str) -> None:
    issues = issues_of(code)
    assert issues and all(issue.message for issue in issues)
    assert all(issue.code in ISSUE_CODES for issue in issues)


def test_unclosed_bbox_counts_as_one_invalid_span() -> None:
    text = wrap("<obj>a</obj><bbox>[1, 2, 3, 4]")
    assert "unclosed_tag" in codes(text)
    (span,) = parse_trace(text).spans
    assert (span.label, span.valid) == ("a", False)


def test_unclosed_think_keeps_its_text() -> None:
    trace = parse_trace("<think>still thinking")
    assert trace.think == "still thinking"
    assert codes("<think>still thinking") == ["unclosed_tag", "missing_answer"]


def test_miscased_tags_are_still_read() -> None:
    text = "<THINK><obj>a</obj><bbox>[0, 0, 1, 1]</bbox></THINK><Answer>A</Answer>"
    trace = parse_trace(text)
    assert [i.code for i in trace.issues] == ["miscased_tag"] * 4
    assert trace.answer == "A"
    assert [s.region for s in trace.spans] == ["think"]


def test_several_answer_blocks_keep_the_first_and_count_them() -> None:
    trace = parse_trace("<think>x</think><answer>A</answer><answer>B</answer>")
    assert trace.answer == "A"
    assert trace.answer_blocks == 2


def test_issues_are_capped() -> None:
    assert len(parse_trace("</obj>" * 1000).issues) <= 64


def test_has_issue() -> None:
    trace = parse_trace("<think>x</think>")
    assert trace.has_issue("missing_answer")
    assert not trace.has_issue("missing_think")


# --- limits and non-text ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, b"<think>x</think>", 42, ["<think>"], {"a": 1}])
def test_non_string_gives_an_empty_trace_with_not_text(value: object) -> None:
    trace = parse_trace(value)
    assert (trace.think, trace.answer, trace.spans) == (None, None, ())
    assert [i.code for i in trace.issues] == ["not_text"]


def test_max_chars_is_inclusive() -> None:
    config = RewardConfig(max_chars=40)
    text = wrap("x" * (40 - len(wrap(""))))
    assert len(text) == 40
    assert "too_long" not in codes(text, config)
    assert codes(text + " ", config) == ["too_long"]
    assert parse_trace(text + " ", config=config).spans == ()


def test_max_boxes_exactly_is_fine_one_more_is_too_many() -> None:
    config = RewardConfig(max_boxes=3)
    three = wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>" * 3)
    four = wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>" * 4)
    assert codes(three, config) == []
    assert codes(four, config) == ["too_many_boxes"]


def test_plural_boxes_count_toward_max_boxes() -> None:
    config = RewardConfig(max_boxes=3)
    text = wrap("<obj>a</obj><bbox>[[0,0,1,1],[0,0,1,1],[0,0,1,1],[0,0,1,1]]</bbox>")
    assert "too_many_boxes" in codes(text, config)


def test_spans_are_capped_at_max_boxes_plus_one() -> None:
    config = RewardConfig(max_boxes=5)
    trace = parse_trace(wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>" * 1000), config=config)
    assert len(trace.spans) == 6
    assert [i.code for i in trace.issues].count("too_many_boxes") == 1


def test_empty_string() -> None:
    trace = parse_trace("")
    assert trace.spans == ()
    assert codes("") == ["missing_think", "missing_answer"]


# --- configurable tags ----------------------------------------------------------------------


def test_custom_tag_names() -> None:
    config = RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box")
    text = "<reasoning><ref>cat</ref><box>[1, 2, 3, 4]</box></reasoning><final>A</final>"
    trace = parse_trace(text, config=config)
    assert trace.issues == ()
    assert (trace.answer, trace.spans[0].label, trace.spans[0].box) == (
        "A",
        "cat",
        (1.0, 2.0, 3.0, 4.0),
    )
    # The default tags are plain text under this configuration.
    default = parse_trace(wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>"), config=config)
    assert default.spans == ()
    assert {"missing_think", "missing_answer"} <= {i.code for i in default.issues}


# --- rendering ------------------------------------------------------------------------------


def test_format_span_and_box() -> None:
    assert format_span("cat", (10, 20, 30, 40)) == "<obj>cat</obj><bbox>[10, 20, 30, 40]</bbox>"
    assert format_span("eyes", [(1, 1, 2, 2), (3, 1, 4, 2)]) == (
        "<obj>eyes</obj><bbox>[[1, 1, 2, 2], [3, 1, 4, 2]]</bbox>"
    )
    assert format_box((1.0, 2.5, 30, 40)) == "[1, 2.5, 30, 40]"
    config = RewardConfig(obj_tag="ref", bbox_tag="box")
    assert (
        format_span("cat", (1, 2, 3, 4), config=config) == "<ref>cat</ref><box>[1, 2, 3, 4]</box>"
    )


def test_format_span_round_trips_awkward_floats() -> None:
    box = (0.1 + 0.2, 1e-7, 1e20, 1.5e21)
    (span,) = parse_trace(wrap(format_span("x", box))).spans
    assert span.box == box


# --- immutability ---------------------------------------------------------------------------


def test_trace_span_and_issue_are_frozen_and_hashable() -> None:
    trace = parse_trace(wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>", ""))
    span, issue = trace.spans[0], trace.issues[0]
    assert isinstance(span, GroundedSpan) and isinstance(issue, FormatIssue)
    for obj, field in ((trace, "answer"), (span, "box"), (span, "label"), (issue, "code")):
        # FrozenInstanceError is an AttributeError; slotted frozen classes may raise the base.
        with pytest.raises(AttributeError):
            setattr(obj, field, None)
        assert getattr(obj, field) is not None
    assert isinstance(trace.spans, tuple) and isinstance(trace.issues, tuple)
    rebuilt = GroundedSpan(
        label=span.label,
        box=span.box,
        start=span.start,
        end=span.end,
        region=span.region,
        valid=span.valid,
    )
    assert rebuilt == span and hash(rebuilt) == hash(span)
    assert hash(trace) == hash(parse_trace(wrap("<obj>a</obj><bbox>[0, 0, 1, 1]</bbox>", "")))


def test_trace_has_no_instance_dict() -> None:
    trace = parse_trace("<think>x</think><answer>A</answer>")
    with pytest.raises((AttributeError, TypeError)):
        trace.extra = 1  # type: ignore[attr-defined]
    assert isinstance(trace, Trace)
