"""The reward components: one scoring function plus one registration each.

A *component* scores a parsed :class:`~grounding_rewards.parsing.Trace` against validated
:class:`~grounding_rewards.ground_truth.GroundTruth`. Its registration says what it is
called, which ground-truth fields it reads, its range and its default weight. Everything
that shows rewards (the composite, the TRL and veRL adapters, ``score``, ``evaluate``,
the HTML report, the audit) enumerates this registry, so a new component is one function
and one :func:`register_component` call:

    >>> from grounding_rewards import RewardConfig, grounding_reward
    >>> def brevity(trace, truth, config):
    ...     return 1.0 if trace.think is not None and len(trace.think) < 200 else 0.0
    >>> _ = register_component("brevity", brevity, reads=(), default_weight=0.0)
    >>> config = RewardConfig(weights={"brevity": 0.5})
    >>> r = grounding_reward("<think>short</think><answer>A</answer>", answer="A",
    ...                      gt_boxes=None, config=config)
    >>> r.scores["brevity"], r.total
    (1.0, 1.5)
    >>> unregister_component("brevity")

The built-in components (``format``, ``accuracy``, ``bbox``, ``point``) are
registered here by reference, so that the registry is complete before any of their modules
is imported. A component whose default weight is 0 (``point``) is off until a
configuration gives it a weight.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grounding_rewards.errors import ConfigError

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig
    from grounding_rewards.ground_truth import GroundTruth
    from grounding_rewards.parsing import Trace

__all__ = [
    "GROUND_TRUTH_FIELDS",
    "Component",
    "Scorer",
    "Weights",
    "active_components",
    "active_scorers",
    "component_names",
    "component_value",
    "components",
    "get_component",
    "register_component",
    "unregister_component",
]

Scorer = Callable[["Trace", "GroundTruth", "RewardConfig"], Any]
"""``score(trace, truth, config)`` returning ``float``, ``None`` (not applicable), or an
object with a ``value`` attribute (a detailed score such as
:class:`~grounding_rewards.rewards.bbox.BoxScore`)."""

GROUND_TRUTH_FIELDS: tuple[str, ...] = (
    "answer",
    "choices",
    "gt_boxes",
    "gt_labels",
    "gt_polygons",
    "image_size",
)
"""Every ground-truth field a component may read (the keyword arguments of
:func:`~grounding_rewards.parse_ground_truth`, and the default dataset column names)."""

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


@dataclass(frozen=True)
class Component:
    """One registered reward component.

    Attributes:
        name: Key of the component in breakdowns, veRL dicts, tables and weights.
        scorer: ``score(trace, truth, config)``, or ``"module:function"`` resolved on
            first use (the built-ins register this way to keep imports light).
        reads: Ground-truth fields the component needs (from :data:`GROUND_TRUTH_FIELDS`).
        value_range: ``(low, high)``: every value it returns lies inside.
        default_weight: Its weight in ``RewardConfig()``; 0 means off until given one.
        reward_name: The function name trainers log it under (``rewards/<name>/mean``).
        description: One line for docs and ``--help``.
    """

    name: str
    scorer: Scorer | str
    reads: tuple[str, ...]
    value_range: tuple[float, float] = (0.0, 1.0)
    default_weight: float = 1.0
    reward_name: str = ""
    description: str = ""

    def score(self, trace: Trace, truth: GroundTruth, config: RewardConfig) -> Any:
        """Run the scoring function (resolving a ``"module:function"`` reference once).

        Args:
            trace: The parsed completion.
            truth: Validated ground truth.
            config: Configuration.

        Returns:
            What the scorer returns: a float, ``None`` or a detailed score with ``value``.
        """
        scorer = self.scorer
        if isinstance(scorer, str):
            scorer = _resolve(scorer)
        return scorer(trace, truth, config)


def component_value(result: Any) -> float | None:
    """The reward value of what a scorer returned (``float``, ``None`` or ``.value``).

    Args:
        result: A scorer's return value.

    Returns:
        The value as a float, or ``None`` when the component does not apply.

    Example:
        >>> component_value(None), component_value(0.5), component_value(True)
        (None, 0.5, 1.0)
    """
    if result is None:
        return None
    value = getattr(result, "value", result)
    return None if value is None else float(value)


_RESOLVED: dict[str, Scorer] = {}
_RESOLVE_LOCK = threading.Lock()


def _resolve(reference: str) -> Scorer:
    scorer = _RESOLVED.get(reference)
    if scorer is None:
        module, _, attribute = reference.partition(":")
        with _RESOLVE_LOCK:
            scorer = getattr(importlib.import_module(module), attribute)
            _RESOLVED[reference] = scorer
    return scorer


_REGISTRY: dict[str, Component] = {}


def register_component(
    name: str,
    scorer: Scorer | str,
    *,
    reads: tuple[str, ...] | list[str],
    value_range: tuple[float, float] = (0.0, 1.0),
    default_weight: float = 1.0,
    reward_name: str | None = None,
    description: str = "",
    replace: bool = False,
) -> Component:
    """Register a reward component; every adapter, table and report then shows it.

    Args:
        name: Lower-case identifier (``[a-z][a-z0-9_]*``), unique.
        scorer: ``score(trace, truth, config) -> float | None`` (or an object with a
            ``value`` attribute), or a ``"module:function"`` reference.
        reads: The ground-truth fields it needs, from :data:`GROUND_TRUTH_FIELDS`.
        value_range: ``(low, high)`` of its values.
        default_weight: Weight in ``RewardConfig()``; 0 keeps it off until a config
            names it in ``weights``. Configurations made before the registration never
            score it.
        reward_name: Function name for trainers' logs; defaults to ``<name>_reward``.
        description: One line for docs.
        replace: Allow replacing an existing registration of ``name``.

    Returns:
        The :class:`Component`.

    Raises:
        ConfigError: For a bad name, an unknown ground-truth field, a bad range or
            weight, or a name already registered (without ``replace``).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"component name: expected [a-z][a-z0-9_]* (<= 32), got {name!r}")
    if name in _REGISTRY and not replace:
        raise ConfigError(f"component {name!r}: expected a new name, got one already registered")
    if not (callable(scorer) or (isinstance(scorer, str) and ":" in scorer)):
        raise ConfigError(
            f"component {name!r}: expected a callable or 'module:function', got {scorer!r}"
        )
    unknown = [field for field in reads if field not in GROUND_TRUTH_FIELDS]
    if unknown:
        raise ConfigError(
            f"component {name!r}: expected fields from {GROUND_TRUTH_FIELDS}, got {unknown}"
        )
    low, high = (float(v) for v in value_range)
    if not low <= high:
        raise ConfigError(f"component {name!r}: expected low <= high, got {value_range}")
    if not default_weight >= 0:
        raise ConfigError(f"component {name!r}: expected a weight >= 0, got {default_weight}")
    component = Component(
        name=name,
        scorer=scorer,
        reads=tuple(reads),
        value_range=(low, high),
        default_weight=float(default_weight),
        reward_name=reward_name or f"{name}_reward",
        description=description,
    )
    _REGISTRY[name] = component
    _DEFAULTS.clear()
    _ACTIVE.clear()
    return component


def unregister_component(name: str) -> None:
    """Remove a user-registered component (the built-ins stay).

    Args:
        name: The component's name.

    Raises:
        ConfigError: For an unknown or built-in name.
    """
    if name in _BUILTIN_NAMES:
        raise ConfigError(f"component {name!r}: expected a user component, got a built-in one")
    if _REGISTRY.pop(name, None) is None:
        raise ConfigError(f"component: expected one of {component_names()}, got {name!r}")
    _DEFAULTS.clear()
    _ACTIVE.clear()


def components() -> tuple[Component, ...]:
    """Every registered component, in registration order (built-ins first).

    Example:
        >>> [c.name for c in components()][:4]
        ['format', 'accuracy', 'bbox', 'point']
    """
    return tuple(_REGISTRY.values())


def component_names() -> tuple[str, ...]:
    """The registered names, in registration order."""
    return tuple(_REGISTRY)


def get_component(name: str) -> Component:
    """The component registered as ``name``.

    Raises:
        ConfigError: For an unknown name.

    Example:
        >>> get_component("bbox").reads
        ('gt_boxes', 'gt_labels', 'image_size')
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"component: expected one of {component_names()}, got {name!r}") from None


def active_components(config: RewardConfig) -> tuple[Component, ...]:
    """The components ``config`` scores (those in ``config.weights``), in its order.

    Example:
        >>> from grounding_rewards import RewardConfig
        >>> [c.name for c in active_components(RewardConfig(weights={"point": 1}))]
        ['format', 'accuracy', 'bbox', 'point']
    """
    return tuple(_REGISTRY[name] for name in config.weights if name in _REGISTRY)


_ACTIVE: dict[int, tuple[RewardConfig, tuple[tuple[str, float, Scorer], ...]]] = {}


def active_scorers(config: RewardConfig) -> tuple[tuple[str, float, Scorer], ...]:
    """``(name, weight, resolved scorer)`` of each component ``config`` scores, in its order.

    The same components as :func:`active_components`, with their weights read and their
    ``"module:function"`` references resolved once per configuration (cached by identity,
    the entry keeping the configuration alive; any registration clears the cache), so
    that the composite reward does no lookups per completion.

    Example:
        >>> from grounding_rewards import DEFAULT_CONFIG
        >>> [(name, weight) for name, weight, _ in active_scorers(DEFAULT_CONFIG)]
        [('format', 1.0), ('accuracy', 1.0), ('bbox', 1.0)]
    """
    entry = _ACTIVE.get(id(config))
    if entry is not None and entry[0] is config:
        return entry[1]
    weights = config.weights
    scorers = tuple(
        (c.name, weights[c.name], c.scorer if callable(c.scorer) else _resolve(c.scorer))
        for c in active_components(config)
    )
    if len(_ACTIVE) >= 64:
        _ACTIVE.clear()
    _ACTIVE[id(config)] = (config, scorers)
    return scorers


_DEFAULTS: dict[str, float] = {}


def default_weights() -> dict[str, float]:
    """``{name: default_weight}`` of the components on by default (weight > 0)."""
    if not _DEFAULTS:
        _DEFAULTS.update(
            (c.name, c.default_weight) for c in _REGISTRY.values() if c.default_weight > 0
        )
    return dict(_DEFAULTS)


class Weights(Mapping[str, float]):
    """An immutable, hashable ``{component name: weight}`` mapping, in component order.

    An integer index reads by position (``weights[0]`` is the format weight by default), so
    code written for the former ``(w_format, w_accuracy, w_bbox)`` tuple keeps working.

    Example:
        >>> w = Weights({"format": 1.0, "bbox": 2.0})
        >>> dict(w), hash(w) == hash(Weights({"format": 1.0, "bbox": 2.0}))
        ({'format': 1.0, 'bbox': 2.0}, True)
    """

    __slots__ = ("_items", "_map")

    def __init__(self, weights: Mapping[str, float]) -> None:
        self._map = {str(k): float(v) for k, v in weights.items()}
        self._items = tuple(self._map.items())

    def __getitem__(self, name: str | int) -> float:
        if isinstance(name, int):  # the 3-tuple API: weights[0] is the first component's
            return self._items[name][1]
        return self._map[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Weights):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._map == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._map)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Weights, (self._map,))


def _builtin(
    name: str,
    scorer: str,
    reads: tuple[str, ...],
    default_weight: float,
    reward_name: str,
    description: str,
) -> None:
    register_component(
        name,
        scorer,
        reads=reads,
        default_weight=default_weight,
        reward_name=reward_name,
        description=description,
    )


_builtin(
    "format",
    "grounding_rewards.rewards.format:format_component",
    ("image_size",),
    1.0,
    "format_reward",
    "the completion follows the template (blocks, grounding syntax, valid boxes)",
)
_builtin(
    "accuracy",
    "grounding_rewards.rewards.option:option_component",
    ("answer", "choices"),
    1.0,
    "option_reward",
    "the answer names exactly the correct option",
)
_builtin(
    "bbox",
    "grounding_rewards.rewards.bbox:score_boxes",
    ("gt_boxes", "gt_labels", "image_size"),
    1.0,
    "bbox_reward",
    "Hungarian-matched box similarity with a length penalty",
)
_builtin(
    "point",
    "grounding_rewards.rewards.point:score_points",
    ("gt_boxes", "gt_labels", "gt_polygons", "image_size"),
    0.0,
    "point_reward",
    "one-to-one points inside ground-truth boxes (or masks), with a length penalty",
)
_builtin(
    "zoom",
    "grounding_rewards.zoom.reward:zoom_component",
    ("gt_boxes", "image_size", "answer", "choices"),
    0.0,
    "zoom_reward",
    "zoom-in crops that contain the evidence tightly, one per evidence box, then an answer",
)
_BUILTIN_NAMES = frozenset(_REGISTRY)
