"""Rewards give the same results from 8 threads as serially (veRL scores in a thread pool)."""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest

import grounding_rewards.boxes
import grounding_rewards.matching
import grounding_rewards.options
import grounding_rewards.parsing
import grounding_rewards.rewards.option
from grounding_rewards import (
    RewardConfig,
    bbox_reward,
    format_reward,
    format_span,
    grounding_reward,
    option_reward,
)

N_COMPLETIONS = 2000
THREADS = 8

CONFIGS = [
    RewardConfig(),
    RewardConfig(similarity="giou", label_matching="fuzzy", box_region="anywhere"),
    RewardConfig(coords="norm1000", format_mode="graded", length_penalty=2.0),
    RewardConfig(coords="qwen25vl", max_pixels=1003520, label_matching="exact", max_boxes=5),
]
LABELS = ["man", "helmet", "dog", "red car", "cats"]
SIZES = [(640, 480), (480, 640), (1920, 1080), (1000, 1000)]


def corpus(seed: int = 0) -> list[dict[str, Any]]:
    """Seeded completions: right, partly right, spam, malformed, wrong space, not text."""
    rng = random.Random(seed)
    items = []
    for index in range(N_COMPLETIONS):
        size = rng.choice(SIZES)
        m = rng.randint(0, 4)
        gt = []
        for _ in range(m):
            x, y = rng.uniform(0, size[0] - 50), rng.uniform(0, size[1] - 50)
            gt.append([x, y, x + rng.uniform(10, 50), y + rng.uniform(10, 50)])
        labels = [rng.choice(LABELS) for _ in gt]
        spans = []
        for box, label in zip(gt, labels, strict=True):
            if rng.random() < 0.8:
                jitter = [v + rng.uniform(-8, 8) for v in box]
                spans.append(format_span(label, [round(v, 1) for v in jitter]))
        for _ in range(rng.choice([0, 0, 1, 3, 8])):  # spare or spammed boxes
            spans.append(format_span(rng.choice(LABELS), (1, 2, rng.randint(3, 600), 400)))
        if rng.random() < 0.1:
            spans.append("<obj>x</obj><bbox>[1, 2, 3]</bbox>")  # unparsable
        if rng.random() < 0.1:
            spans.append("<bbox>[5, 5, 1, 1]</bbox>")  # degenerate, no label
        rng.shuffle(spans)
        answer = rng.choice(["A", "B", "(C)", "b", "A or B", "", "The answer is D."])
        text = "<think>Looking. " + " and ".join(spans) + f"</think><answer>{answer}</answer>"
        kind = rng.random()
        if kind < 0.05:
            text = text[: rng.randint(0, len(text))]  # truncated
        elif kind < 0.08:
            text = "<think>" * rng.randint(1, 50)
        elif kind < 0.10:
            text = None  # type: ignore[assignment]
        items.append(
            {
                "index": index,
                "completion": text,
                "answer": rng.choice("ABCD"),
                "gt_boxes": gt,
                "gt_labels": labels,
                "choices": ["a man", "a helmet", "a dog", "a red car"],
                "image_size": size,
                "config": CONFIGS[index % len(CONFIGS)],
            }
        )
    return items


def score(item: dict[str, Any]) -> tuple[object, ...]:
    """The composite plus one single reward (rotating), each parsing the text itself."""
    completion, config, index = item["completion"], item["config"], item["index"]
    if index % 3 == 0:
        single: object = format_reward(completion, image_size=item["image_size"], config=config)
    elif index % 3 == 1:
        single = option_reward(completion, item["answer"], choices=item["choices"], config=config)
    else:
        single = bbox_reward(
            completion,
            item["gt_boxes"],
            gt_labels=item["gt_labels"],
            image_size=item["image_size"],
            config=config,
        )
    breakdown = grounding_reward(
        completion,
        answer=item["answer"],
        gt_boxes=item["gt_boxes"],
        gt_labels=item["gt_labels"],
        choices=item["choices"],
        image_size=item["image_size"],
        config=config,
    )
    return index, single, breakdown


def clear_caches(*modules: ModuleType) -> None:
    """Empty every functools cache in these modules, so threads race to fill them."""
    for module in modules:
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


@pytest.fixture
def tiny_switch_interval() -> Iterator[None]:
    # Switch threads as often as possible so that unsafe interleavings actually happen.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def test_eight_threads_match_serial(tiny_switch_interval: None) -> None:
    items = corpus()
    serial = [score(item) for item in items]
    clear_caches(
        grounding_rewards.boxes,
        grounding_rewards.matching,
        grounding_rewards.options,
        grounding_rewards.parsing,
        grounding_rewards.rewards.option,
    )
    shuffled = items[:]
    random.Random(1).shuffle(shuffled)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        threaded = list(pool.map(score, shuffled, chunksize=1))
    threaded.sort(key=lambda result: result[0])  # type: ignore[arg-type, return-value]
    assert len(threaded) == len(serial)
    mismatches = [
        index for index, (a, b) in enumerate(zip(serial, threaded, strict=True)) if a != b
    ]
    assert mismatches == []


def test_the_corpus_is_not_trivial() -> None:
    # The comparison above only means something if the corpus exercises every path.
    items = corpus()[:600]
    results = [score(item) for item in items]
    breakdowns = [r[2] for r in results]
    bboxes = [b.bbox for b in breakdowns]  # type: ignore[attr-defined]
    assert any(b is None for b in bboxes)
    assert any(b == 0.0 for b in bboxes)
    assert any(b is not None and 0.0 < b < 1.0 for b in bboxes)
    accuracies = {b.accuracy for b in breakdowns}  # type: ignore[attr-defined]
    formats = {b.format for b in breakdowns}  # type: ignore[attr-defined]
    assert {0.0, 1.0} <= accuracies and {0.0, 1.0} <= formats
    assert any(b.issues for b in breakdowns) and any(not b.issues for b in breakdowns)  # type: ignore[attr-defined]
    # The single rewards agree with the composite's components.
    for item, (_, single, breakdown) in zip(items, results, strict=True):
        component = ("format", "accuracy", "bbox")[item["index"] % 3]
        assert single == getattr(breakdown, component)
