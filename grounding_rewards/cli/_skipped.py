"""Malformed input records: reported line by line on stderr, skipped, and counted.

Commands that read many records (``evaluate``, ``draw``, ``export``) go on past a
record that cannot be read (not UTF-8, not JSON, truncated, missing its required
fields), report it as ``file:line: expected X, got Y``, and exit with
:data:`EXIT_SKIPPED` once their output is written, so a script can tell a complete
run from one that left records out. Odd *model output* inside a well-formed record is
not such an error: it is scored (usually 0) and reported by the parser.

Example:
    >>> import io
    >>> stream = io.StringIO()
    >>> skipped = SkippedRecords("evaluate", stream=stream)
    >>> skipped(ValueError("r.jsonl:3: expected a JSON object, got invalid JSON"))
    >>> skipped.exit_code(), stream.getvalue().splitlines()[0]
    (1, 'grounding-rewards evaluate: skipped r.jsonl:3: expected a JSON object, got invalid JSON')
"""

from __future__ import annotations

import sys
from typing import IO

__all__ = ["EXIT_SKIPPED", "SkippedRecords"]

EXIT_SKIPPED = 1
"""Exit status of a command that finished but skipped malformed input records."""


class SkippedRecords:
    """A callback for malformed records: prints the first ``limit``, counts them all.

    Args:
        command: The subcommand's name, for the message prefix.
        stream: Where to report (stderr by default).
        limit: Records reported one by one; the rest are only counted.
    """

    def __init__(self, command: str, *, stream: IO[str] | None = None, limit: int = 50) -> None:
        self.command = command
        self.stream = stream
        self.limit = limit
        self.count = 0

    def __call__(self, error: Exception) -> None:
        """Report and count one malformed record."""
        self.count += 1
        if self.count <= self.limit:
            print(
                f"grounding-rewards {self.command}: skipped {error}",
                file=self.stream or sys.stderr,
            )

    def exit_code(self) -> int:
        """0 when nothing was skipped, else :data:`EXIT_SKIPPED` (after a one-line total)."""
        if not self.count:
            return 0
        more = f" ({self.count - self.limit} not shown)" if self.count > self.limit else ""
        print(
            f"grounding-rewards {self.command}: {self.count} malformed record(s) skipped{more}; "
            "every other record was read",
            file=self.stream or sys.stderr,
        )
        return EXIT_SKIPPED
