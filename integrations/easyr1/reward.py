"""The reward file EasyR1 loads by path.

    worker.reward.reward_function=integrations/easyr1/reward.py:compute_score


EasyR1 imports this file with ``importlib`` (not as part of a package), reads
``REWARD_TYPE`` ("batch": one call per batch) and binds
``worker.reward.reward_function_kwargs`` to the function: any RewardConfig field
(``coords``, ``weights``, ``min_pixels``, ...), ``config`` (a dict or JSON of them),
and ``data_min_pixels`` / ``data_max_pixels`` (EasyR1's own ``data.min_pixels`` /
``data.max_pixels``, needed with ``coords=qwen25vl``). ``grounding-rewards`` must be
installed on every node that runs reward workers.
"""

from grounding_rewards.easyr1 import REWARD_NAME, compute_score

REWARD_TYPE = "batch"

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]
