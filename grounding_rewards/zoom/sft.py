r"""Zoom-in SFT trajectories from grounded QA: question -> zoom on the evidence -> view -> answer.

Tool-using RL needs a cold start: a policy that already calls the zoom tool in the right
syntax. Synthesis records know each object's box and the crop the pipeline zoomed into,
so every grounded question becomes a multi-turn trajectory:

1. **user**: ``<image>``, the question, its options and an instruction naming the tool;
2. per evidence box, **assistant**: a zoom call on the crop around it (DeepEyes
   ``<tool_call>`` JSON by default, Mini-o3 ``<grounding>``, or function-calling
   ``tool_calls``), in the target model family's coordinate space; then **tool**:
   ``<image>``, the zoomed view that :class:`~grounding_rewards.zoom.tool.ZoomSession`
   returns for that call, and its one-line description;
3. **assistant**: the grounded answer (the record's rationale with its boxes written in
   the model's space, or the evidence spans), ``<answer>X</answer>``.

The crop is the synthesis pipeline's ``crop_box`` (box plus margin) when the record has
one and it is tight, else the evidence box plus ``margin`` (0.15 of its sides, the
pipeline's default) clamped to the image; its coordinates are rounded *outward*, so the
region the tool shows always contains the evidence. Each trajectory is scored with
:func:`~grounding_rewards.zoom.score_zoom` before it is written: only trajectories with
R_zoom = 1 are exported, the others are reported and skipped.

Rows are ms-swift / LLaMA-Factory style: ``messages`` with ``<image>`` placeholders,
``images`` (``data:`` URIs, the original first, then each view in order), ``tools`` (the
tool's JSON schema, for the syntaxes that name it), and the ground-truth columns
(``answer``, ``choices``, ``gt_boxes``, ``gt_labels``, ``image_size``) plus ``coords``
and ``zoom_syntax``, so every row can be scored with :func:`zoom_reward`.

Example:
    >>> from PIL import Image
    >>> from grounding_rewards import RewardConfig
    >>> from grounding_rewards.export_schema import GroundedExample
    >>> ex = GroundedExample("e", "a.png", "What is it?", ("cat", "dog"), "A",
    ...                      boxes=((100, 100, 200, 150),), labels=("cat",))
    >>> t = build_trajectory(ex, Image.new("RGB", (640, 480)),
    ...                      config=RewardConfig(coords="norm1000"))
    >>> print(t.messages[1]["content"][53:])  # 0-1000 of the image; crop = box + 15 %
    <tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [132, 191, 336, 330], ...
    >>> t.score.value, [view.size for view in t.views]
    (1.0, [(644, 336)])
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grounding_rewards._optional import require
from grounding_rewards.boxes import pixel_scale
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import GroundTruthError, InputError
from grounding_rewards.export_schema import GroundedExample
from grounding_rewards.ground_truth import parse_ground_truth
from grounding_rewards.parsing import format_span, parse_trace
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.reward import ZoomScore, crop_score, score_zoom
from grounding_rewards.zoom.tool import TOOL_SCHEMA, ZoomResult, ZoomSession
from grounding_rewards.zoom.views import Box

__all__ = [
    "DEFAULT_CROP_MARGIN",
    "SFT_SYNTAXES",
    "SftSyntax",
    "ZoomSftTrajectory",
    "build_trajectory",
    "call_box",
    "evidence_crop",
    "synthesis_crops",
    "zoom_sft_rows",
]

SftSyntax = Literal["deepeyes", "mini-o3", "function"]
SFT_SYNTAXES: tuple[str, ...] = ("deepeyes", "mini-o3", "function")
"""The call syntaxes a trajectory can be written in (DeepEyes' first, the default)."""
DEFAULT_CROP_MARGIN = 0.15
"""Margin around an evidence box, as a fraction of its sides (the synthesis default)."""

_TOOL = str(TOOL_SCHEMA["function"]["name"])


def evidence_crop(
    box: Sequence[float], image_size: tuple[float, float], margin: float = DEFAULT_CROP_MARGIN
) -> Box:
    """The crop around an evidence box: ``margin`` of its sides added, clamped, snapped outward.

    This is the synthesis pipeline's crop rule (``crop_and_zoom``).

    Args:
        box: Pixel ``xyxy`` evidence box.
        image_size: ``(width, height)`` of the image.
        margin: Added on each side as a fraction of the box's width and height.

    Returns:
        The crop, pixel ``xyxy`` with integer corners.

    Example:
        >>> evidence_crop((100, 100, 200, 150), (640, 480))  # 15 px, 7.5 px each side
        (85.0, 92.0, 215.0, 158.0)
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    width, height = float(image_size[0]), float(image_size[1])
    return (
        float(max(0, math.floor(x1 - dx))),
        float(max(0, math.floor(y1 - dy))),
        float(min(width, math.ceil(x2 + dx))),
        float(min(height, math.ceil(y2 + dy))),
    )


def call_box(
    crop: Sequence[float],
    image_size: tuple[float, float],
    space: str,
    config: RewardConfig | None = None,
) -> list[float]:
    """A crop (original pixels) written in ``space`` on the original image, rounded outward.

    Integers for ``pixel``, ``norm1000`` and ``qwen25vl``; three decimals for ``norm1``.
    Rounding outward keeps the whole crop inside the region the tool shows.

    Args:
        crop: Pixel ``xyxy`` crop.
        image_size: ``(width, height)`` of the original image.
        space: The coordinate space the model writes.
        config: Qwen2.5-VL ``min_pixels`` / ``max_pixels`` (``qwen25vl``).

    Returns:
        ``[x1, y1, x2, y2]`` in ``space``.

    Example:
        >>> call_box((85, 92, 215, 158), (640, 480), "norm1000")
        [132, 191, 336, 330]
        >>> call_box((85, 92, 215, 158), (640, 480), "norm1")
        [0.132, 0.191, 0.336, 0.33]
    """
    config = config or DEFAULT_CONFIG
    sx, sy = pixel_scale(
        space,  # type: ignore[arg-type]
        image_size,
        min_pixels=config.min_pixels,
        max_pixels=config.max_pixels,
    )
    unit = 1000.0 if space == "norm1" else 1.0
    limits = (image_size[0] / sx * unit, image_size[1] / sy * unit)
    values = (crop[0] / sx, crop[1] / sy, crop[2] / sx, crop[3] / sy)
    # Rounded to 6 decimals first: float noise (149.9999999) must not move a corner a unit.
    low = [max(0.0, math.floor(round(v * unit, 6))) for v in values[:2]]
    high = [min(limits[k], math.ceil(round(v * unit, 6))) for k, v in enumerate(values[2:])]
    numbers = [*low, *high]
    if space == "norm1":
        return [round(v / unit, 3) for v in numbers]
    return [int(v) for v in numbers]


@dataclass(frozen=True)
class ZoomSftTrajectory:
    """One exported trajectory.

    Attributes:
        messages: The chat (user, then assistant call / tool view pairs, then the answer).
        views: The zoomed views, in call order (PIL images).
        crops: Each call's crop in original pixels.
        score: :func:`~grounding_rewards.zoom.score_zoom` of ``messages``.
    """

    messages: list[dict[str, Any]]
    views: tuple[Any, ...]
    crops: tuple[Box, ...]
    score: ZoomScore


def _call_text(box: list[float], label: str, syntax: str) -> str:
    if syntax == "mini-o3":
        body = {"bbox_2d": box, "source": "original_image", "label": label}
        return f"<grounding>{json.dumps(body, ensure_ascii=False)}</grounding>"
    arguments = {"bbox_2d": box, "label": label}
    call = {"name": _TOOL, "arguments": arguments}
    return f"<tool_call>{json.dumps(call, ensure_ascii=False)}</tool_call>"


def _assistant_call(box: list[float], label: str, syntax: str) -> dict[str, Any]:
    think = f"<think>I zoom in on the {label or 'evidence'} to look closely.</think>"
    if syntax == "function":
        arguments = json.dumps({"bbox_2d": box, "label": label}, ensure_ascii=False)
        function = {"name": _TOOL, "arguments": arguments}
        return {
            "role": "assistant",
            "content": think,
            "tool_calls": [{"type": "function", "function": function}],
        }
    return {"role": "assistant", "content": f"{think}\n{_call_text(box, label, syntax)}"}


def _tool_message(result: ZoomResult, syntax: str) -> dict[str, Any]:
    message = {"role": "tool", "content": f"<image>\n{result.describe()}"}
    if syntax == "function":
        message["name"] = _TOOL
    return message


def _instruction(config: RewardConfig, syntax: str, image_size: tuple[int, int]) -> str:
    from grounding_rewards.export import instruction

    grounded = instruction(config, image_size=image_size)
    if syntax == "mini-o3":
        how = (
            '<grounding>{"bbox_2d": [x1, y1, x2, y2], "source": "original_image"}</grounding>, '
            "the box as fractions from 0 to 1 of the view it names"
        )
    elif syntax == "function":
        how = f"the {_TOOL} function, its bbox_2d in the coordinates below"
    else:
        how = (
            f'<tool_call>{{"name": "{_TOOL}", "arguments": {{"bbox_2d": [x1, y1, x2, y2]}}}}'
            "</tool_call>, the box in the coordinates below"
        )
    return (
        f"Before answering, zoom in on the regions you need with {how}; each zoom returns "
        f"an enlarged view. {grounded}"
    )


def _user_text(example: GroundedExample, config: RewardConfig, syntax: str, size: Any) -> str:
    options = "\n".join(f"({chr(65 + i)}) {text}" for i, text in enumerate(example.choices))
    return f"<image>{example.question}\n{options}\n{_instruction(config, syntax, size)}"


def _model_box(box: Sequence[float], size: tuple[int, int], config: RewardConfig) -> list[float]:
    sx, sy = pixel_scale(
        config.coords, size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
    )
    values = (box[0] / sx, box[1] / sy, box[2] / sx, box[3] / sy)
    if config.coords == "norm1":
        return [round(v, 3) for v in values]
    return [float(round(v)) for v in values]


def _answer_text(example: GroundedExample, size: tuple[int, int], config: RewardConfig) -> str:
    t, a = config.think_tag, config.answer_tag
    if example.rationale:
        trace = parse_trace(example.rationale, config=DEFAULT_CONFIG)  # synthesis: pixel, tags
        if trace.spans and trace.answer is not None and not trace.issues:
            groups: dict[tuple[int, int], list[Any]] = {}
            for span in trace.spans:
                groups.setdefault((span.start, span.end), []).append(span)
            pieces, cursor = [], 0
            for (start, end), spans in sorted(groups.items()):
                boxes = [_model_box(s.box, size, config) for s in spans]
                pieces.append(example.rationale[cursor:start])
                body: Any = boxes[0] if len(boxes) == 1 else boxes
                pieces.append(format_span(spans[0].label, body, config=config))
                cursor = end
            pieces.append(example.rationale[cursor:])
            text = "".join(pieces)
            for old, new in (("think", t), ("answer", a)):
                text = text.replace(f"<{old}>", f"<{new}>").replace(f"</{old}>", f"</{new}>")
            return text
    mentions = ", ".join(
        format_span(label, _model_box(box, size, config), config=config)
        for box, label in zip(example.boxes, example.labels, strict=True)
    )
    letter = example.answer
    choice = example.choices[ord(letter) - 65]
    return (
        f"<{t}>Looking at {mentions}: the answer is ({letter}) {choice}.</{t}><{a}>{letter}</{a}>"
    )


def build_trajectory(
    example: GroundedExample,
    image: Any,
    *,
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
    syntax: SftSyntax | str = "deepeyes",
    crops: Mapping[tuple[float, ...], Sequence[float]] | None = None,
    margin: float = DEFAULT_CROP_MARGIN,
) -> ZoomSftTrajectory:
    """The zoom trajectory of one grounded example (see the module docs), scored.

    Args:
        example: An example with evidence boxes and labels.
        image: Its original PIL image (EXIF orientation applied).
        config: The target model's ``coords`` (and Qwen2.5-VL budget) and tags.
        zoom: The tool's pixel budget (the views it returns).
        syntax: ``deepeyes`` (default), ``mini-o3`` or ``function``.
        crops: Evidence box -> the synthesis crop around it, when known.
        margin: Margin of :func:`evidence_crop` where no (tight) synthesis crop is known.

    Returns:
        The :class:`ZoomSftTrajectory`; check ``score.value`` (1 for a sound one).

    Raises:
        GroundTruthError: For an example without evidence boxes, or with more than
            ``zoom.max_calls``.
        InputError: For an unknown ``syntax``.
    """
    config = config or DEFAULT_CONFIG
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    if syntax not in SFT_SYNTAXES:
        raise InputError(f"syntax: expected one of {SFT_SYNTAXES}, got {syntax!r}")
    if not example.boxes:
        raise GroundTruthError(f"{example.id}: expected evidence boxes to zoom into, got none")
    if len(example.boxes) > zoom.max_calls:
        raise GroundTruthError(
            f"{example.id}: expected at most max_calls={zoom.max_calls} evidence boxes, "
            f"got {len(example.boxes)}"
        )
    size = (int(image.size[0]), int(image.size[1]))
    space = "norm1" if syntax == "mini-o3" else (zoom.coords or config.coords)
    session = ZoomSession(image, config, zoom)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": _user_text(example, config, syntax, size)}
    ]
    views, regions = [], []
    for box, label in zip(example.boxes, example.labels or ("",) * len(example.boxes), strict=True):
        known = (crops or {}).get(tuple(float(v) for v in box))
        crop: Box = evidence_crop(box, size, margin)
        if known is not None and crop_score(tuple(known), tuple(box), zoom) == 1.0:  # type: ignore[arg-type]
            crop = (float(known[0]), float(known[1]), float(known[2]), float(known[3]))
        written = call_box(crop, size, space, config)
        messages.append(_assistant_call(written, label, syntax))
        result = session.zoom(written, source="original_image", space=space)
        messages.append(_tool_message(result, syntax))
        views.append(result.image)
        regions.append(result.view.box)
    messages.append({"role": "assistant", "content": _answer_text(example, size, config)})
    truth = parse_ground_truth(
        answer=example.answer,
        choices=list(example.choices),
        gt_boxes=[list(b) for b in example.boxes],
        image_size=size,
    )
    score = score_zoom(messages, truth, config, zoom)
    return ZoomSftTrajectory(messages, tuple(views), tuple(regions), score)


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # lossless; zlib's best is 5x slower
    return buffer.getvalue()


def zoom_sft_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
    syntax: SftSyntax | str = "deepeyes",
    crops: Mapping[str, Mapping[tuple[float, ...], Sequence[float]]] | None = None,
    system_prompt: str | None = None,
    on_skip: Callable[[str], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of the zoom SFT JSONL (see the module docs); only trajectories with R_zoom = 1.

    Args:
        examples: The examples (those without evidence boxes are skipped).
        config: The target model's coordinate space and tags.
        zoom: The tool's pixel budget.
        syntax: ``deepeyes`` (default), ``mini-o3`` or ``function``.
        crops: Example id -> evidence box -> synthesis crop (:func:`synthesis_crops`).
        system_prompt: Optional system message before the user turn.
        on_skip: Called with ``"<id>: <reason>"`` for each skipped example.

    Yields:
        One dict per exported trajectory.
    """
    from grounding_rewards.export import data_uri, load_image

    config = config or DEFAULT_CONFIG
    pil = require("PIL.Image", extra="export")
    for example in examples:
        if not example.boxes:
            if on_skip is not None:
                on_skip(f"{example.id}: no evidence boxes to zoom into")
            continue
        data, size = load_image(example.image, expected_size=example.image_size)
        with pil.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        try:
            built = build_trajectory(
                example,
                image,
                config=config,
                zoom=zoom,
                syntax=syntax,
                crops=(crops or {}).get(example.id),
            )
        except (GroundTruthError, ValueError) as error:
            if on_skip is not None:
                on_skip(f"{example.id}: {error}")
            continue
        if built.score.value != 1.0:
            if on_skip is not None:
                on_skip(f"{example.id}: R_zoom {built.score.value} < 1 ({built.score.issues})")
            continue
        messages = list(built.messages)
        if system_prompt:
            messages.insert(0, {"role": "system", "content": system_prompt})
        row: dict[str, Any] = {
            "id": example.id,
            "messages": messages,
            "images": [data_uri(data)] + [data_uri(_png(view)) for view in built.views],
        }
        if syntax != "mini-o3":
            row["tools"] = json.dumps([TOOL_SCHEMA])
        row.update(
            answer=example.answer,
            choices=list(example.choices),
            gt_boxes=[list(b) for b in example.boxes],
            gt_labels=list(example.labels),
            image_size=list(size),
            coords=config.coords,
            zoom_syntax=syntax,
        )
        yield row


def synthesis_crops(
    paths: Iterable[str | Path],
) -> dict[str, dict[tuple[float, ...], tuple[float, ...]]]:
    """Example id -> evidence box -> the crop the synthesis pipeline zoomed into.

    Reads ``grounding-rewards synth`` records (other lines, and malformed ones, are
    ignored here: the export's reader reports them). Ids are those of
    :func:`~grounding_rewards.export_schema.examples_from_line`: ``<record id>:<qa id>``.

    Args:
        paths: JSONL files.

    Returns:
        The mapping (empty for inputs that are not synthesis records).
    """
    out: dict[str, dict[tuple[float, ...], tuple[float, ...]]] = {}
    for path in paths:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("qa"), list):
                    continue
                known: dict[tuple[float, ...], tuple[float, ...]] = {}
                for obj in record.get("objects") or []:
                    if isinstance(obj, dict) and obj.get("box") and obj.get("crop_box"):
                        box = tuple(float(v) for v in obj["box"])
                        known[box] = tuple(float(v) for v in obj["crop_box"])
                where = f"{path}:{number}"
                for index, qa in enumerate(record["qa"]):
                    if isinstance(qa, dict):
                        out[f"{record.get('id', where)}:{qa.get('id', index)}"] = known
    return out
