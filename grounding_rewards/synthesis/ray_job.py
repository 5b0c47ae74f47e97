"""The synthesis pipeline as a Ray Data job: the same stages and output, across machines.

The job is three steps over a stream of images::

    from_items(paths) | read_binary_files(uri)        the sources
      -> map_batches(_load_batch)      CPU tasks: read bytes, hash, record id, skip done ones
      -> map_batches(_SynthesisActor)  an actor pool: each actor holds the model backends
                                        (HTTP clients to vLLM/SGLang servers, or an in-process
                                        vLLM engine on a GPU) and runs many records at once
      -> the driver                    writes records with the local runner's ShardWriter

so the output directory is exactly what :func:`~grounding_rewards.synthesis.runner.run_synthesis`
writes (same record ids, lines, shards, ``failures.jsonl``, ``manifest.json`` and
``summary.json``), resumable by either. Only the driver writes, so there is one writer
per output directory and no torn or duplicated record, however many workers run.

The model stages stay inside one actor call per record because each record's stages
depend on the previous ones (captions name what to detect, detections decide the
crops, crops are what is verified); the actor keeps ``concurrency`` records in flight
on its event loop, so the servers see ``num_actors * concurrency`` records' requests.
Image paths must be readable from every worker (a shared file system); object-store
URIs (``s3://``, ``gs://``...) are read by Ray Data itself.

Ray is imported only when the job runs (extra ``ray``).

Example:
    >>> from grounding_rewards.synthesis.ray_job import PipelineSpec
    >>> spec = PipelineSpec(backend="offline", detectors=("vlm", "face-cascade"))
    >>> spec.build().detector_names
    ['vlm', 'face-cascade']
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

from grounding_rewards._atomic import write_text_atomic
from grounding_rewards._optional import require
from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.base import make_backend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.images import ImageError, read_source
from grounding_rewards.synthesis.pipeline import Pipeline
from grounding_rewards.synthesis.records import Record
from grounding_rewards.synthesis.runner import (
    IMAGE_EXTENSIONS,
    RunSummary,
    _failed_source,
    _internal_failure,
    iter_image_paths,
    pipeline_manifest,
)
from grounding_rewards.synthesis.store import (
    SUMMARY_FILE,
    OutputLock,
    ShardWriter,
    append_failure,
    check_manifest,
    scan,
)

__all__ = ["PipelineSpec", "main", "run_cli", "run_ray_job"]

# Row kinds flowing from the load step to the driver.
_TODO, _OK, _FAILED, _DONE, _SKIP_FAILED = "todo", "ok", "failed", "done", "skip_failed"
_LOAD_CPUS = 0.25  # reading and hashing bytes is light; leave the CPUs to the actors


@dataclass(frozen=True)
class PipelineSpec:
    """How to build the pipeline on each worker (backends hold connections: not shipped).

    Attributes:
        config: The synthesis configuration.
        backend: Captioner backend name (see ``make_backend``).
        backend_options: Its options (``model``, ``base_url``, ...).
        verifier: Verifier backend name (``None``: the captioner).
        verifier_options: Its options.
        detectors: Detector names (``"vlm"``, ``"face-cascade"``, ``"owlv2[:model]"``...).
    """

    config: SynthesisConfig = field(default_factory=SynthesisConfig)
    backend: str = "offline"
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    verifier: str | None = None
    verifier_options: Mapping[str, Any] = field(default_factory=dict)
    detectors: tuple[str, ...] = ("vlm",)

    def build(self) -> Pipeline:
        """A fresh pipeline with its own backends."""
        captioner = make_backend(self.backend, **dict(self.backend_options))
        verifier = None
        if self.verifier is not None or self.verifier_options:
            verifier = make_backend(self.verifier or self.backend, **dict(self.verifier_options))
        return Pipeline(
            captioner, config=self.config, detectors=list(self.detectors), verifier=verifier
        )


class _RecordIds:
    """What ``Pipeline.record_id`` and the runner's failure records read: the fingerprint.

    The load tasks compute ids with the pipeline's own method, without building backends.
    """

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint

    def record_id(self, sha256: str) -> str:
        return Pipeline.record_id(cast(Pipeline, self), sha256)


def _column(batch: Mapping[str, Any], name: str) -> list[Any]:
    values = batch.get(name)
    if values is None:
        return []
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _load_batch(
    batch: Mapping[str, Any],
    *,
    fingerprint: str,
    done: frozenset[str],
    failed: frozenset[str],
    retry_failed: bool,
) -> dict[str, list[Any]]:
    """CPU step: bytes, record ids, and what is already done (no model, no pixels decoded)."""
    ids = _RecordIds(fingerprint)
    sources = [str(s) for s in _column(batch, "source")]
    payloads = _column(batch, "data") or [None] * len(sources)
    out: dict[str, list[Any]] = {"kind": [], "source": [], "record_id": [], "data": [], "line": []}
    for source, data in zip(sources, payloads, strict=True):
        kind, record_id, line = _TODO, "", ""
        if data is None:
            try:
                data, _ = read_source(source)
            except ImageError as exc:
                record = _failed_source(cast(Pipeline, ids), source, exc)
                kind, record_id, line, data = _FAILED, record.id, record.model_dump_json(), b""
        if kind == _TODO:
            record_id = ids.record_id(hashlib.sha256(data).hexdigest())
            if record_id in done:
                kind, data = _DONE, b""
            elif record_id in failed and not retry_failed:
                kind, data = _SKIP_FAILED, b""
        out["kind"].append(kind)
        out["source"].append(source)
        out["record_id"].append(record_id)
        out["data"].append(bytes(data))
        out["line"].append(line)
    return out


class _SynthesisActor:
    """Model step: one pipeline per actor, ``concurrency`` records in flight on its loop."""

    def __init__(self, spec: PipelineSpec, concurrency: int) -> None:
        self.pipeline = spec.build()
        self.concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, batch: Mapping[str, Any]) -> AsyncIterator[dict[str, list[Any]]]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        kinds = _column(batch, "kind")
        sources = _column(batch, "source")
        ids = _column(batch, "record_id")
        payloads = _column(batch, "data")
        lines = _column(batch, "line")
        rows = await asyncio.gather(
            *(
                self._one(kind, source, record_id, data, line)
                for kind, source, record_id, data, line in zip(
                    kinds, sources, ids, payloads, lines, strict=True
                )
            )
        )
        yield {
            "kind": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "record_id": [r[2] for r in rows],
            "line": [r[3] for r in rows],
        }

    async def _one(
        self, kind: str, source: str, record_id: str, data: bytes, line: str
    ) -> tuple[str, str, str, str]:
        if kind != _TODO:
            return kind, source, record_id, line
        assert self._semaphore is not None
        async with self._semaphore:
            try:
                record = await self.pipeline.process_bytes(bytes(data), source=source)
            except Exception as exc:  # one bad record must not end the job, as in the runner
                record = _internal_failure(self.pipeline, source, bytes(data), exc)
        return record.status, source, record.id, record.model_dump_json()


def _is_uri(item: str | os.PathLike[str]) -> bool:
    return "://" in os.fspath(item)


def _dataset(ray: Any, images: Sequence[str | os.PathLike[str]], parallelism: int) -> Any:
    uris = [os.fspath(i) for i in images if _is_uri(i)]
    paths = [i for i in images if not _is_uri(i)]
    parts = []
    if paths:
        items = [{"source": p} for p in iter_image_paths(paths)]
        if items:
            parts.append(ray.data.from_items(items, override_num_blocks=parallelism))
    if uris:
        files = ray.data.read_binary_files(
            uris, include_paths=True, file_extensions=[e.lstrip(".") for e in IMAGE_EXTENSIONS]
        )
        parts.append(files.rename_columns({"path": "source", "bytes": "data"}))
    if not parts:
        raise ConfigError(f"IMAGES: expected at least one image, got none in {list(images)!r}")
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.union(part)
    return dataset


class _Progress:
    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.last = 0.0
        self.start = time.monotonic()

    def update(self, summary: RunSummary, *, final: bool = False) -> None:
        now = time.monotonic()
        if self.stream is None or (not final and now - self.last < 0.5):
            return
        self.last = now
        rate = (summary.written + summary.failed) / max(now - self.start, 1e-9)
        self.stream.write(
            f"\rsynth[ray] {summary.seen} seen  ok {summary.written}  failed {summary.failed}  "
            f"skipped {summary.skipped_done + summary.skipped_duplicate}  {rate:.1f} rec/s"
            + ("\n" if final else "")
        )
        self.stream.flush()


def run_ray_job(
    images: Sequence[str | os.PathLike[str]] | str,
    out_dir: str | os.PathLike[str],
    config: SynthesisConfig | None = None,
    *,
    backend: str = "offline",
    backend_options: Mapping[str, Any] | None = None,
    verifier: str | None = None,
    verifier_options: Mapping[str, Any] | None = None,
    detectors: Sequence[str] | str = ("vlm",),
    num_actors: int = 2,
    concurrency: int = 8,
    num_cpus_per_actor: float = 1.0,
    num_gpus_per_actor: float = 0.0,
    load_batch_size: int | None = None,
    shard_size: int = 1000,
    fsync_every: int = 32,
    retry_failed: bool = True,
    allow_mixed_config: bool = False,
    progress: bool | TextIO = False,
    ray_address: str | None = None,
) -> RunSummary:
    """Run the synthesis pipeline over ``images`` as a Ray Data job, writing into ``out_dir``.

    Args:
        images: Directories, image files, ``.txt`` lists, globs (readable from every
            worker), or object-store URIs (``s3://bucket/prefix``) that Ray Data reads.
        out_dir: Output directory on the driver (same layout as the local runner's).
        config: The synthesis configuration (defaults if ``None``).
        backend: Captioner backend name: ``openai`` for vLLM/SGLang servers, ``vllm``
            for an in-process engine per actor (set ``num_gpus_per_actor``), ``offline``.
        backend_options: Its options, e.g. ``{"base_url": ..., "model": ...}``.
        verifier: Verifier backend name (``None``: the captioner).
        verifier_options: Its options.
        detectors: Detector names.
        num_actors: Size of the model-step actor pool.
        concurrency: Records in flight in each actor.
        num_cpus_per_actor: CPUs reserved per actor (the per-record CPU work runs there).
        num_gpus_per_actor: GPUs per actor (for ``backend="vllm"`` or a local detector).
        load_batch_size: Sources per load task (default: ``concurrency``, so that each
            block the actors get is one batch and blocks spread over the actors).
        shard_size: Records per JSONL shard.
        fsync_every: ``fsync`` after this many records.
        retry_failed: Retry sources that failed in an earlier run.
        allow_mixed_config: Write into a directory made with another configuration.
        progress: Progress line on stderr (or the given stream).
        ray_address: Cluster to join (default: ``RAY_ADDRESS``, or a local Ray).

    Returns:
        The run's summary (also written to ``summary.json``).

    Raises:
        ConfigError: On a bad option or an output directory of another configuration.
        MissingDependencyError: When Ray is not installed.
    """
    for option, value in (
        ("num_actors", num_actors),
        ("concurrency", concurrency),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{option}: expected an integer >= 1, got {value!r}")
    if load_batch_size is None:
        load_batch_size = concurrency  # one load block = one actor batch: spread over actors
    if (
        isinstance(load_batch_size, bool)
        or not isinstance(load_batch_size, int)
        or (load_batch_size < 1)
    ):
        raise ConfigError(f"load_batch_size: expected an integer >= 1, got {load_batch_size!r}")
    ray = require("ray", extra="ray")
    require("ray.data", extra="ray")
    spec = PipelineSpec(
        config=config or SynthesisConfig(),
        backend=backend,
        backend_options=dict(backend_options or {}),
        verifier=verifier,
        verifier_options=dict(verifier_options or {}),
        detectors=tuple([detectors] if isinstance(detectors, str) else detectors),
    )
    pipeline = spec.build()  # the driver's copy: fingerprint and ids (it sends no request)
    sources = [images] if isinstance(images, str | os.PathLike) else list(images)
    stream: TextIO | None = sys.stderr if progress is True else (progress or None)

    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    run_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-ray"
    summary = RunSummary()
    started = time.monotonic()
    bar = _Progress(stream)
    if not ray.is_initialized():
        ray.init(address=ray_address, log_to_driver=False)
    _check_resources(ray, num_actors, num_cpus_per_actor, num_gpus_per_actor)
    options = ray.data.DataContext.get_current().execution_options
    saved_order = options.preserve_order
    # Input order, so that of two identical images the first wins, as in the local runner.
    options.preserve_order = True
    try:
        with OutputLock(root):
            check_manifest(root, pipeline_manifest(pipeline), allow_mixed=allow_mixed_config)
            state = scan(root)
            summary.repaired_bytes = state.repaired_bytes
            dataset = _dataset(ray, sources, parallelism=max(1, num_actors * 2))
            dataset = dataset.map_batches(
                _load_batch,
                fn_kwargs={
                    "fingerprint": pipeline.fingerprint,
                    "done": frozenset(state.done),
                    "failed": frozenset(state.failed),
                    "retry_failed": retry_failed,
                },
                batch_size=load_batch_size,
                batch_format="numpy",
                num_cpus=_LOAD_CPUS,
            )
            dataset = dataset.map_batches(
                _SynthesisActor,
                fn_constructor_kwargs={"spec": spec, "concurrency": concurrency},
                batch_size=concurrency,
                batch_format="numpy",
                # Two batches per actor overlap, so one slow record does not idle the actor.
                compute=ray.data.ActorPoolStrategy(
                    size=num_actors, max_concurrent_calls_per_actor=2
                ),
                num_cpus=num_cpus_per_actor,
                num_gpus=num_gpus_per_actor,
            )
            claimed: set[str] = set()
            with ShardWriter(
                root, run_id=run_id, shard_size=shard_size, fsync_every=fsync_every
            ) as writer:
                for batch in dataset.iter_batches(batch_format="numpy", batch_size=None):
                    for kind, record_id, line in zip(
                        _column(batch, "kind"),
                        _column(batch, "record_id"),
                        _column(batch, "line"),
                        strict=True,
                    ):
                        summary.seen += 1
                        _finish(root, writer, summary, claimed, kind, record_id, line, run_id)
                        bar.update(summary)
    finally:
        options.preserve_order = saved_order
    summary.elapsed_s = round(time.monotonic() - started, 3)
    summary.records_per_s = round(
        (summary.written + summary.failed) / max(summary.elapsed_s, 1e-9), 3
    )
    bar.update(summary, final=True)
    write_text_atomic(root / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
    return summary


def _check_resources(ray: Any, actors: int, cpus: float, gpus: float) -> None:
    # An actor pool that takes every CPU starves the load tasks and the job hangs.
    total = ray.cluster_resources()
    need_cpus = actors * cpus + _LOAD_CPUS
    if total.get("CPU", 0.0) < need_cpus:
        raise ConfigError(
            f"num_actors x num_cpus_per_actor: expected at most {total.get('CPU', 0.0):g} CPUs "
            f"in all (the cluster's, less {_LOAD_CPUS:g} for reading images), got "
            f"{actors} x {cpus:g}; use fewer actors or a fraction of a CPU per actor"
        )
    if gpus and total.get("GPU", 0.0) < actors * gpus:
        raise ConfigError(
            f"num_actors x num_gpus_per_actor: expected at most {total.get('GPU', 0.0):g} GPUs, "
            f"got {actors} x {gpus:g}"
        )


def _finish(
    root: Path,
    writer: ShardWriter,
    summary: RunSummary,
    claimed: set[str],
    kind: str,
    record_id: str,
    line: str,
    run_id: str,
) -> None:
    if kind == _DONE:
        summary.skipped_done += 1
        return
    if kind == _SKIP_FAILED:
        summary.skipped_failed += 1
        return
    if record_id in claimed:
        summary.skipped_duplicate += 1  # the same bytes under another name: already counted
        return
    claimed.add(record_id)
    record = Record.model_validate_json(line)
    if kind == _OK:
        writer.write_line(line)
    else:
        append_failure(root, record, run_id=run_id)
    summary.add(record)


def run_cli(args: argparse.Namespace) -> int:
    """Run ``grounding-rewards synth --ray`` with the parsed CLI arguments.

    Ray settings come from ``--ray-actors``, ``--ray-cpus-per-actor`` and
    ``--ray-gpus-per-actor``; when a flag is not given, from the environment:
    ``GR_RAY_ACTORS`` (default 2), ``GR_RAY_CPUS_PER_ACTOR`` (default 1),
    ``GR_RAY_GPUS_PER_ACTOR`` (default 0). ``RAY_ADDRESS`` picks the cluster.
    """
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    actors = getattr(args, "ray_actors", None)
    cpus = getattr(args, "ray_cpus_per_actor", None)
    gpus = getattr(args, "ray_gpus_per_actor", None)
    summary = run_ray_job(
        args.images,
        args.out,
        args.synthesis_config,
        backend=args.backend,
        backend_options=args.backend_options,
        verifier=args.verifier_backend,
        verifier_options=args.verifier_options,
        detectors=args.detectors,
        num_actors=actors if actors is not None else _env_int("GR_RAY_ACTORS", 2),
        concurrency=args.concurrency,
        num_cpus_per_actor=cpus if cpus is not None else _env_float("GR_RAY_CPUS_PER_ACTOR", 1.0),
        num_gpus_per_actor=gpus if gpus is not None else _env_float("GR_RAY_GPUS_PER_ACTOR", 0.0),
        shard_size=args.shard_size,
        retry_failed=args.retry_failed,
        allow_mixed_config=args.allow_mixed_config,
        progress=progress,
    )
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(summary.format())
        print(f"output: {args.out}")
    return 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected an integer, got {value!r}") from None


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None


def main(argv: Iterable[str] | None = None) -> int:
    """``python -m grounding_rewards.synthesis.ray_job``: the entry point for ``ray job submit``.

    The same as ``grounding-rewards synth --ray ARGS`` (the ``--ray-actors``,
    ``--ray-cpus-per-actor`` and ``--ray-gpus-per-actor`` flags included).
    """
    from grounding_rewards.cli import main as cli_main

    return cli_main(["synth", "--ray", *(list(argv) if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    sys.exit(main())
