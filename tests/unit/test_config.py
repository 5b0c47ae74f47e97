"""RewardConfig: defaults, validation messages, immutability, hashing, pickling."""

from __future__ import annotations

import math
import pickle

import pytest

from grounding_rewards import DEFAULT_CONFIG, ConfigError, RewardConfig


def test_defaults_match_the_design() -> None:
    config = RewardConfig()
    assert config.weights == {"format": 1.0, "accuracy": 1.0, "bbox": 1.0}
    assert (config.dialect, config.require_blocks) == ("tags", None)
    assert (config.point_scoring, config.point_sigma, config.point_tag) == ("inside", 0.25, "point")
    assert config.coords == "pixel"
    assert (config.min_pixels, config.max_pixels) == (3136, 12845056)
    assert config.similarity == "iou"
    assert config.length_penalty == 1.0
    assert config.label_matching == "ignore"
    assert config.format_mode == "strict"
    assert config.min_spans == 1
    assert config.box_region == "think"
    assert config.max_boxes == 100
    assert config.max_chars == 100_000
    assert (config.think_tag, config.answer_tag, config.obj_tag, config.bbox_tag) == (
        "think",
        "answer",
        "obj",
        "bbox",
    )
    assert config == DEFAULT_CONFIG


# Each bad value: the message must name the field, say what was expected and what it got.
BAD_VALUES = [
    ("weights", (1, 2), "expected 3 weights", "got 2"),
    ("weights", (1, -1, 1), "expected finite weights >= 0", "got accuracy=-1.0"),
    ("weights", (1, math.nan, 1), "expected finite weights >= 0", "nan"),
    ("weights", {"format": 1, "style": 2}, "expected component names from", "['style']"),
    ("weights", {"bbox": "heavy"}, "expected a number for 'bbox'", "got 'heavy'"),
    ("weights", 3, "expected a mapping {component: weight}", "got 3"),
    ("dialect", "yaml", "expected one of ['tags', 'json'", "got 'yaml'"),
    ("point_scoring", "near", "expected 'inside' or 'gaussian'", "got 'near'"),
    ("point_sigma", 0, "expected a finite number > 0", "got 0"),
    (
        "coords",
        "norm",
        "expected 'pixel', 'norm1000', 'norm1', 'norm100' or 'qwen25vl'",
        "got 'norm'",
    ),
    ("similarity", "dice", "expected 'iou', 'giou', 'diou' or 'ciou'", "got 'dice'"),
    ("length_penalty", -1, "expected a finite number >= 0", "got -1"),
    ("length_penalty", math.inf, "expected a finite number >= 0", "got inf"),
    ("label_matching", "maybe", "expected 'ignore', 'exact', 'fuzzy' or a callable", "'maybe'"),
    ("label_matching", 3, "expected 'ignore', 'exact', 'fuzzy' or a callable", "got 3"),
    ("format_mode", "lenient", "expected 'strict' or 'graded'", "got 'lenient'"),
    ("min_spans", -1, "expected an integer >= 0", "got -1"),
    ("box_region", "everywhere", "expected 'think', 'answer' or 'anywhere'", "'everywhere'"),
    ("max_boxes", 0, "expected an integer >= 1", "got 0"),
    ("max_chars", 0, "expected an integer >= 1", "got 0"),
    ("min_pixels", 0, "expected an integer >= 1", "got 0"),
    ("min_pixels", "abc", "expected", "got 'abc'"),
    ("think_tag", "th ink", "expected a tag name", "got 'th ink'"),
    ("bbox_tag", "", "expected a tag name", "got ''"),
    ("obj_tag", "1obj", "expected a tag name", "got '1obj'"),
    ("colour", "red", "expected no such field", "got 'red'"),
]


@pytest.mark.parametrize(("field", "value", "expected", "got"), BAD_VALUES)
def test_bad_values_raise_config_error_naming_field_expected_and_got(
    field: str, value: object, expected: str, got: str
) -> None:
    with pytest.raises(ConfigError) as info:
        RewardConfig(**{field: value})
    message = str(info.value)
    assert f"RewardConfig.{field}" in message
    assert expected in message
    assert got in message


def test_fractional_integer_field_names_field_and_expected() -> None:
    with pytest.raises(ConfigError) as info:
        RewardConfig(max_boxes=1.5)
    message = str(info.value)
    assert "RewardConfig.max_boxes" in message
    assert "expected" in message and "got" in message


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError, match="expected min_pixels <= max_pixels, got 100 > 10"):
        RewardConfig(min_pixels=100, max_pixels=10)
    with pytest.raises(ConfigError, match="expected five distinct tag names"):
        RewardConfig(think_tag="obj")
    with pytest.raises(ConfigError, match="expected five distinct tag names"):
        RewardConfig(think_tag="OBJ")  # tags are matched case-insensitively


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)
    with pytest.raises(ValueError):
        RewardConfig(similarity="l1")


def test_weights_as_mapping() -> None:
    assert RewardConfig(weights={"bbox": 2}).weights == {"format": 1, "accuracy": 1, "bbox": 2}
    assert RewardConfig(weights=[0.5, 0, 3]).weights == {"format": 0.5, "accuracy": 0, "bbox": 3}
    # A component that is off by default joins in registry order, whatever the key order.
    config = RewardConfig(weights={"point": 2, "format": 0.5})
    assert list(config.weights.items()) == [
        ("format", 0.5),
        ("accuracy", 1.0),
        ("bbox", 1.0),
        ("point", 2.0),
    ]


def test_weights_survive_json_and_pickle() -> None:
    config = RewardConfig(weights={"point": 2})
    assert RewardConfig.model_validate_json(config.model_dump_json()) == config
    assert pickle.loads(pickle.dumps(config)) == config
    assert config.replace(similarity="giou").weights == config.weights


def test_frozen() -> None:
    config = RewardConfig()
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        config.max_boxes = 5  # type: ignore[misc]
    assert config.max_boxes == 100


def test_replace_validates_and_leaves_the_original() -> None:
    config = RewardConfig(coords="norm1000")
    changed = config.replace(similarity="giou", length_penalty=2.0)
    assert (changed.coords, changed.similarity, changed.length_penalty) == ("norm1000", "giou", 2.0)
    assert (config.similarity, config.length_penalty) == ("iou", 1.0)
    with pytest.raises(ConfigError, match=r"RewardConfig\.max_boxes"):
        config.replace(max_boxes=0)


def test_hashable_and_equal_by_value() -> None:
    a = RewardConfig(coords="norm1000", length_penalty=2.0, weights=(1, 0.5, 2))
    b = RewardConfig(coords="norm1000", length_penalty=2.0, weights=(1.0, 0.5, 2.0))
    assert a == b and hash(a) == hash(b)
    assert a != RewardConfig(coords="norm1000")
    assert len({a, b, RewardConfig()}) == 2
    cache = {a: "hit"}
    assert cache[b] == "hit"


def gate(pred: str, gt: str) -> float:
    return 1.0 if pred == gt else 0.25


def test_picklable_including_a_module_level_callable_gate() -> None:
    for config in (
        RewardConfig(),
        RewardConfig(coords="qwen25vl", min_pixels=1000, max_pixels=2_000_000, similarity="ciou"),
        RewardConfig(label_matching=gate, think_tag="reasoning"),
    ):
        clone = pickle.loads(pickle.dumps(config))
        assert clone == config
        assert hash(clone) == hash(config)


def test_callable_gate_config_is_hashable() -> None:
    assert hash(RewardConfig(label_matching=gate)) == hash(RewardConfig(label_matching=gate))
