"""Regression tests for faults that once lost work (issue 10).

1. A malformed-JSON answer from the OpenAI-compatible backend failed the record
   after one request, although ``SynthesisConfig.json_retries`` promised a re-ask.
2. A completion holding a lone surrogate made ``evaluate --report`` exit 2 and left
   the report at 0 bytes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from skimage import data

from grounding_rewards.cli import main
from grounding_rewards.synthesis.backends.base import GenerationRequest
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.backends.openai_http import OpenAIBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline, encode_array
from grounding_rewards.synthesis.records import Record
from grounding_rewards.synthesis.testing_server import StubOpenAIServer, offline_responder


def _record(server: StubOpenAIServer, config: SynthesisConfig) -> Record:
    backend = OpenAIBackend(
        model="stub", base_url=server.base_url, backoff_base_s=0.01, jitter_seed=0
    )
    pipeline = Pipeline(backend, config=config, detectors=["vlm"])

    async def go() -> Record:
        try:
            return await pipeline.process_bytes(encode_array(data.coffee()), source="coffee")
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_malformed_json_from_the_http_backend_is_re_asked_json_retries_times() -> None:
    with StubOpenAIServer(responder=offline_responder()) as server:
        clean = _record(server, SynthesisConfig(json_retries=3))
        server.reset_stats()
        server.script(["malformed_json"])
        faulty = _record(server, SynthesisConfig(json_retries=3))
        requests_with_fault = server.stats.requests
    assert clean.status == "ok", clean.errors
    assert faulty.status == "ok", faulty.errors
    assert faulty.errors == clean.errors == []
    assert faulty.model_dump(exclude={"provenance"}) == clean.model_dump(exclude={"provenance"})
    assert requests_with_fault >= 2  # the malformed answer was asked again


def test_malformed_json_retries_are_bounded_by_json_retries() -> None:
    with StubOpenAIServer(responder=offline_responder()) as server:
        server.script(["malformed_json"] * 3)
        record = _record(server, SynthesisConfig(json_retries=2))
        assert server.stats.requests == 3  # one ask and two re-asks, then it gives up
    assert record.status == "failed"
    assert [(e.stage, e.reason) for e in record.errors] == [("main_caption", "malformed_json")]


def _rollouts(path: Path, completions: list[str]) -> Path:
    lines = [
        json.dumps(
            {
                "id": f"r{k}",
                "completion": text,
                "answer": "A",
                "gt_boxes": [[10, 10, 50, 50]],
                "gt_labels": ["cat"],
                "image_size": [100, 100],
            }
        )
        for k, text in enumerate(completions)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="ascii")  # "\ud800" stays an escape
    return path


def test_evaluate_report_with_a_lone_surrogate_exits_0_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "<think><obj>cat</obj><bbox>[10, 10, 50, 50]</bbox></think><answer>A</answer>"
    rollouts = _rollouts(tmp_path / "r.jsonl", [good, "<think>\ud800 a \ud800cat</think>"])
    report = tmp_path / "report.html"
    report.write_text("the previous report", encoding="utf-8")
    code = main(["evaluate", str(rollouts), "--report", str(report), "--no-coco"])
    assert code == 0, capsys.readouterr().err
    html = report.read_text(encoding="utf-8")  # valid UTF-8 throughout
    assert html.lower().startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    assert "\\ud800" in html  # the surrogate is shown, escaped, not dropped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "report.html"]


def test_a_failed_report_write_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollouts = _rollouts(tmp_path / "r.jsonl", ["<answer>A</answer>"])
    report = tmp_path / "report.html"
    report.write_text("the previous report", encoding="utf-8")
    real_write_bytes = Path.write_bytes

    def disk_full(self: Path, data: bytes) -> int:  # half the bytes land, then ENOSPC
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    assert main(["evaluate", str(rollouts), "--report", str(report), "--no-coco"]) == 2
    monkeypatch.undo()
    assert report.read_text(encoding="utf-8") == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl", "report.html"]


class _SurrogateModel(OfflineBackend):
    """The offline model, but every caption it writes starts with a lone surrogate."""

    async def generate(self, request: GenerationRequest) -> str:
        answer = await super().generate(request)
        # A JSON escape, as models write it; json.loads makes it a lone surrogate.
        return answer.replace('"caption": "', '"caption": "\\ud800 ')


def test_lone_surrogates_in_model_answers_never_break_a_record(tmp_path: Path) -> None:
    from grounding_rewards.synthesis.runner import run_synthesis_sync
    from grounding_rewards.synthesis.store import iter_records, scan

    images = [
        ("coffee.png", encode_array(data.coffee())),
        ("cat.png", encode_array(data.chelsea())),
    ]
    summary = run_synthesis_sync(images, tmp_path, Pipeline(_SurrogateModel()), progress=False)
    assert (summary.written, summary.failed) == (2, 0), summary.failures_by_reason
    records = list(iter_records(tmp_path))  # every line reads back
    assert len(records) == 2 and scan(tmp_path).corrupt_lines == 0
    assert all("\ufffd" in r.main_caption and "\ud800" not in r.main_caption for r in records)


def test_an_image_whose_name_is_not_utf8_becomes_a_record(tmp_path: Path) -> None:
    import os

    from PIL import Image

    from grounding_rewards.synthesis.runner import iter_image_paths, run_synthesis_sync
    from grounding_rewards.synthesis.store import iter_records

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(data.coffee()).save(folder / "x.png")
    os.rename(folder / "x.png", os.path.join(os.fsencode(folder), b"caf\xe9.png"))
    out = tmp_path / "out"
    summary = run_synthesis_sync(
        iter_image_paths([folder]), out, Pipeline(OfflineBackend()), progress=False
    )
    assert (summary.written, summary.failed) == (1, 0)
    (record,) = iter_records(out)
    assert record.image.source.endswith("caf\\xe9.png")  # visible, and the line reads back
