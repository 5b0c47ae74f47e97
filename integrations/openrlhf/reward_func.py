"""The reward file OpenRLHF loads by path: ``--reward.remote_url .../reward_func.py``.

OpenRLHF imports this file with ``importlib`` and calls its ``reward_func(queries,
prompts, labels)``. The reward configuration is read once, at import, from the
``GROUNDING_REWARDS_CONFIG`` environment variable (a JSON object of RewardConfig
fields, e.g. ``{"coords": "qwen25vl", "max_pixels": 1003520}``; unset: the defaults,
pixel coordinates). Set it in Ray's runtime environment so every worker sees it.
"""

import os

from grounding_rewards.openrlhf import RewardFunc

reward_func = RewardFunc(os.environ.get("GROUNDING_REWARDS_CONFIG") or None)

__all__ = ["reward_func"]
