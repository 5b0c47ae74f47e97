"""GRPO for Qwen2.5-VL with TRL and the grounding rewards (format, option, bbox).

Real run (see README.md for the accelerate launch line)::

    python integrations/trl/grpo_qwen25vl.py --model /models/Qwen2.5-VL-7B-Instruct \
        --dataset data/trl_train --output-dir runs/grpo-7b --use-vllm --use-lora

``--dataset`` is a folder written by ``grounding-rewards export --to trl
--model-family qwen2.5-vl`` (or anything with the same columns). The model writes
boxes in Qwen2.5-VL's resized-pixel space, so the reward uses ``coords="qwen25vl"``
with the same ``--min-pixels`` / ``--max-pixels`` the processor resizes with.

Smoke run on a CPU, no download (a tiny random Qwen2.5-VL, scikit-image pictures)::

    python integrations/trl/grpo_qwen25vl.py --smoke
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tiny_qwen, beside this file

from grounding_rewards import RewardConfig
from grounding_rewards.trl import reward_funcs, reward_weights

REWARD_NAMES = ("format_reward", "option_reward", "bbox_reward")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="Qwen2.5-VL checkpoint: local folder or hub id (3B / 7B)")
    parser.add_argument(
        "--dataset", help="datasets folder from `grounding-rewards export --to trl`"
    )
    parser.add_argument("--output-dir", default="runs/grpo-qwen25vl")
    parser.add_argument("--smoke", action="store_true", help="tiny random model on CPU, 2 steps")
    parser.add_argument(
        "--weights",
        type=float,
        nargs=3,
        default=(1.0, 1.0, 1.0),
        metavar=("FORMAT", "OPTION", "BBOX"),
        help="reward weights",
    )
    parser.add_argument("--min-pixels", type=int, default=3136)
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=1003520,
        help="processor pixel budget; the reward uses the same (default 28*28*1280)",
    )
    parser.add_argument("--similarity", default="iou", choices=("iou", "giou", "diou", "ciou"))
    parser.add_argument("--num-generations", type=int, default=8)
    parser.add_argument("--per-device-batch-size", type=int, default=8)
    parser.add_argument("--gradient-accumulation-steps", type=int, default=2)
    parser.add_argument("--max-completion-length", type=int, default=1024)
    parser.add_argument("--learning-rate", type=float, default=1e-6)
    parser.add_argument(
        "--beta", type=float, default=0.0, help="KL coefficient (0: no reference model)"
    )
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--num-train-epochs", type=float, default=1.0)
    parser.add_argument("--attn-implementation", default="sdpa")
    parser.add_argument("--use-lora", action="store_true", help="train LoRA adapters (peft)")
    parser.add_argument("--lora-r", type=int, default=64)
    parser.add_argument("--lora-alpha", type=int, default=128)
    parser.add_argument("--use-vllm", action="store_true", help="generate with vLLM")
    parser.add_argument("--vllm-mode", default="colocate", choices=("colocate", "server"))
    parser.add_argument("--vllm-gpu-memory-utilization", type=float, default=0.35)
    parser.add_argument("--report-to", default="none")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.smoke and not (args.model and args.dataset):
        parser.error("expected --model and --dataset (or --smoke)")
    return args


def lora_config(args: argparse.Namespace) -> Any:
    from peft import LoraConfig

    # The language model's projections only: the vision tower stays frozen, as in the
    # usual Qwen2.5-VL RL recipes (its grounding ability comes from pre-training).
    return LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=0.05,
        target_modules=r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)",
        task_type="CAUSAL_LM",
    )


def grpo_config(args: argparse.Namespace, reward: RewardConfig, **overrides: Any) -> Any:
    from trl import GRPOConfig

    options: dict[str, Any] = {
        "output_dir": args.output_dir,
        "per_device_train_batch_size": args.per_device_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "num_generations": args.num_generations,
        "max_completion_length": args.max_completion_length,
        "learning_rate": args.learning_rate,
        "beta": args.beta,
        "max_steps": args.max_steps,
        "num_train_epochs": args.num_train_epochs,
        "reward_weights": reward_weights(reward),
        "logging_steps": 1,
        "report_to": args.report_to,
        "seed": args.seed,
        "bf16": not args.smoke,
        "gradient_checkpointing": not args.smoke,
        "log_completions": not args.smoke,
        "use_vllm": args.use_vllm,
    }
    if args.use_vllm:
        options.update(
            vllm_mode=args.vllm_mode, vllm_gpu_memory_utilization=args.vllm_gpu_memory_utilization
        )
    options.update(overrides)
    return GRPOConfig(**options)


def real_run(args: argparse.Namespace) -> Any:
    import datasets
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration
    from trl import GRPOTrainer

    reward = RewardConfig(
        coords="qwen25vl",
        min_pixels=args.min_pixels,
        max_pixels=args.max_pixels,
        weights=tuple(args.weights),
        similarity=args.similarity,
    )
    processor = AutoProcessor.from_pretrained(
        args.model, min_pixels=args.min_pixels, max_pixels=args.max_pixels
    )
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        args.model, dtype=torch.bfloat16, attn_implementation=args.attn_implementation
    )
    dataset = datasets.load_from_disk(args.dataset)
    trainer = GRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=reward_funcs(reward),
        args=grpo_config(args, reward),
        train_dataset=dataset,
        peft_config=lora_config(args) if args.use_lora else None,
    )
    trainer.train()
    trainer.save_model(args.output_dir)
    return trainer


def smoke_dataset(workdir: Path, reward: RewardConfig) -> Any:
    """Export the tiny_qwen samples through ``grounding_rewards.export`` (as a user would)."""
    import tiny_qwen

    from grounding_rewards.export import to_trl_dataset
    from grounding_rewards.export_schema import read_examples

    source = tiny_qwen.write_samples(workdir)
    return to_trl_dataset(read_examples(source), config=reward, cache_dir=workdir / "cache")


def smoke_run(
    args: argparse.Namespace,
    *,
    max_steps: int = 2,
    wrap: Any = None,
    callbacks: tuple[Any, ...] = (),
    workdir: Path | None = None,
) -> dict[str, Any]:
    """CPU: tiny random Qwen2.5-VL, warm-started on grounded traces, ``max_steps`` GRPO steps.

    ``wrap`` maps the list of reward functions to what the trainer gets (benchmarks
    wrap them in timers); ``callbacks`` go to the trainer; ``workdir`` holds the
    exported data (default: a new temporary folder).
    """
    import tiny_qwen
    import torch
    from trl import GRPOTrainer

    from grounding_rewards.export import instruction

    torch.set_num_threads(1)  # a model this small runs fastest on one thread
    # The tiny model is taught traces in original-image pixels; a real Qwen2.5-VL uses qwen25vl.
    reward = RewardConfig(weights=tuple(args.weights), similarity=args.similarity)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="grpo-smoke-"))
    dataset = smoke_dataset(workdir, reward)
    if max_steps > 2:  # one epoch is 2 steps of 2 prompts
        from datasets import concatenate_datasets

        dataset = concatenate_datasets([dataset] * -(-max_steps // 2))
    tokenizer = tiny_qwen.build_tokenizer(extra_corpus=[instruction(reward, image_size=(512, 512))])
    processor = tiny_qwen.build_processor(tokenizer)
    model = tiny_qwen.build_model(tokenizer)
    samples = {sample.image: sample for sample in tiny_qwen.SAMPLES}
    rng = random.Random(args.seed + 1)
    targets = [
        (row["prompt"], row["image"], tiny_qwen.grounded_trace(samples[row["id"]], rng))
        for row in dataset.select(range(len(tiny_qwen.SAMPLES)))
    ]
    start = time.perf_counter()
    losses = tiny_qwen.warm_start(model, processor, targets, steps=100, lr=5e-3, seed=args.seed)
    print(
        f"warm start: loss {losses[0]:.2f} -> {losses[-1]:.3f} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    config = grpo_config(
        args,
        reward,
        output_dir=str(workdir / "out"),
        per_device_train_batch_size=4,
        num_generations=2,
        gradient_accumulation_steps=1,
        max_completion_length=64,
        max_steps=max_steps,
        learning_rate=1e-5,
        temperature=0.7,
        use_cpu=True,
        save_strategy="no",
        use_vllm=False,
    )
    funcs = reward_funcs(reward)
    trainer = GRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=wrap(funcs) if wrap else funcs,
        args=config,
        train_dataset=dataset,
        callbacks=list(callbacks),
        peft_config=lora_config(args) if args.use_lora else None,
    )
    trainer.train()
    steps = [e for e in trainer.state.log_history if "rewards/bbox_reward/mean" in e]
    for entry in steps:
        means = "  ".join(f"{name}={entry[f'rewards/{name}/mean']:.3f}" for name in REWARD_NAMES)
        print(
            f"step {entry['step']}: {means}  reward={entry['reward']:.3f}  "
            f"step_time={entry.get('step_time', float('nan')):.2f}s"
        )
    ok = len(steps) == max_steps and all(
        math.isfinite(e[f"rewards/{name}/mean"]) for e in steps for name in REWARD_NAMES
    )
    print("smoke run:", "OK" if ok else "FAILED")
    return {"ok": ok, "steps": steps, "trainer": trainer, "reward": reward, "losses": losses}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.smoke:
        return 0 if smoke_run(args)["ok"] else 1
    real_run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
