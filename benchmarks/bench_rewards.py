"""Throughput of bbox_reward and grounding_reward against a floor and a plain baseline.

Run:  python benchmarks/bench_rewards.py [--n 10000] [--repeats 5]

- floor: one compiled regex pass that extracts the four numbers of each box and
  converts them to floats, nothing else (no reward at all);
- baseline: the straightforward box reward: the same regex, a numpy IoU matrix and
  scipy's linear_sum_assignment on every sample, (Σ IoU) / max(n, m);
- ours: grounding_rewards.bbox_reward and grounding_reward (format + option + bbox);
  bbox_reward also on the same boxes written in the JSON dialect (Qwen2.5-VL's
  ``{"bbox_2d": [...], "label": ...}``), against the same reward on tag completions.

Everything runs in this process on one core, on the same seeded corpus; the table
gives medians over the repeats and ratios against the floor and the baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import Sample, make_corpus

from grounding_rewards import RewardConfig, bbox_reward, grounding_reward, parse_trace

JSON = RewardConfig(dialect="json")

_FLOOR = re.compile(
    r"<bbox>\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,"
    r"\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]</bbox>"
)


def floor(sample: Sample) -> object:
    return [tuple(map(float, m)) for m in _FLOOR.findall(sample.completion)]


def baseline(sample: Sample) -> float:
    pred = np.array([list(map(float, m)) for m in _FLOOR.findall(sample.completion)]).reshape(-1, 4)
    gt = np.asarray(sample.gt_boxes, dtype=float)
    n, m = len(pred), len(gt)
    if n == 0:
        return 0.0
    lt = np.maximum(pred[:, None, :2], gt[None, :, :2])
    rb = np.minimum(pred[:, None, 2:], gt[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    iou = inter / (area_p[:, None] + area_g[None, :] - inter)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return float(iou[rows, cols].sum() / max(n, m))


def ours_bbox(sample: Sample) -> object:
    return bbox_reward(sample.completion, sample.gt_boxes, image_size=sample.image_size)


def ours_bbox_json(sample: Sample) -> object:
    return bbox_reward(
        sample.json_completion, sample.gt_boxes, image_size=sample.image_size, config=JSON
    )


def ours_grounding(sample: Sample) -> object:
    return grounding_reward(
        sample.completion,
        answer=sample.answer,
        gt_boxes=sample.gt_boxes,
        gt_labels=sample.gt_labels,
        choices=sample.choices,
        image_size=sample.image_size,
    ).total


def per_completion_us(
    functions: dict[str, Callable[[Sample], object]], corpus: list[Sample], repeats: int
) -> dict[str, float]:
    """Median microseconds per completion of each function; runs are interleaved so that
    a change in machine load during the run affects every function alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            for sample in corpus:
                function(sample)
            times[name].append((time.perf_counter() - start) / len(corpus) * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def batch_ms(corpus: list[Sample], size: int, repeats: int) -> float:
    batch = corpus[:size]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for sample in batch:
            ours_grounding(sample)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):  # one core: the last one (others may be busier)
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    corpus = make_corpus(args.n)
    for sample in corpus[:500]:  # well-formed, the two dialects give the same rewards
        if not parse_trace(sample.completion).issues and ours_bbox(sample) != ours_bbox_json(
            sample
        ):
            raise SystemExit(f"json and tags disagree on {sample.completion[:80]!r}")
    for function in (floor, baseline, ours_bbox, ours_bbox_json, ours_grounding):
        for sample in corpus[:200]:
            function(sample)
    results = per_completion_us(
        {
            "floor (regex + float)": floor,
            "baseline (numpy IoU + scipy)": baseline,
            "ours: bbox_reward": ours_bbox,
            "ours: bbox_reward (json)": ours_bbox_json,
            "ours: grounding_reward": ours_grounding,
        },
        corpus,
        args.repeats,
    )
    floor_us = results["floor (regex + float)"]
    baseline_us = results["baseline (numpy IoU + scipy)"]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {args.n} completions, "
        f"median of {args.repeats}, one core"
    )
    print(f"{'':32} {'us/completion':>14} {'completions/s':>14} {'x floor':>8} {'x baseline':>11}")
    for name, us in results.items():
        print(
            f"{name:32} {us:14.2f} {1e6 / us:14,.0f} {us / floor_us:8.2f} {us / baseline_us:11.3f}"
        )
    print(
        f"bbox_reward speed-up over baseline: {baseline_us / results['ours: bbox_reward']:.1f}x "
        "(target >= 5x)"
    )
    print(
        f"grounding_reward / floor: {results['ours: grounding_reward'] / floor_us:.2f}x "
        "(target <= 3x)"
    )
    print(
        f"bbox_reward json / tags: "
        f"{results['ours: bbox_reward (json)'] / results['ours: bbox_reward']:.2f}x "
        "(target <= 1.5x)"
    )
    print(
        f"GRPO batch of 1024 completions, grounding_reward: "
        f"{batch_ms(corpus, 1024, args.repeats):.2f} ms (target < 10 ms)"
    )


if __name__ == "__main__":
    main()
