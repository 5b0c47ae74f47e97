"""Share of a TRL GRPO step spent in the grounding rewards (CPU smoke run).

Runs the ``--smoke`` recipe of ``integrations/trl/grpo_qwen25vl.py`` (a tiny random
Qwen2.5-VL warm-started on grounded traces, so completions carry boxes) for a few
steps with every reward function timed, then, on the completions of the last step:

* the adapters' throughput (three functions sharing one parse per completion), and
* the baseline measured in the same run: the core functions called one by one per
  completion (``format_reward``, ``option_reward``, ``bbox_reward``: three parses).

The tiny model's step is a fraction of a second, far shorter than a real
Qwen2.5-VL step (tens of seconds), so the share printed here is an upper bound.

    .venv-train/bin/python benchmarks/bench_trl_step.py [--steps 6]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integrations" / "trl"))

import grpo_qwen25vl
import tiny_qwen
from timed_rewards import StepTimer, TimedReward, summarize

from grounding_rewards import bbox_reward, format_reward, option_reward
from grounding_rewards._completions import completion_text
from grounding_rewards.trl import reward_funcs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=30, help="batches in the throughput loop")
    options = parser.parse_args()

    timed: list[TimedReward] = []

    def wrap(funcs: list) -> list:
        timed.extend(TimedReward(f) for f in funcs)
        return timed

    timer = StepTimer()
    args = grpo_qwen25vl.parse_args(["--smoke"])
    out = grpo_qwen25vl.smoke_run(args, max_steps=options.steps, wrap=wrap, callbacks=(timer,))
    summary = summarize(timed, timer, skip_first=1)
    print("\n== GRPO step (CPU, tiny Qwen2.5-VL, 4 completions of <= 64 tokens per step) ==")
    print(f"steps measured          {summary['steps_measured']:.0f} (first step left out)")
    print(f"wall time per step      {summary['step_s'] * 1e3:10.1f} ms")
    print(
        f"reward time per step    {summary['reward_s_per_step'] * 1e3:10.3f} ms "
        f"(3 functions, {summary['completions_per_step']:.0f} completions)"
    )
    print(f"share of the step       {summary['reward_share_percent']:10.3f} %")

    trainer, config = out["trainer"], out["reward"]
    logs = trainer._logs  # TRL's table of the last generation batch
    texts = [completion_text(c) for c in logs["completion"]]
    sizes, truths = [], []
    samples = {s.question: s for s in tiny_qwen.SAMPLES}
    for prompt in logs["prompt"]:
        text = "".join(
            p.get("text") or ""
            for m in prompt
            for p in m["content"]
            if isinstance(p, dict) and p.get("type") == "text"
        )
        sample = next(s for q, s in samples.items() if text.startswith(q))
        truths.append(sample)
        sizes.append(tiny_qwen.load_image(sample.image).size)
    columns = {
        "answer": [s.answer for s in truths],
        "choices": [list(s.choices) for s in truths],
        "gt_boxes": [[list(b) for b in s.boxes] for s in truths],
        "gt_labels": [list(s.labels) for s in truths],
        "image_size": [list(z) for z in sizes],
    }

    # Fresh strings every round (a training step never sees the same text twice), from
    # the model's own completions, one column value per completion as TRL passes them.
    n = 64
    rows = [i % len(texts) for i in range(n)]
    batch_columns = {key: [values[i] for i in rows] for key, values in columns.items()}

    def fresh(round_: int) -> list[str]:
        return [
            texts[i].replace("<think>", f"<think>[{round_}.{k}] ", 1) for k, i in enumerate(rows)
        ]

    def adapters(batch: list[str]) -> None:
        for func in reward_funcs(config):
            func(completions=batch, **batch_columns)

    def baseline(batch: list[str]) -> None:
        for k, text in enumerate(batch):
            i = rows[k]
            format_reward(text, image_size=sizes[i], config=config)
            option_reward(text, truths[i].answer, choices=columns["choices"][i], config=config)
            bbox_reward(
                text,
                columns["gt_boxes"][i],
                gt_labels=columns["gt_labels"][i],
                image_size=sizes[i],
                config=config,
            )

    results = {}
    for offset, (name, fn) in enumerate(
        (("adapters (shared parse)", adapters), ("core, one call each", baseline))
    ):
        batches = [fresh(10_000 * offset + r) for r in range(options.repeat + 1)]
        fn(batches[0])
        start = time.perf_counter()
        for batch in batches[1:]:
            fn(batch)
        seconds = time.perf_counter() - start
        results[name] = options.repeat * n / seconds
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"\n== reward throughput: batches of {n} completions (mean {mean_chars:.0f} chars) ==")
    for name, rate in results.items():
        print(f"{name:26s} {rate:12,.0f} completions/s (all three rewards)")
    base = results["core, one call each"]
    print(f"ratio adapters / baseline  {results['adapters (shared parse)'] / base:10.2f}x")


if __name__ == "__main__":
    main()
