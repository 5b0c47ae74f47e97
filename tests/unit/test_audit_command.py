"""``grounding-rewards audit``: exit codes, options, table and JSON (in-process)."""

import json
from pathlib import Path

import pytest

from grounding_rewards.cli import main


def run(capsys, *argv):
    code = main(["audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_our_reward_passes_with_exit_zero(capsys):
    code, out, _ = run(capsys, "grounding_rewards:grounding_reward", "--fuzz", "20")
    assert code == 0
    assert out.splitlines()[0].startswith("audit of grounding_rewards:grounding_reward")
    assert "all passed" in out.splitlines()[-1]


def test_a_naive_reward_fails_with_exit_one(capsys):
    code, out, _ = run(
        capsys,
        "grounding_rewards.audit.naive:substring_answer",
        "--components",
        "accuracy",
        "--fuzz",
        "0",
    )
    assert code == 1
    assert "empty_answer" in out and "GAINS" in out
    assert "3 failed" in out.splitlines()[-1]


def test_json_file_and_quiet(capsys, tmp_path):
    path = tmp_path / "audit.json"
    code, out, _ = run(
        capsys,
        "grounding_rewards.audit.naive:first_box_iou",
        "--components",
        "bbox",
        "--fuzz",
        "0",
        "--json",
        str(path),
        "--quiet",
    )
    assert code == 1 and out == ""
    data = json.loads(path.read_text())
    assert data["passed"] is False and "span_order" in data["failed"]
    assert data["target"] == "grounding_rewards.audit.naive:first_box_iou"
    assert data["components"] == ["bbox"]


def test_a_failed_json_write_keeps_the_previous_report(capsys, tmp_path, monkeypatch):
    path = tmp_path / "audit.json"
    path.write_text("the previous report", encoding="utf-8")
    real_write_bytes = Path.write_bytes

    def disk_full(self, data):  # half the bytes land, then ENOSPC
        real_write_bytes(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_full)
    argv = ("grounding_rewards:option_reward", "--components", "accuracy", "--fuzz", "0")
    code, _, err = run(capsys, *argv, "--json", str(path), "--quiet")
    monkeypatch.undo()
    assert code == 2 and "No space left" in err
    assert path.read_text(encoding="utf-8") == "the previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["audit.json"]  # no temporary left


def test_json_to_stdout_moves_the_table_to_stderr(capsys):
    code, out, err = run(
        capsys,
        "grounding_rewards:option_reward",
        "--components",
        "accuracy",
        "--fuzz",
        "0",
        "--json",
        "-",
    )
    assert code == 0
    assert json.loads(out)["passed"] is True
    assert "all passed" in err


def test_coords_and_config(capsys):
    # The reward reads pixels but the audit is told 0-1000: no signal, with a hint.
    code, out, _ = run(
        capsys,
        "grounding_rewards:bbox_reward",
        "--components",
        "bbox",
        "--coords",
        "norm1000",
        "--fuzz",
        "0",
    )
    assert code == 1
    assert "NO SIGNAL" in out and "try --coords pixel" in out
    # With the config passed to the reward too, it passes.
    code, out, _ = run(
        capsys,
        "grounding_rewards:grounding_reward",
        "--config",
        '{"coords": "norm1000", "similarity": "giou"}',
        "--fuzz",
        "0",
    )
    assert code == 0, out


def test_config_from_a_file_and_coords_override(capsys, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"coords": "norm1000", "think_tag": "reasoning"}')
    code, out, _ = run(
        capsys,
        "grounding_rewards:grounding_reward",
        "--config",
        str(path),
        "--coords",
        "norm1",
        "--fuzz",
        "0",
    )
    assert code == 0, out
    assert "coords norm1," in out.splitlines()[0]


def test_trl_and_verl_contracts(capsys):
    code, out, _ = run(
        capsys, "grounding_rewards.trl:composite_reward_func()", "--contract", "trl", "--fuzz", "0"
    )
    assert code == 0, out
    assert "batch_consistency" in out
    code, out, _ = run(
        capsys,
        "grounding_rewards.verl:compute_score",
        "--contract",
        "verl",
        "--reward-kwargs",
        '{"coords": "norm1000"}',
        "--coords",
        "norm1000",
        "--fuzz",
        "0",
    )
    assert code == 0, out


def test_range_option(capsys):
    code, out, _ = run(
        capsys, "grounding_rewards:grounding_reward", "--range", "0", "1", "--fuzz", "0"
    )
    assert code == 1 and "finite_and_in_range" in out.splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nope"], "expected MODULE:FUNCTION"),
        (["grounding_rewards:bbox_reward", "--components", "boxes"], "--components: expected"),
        (["grounding_rewards:bbox_reward", "--config", '{"coords": "km"}'], "RewardConfig.coords"),
        (
            ["grounding_rewards:bbox_reward", "--config", "[1, 2]"],
            "expected JSON text or a JSON file",
        ),
        (["grounding_rewards:bbox_reward", "--config", "{oops"], "--config: expected JSON"),
        (["grounding_rewards:bbox_reward", "--range", "1", "0"], "expected LOW < HIGH"),
        (["grounding_rewards:bbox_reward", "--fuzz", "-1"], "expected --fuzz >= 0"),
        (["grounding_rewards:bbox_reward", "--contract", "trl"], "scores under --contract plain"),
    ],
)
def test_usage_errors_exit_two_with_one_clear_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("grounding-rewards audit: error:") and message in err
    assert len(err.strip().splitlines()) == 1


def test_help_lists_the_verdicts(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "NOT PENALIZED" in out and "exit status: 0 all checks pass, 1 some check failed" in out
