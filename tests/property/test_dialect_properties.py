"""Invariants across dialects: the same boxes score the same whatever the syntax; every
reader never raises, stays in range and runs in linear time."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import grounding_rewards as gr
from grounding_rewards.dialects import get_dialect

BOX_DIALECTS = ["tags", "json", "qwen2-tokens", "ref-box", "bare", "florence2"]
ALL_DIALECTS = [*BOX_DIALECTS, "molmo"]

# Labels every dialect can carry: letters and spaces (no markup, quotes or digits).
LABELS = st.text(alphabet="abcdefghij klm", min_size=1, max_size=12).map(
    lambda s: " ".join(s.split())
)
LABELS = LABELS.filter(bool)


@st.composite
def integer_boxes(draw: st.DrawFn) -> tuple[float, float, float, float]:
    x1 = draw(st.integers(0, 900))
    y1 = draw(st.integers(0, 900))
    return (
        float(x1),
        float(y1),
        float(draw(st.integers(x1 + 1, 999))),
        float(draw(st.integers(y1 + 1, 999))),
    )


ITEMS = st.lists(st.tuples(LABELS, integer_boxes()), min_size=0, max_size=6)
TRUTH = st.lists(integer_boxes(), min_size=1, max_size=5)


@given(ITEMS, TRUTH, st.sampled_from(["think", "answer"]))
def test_the_same_boxes_score_the_same_in_every_dialect(items, truth, region):
    scores = {}
    for dialect in BOX_DIALECTS:
        config = gr.RewardConfig(dialect=dialect, box_region=region, coords="norm1000")
        marks = gr.render_marks(items, dialect)
        think, answer = (marks, "B") if region == "think" else ("x", f"B {marks}")
        text = f"<think>{think}</think><answer>{answer}</answer>"
        trace = gr.parse_trace(text, config=config)
        assert [s.box for s in trace.counted_spans(config)] == [box for _, box in items]
        scores[dialect] = gr.bbox_reward(trace, truth, image_size=(640, 480), config=config)
    assert len(set(scores.values())) == 1, scores


@given(st.lists(st.tuples(LABELS, st.tuples(st.integers(0, 99), st.integers(0, 99))), max_size=6))
def test_the_same_points_read_the_same_in_every_point_dialect(items):
    points = [(label, (float(x), float(y))) for label, (x, y) in items]
    for dialect in ["tags", "json", "qwen2-tokens", "molmo", "florence2"]:
        config = gr.RewardConfig(dialect=dialect)
        text = "<think>" + gr.render_marks(points, dialect) + "</think><answer>A</answer>"
        parsed = gr.parse_trace(text, config=config).points
        assert [(p.label, p.point) for p in parsed] == points, dialect


MARKUP = st.sampled_from(
    [
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        '"',
        "'",
        "bbox_2d",
        "point_2d",
        "label",
        "```json",
        "<|object_ref_start|>",
        "<|object_ref_end|>",
        "<|box_start|>",
        "<|box_end|>",
        "<ref>",
        "</ref>",
        "<box>",
        "</box>",
        "<point ",
        "<points ",
        'x="',
        'y1="',
        "</point>",
        "<loc_",
        ">",
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "1",
        "-2.5",
        "1e9",
        "NaN",
        "\x00",
        "\ud800",
        " ",
    ]
)
SOUP = st.lists(MARKUP, max_size=200).map("".join)


@pytest.mark.parametrize("dialect", ALL_DIALECTS)
@given(text=SOUP, truth=TRUTH)
def test_every_dialect_never_raises_and_stays_in_range(dialect, text, truth):
    config = gr.RewardConfig(dialect=dialect, weights={"point": 1}, max_boxes=20)
    r = gr.grounding_reward(text, answer="A", gt_boxes=truth, config=config)
    for value in r.scores.values():
        assert value is None or (math.isfinite(value) and 0.0 <= value <= 1.0)
    assert math.isfinite(r.total) and 0.0 <= r.total <= 5.0
    trace = gr.parse_trace(text, config=config)
    assert len(trace.spans) <= 21 and len(trace.points) <= 21


# Linear time, measured in CPU time of this process (not wall clock): 8x the input may
# take at most 24x the time (quadratic would take 64x). Best of three.
PATTERNS = {
    "json": '[{"bbox_2d": [1, 2, 3, 4], "label": "a"}, {"label": "b", ',
    "qwen2-tokens": "<|object_ref_start|>a<|object_ref_end|><|box_start|>(1,2),(3,",
    "ref-box": "<ref>a</ref><box>[[1, 2, 3, ",
    "bare": "[1, 2, 3, [",
    "molmo": '<point x="1" y="2" alt="a">a<points x1="1"',
    "florence2": "ab<loc_1><loc_2><loc_3>",
}


def cpu_seconds(dialect: str, text: str) -> float:
    config = gr.RewardConfig(dialect=dialect, max_chars=10_000_000, max_boxes=10**6)
    reader = get_dialect(dialect)
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        reader.read(text, config)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("dialect", sorted(PATTERNS))
def test_readers_run_in_linear_time(dialect):
    small = PATTERNS[dialect] * 2_000
    large = PATTERNS[dialect] * 16_000
    t_small = max(cpu_seconds(dialect, small), 1e-3)  # below the clock's resolution
    assert cpu_seconds(dialect, large) <= 24 * t_small
