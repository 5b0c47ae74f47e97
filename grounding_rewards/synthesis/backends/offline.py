"""A deterministic offline backend: a stand-in VLM and verifier for tests and the demo.

It reads the pipeline's prompts the way a model would (the template, the labels,
the statements to check) and looks at the pixels it is sent with a few crude,
deterministic measurements: dominant colours, brightness, and connected regions
of one colour as "objects" (``stripe``, ``block`` or ``patch``). Its answers are
therefore plausible and *consistent with the image*, which lets its verifier
catch a hallucination on real pixels: ask it to inject one (``hallucinate``) and
the pipeline's verification must remove it.

It can also fail on demand (``fail``, ``malformed``) and answer slowly (``delay_s``)
so that error handling and concurrency are testable without a server.

Example:
    >>> import asyncio, io, json
    >>> from PIL import Image
    >>> from grounding_rewards.synthesis.backends.base import GenerationRequest
    >>> image = Image.new("RGB", (64, 64), (40, 80, 200))
    >>> buffer = io.BytesIO(); image.save(buffer, "PNG")
    >>> request = GenerationRequest(
    ...     prompt="This image is a zoomed-in crop of one object, detected as: sky.",
    ...     images=(buffer.getvalue(),), template_id="branch_caption@v1")
    >>> answer = json.loads(asyncio.run(OfflineBackend().generate(request)))
    >>> answer["attributes"]["color"], answer["mentions"]
    ('blue', ['sky'])
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from grounding_rewards._optional import require
from grounding_rewards.synthesis.backends.base import BackendError, BaseBackend, GenerationRequest

__all__ = [
    "PALETTE",
    "OfflineBackend",
    "brightness_name",
    "color_fractions",
    "region_proposals",
]

PALETTE: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "white": (235, 235, 235),
    "gray": (128, 128, 128),
    "red": (200, 30, 30),
    "orange": (235, 135, 30),
    "yellow": (230, 215, 50),
    "green": (50, 150, 60),
    "blue": (40, 80, 200),
    "purple": (125, 55, 160),
    "brown": (125, 80, 40),
    "pink": (235, 150, 180),
}
"""Colour names the offline model knows, with a representative RGB each."""

_NAMES = list(PALETTE)
_RGB = np.array(list(PALETTE.values()), dtype=np.float64)  # [K, 3]
HALLUCINATIONS = ("mention", "attribute")


@lru_cache(maxsize=256)
def _thumbnail(data: bytes) -> tuple[np.ndarray, tuple[int, int]]:
    """The image as a <= 64 px float array, and its full ``(width, height)``.

    Cached: the offline model looks at the same crop several times (caption, verify).
    """
    image_module = require("PIL.Image", extra="synthesis")
    image = image_module.open(io.BytesIO(data))
    size = image.size
    image.draft("RGB", (64, 64))  # JPEG decodes at reduced scale directly
    small = image.convert("RGB")
    small.thumbnail((64, 64))
    pixels = np.asarray(small, dtype=np.float64)
    pixels.setflags(write=False)
    return pixels, (int(size[0]), int(size[1]))


def _decode(data: bytes) -> np.ndarray:
    return _thumbnail(data)[0]


def _quantize(pixels: np.ndarray) -> np.ndarray:
    """Index of the nearest palette colour for each pixel: [H, W, 3] -> [H, W]."""
    distances = ((pixels[..., None, :] - _RGB) ** 2).sum(axis=-1)  # [H, W, K]
    return np.asarray(distances.argmin(axis=-1))


def color_fractions(data: bytes) -> dict[str, float]:
    """Share of the image's pixels nearest to each palette colour, largest first.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> buffer = io.BytesIO(); Image.new("RGB", (8, 8), (250, 250, 250)).save(buffer, "PNG")
        >>> color_fractions(buffer.getvalue())
        {'white': 1.0}
    """
    indices = _quantize(_decode(data))
    counts = np.bincount(indices.ravel(), minlength=len(_NAMES)) / indices.size
    order = np.argsort(-counts, kind="stable")
    return {_NAMES[k]: round(float(counts[k]), 4) for k in order if counts[k] > 0}


def brightness_name(data: bytes) -> str:
    """``dark``, ``medium`` or ``bright`` from the mean luminance."""
    pixels = _decode(data)
    luminance = float((pixels @ np.array([0.299, 0.587, 0.114])).mean())
    return "dark" if luminance < 85 else "bright" if luminance > 170 else "medium"


def region_proposals(
    data: bytes, *, max_regions: int = 4
) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Connected regions of one colour as ``(label, pixel box)`` in the image sent.

    Regions covering 2 % to 50 % of the image are kept, largest first. The label
    says the shape: ``stripe`` (elongated), ``block`` (fills its box) or ``patch``.
    """
    ndimage = require("scipy.ndimage", extra="synthesis")
    pixels, (width, height) = _thumbnail(data)
    indices = _quantize(pixels)
    small_h, small_w = indices.shape
    total = indices.size
    found: list[tuple[int, str, tuple[float, float, float, float]]] = []
    for color in np.unique(indices):
        components, _ = ndimage.label(indices == color)
        for k, window in enumerate(ndimage.find_objects(components), start=1):
            if window is None:
                continue
            area = int((components[window] == k).sum())
            if not 0.02 * total <= area <= 0.5 * total:
                continue
            rows, cols = window
            box_w, box_h = cols.stop - cols.start, rows.stop - rows.start
            if min(box_w, box_h) < 2:
                continue
            aspect = max(box_w / box_h, box_h / box_w)
            fill = area / (box_w * box_h)
            label = "stripe" if aspect >= 3 else "block" if fill >= 0.7 else "patch"
            sx, sy = width / small_w, height / small_h
            box = (
                round(cols.start * sx, 1),
                round(rows.start * sy, 1),
                round(cols.stop * sx, 1),
                round(rows.stop * sy, 1),
            )
            found.append((area, label, box))
    found.sort(key=lambda item: (-item[0], item[2]))
    return [(label, box) for _, label, box in found[:max_regions]]


def _count_phrase(labels: list[str]) -> str:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    words = {1: "a", 2: "two", 3: "three", 4: "four"}
    parts = [
        f"{words.get(n, str(n))} {label if n == 1 else _plural(label)}"
        for label, n in counts.items()
    ]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


class OfflineBackend(BaseBackend):
    """A deterministic fake VLM and verifier (no model, no network).

    Args:
        hallucinate: Hallucinations to inject into branch captions: ``"mention"``
            (a sentence about a ``wall`` behind the object, which no detector found)
            and/or ``"attribute"`` (a colour the crop does not have).
        hallucinate_every: Inject into every k-th branch caption (chosen by a hash
            of the request, so the same crop always gets the same answer).
        fail: Template name -> :class:`BackendError` reason to raise for it
            (e.g. ``{"branch_caption": "http_500"}``).
        malformed: Template names whose answers are not JSON.
        delay_s: Seconds to wait before answering (to test concurrency).
        model: Model name recorded in provenance.
    """

    name = "offline"

    def __init__(
        self,
        *,
        hallucinate: Collection[str] = (),
        hallucinate_every: int = 1,
        fail: Mapping[str, str] | None = None,
        malformed: Collection[str] = (),
        delay_s: float = 0.0,
        model: str = "offline-v1",
    ) -> None:
        unknown = set(hallucinate) - set(HALLUCINATIONS)
        if unknown:
            from grounding_rewards.errors import ConfigError

            raise ConfigError(
                f"hallucinate: expected some of {', '.join(HALLUCINATIONS)}, got {sorted(unknown)}"
            )
        self.hallucinate = frozenset(hallucinate)
        self.hallucinate_every = max(1, int(hallucinate_every))
        self.fail = dict(fail or {})
        self.malformed = frozenset(malformed)
        self.delay_s = float(delay_s)
        self.model = model
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    async def generate(self, request: GenerationRequest) -> str:
        """Answer ``request`` deterministically from its prompt and images."""
        stage = request.stage or _guess_stage(request.prompt)
        self.calls[stage] = self.calls.get(stage, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if stage in self.fail:
                raise BackendError(f"offline backend told to fail {stage}", reason=self.fail[stage])
            if stage in self.malformed:
                return "Sure! Here is the JSON you asked for: {caption: oops"
            answer = self._answer(stage, request)
        finally:
            self.in_flight -= 1
        return json.dumps(answer)

    def _answer(self, stage: str, request: GenerationRequest) -> dict[str, Any]:
        if stage == "main_caption":
            return self._main_caption(request)
        if stage == "ground":
            return self._ground(request)
        if stage == "branch_caption":
            return self._branch_caption(request)
        if stage == "verify":
            return self._verify(request)
        raise BackendError(f"offline backend has no answer for {stage!r}", reason="bad_request")

    @staticmethod
    def _image(request: GenerationRequest) -> bytes:
        if not request.images:
            raise BackendError("expected an image in the request, got none", reason="bad_request")
        return request.images[0]

    def _main_caption(self, request: GenerationRequest) -> dict[str, Any]:
        data = self._image(request)
        colors = [c for c, share in color_fractions(data).items() if share >= 0.15][:2]
        regions = [label for label, _ in region_proposals(data)]
        caption = f"A {brightness_name(data)} image, mostly {' and '.join(colors) or 'mixed'}."
        caption += (
            f" It shows {_count_phrase(regions)}." if regions else " No distinct object stands out."
        )
        return {"caption": caption, "objects": sorted(set(regions))}

    def _ground(self, request: GenerationRequest) -> dict[str, Any]:
        data = self._image(request)
        match = re.search(r"objects in the image: (\[.*?\])\.", request.prompt)
        wanted = set(json.loads(match.group(1))) if match else set()
        width, height = _thumbnail(data)[1]
        scale_x = scale_y = 1.0
        if "0-1000" in request.prompt:
            scale_x, scale_y = 1000 / width, 1000 / height
        elif "0-1 " in request.prompt or "0-1." in request.prompt:
            scale_x, scale_y = 1 / width, 1 / height
        elif resized := re.search(r"resized to (\d+)x(\d+)", request.prompt):
            scale_x, scale_y = int(resized[1]) / width, int(resized[2]) / height
        objects = []
        for label, (x1, y1, x2, y2) in region_proposals(data):
            if label in wanted:
                box = [x1 * scale_x, y1 * scale_y, x2 * scale_x, y2 * scale_y]
                objects.append({"label": label, "box": [round(v, 3) for v in box]})
        return {"objects": objects}

    def _inject(self, request: GenerationRequest) -> bool:
        if not self.hallucinate:
            return False
        digest = hashlib.sha256(request.prompt.encode() + b"".join(request.images)).digest()
        return int.from_bytes(digest[:4], "big") % self.hallucinate_every == 0

    def _branch_caption(self, request: GenerationRequest) -> dict[str, Any]:
        data = self._image(request)
        match = re.search(r"detected as: (.+?)\.\n", request.prompt + "\n")
        label = match.group(1).strip() if match else "object"
        fractions = color_fractions(data)
        color = next(iter(fractions))
        brightness = brightness_name(data)
        mentions = [label]
        inject = self._inject(request)
        if inject and "attribute" in self.hallucinate:
            # The most "opposite" colour the crop does not show at all.
            color = next(
                c
                for c in ("green", "purple", "yellow", "pink", *_NAMES)
                if fractions.get(c, 0.0) < 0.01
            )
        sentences = [f"The {label} is mostly {color}.", f"It looks {brightness}."]
        if inject and "mention" in self.hallucinate:
            sentences.append(f"A wall is visible behind the {label}.")
            mentions.append("wall")
        return {
            "caption": " ".join(sentences),
            "attributes": {"color": color, "brightness": brightness},
            "mentions": mentions,
        }

    def _verify(self, request: GenerationRequest) -> dict[str, Any]:
        match = re.search(r"Statements \(JSON\):\n(.*?)\n\nAnswer with JSON", request.prompt, re.S)
        if not match:
            raise BackendError("verify prompt without statements", reason="bad_request")
        statements = json.loads(match.group(1))
        data = request.images[0] if request.images else None
        fractions = color_fractions(data) if data is not None else {}
        brightness = brightness_name(data) if data is not None else None
        dominant = next(iter(fractions), None)
        verdicts = []
        for statement in statements:
            verdicts.append(
                {"id": statement["id"], **self._judge(statement, fractions, dominant, brightness)}
            )
        return {"verdicts": verdicts}

    @staticmethod
    def _judge(
        statement: dict[str, Any],
        fractions: dict[str, float],
        dominant: str | None,
        brightness: str | None,
    ) -> dict[str, str]:
        flags = statement.get("flags") or []
        if flags:
            return {"verdict": "drop", "text": "", "note": f"not supported: {', '.join(flags)}"}
        attribute = statement.get("attribute")
        if dominant is None:
            return {"verdict": "keep", "text": "", "note": "no image; nothing contradicts it"}
        if (
            attribute
            and attribute[0] == "color"
            and attribute[1] != dominant
            and fractions.get(attribute[1], 0.0) < 0.1
        ):
            return {
                "verdict": "rewrite",
                "text": f"color: {dominant}",
                "note": f"the crop is mostly {dominant}, not {attribute[1]}",
            }
        if attribute and attribute[0] == "brightness" and attribute[1] != brightness:
            return {
                "verdict": "rewrite",
                "text": f"brightness: {brightness}",
                "note": f"the crop looks {brightness}, not {attribute[1]}",
            }
        text = statement.get("text", "")
        claimed = [c for c in _NAMES if re.search(rf"\b{c}\b", text)]
        absent = [c for c in claimed if c != dominant and fractions.get(c, 0.0) < 0.1]
        if absent and statement.get("kind") == "caption":
            fixed = text
            for color in absent:
                fixed = re.sub(rf"\b{color}\b", dominant, fixed)
            return {
                "verdict": "rewrite",
                "text": fixed,
                "note": f"{', '.join(absent)} not visible; mostly {dominant}",
            }
        return {"verdict": "keep", "text": "", "note": "consistent with the image"}


def _guess_stage(prompt: str) -> str:
    if "Statements (JSON):" in prompt:
        return "verify"
    if "zoomed-in crop" in prompt:
        return "branch_caption"
    if "Locate every visible instance" in prompt:
        return "ground"
    return "main_caption"
