"""``evaluate`` on zoom trajectories: the zoom section (table, JSON, report) by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from grounding_rewards.cli import main

TRUTH = {
    "answer": "A",
    "choices": ["red", "blue"],
    "gt_boxes": [[100, 100, 200, 150]],
    "gt_labels": ["sign"],
    "image_size": [640, 480],
    "image": "a.png",
}
CALL = {"name": "image_zoom_in_tool", "arguments": json.dumps({"bbox_2d": [85, 92, 215, 158]})}
ROLLOUTS = [
    # 1: a chat trajectory (function calling) that zooms on the evidence, answers right
    {
        "id": "chat",
        "messages": [
            {"role": "user", "content": "<image>Which colour is the sign?"},
            {"role": "assistant", "content": "", "tool_calls": [{"function": CALL}]},
            {"role": "tool", "content": "<image>"},
            {"role": "assistant", "content": "<think>red</think><answer>A</answer>"},
        ],
    },
    # 2: one text, a DeepEyes call that misses the evidence, answers wrong
    {
        "id": "miss",
        "completion": '<tool_call>{"name": "image_zoom_in_tool", "arguments": '
        '{"bbox_2d": [400, 300, 500, 400]}}</tool_call><answer>B</answer>',
    },
    # 3: no zoom, answers right
    {"id": "plain", "completion": "<think>red</think><answer>A</answer>"},
]


def _write(tmp_path: Path) -> Path:
    Image.new("RGB", (640, 480), (200, 30, 30)).save(tmp_path / "a.png")
    path = tmp_path / "rollouts.jsonl"
    lines = (json.dumps({**TRUTH, **rollout}) + "\n" for rollout in ROLLOUTS)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_zoom_metrics_through_the_cli(tmp_path: Path, capsys: Any) -> None:
    path = _write(tmp_path)
    assert main(["evaluate", str(path), "--json", "--no-coco"]) == 0
    zoom = json.loads(capsys.readouterr().out)["zoom"]
    assert zoom["zoom_precision"] == 1 / 2  # 2 valid crops, 1 holds the evidence
    assert zoom["zoom_recall"] == 1 / 3  # 1 of 3 evidence boxes (one per rollout) held
    assert zoom["calls_per_answer"] == 2 / 3  # 2 calls, 3 answers
    assert (zoom["accuracy_with_zoom"], zoom["accuracy_without_zoom"]) == (1 / 2, 1.0)
    assert zoom["zoom_reward"] == 1 / 3  # 1, 0 (misses), 0 (no call)
    assert (zoom["rollouts"], zoom["rollouts_with_zoom"]) == (3, 2)

    assert main(["evaluate", str(path), "--no-coco", "--report", str(tmp_path / "r.html")]) == 0
    table = capsys.readouterr().out
    assert "zoom precision" in table and "accuracy without zoom" in table
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    # crops drawn over the image: the hit (85, 92)-(215, 158) with S 1, the miss unmatched
    assert 'x="85.00" y="92.00" width="130.00" height="66.00"' in page
    assert "crop 1 S 1.00" in page and "crop 1 unmatched" in page and "zoom crop" in page


def test_no_zoom_section_without_zoom(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({**TRUTH, **ROLLOUTS[2]}) + "\n", encoding="utf-8")
    assert main(["evaluate", str(path), "--json", "--no-coco"]) == 0
    assert json.loads(capsys.readouterr().out)["zoom"] is None
