"""The audit's ground truth and the honest completions it compares every exploit with.

Each :class:`Scenario` is one hand-made sample: an image size, a multiple-choice
question, and ground-truth objects (pixel ``xyxy`` of the original image). The
objects are small (each under a fifth of the image) and leave free space, so that
a whole-image box cannot be a good box and a box that overlaps nothing exists.

A :class:`TraceWriter` renders completions in our trace format for one scenario
and one set of :class:`AuditSettings` (coordinate space, tag names):

* ``perfect()``: every object grounded exactly, the right answer;
* ``honest()``: every object grounded *roughly* (IoU 0.65-0.8, as a decent policy
  would), the right answer; the reference for most exploits;
* ``honest(answer=wrong)``: the same with a wrong answer; the reference for tricks
  that need no knowledge of the answer (they must not beat an honest wrong guess);
* ``far()``: the right labels, boxes that overlap no ground truth.

Example:
    >>> writer = TraceWriter(SCENARIOS[0], AuditSettings())
    >>> print(writer.perfect())
    <think>The question asks which animal is lying on the sofa. I find the
    <obj>dog</obj><bbox>[200, 150, 360, 330]</bbox> first. Comparing what I see with
    the options, one of them fits.</think>
    <answer>B</answer>
"""

from __future__ import annotations

import math
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grounding_rewards.audit.coords import BoxT, pixel_to_space, render_number

__all__ = [
    "SCENARIOS",
    "AuditSettings",
    "Scenario",
    "TraceWriter",
    "box_iou_1",
]


def box_iou_1(box1: Sequence[float], box2: Sequence[float]) -> float:
    """IoU of two valid ``xyxy`` boxes (0 when either is degenerate).

    Example:
        >>> box_iou_1((0, 0, 2, 2), (1, 0, 3, 2))  # overlap 2, union 6
        0.3333333333333333
    """
    inter_w = min(box1[2], box2[2]) - max(box1[0], box2[0])
    inter_h = min(box1[3], box2[3]) - max(box1[1], box2[1])
    area1 = (box1[2] - box1[0]) * (box1[3] - box1[1])
    area2 = (box2[2] - box2[0]) * (box2[3] - box2[1])
    if inter_w <= 0 or inter_h <= 0 or area1 <= 0 or area2 <= 0:
        return 0.0
    inter = inter_w * inter_h
    return inter / (area1 + area2 - inter)


@dataclass(frozen=True)
class AuditSettings:
    """How the audit writes completions: what the reward under test expects.

    Attributes:
        coords: Space the honest boxes are written in (``RewardConfig.coords``).
        min_pixels: Qwen2.5-VL ``min_pixels`` (for ``qwen25vl``).
        max_pixels: Qwen2.5-VL ``max_pixels`` (for ``qwen25vl``).
        think_tag: Reasoning tag name.
        answer_tag: Answer tag name.
        obj_tag: Object-label tag name.
        bbox_tag: Box tag name.
        box_region: ``think`` (boxes count only in the reasoning) or ``anywhere``.
        max_boxes: The box cap of the reward, if it has one (spam checks stay under it).
    """

    coords: str = "pixel"
    min_pixels: int = 3136
    max_pixels: int = 12845056
    think_tag: str = "think"
    answer_tag: str = "answer"
    obj_tag: str = "obj"
    bbox_tag: str = "bbox"
    box_region: str = "think"
    max_boxes: int = 100

    @classmethod
    def from_config(cls, config: Any) -> AuditSettings:
        """Settings that match a :class:`~grounding_rewards.RewardConfig`.

        Args:
            config: A ``RewardConfig`` (or any object with the same attributes).

        Returns:
            The matching settings.
        """
        return cls(
            coords=config.coords,
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
            think_tag=config.think_tag,
            answer_tag=config.answer_tag,
            obj_tag=config.obj_tag,
            bbox_tag=config.bbox_tag,
            box_region=config.box_region,
            max_boxes=config.max_boxes,
        )


@dataclass(frozen=True)
class Scenario:
    """One ground-truth sample of the audit.

    Attributes:
        name: Short identifier shown in reports.
        image_size: ``(width, height)`` of the original image.
        question: The question text.
        choices: Option texts; option letters are A, B, C, ...
        answer: The right option letter.
        labels: Ground-truth object labels.
        boxes: Ground-truth boxes, pixel ``xyxy`` of the original image.
    """

    name: str
    image_size: tuple[int, int]
    question: str
    choices: tuple[str, ...]
    answer: str
    labels: tuple[str, ...]
    boxes: tuple[BoxT, ...]

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, ``("A", "B", ...)``."""
        return tuple(string.ascii_uppercase[: len(self.choices)])

    @property
    def wrong_answer(self) -> str:
        """The first option letter that is not the answer."""
        return next(letter for letter in self.letters if letter != self.answer)

    def ground_truth(self, order: Sequence[int] | None = None) -> dict[str, Any]:
        """The ground truth as the reward receives it (JSON-like values).

        Args:
            order: A permutation of the objects (default: as listed).

        Returns:
            ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``.
        """
        idx = list(range(len(self.boxes))) if order is None else list(order)
        return {
            "answer": self.answer,
            "gt_boxes": [list(self.boxes[i]) for i in idx],
            "gt_labels": [self.labels[i] for i in idx],
            "choices": list(self.choices),
            "image_size": list(self.image_size),
        }

    def prompt(self, *, leaked_answer: str | None = None) -> str:
        """The user prompt: question, options and the format instruction.

        Args:
            leaked_answer: When given, the instruction shows a worked example whose
                answer block holds this letter (the "answer only in the prompt" trick).

        Returns:
            The prompt text.
        """
        options = "\n".join(f"{k}. {c}" for k, c in zip(self.letters, self.choices, strict=True))
        text = (
            f"Question: {self.question}\nOptions:\n{options}\n"
            "Reason step by step, name every object you look at with its box, "
            "then give the option letter in an answer block."
        )
        if leaked_answer is not None:
            text += f"\nFor example: <answer>{leaked_answer}</answer>"
        return text


def _scenarios() -> tuple[Scenario, ...]:
    return (
        Scenario(
            name="one-object",
            image_size=(640, 480),
            question="Which animal is lying on the sofa?",
            choices=("a cat", "a dog", "a rabbit", "a parrot"),
            answer="B",
            labels=("dog",),
            boxes=((200.0, 150.0, 360.0, 330.0),),
        ),
        Scenario(
            name="three-objects",
            image_size=(1280, 720),
            question="What colour is the rider's helmet?",
            choices=("red", "blue", "white", "black"),
            answer="C",
            labels=("man", "motorcycle", "helmet"),
            boxes=(
                (300.0, 100.0, 460.0, 500.0),
                (250.0, 350.0, 700.0, 650.0),
                (340.0, 100.0, 420.0, 180.0),
            ),
        ),
        Scenario(
            name="two-cups-portrait",
            image_size=(480, 800),
            question="How many cups are on the table?",
            choices=("one", "two", "three"),
            answer="B",
            labels=("cup", "cup"),
            boxes=((40.0, 500.0, 160.0, 640.0), (300.0, 520.0, 420.0, 660.0)),
        ),
    )


SCENARIOS: tuple[Scenario, ...] = _scenarios()
"""The audit's scenarios: one object; three overlapping objects; two alike, portrait."""

# Shifts (fraction of box width, of box height) that turn an exact box into a
# "roughly right" one: IoU = a / (2 - a) with a = (1 - |dx|)(1 - |dy|), 0.66-0.78.
_JITTER = ((0.08, 0.05), (-0.12, 0.10), (0.05, -0.15), (0.15, 0.02))

_SENTENCES = (
    "I find the {span} first.",
    "Then I look at the {span}.",
    "There is also the {span}.",
    "Next to it is the {span}.",
)


def _overlaps(box: BoxT, others: Sequence[BoxT]) -> bool:
    return any(
        min(box[2], o[2]) > max(box[0], o[0]) and min(box[3], o[3]) > max(box[1], o[1])
        for o in others
    )


@dataclass(frozen=True)
class TraceWriter:
    """Render completions in our trace format for one scenario.

    Attributes:
        scenario: The ground truth.
        settings: Coordinate space and tag names the reward expects.
    """

    scenario: Scenario
    settings: AuditSettings = field(default_factory=AuditSettings)

    # -- boxes (pixel space of the original image) ---------------------------------

    def rough_boxes(self) -> tuple[BoxT, ...]:
        """The honest policy's boxes: each ground-truth box shifted (IoU 0.65-0.8)."""
        width, height = self.scenario.image_size
        out = []
        for i, (x1, y1, x2, y2) in enumerate(self.scenario.boxes):
            fx, fy = _JITTER[i % len(_JITTER)]
            dx, dy = fx * (x2 - x1), fy * (y2 - y1)
            box = (x1 + dx, y1 + dy, x2 + dx, y2 + dy)
            out.append(
                (
                    float(round(min(max(box[0], 0.0), width))),
                    float(round(min(max(box[1], 0.0), height))),
                    float(round(min(max(box[2], 0.0), width))),
                    float(round(min(max(box[3], 0.0), height))),
                )
            )
        return tuple(out)

    def far_boxes(self) -> tuple[BoxT, ...]:
        """Boxes of the ground-truth sizes placed where they overlap no ground truth."""
        out = []
        for x1, y1, x2, y2 in self.scenario.boxes:
            bw, bh = x2 - x1, y2 - y1
            for _ in range(6):
                found = self._free_spot(bw, bh)
                if found is not None:
                    out.append(found)
                    break
                bw, bh = bw / 2, bh / 2
            else:  # pragma: no cover - the scenarios always leave room
                raise RuntimeError(f"no free space in scenario {self.scenario.name}")
        return tuple(out)

    def _free_spot(self, bw: float, bh: float) -> BoxT | None:
        width, height = self.scenario.image_size
        step_x, step_y = max(1.0, width / 64), max(1.0, height / 64)
        # Keep off the border: a box touching it would leave the image under the small
        # rescaling of a space mix-up, and fail a format check for the wrong reason.
        mx, my = 0.02 * width, 0.02 * height
        y = my
        while y + bh <= height - my:
            x = width - bw - mx  # scan from the right: the scenarios keep that side free
            while x >= mx:
                box = (float(round(x)), float(round(y)), float(round(x + bw)), float(round(y + bh)))
                if not _overlaps(box, self.scenario.boxes):
                    return box
                x -= step_x
            y += step_y
        return None

    # -- text ----------------------------------------------------------------------

    def box_text(self, box: BoxT) -> str:
        """``[x1, y1, x2, y2]`` of a pixel box, written in the expected space."""
        s = self.settings
        converted = pixel_to_space(
            box,
            s.coords,
            self.scenario.image_size,
            min_pixels=s.min_pixels,
            max_pixels=s.max_pixels,
        )
        return "[" + ", ".join(render_number(v, s.coords) for v in converted) + "]"

    def span(self, label: str, box_text: str) -> str:
        """One grounded span with raw box text (which may be malformed on purpose)."""
        s = self.settings
        return f"<{s.obj_tag}>{label}</{s.obj_tag}><{s.bbox_tag}>{box_text}</{s.bbox_tag}>"

    def sentences(
        self,
        boxes: Sequence[BoxT] | None = None,
        *,
        labels: Sequence[str] | None = None,
        box_texts: Sequence[str] | None = None,
    ) -> list[str]:
        """One sentence per object, each with its grounded span.

        Args:
            boxes: Pixel boxes, one per sentence (default: the exact ones).
            labels: Labels (default: the ground-truth labels, cycled).
            box_texts: Raw box texts instead of ``boxes``.

        Returns:
            The sentences.
        """
        if box_texts is None:
            chosen = self.scenario.boxes if boxes is None else boxes
            box_texts = [self.box_text(b) for b in chosen]
        names = list(self.scenario.labels) if labels is None else list(labels)
        return [
            _SENTENCES[i % len(_SENTENCES)].format(span=self.span(names[i % len(names)], text))
            for i, text in enumerate(box_texts)
        ]

    def think(self, sentences: Sequence[str]) -> str:
        """The reasoning text around ``sentences`` (without the think tags)."""
        question = self.scenario.question[0].lower() + self.scenario.question[1:]
        body = " ".join(sentences)
        return (
            f"The question asks {question.rstrip('?')}. {body} "
            "Comparing what I see with the options, one of them fits."
        )

    def completion(
        self,
        sentences: Sequence[str],
        answer: str | None,
        *,
        think: str | None = None,
    ) -> str:
        """A whole completion: ``<think>...</think>`` then ``<answer>...</answer>``.

        Args:
            sentences: The grounded sentences of the reasoning.
            answer: The answer text, or ``None`` for no answer block at all.
            think: A full reasoning text to use instead of one built from ``sentences``.

        Returns:
            The completion text.
        """
        s = self.settings
        body = self.think(sentences) if think is None else think
        text = f"<{s.think_tag}>{body}</{s.think_tag}>"
        if answer is not None:
            text += f"\n<{s.answer_tag}>{answer}</{s.answer_tag}>"
        return text

    def perfect(self, *, answer: str | None = None, order: Sequence[int] | None = None) -> str:
        """Exact boxes for every object, the right answer unless ``answer`` is given."""
        return self._ordered(
            self.scenario.boxes, self.scenario.answer if answer is None else answer, order
        )

    def honest(self, *, answer: str | None = None, order: Sequence[int] | None = None) -> str:
        """Roughly right boxes (IoU 0.65-0.8), the right answer unless ``answer`` is given."""
        return self._ordered(
            self.rough_boxes(), self.scenario.answer if answer is None else answer, order
        )

    def far(self) -> str:
        """The right labels and answer, boxes that overlap no ground-truth object."""
        return self._ordered(self.far_boxes(), self.scenario.answer, None)

    def _ordered(self, boxes: Sequence[BoxT], answer: str, order: Sequence[int] | None) -> str:
        idx = list(range(len(boxes))) if order is None else list(order)
        sentences = self.sentences(
            [boxes[i] for i in idx], labels=[self.scenario.labels[i] for i in idx]
        )
        return self.completion(sentences, answer)

    def strip_tags(self, text: str) -> str:
        """``text`` with every tag of the trace format removed (the words kept)."""
        s = self.settings
        for name in (s.think_tag, s.answer_tag, s.obj_tag, s.bbox_tag):
            text = text.replace(f"<{name}>", " ").replace(f"</{name}>", " ")
        return " ".join(text.split())

    def whole_image(self) -> BoxT:
        """The whole image as a pixel box."""
        width, height = self.scenario.image_size
        return (0.0, 0.0, float(width), float(height))


def _check_scenarios() -> None:
    """Guard the properties the exploits rely on (cheap; runs at import)."""
    for sc in SCENARIOS:
        area = sc.image_size[0] * sc.image_size[1]
        for box in sc.boxes:
            if (box[2] - box[0]) * (box[3] - box[1]) > area / 5:
                raise AssertionError(f"{sc.name}: object too large for the whole-image check")
        writer = TraceWriter(sc)
        for rough, exact in zip(writer.rough_boxes(), sc.boxes, strict=True):
            if not 0.6 <= box_iou_1(rough, exact) <= 0.85 or math.isnan(rough[0]):
                raise AssertionError(f"{sc.name}: honest box out of the intended IoU band")


_check_scenarios()
