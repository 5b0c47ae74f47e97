"""The component registry: a new component is one function plus one registration, and
point_reward reaches every place that shows rewards through it."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from grounding_rewards import ConfigError, RewardConfig, grounding_reward
from grounding_rewards.components import (
    active_components,
    component_names,
    get_component,
    register_component,
    unregister_component,
)
from grounding_rewards.metrics import Rollout, RolloutEvaluator
from grounding_rewards.report.html import render_report
from grounding_rewards.trl import reward_funcs, reward_weights
from grounding_rewards.verl import compute_score, score_keys

POINTS = RewardConfig(weights={"point": 2.0})
TEXT = (
    "<think>The <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox> sits by the "
    "<obj>cup</obj><point>[25, 5]</point>.</think><answer>B</answer>"
)
GT = {"answer": "B", "gt_boxes": [[0, 0, 10, 10], [20, 0, 30, 10]], "image_size": [64, 64]}


def test_builtins_are_registered_in_order() -> None:
    assert component_names()[:4] == ("format", "accuracy", "bbox", "point")
    assert get_component("point").default_weight == 0.0
    assert [c.name for c in active_components(RewardConfig())] == ["format", "accuracy", "bbox"]


def test_point_joins_the_composite_by_weight_alone() -> None:
    r = grounding_reward(TEXT, **GT, config=POINTS)
    # bbox: the box matches GT 0 (IoU 1), n = 1, m = 2 -> 1/2.
    # point: the point (25, 5) lies in GT 1, n = 1, m = 2 -> 1/2.
    assert r.scores == {"format": 1.0, "accuracy": 1.0, "bbox": 0.5, "point": 0.5}
    assert r.total == pytest.approx(1 + 1 + 0.5 + 2 * 0.5)
    assert r["point"] == 0.5 and r.as_dict()["point"] == 0.5
    assert "point" not in grounding_reward(TEXT, **GT).scores


def test_point_reaches_trl() -> None:
    funcs = reward_funcs(POINTS)
    assert [f.__name__ for f in funcs] == [
        "format_reward",
        "option_reward",
        "bbox_reward",
        "point_reward",
    ]
    assert reward_weights(POINTS) == [1.0, 1.0, 1.0, 2.0]
    batch = {k: [v, v] for k, v in GT.items()}
    assert funcs[3](prompts=["p", "p"], completions=[TEXT, "<answer>B</answer>"], **batch) == [
        0.5,
        0.0,
    ]
    revived = pickle.loads(pickle.dumps(funcs))
    assert revived[3](completions=[TEXT], **{k: [v] for k, v in GT.items()}) == [0.5]


def test_point_reaches_verl() -> None:
    out = compute_score("d", TEXT, json.dumps(GT), None, weights={"point": 2.0})
    assert list(out) == list(score_keys(POINTS))
    assert (out["point"], out["has_point"], out["score"]) == (0.5, 1.0, 3.5)
    assert "point" not in compute_score("d", TEXT, json.dumps(GT))


def test_point_reaches_evaluate_and_the_report(tmp_path: Path) -> None:
    evaluator = RolloutEvaluator(config=POINTS, coco=False)
    evaluator.add(Rollout(completion=TEXT, target=GT, source="t:1"))
    result = evaluator.compute()
    assert result.rewards["point"] == 0.5
    assert result.as_dict()["rewards"]["point"] == {"mean": 0.5, "count": 1}
    html = render_report(result, evaluator.gallery())
    assert "R_point" in html and "reward: point" in html


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grounding_rewards", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_point_reaches_score_and_evaluate_commands(tmp_path: Path) -> None:
    rollouts = tmp_path / "r.jsonl"
    rollouts.write_text(json.dumps({"completion": TEXT, **GT}) + "\n", encoding="utf-8")
    scored = run_cli("score", str(rollouts), "--weights", "point=2", "--json", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    summary = json.loads(scored.stdout)["summary"]
    assert (summary["mean_point"], summary["mean_total"]) == (0.5, 3.5)
    table = run_cli("score", str(rollouts), "--weights", "point=2", cwd=tmp_path)
    assert "point" in table.stdout
    evaluated = run_cli(
        "evaluate", str(rollouts), "--weights", "point=2", "--no-coco", "--json", cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["rewards"]["point"]["mean"] == 0.5


def test_a_user_component_is_one_function_and_one_registration() -> None:
    def answered(trace, truth, config):  # type: ignore[no-untyped-def]
        return 1.0 if trace.answer else 0.0

    register_component("answered", answered, reads=(), default_weight=0.0)
    try:
        config = RewardConfig(weights={"answered": 3})
        assert grounding_reward(TEXT, **GT, config=config).scores["answered"] == 1.0
        assert [f.__name__ for f in reward_funcs(config)][-1] == "answered_reward"
        assert compute_score("d", TEXT, json.dumps(GT), None, config=config)["answered"] == 1.0
    finally:
        unregister_component("answered")
    with pytest.raises(ConfigError, match="expected component names"):
        RewardConfig(weights={"answered": 1})


def test_registration_is_validated() -> None:
    with pytest.raises(ConfigError, match="already registered"):
        register_component("bbox", lambda t, g, c: 0.0, reads=())
    with pytest.raises(ConfigError, match="expected fields from"):
        register_component("x1", lambda t, g, c: 0.0, reads=("pixels",))
    with pytest.raises(ConfigError, match="component name"):
        register_component("Bad", lambda t, g, c: 0.0, reads=())
    with pytest.raises(ConfigError, match="built-in"):
        unregister_component("bbox")
