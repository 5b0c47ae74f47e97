"""One error module: each error derives from GroundingRewardsError and a built-in."""

from __future__ import annotations

import inspect

import pytest

from grounding_rewards import errors
from grounding_rewards.boxes import as_boxes, pixel_scale
from grounding_rewards.cli import _common
from grounding_rewards.matching import similarity_matrix
from grounding_rewards.metrics import _exact, coco, grounding, rollouts
from grounding_rewards.polygons import polygon_iou, rotated_box_iou

BUILTIN = {
    "ConfigError": ValueError,
    "GroundTruthError": ValueError,
    "InputError": ValueError,
    "RolloutFormatError": ValueError,
    "DataFileError": ValueError,
    "MissingDependencyError": ImportError,
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
    ],
)
def test_public_raises_use_the_library_errors(call: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as caught:
        call()  # type: ignore[operator]
    assert isinstance(caught.value, errors.GroundingRewardsError)
    assert isinstance(caught.value, ValueError)  # callers' except ValueError keeps working
