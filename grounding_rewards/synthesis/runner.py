"""Run the pipeline over many images: bounded concurrency, resumable output, a summary.

At most ``concurrency`` records are in flight at once (each may issue several
model requests at a time: its branch captions and verifications are batched), so
an HTTP backend at ``concurrency=64`` keeps about that many requests busy while
memory stays flat however many images there are: sources are read lazily and
nothing is kept per record but its id.

Example:
    >>> import tempfile
    >>> from skimage import data
    >>> from grounding_rewards.synthesis.backends.offline import OfflineBackend
    >>> from grounding_rewards.synthesis.pipeline import Pipeline, encode_array
    >>> out = tempfile.mkdtemp()
    >>> pipeline = Pipeline(OfflineBackend())
    >>> images = [("coffee.png", encode_array(data.coffee())), ("bad.png", b"oops")]
    >>> summary = run_synthesis_sync(images, out, pipeline, progress=False)
    >>> summary.written, summary.failed, summary.failures_by_reason
    (1, 1, {'image_unreadable': 1})
    >>> run_synthesis_sync(images, out, pipeline, progress=False).skipped_done
    1
"""

from __future__ import annotations

import asyncio
import glob
import hashlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.images import ImageError, read_source
from grounding_rewards.synthesis.pipeline import Pipeline, run_sync
from grounding_rewards.synthesis.records import ImageInfo, Record, StageError
from grounding_rewards.synthesis.store import (
    SUMMARY_FILE,
    OutputLock,
    ShardWriter,
    append_failure,
    check_manifest,
    scan,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "RunSummary",
    "iter_image_paths",
    "run_synthesis",
    "run_synthesis_sync",
    "storable_name",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

Source = str | os.PathLike[str] | tuple[str, bytes]


@dataclass
class RunSummary:
    """Counts for one run (``summary.json``).

    Attributes:
        seen: Sources looked at.
        written: Records finished and written in this run.
        failed: Records that failed in this run (see ``failures_by_reason``).
        skipped_done: Sources whose record was already in the output (resume).
        skipped_duplicate: Sources whose bytes repeated an earlier source of this run.
        skipped_failed: Earlier failures not retried (``retry_failed=False``).
        objects_kept: Objects whose every statement was confirmed (or not verified).
        objects_rewritten: Objects with some statements rewritten or dropped.
        objects_dropped: Objects removed (not confirmed, too small, a failed call).
        statements_flagged: Statements the programmatic checks flagged.
        hallucinations_caught: Statements the verifier rewrote or dropped.
        qa_items: Validated QA items written.
        qa_dropped: QA items dropped by validation.
        stage_errors: Per-stage errors inside finished records, by ``stage:reason``.
        failures_by_reason: Failed records by reason.
        repaired_bytes: Bytes of torn lines cut off at start (an earlier run was killed).
        elapsed_s: Wall time.
        records_per_s: ``(written + failed) / elapsed_s``.
    """

    seen: int = 0
    written: int = 0
    failed: int = 0
    skipped_done: int = 0
    skipped_duplicate: int = 0
    skipped_failed: int = 0
    objects_kept: int = 0
    objects_rewritten: int = 0
    objects_dropped: int = 0
    statements_flagged: int = 0
    hallucinations_caught: int = 0
    qa_items: int = 0
    qa_dropped: int = 0
    stage_errors: dict[str, int] = field(default_factory=dict)
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    repaired_bytes: int = 0
    elapsed_s: float = 0.0
    records_per_s: float = 0.0

    def add(self, record: Record) -> None:
        """Count ``record`` in."""
        if record.status == "failed":
            self.failed += 1
            reason = record.errors[0].reason if record.errors else "unknown"
            self.failures_by_reason[reason] = self.failures_by_reason.get(reason, 0) + 1
            return
        self.written += 1
        stats = record.stats
        self.objects_kept += stats.objects_kept
        self.objects_rewritten += stats.objects_rewritten
        self.objects_dropped += stats.objects_dropped
        self.statements_flagged += stats.statements_flagged
        self.hallucinations_caught += stats.hallucinations_caught
        self.qa_items += len(record.qa)
        self.qa_dropped += stats.qa_dropped
        for error in record.errors:
            key = f"{error.stage}:{error.reason}"
            self.stage_errors[key] = self.stage_errors.get(key, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    def format(self) -> str:
        """A human-readable multi-line summary."""
        lines = [
            f"records: {self.written} written, {self.failed} failed, "
            f"{self.skipped_done} already done, {self.skipped_duplicate} duplicate"
            + (f", {self.skipped_failed} earlier failures skipped" if self.skipped_failed else ""),
            f"objects: {self.objects_kept} kept, {self.objects_rewritten} rewritten, "
            f"{self.objects_dropped} dropped",
            f"verification: {self.statements_flagged} statements flagged, "
            f"{self.hallucinations_caught} hallucinations caught",
            f"qa: {self.qa_items} items, {self.qa_dropped} dropped by validation",
        ]
        if self.failures_by_reason:
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.failures_by_reason.items()))
            lines.append(f"failures by reason: {reasons}")
        if self.stage_errors:
            errors = ", ".join(f"{k} {v}" for k, v in sorted(self.stage_errors.items()))
            lines.append(f"stage errors inside records: {errors}")
        if self.repaired_bytes:
            lines.append(f"repaired: {self.repaired_bytes} bytes of torn lines cut off")
        lines.append(f"time: {self.elapsed_s:.1f} s ({self.records_per_s:.2f} records/s)")
        return "\n".join(lines)


def iter_image_paths(inputs: Sequence[str | os.PathLike[str]]) -> Iterator[str]:
    """Expand inputs into image paths, lazily, in a stable order.

    Each input is a directory (searched recursively for :data:`IMAGE_EXTENSIONS`),
    a ``.txt`` file listing one path per line, a glob pattern, or an image path.

    Raises:
        ConfigError: For an input that names nothing.
    """
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.lower().endswith(IMAGE_EXTENSIONS):
                        yield os.path.join(root, name)
        elif path.suffix.lower() == ".txt" and path.is_file():
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    entry = line.strip()
                    if entry and not entry.startswith("#"):
                        yield entry if os.path.isabs(entry) else str(path.parent / entry)
        elif path.exists():
            yield text
        else:
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise ConfigError(
                    f"IMAGES: expected a directory, an image, a .txt list or a glob, got {text!r}"
                )
            yield from matches


def pipeline_manifest(pipeline: Pipeline) -> dict[str, Any]:
    """What an output folder's manifest records of the pipeline that writes into it.

    Args:
        pipeline: The pipeline.

    Returns:
        Its fingerprint, models, prompt templates and configuration.
    """
    return {
        "fingerprint": pipeline.fingerprint,
        "models": pipeline.models,
        "templates": pipeline.templates,
        "config": pipeline.config.model_dump(mode="json"),
    }


class _Progress:
    """A one-line progress bar on stderr, redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO | None, total: int | None) -> None:
        self.stream = stream
        self.total = total
        self.last = 0.0
        self.start = time.monotonic()

    def update(self, summary: RunSummary, *, final: bool = False) -> None:
        if self.stream is None:
            return
        now = time.monotonic()
        if not final and now - self.last < 0.1:
            return
        self.last = now
        done = summary.seen
        rate = (summary.written + summary.failed) / max(now - self.start, 1e-9)
        if self.total:
            filled = int(24 * min(done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (24 - filled)}] {done}/{self.total}"
        else:
            bar = f"{done} seen"
        line = (
            f"\rsynth {bar}  ok {summary.written}  failed {summary.failed}  "
            f"skipped {summary.skipped_done + summary.skipped_duplicate}  {rate:.1f} rec/s"
        )
        self.stream.write(line + ("\n" if final else ""))
        self.stream.flush()


def _failed_source(pipeline: Pipeline, name: str, error: ImageError) -> Record:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return Record(
        id=pipeline.record_id(digest),
        status="failed",
        image=ImageInfo(id=digest[:16], source=name, width=0, height=0, sha256=digest),
        errors=[StageError(stage="load", reason=error.reason, message=error.detail)],
    )


async def _sources(items: Iterable[Source]) -> AsyncIterator[tuple[str, bytes | ImageError]]:
    for item in items:
        if isinstance(item, tuple):
            yield item[0], item[1]
            continue
        # Absolute, so that tools reading the records later (export) find the file
        # wherever they run from; the record id does not depend on it.
        path = os.path.abspath(os.fspath(item))
        name = storable_name(path)
        try:
            data, _ = await asyncio.to_thread(read_source, path)
        except ImageError as exc:
            yield name, exc
            continue
        yield name, data


def storable_name(path: str) -> str:
    r"""``path`` as text a JSON record can hold.

    A file name that is not UTF-8 decodes to lone surrogates (Python's
    ``surrogateescape``), which no UTF-8 file can hold: its raw bytes are written
    as visible ``\xNN`` escapes instead.

    Example:
        >>> storable_name(os.fsdecode(b"/data/caf\xe9.png"))
        '/data/caf\\xe9.png'
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


async def run_synthesis(
    sources: Iterable[Source],
    out_dir: str | os.PathLike[str],
    pipeline: Pipeline,
    *,
    concurrency: int = 8,
    shard_size: int = 1000,
    fsync_every: int = 32,
    retry_failed: bool = True,
    allow_mixed_config: bool = False,
    progress: bool | TextIO = True,
    total: int | None = None,
) -> RunSummary:
    """Make a record for every source into ``out_dir``, resuming what is there.

    Args:
        sources: Paths (recorded as absolute paths), or ``(name, bytes)`` pairs; read lazily.
        out_dir: Output directory (created if needed).
        pipeline: The pipeline (its fingerprint is checked against the directory's).
        concurrency: Records in flight at once.
        shard_size: Records per JSONL shard.
        fsync_every: ``fsync`` after this many records.
        retry_failed: Retry sources that failed in an earlier run.
        allow_mixed_config: Write into a directory made with another configuration.
        progress: Draw a progress bar on stderr (or on the given stream).
        total: Number of sources, for the bar (``len(sources)`` when it has one).

    Returns:
        The run's summary (also written to ``summary.json``).
    """
    if concurrency < 1:
        raise ConfigError(f"concurrency: expected an integer >= 1, got {concurrency}")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    stream: TextIO | None
    if progress is True:
        stream = sys.stderr
    elif progress is False:
        stream = None
    else:
        stream = progress
    if total is None and isinstance(sources, Sequence):
        total = len(sources)
    run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}"
    summary = RunSummary()
    started = time.monotonic()
    bar = _Progress(stream, total)
    with OutputLock(root):
        check_manifest(root, pipeline_manifest(pipeline), allow_mixed=allow_mixed_config)
        state = scan(root)
        summary.repaired_bytes = state.repaired_bytes
        claimed: set[str] = set()
        with ShardWriter(
            root, run_id=run_id, shard_size=shard_size, fsync_every=fsync_every
        ) as writer:

            def finish(record: Record) -> None:
                if record.status == "ok":
                    writer.write(record)
                else:
                    append_failure(root, record, run_id=run_id)
                summary.add(record)
                bar.update(summary)

            async def one(name: str, data: bytes) -> None:
                try:
                    record = await pipeline.process_bytes(data, source=name)
                    line = record.model_dump_json() if record.status == "ok" else None
                except Exception as exc:  # a bug or unstorable text: this record fails
                    record = _internal_failure(pipeline, name, data, exc)
                    line = None
                if line is not None:
                    writer.write_line(line)
                    summary.add(record)
                    bar.update(summary)
                else:
                    finish(record)

            def settle(done: set[asyncio.Task[None]]) -> None:
                # An error outside a record (a full disk) ends the run, never silently.
                for task in done:
                    task.result()

            pending: set[asyncio.Task[None]] = set()
            async for name, data in _sources(sources):
                summary.seen += 1
                if isinstance(data, ImageError):
                    finish(_failed_source(pipeline, name, data))
                    continue
                record_id = pipeline.record_id(hashlib.sha256(data).hexdigest())
                if record_id in state.done:
                    summary.skipped_done += 1
                elif record_id in claimed:
                    summary.skipped_duplicate += 1
                elif record_id in state.failed and not retry_failed:
                    summary.skipped_failed += 1
                else:
                    claimed.add(record_id)
                    pending.add(asyncio.create_task(one(name, data)))
                bar.update(summary)
                if len(pending) >= concurrency:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    settle(done)
            if pending:
                done, _ = await asyncio.wait(pending)
                settle(done)
    summary.elapsed_s = round(time.monotonic() - started, 3)
    summary.records_per_s = round(
        (summary.written + summary.failed) / max(summary.elapsed_s, 1e-9), 3
    )
    bar.update(summary, final=True)
    write_text_atomic(root / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
    return summary


def _internal_failure(pipeline: Pipeline, name: str, data: bytes, exc: Exception) -> Record:
    digest = hashlib.sha256(data).hexdigest()
    return Record(
        id=pipeline.record_id(digest),
        status="failed",
        image=ImageInfo(id=digest[:16], source=name, width=0, height=0, sha256=digest),
        errors=[
            StageError(
                stage="internal", reason="internal_error", message=f"{type(exc).__name__}: {exc}"
            )
        ],
    )


def run_synthesis_sync(
    sources: Iterable[Source], out_dir: str | os.PathLike[str], pipeline: Pipeline, **options: Any
) -> RunSummary:
    """Blocking :func:`run_synthesis` (same arguments)."""
    return run_sync(run_synthesis(sources, out_dir, pipeline, **options))
