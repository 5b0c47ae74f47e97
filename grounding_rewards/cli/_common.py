"""Shared command-line plumbing: JSONL reading with line-numbered errors, tables, progress.

Example:
    >>> print(format_table(["name", "value"], [["format", "1.000"], ["bbox", "0.5"]]))
    name    value
    ------  -----
    format  1.000
    bbox    0.5
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from grounding_rewards.config import RewardConfig
from grounding_rewards.errors import ConfigError, DataFileError

__all__ = [
    "CONFIG_FLAGS",
    "DataFileError",
    "Progress",
    "add_config_arguments",
    "config_from_args",
    "count_lines",
    "format_table",
    "parse_weights",
    "read_jsonl",
]

CONFIG_FLAGS: dict[str, str] = {
    "dialect": "how the model writes boxes (tags, json, qwen2-tokens, ref-box, bare, molmo, "
    "florence2)",
    "weights": "component weights: JSON object or name=weight,... (e.g. point=1,bbox=0)",
    "coords": "model coordinate space (pixel, norm1000, norm1, norm100, qwen25vl)",
    "similarity": "box similarity (iou, giou, diou, ciou)",
    "length_penalty": "alpha of the length penalty (default 1)",
    "format_mode": "strict or graded",
    "label_matching": "ignore, exact or fuzzy",
    "box_region": "think, answer or anywhere",
    "min_spans": "grounded spans the format reward requires",
}
"""RewardConfig fields every scoring command takes as ``--flag``."""


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line of a JSONL file.

    Args:
        path: The file.

    Yields:
        1-based line numbers with the decoded JSON objects.

    Raises:
        DataFileError: For a line that is not a JSON object, naming ``path:line``.
        OSError: When the file cannot be opened.
    """
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataFileError(f"{path}:{number}: expected a JSON object, {error}") from None
            if not isinstance(record, dict):
                raise DataFileError(
                    f"{path}:{number}: expected a JSON object, got {type(record).__name__}"
                )
            yield number, record


def count_lines(path: str | Path) -> int:
    """Count newline-terminated lines quickly (for progress totals).

    Args:
        path: The file.

    Returns:
        The number of lines.
    """
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Render a plain left-aligned text table.

    Args:
        header: Column names.
        rows: Cells, already formatted as strings.

    Returns:
        The table, one line per row, without a trailing newline.
    """
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return "\n".join(lines)


class Progress:
    """A minimal progress bar on stderr, shown only on a terminal (or when forced).

    Args:
        total: Expected number of steps.
        label: Text before the bar.
        enabled: ``None`` shows it when the stream is a terminal.
        stream: Where to draw; stderr by default.
    """

    def __init__(
        self,
        total: int,
        label: str,
        *,
        enabled: bool | None = None,
        stream: IO[str] | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total = max(total, 1)
        self.label = label
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._last_draw = 0.0
        self._start = time.perf_counter()

    def advance(self, steps: int = 1) -> None:
        """Record ``steps`` more done and redraw at most ten times a second."""
        self.done += steps
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw > 0.1 or self.done >= self.total):
            self._last_draw = now
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(fraction * 30)
            rate = self.done / max(now - self._start, 1e-9)
            self.stream.write(
                f"\r{self.label} [{bar:<30}] {self.done}/{self.total} ({rate:,.0f}/s)"
            )
            self.stream.flush()

    def close(self) -> None:
        """Finish the bar's line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--config FILE`` and one flag per :data:`CONFIG_FLAGS` field.

    Args:
        parser: The subcommand's parser.
    """
    parser.add_argument("--config", type=Path, help="JSON file of RewardConfig fields")
    for name, text in CONFIG_FLAGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=text)


def config_from_args(args: argparse.Namespace) -> RewardConfig:
    """Build the :class:`RewardConfig` from ``--config`` and the flags (flags win).

    Args:
        args: Parsed arguments of a parser set up by :func:`add_config_arguments`.

    Returns:
        The validated configuration.

    Raises:
        DataFileError: When the config file is not a JSON object.
        ConfigError: For an invalid value, naming the field.
    """
    fields: dict[str, Any] = {}
    if getattr(args, "config", None) is not None:
        try:
            loaded = json.loads(args.config.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataFileError(f"{args.config}: expected a JSON object, {error}") from None
        if not isinstance(loaded, dict):
            raise DataFileError(f"{args.config}: expected a JSON object of RewardConfig fields")
        fields.update(loaded)
    for name in CONFIG_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            fields[name] = parse_weights(value) if name == "weights" else value
    return RewardConfig(**fields)


def parse_weights(text: str) -> dict[str, Any]:
    """Read ``--weights``: a JSON object, or ``name=weight`` pairs separated by commas.

    Raises:
        ConfigError: For text that is neither.

    Example:
        >>> parse_weights("point=1, bbox=0"), parse_weights('{"format": 0.5}')
        ({'point': '1', 'bbox': '0'}, {'format': 0.5})
    """
    text = text.strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            loaded = None
        if isinstance(loaded, dict):
            return loaded
        raise ConfigError(f"--weights: expected a JSON object, got {text!r}")
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--weights: expected name=weight pairs, got {item!r}")
        pairs[name.strip()] = value.strip()
    return pairs
