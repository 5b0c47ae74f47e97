"""The library's exceptions: one base class, each subclass also a built-in.

Malformed *model output* never raises: it scores 0 and is reported as a
:class:`~grounding_rewards.parsing.FormatIssue`. These errors are for the
caller's own data: configuration, ground truth, files and missing extras.

Example:
    >>> from grounding_rewards.errors import ConfigError
    >>> issubclass(ConfigError, ValueError)
    True
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "GroundTruthError",
    "GroundingRewardsError",
    "MissingDependencyError",
]


class GroundingRewardsError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigError(GroundingRewardsError, ValueError):
    """A configuration value is invalid ("expected X, got Y")."""


class GroundTruthError(GroundingRewardsError, ValueError):
    """Ground truth (boxes, labels, answer, image size) passed by the caller is malformed."""


class MissingDependencyError(GroundingRewardsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
