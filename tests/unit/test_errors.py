"""One error module: each error derives from GroundingRewardsError and a built-in."""

from __future__ import annotations

import inspect

import pytest

from grounding_rewards import RewardConfig, easyr1, errors, openrlhf, swift, trl, verl
from grounding_rewards.audit import contracts, scenarios
from grounding_rewards.boxes import as_boxes, pixel_scale
from grounding_rewards.cli import _common
from grounding_rewards.matching import similarity_matrix
from grounding_rewards.metrics import _exact, coco, grounding, rollouts
from grounding_rewards.polygons import polygon_iou, rotated_box_iou
from grounding_rewards.synthesis import images, store
from grounding_rewards.synthesis.backends import base
from grounding_rewards.synthesis.stages import common

BUILTIN = {
    "ConfigError": ValueError,
    "GroundTruthError": ValueError,
    "InputError": ValueError,
    "RolloutFormatError": ValueError,
    "DataFileError": ValueError,
    "MissingDependencyError": ImportError,
    "InputTypeError": TypeError,
    "AuditError": ValueError,
    "ImageError": ValueError,
    "BackendError": RuntimeError,
    "StageFailedError": RuntimeError,
    "OutputLockedError": RuntimeError,
}


def test_every_error_is_listed_and_derives_from_the_base_and_a_builtin() -> None:
    classes = {
        name: value
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, Exception)
    }
    assert set(classes) == set(errors.__all__) == {*BUILTIN, "GroundingRewardsError"}
    for name, builtin in BUILTIN.items():
        assert issubclass(classes[name], errors.GroundingRewardsError)
        assert issubclass(classes[name], builtin)


def test_the_old_homes_re_export_the_same_classes() -> None:
    assert rollouts.RolloutFormatError is errors.RolloutFormatError
    assert _common.DataFileError is errors.DataFileError
    assert contracts.AuditError is errors.AuditError
    assert images.ImageError is errors.ImageError
    assert base.BackendError is errors.BackendError
    assert common.StageFailedError is errors.StageFailedError
    assert store.OutputLockedError is errors.OutputLockedError
    for module, name in (
        (contracts, "AuditError"),
        (images, "ImageError"),
        (base, "BackendError"),
        (common, "StageFailedError"),
        (store, "OutputLockedError"),
    ):
        assert name in module.__all__


def test_the_docstring_table_lists_every_error() -> None:
    table = errors.__doc__ or ""
    for name in errors.__all__:
        if name != "GroundingRewardsError":
            assert f"``{name}``" in table, name


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: as_boxes([[1, 2, 3]]), errors.InputError, r"shape \[N, 4\]"),
        (lambda: pixel_scale("norm1", None), errors.GroundTruthError, "needs image_size"),
        (
            lambda: similarity_matrix([(0, 0, 1, 1)], [(0, 0, 1, 1)], label_matching="exact"),
            errors.InputError,
            "one label per box",
        ),
        (lambda: polygon_iou([[(0, 0, 0)]], []), errors.InputError, r"\[K, 2\]"),
        (lambda: rotated_box_iou([[0, 0, 1, 1]], []), errors.InputError, r"\[N, 5\]"),
        (lambda: _exact.ExactSum().add(float("nan")), errors.InputError, "finite"),
        (lambda: grounding.grounding_metrics([[]], []), errors.InputError, "one entry"),
        (
            lambda: grounding.grounding_metrics([], [], thresholds=[2.0]),
            errors.ConfigError,
            r"\[0, 1\]",
        ),
        (lambda: coco.coco_ap([[]], []), errors.InputError, "one entry"),
        (lambda: RewardConfig(weights={"bbox": -1.0}), errors.ConfigError, "weights >= 0"),
        (lambda: RewardConfig(coords="norm7"), errors.ConfigError, "coords: expected"),
        (
            lambda: verl.compute_score_batch(["d"], ["x", "y"], [{}]),
            errors.InputError,
            "one per response",
        ),
        (
            lambda: openrlhf.reward_func(["q"], ["p"], [None, None]),
            errors.InputError,
            "one per query",
        ),
        (
            lambda: swift.GroundingORM()(["x"], solution=["(A)", "(B)"]),
            errors.InputError,
            "one value per completion",
        ),
        (
            lambda: trl.reward_funcs()[1](completions=["x"], answer=["A", "B"]),
            errors.InputError,
            "one value per completion",
        ),
        (lambda: scenarios.scenarios_for("nope"), errors.InputError, "expected a task"),
    ],
)
def test_public_raises_use_the_library_errors(call: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        call()  # type: ignore[operator]
    assert isinstance(caught.value, errors.GroundingRewardsError)
    assert isinstance(caught.value, ValueError)  # callers' except ValueError keeps working


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: trl.reward_funcs()[0](completions=None), "expected completions"),
        (lambda: easyr1.compute_score(["not a dict"]), "reward_input: expected a dict"),
        (lambda: contracts.to_reward_value("0.5"), "expected a number, got str"),
        (lambda: contracts.to_reward_values([1.0], 2), "expected 2 rewards, got 1"),
    ],
)
def test_type_errors_stay_type_errors(call: object, message: str) -> None:
    with pytest.raises(errors.InputTypeError, match=message) as caught:
        call()  # type: ignore[operator]
    assert isinstance(caught.value, TypeError)  # callers' except TypeError keeps working
    assert isinstance(caught.value, errors.GroundingRewardsError)
