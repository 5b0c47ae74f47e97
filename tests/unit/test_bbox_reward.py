"""Hand-checkable cases for R_bbox (grounding_rewards.rewards.bbox) and its decided edge cases."""

from __future__ import annotations

import pytest

from grounding_rewards import (
    GroundTruthError,
    RewardConfig,
    bbox_reward,
    format_span,
    grounding_reward,
    parse_trace,
)
from grounding_rewards.ground_truth import parse_ground_truth
from grounding_rewards.rewards import score_boxes


def trace(*spans: str, answer: str = "A") -> str:
    return "<think>" + " ".join(spans) + f"</think><answer>{answer}</answer>"


def span(box: tuple[float, ...] | list[tuple[float, ...]], label: str = "obj") -> str:
    return format_span(label, box)


G0, G1 = (0, 0, 10, 10), (20, 0, 30, 10)
FAR = (100, 100, 110, 110)

# --- the formula ----------------------------------------------------------------------------


def test_perfect_prediction_scores_one_in_any_order() -> None:
    assert bbox_reward(trace(span(G0), span(G1)), [G0, G1]) == 1.0
    assert bbox_reward(trace(span(G1), span(G0)), [G0, G1]) == 1.0
    assert bbox_reward(trace(span(G0), span(G1)), [G1, G0]) == 1.0


# Three predictions against two ground-truth boxes:
#   p0 = G0 exactly             -> IoU 1 with G0
#   p1 = [20, 0, 30, 5]          -> IoU with G1: 10x5 = 50 / 100 = 0.5
#   p2 = far away               -> 0
# n = 3, m = 2, sum of matched S = 1.5:
#   alpha = 0: (1.5 / 2) * (2/3)^0 = 0.75
#   alpha = 1: (1.5 / 2) * (2/3)^1 = 0.5   (= 1.5 / max(3, 2))
#   alpha = 2: (1.5 / 2) * (2/3)^2 = 1/3
SPRAY = trace(span(G0), span((20, 0, 30, 5)), span(FAR))


@pytest.mark.parametrize(("alpha", "expected"), [(0.0, 0.75), (1.0, 0.5), (2.0, 1 / 3)])
def test_length_penalty_by_hand(alpha: float, expected: float) -> None:
    config = RewardConfig(length_penalty=alpha)
    assert bbox_reward(SPRAY, [G0, G1], config=config) == pytest.approx(expected)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 2.0])
def test_fewer_predictions_than_truth_is_not_penalized_by_alpha(alpha: float) -> None:
    # n = 1 < m = 2: min(1, m/n) = 1, so R = 1 / 2 for every alpha.
    config = RewardConfig(length_penalty=alpha)
    assert bbox_reward(trace(span(G0)), [G0, G1], config=config) == pytest.approx(0.5)


def test_default_alpha_equals_sum_over_max_n_m() -> None:
    assert bbox_reward(SPRAY, [G0, G1]) == pytest.approx(1.5 / 3)


def test_details_of_score_boxes() -> None:
    truth = parse_ground_truth(gt_boxes=[G0, G1])
    score = score_boxes(parse_trace(SPRAY), truth, RewardConfig())
    assert (score.n_pred, score.n_gt) == (3, 2)
    assert score.pairs == ((0, 0), (1, 1))
    assert score.pair_scores == pytest.approx((1.0, 0.5))


def test_box_spam_is_bounded() -> None:
    # Ten copies of the right box against one ground truth: 1 / max(10, 1) = 0.1.
    assert bbox_reward(trace(*[span(G0)] * 10), [G0]) == pytest.approx(0.1)


# --- decided edge cases ---------------------------------------------------------------------


@pytest.mark.parametrize("no_boxes", [[], None, "[]", "null"])
def test_no_ground_truth_box_gives_none(no_boxes: object) -> None:
    assert bbox_reward(trace(span(G0)), no_boxes) is None
    assert bbox_reward(trace("nothing"), no_boxes) is None


def test_no_prediction_gives_zero() -> None:
    assert bbox_reward(trace("I see nothing."), [G0]) == 0.0
    assert bbox_reward("", [G0]) == 0.0


def test_more_than_max_boxes_gives_zero() -> None:
    config = RewardConfig(max_boxes=3)
    assert bbox_reward(trace(*[span(G0)] * 4), [G0], config=config) == 0.0
    # Exactly max_boxes is scored: 1 / max(3, 1).
    assert bbox_reward(trace(*[span(G0)] * 3), [G0], config=config) == pytest.approx(1 / 3)


def test_more_than_max_boxes_in_one_plural_bbox_gives_zero() -> None:
    config = RewardConfig(max_boxes=3)
    assert bbox_reward(trace(span([G0] * 4)), [G0], config=config) == 0.0


def test_unparsable_box_counts_in_n_and_scores_zero() -> None:
    # One right box + one unparsable: n = 2, m = 1 -> 1 / 2.
    text = trace(span(G0), "<obj>b</obj><bbox>[0, 0, 10]</bbox>")
    assert bbox_reward(text, [G0]) == pytest.approx(0.5)


def test_unclosed_box_counts_in_n() -> None:
    text = trace(span(G0), "<obj>b</obj><bbox>[0, 0, 10, 10]")
    assert bbox_reward(text, [G0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad", ["[10, 10, 0, 0]", "[0, 0, 0, 10]", "[1e309, 0, 10, 10]", "[nan, 0, 10, 10]"]
)
def test_degenerate_or_non_finite_box_counts_in_n_and_scores_zero(bad: str) -> None:
    text = trace(span(G0), f"<obj>b</obj><bbox>{bad}</bbox>")
    assert bbox_reward(text, [G0]) == pytest.approx(0.5)
    # Alone it scores 0, not None.
    assert bbox_reward(trace(f"<obj>b</obj><bbox>{bad}</bbox>"), [G0]) == 0.0


def test_label_less_box_counts_with_an_empty_label() -> None:
    text = trace(span(G0), "<bbox>[20, 0, 30, 10]</bbox>")
    # Labels ignored: both boxes match -> 2 / 2.
    assert bbox_reward(text, [G0, G1]) == 1.0
    # Only one ground truth: n = 2 -> 1 / 2.
    assert bbox_reward(text, [G0]) == pytest.approx(0.5)
    # With exact labels the label-less box matches nothing: 1 / 2.
    config = RewardConfig(label_matching="exact")
    assert bbox_reward(text, [G0, G1], gt_labels=["obj", "obj"], config=config) == 0.5


def test_plural_bbox_gives_one_span_per_box() -> None:
    text = trace(span([G0, G1], label="cats"))
    assert bbox_reward(text, [G0, G1]) == 1.0
    # Two predicted boxes, one ground truth: 1 / 2.
    assert bbox_reward(text, [G0]) == pytest.approx(0.5)
    # Every box carries the object's label.
    config = RewardConfig(label_matching="exact")
    assert bbox_reward(text, [G0, G1], gt_labels=["cats", "cats"], config=config) == 1.0


# --- box_region -----------------------------------------------------------------------------

REGIONS = (
    f"{span(FAR)}<think>{span(G0)}</think><answer>B {span(G1)}</answer>"  # outside, think, answer
)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("think", 0.5),  # n = 1 (G0), m = 2 -> 1 / 2
        ("answer", 0.5),  # n = 1 (G1) -> 1 / 2
        ("anywhere", 2 / 3),  # n = 3, both matched -> 2 / 3
    ],
)
def test_box_region(region: str, expected: float) -> None:
    config = RewardConfig(box_region=region)
    assert bbox_reward(REGIONS, [G0, G1], config=config) == pytest.approx(expected)


def test_box_region_think_ignores_answer_boxes() -> None:
    text = f"<think>looking</think><answer>B {span(G0)}</answer>"
    assert bbox_reward(text, [G0]) == 0.0
    assert bbox_reward(text, [G0], config=RewardConfig(box_region="answer")) == 1.0


# --- similarity -------------------------------------------------------------------------------


@pytest.mark.parametrize("similarity", ["iou", "giou", "diou", "ciou"])
def test_a_perfect_box_scores_one_under_every_similarity(similarity: str) -> None:
    config = RewardConfig(similarity=similarity)
    assert bbox_reward(trace(span((3, 4, 50, 60))), [(3, 4, 50, 60)], config=config) == 1.0


@pytest.mark.parametrize(
    ("similarity", "expected"),
    [
        ("iou", 0.0),
        # GIoU of disjoint unit boxes 1 apart = -1/3 -> (1 - 1/3) / 2 = 1/3.
        ("giou", 1 / 3),
        # DIoU = 0 - 4 / 10 = -0.4 -> 0.3; CIoU equals DIoU for the same aspect ratio.
        ("diou", 0.3),
        ("ciou", 0.3),
    ],
)
def test_giou_style_measures_enter_as_half_s_plus_one(similarity: str, expected: float) -> None:
    config = RewardConfig(similarity=similarity)
    value = bbox_reward(trace(span((0, 0, 1, 1))), [(2, 0, 3, 1)], config=config)
    assert value == pytest.approx(expected)


# --- coordinate spaces --------------------------------------------------------------------------


def test_norm1000_on_a_non_square_image() -> None:
    # (width, height) = (640, 480): [0, 0, 500, 500] in 0-1000 is [0, 0, 320, 240] in pixels.
    config = RewardConfig(coords="norm1000")
    text = trace(span((0, 0, 500, 500)))
    assert bbox_reward(text, [(0, 0, 320, 240)], image_size=(640, 480), config=config) == 1.0
    # Read as (height, width) it would be [0, 0, 240, 320]: IoU 240x240 / (2*76800 - 57600) = 0.6.
    assert bbox_reward(text, [(0, 0, 240, 320)], image_size=(640, 480), config=config) == (
        pytest.approx(0.6)
    )


def test_norm1() -> None:
    config = RewardConfig(coords="norm1")
    # 0.5 * 640 = 320, 0.5 * 480 = 240
    text = trace(span((0.5, 0.5, 1.0, 1.0)))
    assert bbox_reward(text, [(320, 240, 640, 480)], image_size=(640, 480), config=config) == 1.0


def test_image_size_as_mapping_and_json() -> None:
    config = RewardConfig(coords="norm1000")
    text = trace(span((0, 0, 500, 500)))
    for size in ({"width": 640, "height": 480}, '{"width": 640, "height": 480}', "[640, 480]"):
        assert bbox_reward(text, [(0, 0, 320, 240)], image_size=size, config=config) == 1.0


def test_qwen25vl_default_pixels() -> None:
    # 640 x 480 resizes to 644 x 476, so [0, 0, 644, 476] is the whole original image.
    config = RewardConfig(coords="qwen25vl")
    text = trace(span((0, 0, 644, 476)))
    assert bbox_reward(text, [(0, 0, 640, 480)], image_size=(640, 480), config=config) == (
        pytest.approx(1.0)
    )


def test_qwen25vl_custom_min_max_pixels() -> None:
    # 1920 x 1080 with max_pixels = 1003520 resizes to 1316 x 728 (see test_boxes); the
    # quarter box [329, 182, 658, 364] there is [480, 270, 960, 540] in the original.
    small = RewardConfig(coords="qwen25vl", max_pixels=1003520)
    text = trace(span((329, 182, 658, 364)))
    gt = [(480, 270, 960, 540)]
    assert bbox_reward(text, gt, image_size=(1920, 1080), config=small) == pytest.approx(1.0)
    # Under the default max_pixels (resize to 1932 x 1092) the same numbers miss a little.
    default = RewardConfig(coords="qwen25vl")
    assert bbox_reward(text, gt, image_size=(1920, 1080), config=default) < 0.99
    # A large min_pixels: 100 x 50 resizes to 336 x 168 with min_pixels = 50000.
    large = RewardConfig(coords="qwen25vl", min_pixels=50000)
    text = trace(span((0, 0, 168, 84)))  # half of the resized image -> [0, 0, 50, 25]
    assert bbox_reward(text, [(0, 0, 50, 25)], image_size=(100, 50), config=large) == (
        pytest.approx(1.0)
    )


@pytest.mark.parametrize("coords", ["norm1000", "norm1", "qwen25vl"])
def test_normalized_space_without_image_size_raises_value_error(coords: str) -> None:
    config = RewardConfig(coords=coords)
    with pytest.raises(ValueError, match="image_size"):
        bbox_reward(trace(span((0, 0, 1, 1))), [G0], config=config)


@pytest.mark.parametrize("coords", ["norm1000", "norm1", "qwen25vl"])
@pytest.mark.parametrize("completion", [trace("no boxes at all"), "", None])
def test_normalized_space_without_image_size_raises_whatever_the_model_wrote(
    coords: str, completion: object
) -> None:
    # The caller's error must not depend on the model's output (found by this suite: it
    # used to return 0.0 when the model wrote no box).
    config = RewardConfig(coords=coords)
    with pytest.raises(ValueError, match="image_size"):
        bbox_reward(completion, [G0], config=config)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image_size"):
        grounding_reward(completion, answer="A", gt_boxes=[G0], config=config)  # type: ignore[arg-type]
    # Without ground-truth boxes there is nothing to convert: not applicable.
    assert bbox_reward(completion, [], config=config) is None  # type: ignore[arg-type]


# --- label gating -------------------------------------------------------------------------------


def test_label_gating_modes() -> None:
    text = trace(span(G0, label="Dogs"))
    gt, labels = [G0], ["dog"]
    assert bbox_reward(text, gt, gt_labels=labels) == 1.0  # ignore
    exact = RewardConfig(label_matching="exact")
    assert bbox_reward(text, gt, gt_labels=labels, config=exact) == 0.0  # "dogs" != "dog"
    assert bbox_reward(text, gt, gt_labels=["dogs"], config=exact) == 1.0  # case ignored
    fuzzy = RewardConfig(label_matching="fuzzy")
    assert bbox_reward(text, gt, gt_labels=labels, config=fuzzy) == 1.0  # plural ignored
    assert bbox_reward(text, gt, gt_labels=["cat"], config=fuzzy) == 0.0


def quarter_gate(pred: str, gt: str) -> float:
    return 1.0 if pred == gt else 0.25


def test_callable_label_gate() -> None:
    config = RewardConfig(label_matching=quarter_gate)
    text = trace(span(G0, label="puppy"))
    # IoU 1 times the gate 0.25.
    assert bbox_reward(text, [G0], gt_labels=["dog"], config=config) == pytest.approx(0.25)
    assert bbox_reward(text, [G0], gt_labels=["puppy"], config=config) == 1.0


def test_label_gating_without_labels_is_the_callers_error() -> None:
    config = RewardConfig(label_matching="exact")
    with pytest.raises(ValueError, match="gt_labels"):
        bbox_reward(trace(span(G0)), [G0], config=config)


# --- inputs -------------------------------------------------------------------------------------


def test_a_parsed_trace_is_accepted() -> None:
    assert bbox_reward(parse_trace(SPRAY), [G0, G1]) == pytest.approx(0.5)


def test_ground_truth_as_json_string_and_single_box() -> None:
    assert bbox_reward(trace(span(G0)), "[[0, 0, 10, 10]]") == 1.0
    assert bbox_reward(trace(span(G0)), [0, 0, 10, 10]) == 1.0


def test_malformed_ground_truth_raises() -> None:
    with pytest.raises(GroundTruthError, match=r"gt_boxes\[1\]"):
        bbox_reward(trace(span(G0)), [G0, (5, 5, 1, 1)])
    with pytest.raises(GroundTruthError, match="gt_labels"):
        bbox_reward(trace(span(G0)), [G0], gt_labels=["a", "b"])


@pytest.mark.parametrize("completion", [None, b"<think></think>", 3, [span(G0)]])
def test_non_text_completion(completion: object) -> None:
    assert bbox_reward(completion, [G0]) == 0.0  # type: ignore[arg-type]
    assert bbox_reward(completion, []) is None  # type: ignore[arg-type]


def test_too_long_completion_scores_zero() -> None:
    text = trace(span(G0))
    config = RewardConfig(max_chars=len(text))
    assert bbox_reward(text, [G0], config=config) == 1.0
    assert bbox_reward(text + " ", [G0], config=config) == 0.0
