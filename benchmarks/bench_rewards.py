"""Throughput of bbox_reward and grounding_reward against a floor and a plain baseline.

Run:  python benchmarks/bench_rewards.py [--n 10000] [--repeats 5]

- floor: one compiled regex pass that extracts the four numbers of each box and
  converts them to floats, nothing else (no reward at all);
- baseline: the straightforward box reward: the same regex, a numpy IoU matrix and
  scipy's linear_sum_assignment on every sample, (Σ IoU) / max(n, m);
- reference: a careful pure-Python version of the same box reward, no numpy: ``str.find``
  for the reasoning block, one regex for its ``<obj>..</obj><bbox>[..]</bbox>`` spans, a plain
  IoU, an exact assignment (the best cell for one row or column, else a Hungarian solver
  in plain Python) and ``(Σ/m)·min(1, m/n)``; it checks nothing else;
- ours: grounding_rewards.bbox_reward and grounding_reward (format + option + bbox);
  the veRL and EasyR1 batch entry points (records in, dicts out) beside them;
  bbox_reward also on the same boxes written in the JSON dialect (Qwen2.5-VL's
  ``{"bbox_2d": [...], "label": ...}``), against the same reward on tag completions.

Everything runs in this process on one core, on the same seeded corpus; the table
gives medians over the repeats and ratios against the floor and the baseline. Time is
the process's CPU time by default (``--clock cpu``): on a shared machine, waiting for
other processes is not counted; the runs are interleaved, so compare ratios within one
run. ``GROUNDING_REWARDS_PURE_PYTHON=1`` measures the pure-Python modules where the
compiled ones are installed; the first line says which path ran.
"""

from __future__ import annotations

import argparse
import math
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

from grounding_rewards import (
    RewardConfig,
    _pure,
    bbox_reward,
    grounding_reward,
    grounding_reward_batch,
    parse_trace,
)

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


_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_NUM)
# One box (its four numbers), or the content of a plural box [[...], [...]].
_SPAN = re.compile(
    rf"<obj>[^<>]*</obj>\s*<bbox>(?:\[\s*({_NUM})\s*,\s*({_NUM})\s*,\s*({_NUM})\s*,"
    rf"\s*({_NUM})\s*\]|(\[\s*\[[^<>]*\]\s*\]))</bbox>"
)


def _iou_rows(boxes: list[tuple[float, ...]], targets: list[list[float]]) -> list[list[float]]:
    rows = []
    for x1, y1, x2, y2 in boxes:
        area = (x2 - x1) * (y2 - y1)
        row = []
        for u1, v1, u2, v2 in targets:
            iw = (x2 if x2 < u2 else u2) - (x1 if x1 > u1 else u1)
            ih = (y2 if y2 < v2 else v2) - (y1 if y1 > v1 else v1)
            if iw <= 0.0 or ih <= 0.0 or area <= 0.0:
                row.append(0.0)
                continue
            inter = iw * ih
            row.append(inter / (area + (u2 - u1) * (v2 - v1) - inter))
        rows.append(row)
    return rows


def _best_total(scores: list[list[float]]) -> float:
    """Largest Σ over one-to-one assignments (Hungarian with potentials, rows <= columns)."""
    if len(scores) == 1:
        return max(scores[0])
    if len(scores[0]) == 1:
        return max(row[0] for row in scores)
    if len(scores) > len(scores[0]):
        scores = [list(column) for column in zip(*scores, strict=True)]
    n, m = len(scores), len(scores[0])
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)  # owner[j]: the row (1-based) assigned to column j
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        best = [math.inf] * (m + 1)
        used = [False] * (m + 1)
        while owner[j0]:
            used[j0] = True
            i0, delta, j1 = owner[j0], math.inf, 0
            row = scores[i0 - 1]
            for j in range(1, m + 1):
                if not used[j]:
                    cost = -row[j - 1] - u[i0] - v[j]
                    if cost < best[j]:
                        best[j], way[j] = cost, j0
                    if best[j] < delta:
                        delta, j1 = best[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    best[j] -= delta
            j0 = j1
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    return math.fsum(scores[owner[j] - 1][j - 1] for j in range(1, m + 1) if owner[j])


def reference(sample: Sample) -> float | None:
    """The careful pure-Python box reward: what a good engineer writes in an afternoon."""
    gt = sample.gt_boxes
    m = len(gt)
    if m == 0:
        return None
    text = sample.completion
    start = text.find("<think>")
    end = text.find("</think>", start)
    if start < 0 or end < 0:
        return 0.0
    boxes = []
    for a, b, c, d, plural in _SPAN.findall(text, start, end):
        if not plural:
            boxes.append((float(a), float(b), float(c), float(d)))
            continue
        values = [float(number) for number in _NUMBER.findall(plural)]
        boxes.extend(tuple(values[k : k + 4]) for k in range(0, len(values) - 3, 4))
    n = len(boxes)
    if n == 0:
        return 0.0
    total = _best_total(_iou_rows(boxes, gt))
    return total / m * min(1.0, m / n)


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


_clock = time.process_time

BATCH = 1024  # completions per grounding_reward_batch call (a GRPO step's worth)


def batch_columns(corpus: list[Sample]) -> list[dict[str, list[object]]]:
    """The corpus as the columns a trainer hands over, ``BATCH`` completions per call."""
    return [
        {
            "completions": [s.completion for s in chunk],
            "answers": [s.answer for s in chunk],
            "gt_boxes": [s.gt_boxes for s in chunk],
            "gt_labels": [s.gt_labels for s in chunk],
            "choices": [s.choices for s in chunk],
            "image_sizes": [s.image_size for s in chunk],
        }
        for chunk in (corpus[i : i + BATCH] for i in range(0, len(corpus), BATCH))
    ]


def batch_call(corpus: list[Sample]) -> Callable[[], object]:
    """``grounding_reward_batch`` over the corpus, ``BATCH`` completions per call.

    Every completion has its own ground-truth objects (nothing is shared between
    completions, unlike a GRPO group's), so only the per-call costs are amortized.
    """
    calls = batch_columns(corpus)
    return lambda: [grounding_reward_batch(**columns) for columns in calls]  # type: ignore[arg-type]


def adapter_calls(corpus: list[Sample]) -> dict[str, Callable[[], object]]:
    """The veRL and EasyR1 batch entry points over the corpus, ``BATCH`` per call.

    They take the ground truth as a record (a dict) per completion and return dicts,
    as the trainers call them.
    """
    from grounding_rewards import easyr1, verl

    records = [
        {
            "answer": s.answer,
            "gt_boxes": s.gt_boxes,
            "gt_labels": s.gt_labels,
            "choices": s.choices,
            "image_size": s.image_size,
        }
        for s in corpus
    ]
    chunks = [range(i, min(i + BATCH, len(corpus))) for i in range(0, len(corpus), BATCH)]
    verl_args = [
        (["d"] * len(rows), [corpus[i].completion for i in rows], [records[i] for i in rows])
        for rows in chunks
    ]
    easyr1_args = [
        [
            {"response": corpus[i].completion, "response_length": 1, "ground_truth": records[i]}
            for i in rows
        ]
        for rows in chunks
    ]
    return {
        "adapter: veRL compute_score_batch": lambda: [
            verl.compute_score_batch(*args) for args in verl_args
        ],
        "adapter: EasyR1 compute_score": lambda: [easyr1.compute_score(a) for a in easyr1_args],
    }


def compiled_modules() -> list[str]:
    """The grounding_rewards modules this process runs from compiled extensions."""
    return sorted(
        name
        for name, module in sys.modules.items()
        if name.startswith("grounding_rewards")
        and not (getattr(module, "__file__", None) or ".py").endswith(".py")
    )


def per_completion_us(
    functions: dict[str, Callable[[Sample], object]],
    corpus: list[Sample],
    repeats: int,
    whole: dict[str, Callable[[], object]] | None = None,
) -> dict[str, float]:
    """Median microseconds per completion of each function, and of each ``whole`` call
    (one pass over the whole corpus). Every round runs each of them once, interleaved, so
    that a change in machine load during the run affects them all alike."""
    passes: dict[str, Callable[[], object]] = {
        name: (lambda function=function: [function(sample) for sample in corpus])
        for name, function in functions.items()
    }
    passes.update(whole or {})
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(repeats):
        for name, run in passes.items():
            start = _clock()
            run()
            times[name].append((_clock() - start) / len(corpus) * 1e6)
    return {name: statistics.median(values) for name, values in times.items()}


def grpo_batch_ms(corpus: list[Sample], prompts: int, group: int, repeats: int) -> float:
    """Milliseconds for one GRPO step's rewards: ``prompts`` × ``group`` completions.

    The completions of a group share their prompt's ground-truth objects, as veRL's
    repeated batch holds them (nothing caches a completion's text, so repeating each
    prompt's completion costs what ``group`` different completions of its shape cost).
    """
    samples = [s for s in corpus[:prompts] for _ in range(group)]
    columns = batch_columns(samples)[0] if len(samples) <= BATCH else None
    if columns is None:
        raise SystemExit(f"prompts x group must be <= {BATCH}")
    times = []
    for _ in range(repeats):
        start = _clock()
        grounding_reward_batch(**columns)  # type: ignore[arg-type]
        times.append((_clock() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="the process's CPU time (default) or wall-clock time",
    )
    args = parser.parse_args()
    global _clock
    _clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if hasattr(os, "sched_setaffinity"):  # one core: the last one (others may be busier)
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    corpus = make_corpus(args.n)
    for sample in corpus[:500]:  # well-formed, the two dialects give the same rewards
        if not parse_trace(sample.completion).issues and ours_bbox(sample) != ours_bbox_json(
            sample
        ):
            raise SystemExit(f"json and tags disagree on {sample.completion[:80]!r}")
    for sample in corpus[:2000]:  # the reference computes our reward on clean completions
        if not parse_trace(sample.completion).issues:
            ours, ref = ours_bbox(sample), reference(sample)
            if not (ours is None and ref is None) and not (
                ours is not None and ref is not None and abs(ours - ref) <= 1e-12
            ):
                raise SystemExit(f"reference {ref} != ours {ours} on {sample.completion[:80]!r}")
    for function in (floor, baseline, reference, ours_bbox, ours_bbox_json, ours_grounding):
        for sample in corpus[:200]:
            function(sample)
    results = per_completion_us(
        {
            "floor (regex + float)": floor,
            "baseline (numpy IoU + scipy)": baseline,
            "reference (careful pure Python)": reference,
            "ours: bbox_reward": ours_bbox,
            "ours: bbox_reward (json)": ours_bbox_json,
            "ours: grounding_reward": ours_grounding,
        },
        corpus,
        args.repeats,
        whole={"ours: grounding_reward_batch": batch_call(corpus), **adapter_calls(corpus)},
    )
    for columns in batch_columns(corpus[:500]):  # the batch gives the per-call totals
        totals = grounding_reward_batch(**columns).total  # type: ignore[arg-type]
        if totals != [ours_grounding(s) for s in corpus[:500]]:
            raise SystemExit("grounding_reward_batch differs from grounding_reward")
    floor_us = results["floor (regex + float)"]
    baseline_us = results["baseline (numpy IoU + scipy)"]
    reference_us = results["reference (careful pure Python)"]
    compiled = compiled_modules()
    if compiled:
        path = f"compiled ({len(compiled)} modules by mypyc)"
    elif _pure.STALE:
        path = "pure Python (compiled modules older than their sources: pip install -e .)"
    elif os.environ.get(_pure.VARIABLE):
        path = f"pure Python ({_pure.VARIABLE}=1)"
    else:
        path = "pure Python (nothing compiled)"
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, {args.n} completions, "
        f"median of {args.repeats}, one core, {args.clock} time; path: {path}"
    )
    print(f"{'':32} {'us/completion':>14} {'completions/s':>14} {'x floor':>8} {'x baseline':>11}")
    for name, us in results.items():
        print(
            f"{name:32} {us:14.2f} {1e6 / us:14,.0f} {us / floor_us:8.2f} {us / baseline_us:11.3f}"
        )
    print(
        f"bbox_reward speed-up over baseline: {baseline_us / results['ours: bbox_reward']:.1f}x "
        "(numpy + scipy on every sample; the first release's 5x goal, superseded by the "
        "reference target below)"
    )
    print(
        f"grounding_reward / floor: {results['ours: grounding_reward'] / floor_us:.2f}x "
        "(target <= 4x)"
    )
    print(
        f"grounding_reward_batch / floor: "
        f"{results['ours: grounding_reward_batch'] / floor_us:.2f}x (target <= 4x)"
    )
    print(
        f"bbox_reward / reference: {results['ours: bbox_reward'] / reference_us:.2f}x "
        "(target <= 1.5x)"
    )
    print(
        f"bbox_reward json / tags: "
        f"{results['ours: bbox_reward (json)'] / results['ours: bbox_reward']:.2f}x "
        "(target <= 1.5x)"
    )
    for name in ("adapter: veRL compute_score_batch", "adapter: EasyR1 compute_score"):
        print(
            f"{name} / grounding_reward: {results[name] / results['ours: grounding_reward']:.2f}x"
        )
    step_ms = grpo_batch_ms(corpus, 128, 8, args.repeats)
    print(
        f"GRPO step of 128 prompts x 8 completions, grounding_reward_batch: {step_ms:.2f} ms "
        f"({step_ms * 1e3 / 1024 / floor_us:.2f}x the floor per completion; the ground truth "
        "of a group is validated once)"
    )


if __name__ == "__main__":
    main()
