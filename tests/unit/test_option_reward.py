"""Hand-checkable cases for R_accuracy (grounding_rewards.rewards.option)."""

from __future__ import annotations

import pytest

from grounding_rewards import GroundTruthError, RewardConfig, option_reward, parse_trace

CHOICES = ["a black helmet", "a white helmet", "no helmet"]


def answer(text: str) -> str:
    return f"<think>The helmet looks white.</think><answer>{text}</answer>"


@pytest.mark.parametrize(
    "written",
    ["B", "(B)", "B.", "b", "B) white", "Option B", "The answer is B", "a white helmet"],
)
def test_correct_answers_score_one(written: str) -> None:
    assert option_reward(answer(written), "B", choices=CHOICES) == 1.0


@pytest.mark.parametrize(
    "written", ["A", "C", "", "  ", "A or B", "(A) and (B)", "D", "the answer is b", "helmet"]
)
def test_wrong_empty_ambiguous_or_out_of_range_answers_score_zero(written: str) -> None:
    assert option_reward(answer(written), "B", choices=CHOICES) == 0.0


def test_ground_truth_answer_forms() -> None:
    text = answer("B")
    for truth in ("B", "(B)", "b", "B.", "a white helmet"):
        assert option_reward(text, truth, choices=CHOICES) == 1.0


def test_only_the_answer_block_is_read() -> None:
    # The reasoning names A; the answer block names B.
    text = "<think>At first I thought (A).</think><answer>B</answer>"
    assert option_reward(text, "B") == 1.0
    assert option_reward(text, "A") == 0.0
    # A letter in the reasoning with no answer block scores 0.
    assert option_reward("<think>The answer is B</think>", "B") == 0.0


def test_several_answer_blocks_score_zero() -> None:
    assert option_reward("<think>x</think><answer>B</answer><answer>C</answer>", "B") == 0.0
    assert option_reward("<think>x</think><answer>B</answer><answer>B</answer>", "B") == 0.0


def test_unclosed_answer_block_is_still_read() -> None:
    # Format is penalized separately; the option named is still the option named.
    assert option_reward("<think>x</think><answer>B", "B") == 1.0


def test_choices_as_json_string() -> None:
    assert (
        option_reward(answer("white helmet"), "B", choices='["black helmet", "white helmet"]') == 1
    )


def test_without_choices_any_letter_counts() -> None:
    assert option_reward(answer("F"), "F") == 1.0
    # With three choices F is out of range: the ground truth itself is malformed.
    with pytest.raises(GroundTruthError, match="answer: expected one option"):
        option_reward(answer("F"), "F", choices=CHOICES)


def test_parsed_trace_is_accepted() -> None:
    assert option_reward(parse_trace(answer("(B)")), "B") == 1.0


def test_custom_answer_tag() -> None:
    config = RewardConfig(answer_tag="final")
    assert option_reward("<think>x</think><final>B</final>", "B", config=config) == 1.0
    assert option_reward(answer("B"), "B", config=config) == 0.0


@pytest.mark.parametrize("completion", [None, b"<answer>B</answer>", 2, ["B"]])
def test_non_text_completion_scores_zero(completion: object) -> None:
    assert option_reward(completion, "B") == 0.0  # type: ignore[arg-type]


def test_too_long_completion_scores_zero() -> None:
    config = RewardConfig(max_chars=len(answer("B")))
    assert option_reward(answer("B"), "B", config=config) == 1.0
    assert option_reward(answer("B") + " ", "B", config=config) == 0.0


@pytest.mark.parametrize(
    ("truth", "choices", "message"),
    [
        (3, None, "answer: expected an option letter like 'B', got 3"),
        (None, None, "answer: expected an option letter"),
        ("A or B", None, "answer: expected one option"),
        ("B", [], "choices: expected 1 to 26 options, got 0"),
        ("B", "not json", "choices: expected a JSON value"),
    ],
)
def test_malformed_ground_truth_raises(truth: object, choices: object, message: str) -> None:
    with pytest.raises(GroundTruthError, match=message):
        option_reward(answer("B"), truth, choices=choices)  # type: ignore[arg-type]
