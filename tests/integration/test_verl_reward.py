"""veRL 0.9's reward loop scores hand-built rollouts with ``integrations/verl/reward.py``.

The config is veRL's own ``ppo_trainer.yaml`` composed with the overrides of
``integrations/verl/run_qwen25vl_grpo.sh``; the reward file is loaded by path, as veRL
does. The score must land on each response's last valid token and every extra key
must arrive, for the reward-loop worker, the Ray reward-loop manager and the legacy
batch reward manager.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _tiny_qwen import ROOT, load_module, tiny_qwen

from grounding_rewards import RewardConfig, format_reward, grounding_reward
from grounding_rewards._warn_once import GroundTruthWarning
from grounding_rewards.boxes import from_pixels
from grounding_rewards.verl import SCORE_KEYS, compute_score, config_from_kwargs

REWARD_FILE = ROOT / "integrations" / "verl" / "reward.py"
RUN_SCRIPT = ROOT / "integrations" / "verl" / "run_qwen25vl_grpo.sh"
PREPARE_DATA = ROOT / "integrations" / "verl" / "prepare_data.py"
IMAGE_SIZE = [640, 480]
GT = {
    "answer": "B",
    "choices": ["dog", "cat"],
    "gt_boxes": [[0, 0, 320, 240]],
    "gt_labels": ["cat"],
}


def script_overrides(env: dict[str, str]) -> list[str]:
    """The Hydra overrides of run_qwen25vl_grpo.sh, with its shell variables filled in."""
    text = RUN_SCRIPT.read_text()
    body = text[text.index("python3 -m verl.trainer.main_ppo") : text.rindex('"$@"')]
    overrides = []
    for line in body.splitlines()[1:]:
        item = line.strip().rstrip("\\").strip()
        for name, value in env.items():
            item = item.replace("${" + name + "}", value)
        overrides.append(item.replace('"', ""))
    assert "${" not in " ".join(overrides), overrides
    overrides = [item for item in overrides if item]
    assert len(overrides) > 30, overrides
    return overrides


@pytest.fixture(scope="module")
def reward_config(config: Any) -> RewardConfig:
    kwargs = dict(config.reward.custom_reward_function.reward_kwargs)
    return config_from_kwargs(kwargs)


@pytest.fixture(scope="module")
def rollouts_spec(reward_config: RewardConfig) -> list[tuple[str, Any, dict[str, Any]]]:
    """(response, ground truth as stored in the parquet, extra_info) for four samples."""
    [box] = (
        from_pixels(
            GT["gt_boxes"],
            reward_config.coords,
            IMAGE_SIZE,
            min_pixels=reward_config.min_pixels,
            max_pixels=reward_config.max_pixels,
        )
        .round()
        .astype(int)
        .tolist()
    )
    perfect = f"<think>The <obj>cat</obj><bbox>{box}</bbox> sits.</think><answer>B</answer>"
    return [
        (perfect, json.dumps(GT), {"image_size": IMAGE_SIZE}),
        ("<think>no boxes</think><answer>B</answer>", json.dumps(GT), {"image_size": IMAGE_SIZE}),
        (perfect, {"answer": "B", "image_size": IMAGE_SIZE}, {}),  # a dict, no boxes: bbox n/a
        (
            perfect,
            json.dumps({"answer": "B", "gt_boxes": [[5, 5, 1, 1]]}),
            {"image_size": IMAGE_SIZE},
        ),  # malformed
    ]


def _expected(response: str, truth: Any, extra: dict[str, Any], config: RewardConfig) -> float:
    truth = json.loads(truth) if isinstance(truth, str) else dict(truth)
    if truth.get("gt_boxes") == [[5, 5, 1, 1]]:  # malformed: scored on format alone
        return config.weights["format"] * format_reward(
            response, image_size=extra["image_size"], config=config
        )
    return grounding_reward(
        response,
        answer=truth.get("answer"),
        gt_boxes=truth.get("gt_boxes"),
        gt_labels=truth.get("gt_labels"),
        choices=truth.get("choices"),
        image_size=truth.get("image_size") or extra.get("image_size"),
        config=config,
    ).total


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer")
    tiny_qwen.build_tokenizer().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def config(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import verl
    from hydra import compose, initialize_config_dir

    env = {
        "DATA": str(tmp_path_factory.mktemp("data")),
        "MODEL": str(tokenizer_dir),
        "HERE": str(REWARD_FILE.parent),
        "NNODES": "1",
        "GPUS_PER_NODE": "8",
        "MIN_PIXELS": "3136",
        "MAX_PIXELS": "1003520",
        "EXPERIMENT": "test",
    }
    overrides = [o for o in script_overrides(env) if not o.startswith("reward.num_workers=")]
    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        config = compose("ppo_trainer", overrides=[*overrides, "reward.num_workers=1"])
    # The run script's settings reached the config veRL builds its reward loop from.
    assert config.reward.custom_reward_function.path == str(REWARD_FILE)
    assert config.algorithm.adv_estimator == "grpo"
    assert config.actor_rollout_ref.rollout.name == "vllm"
    return config


@pytest.fixture(scope="module")
def rollouts(tokenizer_dir: Path, rollouts_spec: list[Any]) -> tuple[Any, list[int]]:
    """A DataProto as veRL's rollout leaves it: left-padded prompts, right-padded responses."""
    from tensordict import TensorDict
    from transformers import AutoTokenizer
    from verl import DataProto

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    n, prompt_len, response_len = len(rollouts_spec), 8, 64
    pad = tokenizer.pad_token_id
    prompts = torch.full((n, prompt_len), pad)
    responses = torch.full((n, response_len), pad)
    attention = torch.zeros((n, prompt_len + response_len), dtype=torch.long)
    lengths = []
    for i, (response, _, _) in enumerate(rollouts_spec):
        prompt_ids = tokenizer(f"question {i}")["input_ids"][:prompt_len]
        prompts[i, prompt_len - len(prompt_ids) :] = torch.tensor(prompt_ids)
        attention[i, prompt_len - len(prompt_ids) : prompt_len] = 1
        ids = tokenizer(response)["input_ids"]
        assert len(ids) < response_len
        responses[i, : len(ids)] = torch.tensor(ids)
        attention[i, prompt_len : prompt_len + len(ids)] = 1
        lengths.append(len(ids))
    data = DataProto(
        batch=TensorDict(
            {
                "prompts": prompts,
                "responses": responses,
                "input_ids": torch.cat([prompts, responses], dim=1),
                "attention_mask": attention,
            },
            batch_size=n,
        ),
        non_tensor_batch={
            "data_source": np.array(["grounding_rewards"] * n, dtype=object),
            "reward_model": np.array(
                [{"style": "rule", "ground_truth": truth} for _, truth, _ in rollouts_spec],
                dtype=object,
            ),
            "extra_info": np.array([dict(extra) for _, _, extra in rollouts_spec], dtype=object),
        },
    )
    return data, lengths


def _check(
    rm_scores: torch.Tensor,
    extras: dict[str, Any],
    lengths: list[int],
    spec: list[Any],
    config: RewardConfig,
) -> None:
    assert set(extras) == set(SCORE_KEYS)
    for i, (response, truth, extra) in enumerate(spec):
        expected = _expected(response, truth, extra, config)
        row = rm_scores[i]
        assert row[lengths[i] - 1].item() == pytest.approx(expected)
        others = torch.cat([row[: lengths[i] - 1], row[lengths[i] :]])
        assert torch.count_nonzero(others) == 0
        assert float(extras["score"][i]) == pytest.approx(expected)
    assert list(extras["has_boxes"]) == [1.0, 1.0, 0.0, 0.0]
    assert list(extras["gt_error"]) == [0.0, 0.0, 0.0, 1.0]
    assert list(extras["n_pred"]) == [1, 0, 1, 1]
    assert float(extras["bbox"][0]) == 1.0


def test_reward_loop_worker_scores_the_last_response_token(
    config: Any, rollouts: Any, rollouts_spec: list[Any], reward_config: RewardConfig
) -> None:
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    data, lengths = rollouts
    worker = RewardLoopWorker(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GroundTruthWarning)  # the malformed row (unit-tested)
        outputs = worker.loop.run_until_complete(worker.compute_score_batch(data))
    scores = [output["reward_score"] for output in outputs]
    rm_scores = worker.reward_manager.assemble_rm_scores(data, scores)
    extras = {key: [o["reward_extra_info"][key] for o in outputs] for key in SCORE_KEYS}
    _check(rm_scores, extras, lengths, rollouts_spec, reward_config)


def test_reward_loop_manager_on_ray(
    config: Any, rollouts: Any, rollouts_spec: list[Any], reward_config: RewardConfig
) -> None:
    import ray
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager
    from verl.trainer.ppo.reward import extract_reward

    data, lengths = rollouts
    started_here = not ray.is_initialized()  # another test's cluster is used, not stopped
    if started_here:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        manager = RewardLoopManager(config)
        rewarded = data.union(manager.compute_rm_score(data))
    finally:
        if started_here:
            ray.shutdown()
    rm_scores, extras = extract_reward(rewarded)  # what the trainer reads
    _check(rm_scores, extras, lengths, rollouts_spec, reward_config)


def test_legacy_batch_reward_manager(
    tokenizer_dir: Path,
    rollouts: Any,
    rollouts_spec: list[Any],
    reward_config: RewardConfig,
    config: Any,
) -> None:
    from transformers import AutoTokenizer
    from verl.utils.import_utils import load_extern_object
    from verl.workers.reward_manager.batch import BatchRewardManager

    data, lengths = rollouts
    batch_fn = load_extern_object(module_path=str(REWARD_FILE), object_name="compute_score_batch")
    manager = BatchRewardManager(
        tokenizer=AutoTokenizer.from_pretrained(tokenizer_dir),
        num_examine=0,
        compute_score=batch_fn,
        **dict(config.reward.custom_reward_function.reward_kwargs),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GroundTruthWarning)
        out = manager(data, return_dict=True)
    _check(out["reward_tensor"], out["reward_extra_info"], lengths, rollouts_spec, reward_config)


def test_prepared_parquet_feeds_verl_dataset_and_reward(
    tokenizer_dir: Path, tmp_path: Path, config: Any, reward_config: RewardConfig
) -> None:
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    prepare_data = load_module("prepare_data", PREPARE_DATA)
    assert prepare_data.main(["--smoke", "--out-dir", str(tmp_path)]) == 0
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    dataset = RLHFDataset(
        str(tmp_path / "train.parquet"),
        tokenizer,
        OmegaConf.create({"filter_overlong_prompts": False, "cache_dir": str(tmp_path / "cache")}),
        processor=tiny_qwen.build_processor(tokenizer),
    )
    assert len(dataset) == len(tiny_qwen.SAMPLES)
    reward_kwargs = dict(config.reward.custom_reward_function.reward_kwargs)  # the run script's
    for index in range(len(dataset)):
        item = dataset[index]
        [message] = item["raw_prompt"]
        assert [part["type"] for part in message["content"]] == ["image", "text"]
        image = message["content"][0]
        # veRL resizes with these before the processor: the same budget as the reward's.
        assert (image["min_pixels"], image["max_pixels"]) == (
            reward_config.min_pixels,
            reward_config.max_pixels,
        )
        assert image["image"].size == tuple(item["extra_info"]["image_size"])
        truth = json.loads(item["reward_model"]["ground_truth"])
        # A perfect answer in the model's space (qwen25vl), scored through veRL's stored fields.
        boxes = (
            from_pixels(
                truth["gt_boxes"],
                "qwen25vl",
                image["image"].size,
                min_pixels=reward_config.min_pixels,
                max_pixels=reward_config.max_pixels,
            )
            .round()
            .astype(int)
            .tolist()
        )
        spans = " ".join(
            f"<obj>{label}</obj><bbox>{box}</bbox>"
            for label, box in zip(truth["gt_labels"], boxes, strict=True)
        )
        text = f"<think>{spans}</think><answer>{truth['answer']}</answer>"
        result = compute_score(
            item["data_source"],
            text,
            item["reward_model"]["ground_truth"],
            item["extra_info"],
            **reward_kwargs,
        )
        assert result["format"] == 1.0 and result["accuracy"] == 1.0
        assert result["bbox"] > 0.95  # rounding to whole resized pixels only
        assert result["gt_error"] == 0.0
