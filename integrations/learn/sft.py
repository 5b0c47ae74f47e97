"""The tiny Qwen2.5-VL: tokenizer, batched prompt encoding, SFT warm start, greedy decoding.

The model and tokenizer come from ``integrations/trl/tiny_qwen.py`` (built offline from a
config). Prompts are encoded with the processor's chat template exactly as TRL's
``GRPOTrainer`` encodes them, so the warm start, the evaluation and GRPO see the same
tokens.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["build", "encode_prompts", "encode_rows", "generate", "sft"]


def build(corpus: Sequence[str], *, vocab_size: int, seed: int, preset: str = "tiny") -> Any:
    """Tokenizer (BPE trained on ``corpus``), processor and a randomly initialised model."""
    import tiny_qwen

    tokenizer = tiny_qwen.build_tokenizer(vocab_size=vocab_size, extra_corpus=list(corpus))
    processor = tiny_qwen.build_processor(tokenizer)
    model = tiny_qwen.build_model(tokenizer, preset=preset, seed=seed)
    return tokenizer, processor, model


def _filled(prompt: list[dict[str, Any]], image: Any) -> list[dict[str, Any]]:
    return [
        {
            **m,
            "content": [
                {"type": "image", "image": image}
                if part.get("type") == "image"
                else {"type": "text", "text": part["text"]}
                for part in m["content"]
            ],
        }
        for m in prompt
    ]


def encode_prompts(processor: Any, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One left-padded batch of prompts (``prompt`` messages and ``image``) for generation."""
    conversations = [_filled(row["prompt"], row["image"].convert("RGB")) for row in rows]
    return processor.apply_chat_template(
        conversations,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
        return_tensors="pt",
        padding=True,
    )


def encode_rows(processor: Any, dataset: Any, targets: Sequence[str]) -> list[dict[str, Any]]:
    """Tokenize every ``(row, target)`` once; rows of one image share its pixel tensor."""
    from evaluation import image_paths

    tokenizer = processor.tokenizer
    pixels: dict[str, Any] = {}
    encoded = []
    keys = image_paths(dataset)
    for row, target, path in zip(dataset, targets, keys, strict=True):
        prompt = processor.apply_chat_template(
            [_filled(row["prompt"], row["image"].convert("RGB"))],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        key = path or row["id"]
        shared = pixels.setdefault(key, (prompt["pixel_values"], prompt["image_grid_thw"]))
        answer = tokenizer(target + "<|im_end|>", return_tensors="pt", add_special_tokens=False)
        encoded.append(
            {
                "prompt": prompt["input_ids"][0],
                "types": prompt["mm_token_type_ids"][0],
                "answer": answer["input_ids"][0],
                "pixel_values": shared[0],
                "image_grid_thw": shared[1],
            }
        )
    return encoded


def _sft_batch(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Right-padded prompt + target batch; the loss covers the target tokens only."""
    import torch

    width = max(len(r["prompt"]) + len(r["answer"]) for r in rows)
    n = len(rows)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    types = torch.zeros((n, width), dtype=torch.long)
    for i, row in enumerate(rows):
        k, m = len(row["prompt"]), len(row["answer"])
        input_ids[i, :k] = row["prompt"]
        input_ids[i, k : k + m] = row["answer"]
        attention[i, : k + m] = 1
        labels[i, k : k + m] = row["answer"]
        types[i, :k] = row["types"]
    return {
        "input_ids": input_ids,
        "attention_mask": attention,
        "labels": labels,
        "mm_token_type_ids": types,
        "pixel_values": torch.cat([r["pixel_values"] for r in rows]),
        "image_grid_thw": torch.cat([r["image_grid_thw"] for r in rows]),
    }


def sft(
    model: Any,
    encoded: Sequence[dict[str, Any]],
    *,
    pad_id: int,
    steps: int,
    batch_size: int = 32,
    lr: float = 2e-3,
    seed: int = 0,
    log: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Supervised warm start on rows from :func:`encode_rows`; returns the losses.

    AdamW with a 50-step linear warm-up and a constant rate; batches are drawn by a
    seeded shuffle of the rows, epoch after epoch.
    """
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    order: list[int] = []
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 50))
    model.train()
    losses = []
    for step in range(steps):
        if len(order) < batch_size:
            fresh = list(range(len(encoded)))
            rng.shuffle(fresh)
            order += fresh
        picked, order = order[:batch_size], order[batch_size:]
        batch = _sft_batch([encoded[i] for i in picked], pad_id)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.item()))
        if log is not None:
            log(step + 1, losses[-1])
    model.eval()
    return losses


def generate(
    model: Any,
    processor: Any,
    dataset: Any,
    *,
    max_new_tokens: int = 64,
    batch_size: int = 64,
) -> list[str]:
    """Greedy completions for every row of ``dataset``."""
    import torch

    tokenizer = processor.tokenizer
    out: list[str] = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            rows = [dataset[i] for i in range(start, min(len(dataset), start + batch_size))]
            batch = encode_prompts(processor, rows).to(model.device)
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
                pad_token_id=tokenizer.pad_token_id,
            )
            new = generated[:, batch["input_ids"].shape[1] :]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
    return out
