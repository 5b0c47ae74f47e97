"""GPU check: a few TRL GRPO steps with the grounding rewards; step time and reward share.

Runs offline on one CUDA GPU in well under 5 minutes: the policy is a randomly
initialised Qwen2.5-VL of a few hundred million parameters built from a config
(``integrations/trl/tiny_qwen.py``, preset ``gpu``), the tokenizer is trained on the
spot, and the images ship with scikit-image. Prints one JSON object: device, model
size, per-step wall time, time in the reward functions and its share of the step, and
the checks it made. It exits 1 when a check fails: a non-finite loss, a reward outside
[0, 1] (each component) or outside [0, sum of weights] (the total), a step without
logged rewards, or rewards taking more than ``--max-reward-share`` percent of a step.

    python integrations/gpu_check.py                 # on a GPU machine
    python integrations/gpu_check.py --cpu-dry-run   # same code path, tiny model, CPU

The random model writes random text up to ``--max-completion-length`` tokens, which
is what the rewards then parse: long, tag-free completions, a fair stand-in for the
parser's cost early in training.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "trl"))  # tiny_qwen, timed_rewards, grpo_qwen25vl


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=5, help="GRPO steps (the first is warm-up)")
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--max-completion-length", type=int, default=256)
    parser.add_argument("--preset", default="gpu", choices=("tiny", "gpu"))
    parser.add_argument(
        "--cpu-dry-run",
        action="store_true",
        help="run on the CPU with the tiny preset and 2 short steps (checks the script)",
    )
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--max-reward-share",
        type=float,
        default=5.0,
        help="fail when the reward functions take more than this percent of a step (5)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import grpo_qwen25vl
    import tiny_qwen
    import torch
    from timed_rewards import StepTimer, TimedReward, summarize
    from trl import GRPOConfig, GRPOTrainer

    from grounding_rewards import RewardConfig
    from grounding_rewards.export import instruction
    from grounding_rewards.trl import reward_funcs, reward_weights

    cuda = torch.cuda.is_available() and not args.cpu_dry_run
    if not cuda and not args.cpu_dry_run:
        raise SystemExit(
            "gpu_check: no CUDA device; use --cpu-dry-run to check the script on a CPU"
        )
    if args.cpu_dry_run:
        args.preset, args.steps, args.max_completion_length = "tiny", 2, 32
        args.num_generations, args.prompts_per_step = 2, 2
        torch.set_num_threads(1)
    started = time.perf_counter()
    reward = RewardConfig()
    workdir = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    dataset = grpo_qwen25vl.smoke_dataset(workdir, reward)
    repeats = -(-args.prompts_per_step * args.steps // len(dataset))  # each step sees new prompts
    from datasets import concatenate_datasets

    dataset = concatenate_datasets([dataset] * repeats)
    tokenizer = tiny_qwen.build_tokenizer(extra_corpus=[instruction(reward, image_size=(512, 512))])
    processor = tiny_qwen.build_processor(tokenizer)
    model = tiny_qwen.build_model(tokenizer, preset=args.preset)
    params = sum(p.numel() for p in model.parameters())
    timed = [TimedReward(f) for f in reward_funcs(reward)]
    timer = StepTimer()
    config = GRPOConfig(
        output_dir=str(workdir / "out"),
        per_device_train_batch_size=args.prompts_per_step * args.num_generations,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        max_steps=args.steps,
        learning_rate=1e-6,
        logging_steps=1,
        reward_weights=reward_weights(reward),
        report_to="none",
        save_strategy="no",
        bf16=cuda,
        use_cpu=not cuda,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=timed,
        args=config,
        train_dataset=dataset,
        callbacks=[timer],
    )
    trainer.train()
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu (dry run)",
        "torch": torch.__version__,
        "preset": args.preset,
        "parameters_millions": round(params / 1e6, 1),
        "max_completion_length": args.max_completion_length,
        **summarize(timed, timer, skip_first=1 if args.steps > 1 else 0),
        "trl_step_time_s": [e["step_time"] for e in trainer.state.log_history if "step_time" in e],
        "mean_completion_length": [
            e["completions/mean_length"]
            for e in trainer.state.log_history
            if "completions/mean_length" in e
        ],
        "total_s": time.perf_counter() - started,
        "losses": [e["loss"] for e in trainer.state.log_history if "loss" in e],
        "reward_means": {
            name: [e[f"rewards/{name}/mean"] for e in trainer.state.log_history if "reward" in e]
            for name in grpo_qwen25vl.REWARD_NAMES
        },
        "reward_totals": [e["reward"] for e in trainer.state.log_history if "reward" in e],
        "reward_weight_sum": float(sum(reward_weights(reward))),
        "steps": args.steps,
    }
    return result


def check(result: dict[str, Any], max_reward_share: float | None) -> list[str]:
    """What is wrong with a run's measurements (empty when every check passes).

    ``max_reward_share`` is ``None`` on a CPU dry run: the tiny model's step is so cheap
    that the rewards' share of it says nothing about a real run.

    Example:
        >>> ok = {"losses": [0.1], "reward_means": {"bbox_reward": [0.5]}, "steps": 1,
        ...       "reward_totals": [1.5], "reward_weight_sum": 3.0, "reward_share_percent": 1.0}
        >>> check(ok, 5.0)
        []
        >>> bad = {**ok, "losses": [float("nan")], "reward_share_percent": 9.0}
        >>> check(bad, 5.0)  # doctest: +NORMALIZE_WHITESPACE
        ['loss: expected finite values, got [nan]',
         'reward share: expected <= 5.0% of a step, got 9.0%']
    """
    failures = []
    losses = result["losses"]
    if len(losses) != result["steps"] or not all(math.isfinite(v) for v in losses):
        failures.append(f"loss: expected finite values, got {losses}")
    for name, values in result["reward_means"].items():
        if len(values) != result["steps"] or not all(
            math.isfinite(v) and 0.0 <= v <= 1.0 for v in values
        ):
            failures.append(f"{name}: expected one mean in [0, 1] per step, got {values}")
    top = result["reward_weight_sum"]
    totals = result["reward_totals"]
    if not all(math.isfinite(v) and 0.0 <= v <= top for v in totals):
        failures.append(f"reward: expected totals in [0, {top}], got {totals}")
    share = result["reward_share_percent"]
    if max_reward_share is not None and not (math.isfinite(share) and share <= max_reward_share):
        failures.append(
            f"reward share: expected <= {max_reward_share}% of a step, got {share:.1f}%"
        )
    return failures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    failures = check(result, None if args.cpu_dry_run else args.max_reward_share)
    result["checks"] = {"passed": not failures, "failures": failures}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    for failure in failures:
        print(f"gpu_check: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
