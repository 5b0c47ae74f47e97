"""GRPO with TRL's ``GRPOTrainer``: our reward functions, or a naive box reward in place of ours.

Both runs log the same four reward functions so their curves compare directly; only the
weights differ. ``ours`` trains on format + option + our ``bbox_reward`` (one-to-one
matching with a length penalty); ``naive`` trains on format + option +
``max_iou_recall`` from ``grounding_rewards.audit.naive`` (each true box takes its best
IoU over all predicted boxes, with no count penalty, so every extra guess can only
help). The box reward that is not trained on is logged with weight 0, as a monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from grounding_rewards import RewardConfig
from grounding_rewards.audit.naive import max_iou_recall
from grounding_rewards.trl import reward_funcs, reward_weights

__all__ = ["NaiveBboxReward", "grpo"]


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: [{"role": "assistant", "content": ...}]
        return "".join(str(m.get("content") or "") for m in completion if isinstance(m, dict))
    return str(completion)


class NaiveBboxReward:
    """``max_iou_recall`` as a TRL reward function (do not train with it: the audit's foil)."""

    __name__ = "naive_bbox_reward"

    def __call__(
        self, prompts: Any = None, completions: Any = (), gt_boxes: Any = None, **_: Any
    ) -> list[float | None]:
        boxes = gt_boxes or [None] * len(completions)
        return [
            max_iou_recall(_text(c), g) if g else None
            for c, g in zip(completions, boxes, strict=True)
        ]


def grpo(
    model: Any,
    processor: Any,
    dataset: Any,
    *,
    reward: str,
    config: RewardConfig,
    out: Path,
    steps: int,
    seed: int,
    lr: float = 1e-4,
    schedule: str = "constant",
    prompts_per_step: int = 2,
    generations: int = 8,
    max_completion_length: int = 64,
    use_vllm: bool = False,
    cpu: bool = True,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train ``model`` in place; returns TRL's per-step log entries (the curves)."""
    from transformers import PrinterCallback, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    if reward not in ("ours", "naive"):
        raise ValueError(f"reward: expected 'ours' or 'naive', got {reward!r}")
    funcs: list[Any] = [*reward_funcs(config), NaiveBboxReward()]
    ours = reward_weights(config)  # format, option, bbox
    weights = [*ours, 0.0] if reward == "ours" else [ours[0], ours[1], 0.0, ours[2]]

    class Progress(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if on_step is not None and logs and "reward" in logs:
                on_step({"step": state.global_step, **logs})

    args = GRPOConfig(
        output_dir=str(out),
        per_device_train_batch_size=prompts_per_step * generations,
        num_generations=generations,
        gradient_accumulation_steps=1,
        max_completion_length=max_completion_length,
        max_steps=steps,
        learning_rate=lr,
        lr_scheduler_type=schedule,
        warmup_steps=0,
        beta=0.0,
        temperature=1.0,
        reward_weights=weights,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=seed,
        data_seed=seed,
        use_cpu=cpu,
        bf16=not cpu,
        use_vllm=use_vllm,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=model,
        processing_class=processor,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        callbacks=[Progress()],
    )
    trainer.remove_callback(PrinterCallback)  # the driver prints its own progress lines
    trainer.train()
    model.eval()
    return [e for e in trainer.state.log_history if "reward" in e]
