"""End to end on a CPU: toy world -> synthesis -> export -> SFT -> GRPO (ours vs naive) -> evaluate.

    ./dev learn [--seeds N] [--out DIR]          # what CI machines run (2 CPU cores)
    python integrations/learn/run.py --quick     # a few steps of everything (the test)

For each seed: a tiny Qwen2.5-VL (``integrations/trl/tiny_qwen.py``) is warm-started by a
short SFT on the synthesized grounded traces, evaluated on held-out images, then trained
by GRPO (TRL ``GRPOTrainer``) twice from that same checkpoint and seed: with our reward
functions, and with a naive box reward in place of ours. Writes ``DIR/summary.json``,
``DIR/curves.png`` and, per run, the rollouts, metrics and HTML report of the final
evaluation (``DIR/seed-S/<reward>/report.html``). See ``docs/learning.md``.

``--model PATH`` loads a real Qwen2.5-VL checkpoint from a local folder instead of the
tiny model (nothing downloads), and ``--use-vllm`` lets TRL generate with vLLM: the GPU
path, unchecked on CPU machines.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "trl")]  # world, data, ...; tiny_qwen

import data  # noqa: E402
import evaluation  # noqa: E402
import grpo  # noqa: E402
import plot  # noqa: E402
import sft  # noqa: E402

from grounding_rewards import RewardConfig  # noqa: E402
from grounding_rewards.export import instruction  # noqa: E402

REWARDS = ("ours", "naive")
# What the SFT start depends on: a later run with the same values reuses it (``--fresh-sft``).
SFT_KEYS = (
    "world_seed",
    "objects",
    "specks",
    "sft_images",
    "grpo_images",
    "eval_images",
    "sft_steps",
    "sft_batch",
    "sft_lr",
    "sft_seed",
    "sft_restate",
    "sft_guess",
    "vocab_size",
    "max_completion_length",
)
CURVE_KEYS = {
    "reward": "reward",
    "format_reward": "rewards/format_reward/mean",
    "option_reward": "rewards/option_reward/mean",
    "bbox_reward": "rewards/bbox_reward/mean",
    "naive_bbox_reward": "rewards/naive_bbox_reward/mean",
    "pred_boxes": "grounding/pred_boxes",
    "zero_std_groups": "frac_reward_zero_std",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=1, help="GRPO seeds 0..N-1 (default 1)")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="start the GRPO seeds here (S..S+N-1)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/learn"))
    parser.add_argument("--world-seed", type=int, default=0)
    parser.add_argument("--objects", type=int, default=1, help="shapes per image")
    parser.add_argument("--specks", type=int, default=0, help="distractor specks per image")
    parser.add_argument("--sft-images", type=int, default=1500)
    parser.add_argument("--grpo-images", type=int, default=300)
    parser.add_argument("--eval-images", type=int, default=480, help="held out (>= 200)")
    parser.add_argument("--sft-steps", type=int, default=1500)
    parser.add_argument("--sft-batch", type=int, default=32)
    parser.add_argument("--sft-lr", type=float, default=2e-3)
    parser.add_argument(
        "--sft-seed", type=int, default=0, help="one SFT start, shared by every GRPO seed"
    )
    parser.add_argument(
        "--sft-restate",
        type=float,
        default=0.0,
        help="share of SFT rationales that name the shape a second time (a second box)",
    )
    parser.add_argument(
        "--sft-guess",
        type=float,
        default=0.0,
        help="share of SFT rationales that add a second box at a random place (a hedge)",
    )
    parser.add_argument("--grpo-steps", type=int, default=150)
    parser.add_argument("--grpo-lr", type=float, default=1e-4)
    parser.add_argument(
        "--grpo-schedule",
        default="constant",
        help="GRPO learning-rate schedule (a transformers name: constant, linear, cosine)",
    )
    parser.add_argument(
        "--reward-weights",
        default="1,1,2",
        help="GRPO weights of format, accuracy and the box reward (default 1,1,2)",
    )
    parser.add_argument(
        "--rewards",
        default=",".join(REWARDS),
        help="comma-separated GRPO runs per seed, in order (default: ours,naive)",
    )
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--prompts-per-step", type=int, default=2)
    parser.add_argument("--max-completion-length", type=int, default=48)
    parser.add_argument("--vocab-size", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--fresh-sft", action="store_true", help="redo the SFT even if DIR/sft holds a match"
    )
    parser.add_argument("--model", help="local Qwen2.5-VL checkpoint folder (GPU path)")
    parser.add_argument("--use-vllm", action="store_true", help="TRL generates with vLLM")
    parser.add_argument(
        "--quick", action="store_true", help="a few steps of everything (the test suite's run)"
    )
    args = parser.parse_args(argv)
    args.rewards = tuple(r.strip() for r in args.rewards.split(",") if r.strip())
    unknown = sorted(set(args.rewards) - set(REWARDS))
    if unknown or not args.rewards:
        parser.error(f"--rewards: expected some of {', '.join(REWARDS)}, got {unknown or 'none'}")
    try:
        args.reward_weights = RewardConfig(weights=args.reward_weights.split(",")).weights
    except ValueError as error:
        parser.error(f"--reward-weights: {error}")
    if args.quick:
        args.sft_images, args.grpo_images, args.eval_images = 24, 8, 12
        args.sft_steps, args.sft_batch, args.grpo_steps = 30, 8, 2
        args.max_completion_length, args.generations = 40, 4
    return args


def log(message: str) -> None:
    print(f"[learn {time.strftime('%H:%M:%S')}] {message}", flush=True)


def curves(entries: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per-step series from TRL's log entries (NaN where a step did not log a key)."""
    return {
        name: [float(e.get(key, math.nan)) for e in entries] for name, key in CURVE_KEYS.items()
    }


def load_model(args: argparse.Namespace, corpus: list[str], seed: int) -> tuple[Any, Any, Any]:
    """The tiny model (random init, seeded) or a real checkpoint given by ``--model``."""
    if args.model is None:
        return sft.build(corpus, vocab_size=args.vocab_size, seed=seed)
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    processor = AutoProcessor.from_pretrained(args.model)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        args.model, dtype=torch.bfloat16 if torch.cuda.is_available() else torch.float32
    )
    if torch.cuda.is_available():
        model = model.cuda()
    return processor.tokenizer, processor, model


def evaluate_model(
    model: Any, processor: Any, dataset: Any, folder: Path, args: argparse.Namespace, **kw: Any
) -> dict[str, Any]:
    completions = sft.generate(model, processor, dataset, max_new_tokens=args.max_completion_length)
    return evaluation.evaluate(folder, dataset, completions, **kw)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinity replaced by ``None`` (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def fmt(metrics: dict[str, Any]) -> str:
    keys = ("miou", "acc50", "answer_accuracy", "format_validity", "boxes_per_completion")
    shown = {k: math.nan if metrics.get(k) is None else metrics[k] for k in metrics}
    return (
        "  ".join(f"{k}={shown[k]:.3f}" for k in keys)
        + f"  area={shown['area_ratio']:.2f}  precision50={shown['precision50']:.3f}"
    )


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and spread (sample standard deviation, min, max) per reward, of after - before too."""
    table: dict[str, Any] = {}
    for reward in REWARDS:
        mine = [r for r in runs if r["reward"] == reward]
        if not mine:
            continue
        row: dict[str, Any] = {"seeds": [r["seed"] for r in mine]}
        for key in (
            "miou",
            "acc50",
            "answer_accuracy",
            "boxes_per_completion",
            "area_ratio",
            "precision50",
            "bbox_reward",
        ):
            for phase in ("before", "after", "delta"):
                values = [
                    r["after"][key] - r["before"][key] if phase == "delta" else r[phase][key]
                    for r in mine
                ]
                values = [v for v in values if math.isfinite(v)] or [math.nan]
                row[f"{key}_{phase}"] = {
                    "mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                    "min": min(values),
                    "max": max(values),
                }
        table[reward] = row
    return table


def sft_targets(
    args: argparse.Namespace, world_data: data.Data, reward: RewardConfig
) -> tuple[list[str], dict[str, str]]:
    """The tokenizer's corpus and each SFT question's target (``--sft-restate`` and
    ``--sft-guess`` applied)."""
    rationale = {
        e.id: data.guess(
            data.restate(e.rationale or "", e.id, args.sft_restate), e.id, args.sft_guess
        )
        for e in world_data.examples["sft"]
    }
    corpus = [instruction(reward, image_size=(112, 112))] * 5
    for example in world_data.examples["sft"]:
        options = "\n".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(example.choices))
        corpus += [rationale[example.id], f"{example.question}\n{options}"]
    return corpus, rationale


def warm_start(
    args: argparse.Namespace, world_data: data.Data, reward: RewardConfig
) -> tuple[Any, Any, dict[str, Any], dict[str, Any]]:
    """Tokenizer, processor, the SFT checkpoint (a state dict) and its held-out metrics."""
    import torch

    corpus, rationale = sft_targets(args, world_data, reward)
    tokenizer, processor, model = load_model(args, corpus, args.sft_seed)
    sft_set = world_data.datasets["sft"]
    timing: dict[str, float] = {}
    folder = args.out / "sft"
    key = {k: str(getattr(args, k)) for k in SFT_KEYS}
    cached = _cached_start(model, processor, world_data.datasets["eval"], folder, key, args)
    if cached is not None:
        log(
            f"SFT: reused {folder / 'model.pt'} (same data and SFT settings; --fresh-sft redoes it)"
        )
        log(f"after SFT    {fmt(cached['before'])}")
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return model, processor, state, cached
    if args.sft_steps > 0:
        t0 = time.perf_counter()
        encoded = sft.encode_rows(processor, sft_set, [rationale[i] for i in sft_set["id"]])
        log(f"SFT: {args.sft_steps} steps of {args.sft_batch} on {len(sft_set)} traces")

        def progress(step: int, loss: float) -> None:
            if step % 100 == 0 or step == args.sft_steps:
                log(f"  sft step {step}: loss {loss:.3f} ({time.perf_counter() - t0:.0f} s)")

        sft.sft(
            model,
            encoded,
            pad_id=tokenizer.pad_token_id,
            steps=args.sft_steps,
            batch_size=args.sft_batch,
            lr=args.sft_lr,
            seed=args.sft_seed,
            log=progress,
        )
        timing["sft_s"] = time.perf_counter() - t0
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "model.pt")  # the shared start, reused by a later run
    before = evaluate_model(
        model, processor, world_data.datasets["eval"], folder, args, report=True
    )
    log(f"after SFT    {fmt(before)}")
    start = {"before": before, "timing": timing}
    (folder / "start.json").write_text(json.dumps(finite({"key": key, **start})) + "\n")
    return model, processor, state, start


def _cached_start(
    model: Any,
    processor: Any,
    held_out: Any,
    folder: Path,
    key: dict[str, str],
    args: argparse.Namespace,
) -> dict[str, Any] | None:
    """The SFT start of an earlier run with the same settings, loaded into ``model``.

    It is reused only if its held-out evaluation reproduces exactly (same tokenizer, same
    weights); otherwise ``None`` and the SFT runs again.
    """
    import torch

    marker = folder / "start.json"
    if args.fresh_sft or args.model is not None or not marker.exists():
        return None
    saved = json.loads(marker.read_text())
    if saved.get("key") != key or not (folder / "model.pt").exists():
        return None
    try:
        model.load_state_dict(torch.load(folder / "model.pt"))
    except (RuntimeError, KeyError):
        return None
    before = evaluate_model(model, processor, held_out, folder, args, report=True)
    if finite(before) != saved["before"]:
        return None
    return {"before": before, "timing": saved.get("timing", {})}


def main(argv: list[str] | None = None) -> int:
    import datasets
    import torch
    import transformers

    args = parse_args(argv)
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    torch.set_num_threads(args.threads)  # a model this small runs fastest on one thread
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    reward = RewardConfig()  # pixel coordinates of the 112x112 image, the defaults
    cpu = not torch.cuda.is_available()
    log(f"data: world seed {args.world_seed}, synthesis with the offline backend")
    world_data = data.make_data(
        args.out / "data",
        images={"sft": args.sft_images, "grpo": args.grpo_images, "eval": args.eval_images},
        world_seed=args.world_seed,
        objects=args.objects,
        specks=args.specks,
        reward=reward,
        log=log,
    )
    model, processor, state, start = warm_start(args, world_data, reward)
    summary: dict[str, Any] = {
        "config": {k: str(v) for k, v in vars(args).items()},
        "sft": start,
        "runs": [],
    }
    # Every seed with our rewards first, then the naive runs: a run cut short still holds
    # the main result. Each run starts from the same SFT state with its own seed.
    for name in args.rewards:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            model.load_state_dict(state)
            t0 = time.perf_counter()

            def step_log(
                entry: dict[str, Any], name: str = name, seed: int = seed, t0: float = t0
            ) -> None:
                if entry["step"] % 20 == 0 or entry["step"] == args.grpo_steps:
                    log(
                        f"  grpo[{name} seed {seed}] step {entry['step']}: "
                        f"reward {entry['reward']:.3f}  "
                        f"bbox {entry.get('rewards/bbox_reward/mean', math.nan):.3f}  "
                        f"naive {entry.get('rewards/naive_bbox_reward/mean', math.nan):.3f}  "
                        f"boxes {entry.get('grounding/pred_boxes', math.nan):.2f}  "
                        f"({time.perf_counter() - t0:.0f} s)"
                    )

            folder = args.out / f"seed-{seed}" / name
            entries = grpo.grpo(
                model,
                processor,
                world_data.datasets["grpo"],
                reward=name,
                config=reward.replace(weights=args.reward_weights),
                out=folder / "trainer",
                steps=args.grpo_steps,
                seed=seed,
                lr=args.grpo_lr,
                schedule=args.grpo_schedule,
                prompts_per_step=args.prompts_per_step,
                generations=args.generations,
                max_completion_length=args.max_completion_length,
                use_vllm=args.use_vllm,
                cpu=cpu,
                on_step=step_log,
            )
            grpo_s = time.perf_counter() - t0
            after = evaluate_model(
                model, processor, world_data.datasets["eval"], folder, args, report=True
            )
            log(f"GRPO {name:5s} seed {seed}  {fmt(after)}")
            summary["runs"].append(
                {
                    "reward": name,
                    "seed": seed,
                    "before": start["before"],
                    "after": after,
                    "curves": curves(entries),
                    "grpo_s": grpo_s,
                    "report": str(folder / "report.html"),
                }
            )
            summary["aggregate"] = aggregate(summary["runs"])
            summary["wall_s"] = time.perf_counter() - started
            (args.out / "summary.json").write_text(
                json.dumps(finite(summary), indent=2, allow_nan=False) + "\n"
            )
            plot.plot_curves(summary["runs"], args.out / "curves.png")
    for name, row in summary["aggregate"].items():
        d = row["miou_delta"]
        log(
            f"{name:5s} mIoU {row['miou_before']['mean']:.3f} -> {row['miou_after']['mean']:.3f} "
            f"(delta {d['mean']:+.3f} +- {d['std']:.3f}, min {d['min']:+.3f}, max {d['max']:+.3f})"
        )
    total = time.perf_counter() - started
    log(f"wrote {args.out / 'summary.json'} and {args.out / 'curves.png'} in {total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
