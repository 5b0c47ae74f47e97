"""TRL adapter: the rewards as ``GRPOTrainer`` reward functions.

Five lines plug the rewards into TRL (the import of ``trl`` is yours; this module
never imports it)::

    from grounding_rewards import RewardConfig
    from grounding_rewards.trl import reward_funcs, reward_weights
    config = RewardConfig(coords="qwen25vl")
    args = GRPOConfig(..., reward_weights=reward_weights(config))
    trainer = GRPOTrainer(model, reward_funcs=reward_funcs(config), args=args, train_dataset=ds)

:func:`reward_funcs` returns one callable per component of ``config.weights`` (by
default three, named ``format_reward``, ``option_reward`` and ``bbox_reward``; a
registered component such as ``point`` joins as ``point_reward`` when the configuration
gives it a weight), so TRL logs ``rewards/<name>/mean`` for each and weighs them with
``GRPOConfig.reward_weights``; :func:`composite_reward_func` returns one callable for
the weighted total instead.

Each is called the way TRL 1.x calls a reward function::

    f(prompts=..., completions=..., completion_ids=..., **dataset_columns,
      trainer_state=..., log_extra=..., log_metric=...)

and returns one ``float | None`` per completion. Ground truth comes from dataset
columns (names configurable): ``answer``, ``gt_boxes`` (pixel ``xyxy`` of the
original image), ``gt_labels``, ``choices``, ``image_size`` ``(width, height)``;
without ``image_size`` the size of the ``image``/``images`` column's (first) image is
used. ``None`` means "not applicable" (no boxes, no answer) or "this row's ground
truth is malformed" (one :class:`GroundTruthWarning`
per problem, never an exception); TRL leaves ``None`` out of the mean and the sum.

The functions parse each completion once between them: the first parses the
batch, the others reuse the parsed traces.

Example:
    >>> from grounding_rewards.trl import reward_funcs
    >>> funcs = reward_funcs()
    >>> [f.__name__ for f in funcs]
    ['format_reward', 'option_reward', 'bbox_reward']
    >>> text = "<think>A <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>.</think><answer>B</answer>"
    >>> as_message = [{"role": "assistant", "content": text}]
    >>> batch = dict(prompts=["p", "p"], completions=[text, as_message], answer=["B", "C"],
    ...              gt_boxes=[[[0, 0, 10, 20]], []], image_size=[(64, 64)] * 2)
    >>> [f(**batch) for f in funcs]
    [[1.0, 1.0], [1.0, 0.0], [0.5, None]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from grounding_rewards._completions import Completion, Message, completion_text, image_size_of
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce, problem_key
from grounding_rewards.components import Component, active_components, component_value
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import ConfigError, InputError, InputTypeError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth
from grounding_rewards.options import extract_option
from grounding_rewards.parsing import ISSUE_CODES, FormatIssue, Trace, parse_trace
from grounding_rewards.rewards import check_format, score_boxes, score_option, score_trace

__all__ = [
    "BboxRewardFunc",
    "Columns",
    "ComponentRewardFunc",
    "FormatRewardFunc",
    "GroundTruthWarning",
    "GroundingRewardFunc",
    "OptionRewardFunc",
    "RewardFunc",
    "composite_reward_func",
    "reward_funcs",
    "reward_weights",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")
LogExtra = Callable[[str, list[Any]], None]
LogMetric = Callable[[str, float], None]

METRIC_PREFIX = "grounding"
"""Prefix of every metric the adapters log through TRL's ``log_metric``."""


@dataclass(frozen=True)
class Columns:
    """Which dataset columns hold the ground truth.

    Attributes:
        answer: The correct option (``"B"``, ``"(B)"`` or the option's text).
        gt_boxes: Ground-truth boxes, pixel ``xyxy`` of the original image (list or JSON).
        gt_labels: One label per ground-truth box.
        choices: Option texts in order.
        image_size: ``(width, height)`` of the original image.
        images: Columns holding the image(s), read for the size when ``image_size`` is
            absent; TRL forwards ``image`` (one image) or ``images`` (a list).
        gt_polygons: One pixel polygon per ground-truth box (point rewards on masks).
    """

    answer: str = "answer"
    gt_boxes: str = "gt_boxes"
    gt_labels: str = "gt_labels"
    choices: str = "choices"
    image_size: str = "image_size"
    images: tuple[str, ...] = ("image", "images")
    gt_polygons: str = "gt_polygons"


class _TraceCache:
    """The last batch's parsed traces, shared by the reward functions of one setup.

    TRL calls every reward function with the same completion objects; comparing by
    identity first makes the hit check cheap. Thread-safe: the cached pair is
    replaced in one assignment. Not pickled (a worker starts empty).
    """

    def __init__(self, config: RewardConfig) -> None:
        self.config = config
        self._last: tuple[tuple[Any, ...], tuple[Trace, ...]] | None = None

    def traces(self, texts: Sequence[Any]) -> tuple[Trace, ...]:
        last = self._last
        if (
            last is not None
            and len(last[0]) == len(texts)
            and all(a is b or a == b for a, b in zip(last[0], texts, strict=True))
        ):
            return last[1]
        traces = tuple(parse_trace(text, config=self.config) for text in texts)
        self._last = (tuple(texts), traces)
        return traces

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.config = state["config"]
        self._last = None


class _Batch:
    """Column access for one call: the ``i``-th row's value of a column, or ``None``."""

    def __init__(self, kwargs: Mapping[str, Any], n: int) -> None:
        self._kwargs = kwargs
        self.n = n

    def has(self, column: str) -> bool:
        return self._kwargs.get(column) is not None

    def get(self, column: str, index: int) -> Any:
        values = self._kwargs.get(column)
        if values is None:
            return None
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise InputError(
                f"column {column!r}: expected a list with one value per completion, "
                f"got {type(values).__name__}"
            )
        if len(values) != self.n:
            raise InputError(
                f"column {column!r}: expected one value per completion ({self.n}), "
                f"got {len(values)}"
            )
        return values[index]


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, float) and math.isnan(value)


class _Log:
    """TRL's two loggers for one call; either may be absent (older TRL, or turned off)."""

    def __init__(self, extra: LogExtra | None, metric: LogMetric | None, n: int) -> None:
        self._extra = extra
        self._metric = metric
        self.n = n

    def value(self, name: str, value: float) -> None:
        """Log ``value`` as ``grounding/<name>`` (TRL averages it over the logging step)."""
        if self._metric is not None and self.n:
            self._metric(f"{METRIC_PREFIX}/{name}", value)

    def share(self, name: str, count: float) -> None:
        """Log ``count / n``: the share of this batch's completions."""
        self.value(name, count / self.n if self.n else 0.0)

    def issues(self, issue_codes: Sequence[str | None]) -> None:
        """The share of completions with each format issue, every code every batch."""
        if self._metric is None:
            return
        counts = dict.fromkeys(ISSUE_CODES, 0)
        for codes in issue_codes:
            for code in (codes or "").split(","):
                if code:
                    counts[code] = counts.get(code, 0) + 1
        for code, count in counts.items():
            self.share(f"issue/{code}", count)

    def column(self, name: str, values: list[Any]) -> None:
        """A per-sample column of the completions table."""
        if self._extra is not None:
            self._extra(name, values)


class RewardFunc:
    """Base of the TRL reward functions: TRL's call, column access, shared parsing.

    Subclasses implement ``_score``; instances are what :func:`reward_funcs` and
    :func:`composite_reward_func` return.
    """

    __name__ = "grounding_reward_base"

    def __init__(
        self,
        config: RewardConfig | None = None,
        *,
        columns: Columns | None = None,
        log_diagnostics: bool = True,
        _cache: _TraceCache | None = None,
    ) -> None:
        config = DEFAULT_CONFIG if config is None else config
        if not isinstance(config, RewardConfig):
            raise ConfigError(
                f"config: expected a RewardConfig or None, got {type(config).__name__}"
            )
        columns = Columns() if columns is None else columns
        if not isinstance(columns, Columns):
            raise ConfigError(f"columns: expected a Columns or None, got {type(columns).__name__}")
        if _cache is not None and _cache.config != config:
            raise ConfigError("expected the shared trace cache to use the same config")
        self.config = config
        self.columns = columns
        self.log_diagnostics = log_diagnostics
        self._cache = _cache if _cache is not None else _TraceCache(config)
        self._warn = WarnOnce(self.__name__, "such rows get reward None, which TRL skips")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(config={self.config!r}, columns={self.columns!r})"

    def __call__(
        self,
        prompts: Sequence[str | Sequence[Message]] | None = None,
        completions: Sequence[Completion] | None = None,
        completion_ids: Sequence[Sequence[int]] | None = None,
        *,
        trainer_state: Any = None,
        log_extra: LogExtra | None = None,
        log_metric: LogMetric | None = None,
        **columns: Any,
    ) -> list[float | None]:
        """Score a batch the way TRL's ``GRPOTrainer`` calls reward functions.

        Args:
            prompts: The prompts (unused: only the completion is scored).
            completions: Strings or ``[{"role": "assistant", "content": ...}]`` lists.
            completion_ids: Token ids (unused).
            trainer_state: TRL's state (unused).
            log_extra: TRL's per-sample column logger, when it passes one.
            log_metric: TRL's scalar metric logger, when it passes one.
            **columns: Every dataset column as a list, one value per completion;
                unknown columns are ignored.

        Returns:
            One reward (or ``None``) per completion.
        """
        if completions is None:
            raise InputTypeError(f"{self.__name__}: expected completions=[...], got none")
        texts = [completion_text(c) for c in completions]
        traces = self._cache.traces(texts)
        batch = _Batch(columns, len(traces))
        if self.log_diagnostics:
            log = _Log(log_extra, log_metric, len(traces))
        else:
            log = _Log(None, None, len(traces))
        return self._score(traces, batch, log)

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        raise NotImplementedError

    def _truth(self, batch: _Batch, index: int, fields: Sequence[str]) -> GroundTruth | None:
        """Validated ground truth of row ``index`` for ``fields``; ``None`` (warned) if bad.

        ``fields`` are ground-truth field names (``answer``, ``gt_boxes``, ...); ``answer``
        brings ``choices`` and ``gt_boxes`` brings ``gt_labels`` along.
        """
        cols = self.columns
        values: dict[str, Any] = {}
        wanted = set(fields)
        if "answer" in wanted:
            wanted.add("choices")
        if "gt_boxes" in wanted:
            wanted.add("gt_labels")
        for name in ("answer", "choices", "gt_boxes", "gt_labels", "gt_polygons"):
            if name in wanted:
                value = batch.get(getattr(cols, name), index)
                values[name] = None if _is_missing(value) else value
        if "image_size" in wanted:
            size = batch.get(cols.image_size, index)
            if _is_missing(size):
                for column in cols.images:
                    size = image_size_of(batch.get(column, index))
                    if size is not None:
                        break
            values["image_size"] = size
        return self._guard(parse_ground_truth, **values)

    def _guard(self, compute: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T | None:
        """``compute(*args, **kwargs)``, or ``None`` with one warning per kind of data problem.

        ``ValueError`` covers :class:`GroundTruthError` and a normalized coordinate space
        without an image size, both the data's fault; model output never raises.
        """
        try:
            return compute(*args, **kwargs)
        except ValueError as error:
            self._warn.warn(problem_key(error), f"malformed ground truth: {error}")
            return None

    def _missing_column(self, batch: _Batch, role: str) -> bool:
        """Warn once and report whether the column for ``role`` is absent from the batch."""
        column = getattr(self.columns, role)
        if batch.has(column):
            return False
        self._warn.warn(
            f"column:{column}",
            f"the batch has no {column!r} column (add it to the dataset, or name the column "
            f"that holds it with reward_funcs(..., {role}_column=...))",
        )
        return True


class FormatRewardFunc(RewardFunc):
    """R_format per completion (see :func:`grounding_rewards.format_reward`).

    Logs, through TRL's ``log_metric``, the share of completions with each format
    issue (``grounding/issue/<code>``, every code of ``ISSUE_CODES`` each batch) and,
    through ``log_extra``, a ``format_issues`` column (comma-separated codes).
    """

    __name__ = "format_reward"

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        rewards: list[float | None] = []
        issue_codes: list[str | None] = []
        for index, trace in enumerate(traces):
            truth = self._truth(batch, index, ("image_size",))
            result = None
            if truth is not None:
                size = truth.image_size
                result = self._guard(check_format, trace, image_size=size, config=self.config)
            if result is None:
                rewards.append(None)
                issue_codes.append(None)
                continue
            rewards.append(result.score)
            issue_codes.append(_codes(result.issues))
        log.issues(issue_codes)
        log.share(f"gt_error/{self.__name__}", issue_codes.count(None))
        log.column("format_issues", issue_codes)
        return rewards


class OptionRewardFunc(RewardFunc):
    """R_accuracy per completion (see :func:`grounding_rewards.option_reward`).

    ``None`` for a row without an answer. Logs ``grounding/option_readable`` (share
    of completions whose answer names exactly one option) and a ``predicted_option``
    column.
    """

    __name__ = "option_reward"

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        if self._missing_column(batch, "answer"):
            return [None] * len(traces)
        rewards: list[float | None] = []
        predicted: list[str] = []
        errors = 0
        for index, trace in enumerate(traces):
            truth = self._truth(batch, index, ("answer",))
            errors += truth is None
            option = extract_option(trace.answer, choices=truth.choices if truth else None)
            predicted.append(option or "")
            if truth is None or truth.answer is None:
                rewards.append(None)
                continue
            rewards.append(score_option(trace, truth.answer, truth.choices))
        log.share("option_readable", sum(map(bool, predicted)))
        log.share(f"gt_error/{self.__name__}", errors)
        log.column("predicted_option", predicted)
        return rewards


class BboxRewardFunc(RewardFunc):
    """R_bbox per completion (see :func:`grounding_rewards.bbox_reward`).

    ``None`` for a row without ground-truth boxes. Logs ``grounding/pred_boxes``
    (mean predicted boxes per completion), ``grounding/gt_boxes`` (mean ground-truth
    boxes per completion) and ``grounding/bbox_applicable`` (share of rows scored),
    and ``n_pred`` / ``n_gt`` columns.
    """

    __name__ = "bbox_reward"

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        if self._missing_column(batch, "gt_boxes"):
            return [None] * len(traces)
        rewards: list[float | None] = []
        n_pred: list[int] = []
        n_gt: list[int | None] = []
        errors = 0
        for index, trace in enumerate(traces):
            n_pred.append(len(trace.counted_spans(self.config)))
            truth = self._truth(batch, index, ("gt_boxes", "image_size"))
            score = None if truth is None else self._guard(score_boxes, trace, truth, self.config)
            errors += score is None
            n_gt.append(None if score is None else score.n_gt)
            rewards.append(None if score is None else score.value)
        known = [m for m in n_gt if m is not None]
        log.share("pred_boxes", sum(n_pred))
        log.value("gt_boxes", sum(known) / len(known) if known else 0.0)
        log.share("bbox_applicable", sum(r is not None for r in rewards))
        log.share(f"gt_error/{self.__name__}", errors)
        log.column("n_pred", n_pred)
        log.column("n_gt", n_gt)
        return rewards


class ComponentRewardFunc(RewardFunc):
    """Any registered component as a TRL reward function (see :mod:`grounding_rewards.components`).

    Named after the component's ``reward_name`` (``point_reward`` for ``point``), so TRL
    logs ``rewards/<reward_name>/mean``. ``None`` where the component does not apply or
    the row's ground truth is malformed (one warning per problem).
    """

    def __init__(
        self,
        component: Component,
        config: RewardConfig | None = None,
        *,
        columns: Columns | None = None,
        log_diagnostics: bool = True,
        _cache: _TraceCache | None = None,
    ) -> None:
        self.component = component
        self.__name__ = component.reward_name
        super().__init__(config, columns=columns, log_diagnostics=log_diagnostics, _cache=_cache)

    def __repr__(self) -> str:
        return f"ComponentRewardFunc({self.component.name!r}, config={self.config!r})"

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        rewards: list[float | None] = []
        for index, trace in enumerate(traces):
            truth = self._truth(batch, index, self.component.reads)
            result = (
                None
                if truth is None
                else self._guard(self.component.score, trace, truth, self.config)
            )
            rewards.append(component_value(result))
        log.share(f"{self.component.name}_applicable", sum(r is not None for r in rewards))
        return rewards


class GroundingRewardFunc(RewardFunc):
    """The weighted total ``Σ_c w_c·R_c`` per completion (weights from ``config.weights``).

    Components without ground truth are left out (as in
    :func:`grounding_rewards.grounding_reward`); a row with malformed ground truth
    gets ``None``. Logs the issue rates and box counts, and one column per component.
    """

    __name__ = "grounding_reward"

    def _score(self, traces: Sequence[Trace], batch: _Batch, log: _Log) -> list[float | None]:
        rewards: list[float | None] = []
        names = list(self.config.weights)
        extras: dict[str, list[Any]] = {name: [] for name in [*names, "format_issues"]}
        fields = {field for c in active_components(self.config) for field in c.reads}
        n_pred = 0
        for index, trace in enumerate(traces):
            n_pred += len(trace.counted_spans(self.config))
            truth = self._truth(batch, index, sorted(fields | {"answer", "gt_boxes"}))
            breakdown = (
                None if truth is None else self._guard(score_trace, trace, truth, self.config)
            )
            if breakdown is None:
                rewards.append(None)
                for key in extras:
                    extras[key].append(None)
                continue
            rewards.append(breakdown.total)
            for name in names:
                extras[name].append(breakdown.scores.get(name))
            extras["format_issues"].append(_codes(breakdown.issues))
        log.issues(extras["format_issues"])
        log.share("pred_boxes", n_pred)
        log.share(f"gt_error/{self.__name__}", rewards.count(None))
        for key, values in extras.items():
            log.column(key, values)
        return rewards


def _codes(issues: Sequence[FormatIssue]) -> str:
    """The distinct issue codes, sorted, comma-separated (``""`` for a clean completion)."""
    return ",".join(sorted({issue.code for issue in issues}))


def _columns(
    answer_column: str,
    gt_boxes_column: str,
    gt_labels_column: str,
    choices_column: str,
    image_size_column: str,
    image_columns: Sequence[str],
    gt_polygons_column: str = "gt_polygons",
) -> Columns:
    names = [
        answer_column,
        gt_boxes_column,
        gt_labels_column,
        choices_column,
        image_size_column,
        gt_polygons_column,
    ]
    for name in [*names, *image_columns]:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"column names: expected non-empty strings, got {name!r}")
    return Columns(
        answer=answer_column,
        gt_boxes=gt_boxes_column,
        gt_labels=gt_labels_column,
        choices=choices_column,
        image_size=image_size_column,
        images=tuple(image_columns),
        gt_polygons=gt_polygons_column,
    )


def reward_funcs(
    config: RewardConfig | None = None,
    *,
    answer_column: str = "answer",
    gt_boxes_column: str = "gt_boxes",
    gt_labels_column: str = "gt_labels",
    choices_column: str = "choices",
    image_size_column: str = "image_size",
    image_columns: Sequence[str] = ("image", "images"),
    log_diagnostics: bool = True,
) -> list[RewardFunc]:
    """One TRL reward function per component of ``config.weights`` (format, option, bbox, ...).

    Pass them as ``GRPOTrainer(reward_funcs=...)`` and the weights as
    ``GRPOConfig(reward_weights=reward_weights(config))``. They share one parse of
    each batch. Each is a module-level class instance: picklable, thread-safe.

    Args:
        config: Parsing and scoring configuration (coordinate space, similarity, ...).
        answer_column: Column with the correct option.
        gt_boxes_column: Column with ground-truth pixel ``xyxy`` boxes.
        gt_labels_column: Column with one label per ground-truth box.
        choices_column: Column with the option texts.
        image_size_column: Column with ``(width, height)`` of the original image.
        image_columns: Columns whose image gives the size when ``image_size`` is absent.
        log_diagnostics: Log metrics and per-sample columns through TRL's
            ``log_metric`` / ``log_extra`` when it passes them.

    Returns:
        By default ``[format_reward, option_reward, bbox_reward]`` (their ``__name__``);
        one more per extra component the configuration weighs (``point_reward``, ...).

    Raises:
        ConfigError: For a config that is not a :class:`RewardConfig` or empty column names.

    Example:
        >>> import pickle
        >>> funcs = reward_funcs(gt_boxes_column="boxes")
        >>> pickle.loads(pickle.dumps(funcs))[2].columns.gt_boxes
        'boxes'
    """
    columns = _columns(
        answer_column,
        gt_boxes_column,
        gt_labels_column,
        choices_column,
        image_size_column,
        image_columns,
    )
    config = DEFAULT_CONFIG if config is None else config
    if not isinstance(config, RewardConfig):
        raise ConfigError(f"config: expected a RewardConfig or None, got {type(config).__name__}")
    cache = _TraceCache(config)
    funcs: list[RewardFunc] = []
    for component in active_components(config):
        special = _DIAGNOSTIC_FUNCS.get(component.name)
        if special is not None and component.scorer == _BUILTIN_SCORERS[component.name]:
            funcs.append(
                special(config, columns=columns, log_diagnostics=log_diagnostics, _cache=cache)
            )
        else:
            funcs.append(
                ComponentRewardFunc(
                    component,
                    config,
                    columns=columns,
                    log_diagnostics=log_diagnostics,
                    _cache=cache,
                )
            )
    return funcs


# The built-in components have functions that also log TRL diagnostics; a component
# registered anew under one of their names gets the generic function.
_DIAGNOSTIC_FUNCS: dict[str, type[RewardFunc]] = {
    "format": FormatRewardFunc,
    "accuracy": OptionRewardFunc,
    "bbox": BboxRewardFunc,
}
_BUILTIN_SCORERS = {
    "format": "grounding_rewards.rewards.format:format_component",
    "accuracy": "grounding_rewards.rewards.option:option_component",
    "bbox": "grounding_rewards.rewards.bbox:score_boxes",
}


def composite_reward_func(
    config: RewardConfig | None = None,
    *,
    answer_column: str = "answer",
    gt_boxes_column: str = "gt_boxes",
    gt_labels_column: str = "gt_labels",
    choices_column: str = "choices",
    image_size_column: str = "image_size",
    image_columns: Sequence[str] = ("image", "images"),
    log_diagnostics: bool = True,
) -> GroundingRewardFunc:
    """One TRL reward function for the weighted total (weights from ``config.weights``).

    Use this instead of :func:`reward_funcs` when a single reward is wanted; TRL
    then logs only ``rewards/grounding_reward/mean``. Arguments as in :func:`reward_funcs`.

    Returns:
        The ``grounding_reward`` callable.

    Example:
        >>> f = composite_reward_func()
        >>> f(completions=["<think>x</think><answer>A</answer>"], answer=["A"], gt_boxes=[None])
        [1.0]
    """
    columns = _columns(
        answer_column,
        gt_boxes_column,
        gt_labels_column,
        choices_column,
        image_size_column,
        image_columns,
    )
    return GroundingRewardFunc(config, columns=columns, log_diagnostics=log_diagnostics)


def reward_weights(config: RewardConfig | None = None) -> list[float]:
    """``GRPOConfig.reward_weights`` for :func:`reward_funcs`: ``config.weights``' values.

    Example:
        >>> reward_weights(RewardConfig(weights=(0.5, 1, 2)))
        [0.5, 1.0, 2.0]
        >>> reward_weights(RewardConfig(weights={"point": 2}))
        [1.0, 1.0, 1.0, 2.0]
    """
    return list((DEFAULT_CONFIG if config is None else config).weights.values())
