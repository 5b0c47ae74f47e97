"""zoom_reward: hand-checked arithmetic of coverage, tightness, matching and penalties."""

from __future__ import annotations

import pickle

import pytest

import grounding_rewards as gr
from grounding_rewards import RewardConfig
from grounding_rewards.zoom import ZoomConfig, ZoomScorer, zoom_reward
from grounding_rewards.zoom.reward import coverage, crop_score, score_zoom, tightness

SIZE = (1000, 800)


def deepeyes(*boxes: tuple[float, ...], answer: str | None = "B") -> str:
    calls = "".join(
        '<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": ['
        + ", ".join(str(v) for v in box)
        + "]}}</tool_call>"
        for box in boxes
    )
    return (
        "<think>look closer</think>"
        + calls
        + ("" if answer is None else f"<answer>{answer}</answer>")
    )


def test_coverage_and_tightness_by_hand() -> None:
    # g = 100 x 50 = 5000; crop (150, 100, 250, 150) holds 50 x 50 = 2500 of it.
    assert coverage((150, 100, 250, 150), (100, 100, 200, 150)) == 0.5
    # allowed = max(4 * 5000, 56^2) = 20000; crop 200 x 200 = 40000 -> 0.5
    assert tightness((0, 0, 200, 200), (100, 100, 200, 150)) == 0.5
    # tiny evidence 10 x 10: allowed = max(400, 3136) = 3136; crop 56 x 56 -> 1
    assert tightness((0, 0, 56, 56), (10, 10, 20, 20)) == 1.0
    assert crop_score(None, (0, 0, 1, 1)) == 0.0


def test_tight_crop_scores_one_and_whole_image_little() -> None:
    gt = [[100, 100, 200, 150]]
    assert zoom_reward(deepeyes((90, 90, 210, 160)), gt, image_size=SIZE) == 1.0
    # whole image 800000: 20000 / 800000
    assert zoom_reward(deepeyes((0, 0, 1000, 800)), gt, image_size=SIZE) == pytest.approx(0.025)


def test_partial_coverage_times_tightness() -> None:
    # crop (150, 100, 350, 200): covers 50 x 50 of g (0.5); area 20000 <= 20000 -> 1
    assert (
        zoom_reward(deepeyes((150, 100, 350, 200)), [[100, 100, 200, 150]], image_size=SIZE) == 0.5
    )


def test_one_to_one_over_two_evidence_boxes() -> None:
    gt = [[100, 100, 200, 150], [600, 500, 700, 600]]
    # one crop on each: 2 / 2
    both = deepeyes((90, 90, 210, 160), (590, 490, 710, 610))
    assert zoom_reward(both, gt, image_size=SIZE) == 1.0
    # the same crop twice earns one match: (1 + 0) / 2; n = 2 <= m + f, no penalty
    twice = deepeyes((90, 90, 210, 160), (90, 90, 210, 160))
    assert zoom_reward(twice, gt, image_size=SIZE) == 0.5


def test_call_penalty_and_free_calls() -> None:
    gt = [[100, 100, 200, 150]]
    tight = (90, 90, 210, 160)
    # n = 2, m = 1, f = 1: no penalty
    assert zoom_reward(deepeyes(tight, (0, 0, 10, 10)), gt, image_size=SIZE) == 1.0
    # n = 4: (1 + 1) / 4
    assert zoom_reward(deepeyes(*[tight] * 4), gt, image_size=SIZE) == 0.5
    # f = 0, n = 4: 1 / 4; alpha = 2: (1/4)^2
    assert (
        zoom_reward(deepeyes(*[tight] * 4), gt, image_size=SIZE, zoom=ZoomConfig(free_calls=0))
        == 0.25
    )
    strict = ZoomConfig(free_calls=0, length_penalty=2.0)
    assert zoom_reward(deepeyes(*[tight] * 4), gt, image_size=SIZE, zoom=strict) == 0.0625


def test_no_answer_no_call_and_missing_ground_truth() -> None:
    gt = [[100, 100, 200, 150]]
    assert zoom_reward(deepeyes((90, 90, 210, 160), answer=None), gt, image_size=SIZE) == 0.0
    assert zoom_reward("<answer>B</answer>", gt, image_size=SIZE) == 0.0
    off = ZoomConfig(require_answer=False)
    assert (
        zoom_reward(deepeyes((90, 90, 210, 160), answer=None), gt, image_size=SIZE, zoom=off) == 1.0
    )
    assert zoom_reward(deepeyes((90, 90, 210, 160)), [], image_size=SIZE) is None
    with pytest.raises(ValueError, match="image_size"):
        zoom_reward(deepeyes((90, 90, 210, 160)), gt)


def test_answer_weight() -> None:
    gt = [[100, 100, 200, 150]]
    text = deepeyes((150, 100, 350, 200))  # R_crop = 0.5
    bonus = ZoomConfig(answer_weight=0.5)
    # right: 0.5 * (1 - 0.5 + 0.5) ; wrong: 0.5 * 0.5
    assert zoom_reward(text, gt, image_size=SIZE, answer="B", zoom=bonus) == 0.5
    assert zoom_reward(text, gt, image_size=SIZE, answer="A", zoom=bonus) == 0.25
    assert zoom_reward(text, gt, image_size=SIZE, zoom=bonus) == 0.5  # no answer to check


def test_coordinate_space_of_tool_calls() -> None:
    gt = [[100, 100, 200, 150]]
    # norm1000 on 1000 x 800: (90, 112.5, 210, 200) -> x 90..210, y 90..160
    text = deepeyes((90, 112.5, 210, 200))
    assert zoom_reward(text, gt, image_size=SIZE, config=RewardConfig(coords="norm1000")) == 1.0
    assert zoom_reward(text, gt, image_size=SIZE, zoom=ZoomConfig(coords="norm1000")) == 1.0


def test_caps_score_zero() -> None:
    gt = [[100, 100, 200, 150]]
    many = deepeyes(*[(90, 90, 210, 160)] * 40)
    assert zoom_reward(many, gt, image_size=SIZE) == 0.0
    long = deepeyes((90, 90, 210, 160)) + " " * 100_001
    assert zoom_reward(long, gt, image_size=SIZE) == 0.0


def test_breakdown_and_component() -> None:
    truth = gr.parse_ground_truth(answer="B", gt_boxes=[[100, 100, 200, 150]], image_size=SIZE)
    score = score_zoom(deepeyes((150, 100, 350, 200)), truth)
    assert (score.value, score.n_calls, score.n_gt, score.pairs) == (0.5, 1, 1, ((0, 0),))
    assert score.answered and score.answer_correct
    assert score.as_dict()["zoom_calls"] == 1
    config = RewardConfig(weights={"zoom": 2.0})
    r = gr.grounding_reward(
        deepeyes((90, 90, 210, 160)),
        answer="B",
        gt_boxes=[[100, 100, 200, 150]],
        image_size=SIZE,
        config=config,
    )
    assert r.scores["zoom"] == 1.0
    assert "zoom" not in RewardConfig().weights  # off until weighed
    scorer = pickle.loads(pickle.dumps(ZoomScorer(ZoomConfig(answer_weight=1.0))))
    assert scorer.zoom.answer_weight == 1.0


def test_zoom_config_errors() -> None:
    with pytest.raises(gr.ConfigError, match="expected"):
        ZoomConfig(coords="inches")
    with pytest.raises(gr.ConfigError, match="answer_weight"):
        ZoomConfig(answer_weight=2.0)
    with pytest.raises(gr.ConfigError, match="view_max_pixels"):
        ZoomConfig(view_min_pixels=100, view_max_pixels=10)
