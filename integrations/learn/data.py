"""Toy images -> the synthesis pipeline -> grounded QA -> TRL datasets (our exporter).

The pipeline is the project's own (``grounding_rewards.synthesis``) with its
deterministic offline captioner and verifier; the detector is the toy world's oracle
(:class:`world.OracleDetector`), standing in for OWLv2 / Grounding DINO. Every QA item
the pipeline writes (question, options, answer, grounded rationale, boxes) is used as
is, except brightness questions, which are dropped: the offline captioner's brightness
of a shape mostly reflects the dark background around it, not the shape.

Splits are disjoint sets of images: ``sft`` (warm start), ``grpo`` (RL prompts) and
``eval`` (held out; one question per image, cycling colour / relation / counting over
the kinds that image has: a one-shape image has no relation question).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import world

from grounding_rewards import RewardConfig
from grounding_rewards.export_schema import GroundedExample, read_examples

__all__ = ["SPLITS", "Data", "guess", "kind_of", "make_data", "restate"]

SPLITS = ("sft", "grpo", "eval")
_EVAL_KINDS = ("color", "relation", "counting")


def kind_of(question: str) -> str:
    """The question kind from the pipeline's phrasing (``qa@v1``)."""
    if question.startswith("What color"):
        return "color"
    if question.startswith("Which object"):
        return "relation"
    if question.startswith("How many"):
        return "counting"
    return "other"


_FIRST_SPAN = re.compile(r"<obj>[^<]*</obj><bbox>[^<]*</bbox>")


def restate(rationale: str, key: str, share: float) -> str:
    """For a seeded ``share`` of rationales (by ``key``), name the shape a second time.

    The second mention repeats the first grounded span, same box, before ``</think>``.
    It gives the SFT policy a habit of sometimes writing two box blocks, so that a
    reward which pays for extra boxes has something to amplify in GRPO.

    Example:
        >>> text = "<think>The <obj>circle</obj><bbox>[0, 0, 28, 28]</bbox> is red.</think>"
        >>> restate(text, "q1", share=1.0)[len(text) - len("</think>") :]
        ' Looking again: <obj>circle</obj><bbox>[0, 0, 28, 28]</bbox>.</think>'
        >>> restate(text, "q1", share=0.0) == text
        True
    """
    digest = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 16**8
    span = _FIRST_SPAN.search(rationale)
    if digest >= share or span is None or "</think>" not in rationale:
        return rationale
    return _end_reasoning_with(rationale, f"Looking again: {span.group(0)}")


def guess(rationale: str, key: str, share: float) -> str:
    """For a seeded ``share`` of rationales (by ``key``), add a second box at a random place.

    The extra span names the same shape with a box of the same size at a seeded place
    on the grid, anywhere in the image (usually wrong), before ``</think>``. It gives the
    SFT policy a habit of sometimes hedging with a second guess: the behaviour a reward
    that pays for extra boxes rewards (one more guess can only raise the best IoU) and
    ours punishes (every box past the true count divides R_bbox).

    Example:
        >>> text = "<think>The <obj>circle</obj><bbox>[0, 0, 28, 28]</bbox> is red.</think>"
        >>> guess(text, "q1", share=1.0)[len(text) - len("</think>") :]
        ' Or maybe: <obj>circle</obj><bbox>[0, 84, 28, 112]</bbox>.</think>'
        >>> guess(text, "q1", share=0.0) == text
        True
    """
    digest = hashlib.sha256(f"guess:{key}".encode()).digest()
    span = _FIRST_SPAN.search(rationale)
    if int.from_bytes(digest[:4], "big") / 2**32 >= share or span is None:
        return rationale
    if "</think>" not in rationale:
        return rationale
    cells = (world.SIZE - world.SIDE) // world.GRID + 1
    x = digest[4] % cells * world.GRID
    y = digest[5] % cells * world.GRID
    label = span.group(0).split("</obj>", 1)[0]
    box = f"[{x}, {y}, {x + world.SIDE}, {y + world.SIDE}]"
    return _end_reasoning_with(rationale, f"Or maybe: {label}</obj><bbox>{box}</bbox>")


def _end_reasoning_with(rationale: str, sentence: str) -> str:
    """``rationale`` with `` {sentence}.`` as the last words of its reasoning block."""
    head, tail = rationale.split("</think>", 1)
    return f"{head} {sentence}.</think>{tail}"


@dataclass
class Data:
    """Examples per split and their exported TRL datasets."""

    examples: dict[str, list[GroundedExample]]
    datasets: dict[str, Any]


def _records(folder: Path) -> Iterator[GroundedExample]:
    for part in sorted((folder / "records").glob("part-*.jsonl")):
        yield from read_examples(part)


def make_data(
    out: Path,
    *,
    images: dict[str, int],
    world_seed: int = 0,
    objects: int = 1,
    specks: int = 0,
    reward: RewardConfig | None = None,
    log: Any = print,
) -> Data:
    """Draw the world, synthesize QA, export a TRL dataset per split (cached under ``out``).

    Args:
        out: Data folder (``images/``, ``synth/``, ``trl-<split>/``); reused when its
            ``world.json`` matches the request.
        images: Images per split, e.g. ``{"sft": 500, "grpo": 400, "eval": 240}``.
        world_seed: Seed of the world.
        objects: Shapes per image.
        specks: Gray distractor specks per image.
        reward: The reward config the datasets are exported for (pixel space).
        log: Progress printer.
    """
    import datasets

    from grounding_rewards.export import to_trl_dataset
    from grounding_rewards.synthesis.backends.offline import OfflineBackend
    from grounding_rewards.synthesis.config import SynthesisConfig
    from grounding_rewards.synthesis.pipeline import Pipeline
    from grounding_rewards.synthesis.runner import run_synthesis_sync

    spec = {
        "images": images,
        "world_seed": world_seed,
        "objects": objects,
        "specks": specks,
        "grid": world.GRID,
        "version": 3,
    }
    marker = out / "world.json"
    cached = marker.exists() and json.loads(marker.read_text()) == spec
    detector = world.OracleDetector()
    paths: list[str] = []
    (out / "images").mkdir(parents=True, exist_ok=True)
    index = 0
    for split in SPLITS:
        for _ in range(images.get(split, 0)):
            path = out / "images" / f"{split}-{index:05d}.png"
            scene = world.make_scene(world_seed, index, objects=objects, specks=specks)
            image = world.render(scene)
            detector.add(image, scene)
            if not cached:
                image.save(path)
            paths.append(str(path))
            index += 1
    synth = out / "synth"
    if not cached:
        # The margin is 0 so that the crop the captioner names a colour from is mostly shape.
        pipeline = Pipeline(
            OfflineBackend(),
            detectors=[detector],
            config=SynthesisConfig(seed=world_seed, crop_margin=0.0),
        )
        summary = run_synthesis_sync(paths, synth, pipeline, progress=False, concurrency=4)
        log(f"synthesis: {summary.format()}")
    by_split: dict[str, list[GroundedExample]] = {split: [] for split in SPLITS}
    held_out: dict[str, dict[str, GroundedExample]] = {}
    for example in sorted(_records(synth), key=lambda e: (e.image, e.id)):
        split = Path(example.image).name.split("-")[0]
        kind = kind_of(example.question)
        if kind == "other":
            continue
        if split == "eval":
            held_out.setdefault(example.image, {}).setdefault(kind, example)
            continue
        by_split[split].append(example)
    for image, kinds in held_out.items():  # one question per held-out image
        number = int(Path(image).stem.split("-")[1])
        present = [k for k in _EVAL_KINDS if k in kinds]
        by_split["eval"].append(kinds[present[number % len(present)]])
    exported: dict[str, Any] = {}
    for split, rows in by_split.items():
        folder = out / f"trl-{split}"
        if cached and folder.exists():
            exported[split] = datasets.load_from_disk(str(folder))
            continue
        dataset = to_trl_dataset(rows, config=reward, cache_dir=out / "cache" / split)
        dataset.save_to_disk(str(folder))
        exported[split] = datasets.load_from_disk(str(folder))
    if not cached:
        marker.write_text(json.dumps(spec))
    log(
        "data: "
        + ", ".join(f"{s} {len(by_split[s])} questions" for s in SPLITS)
        + f" from {sum(images.values())} images"
    )
    return Data(by_split, exported)
