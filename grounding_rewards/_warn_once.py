"""Warn once per problem, not once per row per training step.

A trainer calls a reward thousands of times; a dataset with one malformed column
would otherwise bury the log. Adapters keep one :class:`WarnOnce` per reward and
count the affected rows in their metrics instead.

Example:
    >>> import warnings
    >>> once = WarnOnce("bbox_reward")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     shown = [once.warn("gt_boxes", "gt_boxes[0]: expected [x1, y1, x2, y2], got 'x'")
    ...              for _ in range(3)]
    >>> shown, len(caught), str(caught[0].message).startswith("bbox_reward: gt_boxes[0]")
    ([True, False, False], 1, True)
"""

from __future__ import annotations

import re
import threading
import warnings
from typing import Any

__all__ = ["GroundTruthWarning", "WarnOnce", "problem_key"]


_INDEX = re.compile(r"\[\d+\]")


def problem_key(error: Exception) -> str:
    """What kind of problem an error is: its field, without item indices.

    ``gt_boxes[3]: expected ...`` and ``gt_boxes[0]: expected ...`` are one kind, so
    one warning covers a column that is malformed in many rows.

    Example:
        >>> problem_key(ValueError("gt_boxes[3]: expected x1 < x2"))
        'ValueError:gt_boxes'
    """
    field = str(error).split(":", 1)[0] if ":" in str(error) else ""
    return f"{type(error).__name__}:{_INDEX.sub('', field)[:80]}"


class GroundTruthWarning(UserWarning):
    """Rows whose ground truth is missing or malformed were skipped (reward ``None``)."""


class WarnOnce:
    """Emit each kind of warning once for the lifetime of one reward object.

    Thread-safe (veRL scores in a thread pool); pickles without its memory, so a
    copy sent to a worker process warns again there, once.

    Args:
        owner: Prefix of every message, e.g. the reward's ``__name__``.
        consequence: What happens to such rows, appended to every message.
    """

    def __init__(self, owner: str, consequence: str = "such rows get reward None") -> None:
        self.owner = owner
        self.consequence = consequence
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def warn(self, key: str, message: str) -> bool:
        """Warn with ``message`` unless a warning with ``key`` was already given.

        Args:
            key: What kind of problem this is (e.g. the column name).
            message: The explanation ("expected X, got Y" from the validation error).

        Returns:
            Whether a warning was emitted now.
        """
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
        warnings.warn(
            f"{self.owner}: {message}; {self.consequence} (this warning is shown once)",
            GroundTruthWarning,
            stacklevel=3,
        )
        return True

    def __getstate__(self) -> dict[str, Any]:
        return {"owner": self.owner, "consequence": self.consequence}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.owner = state["owner"]
        self.consequence = state["consequence"]
        self._seen = set()
        self._lock = threading.Lock()
