"""The whole learning chain, a few steps of each stage (``integrations/learn/run.py --quick``).

Toy world -> synthesis pipeline (offline backend, oracle detector) -> TRL export -> SFT of
a tiny Qwen2.5-VL -> GRPO with our rewards and with the naive box reward -> held-out
evaluation through ``grounding-rewards evaluate``. The run is far too short to learn
anything; this checks that every file is written, every number is finite and in range,
and the final HTML report opens in a real browser. The long run is a benchmark
(``./dev learn``, see docs/learning.md), not a test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from _tiny_qwen import ROOT, load_module
from test_report_browser import run_chromium

LEARN = ROOT / "integrations" / "learn" / "run.py"
METRICS = (
    "miou",
    "acc50",
    "answer_accuracy",
    "format_validity",
    "boxes_per_completion",
    "area_ratio",
    "precision50",
    "bbox_reward",
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    import torch

    out = tmp_path_factory.mktemp("learn")
    driver = load_module("learn_run", LEARN)
    threads = torch.get_num_threads()  # the driver pins one thread; give it back after
    try:
        assert driver.main(["--quick", "--out", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)
    return out, json.loads((out / "summary.json").read_text())


def test_one_run_per_reward_with_every_metric(run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = run
    assert [(r["reward"], r["seed"]) for r in summary["runs"]] == [("ours", 0), ("naive", 0)]
    for entry in summary["runs"]:
        for phase in ("before", "after"):
            metrics = entry[phase]
            for key in METRICS:
                value = metrics[key]
                # area_ratio is None when no predicted box overlaps a true one
                assert value is None or math.isfinite(value), (phase, key, value)
            for key in ("miou", "acc50", "answer_accuracy", "format_validity"):
                assert 0.0 <= metrics[key] <= 1.0, (phase, key)
            # precision is None when the model wrote no box
            assert metrics["precision50"] is None or 0.0 <= metrics["precision50"] <= 1.0
        assert entry["before"] == summary["runs"][0]["before"]  # both start from one SFT


def test_curves_hold_every_step(run: tuple[Path, dict[str, Any]]) -> None:
    _, summary = run
    for entry in summary["runs"]:
        curves = entry["curves"]
        assert len(curves["reward"]) == 2  # --quick runs 2 GRPO steps
        for name in ("format_reward", "option_reward", "bbox_reward", "naive_bbox_reward"):
            assert all(v is not None and 0.0 <= v <= 1.0 for v in curves[name]), name


def test_files_written(run: tuple[Path, dict[str, Any]]) -> None:
    from PIL import Image

    out, summary = run
    with Image.open(out / "curves.png") as image:
        assert image.size[0] > image.size[1] > 100
    for entry in summary["runs"]:
        folder = out / f"seed-{entry['seed']}" / entry["reward"]
        lines = (folder / "rollouts.jsonl").read_text().splitlines()
        assert len(lines) == 12  # --quick holds out 12 images
        assert json.loads((folder / "metrics.json").read_text())["rollouts"] == 12
    assert (out / "data" / "trl-grpo" / "dataset_info.json").exists()


def test_report_opens_in_chromium(run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    out, _ = run
    report = out / "seed-0" / "ours" / "report.html"
    dom = run_chromium(["--dump-dom", report.as_uri()], tmp_path, "learn").stdout
    assert "<title>grounding-rewards evaluation</title>" in dom
    assert "12" in dom


@pytest.mark.parametrize(
    "path",
    [
        ROOT / "integrations" / "learn" / "world.py",
        ROOT / "integrations" / "learn" / "data.py",
        ROOT / "integrations" / "learn" / "plot.py",
        ROOT / "integrations" / "learn" / "table.py",
        ROOT / "integrations" / "gpu_check.py",
    ],
    ids=lambda p: p.name,
)
def test_recipe_doctests(path: Path) -> None:
    import doctest
    import sys

    sys.path.insert(0, str(path.parent))  # world, plot import their neighbours by name
    module = load_module(f"learn_doctest_{path.stem}", path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
