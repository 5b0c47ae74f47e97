"""An exactly rounded running sum, so that streamed, merged and one-shot metrics agree bit for bit.

Floating-point addition is not associative: summing per-sample IoUs batch by batch,
or merging the sums of two processes, would differ from a one-shot ``sum`` in the
last bits. :class:`ExactSum` keeps the total as one integer count of ``2**-1074``
(the smallest double), which holds every finite double exactly; Python's integer
true division rounds correctly, so :meth:`value` equals :func:`math.fsum` of all the
values, whatever their order or grouping.

Example:
    >>> total = ExactSum()
    >>> for value in [1e16, 1.0, -1e16, 0.1]:
    ...     total.add(value)
    >>> total.value() == 1.1, sum([1e16, 1.0, -1e16, 0.1]) == 1.1
    (True, False)
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from grounding_rewards.errors import InputError

__all__ = ["ExactSum"]

_SHIFT = 1074  # 2**-1074 is the smallest positive double
_UNIT = 1 << _SHIFT


class ExactSum:
    """A running sum whose :meth:`value` equals ``math.fsum`` of everything added."""

    __slots__ = ("_total",)

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._total = 0
        for value in values:
            self.add(value)

    def add(self, value: float) -> None:
        """Add one finite value.

        Raises:
            InputError: For NaN or an infinity.
        """
        if not math.isfinite(value):
            raise InputError(f"ExactSum: expected a finite number, got {value!r}")
        numerator, denominator = float(value).as_integer_ratio()
        # denominator is a power of two no larger than 2**1074
        self._total += numerator << (_SHIFT + 1 - denominator.bit_length())

    def merge(self, other: ExactSum) -> None:
        """Add everything ``other`` holds (exactly)."""
        self._total += other._total

    def value(self) -> float:
        """The correctly rounded total."""
        return self._total / _UNIT

    def copy(self) -> ExactSum:
        """An independent copy."""
        twin = ExactSum()
        twin._total = self._total
        return twin

    def __getstate__(self) -> int:
        return self._total

    def __setstate__(self, state: int) -> None:
        self._total = state

    def __repr__(self) -> str:
        return f"ExactSum({self.value()!r})"
