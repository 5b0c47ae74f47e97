r"""OpenRLHF adapter: ``reward_func`` for ``--reward.remote_url path/to/reward_func.py``.

OpenRLHF imports the file by path and calls its module-level ``reward_func(queries,
prompts, labels)`` (one sample per call, from a worker thread) and reads back
``{"rewards": tensor, "scores": tensor, "extra_logs": {...}}``:

* ``rewards``: the weighted total (what PPO/GRPO optimizes);
* ``scores``: the same total (what ``--dynamic_filtering`` reads);
* ``extra_logs``: one tensor per component that ``config.weights`` names (``0.0``
  where it does not apply) plus ``gt_error``; OpenRLHF logs each key.

A query is the whole decoded sequence, prompt and response, with special tokens; only
the response is scored. It is the text after the prompt when the query starts with
(or contains) it; a VLM prompt's image placeholder is expanded into many pad tokens in
the query, so otherwise it is the text after the last assistant marker
(``<|im_start|>assistant``, ``<|start_header_id|>assistant<|end_header_id|>``, ...),
and end-of-turn tokens (``<|im_end|>``, ``<|endoftext|>``, ...) are cut off. The
labels (``--data.label_key``) hold our ground-truth keys (``answer``, ``gt_boxes``,
``gt_labels``, ``choices``, ``image_size``) as a JSON string or dict.

Example:
    >>> prompt = "<|im_start|>user\nWhich?<|im_end|>\n<|im_start|>assistant\n"
    >>> response = "<think>A <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>.</think><answer>B</answer>"
    >>> out = reward_func([prompt + response + "<|im_end|>"], [prompt],
    ...                   ['{"answer": "B", "gt_boxes": [[0, 0, 10, 20]]}'])
    >>> out["rewards"].tolist(), {k: v.tolist() for k, v in out["extra_logs"].items()}
    ([2.5], {'format': [1.0], 'accuracy': [1.0], 'bbox': [0.5], 'gt_error': [0.0]})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grounding_rewards._optional import require
from grounding_rewards._records import resolve_config, score_record, scored_names
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce
from grounding_rewards.config import ConfigLike, RewardConfig
from grounding_rewards.errors import InputError

__all__ = [
    "ASSISTANT_MARKERS",
    "END_MARKERS",
    "GroundTruthWarning",
    "RewardFunc",
    "response_text",
    "reward_func",
]

ASSISTANT_MARKERS: tuple[str, ...] = (
    "<|im_start|>assistant",  # ChatML: Qwen2/2.5/3-VL, InternVL
    "<|start_header_id|>assistant<|end_header_id|>",  # Llama 3
    "<|assistant|>",  # Phi, GLM
    "<start_of_turn>model",  # Gemma
    "[/INST]",  # Mistral, Llama 2
)
"""Where a response starts when the prompt is not found in the query (the last one wins)."""

END_MARKERS: tuple[str, ...] = (
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<|end|>",
    "<end_of_turn>",
    "</s>",
)
"""End-of-turn tokens cut from the end of a response (the query keeps special tokens)."""


def response_text(query: str, prompt: str | None = None) -> str:
    r"""The response inside an OpenRLHF query (prompt + response, special tokens kept).

    Args:
        query: The decoded sequence.
        prompt: The prompt string, when OpenRLHF passes one.

    Returns:
        The text after the prompt (or after the last assistant marker), without
        trailing end-of-turn tokens; the whole query when neither is found.

    Example:
        >>> response_text("<|im_start|>user\n<|image_pad|><|image_pad|>Hi<|im_end|>\n"
        ...               "<|im_start|>assistant\n<answer>A</answer><|im_end|>",
        ...               "<|im_start|>user\n<|image_pad|>Hi<|im_end|>\n<|im_start|>assistant\n")
        '<answer>A</answer>'
    """
    start = -1
    if isinstance(prompt, str) and prompt:
        start = query.find(prompt)
        if start >= 0:
            start += len(prompt)
    if start < 0:
        for marker in ASSISTANT_MARKERS:
            found = query.rfind(marker)
            if found >= 0 and found + len(marker) > start:
                start = found + len(marker)
        if start >= 0 and query.startswith("\n", start):
            start += 1
    response = query[start:] if start >= 0 else query
    stripped = True
    while stripped:
        stripped = False
        response = response.rstrip()
        for marker in END_MARKERS:
            if response.endswith(marker):
                response = response[: -len(marker)]
                stripped = True
    return response


class RewardFunc:
    """``reward_func`` bound to a :class:`RewardConfig`; picklable, thread-safe.

    Args:
        config: A :class:`RewardConfig`, a dict of its fields or its JSON; ``None``
            for the defaults (pixel coordinates).

    Example:
        >>> f = RewardFunc('{"coords": "norm1000"}')
        >>> f.config.coords, f.__name__
        ('norm1000', 'reward_func')
    """

    __name__ = "reward_func"

    def __init__(self, config: ConfigLike = None) -> None:
        self.config: RewardConfig = resolve_config(config)
        self._warn = WarnOnce(
            "grounding_rewards.openrlhf.reward_func",
            "such responses are scored as if the ground truth were empty",
        )

    def __repr__(self) -> str:
        return f"RewardFunc(config={self.config!r})"

    def __call__(
        self,
        queries: Sequence[str],
        prompts: Sequence[str | None] | None = None,
        labels: Sequence[str | Mapping[str, Any] | None] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Score OpenRLHF queries.

        Args:
            queries: Prompt + response, decoded with special tokens.
            prompts: The prompts (``None`` entries allowed).
            labels: One ground-truth record per query (JSON string or dict).
            **kwargs: Ignored (OpenRLHF may add arguments).

        Returns:
            ``{"rewards": Tensor[N], "scores": Tensor[N], "extra_logs": {key: Tensor[N]}}``.

        Raises:
            InputError: When prompts or labels do not have one entry per query.
        """
        torch = require("torch", extra="transformers")
        n = len(queries)
        prompts = [None] * n if prompts is None else list(prompts)
        labels = [None] * n if labels is None else list(labels)
        for name, values in (("prompts", prompts), ("labels", labels)):
            if len(values) != n:
                raise InputError(f"{name}: expected {n} values (one per query), got {len(values)}")
        names = scored_names(self.config)
        totals: list[float] = []
        logs: dict[str, list[float]] = {name: [] for name in (*names, "gt_error")}
        for query, prompt, label in zip(queries, prompts, labels, strict=True):
            scored = score_record(response_text(query, prompt), label, self.config, warn=self._warn)
            totals.append(scored.total)
            for name in names:
                value = scored.scores.get(name)
                logs[name].append(0.0 if value is None else float(value))
            logs["gt_error"].append(1.0 if scored.gt_error else 0.0)
        rewards = torch.tensor(totals, dtype=torch.float32)
        return {
            "rewards": rewards,
            "scores": rewards.clone(),
            "extra_logs": {
                key: torch.tensor(values, dtype=torch.float32) for key, values in logs.items()
            },
        }


_DEFAULT = RewardFunc()


def reward_func(
    queries: Sequence[str],
    prompts: Sequence[str | None] | None = None,
    labels: Sequence[str | Mapping[str, Any] | None] | None = None,
    config: ConfigLike = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """OpenRLHF's ``reward_func(queries, prompts, labels, **kw)`` (see the module docs).

    Args:
        queries: Prompt + response, decoded with special tokens.
        prompts: The prompts.
        labels: One ground-truth record per query.
        config: A :class:`RewardConfig`, a dict or its JSON; ``None`` for the defaults.
        **kwargs: RewardConfig fields; other keyword arguments are ignored.

    Returns:
        ``{"rewards", "scores", "extra_logs"}`` with tensors.
    """
    fields = {key: value for key, value in kwargs.items() if key in RewardConfig.model_fields}
    func = (
        _DEFAULT if config is None and not fields else RewardFunc(resolve_config(config, **fields))
    )
    return func(queries, prompts, labels)
