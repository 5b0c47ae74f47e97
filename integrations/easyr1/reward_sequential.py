"""EasyR1's sequential form of the reward.

    worker.reward.reward_function=integrations/easyr1/reward_sequential.py:compute_score


The same reward as ``reward.py``, called once per response (``REWARD_TYPE`` is
"sequential"); use it when another sequential reward is combined with ours.
"""

from grounding_rewards.easyr1 import REWARD_NAME
from grounding_rewards.easyr1 import compute_score_sequential as compute_score

REWARD_TYPE = "sequential"

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]
