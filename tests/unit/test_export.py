"""grounding_rewards.export and ``grounding-rewards export``: records in, trainer data out."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from grounding_rewards import ConfigError, GroundTruthError, RewardConfig
from grounding_rewards.cli import main
from grounding_rewards.export import (
    MODEL_FAMILIES,
    coords_for,
    instruction,
    load_image,
    to_trl_dataset,
    write_verl_parquet,
)
from grounding_rewards.export_schema import GroundedExample, examples_from_line, read_examples
from grounding_rewards.trl import reward_funcs
from grounding_rewards.verl import compute_score

PERFECT = "<think>The <obj>cat</obj><bbox>[10, 20, 30, 40]</bbox> sits.</think><answer>B</answer>"


def _image(path: Path, size: tuple[int, int] = (64, 48), orientation: int | None = None) -> None:
    image = Image.new("RGB", size, (120, 30, 200))
    if orientation is None:
        image.save(path)
        return
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(path, format="JPEG", exif=exif.tobytes())


def _simple(**changes: Any) -> dict[str, Any]:
    record = {
        "id": "cat-1",
        "image": "images/cat.png",
        "question": "What is on the sofa?",
        "choices": ["a dog", "a cat"],
        "answer": "B",
        "objects": [{"label": "cat", "box": [10, 20, 30, 40]}],
    }
    record.update(changes)
    return record


def _synthesis_record(status: str = "ok") -> dict[str, Any]:
    return {
        "id": "r" * 32,
        "status": status,
        "image": {
            "id": "img",
            "source": "images/cat.png",
            "width": 64,
            "height": 48,
            "sha256": "0" * 64,
        },
        "objects": [],
        "qa": [
            {
                "id": "q1",
                "kind": "attribute",
                "question": "What sits?",
                "choices": ["dog", "cat"],
                "answer": "B",
                "rationale": PERFECT,
                "object_ids": ["o1"],
                "gt_boxes": [[10, 20, 30, 40]],
                "gt_labels": ["cat"],
            },
            {
                "id": "q2",
                "kind": "counting",
                "question": "How many?",
                "choices": ["1", "2"],
                "answer": "A",
                "rationale": "",
                "object_ids": [],
                "gt_boxes": [],
                "gt_labels": [],
            },
        ],
    }


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    _image(tmp_path / "images" / "cat.png")
    lines = [
        json.dumps(_simple()),
        "",
        json.dumps(_synthesis_record()),
        json.dumps(_synthesis_record("failed") | {"id": "f" * 32}),
    ]
    (tmp_path / "qa.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_read_both_schemas(data_dir: Path) -> None:
    examples = list(read_examples(data_dir / "qa.jsonl"))
    assert [ex.id for ex in examples] == ["cat-1", "r" * 32 + ":q1", "r" * 32 + ":q2"]
    simple, first, second = examples
    assert simple.image == str((data_dir / "images" / "cat.png").resolve())
    assert simple.boxes == ((10.0, 20.0, 30.0, 40.0),) and simple.labels == ("cat",)
    assert simple.image_size is None and first.image_size == (64, 48)
    assert first.rationale == PERFECT and second.boxes == ()
    rooted = list(read_examples(data_dir / "qa.jsonl", image_root="/elsewhere"))
    assert rooted[0].image == "/elsewhere/images/cat.png"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "qa.jsonl:7: expected a JSON object, got invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        (json.dumps(_simple(question="")), "question: expected a non-empty string"),
        (json.dumps(_simple(answer="D")), "answer: expected one option"),
        (json.dumps(_simple(choices=None)), "choices: expected a list"),
        (
            json.dumps(_simple(objects=[{"label": "cat", "box": [30, 20, 10, 40]}])),
            r"gt_boxes\[0\]: expected x1 < x2",
        ),
        (json.dumps(_simple(objects=[{"box": [1, 2, 3, 4]}])), r"objects\[0\].label"),
        (json.dumps(_simple(objects=[[1, 2, 3, 4]])), r"objects\[0\]: expected"),
        (json.dumps(_simple(image_size=[0, 5])), "image_size"),
    ],
)
def test_bad_lines_name_file_line_and_field(line: str, message: str) -> None:
    with pytest.raises(GroundTruthError, match=message):
        examples_from_line(line, where="qa.jsonl:7", default_id="x")


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text(json.dumps(_simple()) + "\n" + json.dumps(_simple()) + "\n")
    with pytest.raises(GroundTruthError, match=r"dup.jsonl:2: id: expected a unique id.*line 1"):
        list(read_examples(path))


def test_coordinate_space_per_family() -> None:
    assert coords_for("Qwen2.5-VL") == "qwen25vl"
    assert coords_for("qwen2_vl") == coords_for("qwen3-vl") == "norm1000"
    assert set(MODEL_FAMILIES.values()) <= {"norm1000", "qwen25vl"}
    with pytest.raises(ConfigError, match="expected one of"):
        coords_for("llava")
    assert "0 to 1000" in instruction(RewardConfig(coords="norm1000"))
    assert "(644x476)" in instruction(RewardConfig(coords="qwen25vl"), image_size=(640, 480))
    assert "(1316x728)" in instruction(
        RewardConfig(coords="qwen25vl", max_pixels=1280 * 28 * 28), image_size=(1920, 1080)
    )
    assert "640x480 image" in instruction(RewardConfig(), image_size=(640, 480))
    tags = instruction(RewardConfig(think_tag="reason", bbox_tag="box", coords="norm1"))
    assert "<reason></reason>" in tags and "<box>[x1, y1, x2, y2]</box>" in tags
    with pytest.raises(ConfigError, match="image size"):
        instruction(RewardConfig(coords="qwen25vl"))


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    plain, rotated = tmp_path / "plain.png", tmp_path / "rotated.jpg"
    _image(plain, (40, 20))
    _image(rotated, (40, 20), orientation=6)  # stored 40x20, shown rotated: 20x40
    data, size = load_image(plain)
    assert size == (40, 20) and data == plain.read_bytes()  # untouched bytes
    data, size = load_image(rotated)
    assert size == (20, 40)
    assert Image.open(io.BytesIO(data)).size == (20, 40)  # re-encoded upright
    with pytest.raises(GroundTruthError, match=r"expected size \(40, 20\)"):
        load_image(rotated, expected_size=(40, 20))
    with pytest.raises(GroundTruthError, match="readable image"):
        load_image(tmp_path / "missing.png")


def test_trl_dataset_feeds_the_trl_adapter(data_dir: Path) -> None:
    examples = list(read_examples(data_dir / "qa.jsonl"))
    dataset = to_trl_dataset(
        examples, config=RewardConfig(), system_prompt="Be careful.", cache_dir=data_dir / "cache"
    )
    assert set(dataset.column_names) == {
        "id",
        "prompt",
        "image",
        "answer",
        "choices",
        "gt_boxes",
        "gt_labels",
        "image_size",
    }
    row = dataset[0]
    system, user = row["prompt"]
    assert system["role"] == "system" and user["role"] == "user"
    assert [part["type"] for part in user["content"]] == ["image", "text"]
    assert user["content"][1]["text"].startswith("What is on the sofa?\n(A) a dog\n(B) a cat\n")
    assert row["image"].size == (64, 48) and row["image_size"] == [64, 48]
    # The columns are exactly what the TRL reward functions read, as TRL forwards them.
    columns = {key: dataset[key] for key in dataset.column_names if key != "prompt"}
    completions = [PERFECT, "<think>x</think><answer>A</answer>", PERFECT]
    rewards = [
        f(prompts=dataset["prompt"], completions=completions, **columns) for f in reward_funcs()
    ]
    assert rewards[0] == [1.0, 0.0, 1.0]
    assert rewards[1] == [1.0, 0.0, 0.0]  # the third example's answer is A
    assert rewards[2] == [1.0, 0.0, None]  # no boxes in the counting question


def test_verl_parquet_rows(data_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    examples = list(read_examples(data_dir / "qa.jsonl"))
    path = tmp_path / "out" / "train.parquet"
    config = RewardConfig(coords="qwen25vl", max_pixels=1003520)
    assert write_verl_parquet(examples, path, config=config, data_source="demo", split="val") == 3
    rows = pq.read_table(path).to_pylist()
    row = rows[0]
    assert row["data_source"] == "demo" and row["ability"] == "grounding"
    assert row["prompt"][0]["content"].startswith("<image>What is on the sofa?")
    assert row["images"][0]["max_pixels"] == 1003520
    assert Image.open(io.BytesIO(row["images"][0]["bytes"])).size == (64, 48)
    assert row["extra_info"] == {
        "index": 0,
        "split": "val",
        "id": "cat-1",
        "image_size": [64, 48],
        "coords": "qwen25vl",
    }
    truth = json.loads(row["reward_model"]["ground_truth"])
    assert truth["gt_boxes"] == [[10.0, 20.0, 30.0, 40.0]] and truth["answer"] == "B"
    # In Qwen2.5-VL's resized space, 64x48 becomes 56x56: a perfect box is written scaled.
    text = "<think>The <obj>cat</obj><bbox>[9, 23, 26, 47]</bbox>.</think><answer>B</answer>"
    result = compute_score(
        row["data_source"],
        text,
        row["reward_model"]["ground_truth"],
        row["extra_info"],
        coords="qwen25vl",
        max_pixels=1003520,
    )
    assert result["accuracy"] == 1.0 and result["bbox"] > 0.9


def test_parquet_is_written_in_row_groups(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyarrow.parquet as pq

    import grounding_rewards.export as export

    monkeypatch.setattr(export, "_ROWS_PER_GROUP", 2)
    examples = list(read_examples(data_dir / "qa.jsonl"))
    path = tmp_path / "groups.parquet"
    assert write_verl_parquet(examples, path, config=RewardConfig(coords="norm1000")) == 3
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 2
    assert [row["extra_info"]["index"] for row in parquet.read().to_pylist()] == [0, 1, 2]
    assert write_verl_parquet([], tmp_path / "empty.parquet") == 0
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0


def test_cli_export(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import datasets

    out = tmp_path / "trl"
    assert (
        main(
            [
                "export",
                str(data_dir / "qa.jsonl"),
                "--to",
                "trl",
                "--out",
                str(out),
                "--model-family",
                "qwen2-vl",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "wrote 3 examples" in printed and "coords='norm1000'" in printed
    assert datasets.load_from_disk(str(out)).num_rows == 3

    synth = tmp_path / "synth"
    (synth / "records").mkdir(parents=True)
    (synth / "records" / "part-a-00000.jsonl").write_text(json.dumps(_synthesis_record()) + "\n")
    parquet = tmp_path / "v.parquet"
    assert (
        main(
            [
                "export",
                str(synth),
                "--to",
                "verl",
                "--out",
                str(parquet),
                "--coords",
                "qwen25vl",
                "--image-root",
                str(data_dir),
                "--min-pixels",
                "6272",
            ]
        )
        == 0
    )
    assert "min_pixels=6272" in capsys.readouterr().out
    assert parquet.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "expected --model-family or --coords"),
        (["--model-family", "llava"], "model family: expected one of"),
        (["--coords", "norm7"], "coords"),
    ],
)
def test_cli_errors(
    data_dir: Path,
    tmp_path: Path,
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["export", str(data_dir / "qa.jsonl"), "--to", "trl", "--out", str(tmp_path / "o"), *extra]
    )
    assert code == 2
    assert message in capsys.readouterr().err


def test_cli_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "export",
                str(tmp_path / "nope.jsonl"),
                "--to",
                "verl",
                "--out",
                str(tmp_path / "o.parquet"),
                "--coords",
                "pixel",
            ]
        )
        == 2
    )
    assert "expected a JSONL file or a folder" in capsys.readouterr().err


def test_example_is_frozen() -> None:
    example = GroundedExample("e", "a.png", "q", ("x", "y"), "A")
    with pytest.raises(AttributeError):
        example.answer = "B"  # type: ignore[misc]


def test_synth_output_round_trips_through_export_and_the_trl_rewards(tmp_path: Path) -> None:
    # The synthesis pipeline's own records (offline backend), exported for TRL: each
    # validated QA item's rationale is a perfect completion for its row.
    import datasets
    import skimage.data

    images = tmp_path / "images"
    images.mkdir()
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(skimage.data, name)()).save(images / f"{name}.png")
    assert main(["synth", str(images), "--out", str(tmp_path / "synth")]) == 0
    out = tmp_path / "trl"
    assert (
        main(
            [
                "export",
                str(tmp_path / "synth"),
                "--to",
                "trl",
                "--coords",
                "pixel",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    dataset = datasets.load_from_disk(str(out))
    examples = list(read_examples(next((tmp_path / "synth" / "records").glob("*.jsonl"))))
    assert dataset.num_rows == len(examples) > 0
    rationales = [ex.rationale for ex in examples]
    columns = {key: dataset[key] for key in dataset.column_names if key != "prompt"}
    format_, option, bbox = (f(completions=rationales, **columns) for f in reward_funcs())
    assert format_ == option == [1.0] * len(examples)
    assert all(value in (1.0, None) for value in bbox) and 1.0 in bbox


def test_missing_extra_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from grounding_rewards import MissingDependencyError

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"grounding-rewards\[export\]"):
        write_verl_parquet([], tmp_path / "x.parquet")
