# ruff: noqa: F811  (the fixtures imported from test_verl_reward are test arguments here)
"""veRL 0.9.1's GDPO and async paths with our per-component dict.

The reward loop (veRL's ``RewardLoopWorker``) runs ``compute_score_async`` through the
``gdpo`` and ``rate_limited`` managers; GDPO's own advantage function
(``compute_gdpo_outcome_advantage``) then normalizes each component key separately,
``gdpo_reward_keys`` being the registry's names for the config.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from test_verl_reward import (  # noqa: F401  (fixtures shared with the veRL reward test)
    config,
    reward_config,
    rollouts,
    rollouts_spec,
    tokenizer_dir,
)

from grounding_rewards import RewardConfig
from grounding_rewards._warn_once import GroundTruthWarning
from grounding_rewards.components import active_components

VERL_FILE = __import__("grounding_rewards.verl", fromlist=["x"]).__file__


def _run(config: Any, data: Any, manager: str) -> list[dict[str, Any]]:
    from omegaconf import OmegaConf
    from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

    config = OmegaConf.create(OmegaConf.to_container(config, resolve=False))
    config.reward.custom_reward_function.path = VERL_FILE
    config.reward.custom_reward_function.name = "compute_score_async"
    config.reward.reward_manager.name = manager
    worker = RewardLoopWorker(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GroundTruthWarning)
        outputs: list[dict[str, Any]] = worker.loop.run_until_complete(
            worker.compute_score_batch(data)
        )
    return outputs


@pytest.mark.parametrize("manager", ["gdpo", "rate_limited"])
def test_async_compute_score_through_reward_loop_managers(
    config: Any, rollouts: Any, reward_config: RewardConfig, manager: str
) -> None:
    data, _ = rollouts
    outputs = _run(config, data, manager)
    names = [c.name for c in active_components(reward_config)]
    for output in outputs:
        assert set(names) <= set(output["reward_extra_info"])
        assert output["reward_score"] == output["reward_extra_info"]["score"]
    assert outputs[0]["reward_extra_info"]["bbox"] == 1.0


def test_gdpo_normalizes_each_component(
    config: Any, rollouts: Any, reward_config: RewardConfig
) -> None:
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo import core_algos

    data, lengths = rollouts
    outputs = _run(config, data, "gdpo")
    keys = [c.name for c in active_components(reward_config)]
    non_tensor = {
        key: np.array([o["reward_extra_info"][key] for o in outputs], dtype=object) for key in keys
    }
    n, response_len = data.batch["responses"].shape
    mask = data.batch["attention_mask"][:, -response_len:].float()
    scores = torch.zeros((n, response_len))
    for i, output in enumerate(outputs):
        scores[i, lengths[i] - 1] = output["reward_score"]
    algo = AlgoConfig(adv_estimator="gdpo", gdpo_reward_keys=keys)
    index = np.array(["g"] * n, dtype=object)  # one group of four responses
    advantages, _ = core_algos.compute_gdpo_outcome_advantage(
        token_level_rewards=scores,
        response_mask=mask,
        index=index,
        config=algo,
        non_tensor_batch=non_tensor,
        batch=data.batch,
    )
    assert advantages.shape == (n, response_len)
    assert torch.isfinite(advantages).all()
    per_response = [advantages[i, lengths[i] - 1].item() for i in range(n)]
    # The perfect response (every key best in the group) gets the highest advantage.
    assert per_response[0] == max(per_response)
