"""The fault campaign: the pipeline and the commands under faults and hostile input.

Seeded, bounded, loopback only (the stub OpenAI server on 127.0.0.1):

A. ``grounding-rewards synth`` through the HTTP backend against a stub that answers
   with HTTP 500 and 429, drops connections (before and in the middle of the body),
   answers non-JSON content or a non-JSON body, or answers slower than the client's
   timeout. The run is SIGKILLed partway and resumed; the records must equal a clean
   run's, byte for byte, with nothing duplicated, no torn line, and the API key in no
   file and no log line.
B. Every command that reads model output (``score``, ``evaluate``, ``draw``,
   ``export``; ``audit`` reads no rollouts) on hostile files: lone surrogates, NUL,
   invalid UTF-8 bytes on one line, a 10 MB completion, deeply nested JSON, a
   truncated last line. Malformed records are reported per line, every other line
   gives results, odd model output alone exits 0, and an output file is always
   either the previous one or a complete new one.

Each test prints its figures (run with ``-s`` to see them).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from skimage import data

from grounding_rewards.synthesis.testing_server import (
    StubOpenAIServer,
    fault_plan,
    offline_responder,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-campaign-4f1d9c-never-in-a-file-or-log"
SEED = 1010
FAULT_WEIGHTS = {
    "http_500": 0.07,
    "http_429": 0.05,
    "disconnect": 0.04,
    "drop_mid_body": 0.06,
    "malformed_json": 0.06,
    "bad_body": 0.03,
    "hang": 0.04,
}
TIMEOUT_S = 0.5  # the client's per-attempt limit; "hang" answers after 1.0 s


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(PYTHONPATH=str(ROOT), OPENAI_API_KEY=SECRET, LC_ALL="C.UTF-8")
    env.pop("PYTHONIOENCODING", None)
    return env


def _cli(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "grounding_rewards.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=ROOT,
    )


def _run(*args: str, timeout: float = 120) -> tuple[int, str, str]:
    process = _cli(*args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


# -- A. synthesis under server faults, killed and resumed ---------------------


@pytest.fixture(scope="module")
def server() -> Any:
    with StubOpenAIServer(latency_s=0.01, hang_s=1.0, responder=offline_responder()) as stub:
        yield stub


def _tiles(folder: Path, n: int) -> None:
    folder.mkdir()
    base = Image.fromarray(data.astronaut())
    for k in range(n):
        x, y = (k * 53) % 380, (k * 71) % 380
        base.crop((x, y, x + 112, y + 112)).save(folder / f"tile{k:02d}.png")


def _synth(server: StubOpenAIServer, images: Path, out: Path, config: Path) -> list[str]:
    return [
        "synth",
        str(images),
        "--out",
        str(out),
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--model",
        "stub",
        "--config",
        str(config),
        "--concurrency",
        "3",
        "--shard-size",
        "4",
        "--no-progress",
        "--json",
        *(
            f"--backend-option={option}"
            for option in (
                f"timeout_s={TIMEOUT_S}",
                "backoff_base_s=0.01",
                "backoff_max_s=0.05",
                "max_retries=6",
                "jitter_seed=0",
                "max_concurrency=6",
            )
        ),
    ]


def _record_lines(out: Path) -> list[bytes]:
    lines: list[bytes] = []
    for shard in sorted((out / "records").glob("*.jsonl")):
        content = shard.read_bytes()
        assert not content or content.endswith(b"\n"), f"torn line in {shard}"
        lines += [line for line in content.split(b"\n") if line]
    return lines


def _by_id(lines: list[bytes]) -> dict[str, bytes]:
    records = {json.loads(line)["id"]: line for line in lines}
    assert len(records) == len(lines), "a record was written twice"
    return records


def test_synthesis_under_server_faults_killed_and_resumed_equals_a_clean_run(
    server: StubOpenAIServer, tmp_path: Path
) -> None:
    images = tmp_path / "tiles"
    _tiles(images, 10)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"json_retries": 4}))
    logs: list[str] = []

    server.reset_stats()
    code, stdout, stderr = _run(*_synth(server, images, tmp_path / "clean", config))
    logs += [stdout, stderr]
    assert code == 0, stderr
    clean = _by_id(_record_lines(tmp_path / "clean"))
    assert len(clean) == 10 and json.loads(stdout)["failed"] == 0
    clean_requests = server.stats.requests

    server.reset_stats()
    # Every kind once early (before the kill), then a seeded mix for the rest.
    every_kind = [step for fault in FAULT_WEIGHTS for step in (fault, "ok")]
    server.script(every_kind + fault_plan(SEED, 4 * clean_requests, FAULT_WEIGHTS))
    out = tmp_path / "faulty"
    process = _cli(*_synth(server, images, out, config))
    deadline = time.monotonic() + 60
    while len(_record_lines(out) if (out / "records").exists() else []) < 3:
        assert process.poll() is None, process.communicate()[1].decode()
        assert time.monotonic() < deadline, "no record within 60 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    stdout_b, stderr_b = process.communicate()
    logs += [stdout_b.decode("utf-8", "replace"), stderr_b.decode("utf-8", "replace")]
    assert process.returncode == -signal.SIGKILL
    killed_with = len(_record_lines(out))
    assert 3 <= killed_with < 10
    # A kill inside write(2) leaves a torn last line: make one, the worst case.
    last_shard = sorted((out / "records").glob("*.jsonl"))[-1]
    with open(last_shard, "ab") as handle:
        handle.write(b'{"id": "torn", "status": "ok", "obj')

    code, stdout, stderr = _run(*_synth(server, images, out, config))
    logs += [stdout, stderr]
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["repaired_bytes"] > 0
    assert summary["failed"] == 0 and summary["stage_errors"] == {}, summary
    assert summary["skipped_done"] + summary["written"] == 10

    final = _by_id(_record_lines(out))
    assert final == clean  # record for record, byte for byte
    assert not (out / "failures.jsonl").exists()

    faults = collections.Counter(fault for _, fault in server.stats.arrivals)
    assert server.stats.authorized == server.stats.requests > 0  # the key was sent...
    secret = SECRET.encode()
    for path in [*tmp_path.rglob("*")]:
        if path.is_file():
            assert secret not in path.read_bytes(), f"API key in {path}"
    assert not any(SECRET in log for log in logs)  # ...and never written or logged
    assert "retry" in "".join(logs)  # retries were logged (scrubbed)
    injected = {k: v for k, v in faults.items() if k != "ok"}
    assert set(injected) == set(FAULT_WEIGHTS), injected  # every kind was tried
    print(
        f"\nsynthesis campaign: {sum(injected.values())} faults injected {dict(injected)}, "
        f"{faults['ok']} clean answers; killed after {killed_with} records; "
        f"{len(final)} records compared with the clean run ({clean_requests} requests)"
    )


# -- B. hostile rollouts through every command that reads model output --------

GOOD = "<think>The <obj>cat</obj><bbox>[10, 10, 50, 50]</bbox> sits.</think><answer>A</answer>"
ODD_OUTPUT = {  # well-formed records whose model output is odd: exit 0, a result each
    "surrogate": "<think>\ud800 <obj>c\udfffat</obj><bbox>[10, 10, 50, 50]</bbox></think>"
    "<answer>A\ud800</answer>",
    "nul": "<think>\x00<obj>cat\x00</obj><bbox>[10,\x0010, 50, 50]</bbox></think><answer>\x00A",
    "non_bmp": "<think><obj>\U0001f431 cat</obj><bbox>[10, 10, 50, 50]</bbox></think>"
    "<answer>A \U0001f600</answer>",
    "ten_mb": "<think>" + "<obj>cat</obj><bbox>[1, 2, 3, 4]</bbox> " * 262_144 + "</think>",
    "nested_list": "nested",  # replaced by a 300-deep list below
}


def _record(completion: Any, key: str) -> dict[str, Any]:
    return {
        "id": key,
        "completion": completion,
        "answer": "A",
        "choices": ["cat", "dog"],
        "gt_boxes": [[10, 10, 50, 50]],
        "gt_labels": ["cat"],
        "image_size": [100, 100],
    }


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _odd_lines() -> list[bytes]:
    lines = [json.dumps(_record(GOOD, "good")).encode()]
    for key, text in ODD_OUTPUT.items():
        completion = _nested(300) if key == "nested_list" else text
        lines.append(json.dumps(_record(completion, key)).encode())  # ASCII: "\ud800" escaped
    return lines


def _hostile_lines() -> tuple[list[bytes], dict[int, str]]:
    """The odd lines plus malformed records; returns the lines and line -> what is wrong."""
    lines = _odd_lines()
    bad: dict[int, str] = {}
    invalid = json.dumps(_record("<answer>A</answer>", "bad_utf8")).encode()
    lines.insert(2, invalid.replace(b"<answer>", b"<answer>\xff\xfe\xc3"))
    bad[3] = "expected UTF-8 text"
    depth = 200_000
    lines.insert(4, b'{"completion": ' + b"[" * depth + b"]" * depth + b"}")
    bad[5] = "nested too deeply"
    lines.append(b'{"id": "raw_nul", "completion": "a\x00b"}')  # a raw control byte
    bad[len(lines)] = "invalid JSON"
    lines.append(json.dumps(_record(GOOD, "after")).encode())
    lines.append(json.dumps(_record(GOOD, "torn"))[:40].encode())
    bad[len(lines)] = "truncated last line"
    return lines, bad


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("hostile")
    odd = folder / "odd.jsonl"
    odd.write_bytes(b"\n".join(_odd_lines()) + b"\n")
    lines, bad = _hostile_lines()
    path = folder / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines))  # the last line is torn: no newline
    return {"odd": odd, "hostile": path, "bad": bad, "n_odd": len(_odd_lines())}


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], "temporary left"


def test_evaluate_on_hostile_rollouts(hostile: dict[str, Any], tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text("previous")
    code, stdout, stderr = _run(
        "evaluate", str(hostile["odd"]), "--report", str(report), "--json", "--no-coco"
    )
    assert code == 0, stderr
    assert json.loads(stdout)["rollouts"] == hostile["n_odd"]
    text = report.read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>") and "\\ud800" in text

    code, stdout, stderr = _run(
        "evaluate", str(hostile["hostile"]), "--report", str(report), "--json", "--no-coco"
    )
    assert code == 1, stderr
    assert json.loads(stdout)["rollouts"] == hostile["n_odd"] + 1  # every readable line
    for number, what in hostile["bad"].items():
        assert f"hostile.jsonl:{number}: " in stderr and what in stderr, (number, stderr)
    assert f"{len(hostile['bad'])} malformed record(s) skipped" in stderr
    assert report.read_text(encoding="utf-8").rstrip().endswith("</html>")
    _no_temporaries(tmp_path)


def test_draw_on_hostile_rollouts(hostile: dict[str, Any], tmp_path: Path) -> None:
    overlay = tmp_path / "overlay.png"
    for key in ("surrogate", "nul"):  # labels with a lone surrogate and a NUL
        code, _, stderr = _run("draw", str(hostile["odd"]), "--id", key, "-o", str(overlay))
        assert code == 0, (key, stderr)
        with Image.open(overlay) as image:
            image.verify()
    # After the malformed lines: they are reported, the rollout is drawn.
    code, stdout, stderr = _run(
        "draw", str(hostile["hostile"]), "--id", "after", "-o", str(overlay)
    )
    assert code == 1, stderr
    assert "hostile.jsonl:3: expected UTF-8" in stderr and "rollout" in stdout
    with Image.open(overlay) as image:
        image.verify()
    _no_temporaries(tmp_path)


def test_score_on_odd_model_output(hostile: dict[str, Any]) -> None:
    for extra in ((), ("--json",)):
        code, stdout, stderr = _run("score", str(hostile["odd"]), *extra)
        assert code == 0, stderr
    samples = json.loads(stdout)["samples"]
    assert [s["id"] for s in samples] == ["good", *ODD_OUTPUT]
    assert samples[0]["total"] > 0 and all(0 <= s["format"] <= 1 for s in samples)


def test_score_on_malformed_records_reports_each_line_and_scores_the_rest(
    hostile: dict[str, Any],
) -> None:
    code, stdout, stderr = _run("score", str(hostile["hostile"]), "--json")
    assert code == 1, stderr
    assert len(json.loads(stdout)["samples"]) == hostile["n_odd"] + 1
    for number in hostile["bad"]:
        assert f"hostile.jsonl:{number}: " in stderr


def _qa(key: str, question: str, image: str) -> dict[str, Any]:
    return {
        "id": key,
        "image": image,
        "question": question,
        "choices": ["a cat", "a dog \ud800"],
        "answer": "A",
        "objects": [{"label": "cat\x00", "box": [10, 10, 50, 50]}],
    }


def test_export_on_hostile_records(tmp_path: Path) -> None:
    Image.new("RGB", (100, 100), (90, 120, 30)).save(tmp_path / "img.png")
    lines = [
        json.dumps(_qa("plain", "Which animal?", "img.png")),
        json.dumps(_qa("surrogate", "Which \ud800 animal?", "img.png")),
        json.dumps(_qa("non_bmp", "Which \U0001f431?", "img.png")),
        json.dumps(_qa("big", "Which? " + "x" * 10_000_000, "img.png")),
    ]
    odd = tmp_path / "odd.jsonl"
    odd.write_text("\n".join(lines) + "\n")
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_bytes(
        b"\n".join(
            [
                *(line.encode() for line in lines),
                json.dumps(_qa("bad_utf8", "Which?", "img.png"))
                .encode()
                .replace(b"Which", b"\xff"),
                b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                json.dumps(_qa("plain", "Again?", "img.png")).encode(),  # a duplicate id
                json.dumps(_qa("torn", "Which?", "img.png")).encode()[:30],
            ]
        )
    )
    parquet = tmp_path / "out" / "train.parquet"
    parquet.parent.mkdir()
    parquet.write_bytes(b"previous")
    common = ["--coords", "pixel"]
    code, _, stderr = _run("export", str(odd), "--to", "verl", "--out", str(parquet), *common)
    assert code == 0, stderr
    import pyarrow.parquet as pq

    table = pq.read_table(parquet)
    assert table.num_rows == 4
    assert "\ufffd" in table.column("prompt").to_pylist()[1][0]["content"]

    code, _, stderr = _run("export", str(hostile), "--to", "verl", "--out", str(parquet), *common)
    assert code == 1, stderr
    for number, what in (
        (5, "expected UTF-8"),
        (6, "nested too deeply"),
        (7, "unique id"),
        (8, "truncated last line"),
    ):
        assert f"hostile.jsonl:{number}: " in stderr and what in stderr, (number, stderr)
    assert pq.read_table(parquet).num_rows == 4

    # A failure while writing (an image gone) leaves the previous file as it was.
    before = parquet.read_bytes()
    (tmp_path / "img.png").rename(tmp_path / "gone.png")
    code, _, stderr = _run("export", str(odd), "--to", "verl", "--out", str(parquet), *common)
    assert code == 2 and "readable image" in stderr
    assert parquet.read_bytes() == before
    _no_temporaries(parquet.parent)
    (tmp_path / "gone.png").rename(tmp_path / "img.png")

    dataset = tmp_path / "out" / "trl"
    code, _, stderr = _run("export", str(hostile), "--to", "trl", "--out", str(dataset), *common)
    assert code == 1, stderr
    import datasets

    loaded = datasets.load_from_disk(str(dataset))
    assert len(loaded) == 4 and "\ufffd" in loaded[1]["choices"][1]
    _no_temporaries(parquet.parent)
