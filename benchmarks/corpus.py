"""A seeded, realistic corpus of grounded completions for the reward benchmarks.

1-6 ground-truth objects per image, 0-8 grounded spans per completion (jittered
ground truth, spare boxes, occasional plural boxes), 0.4-1.5 KB of reasoning, and
about 10% malformed completions (unclosed tags, garbled boxes, missing answers).

Each sample is written twice with the same boxes: in the ``tags`` dialect
(``completion``) and in the ``json`` dialect (``json_completion``: Qwen2.5-VL style
``{"bbox_2d": [...], "label": ...}`` objects in the reasoning).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

LABELS = [
    "man",
    "woman",
    "dog",
    "cat",
    "car",
    "helmet",
    "tree",
    "cup",
    "bicycle",
    "sign",
    "window",
    "bag",
    "horse",
    "bench",
    "umbrella",
    "clock",
]
_TEXT = (
    "the a of and to in is on with that it as at by this from be are was which or an "
    "its left right above below near behind front color shape small large red white blue "
    "looks appears seems visible partly object region image corner edge"
)
WORDS = _TEXT.split()


@dataclass(frozen=True)
class Sample:
    completion: str
    answer: str
    gt_boxes: list[list[float]]
    gt_labels: list[str]
    image_size: tuple[int, int]
    choices: list[str]
    json_completion: str = ""


def _filler(rng: random.Random, n_chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < n_chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def _random_box(rng: random.Random, width: int, height: int) -> list[float]:
    w = rng.uniform(0.05, 0.5) * width
    h = rng.uniform(0.05, 0.5) * height
    x = rng.uniform(0, width - w)
    y = rng.uniform(0, height - h)
    return [round(x), round(y), round(x + w), round(y + h)]


def _jitter(rng: random.Random, box: list[float], amount: float) -> list[float]:
    w, h = box[2] - box[0], box[3] - box[1]
    out = [
        box[0] + rng.gauss(0, amount * w),
        box[1] + rng.gauss(0, amount * h),
        box[2] + rng.gauss(0, amount * w),
        box[3] + rng.gauss(0, amount * h),
    ]
    out = [round(v) for v in out]
    if out[2] <= out[0]:
        out[2] = out[0] + 1
    if out[3] <= out[1]:
        out[3] = out[1] + 1
    return out


def _span(label: str, boxes: list[list[float]]) -> str:
    if len(boxes) == 1:
        body = "[" + ", ".join(str(v) for v in boxes[0]) + "]"
    else:
        body = "[" + ", ".join("[" + ", ".join(str(v) for v in b) + "]" for b in boxes) + "]"
    return f"<obj>{label}</obj><bbox>{body}</bbox>"


def _json_span(label: str, boxes: list[list[float]]) -> str:
    body = _span(label, boxes).split("<bbox>")[1].removesuffix("</bbox>")
    return f'{{"bbox_2d": {body}, "label": "{label}"}}'


def _malform(rng: random.Random, text: str) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        return text.replace("</think>", "", 1)
    if kind == 1:
        return text.replace("]</bbox>", "</bbox>", 1).replace("<bbox>[", "<bbox>[x=", 1)
    if kind == 2:
        return text.split("<answer>")[0]
    if kind == 3:
        return text.replace("<obj>", "<OBJ>", 1)
    return "Sure! " + text + " Hope this helps."


def make_corpus(n: int = 10_000, seed: int = 0) -> list[Sample]:
    """Build ``n`` samples deterministically from ``seed``."""
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        width, height = rng.choice([(640, 480), (1024, 768), (1280, 720), (1920, 1080), (800, 800)])
        m = rng.randint(1, 6)
        gt = [_random_box(rng, width, height) for _ in range(m)]
        labels = [rng.choice(LABELS) for _ in range(m)]
        n_spans = rng.randint(0, 8)
        target_chars = rng.randint(400, 1500)
        pieces = []
        for k in range(n_spans):
            if k < m and rng.random() < 0.8:
                boxes = [_jitter(rng, gt[k], rng.uniform(0.0, 0.15))]
                label = labels[k]
            else:
                boxes = [_random_box(rng, width, height)]
                label = rng.choice(LABELS)
            if rng.random() < 0.05:
                boxes.append(_random_box(rng, width, height))
            pieces.append((label, boxes))
        chunk = max(target_chars // (n_spans + 1), 20)
        fillers = [_filler(rng, chunk) for _ in range(len(pieces) + 1)]
        answer = rng.choice("ABCD")
        said = answer if rng.random() < 0.7 else rng.choice("ABCD")
        malform = rng.random() < 0.1
        malform_seed = rng.random()
        texts = []
        for write in (_span, _json_span):
            body = fillers[0]
            for piece, filler in zip(pieces, fillers[1:], strict=True):
                body += " " + write(*piece) + " " + filler
            text = f"<think>{body}</think>\n<answer>{said}</answer>"
            if malform:
                text = _malform(random.Random(malform_seed), text)
            texts.append(text)
        samples.append(
            Sample(
                texts[0],
                answer,
                gt,
                labels,
                (width, height),
                ["red", "white", "blue", "black"],
                texts[1],
            )
        )
    return samples
