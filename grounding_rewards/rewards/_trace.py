"""Parse once: every reward takes a completion string or an already parsed trace."""

from __future__ import annotations

from grounding_rewards.config import RewardConfig
from grounding_rewards.parsing import Trace, parse_trace

__all__ = ["as_trace"]


def as_trace(completion: object, config: RewardConfig) -> Trace:
    """Return ``completion`` parsed with ``config``, or itself when it is a :class:`Trace`.

    Args:
        completion: A completion, or a trace parsed with the same configuration.
        config: Configuration used to parse a string.

    Returns:
        The trace.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG
        >>> as_trace("<answer>A</answer>", DEFAULT_CONFIG).answer
        'A'
    """
    if isinstance(completion, Trace):
        return completion
    return parse_trace(completion, config=config)
