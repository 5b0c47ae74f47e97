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


def test_rewards_option_selects_and_orders_the_runs() -> None:
    driver = load_module("learn_run_args", LEARN)
    assert driver.parse_args(["--rewards", "naive"]).rewards == ("naive",)
    assert driver.parse_args([]).rewards == ("ours", "naive")
    with pytest.raises(SystemExit):
        driver.parse_args(["--rewards", "ours,greedy"])
    weights = driver.parse_args(["--reward-weights", "1,0.5,2"]).reward_weights
    assert dict(weights) == {"format": 1.0, "accuracy": 0.5, "bbox": 2.0}
    with pytest.raises(SystemExit):
        driver.parse_args(["--reward-weights", "1,2"])


def test_sft_guess_adds_one_grid_box_inside_the_image() -> None:
    import re
    import sys

    sys.path.insert(0, str(LEARN.parent))
    data = load_module("learn_data_guess", LEARN.parent / "data.py")
    text = "<think>The <obj>square</obj><bbox>[14, 28, 42, 56]</bbox> is blue.</think>"
    guessed = [data.guess(text, f"q{i}", share=0.5) for i in range(400)]
    changed = [g for g in guessed if g != text]
    assert 120 < len(changed) < 280  # about half, seeded by the key
    places = set()
    for g in changed:
        boxes = re.findall(r"<obj>square</obj><bbox>\[(\d+), (\d+), (\d+), (\d+)\]</bbox>", g)
        assert len(boxes) == 2 and boxes[0] == ("14", "28", "42", "56")
        x1, y1, x2, y2 = map(int, boxes[1])
        assert x1 % 14 == y1 % 14 == 0 and x2 - x1 == y2 - y1 == 28 and x2 <= 112 >= y2
        places.add((x1, y1))
    assert len(places) > 30  # spread over the 7 x 7 places
    assert [data.guess(text, f"q{i}", share=0.5) for i in range(400)] == guessed
