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

import math
import re
from collections.abc import Callable
from typing import Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from grounding_rewards.components import Weights, component_names, default_weights
from grounding_rewards.dialects.registry import dialect_names
from grounding_rewards.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIG",
    "BoxRegion",
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


class RewardConfig(BaseModel):
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

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    weights: Weights = Weights({"format": 1.0, "accuracy": 1.0, "bbox": 1.0})
    dialect: str = "tags"
    require_blocks: bool | None = None
    coords: CoordSpace = "pixel"
    min_pixels: int = 3136
    max_pixels: int = 12845056
    similarity: Similarity = "iou"
    length_penalty: float = 1.0
    point_scoring: PointScoring = "inside"
    point_sigma: float = 0.25
    label_matching: LabelMatching = "ignore"
    format_mode: FormatMode = "strict"
    min_spans: int = 1
    box_region: BoxRegion = "think"
    max_boxes: int = 100
    max_chars: int = 100_000
    think_tag: str = "think"
    answer_tag: str = "answer"
    obj_tag: str = "obj"
    bbox_tag: str = "bbox"
    point_tag: str = "point"

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, "RewardConfig")) from None

    def replace(self, **changes: Any) -> RewardConfig:
        """Return a validated copy with ``changes`` applied.

        Args:
            **changes: Field values to change.

        Returns:
            A new configuration; ``self`` is unchanged.
        """
        return RewardConfig(**{**self.model_dump(), **changes})

    @field_validator("weights", mode="before")
    @classmethod
    def _weights_by_name(cls, value: Any) -> Any:
        if isinstance(value, Weights):
            return value
        if isinstance(value, dict) or hasattr(value, "keys"):
            names = component_names()
            unknown = sorted(str(k) for k in value if k not in names)
            if unknown:
                raise ValueError(f"expected component names from {list(names)}, got {unknown}")
            merged = default_weights()
            merged.update(value)
            order = {name: i for i, name in enumerate(names)}
            items = sorted(merged.items(), key=lambda item: order[item[0]])
            return Weights(dict(_finite_weights(items)))
        if isinstance(value, (list, tuple)):
            if len(value) != 3:
                raise ValueError(
                    "expected 3 weights (format, accuracy, bbox) or a mapping by component "
                    f"name, got {len(value)}"
                )
            pairs = zip(("format", "accuracy", "bbox"), value, strict=True)
            return Weights(dict(_finite_weights(pairs)))
        raise ValueError(f"expected a mapping {{component: weight}}, got {value!r}")

    @field_serializer("weights")
    def _weights_as_dict(self, value: Weights) -> dict[str, float]:
        return dict(value)

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        names = dialect_names()
        if value not in names:
            raise ValueError(f"expected one of {list(names)}, got {value!r}")
        return value

    @field_validator("point_sigma")
    @classmethod
    def _sigma(cls, value: float) -> float:
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"expected a finite number > 0, got {value:g}")
        return value

    @field_validator("length_penalty")
    @classmethod
    def _alpha(cls, value: float) -> float:
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"expected a finite number >= 0, got {value:g}")
        return value

    @field_validator("min_pixels", "max_pixels", "max_boxes", "max_chars")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"expected an integer >= 1, got {value}")
        return value

    @field_validator("min_spans")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError(f"expected an integer >= 0, got {value}")
        return value

    @field_validator("label_matching", mode="before")
    @classmethod
    def _matcher(cls, value: Any) -> Any:
        if isinstance(value, str) and value not in ("ignore", "exact", "fuzzy"):
            raise ValueError(f"expected 'ignore', 'exact', 'fuzzy' or a callable, got {value!r}")
        if not isinstance(value, str) and not callable(value):
            raise ValueError(f"expected 'ignore', 'exact', 'fuzzy' or a callable, got {value!r}")
        return value

    @field_validator("think_tag", "answer_tag", "obj_tag", "bbox_tag", "point_tag")
    @classmethod
    def _tag_name(cls, value: str) -> str:
        if not _TAG_NAME.fullmatch(value):
            raise ValueError(
                f"expected a tag name like 'think' ([A-Za-z][A-Za-z0-9_-]*), got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RewardConfig:
        if self.min_pixels > self.max_pixels:
            raise ValueError(
                f"expected min_pixels <= max_pixels, got {self.min_pixels} > {self.max_pixels}"
            )
        tags = [self.think_tag, self.answer_tag, self.obj_tag, self.bbox_tag, self.point_tag]
        if len({t.lower() for t in tags}) != len(tags):
            raise ValueError(f"expected five distinct tag names, got {tags}")
        return self


def _finite_weights(pairs: Any) -> list[tuple[str, float]]:
    checked = []
    for name, weight in pairs:
        try:
            number = float(weight)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number for {name!r}, got {weight!r}") from None
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(f"expected finite weights >= 0, got {name}={number}")
        checked.append((name, number))
    return checked


DEFAULT_CONFIG = RewardConfig()
"""The defaults every function uses when given ``config=None``."""
