import json

import pytest
import skimage.data
from PIL import Image

from grounding_rewards.cli import main
from grounding_rewards.report import GT_COLOR, PRED_COLOR

GOOD = "<think>The <obj>face</obj><bbox>[140, 20, 330, 230]</bbox>.</think><answer>A</answer>"
SPARE = (
    "<think>The <obj>face</obj><bbox>[140, 20, 330, 230]</bbox> and a <obj>rocket</obj>"
    "<bbox>[380, 0, 470, 270]</bbox>.</think><answer>B</answer>"
)


@pytest.fixture
def rollouts(tmp_path):
    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "astronaut.png")
    target = {
        "answer": "A",
        "gt_boxes": [[140, 20, 330, 230]],
        "gt_labels": ["face"],
        "image_size": [512, 512],
        "image": "astronaut.png",
    }
    records = [
        {"id": "a", "completion": GOOD, **target},
        {"id": "b", "completion": SPARE, **target},
    ]
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_evaluate_json(rollouts, capsys):
    assert main(["evaluate", str(rollouts), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rollouts"] == 2
    assert out["rewards"]["accuracy"] == {"mean": 0.5, "count": 2}
    assert out["grounding"]["miou"] == 0.75  # 1 and 1 / max(2, 1)
    assert out["grounding"]["acc@0.5"] == 0.5
    assert out["reasoning"]["hallucinated_box_rate@0.5"] == pytest.approx(1 / 3)
    assert out["reasoning"]["chair_mention"] == pytest.approx(1 / 3)
    assert out["coco"]["ap50"] is not None


def test_evaluate_table_and_report(rollouts, tmp_path, capsys):
    report = tmp_path / "out" / "report.html"
    report.parent.mkdir()
    assert main(["evaluate", str(rollouts), "--report", str(report), "--threshold", "0.5"]) == 0
    captured = capsys.readouterr()
    assert "2 rollouts from" in captured.out and "Acc@0.5" in captured.out
    assert "hallucinated boxes@0.5" in captured.out
    assert f"report written to {report}" in captured.err
    page = report.read_text()
    assert page.count("data:image/jpeg;base64,") == 2  # found next to the rollouts file
    assert 'id="sample-1"' in page.split('id="sample-0"')[0]  # worst first


def test_evaluate_config_flags_and_synonyms(rollouts, tmp_path, capsys):
    synonyms = tmp_path / "syn.json"
    synonyms.write_text(json.dumps({"Rocket": "face"}))
    assert (
        main(
            [
                "evaluate",
                str(rollouts),
                "--json",
                "--no-coco",
                "--synonyms",
                str(synonyms),
                "--similarity",
                "giou",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["coco"] is None and out["reasoning"]["chair_mention"] == 0.0
    assert out["config"]["similarity"] == "giou"


def test_evaluate_errors_name_the_line(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"completion": "x"})
        + "\n"
        + json.dumps({"completion": "x", "gt_boxes": [[5, 5, 1, 1]]})
        + "\n"
    )
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2: gt_boxes[0]: expected x1 < x2" in err
    synonyms = tmp_path / "syn.json"
    synonyms.write_text("[1]")
    assert main(["evaluate", str(path), "--synonyms", str(synonyms)]) == 2
    assert "expected a JSON object of label -> name" in capsys.readouterr().err


def test_draw_png_overlay(rollouts, tmp_path, capsys):
    out = tmp_path / "overlay.png"
    assert main(["draw", str(rollouts), "--id", "b", "-o", str(out)]) == 0
    assert "1 ground-truth boxes" in capsys.readouterr().out
    image = Image.open(out).convert("RGB")
    assert image.size == (512, 512)
    stroke = max(2, round(512 / 150))
    # the face was found exactly: ground truth just outside x = 140, prediction just inside;
    # the spare rocket box (x = 380) has only a prediction
    assert image.getpixel((140 - 1, 125)) == GT_COLOR
    assert image.getpixel((140 + 1, 125)) == PRED_COLOR
    assert image.getpixel((380 + stroke // 2, 135)) == PRED_COLOR


def test_draw_without_image_uses_image_size_and_errors_are_clear(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text(
        json.dumps({"completion": GOOD, "gt_boxes": [[10, 10, 50, 50]], "image_size": [100, 80]})
        + "\n"
        + json.dumps({"completion": GOOD})
        + "\n"
    )
    out = tmp_path / "o.png"
    assert main(["draw", str(path), "--index", "0", "-o", str(out)]) == 0
    assert Image.open(out).size == (100, 80)
    assert main(["draw", str(path), "--index", "5", "-o", str(out)]) == 2
    assert "expected a rollout with index 5, got 2 rollouts" in capsys.readouterr().err
    assert main(["draw", str(path), "--index", "1", "-o", str(out)]) == 2
    assert "expected an 'image' or an 'image_size'" in capsys.readouterr().err
