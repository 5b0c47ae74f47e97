"""The library's exceptions: one base class, each subclass also a built-in.

Malformed *model output* never raises: it scores 0 and is reported as a
:class:`~grounding_rewards.parsing.FormatIssue`. These errors are for the
caller's own data: configuration, ground truth, arguments, files and missing extras.
Each derives from the built-in it resembles, so ``except ValueError`` keeps working.

============================  ================  ===============================================
error                         also a            raised for
============================  ================  ===============================================
``ConfigError``               ``ValueError``    a configuration value or option
``GroundTruthError``          ``ValueError``    ground truth (boxes, labels, answer, image size)
``InputError``                ``ValueError``    another argument: a box array's shape, a length
``InputTypeError``            ``TypeError``     an argument or a returned value of the wrong type
``RolloutFormatError``        ``ValueError``    a rollout file or record
``DataFileError``             ``ValueError``    a data file given to a command
``AuditError``                ``ValueError``    an audit that cannot run (target, option, contract)
``ImageError``                ``ValueError``    an image synthesis cannot use (``reason`` says why)
``BackendError``              ``RuntimeError``  a failed synthesis backend call (``reason``)
``StageFailedError``          ``RuntimeError``  a synthesis stage without a result
``OutputLockedError``         ``RuntimeError``  an output directory another run holds locked
``MissingDependencyError``    ``ImportError``   an optional extra that is not installed
============================  ================  ===============================================

The classes of the audit and synthesis live here too; their old homes
(:mod:`grounding_rewards.audit.contracts`, :mod:`grounding_rewards.synthesis.images`,
:mod:`grounding_rewards.synthesis.backends.base`,
:mod:`grounding_rewards.synthesis.stages.common`, :mod:`grounding_rewards.synthesis.store`)
import them back, so both spellings name the same class.

Example:
    >>> from grounding_rewards.errors import ConfigError, InputError
    >>> issubclass(ConfigError, ValueError), issubclass(InputError, GroundingRewardsError)
    (True, True)
    >>> issubclass(InputTypeError, TypeError), issubclass(BackendError, RuntimeError)
    (True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grounding_rewards.synthesis.records import StageError

__all__ = [
    "AuditError",
    "BackendError",
    "ConfigError",
    "DataFileError",
    "GroundTruthError",
    "GroundingRewardsError",
    "ImageError",
    "InputError",
    "InputTypeError",
    "MissingDependencyError",
    "OutputLockedError",
    "RolloutFormatError",
    "StageFailedError",
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


class InputTypeError(GroundingRewardsError, TypeError):
    """An argument, or a value a caller's function returned, has the wrong type.

    For example an EasyR1 reward input that is not a dict, or a reward under audit that
    returns a string instead of a number ("expected X, got Y").
    """


class AuditError(GroundingRewardsError, ValueError):
    """The audit cannot run: a bad target, option, or a function that breaks its contract."""


class ImageError(GroundingRewardsError, ValueError):
    """An image cannot be used; ``reason`` says why.

    Reasons: ``image_unreadable``, ``image_truncated``, ``image_too_large``,
    ``image_too_small``, ``image_mode``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.detail = message

    def __reduce__(self) -> tuple[object, ...]:
        return (ImageError, (self.reason, self.detail))


class BackendError(GroundingRewardsError, RuntimeError):
    """A backend call failed; ``reason`` is a short code the runner counts.

    Typical reasons: ``"timeout"``, ``"http_500"``, ``"malformed_json"``,
    ``"connection"``, ``"bad_request"``.

    Example:
        >>> err = BackendError("server said 500", reason="http_500")
        >>> err.reason, str(err)
        ('http_500', 'server said 500')
    """

    def __init__(self, message: str, *, reason: str = "backend_error") -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep ``reason`` across pickling (Ray ships errors between processes).
        return (_rebuild_backend_error, (str(self), self.reason))


def _rebuild_backend_error(message: str, reason: str) -> BackendError:
    return BackendError(message, reason=reason)


class StageFailedError(GroundingRewardsError, RuntimeError):
    """A stage could not produce its result; carries what the record's error needs."""

    def __init__(self, stage: str, reason: str, message: str, subject: str | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.stage = stage
        self.reason = reason
        self.detail = message
        self.subject = subject

    def __reduce__(self) -> tuple[Any, ...]:
        return (StageFailedError, (self.stage, self.reason, self.detail, self.subject))

    def to_error(self) -> StageError:
        """As the record's :class:`~grounding_rewards.synthesis.records.StageError`."""
        # Imported here: this module imports nothing of the package (pydantic stays lazy).
        from grounding_rewards.synthesis.records import StageError

        return StageError(
            stage=self.stage, reason=self.reason, message=self.detail, subject=self.subject
        )


class OutputLockedError(GroundingRewardsError, RuntimeError):
    """Another run holds the output directory's lock."""
