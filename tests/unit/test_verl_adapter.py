"""grounding_rewards.verl: veRL's call, stackable results, the core's numbers, thread safety."""

from __future__ import annotations

import importlib.util
import json
import math
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grounding_rewards.verl as verl_adapter
from grounding_rewards import ConfigError, RewardConfig, grounding_reward
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce
from grounding_rewards.verl import (
    SCORE_KEYS,
    compute_score,
    compute_score_batch,
    config_from_kwargs,
)

REWARD_FILE = Path(__file__).resolve().parents[2] / "integrations" / "verl" / "reward.py"
GT = {
    "answer": "B",
    "choices": ["black", "white"],
    "gt_boxes": [[10, 10, 50, 90], [20, 10, 40, 30]],
    "gt_labels": ["man", "helmet"],
    "image_size": [100, 100],
}
TEXTS = [
    "<think>The <obj>man</obj><bbox>[10, 10, 50, 90]</bbox> wears a "
    "<obj>helmet</obj><bbox>[20, 10, 40, 25]</bbox>.</think><answer>B</answer>",
    "<think>The <obj>man</obj><bbox>[100, 100, 500, 900]</bbox>.</think><answer>white</answer>",
    "<think>nothing</think><answer>A</answer>",
    "<answer>B</answer><answer>B</answer>",
    "",
]


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The adapter warns once per process; each test starts with a clean memory.
    monkeypatch.setattr(verl_adapter, "_WARN", WarnOnce("compute_score", "scored on format alone"))


def _assert_stackable(results: list[dict[str, Any]]) -> None:
    for result in results:
        assert tuple(result) == SCORE_KEYS
        for value in result.values():
            assert isinstance(value, (int, float)) and math.isfinite(value)
    stacked = {key: np.array([r[key] for r in results]) for key in SCORE_KEYS}
    assert all(array.dtype.kind in "if" for array in stacked.values())  # never object arrays


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"coords": "pixel", "similarity": "ciou", "weights": [1, 0.5, 2]},
        {"format_mode": "graded", "label_matching": "exact"},
    ],
)
def test_same_numbers_as_the_core(kwargs: dict[str, Any]) -> None:
    config = RewardConfig(**kwargs)
    for text in TEXTS:
        result = compute_score("src", text, json.dumps(GT), None, **kwargs)
        expected = grounding_reward(text, config=config, **GT)
        assert result["score"] == pytest.approx(expected.total)
        assert result["format"] == expected.format
        assert result["accuracy"] == expected.accuracy
        assert result["bbox"] == pytest.approx(expected.bbox)
        assert (result["n_pred"], result["n_gt"]) == (expected.n_pred, expected.n_gt)


def test_ground_truth_forms() -> None:
    text = TEXTS[0]
    as_dict = compute_score("s", text, GT)
    as_json = compute_score("s", text, json.dumps(GT))
    # what a parquet struct column gives back: numpy arrays inside the dict
    as_arrays = compute_score(
        "s",
        text,
        {
            **GT,
            "gt_boxes": np.array([np.array(b) for b in GT["gt_boxes"]], dtype=object),
            "gt_labels": np.array(GT["gt_labels"]),
            "image_size": np.array(GT["image_size"]),
        },
    )
    assert as_dict == as_json == as_arrays
    answer_only = compute_score("s", text, "B")
    assert answer_only["accuracy"] == 1.0 and answer_only["has_boxes"] == 0.0
    assert answer_only["score"] == answer_only["format"] + 1.0
    nothing = compute_score("s", text, None)
    assert nothing["has_answer"] == 0.0 and nothing["score"] == nothing["format"]


def test_image_size_from_extra_info() -> None:
    text = "<think><obj>man</obj><bbox>[100, 100, 500, 900]</bbox></think><answer>B</answer>"
    truth = {k: v for k, v in GT.items() if k != "image_size"}
    from_extra = compute_score("s", text, truth, {"image_size": [100, 100]}, coords="norm1000")
    from_truth = compute_score("s", text, GT, {"image_size": [7, 7]}, coords="norm1000")
    assert from_extra == from_truth
    assert from_extra["bbox"] == pytest.approx(0.5)  # the man matches; one of two GT boxes
    # veRL's own extra_info keys do not disturb anything
    noisy = compute_score(
        "s",
        text,
        truth,
        {"image_size": {"width": 100, "height": 100}, "num_turns": 1, "rollout_reward_scores": {}},
        coords="norm1000",
    )
    assert noisy == from_extra


def test_every_sample_has_the_same_finite_keys() -> None:
    rows = [
        ("s", TEXTS[0], GT, None),
        ("s", None, GT, None),  # not text
        ("s", 12, json.dumps(GT), {}),
        ("s", TEXTS[0], {"answer": "B"}, None),  # no boxes
        ("s", TEXTS[0], "{not json", None),  # a plain answer string that is not an option
        ("s", TEXTS[0], {"gt_boxes": [[5, 5, 1, 1]]}, None),  # malformed
        ("s", TEXTS[0], {"gt_boxes": [[0, 0, 5, 5]]}, {"image_size": "x"}),  # malformed size
        ("s", TEXTS[1], {"gt_boxes": [[0, 0, 5, 5]]}, None),  # norm1000 without a size
        ("s", TEXTS[0], ["not", "a", "dict"], None),
    ]
    with pytest.warns(GroundTruthWarning):
        results = [compute_score(*row, coords="pixel") for row in rows[:7]]
        results.append(compute_score(*rows[7], coords="norm1000"))
        results.append(compute_score(*rows[8]))
    _assert_stackable(results)
    assert [r["gt_error"] for r in results] == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    malformed = results[5]
    assert malformed["score"] == malformed["format"] == 1.0  # format alone, weight 1


def test_malformed_ground_truth_warns_once() -> None:
    with pytest.warns(GroundTruthWarning) as record:
        for _ in range(50):
            compute_score("s", TEXTS[0], {"gt_boxes": [[5, 5, 1, 1]]})
    assert len(record) == 1
    assert "gt_boxes[0]" in str(record[0].message)


def test_reward_kwargs_become_the_config() -> None:
    from omegaconf import OmegaConf

    hydra_kwargs = OmegaConf.create(
        {"coords": "qwen25vl", "weights": [1, 1, 2], "max_pixels": 1003520}
    )
    config = config_from_kwargs(dict(hydra_kwargs.items()))
    assert config == RewardConfig(coords="qwen25vl", weights=(1, 1, 2), max_pixels=1003520)
    assert config_from_kwargs({}) is config_from_kwargs({"reward_router_address": None})
    assert config_from_kwargs({"config": RewardConfig(similarity="giou"), "coords": "norm1"}) == (
        RewardConfig(similarity="giou", coords="norm1")
    )
    assert config_from_kwargs({"config": {"similarity": "diou"}}).similarity == "diou"
    with pytest.raises(ConfigError, match="coords"):
        compute_score("s", TEXTS[0], GT, coords="norm10")
    with pytest.warns(GroundTruthWarning, match="coord"):
        compute_score("s", TEXTS[0], GT, coord="norm1000")  # a typo is reported, not fatal


def test_verl_extra_kwargs_are_ignored() -> None:
    plain = compute_score("s", TEXTS[0], GT)
    extra = compute_score(
        "s", TEXTS[0], GT, {}, reward_router_address="127.0.0.1:1", reward_model_tokenizer=object()
    )
    assert extra == plain


def test_batch_form_matches_single() -> None:
    n = len(TEXTS)
    singles = [compute_score("s", t, GT, None, coords="pixel") for t in TEXTS]
    batch = compute_score_batch(["s"] * n, TEXTS, [GT] * n, None, coords="pixel")
    assert batch == singles
    assert compute_score_batch(["s"] * n, TEXTS, [GT] * n, [{}] * n) == singles
    with pytest.raises(ValueError, match="ground_truths"):
        compute_score_batch(["s"] * n, TEXTS, [GT])


def test_thread_safe_and_picklable() -> None:
    jobs = [(t, json.dumps({**GT, "answer": a})) for t in TEXTS for a in ("A", "B")] * 20
    serial = [compute_score("s", t, g, coords="pixel", similarity="giou") for t, g in jobs]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(
            pool.map(
                lambda job: compute_score("s", job[0], job[1], coords="pixel", similarity="giou"),
                jobs,
            )
        )
    assert threaded == serial
    assert pickle.loads(pickle.dumps(compute_score)) is compute_score


def test_reward_file_loads_by_path_without_the_package_layout() -> None:
    spec = importlib.util.spec_from_file_location("some_user_reward", REWARD_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compute_score("s", TEXTS[0], GT) == compute_score("s", TEXTS[0], GT)
    assert module.compute_score_batch(["s"], [TEXTS[0]], [GT]) == [compute_score("s", TEXTS[0], GT)]
    assert "from ." not in REWARD_FILE.read_text()
