"""EasyR1's reward manager scores rollouts with ``integrations/easyr1/reward.py``.

EasyR1 is not on PyPI and installs as a package named ``verl`` (it would replace veRL
here), so this test reimplements, in a few lines, what its published source does
(``verl/workers/reward/function.py`` and ``verl/trainer/main.py`` of hiyouga/EasyR1):
import the reward file by path under ``custom_reward_fn``, read ``REWARD_TYPE``, bind
``reward_function_kwargs`` with ``functools.partial``, decode each response's valid
tokens with ``skip_special_tokens=True``, build ``{"response", "response_length",
"ground_truth"}``, put ``overall`` on the last valid token and average every key
with ``np.mean``. The keyword arguments come from the run script through
``OmegaConf.from_cli`` as EasyR1 parses them. The image resize is EasyR1's
``process_image`` arithmetic, checked against PIL on a real image.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import warnings
from collections import defaultdict
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _tiny_qwen import ROOT, tiny_qwen

from grounding_rewards import RewardConfig
from grounding_rewards.boxes import from_pixels
from grounding_rewards.easyr1 import (
    GroundTruthWarning,
    compute_score,
    easyr1_image_size,
    result_keys,
)

HERE = ROOT / "integrations" / "easyr1"
RUN_SCRIPT = HERE / "run_qwen25vl_grpo.sh"


def load_reward(path: Path, name: str) -> tuple[Any, str]:
    """EasyR1's AutoRewardManager: import by path, REWARD_TYPE, partial(kwargs)."""
    spec = importlib.util.spec_from_file_location("custom_reward_fn", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_reward_fn"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["custom_reward_fn"]
    return getattr(module, name), getattr(module, "REWARD_TYPE", "batch")


def script_kwargs() -> dict[str, Any]:
    """``worker.reward.reward_function_kwargs`` of the run script, as OmegaConf reads them."""
    from omegaconf import OmegaConf

    text = RUN_SCRIPT.read_text()
    env = {"${MIN_PIXELS}": "262144", "${MAX_PIXELS}": "4194304"}
    args = []
    for line in text.splitlines():
        item = line.strip().rstrip("\\").strip()
        if item.startswith("worker.reward.reward_function_kwargs."):
            for name, value in env.items():
                item = item.replace(name, value)
            args.append(item)
    assert len(args) == 3, args
    config = OmegaConf.from_cli(args)
    kwargs = OmegaConf.to_container(config.worker.reward.reward_function_kwargs)
    assert isinstance(kwargs, dict)
    return {str(k): v for k, v in kwargs.items()}


def manager(
    reward_fn: Any, reward_type: str, tokenizer: Any, rollouts: list[tuple[str, Any]]
) -> tuple[torch.Tensor, dict[str, list[float]], list[int]]:
    """compute_reward_batch / compute_reward_sequential over right-padded responses."""
    pad = tokenizer.pad_token_id
    ids = [tokenizer(response)["input_ids"] for response, _ in rollouts]
    width = max(map(len, ids)) + 3
    responses = torch.full((len(ids), width), pad)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        responses[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    lengths = torch.sum(mask, dim=-1)
    inputs = []
    for i in range(len(ids)):
        n = int(lengths[i].item())
        text = tokenizer.decode(responses[i][:n], skip_special_tokens=True)
        inputs.append({"response": text, "response_length": n, "ground_truth": rollouts[i][1]})
    scores = reward_fn(inputs) if reward_type == "batch" else [reward_fn(x) for x in inputs]
    reward_tensor = torch.zeros_like(responses, dtype=torch.float32)
    metrics: dict[str, list[float]] = defaultdict(list)
    for i, score in enumerate(scores):
        reward_tensor[i, int(lengths[i].item()) - 1] = score["overall"]
        for key, value in score.items():
            metrics[key].append(value)
    return reward_tensor, metrics, [int(x) for x in lengths]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tiny_qwen.build_tokenizer()


def _process_image_size(size: tuple[int, int], min_pixels: int, max_pixels: int) -> Any:
    """EasyR1's process_image on a real PIL image (the arithmetic under test)."""
    from PIL import Image

    image = Image.new("RGB", size)
    if image.width * image.height > max_pixels:
        factor = math.sqrt(max_pixels / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    if image.width * image.height < min_pixels:
        factor = math.sqrt(min_pixels / (image.width * image.height))
        image = image.resize((int(image.width * factor), int(image.height * factor)))
    return image.size


@pytest.mark.parametrize("size", [(4000, 3000), (3001, 1999), (256, 200), (640, 480), (511, 513)])
def test_easyr1_image_size_matches_its_process_image(size: tuple[int, int]) -> None:
    assert easyr1_image_size(size) == _process_image_size(size, 262144, 4194304)


@pytest.mark.parametrize(
    ("path", "name"),
    [(HERE / "reward.py", "compute_score"), (HERE / "reward_sequential.py", "compute_score")],
)
def test_reward_manager_with_script_kwargs(tokenizer: Any, path: Path, name: str) -> None:
    kwargs = script_kwargs()
    assert kwargs == {"coords": "qwen25vl", "data_min_pixels": 262144, "data_max_pixels": 4194304}
    fn, reward_type = load_reward(path, name)
    assert reward_type == ("batch" if path.name == "reward.py" else "sequential")
    reward_fn = partial(fn, **kwargs)
    config = RewardConfig(coords="qwen25vl")
    # A 12-Mpx photo: EasyR1 shrinks it to 2364x1773 before the processor's smart-resize,
    # and the model writes boxes in pixels of the processor's output.
    size = (4000, 3000)
    gt = [[400.0, 300.0, 2000.0, 1500.0]]
    seen = easyr1_image_size(size)
    scaled = [
        [v * seen[0] / size[0] if i % 2 == 0 else v * seen[1] / size[1] for i, v in enumerate(box)]
        for box in gt
    ]
    [box] = from_pixels(scaled, "qwen25vl", seen).round().astype(int).tolist()
    [naive] = from_pixels(gt, "qwen25vl", size).round().astype(int).tolist()
    truth = {
        "answer": "B",
        "choices": ["dog", "cat"],
        "gt_boxes": gt,
        "gt_labels": ["cat"],
        "image_size": list(size),
    }
    rollouts = [
        (
            f"<think>The <obj>cat</obj><bbox>{box}</bbox>.</think><answer>B</answer>",
            json.dumps(truth),
        ),
        (f"<think>The <obj>cat</obj><bbox>{naive}</bbox>.</think><answer>B</answer>", truth),
        ("<think>no box</think><answer>A</answer>", json.dumps({"answer": "B"})),
        ("<answer>B</answer>", json.dumps({"answer": "B", "gt_boxes": [[5, 5, 1, 1]]})),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GroundTruthWarning)  # the malformed row (unit-tested)
        reward_tensor, metrics, lengths = manager(reward_fn, reward_type, tokenizer, rollouts)
    keys = result_keys(config)
    assert set(metrics) == set(keys)
    assert all(len(values) == len(rollouts) for values in metrics.values())
    for i, n in enumerate(lengths):
        assert reward_tensor[i, n - 1].item() == pytest.approx(metrics["overall"][i])
        assert torch.count_nonzero(reward_tensor[i]) <= 1
    assert metrics["bbox"][0] == pytest.approx(1.0, abs=0.01)  # through both resizes
    assert metrics["bbox"][1] < 0.5  # boxes for the processor's resize of the original
    assert metrics["overall"][0] == pytest.approx(3.0, abs=0.01)
    assert metrics["bbox"][2] == 0.0 and metrics["accuracy"][2] == 0.0  # n/a -> 0.0
    assert metrics["overall"][3] == 0.0  # malformed ground truth: format alone (fails)
    reduced = {key: np.mean(values) for key, values in metrics.items()}  # reduce_metrics
    assert all(math.isfinite(float(v)) for v in reduced.values())


def test_config_json_and_weights_reach_the_keys() -> None:
    inputs = [
        {
            "response": "<think>x</think><answer>A</answer>",
            "response_length": 3,
            "ground_truth": {"answer": "A"},
        }
    ]
    [out] = compute_score(inputs, config=json.dumps({"weights": {"format": 0.5, "accuracy": 2}}))
    assert out["overall"] == pytest.approx(2.0)  # format 0 (no grounded span) + 2 * 1
    [default] = compute_score(inputs)
    assert list(default) == list(result_keys())
