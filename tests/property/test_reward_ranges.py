"""Invariant: every reward is finite and inside its range for *any* string."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.testing import (
    adversarial_completions,
    completions,
    ground_truths,
    malformed_traces,
    reward_configs,
)


def _finite_in(value, low, high):
    return value is not None and math.isfinite(value) and low <= value <= high


@given(completions(), ground_truths())
def test_every_reward_finite_and_in_range_for_any_completion(text, gt):
    assert _finite_in(gr.format_reward(text, image_size=gt["image_size"]), 0.0, 1.0)
    assert gr.option_reward(text, gt["answer"], choices=gt["choices"]) in (0.0, 1.0)
    assert _finite_in(gr.bbox_reward(text, gt["gt_boxes"], image_size=gt["image_size"]), 0.0, 1.0)
    total = gr.grounding_reward(text, **gt)
    assert _finite_in(total.total, 0.0, 3.0)
    assert total.total == pytest.approx(total.format + total.accuracy + total.bbox)


@given(adversarial_completions(), ground_truths(), reward_configs(min_length_penalty=0.0))
def test_adversarial_completions_under_any_config(text, gt, config):
    r = gr.grounding_reward(text, **gt, config=config)
    assert _finite_in(r.format, 0.0, 1.0)
    assert r.accuracy in (0.0, 1.0)
    assert _finite_in(r.bbox, 0.0, 1.0)
    assert _finite_in(r.total, 0.0, sum(config.weights.values()) + 1e-9)


@given(st.text(), ground_truths(), reward_configs(min_length_penalty=0.0))
def test_arbitrary_text_under_any_config(text, gt, config):
    r = gr.grounding_reward(text, **gt, config=config)
    assert _finite_in(r.total, 0.0, sum(config.weights.values()) + 1e-9)


@given(malformed_traces())
def test_malformed_traces_report_their_issue_and_fail_strict_format(case):
    text, code = case
    trace = gr.parse_trace(text)
    assert trace.has_issue(code), (code, trace.issues)
    assert gr.format_reward(text) == 0.0


@given(st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text())), ground_truths())
def test_non_text_completions_score_zero(value, gt):
    r = gr.grounding_reward(value, **gt)
    assert (r.total, r.format, r.accuracy, r.bbox) == (0.0, 0.0, 0.0, 0.0)
    assert [i.code for i in r.issues] == ["not_text"]
