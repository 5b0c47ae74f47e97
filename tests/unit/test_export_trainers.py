"""``export --to easyr1|swift|openrlhf``: rows read back as each trainer reads them score 1.

Each round trip writes grounded QA records with the exporter, reads the file back the
way the trainer's data loader does (EasyR1's ``RLHFDataset`` steps as published,
reimplemented because EasyR1 installs as a package named ``verl``; ms-swift's
``load_dataset("json")`` and its ``data:`` URI image decoding; OpenRLHF's own
``blending_datasets`` and ``PromptDataset``), writes the perfect completion *in the
coordinate space the prompt states*, and scores it through that trainer's adapter. A
completion written without the trainer's resize scores less: the conversion matters.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import math
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from PIL import Image

from grounding_rewards import RewardConfig
from grounding_rewards.boxes import qwen25vl_resize
from grounding_rewards.cli import main
from grounding_rewards.easyr1 import compute_score
from grounding_rewards.export import (
    data_uri,
    write_easyr1_parquet,
    write_openrlhf_jsonl,
    write_swift_jsonl,
)
from grounding_rewards.export_schema import GroundedExample
from grounding_rewards.openrlhf import reward_func
from grounding_rewards.swift import grounding_orms

ROOT = Path(__file__).resolve().parents[2]

# (width, height), boxes: a 300x200 image EasyR1 upscales to its 262144-pixel minimum,
# a 640x480 one it keeps (or shrinks under a smaller data_max_pixels).
IMAGES = {
    "small": ((300, 200), ((30, 40, 120, 160), (150, 20, 290, 90))),
    "large": ((640, 480), ((100, 50, 300, 400),)),
}
FAMILIES = ("qwen2.5-vl", "qwen3-vl")
STATED = re.compile(r"as you see it \((\d+)x(\d+)\)")


@pytest.fixture
def examples(tmp_path: Path) -> list[GroundedExample]:
    out = []
    for name, (size, boxes) in IMAGES.items():
        path = tmp_path / f"{name}.png"
        Image.new("RGB", size, (90, 160, 30)).save(path)
        labels = tuple(f"thing {i}" for i in range(len(boxes)))
        out.append(
            GroundedExample(
                name, str(path), f"Where is {name}?", ("here", "there"), "B", boxes, labels
            )
        )
    return out


def _config(family: str) -> RewardConfig:
    return RewardConfig(coords="qwen25vl" if family == "qwen2.5-vl" else "norm1000")


def perfect(prompt: str, example: GroundedExample, size: tuple[int, int]) -> str:
    """The perfect completion in the space the prompt asks for; boxes of the original image."""
    width, height = size
    stated = STATED.search(prompt)
    if stated is not None:  # qwen25vl: pixels of the image the model sees
        sx, sy = int(stated[1]) / width, int(stated[2]) / height
    else:
        assert "from 0 to 1000" in prompt
        sx, sy = 1000 / width, 1000 / height
    spans = []
    for label, (x1, y1, x2, y2) in zip(example.labels, example.boxes, strict=True):
        box = ", ".join(f"{v:.6f}" for v in (x1 * sx, y1 * sy, x2 * sx, y2 * sy))
        spans.append(f"the <obj>{label}</obj><bbox>[{box}]</bbox>")
    return f"<think>I see {' and '.join(spans)}.</think><answer>{example.answer}</answer>"


def _text(content: list[dict[str, Any]]) -> str:
    return "".join(part.get("text") or "" for part in content if part["type"] == "text")


# ---------------------------------------------------------------- EasyR1


def easyr1_messages(prompt: str) -> list[dict[str, Any]]:
    """``RLHFDataset._build_messages`` (EasyR1 ``verl/utils/dataset.py``), no format prompt."""
    content: list[dict[str, Any]] = []
    for i, part in enumerate(prompt.split("<image>")):
        if i != 0:
            content.append({"type": "image"})
        if part:
            content.append({"type": "text", "text": part})
    return [{"role": "user", "content": content}]


def easyr1_process_image(image: Any, min_pixels: int | None, max_pixels: int | None) -> Any:
    """EasyR1's ``process_image``, as published."""
    image = Image.open(io.BytesIO(image["bytes"]))
    image.load()
    if max_pixels is not None and image.width * image.height > max_pixels:
        factor = math.sqrt(max_pixels / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    if min_pixels is not None and image.width * image.height < min_pixels:
        factor = math.sqrt(min_pixels / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    return image


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("budget", [(262144, 4194304), (None, 200000)])
def test_easyr1_round_trip(
    examples: list[GroundedExample],
    tmp_path: Path,
    family: str,
    budget: tuple[int | None, int | None],
) -> None:
    import datasets

    config = _config(family)
    data_min, data_max = budget
    path = tmp_path / "train.parquet"
    assert write_easyr1_parquet(
        examples, path, config=config, data_min_pixels=data_min, data_max_pixels=data_max
    ) == len(examples)
    # EasyR1: load_dataset("parquet", data_files=..., split="train"), then per row.
    rows = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert {"prompt", "images", "answer"} <= set(rows.column_names)
    inputs, seen_sizes = [], {}
    for row in rows:
        [message] = easyr1_messages(row["prompt"])
        assert message["content"][0] == {"type": "image"}
        [image] = [easyr1_process_image(img, data_min, data_max) for img in row["images"]]
        example = next(ex for ex in examples if ex.id == row["id"])
        original = IMAGES[example.id][0]
        prompt = _text(message["content"])
        if config.coords == "qwen25vl":  # the prompt states the processor's resize of EasyR1's
            stated = STATED.search(prompt)
            assert stated is not None
            expected = qwen25vl_resize(
                image.size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
            )
            assert (int(stated[1]), int(stated[2])) == expected
        seen_sizes[example.id] = image.size
        truth = row["answer"]  # example.pop(answer_key) -> ground_truth
        assert json.loads(truth)["image_size"] == list(original)
        response = perfect(prompt, example, original)
        inputs.append({"response": response, "response_length": 9, "ground_truth": truth})
    scores = compute_score(
        inputs, config=config, data_min_pixels=data_min, data_max_pixels=data_max
    )
    for score in scores:
        assert score == pytest.approx({"overall": 3.0, "format": 1.0, "accuracy": 1.0, "bbox": 1.0})
    # EasyR1 did resize the small image (upscale) or the large one (downscale).
    resized = "small" if data_min else "large"
    assert seen_sizes[resized] != IMAGES[resized][0]


def test_easyr1_conversion_matters(examples: list[GroundedExample], tmp_path: Path) -> None:
    # Boxes written for the processor's resize of the *original* image (what a
    # trainer without EasyR1's own resize would show) miss once EasyR1 upscaled it.
    config = _config("qwen2.5-vl")
    small = next(ex for ex in examples if ex.id == "small")
    write_easyr1_parquet([small], tmp_path / "t.parquet", config=config)
    import pyarrow.parquet as pq

    [row] = pq.read_table(tmp_path / "t.parquet").to_pylist()
    width, height = qwen25vl_resize(
        (300, 200), min_pixels=config.min_pixels, max_pixels=config.max_pixels
    )
    naive = perfect(f"as you see it ({width}x{height})", small, (300, 200))
    [score] = compute_score(
        [{"response": naive, "response_length": 9, "ground_truth": row["answer"]}], config=config
    )
    assert score["format"] == 1.0 and score["bbox"] < 0.5


# ---------------------------------------------------------------- ms-swift


def swift_image(value: str) -> Image.Image:
    """ms-swift's ``load_file`` for a ``data:`` URI, then ``Image.open``."""
    match = re.match(r"data:(.+?);base64,(.+)", value)
    assert match is not None
    return Image.open(io.BytesIO(base64.b64decode(match.group(2))))


@pytest.mark.parametrize("family", FAMILIES)
def test_swift_round_trip(examples: list[GroundedExample], tmp_path: Path, family: str) -> None:
    import datasets

    config = _config(family)
    path = tmp_path / "train.jsonl"
    assert write_swift_jsonl(examples, path, config=config) == len(examples)
    rows = datasets.load_dataset("json", data_files=str(path), split="train")  # as ms-swift
    completions = []
    for row in rows:
        [message] = row["messages"]
        assert message["role"] == "user" and message["content"].startswith("<image>")
        [image] = [swift_image(value) for value in row["images"]]
        example = next(ex for ex in examples if ex.id == row["id"])
        assert image.size == IMAGES[example.id][0]
        if config.coords == "qwen25vl":  # ms-swift resizes with MAX_PIXELS = config.max_pixels
            stated = STATED.search(message["content"])
            assert stated is not None
            assert (int(stated[1]), int(stated[2])) == qwen25vl_resize(
                image.size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
            )
        completions.append(perfect(message["content"], example, image.size))
    # ms-swift passes every dataset column as a list, one value per completion.
    columns = {name: rows[name] for name in rows.column_names if name != "messages"}
    for name, cls in grounding_orms(config).items():
        rewards = cls(args=None)(completions, messages=rows["messages"], **columns)
        expected = 3.0 if name == "grounding" else 1.0
        assert rewards == pytest.approx([expected] * len(examples)), name


# ---------------------------------------------------------------- OpenRLHF

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class ChatTemplate:
    """The tokenizer's ``apply_chat_template`` (Qwen2-VL's template, text and images)."""

    def apply_chat_template(
        self, messages: Any, tokenize: bool = False, add_generation_prompt: bool = False
    ) -> str:
        import jinja2

        template = jinja2.Environment().from_string(CHAT_TEMPLATE)
        return template.render(messages=messages, add_generation_prompt=add_generation_prompt)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("system_prompt", [None, "You ground your reasoning."])
def test_openrlhf_round_trip(
    examples: list[GroundedExample], tmp_path: Path, family: str, system_prompt: str | None
) -> None:
    from openrlhf.datasets.prompts_dataset import PromptDataset
    from openrlhf.datasets.utils import blending_datasets
    from openrlhf.utils.vlm_utils import load_images

    config = _config(family)
    path = tmp_path / "train.jsonl"
    count = write_openrlhf_jsonl(examples, path, config=config, system_prompt=system_prompt)
    assert count == len(examples)
    data_args = SimpleNamespace(
        input_key="prompt", label_key="label", image_key="images", apply_chat_template=True
    )
    strategy = SimpleNamespace(
        print=lambda *args: None, is_rank_0=lambda: False, args=SimpleNamespace(data=data_args)
    )
    dataset = PromptDataset(blending_datasets(str(path), None, strategy), ChatTemplate(), strategy)
    assert len(dataset) == len(examples)
    queries, prompts, labels = [], [], []
    for index in range(len(dataset)):
        datasource, prompt, label, images = dataset[index]
        assert datasource == "grounding_rewards"
        assert prompt.count("<|image_pad|>") == 1 and prompt.endswith("<|im_start|>assistant\n")
        [image] = load_images(images)
        truth = json.loads(label)
        example = next(ex for ex in examples if list(ex.boxes[0]) == truth["gt_boxes"][0])
        assert image.size == IMAGES[example.id][0] == tuple(truth["image_size"])
        if config.coords == "qwen25vl":  # OpenRLHF hands the image to the processor as is
            stated = STATED.search(prompt)
            assert stated is not None
            assert (int(stated[1]), int(stated[2])) == qwen25vl_resize(
                image.size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
            )
        response = perfect(prompt, example, image.size)
        # The query holds the image placeholder expanded into many pad tokens.
        expanded = prompt.replace("<|image_pad|>", "<|image_pad|>" * 64)
        queries.append(expanded + response + "<|im_end|>")
        prompts.append(prompt)
        labels.append(label)
    out = reward_func(queries, prompts, labels, config=config)
    assert out["rewards"].tolist() == pytest.approx([3.0] * len(examples))
    for name in ("format", "accuracy", "bbox"):
        assert out["extra_logs"][name].tolist() == pytest.approx([1.0] * len(examples))


# ---------------------------------------------------------------- CLI and recipes


def test_data_uri_is_what_both_loaders_decode() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (7, 5)).save(buffer, format="JPEG")
    uri = data_uri(buffer.getvalue())
    assert uri.startswith("data:image/jpeg;base64,")
    assert swift_image(uri).size == (7, 5)
    from openrlhf.utils.vlm_utils import load_images

    assert load_images([uri])[0].size == (7, 5)


def _records(tmp_path: Path, examples: list[GroundedExample]) -> Path:
    lines = []
    for example in examples:
        objects = [
            {"label": label, "box": list(box)}
            for label, box in zip(example.labels, example.boxes, strict=True)
        ]
        record = {
            "id": example.id,
            "image": example.image,
            "question": example.question,
            "choices": list(example.choices),
            "answer": example.answer,
            "objects": objects,
        }
        lines.append(json.dumps(record))
    path = tmp_path / "qa.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("target", "name", "extra"),
    [
        ("easyr1", "train.parquet", ["--data-min-pixels", "none", "--data-max-pixels", "200000"]),
        ("swift", "train.jsonl", ["--system-prompt", "Ground it."]),
        ("openrlhf", "train.jsonl", []),
    ],
)
def test_cli_export_to_each_trainer(
    examples: list[GroundedExample],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    target: str,
    name: str,
    extra: list[str],
) -> None:
    source = _records(tmp_path, examples)
    out = tmp_path / target / name
    argv = ["export", str(source), "--to", target, "--model-family", "qwen2.5-vl"]
    assert main([*argv, "--out", str(out), *extra]) == 0
    printed = capsys.readouterr().out
    assert f"wrote 2 examples to {out} ({target}, coords=qwen25vl)" in printed
    if target == "easyr1":
        import pyarrow.parquet as pq

        assert "data.min_pixels=null data.max_pixels=200000" in printed
        rows = pq.read_table(out).to_pylist()
        large = next(row for row in rows if row["id"] == "large")
        # 640x480 > 200000 px: EasyR1 shrinks it to 516x387, the processor to 504x392.
        assert "as you see it (504x392)" in large["prompt"]
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == 2
    if target == "swift":
        assert [m["role"] for m in rows[0]["messages"]] == ["system", "user"]


def test_cli_refuses_a_system_prompt_for_easyr1(
    examples: list[GroundedExample], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _records(tmp_path, examples)
    argv = ["export", str(source), "--to", "easyr1", "--coords", "norm1000"]
    code = main([*argv, "--out", str(tmp_path / "x.parquet"), "--system-prompt", "Hi"])
    assert code == 2
    assert "expected none for easyr1" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"prepare_{path.parent.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("trainer", "files"),
    [
        ("easyr1", ("train.parquet", "val.parquet")),
        ("swift", ("train.jsonl", "val.jsonl")),
        ("openrlhf", ("train.jsonl", "val.jsonl")),
    ],
)
def test_prepare_data_runs_on_a_synthesis_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trainer: str, files: tuple[str, str]
) -> None:
    import skimage.data

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(skimage.data.coffee()).save(images / "coffee.png")
    assert main(["synth", str(images), "--out", str(tmp_path / "synth")]) == 0
    capsys.readouterr()
    script = _load(ROOT / "integrations" / trainer / "prepare_data.py")
    out = tmp_path / "out"
    assert script.main([str(tmp_path / "synth"), "--out-dir", str(out), "--val-fraction", "0"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    printed = capsys.readouterr().out
    assert re.search(r"train: [1-9]\d* examples", printed), printed
    assert "val: 0 examples" in printed
