"""``export --to zoom-sft``: zoom trajectories from synthesis, each scoring R_zoom = 1.

The synthesis pipeline's own output (offline backend) is exported as multi-turn SFT
trajectories in each call syntax and model family; every exported trajectory is then
read back and scored with ``zoom_reward`` as a trainer would see it.
"""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from grounding_rewards import RewardConfig, zoom_reward
from grounding_rewards.cli import main
from grounding_rewards.export_schema import read_examples
from grounding_rewards.zoom import parse_trajectory
from grounding_rewards.zoom.sft import call_box, evidence_crop


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skimage.data

    tmp = tmp_path_factory.mktemp("zoom-sft")
    images = tmp / "images"
    images.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(skimage.data, name)()).save(images / f"{name}.png")
    assert main(["synth", str(images), "--out", str(tmp / "synth")]) == 0
    return tmp / "synth"


def _export(inputs: Path, out: Path, *options: str) -> list[dict[str, Any]]:
    assert main(["export", str(inputs), "--to", "zoom-sft", "--out", str(out), *options]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _image(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


@pytest.mark.parametrize(
    ("syntax", "family"),
    [("deepeyes", "qwen2.5-vl"), ("mini-o3", "qwen3-vl"), ("function", "qwen2-vl")],
)
def test_every_exported_trajectory_scores_one(
    synth: Path, tmp_path: Path, syntax: str, family: str
) -> None:
    rows = _export(synth, tmp_path / "z.jsonl", "--model-family", family, "--zoom-syntax", syntax)
    examples = [
        ex for f in (synth / "records").glob("*.jsonl") for ex in read_examples(f) if ex.boxes
    ]
    assert len(rows) == len(examples) > 0
    for row in rows:
        config = RewardConfig(coords=row["coords"])
        value = zoom_reward(
            row["messages"], row["gt_boxes"], image_size=row["image_size"], config=config
        )
        assert value == 1.0, row["id"]
        calls = parse_trajectory(row["messages"]).calls
        assert len(calls) == len(row["gt_boxes"])
        assert {c.syntax for c in calls} == {syntax}
        # the original, then one zoomed view per call, each the size the tool states
        assert len(row["images"]) == 1 + len(calls)
        assert _image(row["images"][0]).size == tuple(row["image_size"])
        tools = [m for m in row["messages"] if m["role"] == "tool"]
        for message, uri in zip(tools, row["images"][1:], strict=True):
            width, height = re.search(r"shown at (\d+)x(\d+)", message["content"]).groups()
            assert _image(uri).size == (int(width), int(height))
        assert sum(m["content"].count("<image>") for m in row["messages"]) == len(row["images"])
        assert row["messages"][-1]["content"].endswith(f"<answer>{row['answer']}</answer>")
        assert ("tools" in row) == (syntax != "mini-o3")


def test_calls_zoom_on_the_synthesis_crops(synth: Path, tmp_path: Path) -> None:
    # In pixels the call's box is the pipeline's own crop_box (box + 15 % margin), and
    # the final turn is the record's rationale unchanged.
    rows = {r["id"]: r for r in _export(synth, tmp_path / "z.jsonl", "--coords", "pixel")}
    for path in (synth / "records").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            crops = {tuple(o["box"]): o["crop_box"] for o in record["objects"]}
            for qa in record["qa"]:
                row = rows[f"{record['id']}:{qa['id']}"]
                written = [list(c.box) for c in parse_trajectory(row["messages"]).calls]
                assert written == [crops[tuple(box)] for box in qa["gt_boxes"]]
                assert row["messages"][-1]["content"] == qa["rationale"]


def test_simple_records_without_crops_or_evidence(tmp_path: Path, capsys: Any) -> None:
    Image.new("RGB", (640, 480), (200, 30, 30)).save(tmp_path / "a.png")
    lines = [
        {"id": "boxed", "image": "a.png", "question": "What colour?", "choices": ["red", "blue"],
         "answer": "A", "objects": [{"label": "wall", "box": [100, 100, 200, 150]}]},
        {"id": "plain", "image": "a.png", "question": "Is it red?", "choices": ["yes", "no"],
         "answer": "A"},
    ]  # fmt: skip
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    [row] = _export(data, tmp_path / "z.jsonl", "--coords", "norm1000")
    assert "1 questions without a zoom trajectory (first: plain" in capsys.readouterr().err
    # no synthesis crop: the box plus 15 % (85, 92, 215, 158), rounded outward in 0-1000
    assert parse_trajectory(row["messages"]).calls[0].box == (132.0, 191.0, 336.0, 330.0)
    assert call_box(evidence_crop((100, 100, 200, 150), (640, 480)), (640, 480), "norm1000") == [
        132,
        191,
        336,
        330,
    ]
    assert row["messages"][-1]["content"] == (
        "<think>Looking at <obj>wall</obj><bbox>[156, 208, 312, 312]</bbox>: "
        "the answer is (A) red.</think><answer>A</answer>"
    )
    config = RewardConfig(coords="norm1000")
    assert zoom_reward(row["messages"], row["gt_boxes"], image_size=(640, 480), config=config) == 1
