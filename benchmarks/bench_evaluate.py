"""Throughput of ``grounding-rewards evaluate`` (no images) beside the COCO library alone.

Generates N realistic rollouts (1-6 ground-truth objects, completions that find most
of them with jitter, add spare boxes, sometimes break the format), writes them as
JSONL, and times on ONE core (CPU affinity pinned):

1. the whole evaluation: read JSONL, parse, score, match, every metric, COCO AP
   (what the CLI does, minus printing);
2. the COCO library alone on the very same boxes, already converted to COCO dicts
   (faster-coco-eval, our default backend, and pycocotools for reference).

Times are CPU seconds of this process (``time.process_time``), which a busy shared
machine does not inflate; wall-clock seconds are printed beside them.

Run: python benchmarks/bench_evaluate.py [--n 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import tempfile
import time
from pathlib import Path

LABELS = ["man", "woman", "dog", "cat", "car", "helmet", "motorcycle", "tree", "cup", "bus"]


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def make_rollouts(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        width, height = rng.choice([(640, 480), (1024, 768), (800, 600), (512, 512)])
        gt, labels = [], []
        for _ in range(rng.randint(1, 6)):
            w, h = rng.uniform(20, width / 2), rng.uniform(20, height / 2)
            x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
            gt.append([round(x, 1), round(y, 1), round(x + w, 1), round(y + h, 1)])
            labels.append(rng.choice(LABELS))
        spans = []
        for box, label in zip(gt, labels, strict=False):
            if rng.random() < 0.8:
                jit = [round(v + rng.gauss(0, 8)) for v in box]
                jit = [min(jit[0], jit[2] - 1), min(jit[1], jit[3] - 1), jit[2], jit[3]]
                name = label if rng.random() < 0.9 else rng.choice(LABELS)
                spans.append(f"the <obj>{name}</obj><bbox>[{', '.join(map(str, jit))}]</bbox>")
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            x, y = rng.uniform(0, width - 40), rng.uniform(0, height - 40)
            spans.append(
                f"a <obj>{rng.choice(LABELS)}</obj>"
                f"<bbox>[{x:.0f}, {y:.0f}, {x + 40:.0f}, {y + 40:.0f}]</bbox>"
            )
        answer = rng.choice("ABCD")
        said = answer if rng.random() < 0.6 else rng.choice("ABCD")
        text = (
            f"<think>I look at {' and '.join(spans)} in the image.</think><answer>{said}</answer>"
        )
        if rng.random() < 0.05:
            text = text[: rng.randint(0, len(text))]
        rows.append(
            {
                "id": i,
                "completion": text,
                "answer": answer,
                "gt_boxes": gt,
                "gt_labels": labels,
                "image_size": [width, height],
                "choices": ["one", "two", "three", "four"],
            }
        )
    return rows


class Clock:
    """CPU and wall seconds since the last lap."""

    def __init__(self) -> None:
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def lap(self) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        out = (cpu - self.cpu, wall - self.wall)
        self.cpu, self.wall = cpu, wall
        return out


def time_evaluate(path: Path) -> tuple[tuple[float, float], dict, object]:
    from grounding_rewards.metrics import RolloutEvaluator, read_rollouts

    clock = Clock()
    evaluator = RolloutEvaluator(gallery_size=0)
    for rollout in read_rollouts(path):
        evaluator.add(rollout)
    result = evaluator.compute()
    return clock.lap(), result.as_dict(), evaluator


def time_stage(path: Path) -> dict[str, tuple[float, float]]:
    """Stage split: reading, analysis (parse + score + match + counts), COCO."""
    from grounding_rewards.metrics import RolloutEvaluator, read_rollouts
    from grounding_rewards.metrics.coco import evaluate_coco, to_coco

    clock = Clock()
    rollouts = list(read_rollouts(path))
    stages = {"read JSONL": clock.lap()}
    evaluator = RolloutEvaluator(gallery_size=0)
    for rollout in rollouts:
        evaluator.add(rollout)
    stages["parse+score+match+count"] = clock.lap()
    acc = evaluator.grounding
    gt, dets = to_coco(acc._pred_boxes, acc._gt_boxes)
    stages["COCO conversion"] = clock.lap()
    evaluate_coco(gt, dets)
    stages["COCO library"] = clock.lap()
    return stages


def time_coco_alone(evaluator: object, backend: str) -> tuple[tuple[float, float], float]:
    from grounding_rewards.metrics.coco import _classes, to_coco

    acc = evaluator.grounding  # type: ignore[attr-defined]
    gt, dets = to_coco(acc._pred_boxes, acc._gt_boxes)
    coco_class, eval_class = _classes(backend)  # type: ignore[arg-type]
    clock = Clock()
    with contextlib.redirect_stdout(io.StringIO()):
        g = coco_class()
        g.dataset = gt
        g.createIndex()
        d = coco_class()
        d.dataset = {**gt, "annotations": dets}
        d.createIndex()
        e = eval_class(g, d, "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return clock.lap(), float(e.stats[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pycocotools", action="store_true")
    args = parser.parse_args()
    _pin_one_core()
    rows = make_rollouts(args.n, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rollouts.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        n_gt = sum(len(r["gt_boxes"]) for r in rows)
        print(
            f"{args.n:,} rollouts ({size_mb:.1f} MB JSONL, {n_gt:,} ground-truth boxes), "
            f"one core (affinity {sorted(os.sched_getaffinity(0))})"
        )
        elapsed, summary, evaluator = time_evaluate(path)
        stages = time_stage(path)
        fast, fast_ap = time_coco_alone(evaluator, "faster-coco-eval")
        ref = None if args.skip_pycocotools else time_coco_alone(evaluator, "pycocotools")
    n = args.n

    def line(name: str, times: tuple[float, float], unit: str = "rollouts") -> None:
        cpu, wall = times
        print(f"  {name:<34} {cpu:7.2f} s CPU {n / cpu:9,.0f} {unit}/s   ({wall:6.2f} s wall)")

    print()
    line("evaluate (all metrics + COCO AP)", elapsed)
    for name, times in stages.items():
        line(f"  {name}", times)
    line("COCO alone, faster-coco-eval", fast, "images")
    if ref is not None:
        line("COCO alone, pycocotools", ref[0], "images")
    print("\nratios of CPU time to faster-coco-eval alone on the same boxes:")
    print(f"  evaluate, everything:        {elapsed[0] / fast[0]:6.2f}x")
    coco_stage = stages["COCO conversion"][0] + stages["COCO library"][0]
    print(f"  evaluate, COCO conversion+library: {coco_stage / fast[0]:6.2f}x")
    if ref is not None:
        print(f"  pycocotools alone:           {ref[0][0] / fast[0]:6.2f}x")
    coco = summary["coco"]
    assert coco is not None and abs(coco["ap"] - fast_ap) < 1e-12, "AP differs from the library's"
    if ref is not None:
        assert abs(ref[1] - fast_ap) < 1e-9, "pycocotools and faster-coco-eval disagree"
    g, r = summary["grounding"], summary["reasoning"]
    print(
        f"\nsanity: AP {coco['ap']:.4f} (same as the library alone), Acc@0.5 {g['acc@0.5']:.4f}, "
        f"mIoU {g['miou']:.4f}, CHAIR_i {r['chair_mention']:.4f}"
    )


if __name__ == "__main__":
    main()
