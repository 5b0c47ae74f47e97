"""R_accuracy: the option named in the answer block equals the ground truth.

Only the completion's answer block is read, never the prompt. An empty answer, one
naming several options, or several answer blocks score 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import GroundTruthError
from grounding_rewards.ground_truth import ChoicesLike, GroundTruth, parse_ground_truth
from grounding_rewards.options import extract_option
from grounding_rewards.parsing import Trace
from grounding_rewards.rewards._trace import as_trace

__all__ = ["option_component", "option_reward", "score_option"]


@lru_cache(maxsize=4096)
def _expected(answer: str, choices: tuple[str, ...] | None) -> str | None:
    return parse_ground_truth(answer=answer, choices=choices).answer


def _choices(choices: Any) -> tuple[str, ...] | None:
    if choices is None or isinstance(choices, tuple):
        return choices
    return parse_ground_truth(choices=choices).choices


def score_option(trace: Trace, expected: str, choices: Sequence[str] | None) -> float:
    """Score a parsed trace against an already normalized option letter.

    Args:
        trace: The parsed completion.
        expected: The correct option letter.
        choices: Option texts, or ``None``.

    Returns:
        1.0 or 0.0.

    Example:
        >>> from grounding_rewards import parse_trace
        >>> score_option(parse_trace("<answer>B</answer><answer>C</answer>"), "B", None)
        0.0
    """
    if trace.answer_blocks > 1:
        return 0.0
    return 1.0 if extract_option(trace.answer, choices=choices) == expected else 0.0


def option_reward(
    completion: object,
    answer: object,
    *,
    choices: ChoicesLike = None,
    config: RewardConfig | None = None,
) -> float:
    """R_accuracy in ``{0, 1}``: 1 when the answer block names exactly the correct option.

    Args:
        completion: The completion, or its parsed trace (anything else is read as a
            completion that is not text: it never raises).
        answer: The correct option (``"B"``, ``"(B)"``, or an option's text with ``choices``).
        choices: Option texts in order (A, B, ...), or ``None`` (then letters A-Z count).
        config: Configuration; ``None`` uses the defaults.

    Returns:
        The accuracy reward.

    Raises:
        GroundTruthError: When ``answer`` or ``choices`` is malformed.

    Example:
        >>> option_reward("<think>...</think><answer>(B) white</answer>", "B")
        1.0
        >>> option_reward("<think>...</think><answer>A or B</answer>", "B")
        0.0
        >>> option_reward("<answer>white</answer>", "B", choices=["black", "white"])
        1.0
    """
    config = config or DEFAULT_CONFIG
    options = _choices(choices)
    if not isinstance(answer, str):
        raise GroundTruthError(f"answer: expected an option letter like 'B', got {answer!r}")
    expected = _expected(answer, options)
    assert expected is not None  # parse_ground_truth raises for an unreadable answer
    return score_option(as_trace(completion, config), expected, options)


def option_component(trace: Trace, truth: GroundTruth, config: RewardConfig) -> float | None:
    """The registered ``accuracy`` component: ``None`` without a ground-truth answer.

    Example:
        >>> from grounding_rewards import parse_trace, parse_ground_truth
        >>> option_component(parse_trace("<answer>B</answer>"), parse_ground_truth(answer="B"),
        ...                  DEFAULT_CONFIG)
        1.0
    """
    if truth.answer is None:
        return None
    return score_option(trace, truth.answer, truth.choices)
