"""One validated, frozen, hashable configuration for parsing and every reward.

Example:
    >>> from grounding_rewards import RewardConfig
    >>> config = RewardConfig(coords="norm1000", length_penalty=2.0)
    >>> config.similarity, config.weights
    ('iou', {'format': 1.0, 'accuracy': 1.0, 'bbox': 1.0})
    >>> RewardConfig(weights={"point": 1.0}).weights
    {'format': 1.0, 'accuracy': 1.0, 'bbox': 1.0, 'point': 1.0}
    >>> hash(config) == hash(RewardConfig(coords="norm1000", length_penalty=2.0))
    True
    >>> RewardConfig(length_penalty=-1)
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.ConfigError: RewardConfig.length_penalty: expected ... >= 0, got -1
    >>> config.replace(similarity="giou").similarity
    'giou'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, get_args

from grounding_rewards.components import Weights, component_names, default_weights
from grounding_rewards.dialects.registry import dialect_names
from grounding_rewards.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "DEFAULT_CONFIG",
    "BoxRegion",
    "ConfigLike",
    "CoordSpace",
    "FormatMode",
    "LabelMatcher",
    "LabelMatching",
    "PointScoring",
    "RewardConfig",
    "Similarity",
    "describe_validation_error",
]

CoordSpace: TypeAlias = Literal["pixel", "norm1000", "norm1", "norm100", "qwen25vl"]
Similarity: TypeAlias = Literal["iou", "giou", "diou", "ciou"]
FormatMode: TypeAlias = Literal["strict", "graded"]
BoxRegion: TypeAlias = Literal["think", "answer", "anywhere"]
PointScoring: TypeAlias = Literal["inside", "gaussian"]
LabelMatcher: TypeAlias = Callable[[str, str], float]
"""A user label gate: ``(predicted_label, ground_truth_label) -> factor in [0, 1]``."""
LabelMatching: TypeAlias = Literal["ignore", "exact", "fuzzy"] | LabelMatcher

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


_BOUNDS = (
    ("Input should be greater than or equal to ", "expected a number >= "),
    ("Input should be greater than ", "expected a number > "),
    ("Input should be less than or equal to ", "expected a number <= "),
)


def describe_validation_error(error: ValidationError, owner: str) -> str:
    """Turn pydantic's report into "<owner>.<field>: expected X, got Y" lines.

    Args:
        error: What pydantic raised.
        owner: The configuration class name, e.g. ``"RewardConfig"``.

    Returns:
        One line per problem, joined with ``"; "``.
    """
    lines = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "<config>"
        message = item["msg"].removeprefix("Value error, ")
        for prefix, expected in _BOUNDS:
            if message.startswith(prefix):
                message = expected + message.rsplit(" ", 1)[-1]
                break
        else:
            if message.startswith("Input should be "):
                message = "expected " + message.removeprefix("Input should be ")
            elif message.startswith("Extra inputs are not permitted"):
                message = "expected no such field (unknown option)"
        if " got " not in message:
            message = f"{message}, got {item.get('input')!r}"
        lines.append(f"{owner}.{field}: {message}")
    return "; ".join(lines)


class RewardConfig:
    """Every knob of parsing and scoring, validated at construction.

    Attributes:
        weights: ``{component: weight}`` of the components to score (see
            :mod:`grounding_rewards.components`); the total is ``Σ w_c·R_c`` over the
            components that apply. A mapping updates the defaults
            (``{"format": 1, "accuracy": 1, "bbox": 1}``) and may name components that are
            off by default (``{"point": 1}``); the tuple ``(w_format, w_accuracy, w_bbox)``
            is still accepted.
        dialect: How the model writes boxes and points: ``tags`` (``<obj>..</obj><bbox>..``),
            ``json`` (``{"bbox_2d": [...], "label": ...}``), ``qwen2-tokens``, ``ref-box``,
            ``bare``, ``molmo``, ``florence2``, or a name given to
            :func:`~grounding_rewards.dialects.register_dialect`.
        require_blocks: Whether a completion must have ``<think>``/``<answer>`` blocks.
            ``None`` (default): yes for ``tags``; for other dialects only when the
            completion uses blocks at all (a plain grounding answer is judged on its boxes).
        coords: The space the *model* writes boxes in: ``pixel`` (original image),
            ``norm1000`` (Qwen2-VL, Qwen3-VL, InternVL), ``norm1``, ``norm100`` (percent;
            Molmo), or ``qwen25vl`` (pixels of the image after Qwen2.5-VL's smart-resize).
            Ground truth is always pixel ``xyxy`` of the original image.
        min_pixels: Qwen2.5-VL processor ``min_pixels`` (used by ``qwen25vl``).
        max_pixels: Qwen2.5-VL processor ``max_pixels`` (used by ``qwen25vl``).
        similarity: Box similarity: ``iou``, or ``giou``/``diou``/``ciou`` mapped to
            ``[0, 1]`` as ``(s + 1) / 2``.
        length_penalty: ``alpha`` in ``R_bbox = (Σ S / m) · min(1, m / n) ** alpha``
            (and in R_point).
        point_scoring: How a point scores against a target: ``inside`` (1 when inside the
            box or polygon, edges included) or ``gaussian`` (GUI clicks: a Gaussian
            around the box centre, ``σ = point_sigma ·`` the box side).
        point_sigma: The Gaussian's ``σ`` as a fraction of the box width and height.
        label_matching: ``ignore``, ``exact``, ``fuzzy`` or a callable
            ``(pred_label, gt_label) -> factor in [0, 1]`` that gates similarity.
        format_mode: ``strict`` (1 or 0) or ``graded`` (fraction of checks passed).
        min_spans: Grounded spans the format reward requires.
        box_region: Where boxes count: inside ``think`` (default), ``answer`` or ``anywhere``.
        max_boxes: More boxes than this score 0 on format and bbox.
        max_chars: Longer completions score 0 on every component.
        think_tag: Name of the reasoning tag.
        answer_tag: Name of the answer tag.
        obj_tag: Name of the object-label tag.
        bbox_tag: Name of the box tag.
        point_tag: Name of the point tag (``<obj>label</obj><point>[x, y]</point>``).
    """

    __slots__ = (
        "answer_tag",
        "bbox_tag",
        "box_region",
        "coords",
        "dialect",
        "format_mode",
        "label_matching",
        "length_penalty",
        "max_boxes",
        "max_chars",
        "max_pixels",
        "min_pixels",
        "min_spans",
        "obj_tag",
        "point_scoring",
        "point_sigma",
        "point_tag",
        "require_blocks",
        "similarity",
        "think_tag",
        "weights",
    )

    weights: Weights
    dialect: str
    require_blocks: bool | None
    coords: CoordSpace
    min_pixels: int
    max_pixels: int
    similarity: Similarity
    length_penalty: float
    point_scoring: PointScoring
    point_sigma: float
    label_matching: LabelMatching
    format_mode: FormatMode
    min_spans: int
    box_region: BoxRegion
    max_boxes: int
    max_chars: int
    think_tag: str
    answer_tag: str
    obj_tag: str
    bbox_tag: str
    point_tag: str

    model_fields: ClassVar[dict[str, Any]]
    """Every field with its default (the name pydantic models use, kept for callers)."""

    def __init__(self, **data: Any) -> None:
        errors = [
            f"RewardConfig.{name}: expected no such field (unknown option), got {value!r}"
            for name, value in data.items()
            if name not in _FIELDS
        ]
        values: dict[str, Any] = {}
        for name, (default, check) in _FIELDS.items():
            if name not in data:
                values[name] = default
                continue
            try:
                values[name] = check(data[name])
            except (ValueError, TypeError) as error:
                errors.append(f"RewardConfig.{name}: {error}")
        if not errors:
            errors = [f"RewardConfig: {problem}" for problem in _cross_field_problems(values)]
        if errors:
            raise ConfigError("; ".join(errors))
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise ConfigError(f"RewardConfig is frozen: expected .replace({name}=...), got assignment")

    def __delattr__(self, name: str) -> None:
        raise ConfigError(f"RewardConfig is frozen: expected no deletion, got del .{name}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RewardConfig):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"RewardConfig({fields})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.model_dump(),))

    def replace(self, **changes: Any) -> RewardConfig:
        """Return a validated copy with ``changes`` applied.

        Args:
            **changes: Field values to change.

        Returns:
            A new configuration; ``self`` is unchanged.
        """
        return RewardConfig(**{**self.model_dump(), **changes})

    def model_dump(self) -> dict[str, Any]:
        """Every field as a plain value (``weights`` as a dict), e.g. for JSON or logs.

        Example:
            >>> RewardConfig().model_dump()["weights"]
            {'format': 1.0, 'accuracy': 1.0, 'bbox': 1.0}
        """
        fields = {name: getattr(self, name) for name in _FIELDS}
        fields["weights"] = dict(self.weights)
        return fields

    def model_dump_json(self) -> str:
        """The fields as a JSON object (a callable ``label_matching`` cannot be written).

        Raises:
            ConfigError: For a callable ``label_matching``.
        """
        if callable(self.label_matching):
            raise ConfigError("label_matching: expected a name to write as JSON, got a callable")
        return json.dumps(self.model_dump())

    @classmethod
    def model_validate_json(cls, text: str | bytes) -> RewardConfig:
        """Build a configuration from a JSON object of fields.

        Raises:
            ConfigError: For text that is not a JSON object, or invalid fields.
        """
        try:
            fields = json.loads(text)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            raise ConfigError(f"RewardConfig: expected a JSON object of fields, got {text!r:.80}")
        return cls(**fields)


def _rebuild(fields: dict[str, Any]) -> RewardConfig:
    return RewardConfig(**fields)


def _choice(options: tuple[str, ...]) -> Callable[[Any], Any]:
    quoted = [repr(option) for option in options]
    expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]

    def check(value: Any) -> Any:
        if value not in options or not isinstance(value, str):
            raise ConfigError(f"expected {expected}, got {value!r}")
        return value

    return check


def _integer(low: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        number = value
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise ConfigError(f"expected an integer >= {low}, got {value!r}") from None
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        if isinstance(number, bool) or not isinstance(number, int):
            raise ConfigError(f"expected an integer >= {low}, got {value!r}")
        if number < low:
            raise ConfigError(f"expected an integer >= {low}, got {number}")
        return number

    return check


def _number(strictly_positive: bool) -> Callable[[Any], float]:
    bound = "> 0" if strictly_positive else ">= 0"

    def check(value: Any) -> float:
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a finite number {bound}, got {value!r}") from None
        if not (math.isfinite(number) and (number > 0 if strictly_positive else number >= 0)):
            raise ConfigError(f"expected a finite number {bound}, got {number:g}")
        return number

    return check


def _weights(value: Any) -> Weights:
    if isinstance(value, Weights):
        return value
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"expected a mapping {{component: weight}}, got {value!r}") from None
    if isinstance(value, Mapping) or hasattr(value, "keys"):
        names = component_names()
        unknown = sorted(str(k) for k in value if k not in names)
        if unknown:
            raise ConfigError(f"expected component names from {list(names)}, got {unknown}")
        merged = default_weights()
        merged.update(value)
        order = {name: i for i, name in enumerate(names)}
        items = sorted(merged.items(), key=lambda item: order[item[0]])
        return Weights(dict(_finite_weights(items)))
    if isinstance(value, (list, tuple)):
        if len(value) != 3:
            raise ConfigError(
                "expected 3 weights (format, accuracy, bbox) or a mapping by component "
                f"name, got {len(value)}"
            )
        pairs = zip(("format", "accuracy", "bbox"), value, strict=True)
        return Weights(dict(_finite_weights(pairs)))
    raise ConfigError(f"expected a mapping {{component: weight}}, got {value!r}")


def _dialect(value: Any) -> str:
    names = dialect_names()
    if not isinstance(value, str) or value not in names:
        raise ConfigError(f"expected one of {list(names)}, got {value!r}")
    return value


_TRUTHY = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _optional_bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUTHY:
        return _TRUTHY[value.strip().lower()]
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"expected true, false or None, got {value!r}")


def _label_matching(value: Any) -> Any:
    if (isinstance(value, str) and value in ("ignore", "exact", "fuzzy")) or (
        callable(value) and not isinstance(value, str)
    ):
        return value
    raise ConfigError(f"expected 'ignore', 'exact', 'fuzzy' or a callable, got {value!r}")


def _tag_name(value: Any) -> str:
    if not isinstance(value, str) or not _TAG_NAME.fullmatch(value):
        raise ConfigError(
            f"expected a tag name like 'think' ([A-Za-z][A-Za-z0-9_-]*), got {value!r}"
        )
    return value


def _cross_field_problems(values: dict[str, Any]) -> list[str]:
    problems = []
    if values["min_pixels"] > values["max_pixels"]:
        problems.append(
            "expected min_pixels <= max_pixels, "
            f"got {values['min_pixels']} > {values['max_pixels']}"
        )
    tags = [
        values[name] for name in ("think_tag", "answer_tag", "obj_tag", "bbox_tag", "point_tag")
    ]
    if len({tag.lower() for tag in tags}) != len(tags):
        problems.append(f"expected five distinct tag names, got {tags}")
    return problems


def _finite_weights(pairs: Any) -> list[tuple[str, float]]:
    checked = []
    for name, weight in pairs:
        try:
            number = float(weight)
        except (TypeError, ValueError):
            raise ConfigError(f"expected a number for {name!r}, got {weight!r}") from None
        if not (math.isfinite(number) and number >= 0):
            raise ConfigError(f"expected finite weights >= 0, got {name}={number}")
        checked.append((name, number))
    return checked


# Every field: (default, check). The order is the order of repr, model_dump and hashing.
_FIELDS: dict[str, tuple[Any, Callable[[Any], Any]]] = {
    "weights": (Weights({"format": 1.0, "accuracy": 1.0, "bbox": 1.0}), _weights),
    "dialect": ("tags", _dialect),
    "require_blocks": (None, _optional_bool),
    "coords": ("pixel", _choice(get_args(CoordSpace))),
    "min_pixels": (3136, _integer(1)),
    "max_pixels": (12845056, _integer(1)),
    "similarity": ("iou", _choice(get_args(Similarity))),
    "length_penalty": (1.0, _number(strictly_positive=False)),
    "point_scoring": ("inside", _choice(get_args(PointScoring))),
    "point_sigma": (0.25, _number(strictly_positive=True)),
    "label_matching": ("ignore", _label_matching),
    "format_mode": ("strict", _choice(get_args(FormatMode))),
    "min_spans": (1, _integer(0)),
    "box_region": ("think", _choice(get_args(BoxRegion))),
    "max_boxes": (100, _integer(1)),
    "max_chars": (100_000, _integer(1)),
    "think_tag": ("think", _tag_name),
    "answer_tag": ("answer", _tag_name),
    "obj_tag": ("obj", _tag_name),
    "bbox_tag": ("bbox", _tag_name),
    "point_tag": ("point", _tag_name),
}
RewardConfig.model_fields = {name: default for name, (default, _) in _FIELDS.items()}


DEFAULT_CONFIG = RewardConfig()
"""The defaults every function uses when given ``config=None``."""

ConfigLike: TypeAlias = RewardConfig | Mapping[str, Any] | str | bytes | None
"""What the trainer adapters accept as ``config``: a :class:`RewardConfig`, a mapping of
its fields (an OmegaConf ``DictConfig`` too), that mapping as JSON, or ``None``."""
