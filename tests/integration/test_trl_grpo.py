"""A real ``trl.GRPOTrainer`` runs 2 steps with our three reward functions.

This is the ``--smoke`` mode of ``integrations/trl/grpo_qwen25vl.py``, run as is: the
policy is a randomly initialised Qwen2.5-VL built from a config, with a tokenizer
trained on the spot and the slow image processor from its defaults; the data is
exported by ``grounding_rewards.export`` from scikit-image pictures with hand-drawn
boxes. A short warm start teaches the random model the grounded format, so its
completions carry boxes and the rewards carry signal (a random model would score 0
everywhere, proving little).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
from _tiny_qwen import ROOT, load_module, tiny_qwen

from grounding_rewards import bbox_reward, format_reward, option_reward
from grounding_rewards._completions import completion_text
from grounding_rewards._warn_once import GroundTruthWarning
from grounding_rewards.export_schema import GroundedExample

NAMES = ("format_reward", "option_reward", "bbox_reward")
SAMPLES = {sample.image: sample for sample in tiny_qwen.SAMPLES}
MAX_STEPS = 2
RECIPE = ROOT / "integrations" / "trl" / "grpo_qwen25vl.py"


@pytest.fixture(scope="module")
def run(examples: list[GroundedExample], tmp_path_factory: pytest.TempPathFactory) -> Any:
    import torch

    recipe = load_module("grpo_qwen25vl", RECIPE)
    threads = torch.get_num_threads()  # the smoke run pins one thread; give it back after
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", GroundTruthWarning)  # clean ground truth: none expected
            out = recipe.smoke_run(
                recipe.parse_args(["--smoke"]),
                max_steps=MAX_STEPS,
                workdir=tmp_path_factory.mktemp("smoke"),
            )
    finally:
        torch.set_num_threads(threads)
    assert out["ok"]
    yield {**out, "config": out["reward"], "examples": {ex.id: ex for ex in examples}}


def test_warm_start_learned_the_format(run: dict[str, Any]) -> None:
    assert run["losses"][-1] < 0.1 * run["losses"][0]


def test_every_reward_is_logged_and_finite(run: dict[str, Any]) -> None:
    assert len(run["steps"]) == MAX_STEPS
    for entry in run["steps"]:
        for name in NAMES:
            value = entry[f"rewards/{name}/mean"]
            assert math.isfinite(value), (name, entry)
            assert 0.0 <= value <= 1.0, (name, value)
        assert math.isfinite(entry["reward"])


def test_bbox_reward_saw_the_ground_truth(run: dict[str, Any]) -> None:
    steps = run["steps"]
    # One epoch covers each of the 4 prompts once (2 per step): the mean of the logged
    # per-step mean number of ground-truth boxes is the dataset's, 7 boxes / 4 rows.
    gt_boxes = sum(entry["grounding/gt_boxes"] for entry in steps) / len(steps)
    assert gt_boxes == pytest.approx(7 / 4)
    assert all(entry["grounding/bbox_applicable"] == 1.0 for entry in steps)
    # Boxes near the ground truth score well only if the reward compared against the
    # right row's boxes; a missing or shuffled ground truth would give None or ~0.
    mean_bbox = sum(entry["rewards/bbox_reward/mean"] for entry in steps) / len(steps)
    assert mean_bbox > 0.3
    assert all(entry["grounding/pred_boxes"] > 0 for entry in steps)


def _row_of(prompt: Any, examples: dict[str, GroundedExample]) -> GroundedExample:
    text = "".join(
        part.get("text") or ""
        for message in prompt
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "text"
    )
    [match] = [ex for ex in examples.values() if text.startswith(ex.question)]
    return match


def test_rewards_inside_trainer_equal_core_functions(run: dict[str, Any]) -> None:
    trainer, config, examples = run["trainer"], run["config"], run["examples"]
    logs = trainer._logs  # the completions table TRL keeps for the last generation batch
    prompts, completions = list(logs["prompt"]), list(logs["completion"])
    assert len(completions) == 4
    for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        example = _row_of(prompt, examples)
        text = completion_text(completion)
        size = tiny_qwen.load_image(SAMPLES[example.id].image).size
        expected = {
            "format_reward": format_reward(text, image_size=size, config=config),
            "option_reward": option_reward(
                text, example.answer, choices=list(example.choices), config=config
            ),
            "bbox_reward": bbox_reward(
                text,
                [list(b) for b in example.boxes],
                gt_labels=list(example.labels),
                image_size=size,
                config=config,
            ),
        }
        for name in NAMES:
            assert logs["rewards"][name][index] == pytest.approx(expected[name]), (name, text)
        assert logs["extra"]["n_gt"][index] == len(example.boxes)


@pytest.mark.parametrize("budget", [(3136, 28 * 28 * 16), (3136, 1003520), (3136, 12845056)])
def test_core_qwen25vl_resize_matches_the_transformers_processor(budget: tuple[int, int]) -> None:
    from grounding_rewards.boxes import qwen25vl_resize

    min_pixels, max_pixels = budget
    tokenizer = tiny_qwen.build_tokenizer(vocab_size=300)
    processor = tiny_qwen.build_processor(tokenizer, min_pixels=min_pixels, max_pixels=max_pixels)
    for sample in tiny_qwen.SAMPLES:
        image = tiny_qwen.load_image(sample.image)
        out = processor.image_processor(images=[image], return_tensors="pt")
        _, grid_h, grid_w = out["image_grid_thw"][0].tolist()
        patch = processor.image_processor.patch_size
        expected = qwen25vl_resize(image.size, min_pixels=min_pixels, max_pixels=max_pixels)
        assert (grid_w * patch, grid_h * patch) == expected, sample.image
