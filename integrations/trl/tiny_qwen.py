"""A randomly initialised Qwen2.5-VL, its tokenizer and processor, built offline.

Used by the ``--smoke`` mode of ``grpo_qwen25vl.py``, by ``integrations/gpu_check.py`` and by the
integration tests: nothing here downloads weights. The tokenizer is a byte-level BPE trained in
memory with ``tokenizers`` on grounded traces, with Qwen2.5-VL's special tokens at the ids the
model config names. The image processor is transformers' PIL ("slow") Qwen2-VL processor built
from its defaults, because the fast one needs torchvision, which has no build for the CPU torch
we pin. Sample images ship with scikit-image; their boxes were drawn by hand (pixel ``xyxy`` of
the original image).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "CHAT_TEMPLATE",
    "SAMPLES",
    "SPECIAL_TOKENS",
    "Sample",
    "build_model",
    "build_processor",
    "build_tokenizer",
    "grounded_trace",
    "load_image",
    "warm_start",
    "write_samples",
]

# Qwen2.5-VL's special tokens, first in the vocabulary so their ids are stable and small.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Qwen2-VL's template, reduced to what a GRPO prompt needs: text and image blocks.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class Sample:
    """One scikit-image picture with a grounded multiple-choice question."""

    image: str  # name of the skimage.data loader
    question: str
    choices: tuple[str, ...]
    answer: str
    labels: tuple[str, ...]
    boxes: tuple[tuple[float, float, float, float], ...]  # pixel xyxy, original image


SAMPLES = (
    Sample(
        "astronaut",
        "What lies at the bottom right of the picture?",
        ("a helmet", "a cup", "a cat", "a tree"),
        "A",
        ("helmet", "face"),
        ((275, 345, 512, 512), (165, 25, 300, 180)),
    ),
    Sample(
        "coffee",
        "What rests on the saucer beside the cup?",
        ("a fork", "a spoon", "a knife", "nothing"),
        "B",
        ("cup", "spoon"),
        ((170, 15, 420, 300), (320, 65, 425, 325)),
    ),
    Sample(
        "chelsea",
        "What colour are the cat's eyes?",
        ("blue", "brown", "green", "red"),
        "C",
        ("left eye", "right eye"),
        ((135, 85, 205, 150), (295, 105, 345, 165)),
    ),
    Sample(
        "rocket",
        "What stands between the two towers?",
        ("a tree", "a crane", "a house", "a rocket"),
        "D",
        ("rocket",),
        ((300, 125, 340, 410),),
    ),
)


def load_image(name: str) -> Any:
    """Return the scikit-image sample ``name`` as an RGB PIL image."""
    import skimage.data
    from PIL import Image

    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def grounded_trace(sample: Sample, rng: random.Random) -> str:
    """A grounded reasoning trace for ``sample`` in pixel coordinates.

    Boxes shrink by up to 8 pixels a side at random, so traces differ and stay inside the image.
    """
    spans = []
    for label, box in zip(sample.labels, sample.boxes, strict=True):
        x1, y1, x2, y2 = box
        shrunk = [
            x1 + rng.randint(0, 8),
            y1 + rng.randint(0, 8),
            x2 - rng.randint(0, 8),
            y2 - rng.randint(0, 8),
        ]
        spans.append(f"the <obj>{label}</obj><bbox>[{', '.join(map(str, shrunk))}]</bbox>")
    return f"<think>I look at {' and '.join(spans)}.</think><answer>{sample.answer}</answer>"


def build_tokenizer(vocab_size: int = 1024, seed: int = 0, extra_corpus: Sequence[str] = ()) -> Any:
    """Train a byte-level BPE tokenizer in memory and wrap it for transformers.

    Args:
        vocab_size: Target vocabulary size (special tokens included).
        seed: Seed for the jitter of the training corpus.
        extra_corpus: More training text (e.g. the prompt instruction, so prompts are short).

    Returns:
        A ``PreTrainedTokenizerFast`` with Qwen2.5-VL's special tokens and chat template.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(seed)
    corpus = []
    for _ in range(50):
        for sample in SAMPLES:
            options = " ".join(f"({chr(65 + i)}) {c}" for i, c in enumerate(sample.choices))
            corpus.append(f"{sample.question} {options}")
            corpus.append(grounded_trace(sample, rng))
    corpus.extend(text for text in extra_corpus for _ in range(20))
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        chat_template=CHAT_TEMPLATE,
    )
    wrapped.padding_side = "left"
    return wrapped


def build_processor(
    tokenizer: Any, *, min_pixels: int = 28 * 28 * 4, max_pixels: int = 28 * 28 * 16
) -> Any:
    """A Qwen2.5-VL processor from the slow (PIL) image processor's defaults.

    The default pixel budget is tiny (at most 16 merged patches, so 16 image tokens) to keep
    CPU runs fast; a reward in ``qwen25vl`` space must use the same ``min_pixels``/``max_pixels``.
    """
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    image_processor = Qwen2VLImageProcessorPil(
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels}
    )
    return _image_only_processor_class()(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )


def _image_only_processor_class() -> type:
    """``Qwen2_5_VLProcessor`` without its video processor.

    transformers 5 requires every sub-processor its ``__init__`` names, and Qwen2-VL's video
    processor imports torchvision. ``ProcessorMixin`` reads the sub-processors off the
    ``__init__`` signature, so a subclass whose ``__init__`` names only the image processor and
    the tokenizer is a complete processor for image prompts (videos are never passed).
    """
    from transformers import Qwen2_5_VLProcessor
    from transformers.processing_utils import ProcessorMixin

    class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):  # noqa: N801 (transformers' name)
        def __init__(
            self,
            image_processor: Any = None,
            tokenizer: Any = None,
            chat_template: Any = None,
            **kwargs: Any,
        ) -> None:
            self.image_token = "<|image_pad|>"
            self.video_token = "<|video_pad|>"
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    return ImageOnlyQwen2_5_VLProcessor


# Sizes: "tiny" runs a GRPO step on two CPU cores in seconds; "gpu" is a few hundred million
# parameters, enough that a GPU step costs what a small real model costs.
_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"hidden": 64, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 128, "vit_depth": 2},
    "gpu": {"hidden": 1024, "layers": 24, "heads": 16, "kv_heads": 8, "ffn": 4096, "vit_depth": 8},
}


def build_model(tokenizer: Any, preset: str = "tiny", seed: int = 0) -> Any:
    """A randomly initialised ``Qwen2_5_VLForConditionalGeneration`` matching ``tokenizer``.

    Args:
        tokenizer: From :func:`build_tokenizer` (its special-token ids go into the config).
        preset: ``"tiny"`` (CPU tests) or ``"gpu"`` (a few hundred million parameters).
        seed: Torch seed for the initialisation.
    """
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    size = _PRESETS[preset]
    head_dim = size["hidden"] // size["heads"]
    third = head_dim // 2 // 3  # mrope splits half the head dim over (time, height, width)
    mrope = [head_dim // 2 - 2 * third, third, third]
    ids = {tok: tokenizer.convert_tokens_to_ids(tok) for tok in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": size["hidden"],
            "intermediate_size": size["ffn"],
            "num_hidden_layers": size["layers"],
            "num_attention_heads": size["heads"],
            "num_key_value_heads": size["kv_heads"],
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1_000_000.0,
                "mrope_section": mrope,
            },
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": size["vit_depth"],
            "hidden_size": size["hidden"],
            "intermediate_size": size["ffn"],
            "num_heads": size["heads"],
            "out_hidden_size": size["hidden"],
            "fullatt_block_indexes": [size["vit_depth"] - 1],
            "window_size": 112,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model


def warm_start(
    model: Any,
    processor: Any,
    examples: list[tuple[list[dict[str, Any]], Any, str]],
    *,
    steps: int = 60,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Teach the random model to write grounded traces (a few seconds of SFT on CPU).

    A random model never writes ``<bbox>``, so every box reward would be 0; after
    this warm start the GRPO smoke run samples grounded traces whose boxes land
    near the ground truth, and the rewards carry signal.

    Args:
        model: From :func:`build_model`.
        processor: From :func:`build_processor`.
        examples: ``(prompt messages, PIL image, target completion)`` triples.
        steps: Optimizer steps (each over every example).
        lr: AdamW learning rate.
        seed: Torch seed.

    Returns:
        The loss after each step.
    """
    import torch

    torch.manual_seed(seed)
    tokenizer = processor.tokenizer
    rows = []
    for messages, image, target in examples:
        filled = [
            {
                **m,
                "content": [
                    {**part, "image": image} if part.get("type") == "image" else part
                    for part in m["content"]
                ],
            }
            for m in messages
        ]
        prompt = processor.apply_chat_template(
            [filled],
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
        answer = tokenizer(target + "<|im_end|>", return_tensors="pt", add_special_tokens=False)
        rows.append((prompt, answer["input_ids"]))
    # One right-padded batch: a single forward pass per step instead of one per example.
    width = max(p["input_ids"].shape[1] + a.shape[1] for p, a in rows)
    pad_id = tokenizer.pad_token_id
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    token_types = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (prompt, answer) in enumerate(rows):
        n_prompt, n_answer = prompt["input_ids"].shape[1], answer.shape[1]
        input_ids[i, :n_prompt] = prompt["input_ids"][0]
        input_ids[i, n_prompt : n_prompt + n_answer] = answer[0]
        attention[i, : n_prompt + n_answer] = 1
        labels[i, n_prompt : n_prompt + n_answer] = answer[0]
        if "mm_token_type_ids" in prompt:  # rope positions depend on it: text tokens are type 0
            token_types[i, :n_prompt] = prompt["mm_token_type_ids"][0]
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention,
        "labels": labels,
        "mm_token_type_ids": token_types,
        "pixel_values": torch.cat([p["pixel_values"] for p, _ in rows]),
        "image_grid_thw": torch.cat([p["image_grid_thw"] for p, _ in rows]),
    }
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


def write_samples(folder: Path) -> Path:
    """Write the samples as export input: PNG images and a simple-schema JSONL file.

    Args:
        folder: Where ``images/`` and ``samples.jsonl`` go (created if needed).

    Returns:
        The JSONL file, for ``grounding-rewards export`` or ``read_examples``.
    """
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for sample in SAMPLES:
        load_image(sample.image).save(folder / "images" / f"{sample.image}.png")
        objects = [
            {"label": label, "box": list(box)}
            for label, box in zip(sample.labels, sample.boxes, strict=True)
        ]
        record = {
            "id": sample.image,
            "image": f"images/{sample.image}.png",
            "question": sample.question,
            "choices": list(sample.choices),
            "answer": sample.answer,
            "objects": objects,
        }
        lines.append(json.dumps(record))
    path = folder / "samples.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
