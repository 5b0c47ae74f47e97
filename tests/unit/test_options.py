"""Hand-checkable cases for grounding_rewards.options.extract_option."""

from __future__ import annotations

import pytest

from grounding_rewards import extract_option
from grounding_rewards.options import option_letters

FOUR = ["a black helmet", "a white helmet", "no helmet", "a red cap"]


@pytest.mark.parametrize(
    "answer",
    [
        "B",
        "(B)",
        "B.",
        "B:",
        "[B]",
        " B ",
        "b",  # a lone lowercase letter is the whole answer
        "(b)",
        "B) White",
        "B) white",
        "B. white helmet",
        "B, because the helmet is white",
        "Option B",
        "Choice B.",
        "The answer is B",
        "The answer is B.",
        "The answer is (B).",
        "Answer: B",
        "I choose B",  # with four choices "I" is no option; without, it would be ambiguous
        "Option B is right, not C",  # an explicit marker beats a bare letter
    ],
)
def test_accepted_forms_name_b(answer: str) -> None:
    assert extract_option(answer, choices=FOUR) == "B"


@pytest.mark.parametrize(
    "answer",
    [
        "B",
        "(B)",
        "B.",
        "b",
        "B) White",
        "Option B",
        "The answer is B",
        "B is correct",
    ],
)
def test_accepted_forms_without_choices(answer: str) -> None:
    assert extract_option(answer) == "B"


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   ",
        "A or B",
        "(A) and (C)",
        "B and C",
        "(A) or (E)",  # an out-of-range marker still makes it ambiguous
        "BB",
        "B.C",
        "It is a cat",  # no uppercase letter alone
        "the answer is b",  # lowercase inside a sentence does not count
        "answer: b",
        "option b",
    ],
)
def test_rejected_answers(answer: str) -> None:
    assert extract_option(answer, choices=FOUR) is None
    assert extract_option(answer) is None


def test_none_answer() -> None:
    assert extract_option(None) is None


def test_letters_run_from_a_to_the_number_of_choices() -> None:
    assert extract_option("D", choices=FOUR) == "D"
    assert extract_option("E", choices=FOUR) is None
    assert extract_option("(E)", choices=FOUR) is None
    assert extract_option("The answer is E", choices=FOUR) is None
    # Without choices any letter A-Z names an option.
    assert extract_option("E") == "E"
    assert extract_option("Z") == "Z"


def test_option_text_names_its_letter() -> None:
    assert extract_option("a white helmet", choices=FOUR) == "B"
    # Articles, case and punctuation are ignored.
    assert extract_option("White helmet.", choices=FOUR) == "B"
    assert extract_option("no helmet", choices=FOUR) == "C"
    # A text that is only part of an option names nothing.
    assert extract_option("helmet", choices=FOUR) is None


def test_option_text_that_matches_two_choices_names_none() -> None:
    assert extract_option("x y", choices=["x y", "x y"]) is None


def test_exact_option_text_wins_over_a_longer_option() -> None:
    assert extract_option("white", choices=["white helmet", "white"]) == "B"


def test_option_text_containing_a_letter() -> None:
    # "Plan B" is read as the text of option B (it also names B as a bare letter).
    assert extract_option("Plan B", choices=["plan a", "plan b"]) == "B"


def test_option_letters() -> None:
    assert option_letters(4) == "ABCD"
    assert option_letters(1) == "A"
    assert option_letters(None) == "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert option_letters(26) == option_letters(None)
