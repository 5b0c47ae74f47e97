"""The GPU path, checked on a CUDA machine (skipped without one).

``integrations/gpu_check.py`` asserts what it measures (finite losses, rewards in range,
the rewards' share of a step below a bound) and exits non-zero otherwise; the learning
driver runs its quick chain with the model on the GPU. Nothing downloads: both build
their models from configs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _tiny_qwen import ROOT

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_gpu_check_passes_its_own_checks(tmp_path: Path) -> None:
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "integrations" / "gpu_check.py"), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["checks"] == {"passed": True, "failures": []}
    assert result["device"] != "cpu (dry run)"


def test_learn_quick_chain_on_the_gpu(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "integrations" / "learn" / "run.py"),
            "--quick",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [r["reward"] for r in summary["runs"]] == ["ours", "naive"]
