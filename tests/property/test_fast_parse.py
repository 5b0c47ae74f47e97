"""Invariant: the parser's fast path gives exactly the trace of the general pass.

``parse_trace`` reads a completion of the canonical shape (blocks in order, blank text
around them, every ``<`` of the reasoning opening a tag of a whole one-box span) without
the general state machine; anything else goes to :meth:`_Parser.run`. Both must agree on
every field, every issue and every message, on any input.
"""

from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.dialects.marks import Reading
from grounding_rewards.dialects.registry import get_dialect
from grounding_rewards.parsing import _fast_trace, _Parser
from grounding_rewards.testing import completions

JSON = gr.RewardConfig(dialect="json")
JSON_CUSTOM = gr.RewardConfig(dialect="json", think_tag="reasoning", answer_tag="final")
CUSTOM = gr.RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box")
FEW = gr.RewardConfig(max_boxes=2)

_NUMBERS = st.one_of(
    st.integers(-50, 2000).map(str),
    st.floats(-10, 2000, allow_nan=False).map(repr),
    st.sampled_from(["nan", "inf", "1e309", "-0", "+5", "5.", ".5", "1e3", "2E-1", "0x1", ""]),
)
_BLANK = st.sampled_from(["", " ", "\n", " \t\n", "\u3000", "x", " y "])
_LABEL = st.sampled_from(["man", " red car ", "", "  ", "a>b", "a<b", "dogs", "Ünïcode"])


@st.composite
def _spans(draw: st.DrawFn, obj: str, bbox: str) -> str:
    numbers = draw(st.lists(_NUMBERS, min_size=3, max_size=5))
    gap = draw(st.sampled_from(["", " ", "\n", "x"]))
    spaced = draw(st.sampled_from([", ", ",", " , "]))
    body = "[" + spaced.join(numbers) + "]"
    if draw(st.integers(0, 9)) == 0:  # a plural box
        body = "[" + body + ", " + body + "]"
    return f"<{obj}>{draw(_LABEL)}</{obj}>{gap}<{bbox}>{body}</{bbox}>"


@st.composite
def canonical_like(draw: st.DrawFn, config: gr.RewardConfig) -> str:
    """Completions of (or one edit away from) the canonical shape."""
    t, a = config.think_tag, config.answer_tag
    pieces = draw(
        st.lists(
            st.one_of(
                _spans(config.obj_tag, config.bbox_tag),
                st.sampled_from([" the ", "x < y", "<", ">", "<OBJ>", f"<{config.obj_tag}>"]),
                st.text(max_size=8),
            ),
            max_size=8,
        )
    )
    answer = draw(st.sampled_from(["B", " (B) ", "", "  ", "A<B", "<answer>"]))
    opens = draw(st.sampled_from([(t, a), (t.upper(), a), (t, a.title()), (a, t)]))
    return (
        f"{draw(_BLANK)}<{opens[0]}>{''.join(pieces)}</{t}>{draw(_BLANK)}"
        f"<{opens[1]}>{answer}</{a}>{draw(_BLANK)}"
    )


def _general(text: str, config: gr.RewardConfig) -> gr.Trace:
    if config.dialect == "tags":
        return _Parser(text, config).run(blocks_optional=config.require_blocks is False)
    parser = _Parser(text, config)  # parse_trace's dialect branch, without fast_blocks
    parser.scan_blocks()
    try:
        reading = get_dialect(config.dialect).read(text, config)
    except Exception as error:
        issue = gr.FormatIssue(
            "unparsable_bbox", 0, f"dialect {config.dialect!r} failed: {error!r}"
        )
        reading = Reading(issues=[issue])
    parser.add_reading(reading)
    return parser.finish(len(text), blocks_optional=config.require_blocks is not True)


def _same(text: str, config: gr.RewardConfig) -> None:
    if len(text) > config.max_chars:  # refused before either pass reads it
        assert gr.parse_trace(text, config=config).issues[0].code == "too_long"
        return
    fast, general = gr.parse_trace(text, config=config), _general(text, config)
    assert repr(fast) == repr(general)  # repr: NaN boxes compare equal
    assert fast.text == general.text


@given(canonical_like(gr.DEFAULT_CONFIG))
def test_fast_path_equals_general_pass(text):
    _same(text, gr.DEFAULT_CONFIG)


@given(canonical_like(CUSTOM))
def test_fast_path_equals_general_pass_with_custom_tags(text):
    _same(text, CUSTOM)


@given(canonical_like(FEW))
def test_fast_path_equals_general_pass_near_max_boxes(text):
    _same(text, FEW)


_JSON_BODY = st.sampled_from(
    [
        '{"bbox_2d": [1, 2, 30, 40], "label": "man"}',
        "[{'bbox_2d': [5, 5, 1, 1], 'label': ''}, {\"bbox_2d\": [1, 2",
        " x < y ",
        "",
        "<think>",
    ]
)


@st.composite
def json_blocks(draw: st.DrawFn, config: gr.RewardConfig) -> str:
    """Dialect completions of (or one edit away from) the canonical block shape."""
    t, a = config.think_tag, config.answer_tag
    body = "".join(draw(st.lists(_JSON_BODY, max_size=4)))
    answer = draw(st.sampled_from(["B", "", "  ", "A<B"]))
    opens = draw(st.sampled_from([(t, a), (t.upper(), a), (a, t)]))
    return (
        f"{draw(_BLANK)}<{opens[0]}>{body}</{t}>{draw(_BLANK)}"
        f"<{opens[1]}>{answer}</{a}>{draw(_BLANK)}"
    )


@given(json_blocks(JSON))
def test_fast_blocks_equal_the_block_scan(text):
    _same(text, JSON)


@given(json_blocks(JSON_CUSTOM))
def test_fast_blocks_equal_the_block_scan_with_custom_tags(text):
    _same(text, JSON_CUSTOM)


@given(completions())
def test_fast_path_equals_general_pass_on_any_completion(text):
    _same(text, gr.DEFAULT_CONFIG)


def test_fast_path_reads_the_canonical_shape():
    text = (
        " <think>The <obj>man</obj> <bbox>[1, 2, 30, 40]</bbox> and <obj></obj>"
        "<bbox>[5, 5, 1, 1]</bbox>.</think>\n<answer> </answer>\n"
    )
    trace = _fast_trace(text, gr.DEFAULT_CONFIG)
    assert trace is not None
    assert [issue.code for issue in trace.issues] == [
        "empty_label",
        "degenerate_box",
        "empty_answer",
    ]
    _same(text, gr.DEFAULT_CONFIG)
    for same_shape in (  # a plural box, an unreadable box
        text.replace("[1, 2, 30, 40]", "[[1, 2, 30, 40], [3, 4, 5, 6]]"),
        text.replace("[1, 2, 30, 40]", "[1, 2, 30]"),
    ):
        assert _fast_trace(same_shape, gr.DEFAULT_CONFIG) is not None
        _same(same_shape, gr.DEFAULT_CONFIG)
    # a "<" outside a span, a mis-cased tag, text outside the blocks: the general pass
    for other in (
        text.replace(".</think>", " x < y</think>"),
        text.replace("<obj>man", "<OBJ>man"),
        "Sure! " + text,
    ):
        assert _fast_trace(other, gr.DEFAULT_CONFIG) is None
        _same(other, gr.DEFAULT_CONFIG)


def _without_possessives(pattern: str) -> str:
    return pattern.replace("*+", "*").replace("++", "+").replace("?+", "?")


@given(st.one_of(canonical_like(gr.DEFAULT_CONFIG), json_blocks(JSON), completions()))
def test_possessive_patterns_match_what_backtracking_ones_match(text):
    import re

    from grounding_rewards.dialects.json_objects import _OBJECT
    from grounding_rewards.parsing import _fast_plan, _tag_pattern

    fast = _fast_plan("think", "answer", "obj", "bbox")[4]
    tags = _tag_pattern("think", "answer", "obj", "bbox", "point")
    for pattern in (fast, tags, _OBJECT):
        slow = re.compile(_without_possessives(pattern.pattern))
        assert slow.pattern != pattern.pattern
        assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in slow.finditer(text)]
        assert pattern.findall(text) == slow.findall(text)
