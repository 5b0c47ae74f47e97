"""Hand-checkable cases for the composite reward (grounding_rewards.rewards.composite)."""

from __future__ import annotations

import pickle

import pytest

from grounding_rewards import (
    GroundTruthError,
    RewardBreakdown,
    RewardConfig,
    bbox_reward,
    format_reward,
    grounding_reward,
    option_reward,
    parse_trace,
)

GT = [[10, 10, 50, 90], [20, 10, 40, 30]]
TEXT = (
    "<think>The <obj>man</obj><bbox>[10, 10, 50, 90]</bbox> wears a "
    "<obj>helmet</obj><bbox>[20, 10, 40, 25]</bbox>.</think><answer>B</answer>"
)
# bbox: man IoU 1; helmet [20,10,40,25] in [20,10,40,30]: 20x15 = 300 / 400 = 0.75
# -> (1 + 0.75) / 2 = 0.875. format 1, accuracy 1 -> total 2.875.


def test_total_is_the_sum_of_the_components_by_hand() -> None:
    r = grounding_reward(TEXT, answer="B", gt_boxes=GT, image_size=(100, 100))
    assert (r.format, r.accuracy) == (1.0, 1.0)
    assert r.bbox == pytest.approx(0.875)
    assert r.total == pytest.approx(2.875)
    assert (r.n_pred, r.n_gt) == (2, 2)
    assert r.pairs == ((0, 0), (1, 1))
    assert r.pair_scores == pytest.approx((1.0, 0.75))
    assert r.issues == ()


def test_components_equal_the_single_rewards() -> None:
    r = grounding_reward(TEXT, answer="C", gt_boxes=GT, image_size=(100, 100))
    assert r.format == format_reward(TEXT, image_size=(100, 100))
    assert r.accuracy == option_reward(TEXT, "C") == 0.0
    assert r.bbox == bbox_reward(TEXT, GT)


def test_weights() -> None:
    config = RewardConfig(weights=(0.5, 2.0, 3.0))
    r = grounding_reward(TEXT, answer="B", gt_boxes=GT, config=config)
    # 0.5 * 1 + 2 * 1 + 3 * 0.875 = 5.125
    assert r.total == pytest.approx(5.125)
    # The components themselves are unweighted.
    assert (r.format, r.accuracy, r.bbox) == (1.0, 1.0, pytest.approx(0.875))


def test_zero_weight_removes_a_component_from_the_total() -> None:
    config = RewardConfig(weights={"format": 0.0})
    r = grounding_reward("no tags at all", answer="B", gt_boxes=GT, config=config)
    assert r.format == 0.0 and r.total == 0.0


def test_no_boxes_leaves_bbox_out_of_the_total() -> None:
    r = grounding_reward(TEXT, answer="B", gt_boxes=[])
    assert r.bbox is None
    assert r.total == pytest.approx(2.0)  # format 1 + accuracy 1
    assert r.n_gt == 0


def test_no_answer_leaves_accuracy_out_of_the_total() -> None:
    r = grounding_reward(TEXT, answer=None, gt_boxes=GT)
    assert r.accuracy is None
    assert r.total == pytest.approx(1.875)  # format 1 + bbox 0.875


def test_only_format_applies() -> None:
    r = grounding_reward(TEXT, answer=None, gt_boxes=None)
    assert (r.accuracy, r.bbox) == (None, None)
    assert r.total == 1.0


def test_none_components_stay_none_even_with_big_weights() -> None:
    config = RewardConfig(weights=(1.0, 10.0, 10.0))
    r = grounding_reward(TEXT, answer=None, gt_boxes=[], config=config)
    assert r.total == 1.0


def test_issues_include_the_format_checks() -> None:
    text = "<think><obj>a</obj><bbox>[0, 0, 700, 10]</bbox></think><answer></answer>"
    r = grounding_reward(text, answer="A", gt_boxes=[[0, 0, 700, 10]], image_size=(640, 480))
    codes = [issue.code for issue in r.issues]
    assert "empty_answer" in codes and "box_out_of_image" in codes
    # bbox still scores the (outside) box against its ground truth; format and accuracy are 0.
    assert (r.format, r.accuracy, r.bbox) == (0.0, 0.0, 1.0)
    assert r.total == 1.0


def test_as_dict() -> None:
    text = "<think>x</think><answer>A</answer>"
    r = grounding_reward(text, answer="A", gt_boxes=[])
    assert r.as_dict() == {
        "total": 1.0,
        "format": 0.0,  # min_spans 1 is not met
        "accuracy": 1.0,
        "bbox": None,
        "n_pred": 0,
        "n_gt": 0,
        "n_issues": 1,
        "issues": "too_few_spans",
    }


def test_a_parsed_trace_is_accepted() -> None:
    from_text = grounding_reward(TEXT, answer="B", gt_boxes=GT)
    from_trace = grounding_reward(parse_trace(TEXT), answer="B", gt_boxes=GT)
    assert from_text == from_trace


def test_choices_and_json_ground_truth() -> None:
    text = TEXT.replace("<answer>B</answer>", "<answer>a white helmet</answer>")
    r = grounding_reward(
        text,
        answer="(b)",
        gt_boxes="[[10, 10, 50, 90], [20, 10, 40, 30]]",
        gt_labels='["man", "helmet"]',
        choices='["a black helmet", "a white helmet"]',
        image_size='{"width": 100, "height": 100}',
    )
    assert (r.format, r.accuracy) == (1.0, 1.0)
    assert r.bbox == pytest.approx(0.875)


def test_malformed_ground_truth_raises() -> None:
    with pytest.raises(GroundTruthError, match=r"gt_boxes\[0\]"):
        grounding_reward(TEXT, answer="B", gt_boxes=[[5, 5, 1, 1]])
    with pytest.raises(GroundTruthError, match="answer"):
        grounding_reward(TEXT, answer="B or C", gt_boxes=GT)
    with pytest.raises(GroundTruthError, match="image_size"):
        grounding_reward(TEXT, answer="B", gt_boxes=GT, image_size=(-1, 5))


@pytest.mark.parametrize("completion", [None, b"x", 7, [{"role": "assistant", "content": TEXT}]])
def test_non_text_completion_scores_zero(completion: object) -> None:
    r = grounding_reward(completion, answer="B", gt_boxes=GT)  # type: ignore[arg-type]
    assert (r.total, r.format, r.accuracy, r.bbox) == (0.0, 0.0, 0.0, 0.0)
    assert [issue.code for issue in r.issues] == ["not_text"]


def test_too_long_completion_scores_zero_everywhere() -> None:
    config = RewardConfig(max_chars=len(TEXT))
    assert grounding_reward(TEXT, answer="B", gt_boxes=GT, config=config).total > 2
    r = grounding_reward(TEXT + " ", answer="B", gt_boxes=GT, config=config)
    assert (r.total, r.format, r.accuracy, r.bbox) == (0.0, 0.0, 0.0, 0.0)


def test_breakdown_is_frozen_and_picklable() -> None:
    r = grounding_reward(TEXT, answer="B", gt_boxes=GT)
    assert isinstance(r, RewardBreakdown)
    with pytest.raises(AttributeError):
        r.total = 3.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(r)) == r
