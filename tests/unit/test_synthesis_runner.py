from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image
from skimage import data

from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.pipeline import Pipeline
from grounding_rewards.synthesis.records import Record
from grounding_rewards.synthesis.runner import (
    iter_image_paths,
    run_synthesis,
    run_synthesis_sync,
)
from grounding_rewards.synthesis.store import iter_records, scan


def tiles(n: int, size: int = 64) -> list[tuple[str, bytes]]:
    """n different small images cut from the astronaut."""
    base = Image.fromarray(data.astronaut())
    out = []
    for k in range(n):
        x, y = (k * 37) % (512 - size), (k * 53) % (512 - size)
        buffer = io.BytesIO()
        base.crop((x, y, x + size, y + size)).save(buffer, "PNG")
        out.append((f"tile{k}.png", buffer.getvalue()))
    return out


def test_run_writes_each_image_once_and_resumes(tmp_path) -> None:
    images = tiles(6)
    summary = run_synthesis_sync(
        images, tmp_path, Pipeline(OfflineBackend()), progress=False, shard_size=4
    )
    assert (summary.seen, summary.written, summary.failed) == (6, 6, 0)
    ids = [r.id for r in iter_records(tmp_path)]
    assert len(ids) == len(set(ids)) == 6
    again = run_synthesis_sync(
        images + tiles(8)[6:], tmp_path, Pipeline(OfflineBackend()), progress=False
    )
    assert (again.skipped_done, again.written) == (6, 2)
    assert len({r.id for r in iter_records(tmp_path)}) == len(list(iter_records(tmp_path))) == 8
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["written"] == 2 and saved["skipped_done"] == 6


def test_duplicate_bytes_in_one_run_are_written_once(tmp_path) -> None:
    one = tiles(1)[0]
    summary = run_synthesis_sync(
        [one, ("copy.png", one[1]), one], tmp_path, Pipeline(OfflineBackend()), progress=False
    )
    assert (summary.written, summary.skipped_duplicate) == (1, 2)


def test_failures_are_recorded_counted_and_retried(tmp_path) -> None:
    images = tiles(3)
    flaky = Pipeline(OfflineBackend(fail={"main_caption": "http_500"}))
    summary = run_synthesis_sync([*images, ("bad.png", b"nope")], tmp_path, flaky, progress=False)
    assert summary.written == 0 and summary.failures_by_reason == {
        "http_500": 3,
        "image_unreadable": 1,
    }
    assert len(scan(tmp_path).failed) == 4
    # Same configuration, the server is back: failed images are retried, the bad one fails again.
    fixed = Pipeline(OfflineBackend())
    assert fixed.fingerprint == flaky.fingerprint
    summary = run_synthesis_sync([*images, ("bad.png", b"nope")], tmp_path, fixed, progress=False)
    assert (summary.written, summary.failed) == (3, 1)
    assert scan(tmp_path).failed.keys() == {r for r in scan(tmp_path).failed}
    assert list(scan(tmp_path).failed.values()) == ["image_unreadable"]
    no_retry = run_synthesis_sync(
        [*images, ("bad.png", b"nope")], tmp_path, fixed, progress=False, retry_failed=False
    )
    assert (no_retry.skipped_done, no_retry.skipped_failed, no_retry.failed) == (3, 1, 0)


def test_internal_errors_are_recorded_and_the_run_goes_on(tmp_path) -> None:
    class Exploding(Pipeline):
        async def process_bytes(self, data: bytes, *, source: str = "<bytes>") -> Record:
            if source == "tile1.png":
                raise ZeroDivisionError("bug")
            return await super().process_bytes(data, source=source)

    summary = run_synthesis_sync(tiles(3), tmp_path, Exploding(OfflineBackend()), progress=False)
    assert (summary.written, summary.failures_by_reason) == (2, {"internal_error": 1})
    line = (tmp_path / "failures.jsonl").read_text()
    assert "ZeroDivisionError: bug" in line


class Counting(Pipeline):
    """Counts records in flight."""

    active = 0
    peak = 0

    async def process_bytes(self, data: bytes, *, source: str = "<bytes>") -> Record:
        type(self).active += 1
        type(self).peak = max(type(self).peak, type(self).active)
        try:
            return await super().process_bytes(data, source=source)
        finally:
            type(self).active -= 1


@pytest.mark.parametrize("concurrency", [1, 16])
def test_concurrency_bounds_records_in_flight(tmp_path, concurrency: int) -> None:
    Counting.active = Counting.peak = 0
    backend = OfflineBackend(delay_s=0.02)
    summary = run_synthesis_sync(
        tiles(20, size=32), tmp_path, Counting(backend), progress=False, concurrency=concurrency
    )
    assert summary.written == 20
    assert Counting.peak == concurrency
    if concurrency == 16:
        # Their main captions were all waiting on the backend at once.
        assert backend.max_in_flight >= 16


def test_sources_are_consumed_lazily(tmp_path) -> None:
    pulled = []

    def generate():
        for name, payload in tiles(20, size=32):
            pulled.append(name)
            yield name, payload

    seen_at_first_write = []

    class Watching(Pipeline):
        async def process_bytes(self, data: bytes, *, source: str = "<bytes>") -> Record:
            seen_at_first_write.append(len(pulled))
            return await super().process_bytes(data, source=source)

    run_synthesis_sync(
        generate(), tmp_path, Watching(OfflineBackend()), progress=False, concurrency=2
    )
    assert seen_at_first_write[0] <= 2  # not all 20 read before work starts
    assert len(pulled) == 20


def test_progress_bar_and_summary_text(tmp_path) -> None:
    stream = io.StringIO()
    summary = run_synthesis_sync(tiles(2), tmp_path, Pipeline(OfflineBackend()), progress=stream)
    assert "synth [" in stream.getvalue() and "2/2" in stream.getvalue()
    text = summary.format()
    assert "records: 2 written, 0 failed" in text and "hallucinations caught" in text


def test_bad_arguments(tmp_path) -> None:
    with pytest.raises(ConfigError, match="concurrency"):
        asyncio.run(run_synthesis([], tmp_path, Pipeline(OfflineBackend()), concurrency=0))
    with pytest.raises(ConfigError, match="another config"):
        run_synthesis_sync([], tmp_path, Pipeline(OfflineBackend()), progress=False)
        run_synthesis_sync([], tmp_path, Pipeline(OfflineBackend(model="x")), progress=False)


def test_iter_image_paths(tmp_path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/b.png", "d/a.JPG", "d/sub/c.webp", "d/notes.md", "e.png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# images\ne.png\n\n/abs/z.png\n")
    paths = list(iter_image_paths([tmp_path / "d", tmp_path / "list.txt", str(tmp_path / "*.png")]))
    assert paths == [
        str(tmp_path / "d" / "a.JPG"),
        str(tmp_path / "d" / "b.png"),
        str(tmp_path / "d" / "sub" / "c.webp"),
        str(tmp_path / "e.png"),
        "/abs/z.png",
        str(tmp_path / "e.png"),
    ]
    with pytest.raises(ConfigError, match="expected a directory, an image"):
        list(iter_image_paths([tmp_path / "missing"]))
