"""Invariant: parse_trace(render(spans)) gives the spans back; parsing never raises."""

from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.testing import (
    adversarial_completions,
    grounded_traces,
    image_sizes,
    labels,
    valid_boxes,
)

CUSTOM = gr.RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box")


@given(grounded_traces(space=None))
def test_rendered_traces_parse_back_exactly(trace):
    parsed = gr.parse_trace(trace.text)
    assert parsed.issues == ()
    assert [(s.label, s.box) for s in parsed.spans] == list(trace.spans)
    assert all(s.valid and s.region == "think" for s in parsed.spans)
    assert parsed.answer == trace.answer


@given(grounded_traces(space=None, config=CUSTOM))
def test_round_trip_with_custom_tag_names(trace):
    parsed = gr.parse_trace(trace.text, config=CUSTOM)
    assert parsed.issues == ()
    assert [(s.label, s.box) for s in parsed.spans] == list(trace.spans)


@given(labels(), image_sizes().flatmap(lambda s: st.lists(valid_boxes(s), min_size=1, max_size=4)))
def test_format_span_round_trips_plural_boxes(label, boxes):
    text = "<think>" + gr.format_span(label, boxes) + "</think><answer>A</answer>"
    parsed = gr.parse_trace(text)
    assert [(s.label, s.box) for s in parsed.spans] == [(label, b) for b in boxes]


@given(adversarial_completions(max_repeats=2000))
def test_parsing_adversarial_text_never_raises_and_respects_the_caps(text):
    trace = gr.parse_trace(text)
    assert len(trace.spans) <= gr.DEFAULT_CONFIG.max_boxes + 1
    assert len(trace.issues) <= 64
    if len(text) > gr.DEFAULT_CONFIG.max_chars:
        assert [i.code for i in trace.issues] == ["too_long"]
