"""The audit's ground truth and the honest completions it compares every exploit with.

Each :class:`Scenario` is one hand-made sample of a *task*: an image size,
ground-truth objects (pixel ``xyxy`` of the original image) and, for grounded
question answering, a multiple-choice question. The objects are small (each under a
fifth of the image) and leave free space, so that a whole-image box cannot be a good
box and a box that overlaps nothing exists.

=================  ===========================================================
task               what the model is asked and writes
=================  ===========================================================
``grounded-qa``    a multiple-choice question; grounded reasoning, then a letter
``rec``            one referring expression; one box (usually in the answer)
``detection``      every object of a few labels; labelled boxes, no question
``points``         point at every object; one point per object
=================  ===========================================================

A :class:`TraceWriter` renders completions for one scenario and one set of
:class:`AuditSettings` (dialect, coordinate space, tag names, where boxes go):

* ``perfect()``: every object grounded exactly, the right answer;
* ``honest()``: every object grounded *roughly* (IoU 0.65-0.8, as a decent policy
  would; for points: inside the box, off its centre), the right answer; the
  reference for most exploits;
* ``honest(answer=wrong)``: the same with a wrong answer; the reference for tricks
  that need no knowledge of the answer (they must not beat an honest wrong guess);
* ``far()``: the right labels, boxes (points) that overlap no ground truth.

Boxes are written in any registered dialect (:mod:`grounding_rewards.dialects`): the
audit asks the dialect's renderer to write placeholder numbers and puts its own
number texts in their place, so that it can also write malformed numbers (``NaN``,
``1e309``) the way a model of that dialect would.

Example:
    >>> writer = TraceWriter(SCENARIOS[0], AuditSettings())
    >>> print(writer.perfect())
    <think>The question asks which animal is lying on the sofa. I find the
    <obj>dog</obj><bbox>[200, 150, 360, 330]</bbox> first. Comparing what I see with
    the options, one of them fits.</think>
    <answer>B</answer>
    >>> rec = TraceWriter(REC_SCENARIOS[0], AuditSettings(dialect="json", box_region="answer"))
    >>> print(rec.perfect())
    <think>I look for the dog lying on the sofa in the image.</think>
    <answer>```json
    [{"bbox_2d": [200, 150, 360, 330], "label": "dog"}]
    ```</answer>
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grounding_rewards.audit.coords import BoxT, pixel_to_space, render_number
from grounding_rewards.errors import InputError

__all__ = [
    "BOX_REGIONS",
    "DETECTION_SCENARIOS",
    "POINT_SCENARIOS",
    "REC_SCENARIOS",
    "SCENARIOS",
    "TASKS",
    "AuditSettings",
    "Mark",
    "Scenario",
    "TraceWriter",
    "box_iou_1",
    "scenarios_for",
    "select_scenarios",
]

TASKS: tuple[str, ...] = ("grounded-qa", "rec", "detection", "points")
"""The tasks the audit writes completions for (``--task``)."""

BOX_REGIONS: tuple[str, ...] = ("think", "answer", "anywhere")
"""Where the audit writes boxes (``--box-region``); ``anywhere`` writes them in the reasoning."""

Mark = tuple[str, tuple[str, ...]]
"""One grounded object as written: its label and its number texts (4 for a box, 2 for a
point), which may be malformed on purpose (``"nan"``, ``"1e309"``)."""


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
        obj_tag: Object-label tag name (``tags`` dialect).
        bbox_tag: Box tag name (``tags`` dialect).
        box_region: Where boxes are written: ``think`` (in the reasoning; boxes
            elsewhere are an exploit), ``answer`` (in the answer block) or
            ``anywhere`` (in the reasoning; boxes elsewhere are not an exploit).
        max_boxes: The box cap of the reward, if it has one (spam checks stay under it).
        dialect: How boxes and points are written (a registered dialect name).
        point_tag: Point tag name (``tags`` dialect).
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
    dialect: str = "tags"
    point_tag: str = "point"

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
            dialect=getattr(config, "dialect", "tags"),
            point_tag=getattr(config, "point_tag", "point"),
        )


@dataclass(frozen=True)
class Scenario:
    """One ground-truth sample of the audit.

    Attributes:
        name: Short identifier shown in reports.
        image_size: ``(width, height)`` of the original image.
        question: The question (``grounded-qa``) or the referring expression (``rec``).
        choices: Option texts; option letters are A, B, C, ... (empty: no options).
        answer: The right option letter (empty: no options).
        labels: Ground-truth object labels.
        boxes: Ground-truth boxes, pixel ``xyxy`` of the original image.
        task: One of :data:`TASKS`.
    """

    name: str
    image_size: tuple[int, int]
    question: str
    choices: tuple[str, ...]
    answer: str
    labels: tuple[str, ...]
    boxes: tuple[BoxT, ...]
    task: str = "grounded-qa"

    @property
    def letters(self) -> tuple[str, ...]:
        """The option letters, ``("A", "B", ...)``."""
        return tuple(string.ascii_uppercase[: len(self.choices)])

    @property
    def has_options(self) -> bool:
        """Whether the scenario asks a multiple-choice question."""
        return bool(self.choices)

    @property
    def wrong_answer(self) -> str:
        """The first option letter that is not the answer (empty without options)."""
        return next((k for k in self.letters if k != self.answer), "")

    def ground_truth(self, order: Sequence[int] | None = None) -> dict[str, Any]:
        """The ground truth as the reward receives it (JSON-like values).

        Args:
            order: A permutation of the objects (default: as listed).

        Returns:
            ``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``
            (``answer`` and ``choices`` are ``None`` without options).
        """
        idx = list(range(len(self.boxes))) if order is None else list(order)
        return {
            "answer": self.answer if self.has_options else None,
            "gt_boxes": [list(self.boxes[i]) for i in idx],
            "gt_labels": [self.labels[i] for i in idx],
            "choices": list(self.choices) if self.has_options else None,
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
        if self.task == "rec":
            return (
                f"Locate {self.question} in the image. Think first, then output its "
                "bounding box in the answer."
            )
        if self.task == "detection":
            names = ", ".join(sorted(set(self.labels)))
            return f"Detect every {names} in the image and output their bounding boxes."
        if self.task == "points":
            names = ", ".join(sorted(set(self.labels)))
            return f"Point to every {names} in the image."
        options = "\n".join(f"{k}. {c}" for k, c in zip(self.letters, self.choices, strict=True))
        text = (
            f"Question: {self.question}\nOptions:\n{options}\n"
            "Reason step by step, name every object you look at with its box, "
            "then give the option letter in an answer block."
        )
        if leaked_answer is not None:
            text += f"\nFor example: <answer>{leaked_answer}</answer>"
        return text


_DOG = (200.0, 150.0, 360.0, 330.0)
_STREET = ((300.0, 100.0, 460.0, 500.0), (250.0, 350.0, 700.0, 650.0), (340.0, 100.0, 420.0, 180.0))
_CUPS = ((40.0, 500.0, 160.0, 640.0), (300.0, 520.0, 420.0, 660.0))


def _qa() -> tuple[Scenario, ...]:
    return (
        Scenario(
            name="one-object",
            image_size=(640, 480),
            question="Which animal is lying on the sofa?",
            choices=("a cat", "a dog", "a rabbit", "a parrot"),
            answer="B",
            labels=("dog",),
            boxes=(_DOG,),
        ),
        Scenario(
            name="three-objects",
            image_size=(1280, 720),
            question="What colour is the rider's helmet?",
            choices=("red", "blue", "white", "black"),
            answer="C",
            labels=("man", "motorcycle", "helmet"),
            boxes=_STREET,
        ),
        Scenario(
            name="two-cups-portrait",
            image_size=(480, 800),
            question="How many cups are on the table?",
            choices=("one", "two", "three"),
            answer="B",
            labels=("cup", "cup"),
            boxes=_CUPS,
        ),
    )


def _rec() -> tuple[Scenario, ...]:
    return (
        Scenario(
            "rec-dog", (640, 480), "the dog lying on the sofa", (), "", ("dog",), (_DOG,), "rec"
        ),
        Scenario(
            "rec-helmet",
            (1280, 720),
            "the rider's helmet",
            (),
            "",
            ("helmet",),
            (_STREET[2],),
            "rec",
        ),
        Scenario(
            "rec-cup-portrait",
            (480, 800),
            "the cup on the left",
            (),
            "",
            ("cup",),
            (_CUPS[0],),
            "rec",
        ),
    )


def _detection(task: str, prefix: str) -> tuple[Scenario, ...]:
    return (
        Scenario(f"{prefix}-dog", (640, 480), "", (), "", ("dog",), (_DOG,), task),
        Scenario(
            f"{prefix}-street",
            (1280, 720),
            "",
            (),
            "",
            ("man", "motorcycle", "helmet"),
            _STREET,
            task,
        ),
        Scenario(f"{prefix}-cups-portrait", (480, 800), "", (), "", ("cup", "cup"), _CUPS, task),
    )


SCENARIOS: tuple[Scenario, ...] = _qa()
"""Grounded QA: one object; three overlapping objects; two alike, portrait."""

REC_SCENARIOS: tuple[Scenario, ...] = _rec()
"""Referring expressions: one target each (landscape, small, portrait)."""

DETECTION_SCENARIOS: tuple[Scenario, ...] = _detection("detection", "det")
"""Detection: one object; three overlapping objects; two alike, portrait."""

POINT_SCENARIOS: tuple[Scenario, ...] = _detection("points", "pts")
"""Pointing: the detection scenarios, answered with one point per object."""

_BY_TASK = {
    "grounded-qa": SCENARIOS,
    "rec": REC_SCENARIOS,
    "detection": DETECTION_SCENARIOS,
    "points": POINT_SCENARIOS,
}


def scenarios_for(task: str) -> tuple[Scenario, ...]:
    """The scenarios of a task.

    Raises:
        InputError: For an unknown task.

    Example:
        >>> [s.name for s in scenarios_for("rec")]
        ['rec-dog', 'rec-helmet', 'rec-cup-portrait']
    """
    if task not in _BY_TASK:
        raise InputError(f"expected a task in {TASKS}, got {task!r}")
    return _BY_TASK[task]


def select_scenarios(task: str, names: Sequence[str] | None = None) -> tuple[Scenario, ...]:
    """The scenarios of ``task``, or those of them named in ``names`` (in that order).

    Raises:
        InputError: For an unknown task or name.

    Example:
        >>> [s.name for s in select_scenarios("grounded-qa", ["one-object"])]
        ['one-object']
    """
    pool = scenarios_for(task)
    if not names:
        return pool
    by_name = {s.name: s for s in pool}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise InputError(
            f"expected scenario names of task {task!r} among {sorted(by_name)}, got {unknown}"
        )
    return tuple(by_name[n] for n in names)


# Shifts (fraction of box width, of box height) that turn an exact box into a
# "roughly right" one: IoU = a / (2 - a) with a = (1 - |dx|)(1 - |dy|), 0.66-0.78.
_JITTER = ((0.08, 0.05), (-0.12, 0.10), (0.05, -0.15), (0.15, 0.02))

_SENTENCES = (
    "I find the {span} first.",
    "Then I look at the {span}.",
    "There is also the {span}.",
    "Next to it is the {span}.",
)

# Placeholder numbers for a dialect's renderer: seven digits, so none is a prefix of
# another, and far from any coordinate the audit writes.
_SENTINEL_BASE = 7_900_000
_SENTINEL = re.compile(r"79\d{5}")


def _overlaps(box: BoxT, others: Sequence[BoxT]) -> bool:
    return any(
        min(box[2], o[2]) > max(box[0], o[0]) and min(box[3], o[3]) > max(box[1], o[1])
        for o in others
    )


def _centre(box: Sequence[float]) -> tuple[float, float]:
    return ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)


@dataclass(frozen=True)
class TraceWriter:
    """Render completions for one scenario, the way the reward under test expects.

    Attributes:
        scenario: The ground truth.
        settings: Dialect, coordinate space, tag names and box region.
    """

    scenario: Scenario
    settings: AuditSettings = field(default_factory=AuditSettings)

    @property
    def points(self) -> bool:
        """Whether the task answers with points instead of boxes."""
        return self.scenario.task == "points"

    # -- geometry (pixel space of the original image) --------------------------------

    def exact(self) -> tuple[tuple[float, ...], ...]:
        """The exact shapes: the ground-truth boxes, or their centres for points."""
        if self.points:
            return tuple(_centre(b) for b in self.scenario.boxes)
        return self.scenario.boxes

    def rough(self) -> tuple[tuple[float, ...], ...]:
        """The honest shapes: :meth:`rough_boxes`, or points inside each box off its centre."""
        if not self.points:
            return self.rough_boxes()
        out = []
        for i, (x1, y1, x2, y2) in enumerate(self.scenario.boxes):
            fx, fy = _JITTER[i % len(_JITTER)]
            cx, cy = _centre((x1, y1, x2, y2))
            out.append(
                (float(round(cx + 2 * fx * (x2 - x1))), float(round(cy + 2 * fy * (y2 - y1))))
            )
        return tuple(out)

    def far(self) -> str:
        """The right labels and answer, boxes (points) that overlap no ground-truth object."""
        return self._ordered(self.far_shapes(), self.default_answer(), None)

    def far_shapes(self) -> tuple[tuple[float, ...], ...]:
        """:meth:`far_boxes`, or their centres for points."""
        boxes = self.far_boxes()
        return tuple(_centre(b) for b in boxes) if self.points else boxes

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

    def whole_image(self) -> BoxT:
        """The whole image as a pixel box."""
        width, height = self.scenario.image_size
        return (0.0, 0.0, float(width), float(height))

    # -- numbers and marks -----------------------------------------------------------

    def to_space(self, shape: Sequence[float]) -> tuple[float, ...]:
        """A pixel box or point converted to the expected space (not rounded)."""
        s = self.settings
        box = tuple(shape) if len(shape) == 4 else (shape[0], shape[1], shape[0], shape[1])
        converted = pixel_to_space(
            box,
            s.coords,
            self.scenario.image_size,
            min_pixels=s.min_pixels,
            max_pixels=s.max_pixels,
        )
        return converted if len(shape) == 4 else converted[:2]

    def box_text(self, shape: Sequence[float]) -> tuple[str, ...]:
        """The number texts of a pixel box (or point), written in the expected space."""
        return tuple(render_number(v, self.settings.coords) for v in self.to_space(shape))

    def marks(
        self,
        shapes: Sequence[Sequence[float]] | None = None,
        *,
        labels: Sequence[str] | None = None,
        box_texts: Sequence[Sequence[str]] | None = None,
    ) -> list[Mark]:
        """One mark per object.

        Args:
            shapes: Pixel boxes or points (default: the exact ones).
            labels: Labels (default: the ground-truth labels, cycled).
            box_texts: Raw number texts instead of ``shapes`` (may be malformed).

        Returns:
            The marks.
        """
        if box_texts is None:
            chosen = self.exact() if shapes is None else shapes
            box_texts = [self.box_text(b) for b in chosen]
        names = list(self.scenario.labels) if labels is None else list(labels)
        return [(names[i % len(names)], tuple(t)) for i, t in enumerate(box_texts)]

    def span(self, label: str, numbers: Sequence[str]) -> str:
        """One mark written in the ``tags`` dialect, with raw number texts."""
        s = self.settings
        tag = s.point_tag if len(numbers) == 2 else s.bbox_tag
        body = "[" + ", ".join(numbers) + "]"
        return f"<{s.obj_tag}>{label}</{s.obj_tag}><{tag}>{body}</{tag}>"

    def render(self, marks: Sequence[Mark]) -> str:
        """The marks written in the expected dialect (empty for no marks).

        ``tags`` marks are woven into sentences; other dialects write all marks in
        one piece, with the dialect's own renderer.
        """
        if not marks:
            return ""
        if self.settings.dialect == "tags":
            return " ".join(
                _SENTENCES[i % len(_SENTENCES)].format(span=self.span(label, numbers))
                for i, (label, numbers) in enumerate(marks)
            )
        from grounding_rewards.config import RewardConfig
        from grounding_rewards.dialects import get_dialect

        s = self.settings
        config = RewardConfig(
            obj_tag=s.obj_tag,
            bbox_tag=s.bbox_tag,
            point_tag=s.point_tag,
            think_tag=s.think_tag,
            answer_tag=s.answer_tag,
        )
        texts: list[str] = []
        items = []
        for label, numbers in marks:
            coords = []
            for text in numbers:
                coords.append(float(_SENTINEL_BASE + len(texts)))
                texts.append(text)
            items.append((label, tuple(coords)))
        if len(texts) >= 100_000:
            raise InputError(f"expected fewer than 100000 numbers, got {len(texts)}")
        rendered = get_dialect(s.dialect).render(items, config)
        return _SENTINEL.sub(lambda m: texts[int(m.group()) - _SENTINEL_BASE], rendered)

    def prose(self, marks: Sequence[Mark]) -> str:
        """The marks as plain words (``dog 200 150 360 330``): no grounding syntax."""
        return "; ".join(f"{label} {' '.join(numbers)}" for label, numbers in marks)

    # -- text ------------------------------------------------------------------------

    def think(self, marks: Sequence[Mark]) -> str:
        """The reasoning text around the rendered ``marks`` (without the think tags)."""
        sc = self.scenario
        body = self.render(marks)
        if sc.task == "grounded-qa":
            question = sc.question[0].lower() + sc.question[1:]
            head = f"The question asks {question.rstrip('?')}."
            tail = "Comparing what I see with the options, one of them fits."
        elif sc.task == "rec":
            head, tail = f"I look for {sc.question} in the image.", ""
        else:
            names = ", ".join(sorted(set(sc.labels)))
            head, tail = f"I look for every {names} in the image.", ""
        if body and self.settings.dialect != "tags":
            body = f"I locate them: {body}"
        return " ".join(part for part in (head, body, tail) if part)

    def summary(self) -> str:
        """The answer of a task without options when the boxes are elsewhere: the labels."""
        return ", ".join(self.scenario.labels)

    def default_answer(self) -> str:
        """The right answer text: the option letter, or :meth:`summary`."""
        return self.scenario.answer if self.scenario.has_options else self.summary()

    def blocks(self, marks: Sequence[Mark], answer: str | None) -> tuple[str, str | None]:
        """``(reasoning, answer)`` block contents for ``marks`` and an answer text.

        With ``box_region="answer"`` the marks go into the answer block (after the
        letter in grounded QA; alone otherwise) and the reasoning grounds nothing.
        """
        if self.settings.box_region != "answer":
            return self.think(marks), answer
        rendered = self.render(marks)
        if answer is None:
            return self.think([]), None
        if self.scenario.has_options:
            return self.think([]), f"{answer}\n{rendered}" if rendered else answer
        return self.think([]), rendered

    def completion(
        self,
        marks: Sequence[Mark],
        answer: str | None,
        *,
        think: str | None = None,
    ) -> str:
        """A whole completion: the reasoning block, then the answer block.

        Args:
            marks: The grounded objects.
            answer: The answer text (``None``: no answer block at all).
            think: A full reasoning text to use instead of one built from ``marks``.

        Returns:
            The completion text.
        """
        s = self.settings
        body, ans = self.blocks(marks, answer)
        if think is not None:
            body = think
        text = f"<{s.think_tag}>{body}</{s.think_tag}>"
        if ans is not None:
            text += f"\n<{s.answer_tag}>{ans}</{s.answer_tag}>"
        return text

    def perfect(self, *, answer: str | None = None, order: Sequence[int] | None = None) -> str:
        """Exact boxes for every object, the right answer unless ``answer`` is given."""
        return self._ordered(
            self.exact(), self.default_answer() if answer is None else answer, order
        )

    def honest(self, *, answer: str | None = None, order: Sequence[int] | None = None) -> str:
        """Roughly right boxes (IoU 0.65-0.8), the right answer unless ``answer`` is given."""
        return self._ordered(
            self.rough(), self.default_answer() if answer is None else answer, order
        )

    def _ordered(
        self, shapes: Sequence[Sequence[float]], answer: str, order: Sequence[int] | None
    ) -> str:
        idx = list(range(len(shapes))) if order is None else list(order)
        marks = self.marks([shapes[i] for i in idx], labels=[self.scenario.labels[i] for i in idx])
        return self.completion(marks, answer)

    def untagged(self) -> str:
        """The perfect completion's words without any syntax: no blocks, marks as prose."""
        think = self.think([])
        marks = self.prose(self.marks())
        return " ".join(part for part in (think, marks, self.default_answer()) if part)

    def strip_tags(self, text: str) -> str:
        """``text`` with every tag of the ``tags`` trace format removed (the words kept)."""
        s = self.settings
        for name in (s.think_tag, s.answer_tag, s.obj_tag, s.bbox_tag, s.point_tag):
            text = text.replace(f"<{name}>", " ").replace(f"</{name}>", " ")
        return " ".join(text.split())


def _check_scenarios() -> None:
    """Guard the properties the exploits rely on (cheap; runs at import)."""
    for sc in (*SCENARIOS, *REC_SCENARIOS, *DETECTION_SCENARIOS):
        area = sc.image_size[0] * sc.image_size[1]
        for box in sc.boxes:
            if (box[2] - box[0]) * (box[3] - box[1]) > area / 5:
                raise AssertionError(f"{sc.name}: object too large for the whole-image check")
        writer = TraceWriter(sc)
        for rough, exact in zip(writer.rough_boxes(), sc.boxes, strict=True):
            if not 0.6 <= box_iou_1(rough, exact) <= 0.85 or math.isnan(rough[0]):
                raise AssertionError(f"{sc.name}: honest box out of the intended IoU band")
    for sc in POINT_SCENARIOS:
        for (x, y), box in zip(TraceWriter(sc).rough(), sc.boxes, strict=True):
            if not (box[0] < x < box[2] and box[1] < y < box[3]):
                raise AssertionError(f"{sc.name}: honest point outside its box")


_check_scenarios()
