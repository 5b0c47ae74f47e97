"""Local Hugging Face transformers: a VLM backend and zero-shot detectors (OWLv2, Grounding DINO).

Everything heavy (torch, transformers) is imported when a model is first used,
and a missing install raises an error naming the ``transformers`` extra. Models
load with ``from_pretrained`` (a hub id or a local folder; downloads are the
user's choice), or are passed in already built, which is how the tests use tiny
randomly initialised models made from configs.

The VLM backend batches requests (left padding) and runs generation in a worker
thread, one batch at a time, so the event loop stays free. It has no guided
decoding: the pipeline validates every JSON answer and re-asks on malformed ones.

Example:
    >>> backend = TransformersBackend("Qwen/Qwen2.5-VL-7B-Instruct")  # nothing loads yet
    >>> backend.name, backend.model
    ('transformers', 'Qwen/Qwen2.5-VL-7B-Instruct')
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from grounding_rewards._optional import require
from grounding_rewards.errors import ConfigError
from grounding_rewards.synthesis.backends.base import BackendError, BaseBackend, GenerationRequest
from grounding_rewards.synthesis.backends.detectors import Detection, run_detector_in_thread

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["DEFAULT_DETECTOR_MODELS", "TransformersBackend", "ZeroShotDetector"]

DEFAULT_DETECTOR_MODELS = {
    "owlv2": "google/owlv2-base-patch16-ensemble",
    "grounding-dino": "IDEA-Research/grounding-dino-tiny",
}


def _torch() -> Any:
    return require("torch", extra="transformers")


def _transformers() -> Any:
    return require("transformers", extra="transformers")


def _decode_image(data: bytes) -> Image.Image:
    image_module = require("PIL.Image", extra="synthesis")
    image: Image.Image = image_module.open(io.BytesIO(data)).convert("RGB")
    return image


class TransformersBackend(BaseBackend):
    """A vision-language model run in-process with transformers.

    Args:
        model: Hub id or local folder (loaded on first use), or ``None`` when
            ``model_obj`` and ``processor`` are given.
        model_obj: An already built ``...ForConditionalGeneration`` / image-text-to-text model.
        processor: Its processor (tokenizer + image processor + chat template).
        device: Torch device, e.g. ``"cpu"``, ``"cuda"``.
        dtype: Torch dtype name for loading (``"bfloat16"``...); ``None`` keeps the default.
        max_batch: Requests generated together.
        trust_remote_code: Passed to ``from_pretrained``.
    """

    name = "transformers"

    def __init__(
        self,
        model: str | None = None,
        *,
        model_obj: Any = None,
        processor: Any = None,
        device: str = "cpu",
        dtype: str | None = None,
        max_batch: int = 8,
        trust_remote_code: bool = False,
    ) -> None:
        if model is None and (model_obj is None or processor is None):
            raise ConfigError(
                "transformers backend: expected model=<hub id or folder>, or both model_obj "
                "and processor, got neither"
            )
        if max_batch < 1:
            raise ConfigError(f"max_batch: expected an integer >= 1, got {max_batch}")
        self.model = model or type(model_obj).__name__
        self._source = model
        self._model = model_obj
        self._processor = processor
        self.device = device
        self.dtype = dtype
        self.max_batch = max_batch
        self.trust_remote_code = trust_remote_code
        self._lock = threading.Lock()  # one generate at a time on one model

    def _load(self) -> tuple[Any, Any]:
        if self._model is None or self._processor is None:
            transformers = _transformers()
            options: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
            if self.dtype is not None:
                options["dtype"] = getattr(_torch(), self.dtype)
            self._processor = transformers.AutoProcessor.from_pretrained(
                self._source, trust_remote_code=self.trust_remote_code
            )
            self._model = transformers.AutoModelForImageTextToText.from_pretrained(
                self._source, **options
            )
            self._model.to(self.device)
        self._model.eval()
        return self._model, self._processor

    def _prompt_text(self, processor: Any, request: GenerationRequest) -> str:
        content: list[dict[str, Any]] = [{"type": "image"} for _ in request.images]
        content.append({"type": "text", "text": request.prompt})
        messages = [{"role": "user", "content": content}]
        text: str = processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return text

    def generate_batch_sync(self, requests: Sequence[GenerationRequest]) -> list[str]:
        """Generate for ``requests`` in one padded batch (blocking).

        All requests share the batch's settings: the largest ``max_tokens``, and
        sampling when the first request's temperature is above 0 (seeded with its seed).
        """
        torch = _torch()
        with self._lock:
            model, processor = self._load()
            texts = [self._prompt_text(processor, r) for r in requests]
            images = [_decode_image(data) for r in requests for data in r.images]
            tokenizer = getattr(processor, "tokenizer", processor)
            tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
            inputs = processor(
                text=texts, images=images or None, padding=True, return_tensors="pt"
            ).to(self.device)
            first = requests[0]
            options: dict[str, Any] = {"max_new_tokens": max(r.max_tokens for r in requests)}
            if first.temperature > 0:
                options.update(do_sample=True, temperature=first.temperature)
                torch.manual_seed(first.seed)
            else:
                options["do_sample"] = False
            pad_id = tokenizer.pad_token_id
            if pad_id is not None:
                options["pad_token_id"] = pad_id
            with torch.inference_mode():
                output = model.generate(**inputs, **options)
            new_tokens = output[:, inputs["input_ids"].shape[1] :]
            decoded: list[str] = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            return [text.strip() for text in decoded]

    async def generate(self, request: GenerationRequest) -> str:
        """Generate for one request (in a worker thread)."""
        result = (await self.generate_many([request]))[0]
        if isinstance(result, BackendError):
            raise result
        return result

    async def generate_many(
        self, requests: Sequence[GenerationRequest]
    ) -> list[str | BackendError]:
        """Generate in batches of ``max_batch``; a failing batch fails its requests only."""
        results: list[str | BackendError] = []
        for start in range(0, len(requests), self.max_batch):
            batch = list(requests[start : start + self.max_batch])
            results.extend(await asyncio.to_thread(self._batch_or_errors, batch))
        return results

    def _batch_or_errors(self, batch: Sequence[GenerationRequest]) -> list[str | BackendError]:
        try:
            return list(self.generate_batch_sync(batch))
        except Exception as exc:
            # Caught in the worker thread: some (StopIteration from a processor given a
            # mismatched image count) cannot cross into an asyncio future at all.
            reason = "out_of_memory" if "out of memory" in str(exc).lower() else "model_error"
            error = BackendError(f"{type(exc).__name__}: {exc}", reason=reason)
            return [error] * len(batch)

    async def aclose(self) -> None:
        """Drop the model (frees its memory once nothing else holds it)."""
        self._model = None if self._source is not None else self._model


def _match_label(phrase: str, labels: Sequence[str]) -> str:
    """Map a Grounding DINO phrase (tokens above the text threshold) to a queried label.

    The phrase is the queried label itself, a piece of it, or several labels run
    together; an empty string means no queried label is in it.

    Example:
        >>> _match_label("red car", ["car", "red car"]), _match_label("dog cat", ["cat", "dog"])
        ('red car', 'dog')
        >>> _match_label("[UNK]", ["cat"])
        ''
    """
    from grounding_rewards.synthesis.stages.merge import noun_key

    text = phrase.strip().lower()
    for label in labels:
        if label.strip().lower() == text:
            return label
    words = text.split()
    positions = []
    for label in labels:
        key = noun_key(label).split()
        for start in range(len(words) - len(key) + 1):
            if [noun_key(w) for w in words[start : start + len(key)]] == key:
                positions.append((start, -len(key), label))
                break
    return min(positions)[2] if positions else ""


class ZeroShotDetector:
    """Open-vocabulary detection with OWLv2 or Grounding DINO.

    Args:
        kind: ``"owlv2"`` or ``"grounding-dino"``.
        model: Hub id or folder (``None``: :data:`DEFAULT_DETECTOR_MODELS`).
        model_obj: An already built detection model (tests build tiny ones from configs).
        processor: Its processor.
        threshold: Minimum score of a box.
        text_threshold: Grounding DINO's minimum token score for a label.
        device: Torch device.
    """

    def __init__(
        self,
        kind: str,
        model: str | None = None,
        *,
        model_obj: Any = None,
        processor: Any = None,
        threshold: float = 0.3,
        text_threshold: float = 0.25,
        device: str = "cpu",
    ) -> None:
        if kind not in DEFAULT_DETECTOR_MODELS:
            raise ConfigError(
                f"detector kind: expected one of {', '.join(DEFAULT_DETECTOR_MODELS)}, got {kind!r}"
            )
        self.kind = kind
        self.name = kind
        self.model = model or DEFAULT_DETECTOR_MODELS[kind]
        self._model = model_obj
        self._processor = processor
        self.threshold = threshold
        self.text_threshold = text_threshold
        self.device = device
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        if self._model is None or self._processor is None:
            transformers = _transformers()
            self._processor = transformers.AutoProcessor.from_pretrained(self.model)
            self._model = transformers.AutoModelForZeroShotObjectDetection.from_pretrained(
                self.model
            )
            self._model.to(self.device)
        self._model.eval()
        return self._model, self._processor

    def detect_sync(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        """Boxes of ``labels`` in ``image``'s pixels (blocking)."""
        if not labels:
            return []
        torch = _torch()
        labels = list(labels)
        width, height = image.size
        with self._lock:
            model, processor = self._load()
            if self.kind == "owlv2":
                inputs = processor(text=[labels], images=image, return_tensors="pt")
                with torch.inference_mode():
                    outputs = model(**inputs.to(self.device))
                # OWLv2 pads the image to a square before resizing: boxes are relative
                # to the padded square, so the target size is the square's side.
                side = max(width, height)
                results = processor.post_process_grounded_object_detection(
                    outputs=outputs,
                    threshold=self.threshold,
                    target_sizes=[(side, side)],
                    text_labels=[labels],
                )[0]
                names = [labels[int(i)] for i in results["labels"]]
            else:
                text = ". ".join(label.strip().lower() for label in labels) + "."
                inputs = processor(images=image, text=text, return_tensors="pt")
                with torch.inference_mode():
                    outputs = model(**inputs.to(self.device))
                results = processor.post_process_grounded_object_detection(
                    outputs,
                    inputs["input_ids"],
                    threshold=self.threshold,
                    text_threshold=self.text_threshold,
                    target_sizes=[(height, width)],
                )[0]
                phrases = list(results.get("text_labels") or results["labels"])
                names = [_match_label(str(phrase), labels) for phrase in phrases]
        found = []
        for name, score, box in zip(
            names, results["scores"].tolist(), results["boxes"].tolist(), strict=True
        ):
            x1, y1, x2, y2 = (float(v) for v in box)
            box_clamped = (
                max(0.0, x1),
                max(0.0, y1),
                min(float(width), x2),
                min(float(height), y2),
            )
            if box_clamped[0] < box_clamped[2] and box_clamped[1] < box_clamped[3] and name:
                found.append(Detection(str(name), box_clamped, float(score), self.name))
        return found

    async def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        """Boxes of ``labels`` in ``image``'s pixels (in a worker thread)."""
        return await run_detector_in_thread(self.name, self.detect_sync, image, labels)
