"""Score one response against a ground-truth record (EasyR1, ms-swift, OpenRLHF adapters).

Those trainers hand the reward one ground-truth value per response (EasyR1's
``ground_truth``, OpenRLHF's ``label``, an ms-swift ``solution`` column): a dict with
the keys of :data:`~grounding_rewards.components.GROUND_TRUTH_FIELDS`, or its JSON
string; any other string is the answer alone. The components scored are those of the
registry that ``config.weights`` names, so a new component reaches every adapter.

Example:
    >>> from grounding_rewards import RewardConfig
    >>> text = "<think>A <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>.</think><answer>B</answer>"
    >>> scored = score_record(text, '{"answer": "B", "gt_boxes": [[0, 0, 10, 20]]}', RewardConfig())
    >>> scored.total, scored.scores
    (2.5, {'format': 1.0, 'accuracy': 1.0, 'bbox': 0.5})
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from grounding_rewards._completions import completion_text
from grounding_rewards._warn_once import WarnOnce, problem_key
from grounding_rewards.components import GROUND_TRUTH_FIELDS, active_components
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import ConfigError, GroundTruthError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.parsing import parse_trace
from grounding_rewards.rewards import score_trace
from grounding_rewards.rewards.composite import score_completion

__all__ = [
    "RecordScore",
    "ground_truth_fields",
    "resolve_config",
    "score_record",
    "scored_names",
]


class RecordScore(NamedTuple):
    """The reward of one response.

    Attributes:
        total: The weighted total over the components that apply.
        scores: One value per component of ``config.weights`` (``None``: not applicable).
        n_pred: Predicted boxes counted.
        n_gt: Ground-truth boxes.
        gt_error: The ground truth was malformed (then scored as if it were empty).
    """

    total: float
    scores: dict[str, float | None]
    n_pred: int
    n_gt: int
    gt_error: bool


def scored_names(config: RewardConfig) -> tuple[str, ...]:
    """The names of the components ``config`` scores, in order (the registry's keys).

    Example:
        >>> scored_names(RewardConfig())
        ('format', 'accuracy', 'bbox')
    """
    return tuple(component.name for component in active_components(config))


def resolve_config(config: Any = None, **fields: Any) -> RewardConfig:
    """A :class:`RewardConfig` from what a trainer lets a user pass.

    Args:
        config: ``None`` (the defaults: pixel coordinates), a :class:`RewardConfig`,
            a mapping of its fields, or that mapping as a JSON string.
        **fields: Config fields that override ``config``'s.

    Returns:
        The configuration (cached by value, so building it per call is cheap).

    Raises:
        ConfigError: For invalid values or a ``config`` of another type.

    Example:
        >>> resolve_config('{"coords": "norm1000"}', similarity="giou").similarity
        'giou'
    """
    from grounding_rewards.verl import config_from_kwargs

    if isinstance(config, (str, bytes)):
        try:
            config = json.loads(config)
        except ValueError:
            raise ConfigError(
                f"config: expected a RewardConfig or its JSON object, got {str(config)[:80]!r}"
            ) from None
    if config is None and not fields:
        return DEFAULT_CONFIG
    if (
        config is not None
        and not isinstance(config, (RewardConfig, Mapping))
        and not hasattr(config, "items")  # OmegaConf DictConfig has items()
    ):
        raise ConfigError(
            f"config: expected a RewardConfig, a mapping or its JSON, got {type(config).__name__}"
        )
    return config_from_kwargs({"config": config, **fields} if config is not None else fields)


def ground_truth_fields(ground_truth: Any) -> dict[str, Any]:
    """The ground-truth keys of a record: a dict, its JSON string, or an answer string.

    Raises:
        GroundTruthError: For a value that is neither.

    Example:
        >>> ground_truth_fields('{"answer": "B", "other": 1}')
        {'answer': 'B'}
        >>> ground_truth_fields("C")
        {'answer': 'C'}
    """
    if isinstance(ground_truth, bytes):
        ground_truth = ground_truth.decode("utf-8", errors="replace")
    if isinstance(ground_truth, str):
        try:
            decoded = json.loads(ground_truth)
        except ValueError:
            return {"answer": ground_truth}
        ground_truth = decoded if isinstance(decoded, Mapping) else {"answer": ground_truth}
    if ground_truth is None:
        return {}
    if not (isinstance(ground_truth, Mapping) or hasattr(ground_truth, "items")):
        raise GroundTruthError(
            f"ground_truth: expected a dict (or its JSON) with keys {list(GROUND_TRUTH_FIELDS)}, "
            f"got {type(ground_truth).__name__}"
        )
    return {key: value for key, value in ground_truth.items() if key in GROUND_TRUTH_FIELDS}


def _fallback_truth(fields: Mapping[str, Any]) -> GroundTruth:
    """Only the image size of a malformed record (when it is valid), for the format check."""
    try:
        return parse_ground_truth(image_size=fields.get("image_size"))
    except ValueError:
        return GroundTruth()


def score_record(
    text: Any,
    ground_truth: Any,
    config: RewardConfig,
    *,
    warn: WarnOnce | None = None,
) -> RecordScore:
    """Score one response; malformed ground truth is warned once and scored as empty.

    Args:
        text: The response (a string, or a message list as trainers pass it).
        ground_truth: A record (see :func:`ground_truth_fields`), a dict of its fields,
            or a validated :class:`GroundTruth`.
        config: The reward configuration.
        warn: Where to report malformed ground truth (default: a module-level one).

    Returns:
        The :class:`RecordScore`; never raises on model output or ground truth.
    """
    text = completion_text(text)
    warn = _WARN if warn is None else warn
    if isinstance(ground_truth, GroundTruth):
        return _record(score_completion(text, ground_truth, config), error=False)
    try:
        fields = ground_truth_fields(ground_truth)
    except GroundTruthError as error:
        warn.warn(problem_key(error), f"malformed ground truth: {error}")
        empty = score_trace(parse_trace(text, config=config), GroundTruth(), config)
        return _record(empty, error=True)
    try:
        breakdown = score_completion(text, parse_ground_truth(**fields), config)
    except ValueError as error:  # GroundTruthError, or a normalized space without a size
        warn.warn(problem_key(error), f"malformed ground truth: {error}")
        trace = parse_trace(text, config=config)
        try:
            breakdown = score_trace(trace, _fallback_truth(fields), config)
        except ValueError:
            breakdown = score_trace(trace, GroundTruth(), config)
        return _record(breakdown, error=True)
    return _record(breakdown, error=False)


def _record(breakdown: Any, *, error: bool) -> RecordScore:
    return RecordScore(
        total=float(breakdown.total),
        scores=dict(breakdown.scores),
        n_pred=int(breakdown.n_pred),
        n_gt=0 if error else int(breakdown.n_gt),
        gt_error=error,
    )


_WARN = WarnOnce("grounding_rewards", "such responses are scored as if the ground truth were empty")
