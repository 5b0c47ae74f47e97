r"""Read rollouts: our JSONL, veRL's rollout dumps and TRL's completion logs.

Every reader yields :class:`Rollout` records: the completion, its raw ground truth
(validated later by :func:`~grounding_rewards.ground_truth.parse_ground_truth`) and
where it came from (``file:line``), so that an error can point at the line.

Formats (``format=`` or detected from the file):

``rollouts`` (ours, also read by ``grounding-rewards score``)
    JSONL, one object per line: ``completion`` (required; or a chat ``messages`` list,
    whose last assistant message is the completion), ``answer``, ``gt_boxes``,
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

Hostile files: each JSONL line is decoded on its own, so a line with bytes that are
not UTF-8, JSON nested too deeply to decode, or a truncated last line (a writer
killed mid-line) is one malformed *record*: it raises :class:`RolloutFormatError`
naming ``file:line``, or, with ``on_error``, is reported there and skipped while
every other line is read. Odd *model output* inside a well-formed record (lone
surrogates, NUL, a 10 MB completion) is not an error: the parser reports it.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from grounding_rewards._completions import completion_text
from grounding_rewards._optional import require
from grounding_rewards.components import GROUND_TRUTH_FIELDS
from grounding_rewards.errors import RolloutFormatError

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
GROUND_TRUTH_KEYS: tuple[str, ...] = GROUND_TRUTH_FIELDS
"""The ground-truth keys of a rollout, as ``parse_ground_truth`` names them."""

_FILE_SUFFIXES = (".jsonl", ".json", ".parquet")


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
        trajectory: The whole multi-turn trajectory when the record has one (a
            conversational ``completion`` or a ``messages`` list), for the zoom metrics;
            ``None`` otherwise.
    """

    completion: Any
    target: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None
    id: str | None = None
    source: str = "<memory>"
    logged: Mapping[str, Any] = field(default_factory=dict)
    trajectory: Any = None


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
            except (ValueError, RecursionError):
                raise RolloutFormatError(
                    f"{source}: gts: expected a JSON object, got {text[:80]!r}"
                ) from None
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
    raw = record.get("completion", record.get("messages"))
    if raw is None and "completion" not in record:
        raise RolloutFormatError(
            f"{source}: expected a 'completion' key, got keys {sorted(record)[:12]}"
        )
    target = {k: record[k] for k in GROUND_TRUTH_KEYS if k in record}
    return Rollout(
        trajectory=raw if isinstance(raw, list) else None,  # multi-turn: the zoom metrics
        completion=completion_text(raw),
        target=target,
        image=_optional_str(record.get("image"))
        if not isinstance(record.get("image"), list)
        else None,
        id=_optional_str(record.get("id")),
        source=source,
        logged=_scalars(
            record, ("completion", "messages", "prompt", "image", "id", *GROUND_TRUTH_KEYS)
        ),
    )


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _decode_line(raw: bytes, source: str, *, first: bool) -> Any:
    """One JSONL line as JSON; a :class:`RolloutFormatError` when it is not readable."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RolloutFormatError(
            f"{source}: expected UTF-8 text, got the invalid byte 0x{raw[exc.start]:02x} "
            f"at byte {exc.start + 1} of the line"
        ) from None
    if first:
        line = line.removeprefix("\ufeff")  # a byte-order mark some editors write
    try:
        return json.loads(line)
    except RecursionError:
        raise RolloutFormatError(
            f"{source}: expected a JSON object, got JSON nested too deeply to decode"
        ) from None
    except ValueError as exc:
        if not raw.endswith(b"\n"):
            raise RolloutFormatError(
                f"{source}: expected a complete JSON line, got a truncated last line "
                f"({len(raw)} bytes, no newline: was the writer stopped mid-line?)"
            ) from None
        raise RolloutFormatError(
            f"{source}: expected a JSON object, got invalid JSON ({exc})"
        ) from None


def _jsonl_records(path: Path) -> Iterator[tuple[Any, str]]:
    """``(record, source)`` per non-blank line; a malformed line gives its error as record."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            source = f"{path}:{number}"
            try:
                yield _decode_line(raw, source, first=number == 1), source
            except RolloutFormatError as error:
                yield error, source


def _table_records(path: Path) -> Iterator[tuple[Any, str]]:
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:
        raise RolloutFormatError(
            f"{path}: expected a JSON table, got invalid JSON ({type(exc).__name__}: {exc})"
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
        source = f"{path}:row {row_number}"
        if not isinstance(row, list) or len(row) != len(columns):
            yield (
                RolloutFormatError(
                    f"{source}: expected {len(columns)} values, got "
                    f"{len(row) if isinstance(row, list) else type(row).__name__}"
                ),
                source,
            )
            continue
        yield dict(zip(columns, row, strict=True)), source


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
    if path.suffix in (".parquet", ".json"):
        return "trl"
    first: Any = None
    where = f"{path}:1"
    malformed: RolloutFormatError | None = None
    # The first readable line decides; a malformed line before it is the reader's to report.
    for record, source in _jsonl_records(path):
        if isinstance(record, RolloutFormatError):
            malformed = malformed or record
            continue
        first, where = record, source
        break
    else:
        if malformed is not None:
            raise malformed
    return _kind_of(first, where)


def _kind_of(first: Any, where: str) -> Literal["rollouts", "verl"]:
    if isinstance(first, Mapping):
        if "completion" in first or isinstance(first.get("messages"), list):
            return "rollouts"
        if "output" in first:
            return "verl"
    keys = sorted(first)[:12] if isinstance(first, Mapping) else type(first).__name__
    raise RolloutFormatError(
        f"{where}: expected a rollout ('completion'), a veRL dump ('output', 'gts') or a TRL "
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


def read_rollouts(
    path: str | Path,
    *,
    format: RolloutFormat = "auto",
    on_error: Callable[[RolloutFormatError], None] | None = None,
) -> Iterator[Rollout]:
    r"""Yield the rollouts in a file or a directory of files.

    Args:
        path: A ``.jsonl`` file (ours or veRL's), a TRL ``.parquet`` log or W&B table
            ``.json``, or a directory of such files.
        format: ``auto`` (detect per file), ``rollouts``, ``verl`` or ``trl``.
        on_error: Called with the error of each malformed record (a line that is not
            UTF-8 or not JSON, a truncated last line, a record without its completion),
            which is then skipped; ``None`` raises it instead. A file that is not of a
            known format still raises.

    Yields:
        :class:`Rollout` records, in file order.

    Raises:
        RolloutFormatError: For malformed records ("file:line: expected X, got Y").
        FileNotFoundError: When ``path`` does not exist.
        MissingDependencyError: For parquet without ``pyarrow``.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.jsonl"
        >>> _ = path.write_bytes(b'{"completion": "a"}\n{"completion": "\xff"}\n{"compl')
        >>> problems = []
        >>> [r.completion for r in read_rollouts(path, on_error=problems.append)]
        ['a']
        >>> [str(p).split(": ", 1)[1][:40] for p in problems]
        ['expected UTF-8 text, got the invalid byt', 'expected a complete JSON line, got a tru']
    """
    for file in _files(Path(path)):
        kind: Literal["rollouts", "verl", "trl"] | None = None
        if format != "auto":
            kind = format
        elif file.suffix in (".parquet", ".json"):
            kind = "trl"
        if file.suffix == ".parquet":
            records = _parquet_records(file)
        elif file.suffix == ".json":
            records = _table_records(file)
        else:
            records = _jsonl_records(file)
        for record, source in records:
            if isinstance(record, RolloutFormatError):
                error = record
            else:
                if kind is None:  # the first readable record; no known format is a file error
                    kind = _kind_of(record, source)
                try:
                    rollout = rollout_from_record(record, format=kind, source=source)
                except RolloutFormatError as raised:
                    error = raised
                else:
                    yield rollout
                    continue
            if on_error is None:
                raise error
            on_error(error)
