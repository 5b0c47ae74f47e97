"""R_zoom invariants (docs/reward-contract.md, "Zoom-in rewards"), as property tests."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from grounding_rewards.zoom import ZoomConfig, zoom_reward
from grounding_rewards.zoom.reward import crop_score

SIZE = (1000, 800)
ZOOM = ZoomConfig()


@st.composite
def boxes(draw: st.DrawFn, min_side: float = 8.0) -> tuple[float, float, float, float]:
    x1 = draw(st.floats(0, SIZE[0] - min_side))
    y1 = draw(st.floats(0, SIZE[1] - min_side))
    x2 = draw(st.floats(x1 + min_side, SIZE[0]))
    y2 = draw(st.floats(y1 + min_side, SIZE[1]))
    return (x1, y1, x2, y2)


def call(box: tuple[float, ...], source: str | None = None) -> str:
    arguments: dict[str, object] = {"bbox_2d": list(box)}
    if source:
        arguments["source"] = source
    return (
        "<tool_call>"
        + json.dumps({"name": "image_zoom_in_tool", "arguments": arguments})
        + "</tool_call>"
    )


def trajectory(crops: list[tuple[float, ...]], answer: str | None = "A") -> str:
    return "".join(call(c) for c in crops) + (
        "" if answer is None else f"<answer>{answer}</answer>"
    )


def tight(g: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A crop that contains g and is within the allowed context (it scores 1; sides >= 8
    keep the aspect ratio <= 200, which the tool can show)."""
    return g


@given(st.text(max_size=300), st.lists(boxes(), min_size=1, max_size=3))
def test_any_text_scores_inside_the_range(text: str, gt: list[tuple[float, ...]]) -> None:
    value = zoom_reward(text, gt, image_size=SIZE)
    assert value is not None and 0.0 <= value <= 1.0


@given(
    st.lists(
        st.tuples(boxes(), st.sampled_from([None, "observation_1", "observation_9"])), max_size=6
    ),
    st.lists(boxes(), min_size=1, max_size=3),
)
def test_any_calls_and_chains_score_inside_the_range(calls: list, gt: list) -> None:
    text = "".join(call(b, s) for b, s in calls) + "<answer>A</answer>"
    value = zoom_reward(text, gt, image_size=SIZE)
    assert value is not None and 0.0 <= value <= 1.0


@given(st.lists(boxes(), min_size=1, max_size=4), st.randoms())
def test_one_tight_crop_per_evidence_box_in_any_order_scores_one(gt: list, rng) -> None:
    crops = [tight(g) for g in gt]
    rng.shuffle(crops)
    assert zoom_reward(trajectory(crops), gt, image_size=SIZE) == pytest.approx(1.0)


@given(boxes(), boxes(), boxes())
def test_growing_a_crop_that_holds_the_evidence_never_pays_more(g, a, b) -> None:
    # c = hull(g, a) contains g; c' = hull(c, b) contains c
    def hull(p, q):
        return (min(p[0], q[0]), min(p[1], q[1]), max(p[2], q[2]), max(p[3], q[3]))

    c = hull(g, a)
    larger = hull(c, b)
    assert crop_score(larger, g, ZOOM) <= crop_score(c, g, ZOOM) + 1e-12
    whole = (0.0, 0.0, float(SIZE[0]), float(SIZE[1]))
    assert crop_score(whole, g, ZOOM) <= crop_score(c, g, ZOOM) + 1e-12


@given(boxes(min_side=8))
def test_a_whole_image_crop_pays_less_than_a_tight_one_for_small_evidence(g) -> None:
    area = (g[2] - g[0]) * (g[3] - g[1])
    assume(ZOOM.context * area < SIZE[0] * SIZE[1] and ZOOM.min_crop_side**2 < SIZE[0] * SIZE[1])
    whole = zoom_reward(trajectory([(0, 0, *SIZE)]), [g], image_size=SIZE)
    assert whole is not None and whole < zoom_reward(trajectory([g]), [g], image_size=SIZE)


@given(
    st.lists(boxes(), min_size=1, max_size=3), st.lists(boxes(), min_size=1, max_size=3), boxes()
)
def test_an_extra_call_that_misses_every_evidence_box_never_raises_the_reward(
    gt, crops, extra
) -> None:
    assume(all(crop_score(extra, g, ZOOM) == 0.0 for g in gt))
    before = zoom_reward(trajectory(crops), gt, image_size=SIZE)
    after = zoom_reward(trajectory([*crops, extra]), gt, image_size=SIZE)
    assert after <= before + 1e-12


@given(st.lists(boxes(), min_size=1, max_size=2), st.lists(boxes(), min_size=1, max_size=12))
def test_spam_is_bounded(gt, crops) -> None:
    n, m, f = len(crops), len(gt), ZOOM.free_calls
    value = zoom_reward(trajectory(crops), gt, image_size=SIZE)
    assert value <= min(1.0, (m + f) / n) + 1e-12


@given(st.lists(boxes(), min_size=1, max_size=3), st.lists(boxes(), min_size=1, max_size=3))
def test_no_final_answer_scores_zero_and_none_without_evidence(gt, crops) -> None:
    assert zoom_reward(trajectory(crops, answer=None), gt, image_size=SIZE) == 0.0
    assert zoom_reward(trajectory(crops), [], image_size=SIZE) is None


@given(st.lists(boxes(), min_size=1, max_size=3), st.lists(boxes(), min_size=1, max_size=3))
def test_messages_and_text_give_the_same_reward(gt, crops) -> None:
    messages = [{"role": "assistant", "content": call(c)} for c in crops]
    messages.append({"role": "assistant", "content": "<answer>A</answer>"})
    assert zoom_reward(messages, gt, image_size=SIZE) == pytest.approx(
        zoom_reward(trajectory(crops), gt, image_size=SIZE)
    )
