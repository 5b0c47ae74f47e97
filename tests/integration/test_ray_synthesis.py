"""The synthesis pipeline as a Ray Data job on a local Ray (2 CPUs): same output as the runner.

One Ray cluster for the module (starting Ray takes seconds). Real images from
scikit-image, the deterministic offline model (in the actors, and behind the stub
HTTP server on 127.0.0.1 for the HTTP test), a real face detector on real pixels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# CI installs the ray and synthesis extras: a missing package fails here, never skips.
import aiohttp  # noqa: F401
import pytest
import ray
import ray.data
from skimage import data

from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.offline import OfflineBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline, encode_array
from grounding_rewards.synthesis.ray_job import run_ray_job
from grounding_rewards.synthesis.runner import (
    iter_image_paths,
    run_synthesis_sync,
)
from grounding_rewards.synthesis.store import FAILURES_FILE, iter_records
from grounding_rewards.synthesis.testing_server import (
    StubOpenAIServer,
    offline_responder,
)

DETECTORS = ["vlm", "face-cascade"]
OFFLINE = {"hallucinate": ["mention"]}
CONFIG = SynthesisConfig(seed=7)
JOB: dict[str, Any] = {"num_actors": 2, "concurrency": 3, "num_cpus_per_actor": 0.5}


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        (folder / f"{name}.png").write_bytes(encode_array(getattr(data, name)()))
    # The same bytes twice (one record), and a file that is no image (a failure).
    (folder / "z_astronaut_copy.png").write_bytes((folder / "astronaut.png").read_bytes())
    (folder / "zz_broken.png").write_bytes(b"not an image at all")
    return folder


def records(out: Path) -> list[dict[str, Any]]:
    return sorted((r.model_dump(mode="json") for r in iter_records(out)), key=lambda r: r["id"])


def record_lines(out: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (out / "records").glob("*.jsonl"))


def failures(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / FAILURES_FILE).read_text().splitlines()]
    for row in rows:
        del row["run_id"], row["time"]
    return sorted(rows, key=lambda r: r["id"])


def counts(summary: Any) -> dict[str, Any]:
    values = summary.as_dict()
    del values["elapsed_s"], values["records_per_s"]
    return dict(values)


def test_ray_job_writes_what_the_local_runner_writes_and_resumes(
    ray_cluster: None, images: Path, tmp_path: Path
) -> None:
    local_out, ray_out = tmp_path / "local", tmp_path / "ray"
    pipeline = Pipeline(OfflineBackend(**OFFLINE), config=CONFIG, detectors=DETECTORS)
    local = run_synthesis_sync(
        list(iter_image_paths([images])), local_out, pipeline, progress=False
    )
    assert local.written == 4 and local.failed == 1 and local.skipped_duplicate == 1

    summary = run_ray_job(
        [images],
        ray_out,
        CONFIG,
        backend="offline",
        backend_options=OFFLINE,
        detectors=DETECTORS,
        **JOB,
    )
    assert counts(summary) == counts(local)
    expected = records(local_out)
    assert records(ray_out) == expected
    assert failures(ray_out) == failures(local_out)
    assert summary.hallucinations_caught > 0  # the injected "wall" was caught on real pixels
    assert any(o["detector"] == "face-cascade" for r in expected for o in r["objects"])
    assert json.loads((ray_out / "manifest.json").read_text()) == json.loads(
        (local_out / "manifest.json").read_text()
    )

    # A rerun resumes: nothing is made or written twice; the broken file is retried.
    again = run_ray_job(
        [images],
        ray_out,
        CONFIG,
        backend="offline",
        backend_options=OFFLINE,
        detectors=DETECTORS,
        **JOB,
    )
    assert (again.written, again.skipped_done, again.failed) == (0, 5, 1)
    assert record_lines(ray_out) == 4
    assert records(ray_out) == expected
    # ...and the local runner resumes the Ray job's directory just as well.
    after = run_synthesis_sync(list(iter_image_paths([images])), ray_out, pipeline, progress=False)
    assert (after.written, after.skipped_done) == (0, 5)


def test_ray_job_through_the_http_backend_matches_the_offline_model(
    ray_cluster: None, images: Path, tmp_path: Path
) -> None:
    # The actors talk HTTP to a stub server on 127.0.0.1 that answers as the offline
    # model; the records must be the offline ones but for provenance and ids.
    offline_out, http_out = tmp_path / "offline", tmp_path / "http"
    pipeline = Pipeline(OfflineBackend(**OFFLINE), config=CONFIG, detectors=DETECTORS)
    run_synthesis_sync(list(iter_image_paths([images])), offline_out, pipeline, progress=False)
    with StubOpenAIServer(latency_s=0.01, responder=offline_responder(**OFFLINE)) as server:
        summary = run_ray_job(
            [images],
            http_out,
            CONFIG,
            backend="openai",
            backend_options={
                "base_url": server.base_url,
                "model": "offline-v1",
                "max_concurrency": 4,
            },
            detectors=DETECTORS,
            **JOB,
        )
        served = server.stats.requests
    assert summary.written == 4 and summary.failed == 1
    assert served >= 4 * 4  # caption, grounding, branch captions and verification per image

    def content(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # Distractors are drawn and shuffled with a seed from the record id, which
        # hashes the model names: compare each question by its correct option's text.
        out = []
        for row in rows:
            row = {k: v for k, v in row.items() if k not in ("id", "provenance")}
            row["qa"] = [
                (
                    q["question"],
                    len(q["choices"]),
                    q["choices"][ord(q["answer"]) - 65],
                    q["rationale"].split("<answer>")[0],
                    q["gt_boxes"],
                )
                for q in row["qa"]
            ]
            out.append(row)
        return sorted(out, key=lambda r: r["image"]["sha256"])

    http_records = records(http_out)
    assert content(http_records) == content(records(offline_out))
    assert {r["provenance"]["models"]["captioner"] for r in http_records} == {"openai:offline-v1"}


def test_ray_job_refuses_an_actor_pool_that_would_starve_the_load_step(
    ray_cluster: None, images: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="num_actors x num_cpus_per_actor: expected at most 2"):
        run_ray_job([images], tmp_path / "out", num_actors=2, num_cpus_per_actor=1.0)


def test_job_entry_point_hands_cli_flags_to_the_job(
    monkeypatch: pytest.MonkeyPatch,
    images: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What `ray job submit -- python -m grounding_rewards.synthesis.ray_job ...` runs.
    from grounding_rewards.synthesis import ray_job
    from grounding_rewards.synthesis.runner import RunSummary

    # Flags win; what no flag sets comes from the environment.
    for name, value in (
        ("GR_RAY_ACTORS", "2"),
        ("GR_RAY_CPUS_PER_ACTOR", "0.75"),
        ("GR_RAY_GPUS_PER_ACTOR", "0"),
    ):
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    def fake_job(images_: Any, out: Any, config: Any, **options: Any) -> RunSummary:
        seen.update(images=images_, out=out, config=config, **options)
        return RunSummary(written=3)

    monkeypatch.setattr(ray_job, "run_ray_job", fake_job)
    code = ray_job.main(
        [
            str(images),
            "--out",
            str(tmp_path / "out"),
            "--backend",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--model",
            "teacher",
            "--backend-option",
            "max_concurrency=32",
            "--verifier-backend",
            "openai",
            "--verifier-option",
            'extra_body={"chat_template_kwargs": {"enable_thinking": false}}',
            "--seed",
            "5",
            "--concurrency",
            "12",
            "--ray-actors",
            "6",
            "--ray-gpus-per-actor",
            "0.5",
            "--json",
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["written"] == 3
    assert seen["backend"] == "openai"
    assert seen["backend_options"] == {
        "max_concurrency": 32,
        "model": "teacher",
        "base_url": "http://127.0.0.1:9/v1",
    }
    assert seen["verifier_options"] == {
        "extra_body": {"chat_template_kwargs": {"enable_thinking": False}}
    }
    assert seen["config"].seed == 5
    assert (seen["num_actors"], seen["concurrency"]) == (6, 12)
    assert (seen["num_cpus_per_actor"], seen["num_gpus_per_actor"]) == (0.75, 0.5)


def test_bad_job_options_raise_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="num_actors: expected an integer >= 1, got 0"):
        run_ray_job([str(tmp_path)], tmp_path / "out", num_actors=0)
