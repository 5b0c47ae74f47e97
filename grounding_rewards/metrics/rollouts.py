r"""Read rollouts: our JSONL, veRL's rollout dumps and TRL's completion logs.

Every reader yields :class:`Rollout` records: the completion, its raw ground truth
(validated later by :func:`~grounding_rewards.ground_truth.parse_ground_truth`) and
where it came from (``file:line``), so that an error can point at the line.

Formats (``format=`` or detected from the file):

``rollouts`` (ours, also read by ``grounding-rewards score``)
    JSONL, one object per line: ``completion`` (required), ``answer``, ``gt_boxes``,
    ``gt_labels``, ``image_size``, ``choices``, and optionally ``image`` (a path) and ``id``.
``verl``
    The JSONL that veRL writes with ``trainer.rollout_data_dir`` or
    ``trainer.validation_data_dir`` (``{step}.jsonl``; veRL 0.9: keys ``input``,
    ``output``, ``gts``, ``score``, ``step`` and the reward's extra keys). ``output`` is the
    completion; ``gts`` is the sample's ``reward_model.ground_truth``: a dict (or its JSON
    string) with our keys, as the ``grounding_rewards.verl`` adapter expects, or a plain
    answer string.
``trl``
    TRL's completion logs (``GRPOConfig(log_completions=True)``; TRL 1.x writes
    ``<output_dir>/completions/completions_<step>.parquet`` with columns ``step``,
    ``prompt``, ``completion``, one column per reward function, any ``log_extra``
    columns, and ``advantage``), or the same table exported as a W&B table JSON
    (``{"columns": [...], "data": [[...], ...]}``). The ground-truth keys are read from
    columns of the same names when the run logged them (e.g. through ``log_extra``).
    Parquet needs ``pyarrow`` (``pip install 'grounding-rewards[parquet]'``).

A conversational completion (``[{"role": "assistant", "content": ...}]``) is reduced to
the text of its last assistant message. A directory is read file by file in natural
order (``2.jsonl`` before ``10.jsonl``).

Example:
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "3.jsonl"
    >>> _ = path.write_text(json.dumps({"input": "Q", "output": "<answer>B</answer>",
    ...                                 "gts": {"answer": "B"}, "score": 1.0, "step": 3}) + "\n")
    >>> [(r.completion, r.target["answer"]) for r in read_rollouts(path)]
    [('<answer>B</answer>', 'B')]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from grounding_rewards._completions import completion_text
from grounding_rewards._optional import require
from grounding_rewards.errors import GroundingRewardsError

__all__ = [
    "GROUND_TRUTH_KEYS",
    "Rollout",
    "RolloutFormat",
    "RolloutFormatError",
    "completion_text",
    "detect_format",
    "read_rollouts",
    "rollout_from_record",
]

RolloutFormat: TypeAlias = Literal["auto", "rollouts", "verl", "trl"]
GROUND_TRUTH_KEYS: tuple[str, ...] = ("answer", "gt_boxes", "gt_labels", "choices", "image_size")
"""The ground-truth keys of a rollout, as ``parse_ground_truth`` names them."""

_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


class RolloutFormatError(GroundingRewardsError, ValueError):
    """A rollout file or record is not in the expected format ("file:line: expected X, got Y")."""


@dataclass(frozen=True, slots=True)
class Rollout:
    """One completion with its ground truth.

    Attributes:
        completion: The completion text (any other value is kept as is: the parser
            reports it as ``not_text``).
        target: Raw ground truth, keys from :data:`GROUND_TRUTH_KEYS`.
        image: Image path as recorded, or ``None``.
        id: Sample id as recorded, or ``None``.
        source: ``file:line`` (or ``file:row``) for messages.
        logged: Other scalar fields of the record (logged rewards, step, ...).
    """

    completion: Any
    target: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None
    id: str | None = None
    source: str = "<memory>"
    logged: Mapping[str, Any] = field(default_factory=dict)


def _scalars(record: Mapping[str, Any], skip: Iterable[str]) -> dict[str, Any]:
    skipped = set(skip)
    return {
        k: v
        for k, v in record.items()
        if k not in skipped and (v is None or isinstance(v, (bool, int, float, str)))
    }


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _verl_target(gts: Any, source: str) -> dict[str, Any]:
    if gts is None:
        return {}
    if isinstance(gts, str):
        text = gts.strip()
        if text.startswith("{"):
            try:
                decoded = json.loads(text)
            except ValueError as exc:
                raise RolloutFormatError(
                    f"{source}: gts: expected a JSON object, got {text[:80]!r}"
                ) from exc
            gts = decoded
        else:
            return {"answer": gts}
    if isinstance(gts, Mapping):
        return {k: gts[k] for k in GROUND_TRUTH_KEYS if k in gts}
    raise RolloutFormatError(
        f"{source}: gts: expected a dict, a JSON object or an answer string, got "
        f"{type(gts).__name__}"
    )


def rollout_from_record(
    record: Any, *, format: Literal["rollouts", "verl", "trl"], source: str = "<memory>"
) -> Rollout:
    """Build a :class:`Rollout` from one decoded record of the given format.

    Args:
        record: A JSON object (dict).
        format: ``rollouts``, ``verl`` or ``trl``.
        source: Where the record came from, for messages.

    Returns:
        The rollout.

    Raises:
        RolloutFormatError: When the record is not an object or lacks its completion.

    Example:
        >>> rollout_from_record({"completion": "x", "answer": "A", "id": 7}, format="rollouts").id
        '7'
    """
    if not isinstance(record, Mapping):
        raise RolloutFormatError(f"{source}: expected a JSON object, got {type(record).__name__}")
    if format == "verl":
        if "output" not in record:
            raise RolloutFormatError(
                f"{source}: expected veRL's 'output' key, got keys {sorted(record)[:12]}"
            )
        return Rollout(
            completion=completion_text(record["output"]),
            target=_verl_target(record.get("gts"), source),
            image=_optional_str(record.get("image")),
            id=_optional_str(record.get("id", record.get("request_id"))),
            source=source,
            logged=_scalars(record, ("input", "output", "gts")),
        )
    if "completion" not in record:
        raise RolloutFormatError(
            f"{source}: expected a 'completion' key, got keys {sorted(record)[:12]}"
        )
    target = {k: record[k] for k in GROUND_TRUTH_KEYS if k in record}
    return Rollout(
        completion=completion_text(record["completion"]),
        target=target,
        image=_optional_str(record.get("image"))
        if not isinstance(record.get("image"), list)
        else None,
        id=_optional_str(record.get("id")),
        source=source,
        logged=_scalars(record, ("completion", "prompt", "image", "id", *GROUND_TRUTH_KEYS)),
    )


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _jsonl_records(path: Path) -> Iterator[tuple[Any, str]]:
    with path.open("r", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            source = f"{path}:{number}"
            try:
                yield json.loads(line), source
            except ValueError as exc:
                raise RolloutFormatError(
                    f"{source}: expected a JSON object, got invalid JSON ({exc})"
                ) from None


def _table_records(path: Path) -> Iterator[tuple[Any, str]]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RolloutFormatError(
            f"{path}: expected a JSON table, got invalid JSON ({exc})"
        ) from None
    if not (
        isinstance(table, Mapping)
        and isinstance(table.get("columns"), list)
        and isinstance(table.get("data"), list)
    ):
        raise RolloutFormatError(
            f"{path}: expected a table {{'columns': [...], 'data': [[...]]}}, got "
            f"{type(table).__name__}"
        )
    columns = table["columns"]
    for row_number, row in enumerate(table["data"], start=1):
        if not isinstance(row, list) or len(row) != len(columns):
            raise RolloutFormatError(
                f"{path}:row {row_number}: expected {len(columns)} values, got "
                f"{len(row) if isinstance(row, list) else type(row).__name__}"
            )
        yield dict(zip(columns, row, strict=True)), f"{path}:row {row_number}"


def _parquet_records(path: Path) -> Iterator[tuple[Any, str]]:
    parquet = require("pyarrow.parquet", extra="parquet")
    row_number = 0
    for batch in parquet.ParquetFile(path).iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row_number += 1
            yield record, f"{path}:row {row_number}"


def detect_format(path: str | Path) -> Literal["rollouts", "verl", "trl"]:
    r"""Guess a file's format from its suffix and first record.

    Raises:
        RolloutFormatError: When the file is of no known format.

    Example:
        >>> import json, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
        >>> _ = path.write_text(json.dumps({"completion": "x"}) + "\n")
        >>> detect_format(path)
        'rollouts'
    """
    path = Path(path)
    if path.suffix == ".parquet":
        return "trl"
    first: Any = None
    if path.suffix == ".json":
        return "trl"
    for record, _ in _jsonl_records(path):
        first = record
        break
    if isinstance(first, Mapping):
        if "completion" in first:
            return "rollouts"
        if "output" in first:
            return "verl"
    keys = sorted(first)[:12] if isinstance(first, Mapping) else type(first).__name__
    raise RolloutFormatError(
        f"{path}:1: expected a rollout ('completion'), a veRL dump ('output', 'gts') or a TRL "
        f"log ('prompt', 'completion'), got {keys}"
    )


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(
            (p for p in path.iterdir() if p.is_file() and p.suffix in _FILE_SUFFIXES),
            key=_natural_key,
        )
        if not files:
            raise RolloutFormatError(f"{path}: expected .jsonl, .json or .parquet files, got none")
        return files
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return [path]


def read_rollouts(path: str | Path, *, format: RolloutFormat = "auto") -> Iterator[Rollout]:
    """Yield the rollouts in a file or a directory of files.

    Args:
        path: A ``.jsonl`` file (ours or veRL's), a TRL ``.parquet`` log or W&B table
            ``.json``, or a directory of such files.
        format: ``auto`` (detect per file), ``rollouts``, ``verl`` or ``trl``.

    Yields:
        :class:`Rollout` records, in file order.

    Raises:
        RolloutFormatError: For malformed records ("file:line: expected X, got Y").
        FileNotFoundError: When ``path`` does not exist.
        MissingDependencyError: For parquet without ``pyarrow``.
    """
    for file in _files(Path(path)):
        kind = detect_format(file) if format == "auto" else format
        if file.suffix == ".parquet":
            records = _parquet_records(file)
        elif file.suffix == ".json":
            records = _table_records(file)
        else:
            records = _jsonl_records(file)
        for record, source in records:
            yield rollout_from_record(record, format=kind, source=source)
