from __future__ import annotations

import json
import sys
import types

import pytest
from PIL import Image
from skimage import data

from grounding_rewards.cli import main
from grounding_rewards.cli.synth import parse_options
from grounding_rewards.synthesis.store import iter_records


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(data.astronaut()).resize((256, 256)).save(images / "astronaut.png")
    Image.fromarray(data.coffee()).resize((200, 133)).save(images / "coffee.jpg")
    (images / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return images


def test_synth_cli_end_to_end_and_resume(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    argv = [
        "synth",
        str(folder),
        "--out",
        str(out),
        "--detector",
        "face-cascade,vlm",
        "--no-progress",
        "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["written"], summary["failed"]) == (2, 1)
    assert summary["failures_by_reason"] == {"image_unreadable": 1}
    records = list(iter_records(out))
    assert sorted(r.image.source.rsplit("/", 1)[-1] for r in records) == [
        "astronaut.png",
        "coffee.jpg",
    ]
    assert all(r.qa for r in records)
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["written"], again["skipped_done"], again["failed"]) == (0, 2, 1)
    assert len(list(iter_records(out))) == 2


def test_synth_cli_text_summary_and_backend_options(folder, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "synth",
            str(folder / "astronaut.png"),
            "--out",
            str(out),
            "--detector",
            "face-cascade",
            "--backend-option",
            'hallucinate=["mention"]',
            "--no-progress",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "records: 1 written" in text and "hallucinations caught" in text
    (record,) = iter_records(out)
    assert record.stats.hallucinations_caught >= 1
    assert all("wall" not in (o.branch_caption or "") for o in record.objects)


def test_synth_cli_config_file_seed_and_no_verify(folder, tmp_path, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"n_choices": 3, "qa_kinds": ["counting"]}))
    out = tmp_path / "out"
    assert (
        main(
            [
                "synth",
                str(folder / "coffee.jpg"),
                "--out",
                str(out),
                "--config",
                str(config),
                "--seed",
                "7",
                "--no-verify",
                "--no-progress",
            ]
        )
        == 0
    )
    (record,) = iter_records(out)
    assert record.provenance.seed == 7 and record.provenance.config["verify"] is False
    assert {q.kind for q in record.qa} == {"counting"}
    assert all(len(q.choices) == 3 for q in record.qa)


def test_synth_cli_errors_are_one_clear_line(folder, tmp_path, capsys) -> None:
    assert main(["synth", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "expected a directory, an image" in capsys.readouterr().err
    assert main(["synth", str(folder), "--out", str(tmp_path / "o"), "--detector", "yolo"]) == 2
    assert "got 'yolo'" in capsys.readouterr().err
    assert (
        main(["synth", str(folder), "--out", str(tmp_path / "o"), "--backend-option", "novalue"])
        == 2
    )
    assert "expected KEY=VALUE" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"crop_margin": -3}')
    assert main(["synth", str(folder), "--out", str(tmp_path / "o"), "--config", str(bad)]) == 2
    assert "crop_margin: expected a number >= 0" in capsys.readouterr().err


def test_synth_cli_ray_flag_delegates_to_the_ray_job(folder, tmp_path, monkeypatch) -> None:
    seen = {}
    fake = types.ModuleType("grounding_rewards.synthesis.ray_job")

    def run_cli(args) -> int:
        seen["args"] = args
        return 0

    fake.run_cli = run_cli  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "grounding_rewards.synthesis.ray_job", fake)
    assert (
        main(
            [
                "synth",
                str(folder),
                "--out",
                str(tmp_path / "o"),
                "--ray",
                "--model",
                "m",
                "--detector",
                "vlm,face-cascade",
                "--ray-actors",
                "3",
            ]
        )
        == 0
    )
    args = seen["args"]
    assert args.detectors == ["vlm", "face-cascade"]
    assert args.backend_options == {"model": "m"}
    assert args.synthesis_config.seed == 0
    assert (args.ray_actors, args.ray_cpus_per_actor, args.ray_gpus_per_actor) == (3, None, None)
    assert not (tmp_path / "o").exists()  # the local runner did not run


def test_parse_options() -> None:
    assert parse_options(["a=1", "b=x", "c-d=[1]", "e="], "--o") == {
        "a": 1,
        "b": "x",
        "c_d": [1],
        "e": "",
    }
