"""The library's exceptions: one base class, each subclass also a built-in.

Malformed *model output* never raises: it scores 0 and is reported as a
:class:`~grounding_rewards.parsing.FormatIssue`. These errors are for the
caller's own data: configuration, ground truth, arguments, files and missing extras.
Each derives from the built-in it resembles, so ``except ValueError`` keeps working.

============================  ==============  ===============================================
error                         also a          raised for
============================  ==============  ===============================================
``ConfigError``               ``ValueError``  a configuration value or option
``GroundTruthError``          ``ValueError``  ground truth (boxes, labels, answer, image size)
``InputError``                ``ValueError``  another argument: a box array's shape, a length
``RolloutFormatError``        ``ValueError``  a rollout file or record
``DataFileError``             ``ValueError``  a data file given to a command
``MissingDependencyError``    ``ImportError`` an optional extra that is not installed
============================  ==============  ===============================================

Example:
    >>> from grounding_rewards.errors import ConfigError, InputError
    >>> issubclass(ConfigError, ValueError), issubclass(InputError, GroundingRewardsError)
    (True, True)
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataFileError",
    "GroundTruthError",
    "GroundingRewardsError",
    "InputError",
    "MissingDependencyError",
    "RolloutFormatError",
]


class GroundingRewardsError(Exception):
    """Base class of every error this library raises on purpose."""


class ConfigError(GroundingRewardsError, ValueError):
    """A configuration value is invalid ("expected X, got Y")."""


class GroundTruthError(GroundingRewardsError, ValueError):
    """Ground truth (boxes, labels, answer, image size) passed by the caller is malformed."""


class MissingDependencyError(GroundingRewardsError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class InputError(GroundingRewardsError, ValueError):
    """An argument is malformed ("expected X, got Y").

    For example a box or polygon array of the wrong shape, ``preds`` and ``target`` of
    different lengths, or labels missing where label matching needs them.
    """


class RolloutFormatError(GroundingRewardsError, ValueError):
    """A rollout file or record is not in the expected format ("file:line: expected X, got Y")."""


class DataFileError(GroundingRewardsError, ValueError):
    """A data file the user gave is unreadable; the message names the file and line."""
