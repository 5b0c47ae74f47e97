"""``grounding-rewards audit`` as a user runs it: a subprocess, in a CI job."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def audit(*args, cwd=ROOT):
    """Run the console script when installed next to this Python, else ``python -m``."""
    script = Path(sys.executable).with_name("grounding-rewards")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "grounding_rewards.cli"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [*command, "audit", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_python_dash_m_on_our_reward_passes_and_writes_json(tmp_path):
    path = tmp_path / "audit.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grounding_rewards.cli",
            "audit",
            "grounding_rewards:grounding_reward",
            "--json",
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all passed" in result.stdout
    data = json.loads(path.read_text())
    assert data["passed"] is True and data["failed"] == []
    assert {c["name"] for c in data["checks"]} >= {
        "whole_image_box",
        "repeated_box",
        "random_boxes",
        "megabyte_completion",
        "spam_bound",
        "span_order",
        "finite_and_in_range",
        "fuzz",
    }


def test_a_naive_reward_fails_the_gate():
    result = audit("grounding_rewards.audit.naive:max_iou_precision", "--components", "bbox")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {
        line.split()[0]: line.split()[-1] for line in result.stdout.splitlines() if line.strip()
    }
    assert lines["repeated_box"] == "GAINS"
    assert lines["spam_bound"] == "BROKEN"
    assert lines["span_order"] == "ok"


def test_a_users_reward_file_under_each_contract(tmp_path):
    (tmp_path / "user_rewards.py").write_text(
        textwrap.dedent("""
        import re

        from grounding_rewards import bbox_reward, grounding_reward

        def plain(completion, gt_boxes, image_size=None):
            return bbox_reward(completion, gt_boxes, image_size=image_size)

        def trl_reward(prompts, completions, gt_boxes, image_size, **kwargs):
            rows = zip(completions, gt_boxes, image_size)
            return [bbox_reward(c, b, image_size=s) for c, b, s in rows]

        def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
            r = grounding_reward(solution_str, **ground_truth)
            return {"score": r.total, "bbox": r.bbox}

        def greedy_answer(completion, answer, **kwargs):
            # any option letter anywhere counts: "A B C D" always contains the right one
            letters = re.findall(r"\\b[A-D]\\b", completion)
            return float(bool(letters) and answer in letters)
    """)
    )
    path = tmp_path / "user_rewards.py"
    assert audit(f"{path}:plain", "--components", "bbox", cwd=tmp_path).returncode == 0
    assert (
        audit(
            f"{path}:trl_reward", "--contract", "trl", "--components", "bbox", cwd=tmp_path
        ).returncode
        == 0
    )
    assert audit(f"{path}:compute_score", "--contract", "verl", cwd=tmp_path).returncode == 0
    # And as a module name from the working directory, like `python -m`.
    result = audit("user_rewards:greedy_answer", "--components", "accuracy", cwd=tmp_path)
    assert result.returncode == 1
    assert "every_option" in result.stdout.splitlines()[-1]


def test_usage_error_exits_two():
    result = audit("grounding_rewards:no_such_reward")
    assert result.returncode == 2
    assert "has no attribute 'no_such_reward'" in result.stderr


def test_console_script_is_installed_when_the_package_is():
    script = shutil.which("grounding-rewards", path=str(Path(sys.executable).parent))
    if script is None:
        # Not installed in this environment (a source checkout): python -m covers it above.
        result = subprocess.run(
            [sys.executable, "-m", "grounding_rewards.cli", "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    else:
        result = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "audit" in result.stdout
