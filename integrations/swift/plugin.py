"""The ms-swift plugin: ``swift rlhf --rlhf_type grpo --external_plugins .../plugin.py``.

It registers our rewards in ms-swift's ``orms`` table, bound to one RewardConfig:

==========================  ===================================================
``--reward_funcs`` name     reward (class name in ms-swift's logs)
==========================  ===================================================
``grounding_format``        R_format (``FormatORM``)
``grounding_accuracy``      R_accuracy, the option (``OptionORM``)
``grounding_bbox``          R_bbox (``BboxORM``)
``grounding_<component>``   every other component the config weighs (``PointORM``, ...)
``grounding``               the weighted total (``GroundingORM``)
``*_async``                 the same, with ``async def __call__`` (``Async...ORM``)
==========================  ===================================================

Edit ``CONFIG`` below, or set ``GROUNDING_REWARDS_CONFIG`` to a JSON object of
RewardConfig fields (default: pixels); it must match the coordinate space of the exported data.
"""

import json
import os

from swift.rewards import orms

from grounding_rewards import RewardConfig
from grounding_rewards.swift import grounding_orms

CONFIG = RewardConfig(**json.loads(os.environ.get("GROUNDING_REWARDS_CONFIG") or "{}"))

orms.update(grounding_orms(CONFIG))
orms.update(
    {f"{name}_async": cls for name, cls in grounding_orms(CONFIG, asynchronous=True).items()}
)
