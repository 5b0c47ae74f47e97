r"""Check the plugin with ms-swift's own code, without a GPU or a model.

    python integrations/swift/check_plugin.py integrations/swift/plugin.py rows.jsonl \
        grounding_format grounding_accuracy grounding_bbox

imports the plugin as ``--external_plugins`` does, builds the rewards as the GRPO
trainer does (``Class(args=...)``), turns each JSONL row (a dataset row whose
``messages`` end with the assistant's completion) into ms-swift's ``GRPOSample``
and scores them with ms-swift's ``compute_rewards_per_func``. Prints one JSON object:
the reward names ms-swift resolved, and the ``[N, n_funcs]`` reward matrix (NaN as null).
"""

import json
import math
import sys

import torch
from swift.rl_core.data import GRPOSample
from swift.rl_core.grpo_algorithm import compute_rewards_per_func
from swift.rlhf_trainers.utils import resolve_reward_funcs
from swift.utils import import_external_file


def main() -> None:
    plugin, rows_file, *names = sys.argv[1:]
    import_external_file(plugin)  # what --external_plugins does
    funcs, func_names = resolve_reward_funcs(names, args=object())  # Class(args=...)
    with open(rows_file, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    samples = [GRPOSample.from_row(row) for row in rows]
    rewards = compute_rewards_per_func(samples, funcs, None, device=torch.device("cpu"))
    matrix = [[None if math.isnan(v) else v for v in row] for row in rewards.tolist()]
    print(json.dumps({"names": func_names, "rewards": matrix, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
