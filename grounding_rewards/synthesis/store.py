"""Crash-safe sharded JSONL output: nothing done is lost, nothing is written twice.

Layout of an output directory::

    manifest.json                 the configuration fingerprint the records were made with
    records/part-<run>-<k>.jsonl  one finished record per line (status "ok")
    failures.jsonl                one line per failed attempt (a rerun retries them)
    summary.json                  the latest run's summary

Why it survives ``kill -9`` at any moment: each record is one ``write(2)`` of a
complete line to a file opened with ``O_APPEND``; once ``write`` returns, the
line is in the kernel and survives the process. A kill *during* a write can leave
a partial last line; :func:`repair_shard` cuts it off before anything reads the
shard, so a torn record never appears, and that record (never acknowledged) is
simply made again. ``fsync`` every ``fsync_every`` records (and at close) bounds
what an operating-system crash could lose. A lock file stops two runs from
writing into one directory at once.

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> with ShardWriter(out, run_id="demo") as writer:
    ...     writer.write_line('{"id": "abc", "status": "ok"}')
    >>> scan(out).done
    {'abc'}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards.errors import ConfigError, InputError, OutputLockedError
from grounding_rewards.synthesis.records import Record

__all__ = [
    "FAILURES_FILE",
    "MANIFEST_FILE",
    "RECORDS_DIR",
    "SUMMARY_FILE",
    "OutputLock",
    "OutputLockedError",
    "ShardWriter",
    "StoreState",
    "append_failure",
    "check_manifest",
    "iter_records",
    "repair_shard",
    "scan",
]

RECORDS_DIR = "records"
FAILURES_FILE = "failures.jsonl"
SUMMARY_FILE = "summary.json"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".lock"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def repair_shard(path: str | os.PathLike[str]) -> int:
    r"""Cut a torn last line (no trailing newline) off a shard; return the bytes removed.

    Example:
        >>> import tempfile, pathlib
        >>> shard = pathlib.Path(tempfile.mkdtemp()) / "part.jsonl"
        >>> _ = shard.write_bytes(b'{"id": "a"}\n{"id": "b", "obj')
        >>> repair_shard(shard), shard.read_bytes()
        (16, b'{"id": "a"}\n')
    """
    with open(path, "r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        # Walk back to the last newline in blocks; shards can be large.
        position = size
        keep = 0
        while position > 0:
            start = max(0, position - 65536)
            handle.seek(start)
            block = handle.read(position - start)
            index = block.rfind(b"\n")
            if index != -1:
                keep = start + index + 1
                break
            position = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return size - keep


@dataclass
class StoreState:
    """What an output directory already holds.

    Attributes:
        done: Ids of finished records.
        failed: Id -> last failure reason, for ids that have no finished record.
        shards: Record shard files, sorted.
        repaired_bytes: Bytes of torn lines cut off while scanning.
        corrupt_lines: Lines that were not valid JSON records (skipped, reported).
    """

    done: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    shards: list[Path] = field(default_factory=list)
    repaired_bytes: int = 0
    corrupt_lines: int = 0


def _shards(out_dir: Path) -> list[Path]:
    return sorted((out_dir / RECORDS_DIR).glob("part-*.jsonl"))


def scan(out_dir: str | os.PathLike[str], *, repair: bool = True) -> StoreState:
    """Read the ids already in ``out_dir`` (repairing torn tails first when ``repair``)."""
    root = Path(out_dir)
    state = StoreState(shards=_shards(root))
    for shard in state.shards:
        if repair:
            state.repaired_bytes += repair_shard(shard)
        with open(shard, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    continue  # torn tail of a shard another process may still write
                try:
                    state.done.add(json.loads(line)["id"])
                except (ValueError, KeyError, TypeError):
                    state.corrupt_lines += 1
    failures = root / FAILURES_FILE
    if failures.exists():
        if repair:
            state.repaired_bytes += repair_shard(failures)
        with open(failures, "rb") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                    record_id, errors = entry["id"], entry.get("errors") or [{}]
                except (ValueError, KeyError, TypeError):
                    state.corrupt_lines += 1
                    continue
                if record_id not in state.done:
                    state.failed[record_id] = str(errors[0].get("reason", "unknown"))
    return state


def iter_records(out_dir: str | os.PathLike[str]) -> Iterator[Record]:
    """Every finished record in ``out_dir``, shard by shard (complete lines only)."""
    for shard in _shards(Path(out_dir)):
        with open(shard, "rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    yield Record.model_validate_json(line)


class ShardWriter:
    """Appends complete lines to ``records/part-<run_id>-<k>.jsonl``.

    A new shard starts every ``shard_size`` lines.

    Args:
        out_dir: The output directory.
        run_id: Unique per run (new shards per run; old shards are never appended to).
        shard_size: Lines per shard.
        fsync_every: ``fsync`` after this many lines (0: only at rotation and close).
    """

    def __init__(
        self,
        out_dir: str | os.PathLike[str],
        *,
        run_id: str,
        shard_size: int = 1000,
        fsync_every: int = 32,
    ) -> None:
        if shard_size < 1:
            raise ConfigError(f"shard_size: expected an integer >= 1, got {shard_size}")
        self.directory = Path(out_dir) / RECORDS_DIR
        self.directory.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.shard_size = shard_size
        self.fsync_every = fsync_every
        self.shard_index = 0
        self.lines_in_shard = 0
        self.unsynced = 0
        self.paths: list[Path] = []
        self._fd: int | None = None

    def _open(self) -> int:
        path = self.directory / f"part-{self.run_id}-{self.shard_index:05d}.jsonl"
        self.paths.append(path)
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write_line(self, line: str | bytes) -> None:
        """Append one line (a newline is added); one ``write`` call per line."""
        data = line.encode() if isinstance(line, str) else line
        if b"\n" in data:
            raise InputError("expected one line without newlines, got a newline inside")
        if self._fd is None:
            self._fd = self._open()
        _write_all(self._fd, data + b"\n")
        self.lines_in_shard += 1
        self.unsynced += 1
        if self.fsync_every and self.unsynced >= self.fsync_every:
            os.fsync(self._fd)
            self.unsynced = 0
        if self.lines_in_shard >= self.shard_size:
            self._close_fd()
            self.shard_index += 1
            self.lines_in_shard = 0

    def write(self, record: Record) -> None:
        """Append ``record`` as one JSON line."""
        self.write_line(record.model_dump_json())

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            self.unsynced = 0

    def close(self) -> None:
        """Flush to disk and close the current shard."""
        self._close_fd()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def append_failure(out_dir: str | os.PathLike[str], record: Record, *, run_id: str) -> None:
    """Append a failed record (with the run id and time) to ``failures.jsonl``."""
    entry = record.model_dump(mode="json", exclude={"provenance"})
    entry["run_id"] = run_id
    entry["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = json.dumps(entry, separators=(",", ":")).encode() + b"\n"
    fd = os.open(Path(out_dir) / FAILURES_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        _write_all(fd, line)
    finally:
        os.close(fd)


def check_manifest(
    out_dir: str | os.PathLike[str], manifest: dict[str, Any], *, allow_mixed: bool = False
) -> None:
    """Write ``manifest.json``, or check that the directory was made with the same fingerprint.

    A changed configuration or prompt gives new record ids; resuming into the old
    directory would then make a second record for every image.

    Raises:
        ConfigError: On a fingerprint mismatch unless ``allow_mixed``.
    """
    path = Path(out_dir) / MANIFEST_FILE
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        if old.get("fingerprint") != manifest["fingerprint"] and not allow_mixed:
            raise ConfigError(
                f"{path}: expected records made with configuration fingerprint "
                f"{manifest['fingerprint'][:12]}, got a directory made with "
                f"{str(old.get('fingerprint'))[:12]} (another config, prompt or model); "
                "use another --out, or --allow-mixed-config"
            )
        if old.get("fingerprint") == manifest["fingerprint"]:
            return
    write_text_atomic(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")


class OutputLock:
    """An exclusive ``flock`` on ``<out_dir>/.lock``, released when the process dies."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.path = Path(out_dir) / LOCK_FILE
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{self.path.parent}: another synthesis run is writing here"
            ) from None
        self._fd = fd
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
