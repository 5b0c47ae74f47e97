"""Load any reward function and call it the way its trainer would.

Three calling conventions ("contracts") are supported:

``plain``
    Our own style: ``f(completion, **ground_truth)`` returning a number, ``None``,
    a dict with ``"score"`` or an object with ``.total`` (our
    :class:`~grounding_rewards.rewards.RewardBreakdown`). Only the keyword arguments
    the function declares are passed (all of them when it takes ``**kwargs``):
    ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``,
    ``prompt``, and ``config`` when the audit was given one.
``trl``
    TRL's ``GRPOTrainer`` call: ``f(prompts=[...], completions=[...],
    completion_ids=[...], <every dataset column as a list>, trainer_state=...,
    log_extra=..., log_metric=...)`` returning one ``float | None`` per completion.
``verl``
    veRL's reward loop: ``compute_score(data_source=..., solution_str=...,
    ground_truth={...}, extra_info={...})`` returning a number or a dict with
    ``"score"``. veRL gives the reward no image, so the image size travels in both
    ``ground_truth`` and ``extra_info``; the prompt is in ``extra_info["prompt"]``.

Example:
    >>> def reward(completion, answer):
    ...     return float(completion.endswith(f"<answer>{answer}</answer>"))
    >>> adapter = make_adapter(reward, "plain")
    >>> sample = Sample("<answer>B</answer>", {"answer": "B", "gt_boxes": []}, "Q?")
    >>> adapter.score_one(sample).value
    1.0
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from grounding_rewards.errors import GroundingRewardsError

__all__ = [
    "CONTRACTS",
    "AuditError",
    "Contract",
    "Outcome",
    "RewardAdapter",
    "Sample",
    "load_target",
    "make_adapter",
    "to_reward_value",
]

Contract = Literal["plain", "trl", "verl"]
CONTRACTS: tuple[str, ...] = ("plain", "trl", "verl")

_GT_KEYS = ("answer", "gt_boxes", "gt_labels", "choices", "image_size")


class AuditError(GroundingRewardsError, ValueError):
    """The audit cannot run: a bad target, option, or a function that breaks its contract."""


@dataclass(frozen=True)
class Sample:
    """One call of the reward: a completion, its ground truth and its prompt.

    Attributes:
        completion: The model output.
        ground_truth: ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``.
        prompt: The user prompt the completion answers.
    """

    completion: str
    ground_truth: Mapping[str, Any]
    prompt: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one call returned.

    Attributes:
        value: The reward (``None``: the function declined to score, like TRL's skip).
        error: ``"ExceptionType: message"`` when the call raised or returned nonsense.
        seconds: Wall time of the call.
    """

    value: float | None
    error: str | None = None
    seconds: float = 0.0


def to_reward_value(result: Any) -> float | None:
    """Read a reward out of what a reward function returned.

    Args:
        result: A number, ``None``, a mapping with ``"score"``, or an object with ``.total``.

    Returns:
        The reward as a float (NaN and infinities are kept: the audit reports them).

    Raises:
        TypeError: For anything else.

    Example:
        >>> to_reward_value({"score": 1, "acc": 1.0}), to_reward_value(None), to_reward_value(True)
        (1.0, None, 1.0)
    """
    if result is None:
        return None
    if isinstance(result, Mapping):
        if "score" not in result:
            raise TypeError(f"expected a dict with a 'score' key, got keys {sorted(result)[:8]}")
        return to_reward_value(result["score"])
    if hasattr(result, "total") and not isinstance(result, (int, float)):
        return to_reward_value(result.total)
    if isinstance(result, (str, bytes)):
        raise TypeError(f"expected a number, got {type(result).__name__} {result[:40]!r}")
    try:
        return float(result)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(
            "expected a number, None, a dict with 'score' or an object with .total, "
            f"got {type(result).__name__}"
        ) from None


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}"


def _accepted(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """Names of keyword parameters ``fn`` accepts, and whether it takes ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return frozenset(), True  # cannot tell: pass everything, as a trainer would
    names = frozenset(
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


@dataclass
class RewardAdapter:
    """Calls a reward function under one contract; never lets its exceptions escape.

    Attributes:
        fn: The reward function.
        contract: ``plain``, ``trl`` or ``verl``.
        reward_kwargs: Extra keyword arguments for every call (veRL's ``reward_kwargs``).
        config: Passed as ``config=`` to ``plain`` functions that declare it.
        conversational: TRL only: send chat messages instead of strings.
        data_source: veRL only: the ``data_source`` argument.
        columns: TRL only: dataset column name for each ground-truth key.
    """

    fn: Callable[..., Any]
    contract: Contract = "plain"
    reward_kwargs: Mapping[str, Any] = field(default_factory=dict)
    config: Any = None
    conversational: bool = False
    data_source: str = "grounding"
    columns: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A readable name of the function."""
        return str(getattr(self.fn, "__name__", type(self.fn).__name__))

    def score_one(self, sample: Sample) -> Outcome:
        """Score one sample (TRL: a batch of one)."""
        return self.score_batch([sample])[0]

    def score_batch(self, samples: Sequence[Sample]) -> list[Outcome]:
        """Score samples; TRL gets them in one call, the others one call each.

        Args:
            samples: The samples.

        Returns:
            One outcome per sample. When a TRL call fails as a whole, every
            sample of the batch carries its error.
        """
        if self.contract == "trl":
            return self._trl(samples)
        return [self._single(s) for s in samples]

    def _single(self, sample: Sample) -> Outcome:
        start = time.perf_counter()
        try:
            if self.contract == "verl":
                result = self._call_verl(sample)
            else:
                result = self._call_plain(sample)
            value = to_reward_value(result)
        except Exception as exc:  # a reward that crashes on model output is a finding
            return Outcome(None, _describe(exc), time.perf_counter() - start)
        return Outcome(value, None, time.perf_counter() - start)

    def _call_plain(self, sample: Sample) -> Any:
        names, var_kw = _accepted(self.fn)
        offered: dict[str, Any] = {k: sample.ground_truth.get(k) for k in _GT_KEYS}
        offered["prompt"] = sample.prompt
        if self.config is not None:
            offered["config"] = self.config
        kwargs = {k: v for k, v in offered.items() if var_kw or k in names}
        kwargs.update(self.reward_kwargs)
        return self.fn(sample.completion, **kwargs)

    def _call_verl(self, sample: Sample) -> Any:
        gt = dict(sample.ground_truth)
        extra_info = {
            "split": "audit",
            "index": 0,
            "image_size": gt.get("image_size"),
            "prompt": sample.prompt,
        }
        return self.fn(
            data_source=self.data_source,
            solution_str=sample.completion,
            ground_truth=gt,
            extra_info=extra_info,
            **self.reward_kwargs,
        )

    def _trl(self, samples: Sequence[Sample]) -> list[Outcome]:
        def message(role: str, text: str) -> Any:
            return [{"role": role, "content": text}] if self.conversational else text

        columns: dict[str, list[Any]] = {
            self.columns.get(k, k): [s.ground_truth.get(k) for s in samples] for k in _GT_KEYS
        }
        start = time.perf_counter()
        try:
            result = self.fn(
                prompts=[message("user", s.prompt) for s in samples],
                completions=[message("assistant", s.completion) for s in samples],
                completion_ids=[list(s.completion.encode("utf-8")) for s in samples],
                trainer_state=SimpleNamespace(global_step=0, epoch=0.0, max_steps=1),
                log_extra=lambda column, values: None,
                log_metric=lambda name, value: None,
                **columns,
                **self.reward_kwargs,
            )
            if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Sequence):
                raise TypeError(f"expected a list of rewards, got {type(result).__name__}")
            if len(result) != len(samples):
                raise TypeError(f"expected {len(samples)} rewards, got {len(result)}")
            values = [to_reward_value(r) for r in result]
        except Exception as exc:
            seconds = (time.perf_counter() - start) / max(1, len(samples))
            return [Outcome(None, _describe(exc), seconds) for _ in samples]
        seconds = (time.perf_counter() - start) / max(1, len(samples))
        return [Outcome(v, None, seconds) for v in values]


def make_adapter(fn: Callable[..., Any], contract: str = "plain", **options: Any) -> RewardAdapter:
    """Wrap ``fn`` for the audit.

    Args:
        fn: The reward function.
        contract: ``plain``, ``trl`` or ``verl``.
        **options: :class:`RewardAdapter` fields (``reward_kwargs``, ``config``, ...).

    Returns:
        The adapter.

    Raises:
        AuditError: For an unknown contract or a non-callable ``fn``.
    """
    if contract not in CONTRACTS:
        raise AuditError(
            f"expected --contract to be one of {', '.join(CONTRACTS)}, got {contract!r}"
        )
    if not callable(fn):
        raise AuditError(f"expected a callable reward function, got {type(fn).__name__}")
    return RewardAdapter(fn, contract, **options)  # type: ignore[arg-type]


def load_target(spec: str) -> Callable[..., Any]:
    """Import ``MODULE:ATTRIBUTE`` or ``path/to/file.py:ATTRIBUTE``.

    ``ATTRIBUTE`` may be dotted (``module:Class.method``). A trailing ``()`` calls
    it with no arguments and audits what it returns, for reward *factories* such as
    ``grounding_rewards.trl:composite_reward_func()``. A file path is loaded the way
    veRL's ``custom_reward_function.path`` is, without touching ``sys.path``; a
    module name is imported with the current directory importable, as ``python -m``
    does.

    Args:
        spec: The target.

    Returns:
        The callable.

    Raises:
        AuditError: When the target is malformed, cannot be imported, lacks the
            attribute or is not callable.

    Example:
        >>> load_target("math:sqrt")(9.0)
        3.0
        >>> load_target("grounding_rewards.trl:composite_reward_func()").__name__
        'grounding_reward'
    """
    factory = spec.endswith("()")
    module_part, sep, attr_part = spec.removesuffix("()").rpartition(":")
    if not sep or not module_part or not attr_part:
        raise AuditError(f"expected MODULE:FUNCTION or path/to/file.py:FUNCTION, got {spec!r}")
    if module_part.endswith(".py") or os.sep in module_part or "/" in module_part:
        path = Path(module_part)
        if not path.is_file():
            raise AuditError(f"expected a Python file at {str(path)!r}, but there is none")
        mod_name = f"_grounding_rewards_audit_target_{abs(hash(str(path.resolve())))}"
        mod_spec = importlib.util.spec_from_file_location(mod_name, path)
        if mod_spec is None or mod_spec.loader is None:
            raise AuditError(f"expected an importable Python file, got {str(path)!r}")
        module = importlib.util.module_from_spec(mod_spec)
        try:
            mod_spec.loader.exec_module(module)
        except Exception as exc:
            raise AuditError(f"importing {str(path)!r} failed: {_describe(exc)}") from exc
    else:
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise AuditError(f"cannot import module {module_part!r}: {_describe(exc)}") from exc
        except Exception as exc:
            raise AuditError(f"importing {module_part!r} failed: {_describe(exc)}") from exc
    target: Any = module
    for part in attr_part.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise AuditError(f"{module_part!r} has no attribute {attr_part!r}") from None
    if factory:
        if not callable(target):
            raise AuditError(
                f"expected {spec!r} to name a callable factory, got {type(target).__name__}"
            )
        try:
            target = target()
        except Exception as exc:
            raise AuditError(f"calling {spec} failed: {_describe(exc)}") from exc
    if not callable(target):
        raise AuditError(f"expected {spec!r} to be callable, got {type(target).__name__}")
    if isinstance(target, type):
        raise AuditError(
            f"expected a reward function, got the class {spec!r}; "
            "point at an instance, a function or a factory()"
        )
    return target  # type: ignore[no-any-return]
