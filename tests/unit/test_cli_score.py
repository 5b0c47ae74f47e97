import json
import subprocess
import sys
from pathlib import Path

import pytest

from grounding_rewards.cli import COMMANDS, build_parser, main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rollouts.jsonl"


def test_every_command_is_registered() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert sorted(subparsers.choices) == sorted(COMMANDS)


def test_score_prints_a_row_per_sample_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(EXAMPLES)]) == 0
    out = capsys.readouterr().out
    lines = EXAMPLES.read_text().splitlines()
    for line in lines:
        assert json.loads(line)["id"] in out
    assert f"{len(lines)} samples" in out
    assert "box_out_of_image" in out  # the wrong-coordinate-space example is flagged


def test_score_json_matches_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    from grounding_rewards import grounding_reward

    assert main(["score", str(EXAMPLES), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    records = [json.loads(line) for line in EXAMPLES.read_text().splitlines()]
    assert result["summary"]["samples"] == len(records)
    for row, record in zip(result["samples"], records, strict=True):
        expected = grounding_reward(
            record["completion"],
            answer=record["answer"],
            gt_boxes=record["gt_boxes"],
            gt_labels=record["gt_labels"],
            choices=record["choices"],
            image_size=record["image_size"],
        )
        assert row["total"] == expected.total
        assert row["bbox"] == expected.bbox
    by_id = {row["id"]: row for row in result["samples"]}
    # The examples exist to show these behaviours; keep them honest.
    assert by_id["correct"]["total"] > 2.9
    assert by_id["box-spam"]["bbox"] < 0.15
    assert by_id["duplicate-box"]["bbox"] < 0.34
    assert by_id["wrong-coordinate-space"]["format"] == 0.0
    assert by_id["several-options"]["accuracy"] == 0.0
    assert by_id["empty-answer"]["accuracy"] == 0.0
    assert by_id["no-grounding-truth"]["bbox"] is None
    means = result["summary"]
    assert means["n_bbox"] == len(records) - 1  # the sample without boxes is left out


def test_config_flags_change_the_score(capsys: pytest.CaptureFixture[str]) -> None:
    main(["score", str(EXAMPLES), "--json", "--coords", "norm1000"])
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["samples"]}
    assert rows["wrong-coordinate-space"]["bbox"] > 0.9  # right space: the boxes now match


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"completion": "x"}\nnot json\n', "rollouts.jsonl:2: expected a JSON object"),
        ("[1, 2]\n", "rollouts.jsonl:1: expected a JSON object, got list"),
        ('{"answer": "A"}\n', "rollouts.jsonl:1: expected a 'completion' key"),
        (
            '{"completion": "x", "gt_boxes": [[5, 5, 1, 1]]}\n',
            "rollouts.jsonl:1: gt_boxes[0]: expected x1 < x2 and y1 < y2",
        ),
    ],
)
def test_a_bad_line_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    # The bad line is reported and skipped; every other line is scored; exit status 1.
    path = tmp_path / "rollouts.jsonl"
    path.write_text(content + '{"completion": "<answer>A</answer>", "answer": "A"}\n')
    assert main(["score", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    assert message in captured.err
    rows = json.loads(captured.out)["samples"]
    assert [row["accuracy"] for row in rows][-1] == 1.0


def test_a_bad_config_value_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(EXAMPLES), "--length-penalty", "-1"]) == 2
    assert "RewardConfig.length_penalty" in capsys.readouterr().err


def test_progress_bar_draws_when_forced(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["score", str(EXAMPLES), "--summary-only", "--progress"]) == 0
    assert "scoring [" in capsys.readouterr().err


def test_console_entry_point_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grounding_rewards", "score", str(EXAMPLES), "--summary-only"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "component" in done.stdout
