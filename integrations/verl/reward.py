"""The reward file veRL loads by path: ``reward.custom_reward_function.path=.../reward.py``.

veRL imports this file with ``importlib`` from its path (not as part of a package), so
it uses absolute imports only; ``grounding-rewards`` must be installed on every node
that runs reward workers. Configure it with ``reward_kwargs`` (any RewardConfig field)::

    reward.custom_reward_function.path=integrations/verl/reward.py
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.coords=qwen25vl

``compute_score`` serves veRL's per-sample reward managers (``naive``, the default,
``dapo``, ``limited``); ``compute_score_batch`` serves the legacy ``batch`` manager
(``reward.custom_reward_function.name=compute_score_batch``).
"""

from grounding_rewards.verl import compute_score, compute_score_batch

__all__ = ["compute_score", "compute_score_batch"]
