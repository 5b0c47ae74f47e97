"""Hand-checkable cases for R_format (grounding_rewards.rewards.format)."""

from __future__ import annotations

import pytest

from grounding_rewards import GroundTruthError, RewardConfig, format_reward, parse_trace
from grounding_rewards.rewards import check_format

GRADED = RewardConfig(format_mode="graded")
GOOD = "<think>A <obj>cat</obj><bbox>[1, 1, 9, 9]</bbox> sleeps.</think><answer>B</answer>"


def failed(text: str, **kwargs: object) -> list[str]:
    result = check_format(text, **kwargs)  # type: ignore[arg-type]
    return [name for name, ok in result.checks if not ok]


def test_a_good_trace_scores_one_in_both_modes() -> None:
    assert format_reward(GOOD) == 1.0
    assert format_reward(GOOD, config=GRADED) == 1.0
    assert failed(GOOD) == []


def test_a_parsed_trace_scores_like_its_text() -> None:
    assert format_reward(parse_trace(GOOD)) == 1.0
    bad = "<think>x</think>"
    assert format_reward(parse_trace(bad), config=GRADED) == format_reward(bad, config=GRADED)


# Five checks without an image size: structure, answer, grounding, boxes_valid, min_spans.
# Graded = passed / 5.
@pytest.mark.parametrize(
    ("text", "failing", "graded"),
    [
        # Empty answer: only "answer" fails -> 4/5.
        ("<think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox></think><answer> </answer>", ["answer"], 0.8),
        # No answer block -> 4/5.
        ("<think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox></think>", ["answer"], 0.8),
        # No think block: structure fails, and no span is counted in think -> 3/5.
        (
            "<obj>a</obj><bbox>[1, 1, 9, 9]</bbox><answer>B</answer>",
            ["structure", "min_spans"],
            0.6,
        ),
        # Text outside the blocks -> structure fails, 4/5.
        ("Sure! " + GOOD, ["structure"], 0.8),
        # Misordered blocks -> structure, 4/5.
        (
            "<answer>B</answer><think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox></think>",
            ["structure"],
            0.8,
        ),
        # Mis-cased tag -> structure, 4/5.
        (
            "<Think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox></Think><answer>B</answer>",
            ["structure"],
            0.8,
        ),
        # An <obj> without a box: grounding fails; the other span still counts -> 4/5.
        (
            "<think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox> <obj>b</obj> x</think><answer>B</answer>",
            ["grounding"],
            0.8,
        ),
        # A box without its <obj>: grounding, 4/5 (the box still counts as a span).
        ("<think><bbox>[1, 1, 9, 9]</bbox></think><answer>B</answer>", ["grounding"], 0.8),
        # Unparsable box: grounding, 4/5 (it still counts as a span).
        ("<think><obj>a</obj><bbox>[1, 1, 9]</bbox></think><answer>B</answer>", ["grounding"], 0.8),
        # Degenerate box: boxes_valid, 4/5.
        (
            "<think><obj>a</obj><bbox>[9, 1, 1, 9]</bbox></think><answer>B</answer>",
            ["boxes_valid"],
            0.8,
        ),
        # No span at all: min_spans, 4/5.
        ("<think>no boxes</think><answer>B</answer>", ["min_spans"], 0.8),
        # Only a think block: answer and min_spans fail -> 3/5.
        ("<think>x</think>", ["answer", "min_spans"], 0.6),
    ],
)
def test_each_check_by_hand(text: str, failing: list[str], graded: float) -> None:
    assert failed(text) == failing
    assert format_reward(text) == 0.0
    assert format_reward(text, config=GRADED) == pytest.approx(graded)


def test_strict_needs_a_non_empty_answer() -> None:
    for answer in ("", "  ", "\n"):
        text = f"<think><obj>a</obj><bbox>[1, 1, 9, 9]</bbox></think><answer>{answer}</answer>"
        assert format_reward(text) == 0.0


def test_min_spans() -> None:
    no_spans = "<think>nothing to point at</think><answer>A</answer>"
    assert format_reward(no_spans, config=RewardConfig(min_spans=0)) == 1.0
    assert format_reward(GOOD, config=RewardConfig(min_spans=2)) == 0.0
    two = "<think><obj>a</obj><bbox>[[1, 1, 9, 9], [2, 2, 3, 3]]</bbox></think><answer>A</answer>"
    assert format_reward(two, config=RewardConfig(min_spans=2)) == 1.0


def test_min_spans_counts_only_the_box_region() -> None:
    in_answer = "<think>look</think><answer>B <obj>a</obj><bbox>[1, 1, 9, 9]</bbox></answer>"
    assert format_reward(in_answer) == 0.0  # default region is think
    assert format_reward(in_answer, config=RewardConfig(box_region="answer")) == 1.0
    assert format_reward(in_answer, config=RewardConfig(box_region="anywhere")) == 1.0


# --- inside the image -----------------------------------------------------------------------


def box_text(box: str) -> str:
    return f"<think><obj>a</obj><bbox>{box}</bbox></think><answer>A</answer>"


@pytest.mark.parametrize(
    ("box", "inside"),
    [
        ("[0, 0, 640, 480]", True),  # the whole image: on the border is inside
        ("[0, 0, 641, 480]", False),  # one pixel too wide
        ("[0, 0, 640, 481]", False),  # one pixel too tall
        ("[-1, 0, 10, 10]", False),
        ("[0, 0, 10, 470]", True),
        # (width, height) = (640, 480): a box 600 pixels tall only fits if the size were swapped.
        ("[0, 0, 10, 600]", False),
    ],
)
def test_boxes_in_image_uses_width_then_height(box: str, inside: bool) -> None:
    result = check_format(box_text(box), image_size=(640, 480))
    assert ("boxes_in_image", inside) in result.checks
    assert result.score == (1.0 if inside else 0.0)
    assert ("box_out_of_image" in [i.code for i in result.issues]) is not inside


def test_graded_with_image_size_has_six_checks() -> None:
    # Six checks; only boxes_in_image fails -> 5/6.
    value = format_reward(box_text("[0, 0, 700, 10]"), image_size=(640, 480), config=GRADED)
    assert value == pytest.approx(5 / 6)


def test_no_image_size_means_no_pixel_bounds_check() -> None:
    assert format_reward(box_text("[0, 0, 5000, 5000]")) == 1.0


def test_normalized_spaces_check_their_own_range_without_image_size() -> None:
    norm1000 = RewardConfig(coords="norm1000")
    assert format_reward(box_text("[0, 0, 1000, 1000]"), config=norm1000) == 1.0
    assert format_reward(box_text("[0, 0, 1001, 10]"), config=norm1000) == 0.0
    norm1 = RewardConfig(coords="norm1")
    assert format_reward(box_text("[0, 0, 1, 1]"), config=norm1) == 1.0
    assert format_reward(box_text("[0, 0, 1.5, 1]"), config=norm1) == 0.0


def test_normalized_space_with_image_size() -> None:
    # norm1000 on 640 x 480: 1000 -> the border; 1001 -> outside.
    norm1000 = RewardConfig(coords="norm1000")
    assert (
        format_reward(box_text("[0, 0, 1000, 1000]"), image_size=(640, 480), config=norm1000) == 1
    )
    assert (
        format_reward(box_text("[0, 0, 1001, 1000]"), image_size=(640, 480), config=norm1000) == 0
    )


def test_qwen25vl_bounds_are_the_resized_image() -> None:
    # 640 x 480 is resized to 644 x 476: [0, 0, 644, 476] is the whole image.
    qwen = RewardConfig(coords="qwen25vl")
    assert format_reward(box_text("[0, 0, 644, 476]"), image_size=(640, 480), config=qwen) == 1.0
    assert format_reward(box_text("[0, 0, 650, 476]"), image_size=(640, 480), config=qwen) == 0.0


def test_invalid_boxes_are_not_checked_against_the_image() -> None:
    result = check_format(box_text("[700, 0, 10, 10]"), image_size=(640, 480))
    assert ("boxes_valid", False) in result.checks
    assert ("boxes_in_image", True) in result.checks


def test_malformed_image_size_is_the_callers_error() -> None:
    with pytest.raises(GroundTruthError, match="image_size"):
        format_reward(GOOD, image_size=(0, 480))


# --- fatal conditions -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["strict", "graded"])
def test_fatal_issues_score_zero_in_both_modes(mode: str) -> None:
    config = RewardConfig(format_mode=mode, max_boxes=2, max_chars=200)
    three = "<think>" + "<obj>a</obj><bbox>[1, 1, 9, 9]</bbox>" * 3 + "</think><answer>A</answer>"
    assert format_reward(three, config=config) == 0.0  # too_many_boxes
    assert format_reward(GOOD + " " * 200, config=config) == 0.0  # too_long
    assert format_reward(None, config=config) == 0.0  # type: ignore[arg-type]
    assert format_reward(b"bytes", config=config) == 0.0  # type: ignore[arg-type]
    two = "<think>" + "<obj>a</obj><bbox>[1, 1, 9, 9]</bbox>" * 2 + "</think><answer>A</answer>"
    assert format_reward(two, config=config) == 1.0  # exactly max_boxes is fine


def test_custom_tags() -> None:
    config = RewardConfig(think_tag="reasoning", answer_tag="final", obj_tag="ref", bbox_tag="box")
    text = "<reasoning><ref>cat</ref><box>[1, 1, 9, 9]</box></reasoning><final>B</final>"
    assert format_reward(text, config=config) == 1.0
    assert format_reward(GOOD, config=config) == 0.0
