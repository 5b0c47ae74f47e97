"""veRL adapter: ``compute_score`` for ``reward.custom_reward_function``.

veRL's reward loop calls ``compute_score(data_source=..., solution_str=...,
ground_truth=..., extra_info=..., **reward_kwargs)`` once per response, in a thread
pool, and stacks every key of the returned dict into an array. So the result has
``score`` and the same numeric keys for every sample, never ``None``:

==================  ==============================================================
key                 meaning
==================  ==============================================================
``score``           ``Σ_c w_c·R_c`` over the components that apply (by default
                    ``w_f·R_format + w_a·R_accuracy + w_b·R_bbox``)
``format``          R_format
``accuracy``        R_accuracy (0.0 when there is no answer; see ``has_answer``)
``bbox``            R_bbox (0.0 when there are no ground-truth boxes; see ``has_boxes``)
``<component>``     every other component of ``weights`` (e.g. ``point``), 0.0 when it
                    does not apply, with ``has_<component>``
``has_answer``      1.0 when the ground truth has an answer, else 0.0
``has_boxes``       1.0 when the ground truth has boxes, else 0.0
``n_pred``          predicted boxes counted
``n_gt``            ground-truth boxes
``gt_error``        1.0 when this sample's ground truth is malformed (then scored
                    on format alone, with one warning per problem), else 0.0
==================  ==============================================================

The keys follow the configuration's components (:func:`score_keys`), so they are the
same for every sample of a run, as veRL's stacking and GDPO's per-key normalization need.

``ground_truth`` is a dict (or its JSON string) with the keys of the TRL columns:
``answer``, ``gt_boxes`` (pixel ``xyxy`` of the original image), ``gt_labels``,
``choices``, ``image_size``; a plain string is taken as the answer alone. veRL gives
the reward no image, so the size comes from ``ground_truth["image_size"]`` or
``extra_info["image_size"]`` (``(width, height)`` or ``{"width", "height"}``).

Configuration travels in ``reward.custom_reward_function.reward_kwargs``: any field
of :class:`~grounding_rewards.RewardConfig` (``coords``, ``weights``, ``similarity``,
...). Other keyword arguments veRL adds are ignored.

Example:
    >>> text = "<think>The <obj>cat</obj><bbox>[0, 0, 500, 500]</bbox>.</think><answer>B</answer>"
    >>> out = compute_score("geo", text, '{"answer": "B", "gt_boxes": [[0, 0, 320, 240]]}',
    ...                     {"image_size": [640, 480]}, coords="norm1000")
    >>> out["score"], out["format"], out["accuracy"], out["bbox"], out["n_gt"]
    (3.0, 1.0, 1.0, 1.0, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from grounding_rewards._completions import completion_text
from grounding_rewards._records import ground_truth_fields
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce, problem_key
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import ConfigError, InputError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.parsing import parse_trace
from grounding_rewards.rewards import check_format
from grounding_rewards.rewards.composite import score_completion

__all__ = [
    "SCORE_KEYS",
    "GroundTruthWarning",
    "compute_score",
    "compute_score_batch",
    "config_from_kwargs",
    "score_keys",
]

_HAS = {"accuracy": "has_answer", "bbox": "has_boxes"}


def _has_key(component: str) -> str:
    return _HAS.get(component, f"has_{component}")


def score_keys(config: RewardConfig | None = None) -> tuple[str, ...]:
    """The keys of every dict :func:`compute_score` returns for ``config``, in order.

    Example:
        >>> score_keys(RewardConfig(weights={"point": 1}))[:5]
        ('score', 'format', 'accuracy', 'bbox', 'point')
    """
    names = list((config or DEFAULT_CONFIG).weights)
    has = [_has_key(name) for name in names if name != "format"]
    return ("score", *names, *has, "n_pred", "n_gt", "gt_error")


SCORE_KEYS: tuple[str, ...] = score_keys(DEFAULT_CONFIG)
"""The keys of every dict :func:`compute_score` returns with the default configuration."""

_CONFIG_FIELDS = frozenset(RewardConfig.model_fields)
# Keyword arguments veRL 0.9 itself passes to a custom reward function.
_VERL_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer", "data_sources"})

_WARN = WarnOnce(
    "grounding_rewards.verl.compute_score",
    "such samples are scored on format alone and marked gt_error=1",
)


def _freeze(value: Any) -> Any:
    """A hashable copy of a reward_kwargs value (Hydra gives ListConfig / DictConfig)."""
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping) or hasattr(value, "items"):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if hasattr(value, "__iter__"):
        return tuple(_freeze(v) for v in value)
    return value  # callables (label_matching) are hashable as they are


def _thaw(value: Any) -> Any:
    if (
        isinstance(value, tuple)
        and value
        and all(
            isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            for item in value
        )
    ):
        return dict(value)
    return value


@lru_cache(maxsize=64)
def _config(items: tuple[tuple[str, Any], ...]) -> RewardConfig:
    return RewardConfig(**{key: _thaw(value) for key, value in items})


def config_from_kwargs(kwargs: Mapping[str, Any]) -> RewardConfig:
    """The :class:`RewardConfig` that ``reward_kwargs`` describe (cached: built once).

    ``config`` may hold a ready :class:`RewardConfig` (or a dict of its fields);
    every other key that names a config field sets it; veRL's own keyword arguments
    are ignored and anything else is ignored with one warning.

    Args:
        kwargs: The keyword arguments of a :func:`compute_score` call.

    Returns:
        The configuration.

    Raises:
        ConfigError: For invalid values ("expected X, got Y").

    Example:
        >>> config_from_kwargs({"coords": "qwen25vl", "weights": [1, 1, 2]}).weights
        {'format': 1.0, 'accuracy': 1.0, 'bbox': 2.0}
    """
    base = kwargs.get("config")
    fields = {k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS}
    unknown = set(kwargs) - _CONFIG_FIELDS - _VERL_KWARGS - {"config"}
    if unknown:
        _WARN.warn(
            f"kwargs:{sorted(unknown)}",
            f"ignored unknown reward_kwargs {sorted(unknown)} (expected RewardConfig fields: "
            f"{sorted(_CONFIG_FIELDS)})",
        )
    if base is None and not fields:
        return DEFAULT_CONFIG
    if isinstance(base, RewardConfig):
        return base.replace(**fields) if fields else base
    if base is not None:
        if not (isinstance(base, Mapping) or hasattr(base, "items")):
            raise ConfigError(f"config: expected a RewardConfig or a mapping, got {base!r}")
        fields = {**dict(base.items()), **fields}
    return _config(tuple(sorted((key, _freeze(value)) for key, value in fields.items())))


def _image_size(extra_info: Any) -> Any:
    if isinstance(extra_info, Mapping):
        return extra_info.get("image_size")
    return None


def _truth(ground_truth: Any, extra_info: Any) -> GroundTruth:
    fields = ground_truth_fields(ground_truth)
    if fields.get("image_size") is None:
        fields["image_size"] = _image_size(extra_info)
    return parse_ground_truth(**fields)


def _result(
    config: RewardConfig,
    score: float,
    scores: Mapping[str, float | None],
    n_pred: int,
    n_gt: int,
    gt_error: bool,
) -> dict[str, float | int]:
    result: dict[str, float | int] = {"score": float(score)}
    names = list(config.weights)
    for name in names:
        value = scores.get(name)
        result[name] = 0.0 if value is None else float(value)
    for name in names:
        if name != "format":
            result[_has_key(name)] = 0.0 if scores.get(name) is None else 1.0
    result["n_pred"] = int(n_pred)
    result["n_gt"] = int(n_gt)
    result["gt_error"] = 1.0 if gt_error else 0.0
    return result


def _score(text: Any, ground_truth: Any, extra_info: Any, config: RewardConfig) -> dict[str, Any]:
    try:
        truth = _truth(ground_truth, extra_info)
        breakdown = score_completion(text, truth, config)
    except ValueError as error:  # GroundTruthError, or a normalized space without a size
        _WARN.warn(problem_key(error), f"malformed ground truth: {error}")
        trace = parse_trace(text, config=config)
        n_pred = len(trace.counted_spans(config))
        try:
            size = _image_size(extra_info)
            form = check_format(trace, image_size=size, config=config).score
        except ValueError:
            form = check_format(trace, config=config).score
        total = config.weights.get("format", 0.0) * form
        return _result(config, total, {"format": form}, n_pred, 0, True)
    return _result(
        config, breakdown.total, breakdown.scores, breakdown.n_pred, breakdown.n_gt, False
    )


def compute_score(
    data_source: str | None = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Score one response the way veRL's reward managers call a custom reward.

    Thread-safe and stateless (the configuration is cached by value).

    Args:
        data_source: The sample's ``data_source`` (not used for scoring).
        solution_str: The decoded response.
        ground_truth: ``reward_model.ground_truth``: a dict, its JSON string, or an answer string.
        extra_info: The sample's ``extra_info`` (may hold ``image_size``).
        **kwargs: ``reward_kwargs`` (config fields) and veRL's own extras (ignored).

    Returns:
        A dict with the keys :func:`score_keys` gives for the configuration.

    Raises:
        ConfigError: For invalid configuration in ``kwargs``.
    """
    config = config_from_kwargs(kwargs)
    return _score(completion_text(solution_str), ground_truth, extra_info, config)


def compute_score_batch(
    data_sources: Sequence[str | None],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The batch form, for veRL's ``batch`` reward manager.

    Args:
        data_sources: One ``data_source`` per response.
        solution_strs: The decoded responses.
        ground_truths: One ground truth per response.
        extra_infos: One ``extra_info`` per response, or ``None``.
        **kwargs: As for :func:`compute_score`.

    Returns:
        One dict with the keys of :func:`score_keys` per response, in order.

    Raises:
        InputError: When the sequences differ in length.

    Example:
        >>> out = compute_score_batch(["d", "d"], ["<answer>A</answer>", "<answer>B</answer>"],
        ...                           [{"answer": "A"}, {"answer": "A"}])
        >>> [o["accuracy"] for o in out]
        [1.0, 0.0]
    """
    n = len(solution_strs)
    infos: Sequence[Any] = [None] * n if extra_infos is None else extra_infos
    for name, values in (
        ("data_sources", data_sources),
        ("ground_truths", ground_truths),
        ("extra_infos", infos),
    ):
        if len(values) != n:
            raise InputError(f"{name}: expected {n} values (one per response), got {len(values)}")
    config = config_from_kwargs(kwargs)
    return [
        _score(completion_text(text), truth, info, config)
        for text, truth, info in zip(solution_strs, ground_truths, infos, strict=True)
    ]


async def compute_score_async(
    data_source: str | None = None,
    solution_str: str | None = None,
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """:func:`compute_score` as a coroutine, for veRL's async reward managers.

    veRL's reward-loop managers (``naive``, ``gdpo``, ``rate_limited``, ...) await a
    ``compute_score`` that is a coroutine function instead of sending it to a thread
    pool; this one scores in a worker thread (``asyncio.to_thread``), so the event loop
    stays free. Same arguments and result as :func:`compute_score`
    (``reward.custom_reward_function.name=compute_score_async``).

    Example:
        >>> import asyncio
        >>> out = asyncio.run(compute_score_async("d", "<answer>A</answer>", {"answer": "A"}))
        >>> out["accuracy"]
        1.0
    """
    import asyncio

    return await asyncio.to_thread(
        compute_score, data_source, solution_str, ground_truth, extra_info, **kwargs
    )
