from __future__ import annotations

import json
import os

import pytest

from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.records import ImageInfo, Record, StageError
from grounding_rewards.synthesis.store import (
    FAILURES_FILE,
    OutputLock,
    OutputLockedError,
    ShardWriter,
    append_failure,
    check_manifest,
    iter_records,
    repair_shard,
    scan,
)


def record(record_id: str, status: str = "ok") -> Record:
    size = 10 if status == "ok" else 0
    errors = [] if status == "ok" else [StageError(stage="load", reason="image_truncated")]
    return Record(
        id=record_id,
        status=status,
        errors=errors,
        image=ImageInfo(id="i", source="s", width=size, height=size, sha256="0" * 64),
    )


def test_writer_rotates_shards_and_scan_reads_every_id(tmp_path) -> None:
    with ShardWriter(tmp_path, run_id="r1", shard_size=3, fsync_every=2) as writer:
        for k in range(7):
            writer.write(record(f"id{k}"))
    shards = sorted(p.name for p in (tmp_path / "records").iterdir())
    assert shards == ["part-r1-00000.jsonl", "part-r1-00001.jsonl", "part-r1-00002.jsonl"]
    state = scan(tmp_path)
    assert state.done == {f"id{k}" for k in range(7)} and state.repaired_bytes == 0
    assert [r.id for r in iter_records(tmp_path)] == [f"id{k}" for k in range(7)]


def test_a_torn_last_line_is_cut_off_and_never_read(tmp_path) -> None:
    with ShardWriter(tmp_path, run_id="r1") as writer:
        writer.write(record("a"))
        writer.write(record("b"))
    shard = next((tmp_path / "records").iterdir())
    whole = shard.read_bytes()
    torn = record("c").model_dump_json().encode()[:25]
    shard.write_bytes(whole + torn)
    assert [r.id for r in iter_records(tmp_path)] == ["a", "b"]  # readers skip it even unrepaired
    state = scan(tmp_path)
    assert state.done == {"a", "b"} and state.repaired_bytes == 25
    assert shard.read_bytes() == whole


def test_repair_shard_edge_cases(tmp_path) -> None:
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert repair_shard(empty) == 0
    no_newline_at_all = tmp_path / "n.jsonl"
    no_newline_at_all.write_bytes(b"x" * 100_000)  # longer than one 64 KiB block
    assert repair_shard(no_newline_at_all) == 100_000 and no_newline_at_all.read_bytes() == b""
    long_tail = tmp_path / "l.jsonl"
    long_tail.write_bytes(b'{"id": "a"}\n' + b"y" * 200_000)
    assert repair_shard(long_tail) == 200_000 and long_tail.read_bytes() == b'{"id": "a"}\n'


def test_corrupt_complete_lines_are_counted_not_fatal(tmp_path) -> None:
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "part-x-00000.jsonl").write_text('{"id": "a"}\nnot json\n{"no": 1}\n')
    state = scan(tmp_path)
    assert state.done == {"a"} and state.corrupt_lines == 2


def test_failures_are_logged_and_forgotten_once_done(tmp_path) -> None:
    append_failure(tmp_path, record("f1", "failed"), run_id="r1")
    append_failure(tmp_path, record("f2", "failed"), run_id="r1")
    entry = json.loads((tmp_path / FAILURES_FILE).read_text().splitlines()[0])
    assert entry["run_id"] == "r1" and entry["errors"][0]["reason"] == "image_truncated"
    assert scan(tmp_path).failed == {"f1": "image_truncated", "f2": "image_truncated"}
    with ShardWriter(tmp_path, run_id="r2") as writer:
        writer.write(record("f1"))
    assert scan(tmp_path).failed == {"f2": "image_truncated"}


def test_write_line_refuses_embedded_newlines(tmp_path) -> None:
    with ShardWriter(tmp_path, run_id="r") as writer, pytest.raises(ValueError):
        writer.write_line("a\nb")
    with pytest.raises(ConfigError):
        ShardWriter(tmp_path, run_id="r", shard_size=0)


def test_manifest_guards_against_mixing_configurations(tmp_path) -> None:
    check_manifest(tmp_path, {"fingerprint": "aaa"})
    check_manifest(tmp_path, {"fingerprint": "aaa"})
    with pytest.raises(ConfigError, match="another config"):
        check_manifest(tmp_path, {"fingerprint": "bbb"})
    check_manifest(tmp_path, {"fingerprint": "bbb"}, allow_mixed=True)


def test_output_lock_is_exclusive_and_released(tmp_path) -> None:
    with OutputLock(tmp_path):
        pid = os.fork()
        if pid == 0:  # a second process must be refused while we hold it
            try:
                with OutputLock(tmp_path):
                    os._exit(1)
            except OutputLockedError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    with OutputLock(tmp_path):
        pass
