"""Load any reward function and call it exactly the way its trainer would.

Six calling conventions ("contracts"); each passes what its framework passes, so a
function written for that framework is audited as it is:

``plain``
    ``f(completion, **ground_truth)`` returning a number. Only the keywords ``f``
    declares are passed (all to ``**kwargs``): ``answer``, ``gt_boxes``,
    ``gt_labels``, ``choices``, ``image_size``, ``prompt``, ``config`` (with
    ``--config``) and the solution column (``solution``) when declared. Two more
    forms are detected from the signature (``call="auto"``): *positional*
    ``f(predict, ground_truth)`` (a second positional parameter that is not one of
    those keywords: it gets the solution), and *batch* ``f(predicts, ground_truths)
    -> list`` (a first parameter named in the plural: ``completions``, ``predicts``,
    ``responses``, ...). ``call`` forces one: ``keywords``, ``positional``, ``batch``.
``trl``
    TRL's ``GRPOTrainer`` call: ``f(prompts=[...], completions=[...],
    completion_ids=[...], <every dataset column as a list>, trainer_state=...,
    log_extra=..., log_metric=...)`` returning one ``float | None`` per completion.
``verl``
    veRL's reward loop: ``compute_score(data_source=..., solution_str=...,
    ground_truth=..., extra_info={...}, **reward_kwargs)`` returning a number or a
    dict with ``"score"``.
``easyr1``
    EasyR1's reward manager: batch ``f(reward_inputs) -> [{"overall": ...}, ...]`` or
    sequential ``f(reward_input) -> {"overall": ...}``; a reward input is
    ``{"response", "response_length", "ground_truth"}``. The form is ``easyr1_type``,
    by default ``REWARD_TYPE`` of the function's module (``"batch"`` without one).
``swift``
    ms-swift's ORM: an instance (a class is instantiated with ``args=``) called as
    ``orm(completions, messages=[...], trainer_state=..., <every column as a list>)``
    returning one ``float | None`` per completion.
``openrlhf``
    OpenRLHF's ``reward_func(queries, prompts, labels)``: a query is the chat-templated
    prompt followed by the response; returns ``{"rewards": tensor, ...}``.

The ground truth the reward receives is the *solution*: our columns (``columns``), a
JSON string of ``{"bbox_2d", "label"}`` objects (``json``), ``<answer>[x1, y1, x2,
y2]</answer>`` (``answer-box``) or what a ``MODULE:FUNCTION`` hook makes of our
columns (see :func:`encode_solution`). Results may be numbers, ``None``, dicts with
``"score"``, ``"overall"`` or ``"rewards"``, objects with ``.total``, or tensors.

The target's own printing (stdout, stderr, warnings) is captured into the report.

Example:
    >>> def reward(completion, answer):
    ...     return float(completion.endswith(f"<answer>{answer}</answer>"))
    >>> adapter = make_adapter(reward, "plain")
    >>> sample = Sample("<answer>B</answer>", {"answer": "B", "gt_boxes": []}, "Q?")
    >>> adapter.score_one(sample).value
    1.0
    >>> to_reward_value({"overall": 0.5, "accuracy": 1.0})
    0.5
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from grounding_rewards.errors import AuditError, InputTypeError

__all__ = [
    "CALLS",
    "CONTRACTS",
    "SOLUTION_FORMATS",
    "AuditError",
    "Contract",
    "Outcome",
    "RewardAdapter",
    "Sample",
    "encode_solution",
    "load_target",
    "make_adapter",
    "plain_call",
    "to_reward_value",
    "to_reward_values",
]

Contract = Literal["plain", "trl", "verl", "easyr1", "swift", "openrlhf"]
CONTRACTS: tuple[str, ...] = ("plain", "trl", "verl", "easyr1", "swift", "openrlhf")
CALLS: tuple[str, ...] = ("auto", "keywords", "positional", "batch")
SOLUTION_FORMATS: tuple[str, ...] = ("columns", "json", "answer-box")
"""Built-in ways to write the ground truth; ``MODULE:FUNCTION`` names a hook."""

_GT_KEYS = ("answer", "gt_boxes", "gt_labels", "choices", "image_size")
_KEYWORDS = frozenset({*_GT_KEYS, "prompt", "config", "gt_polygons", "solution"})
_PLURAL = frozenset(
    {
        "completions",
        "contents",
        "outputs",
        "predictions",
        "predicts",
        "preds",
        "responses",
        "solution_strs",
        "texts",
    }
)
_CAPTURE_LIMIT = 20_000


@dataclass(frozen=True)
class Sample:
    """One call of the reward: a completion, its ground truth and its prompt.

    Attributes:
        completion: The model output.
        ground_truth: ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``.
        prompt: The user prompt the completion answers.
        solution: The ground truth as the reward receives it (``None``: ``ground_truth``).
    """

    completion: str
    ground_truth: Mapping[str, Any]
    prompt: str = ""
    solution: Any = None

    @property
    def truth(self) -> Any:
        """The solution, or the ground-truth columns when there is none."""
        return dict(self.ground_truth) if self.solution is None else self.solution


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


def _scalar(result: Any) -> Any:
    """A tensor or array of one element as a Python number; anything else unchanged."""
    if hasattr(result, "item") and hasattr(result, "shape"):
        size = 1
        for dim in tuple(result.shape):
            size *= int(dim)
        if size != 1:
            raise InputTypeError(
                f"expected one reward, got a tensor of shape {tuple(result.shape)}"
            )
        return result.item()
    return result


def to_reward_value(result: Any) -> float | None:
    """Read a reward out of what a reward function returned.

    Args:
        result: A number, ``None``, a mapping with ``"score"``, ``"overall"`` or
            ``"rewards"``, an object with ``.total``, or a one-element tensor.

    Returns:
        The reward as a float (NaN and infinities are kept: the audit reports them).

    Raises:
        InputTypeError: For anything else.

    Example:
        >>> to_reward_value({"score": 1, "acc": 1.0}), to_reward_value(None), to_reward_value(True)
        (1.0, None, 1.0)
    """
    if result is None:
        return None
    if isinstance(result, Mapping):
        for key in ("score", "overall", "rewards", "reward"):
            if key in result:
                value = result[key]
                if isinstance(value, (list, tuple)) and len(value) == 1:
                    value = value[0]
                return to_reward_value(value)
        raise InputTypeError(
            "expected a dict with a 'score', 'overall' or 'rewards' key, "
            f"got keys {sorted(map(str, result))[:8]}"
        )
    if hasattr(result, "total") and not isinstance(result, (int, float)):
        return to_reward_value(result.total)
    if isinstance(result, (str, bytes)):
        raise InputTypeError(f"expected a number, got {type(result).__name__} {result[:40]!r}")
    result = _scalar(result)
    try:
        return float(result)
    except (TypeError, ValueError, OverflowError):
        raise InputTypeError(
            "expected a number, None, a dict with 'score' or 'overall', an object with "
            f".total or a tensor, got {type(result).__name__}"
        ) from None


def to_reward_values(result: Any, n: int) -> list[float | None]:
    """Read ``n`` rewards out of a batch result (a list, a tensor or ``{"rewards": ...}``).

    Raises:
        InputTypeError: When it is not ``n`` rewards.

    Example:
        >>> to_reward_values([{"overall": 1.0}, None], 2)
        [1.0, None]
    """
    if isinstance(result, Mapping):
        for key in ("rewards", "scores", "score"):
            if key in result:
                return to_reward_values(result[key], n)
        raise InputTypeError(
            f"expected a dict with 'rewards', got keys {sorted(map(str, result))[:8]}"
        )
    if hasattr(result, "tolist") and not isinstance(result, (list, tuple)):
        result = result.tolist()
        if not isinstance(result, list):
            result = [result]
    if isinstance(result, (str, bytes)) or not isinstance(result, Sequence):
        raise InputTypeError(f"expected a list of {n} rewards, got {type(result).__name__}")
    if len(result) != n:
        raise InputTypeError(f"expected {n} rewards, got {len(result)}")
    return [to_reward_value(r) for r in result]


def encode_solution(
    ground_truth: Mapping[str, Any],
    solution_format: str,
    *,
    to_space: Callable[[Sequence[float]], Sequence[float]] | None = None,
    number: Callable[[float], Any] | None = None,
) -> Any:
    """The ground truth written the way the reward under test reads it.

    Args:
        ground_truth: Our columns (pixel ``gt_boxes``, ``gt_labels``, ...).
        solution_format: ``columns`` (the columns as they are), ``json`` (a JSON string
            of ``[{"bbox_2d": [x1, y1, x2, y2], "label": ...}, ...]``), ``answer-box``
            (``<answer>[x1, y1, x2, y2]</answer>`` of the first box) or
            ``MODULE:FUNCTION``: a hook called with the columns whose return value is
            passed as it is.
        to_space: Converts a pixel box to the space the model writes in (``json`` and
            ``answer-box`` write boxes the way the model does: these rewards compare
            them directly); ``None`` keeps pixels.
        number: Rounds one coordinate the way the model writes it.

    Returns:
        The solution.

    Raises:
        AuditError: For an unknown format or a hook that cannot be loaded.

    Example:
        >>> gt = {"gt_boxes": [[1, 2, 3, 4]], "gt_labels": ["cat"]}
        >>> encode_solution(gt, "json")
        '[{"bbox_2d": [1, 2, 3, 4], "label": "cat"}]'
        >>> encode_solution(gt, "answer-box")
        '<answer>[1, 2, 3, 4]</answer>'
    """
    if solution_format == "columns":
        return dict(ground_truth)
    convert = to_space or (lambda box: box)
    rounding = number or (lambda v: v)

    def box_values(box: Sequence[float]) -> list[Any]:
        out = []
        for v in convert([float(c) for c in box]):
            r = rounding(float(v))
            out.append(int(r) if isinstance(r, float) and r.is_integer() else r)
        return out

    boxes = list(ground_truth.get("gt_boxes") or [])
    labels = list(ground_truth.get("gt_labels") or [])
    if solution_format == "json":
        objects = [
            {"bbox_2d": box_values(box), "label": labels[i] if i < len(labels) else ""}
            for i, box in enumerate(boxes)
        ]
        return json.dumps(objects)
    if solution_format == "answer-box":
        if not boxes:
            return "<answer></answer>"
        return "<answer>[" + ", ".join(str(v) for v in box_values(boxes[0])) + "]</answer>"
    hook = load_target(solution_format)
    return hook(dict(ground_truth))


def _describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    if len(text) > 200:
        text = text[:197] + "..."
    return f"{type(exc).__name__}: {text}"


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter] | None:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None


def _accepted(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """Names of keyword parameters ``fn`` accepts, and whether it takes ``**kwargs``."""
    params = _parameters(fn)
    if params is None:
        return frozenset(), True  # cannot tell: pass everything, as a trainer would
    names = frozenset(
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def plain_call(fn: Callable[..., Any]) -> str:
    """How the ``plain`` contract calls ``fn``: ``keywords``, ``positional`` or ``batch``.

    ``batch`` when the first parameter is named in the plural (``completions``,
    ``predicts``, ``responses``, ``contents``, ...); ``positional`` when a second
    positional parameter is not one of the ground-truth keywords (``answer``,
    ``gt_boxes``, ..., ``prompt``, ``config``, ``solution``); else ``keywords``.

    Example:
        >>> plain_call(lambda completion, answer=None: 0.0)
        'keywords'
        >>> plain_call(lambda predict, ground_truth: 0.0)
        'positional'
        >>> plain_call(lambda predicts, ground_truths: [0.0])
        'batch'
    """
    params = _parameters(fn)
    if not params:
        return "keywords"
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if positional and positional[0].name in _PLURAL:
        return "batch"
    if len(positional) >= 2 and positional[1].name not in _KEYWORDS:
        return "positional"
    return "keywords"


def _module_globals(fn: Any) -> Mapping[str, Any]:
    found = getattr(fn, "__globals__", None)
    if isinstance(found, Mapping):
        return found
    target = getattr(fn, "__func__", None) or type(fn)
    name = getattr(fn, "__module__", None) or getattr(target, "__module__", "")
    module = sys.modules.get(str(name))
    return vars(module) if module is not None else {}


def easyr1_type(fn: Any) -> str:
    """``REWARD_TYPE`` of ``fn``'s module (``"batch"`` without one), as EasyR1 reads it.

    Example:
        >>> from grounding_rewards.easyr1 import compute_score
        >>> easyr1_type(compute_score)
        'batch'
    """
    value = _module_globals(fn).get("REWARD_TYPE", "batch")
    return value if value in ("batch", "sequential") else "batch"


_CHATML_USER = "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"


@dataclass
class RewardAdapter:
    """Calls a reward function under one contract; never lets its exceptions escape.

    Attributes:
        fn: The reward function.
        contract: One of :data:`CONTRACTS`.
        reward_kwargs: Extra keyword arguments for every call (veRL's ``reward_kwargs``,
            EasyR1's ``reward_function_kwargs``).
        config: Passed as ``config=`` to ``plain`` functions that declare it.
        conversational: TRL only: send chat messages instead of strings.
        data_source: veRL only: the ``data_source`` argument.
        columns: TRL/ms-swift: dataset column name for each ground-truth key.
        solution_column: Where the solution goes for ``trl``, ``swift`` and ``plain``.
        solution_format: How the solution is written (``columns``, ``json``, ...).
        call: ``plain`` only: ``auto``, ``keywords``, ``positional`` or ``batch``.
        easyr1_type: ``easyr1`` only: ``batch`` or ``sequential`` (``None``: the module's
            ``REWARD_TYPE``).
        captured: Everything the target printed or warned, in order.
    """

    fn: Callable[..., Any]
    contract: Contract = "plain"
    reward_kwargs: Mapping[str, Any] = field(default_factory=dict)
    config: Any = None
    conversational: bool = False
    data_source: str = "grounding"
    columns: Mapping[str, str] = field(default_factory=dict)
    solution_column: str = "solution"
    solution_format: str = "columns"
    call: str = "auto"
    easyr1_type: str | None = None
    captured: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.contract == "plain" and self.call == "auto":
            self.call = plain_call(self.fn)
        if self.contract == "easyr1" and self.easyr1_type is None:
            self.easyr1_type = easyr1_type(self.fn)

    @property
    def name(self) -> str:
        """A readable name of the function."""
        return str(getattr(self.fn, "__name__", type(self.fn).__name__))

    @property
    def batched(self) -> bool:
        """Whether one call scores several samples (so rows can influence each other)."""
        if self.contract in ("trl", "swift"):
            return True
        if self.contract == "easyr1":
            return self.easyr1_type == "batch"
        return self.contract == "plain" and self.call == "batch"

    def score_one(self, sample: Sample) -> Outcome:
        """Score one sample (a batched contract: a batch of one)."""
        return self.score_batch([sample])[0]

    def score_batch(self, samples: Sequence[Sample]) -> list[Outcome]:
        """Score samples; batched contracts get them in one call, the others one each.

        Args:
            samples: The samples.

        Returns:
            One outcome per sample. When a batched call fails as a whole, every
            sample of the batch carries its error.
        """
        if self.batched:
            return self._batch(samples)
        return [self._single(s) for s in samples]

    @contextlib.contextmanager
    def _capture(self) -> Any:
        out, err = io.StringIO(), io.StringIO()
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            warnings.simplefilter("always")
            yield
        used = sum(len(t) for t in self.captured)
        for text in (
            out.getvalue(),
            err.getvalue(),
            *(f"{w.category.__name__}: {w.message}\n" for w in caught),
        ):
            if text and used < _CAPTURE_LIMIT:
                self.captured.append(text[: _CAPTURE_LIMIT - used])
                used += len(text)

    def _single(self, sample: Sample) -> Outcome:
        start = time.perf_counter()
        try:
            with self._capture():
                if self.contract == "verl":
                    result = self._call_verl(sample)
                elif self.contract == "easyr1":
                    result = self.fn(self._easyr1_input(sample), **self.reward_kwargs)
                    if not isinstance(result, Mapping):
                        raise InputTypeError(
                            f"expected a dict with 'overall' (sequential EasyR1), got "
                            f"{type(result).__name__}"
                        )
                elif self.contract == "openrlhf":
                    query, prompt = self._openrlhf_query(sample)
                    result = self.fn([query], [prompt], [self._label(sample)], **self.reward_kwargs)
                    result = to_reward_values(result, 1)[0]
                else:
                    result = self._call_plain(sample)
            value = to_reward_value(result)
        except Exception as exc:  # a reward that crashes on model output is a finding
            return Outcome(None, _describe(exc), time.perf_counter() - start)
        return Outcome(value, None, time.perf_counter() - start)

    def _solution_kwargs(
        self, names: frozenset[str], var_kw: bool, sample: Sample
    ) -> dict[str, Any]:
        if self.solution_column in names or (var_kw and self.solution_format != "columns"):
            return {self.solution_column: sample.truth}
        return {}

    def _call_plain(self, sample: Sample) -> Any:
        if self.call == "positional":
            return self.fn(sample.completion, sample.truth, **self.reward_kwargs)
        names, var_kw = _accepted(self.fn)
        offered: dict[str, Any] = {k: sample.ground_truth.get(k) for k in _GT_KEYS}
        offered["prompt"] = sample.prompt
        if self.config is not None:
            offered["config"] = self.config
        kwargs = {k: v for k, v in offered.items() if var_kw or k in names}
        kwargs.update(self._solution_kwargs(names, var_kw, sample))
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
            ground_truth=sample.truth,
            extra_info=extra_info,
            **self.reward_kwargs,
        )

    @staticmethod
    def _easyr1_input(sample: Sample) -> dict[str, Any]:
        return {
            "response": sample.completion,
            "response_length": len(sample.completion.encode("utf-8")),
            "ground_truth": sample.truth,
        }

    def _label(self, sample: Sample) -> Any:
        truth = sample.truth
        return json.dumps(truth) if self.solution_format == "columns" else truth

    @staticmethod
    def _openrlhf_query(sample: Sample) -> tuple[str, str]:
        prompt = _CHATML_USER.format(prompt=sample.prompt)
        return prompt + sample.completion + "<|im_end|>", prompt

    def _columns(self, samples: Sequence[Sample]) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {
            self.columns.get(k, k): [s.ground_truth.get(k) for s in samples] for k in _GT_KEYS
        }
        if self.solution_format != "columns":
            columns[self.solution_column] = [s.truth for s in samples]
        return columns

    def _batch_call(self, samples: Sequence[Sample]) -> Any:
        n = len(samples)
        if self.contract == "easyr1":
            return self.fn([self._easyr1_input(s) for s in samples], **self.reward_kwargs)
        if self.contract == "plain":
            return self.fn(
                [s.completion for s in samples], [s.truth for s in samples], **self.reward_kwargs
            )
        state = SimpleNamespace(global_step=0, epoch=0.0, max_steps=1)
        if self.contract == "swift":
            messages = [
                [
                    {"role": "user", "content": s.prompt},
                    {"role": "assistant", "content": s.completion},
                ]
                for s in samples
            ]
            return self.fn(
                [s.completion for s in samples],
                messages=messages,
                trainer_state=state,
                **self._columns(samples),
                **self.reward_kwargs,
            )

        def message(role: str, text: str) -> Any:
            return [{"role": role, "content": text}] if self.conversational else text

        del n
        return self.fn(
            prompts=[message("user", s.prompt) for s in samples],
            completions=[message("assistant", s.completion) for s in samples],
            completion_ids=[list(s.completion.encode("utf-8")) for s in samples],
            trainer_state=state,
            log_extra=lambda column, values: None,
            log_metric=lambda name, value: None,
            **self._columns(samples),
            **self.reward_kwargs,
        )

    def _batch(self, samples: Sequence[Sample]) -> list[Outcome]:
        start = time.perf_counter()
        try:
            with self._capture():
                result = self._batch_call(samples)
            values = to_reward_values(result, len(samples))
        except Exception as exc:
            seconds = (time.perf_counter() - start) / max(1, len(samples))
            return [Outcome(None, _describe(exc), seconds) for _ in samples]
        seconds = (time.perf_counter() - start) / max(1, len(samples))
        return [Outcome(v, None, seconds) for v in values]


def _instantiate(cls: type) -> Any:
    """An ms-swift ORM instance: ``cls(args=...)`` when it takes ``args``, else ``cls()``."""
    names, var_kw = _accepted(cls)
    args = SimpleNamespace(output_dir=".", reward_funcs=[], reward_weights=None)
    try:
        return cls(args=args) if "args" in names or var_kw else cls()
    except Exception as exc:
        raise AuditError(f"instantiating {cls.__name__} failed: {_describe(exc)}") from exc


def make_adapter(fn: Any, contract: str = "plain", **options: Any) -> RewardAdapter:
    """Wrap ``fn`` for the audit.

    Args:
        fn: The reward function (``swift``: an ORM class or instance).
        contract: One of :data:`CONTRACTS`.
        **options: :class:`RewardAdapter` fields (``reward_kwargs``, ``config``, ...).

    Returns:
        The adapter.

    Raises:
        AuditError: For an unknown contract, call or solution format, or a
            non-callable ``fn``.
    """
    if contract not in CONTRACTS:
        raise AuditError(
            f"expected --contract to be one of {', '.join(CONTRACTS)}, got {contract!r}"
        )
    if contract == "swift" and isinstance(fn, type):
        fn = _instantiate(fn)
    if not callable(fn) or isinstance(fn, type):
        raise AuditError(f"expected a callable reward function, got {type(fn).__name__}")
    call = options.get("call", "auto")
    if call not in CALLS:
        raise AuditError(f"expected --call to be one of {', '.join(CALLS)}, got {call!r}")
    kind = options.get("easyr1_type")
    if kind not in (None, "batch", "sequential"):
        raise AuditError(f"expected --easyr1-type batch or sequential, got {kind!r}")
    fmt = options.get("solution_format", "columns")
    if fmt not in SOLUTION_FORMATS and ":" not in fmt:
        raise AuditError(
            f"expected --solution-format among {', '.join(SOLUTION_FORMATS)} or "
            f"MODULE:FUNCTION, got {fmt!r}"
        )
    return RewardAdapter(fn, contract, **options)  # type: ignore[arg-type]


def load_target(spec: str, *, allow_class: bool = False) -> Any:
    """Import ``MODULE:ATTRIBUTE`` or ``path/to/file.py:ATTRIBUTE``.

    ``ATTRIBUTE`` may be dotted (``module:Class.method``). A trailing ``()`` calls
    it with no arguments and audits what it returns, for reward *factories* such as
    ``grounding_rewards.trl:composite_reward_func()``. A file path is loaded the way
    veRL's ``custom_reward_function.path`` is, without touching ``sys.path``; a
    module name is imported with the current directory importable, as ``python -m``
    does.

    Args:
        spec: The target.
        allow_class: Return a class as it is (ms-swift ORM classes).

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
    if isinstance(target, type) and not allow_class:
        raise AuditError(
            f"expected a reward function, got the class {spec!r}; "
            "point at an instance, a function or a factory() (or use --contract swift)"
        )
    return target
