"""EasyR1 adapter: ``compute_score`` for ``worker.reward.reward_function=file.py:fn``.

EasyR1 imports the reward file by path, reads its module-level ``REWARD_TYPE``
(``"batch"``, the default, or ``"sequential"``) and calls the function with
``worker.reward.reward_function_kwargs`` bound as keyword arguments:

* batch: ``fn(reward_inputs) -> list[dict]``, one dict per input;
* sequential: ``fn(reward_input) -> dict``.

A reward input is ``{"response", "response_length", "ground_truth"}``; only
``ground_truth`` (the dataset's ``answer`` column) carries the sample's data, so it
holds our ground-truth keys (``answer``, ``gt_boxes`` in pixels of the original image,
``gt_labels``, ``choices``, ``image_size``...) as a dict or its JSON string. Each
result has ``overall`` (the weighted total, which EasyR1 puts on the last response
token) and one key per component that ``config.weights`` names (``0.0`` where the
component does not apply), the same keys every time: EasyR1 averages each key into
``reward/<key>``.

**EasyR1 resizes images itself** (``data.min_pixels`` / ``data.max_pixels``,
default 262144 / 4194304) before Qwen2.5-VL's processor smart-resizes them, so a
Qwen2.5-VL model writes pixels of *that* image. With ``coords="qwen25vl"`` the
adapter repeats EasyR1's resize arithmetic (:func:`easyr1_image_size`) and scores in
the pixels of the image EasyR1 hands the processor; pass ``data_min_pixels`` /
``data_max_pixels`` when you change EasyR1's (``None`` for EasyR1's ``null``).

Example:
    >>> text = "<think>The <obj>cat</obj><bbox>[0, 0, 500, 500]</bbox>.</think><answer>B</answer>"
    >>> truth = '{"answer": "B", "gt_boxes": [[0, 0, 320, 240]], "image_size": [640, 480]}'
    >>> compute_score([{"response": text, "response_length": 20, "ground_truth": truth}],
    ...               coords="norm1000")
    [{'overall': 3.0, 'format': 1.0, 'accuracy': 1.0, 'bbox': 1.0}]
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from grounding_rewards._records import (
    ground_truth_fields,
    resolve_config,
    score_record,
    scored_names,
)
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce
from grounding_rewards.config import ConfigLike, RewardConfig
from grounding_rewards.errors import InputTypeError
from grounding_rewards.ground_truth import GroundTruth, parse_ground_truth

__all__ = [
    "EASYR1_MAX_PIXELS",
    "EASYR1_MIN_PIXELS",
    "REWARD_NAME",
    "REWARD_TYPE",
    "GroundTruthWarning",
    "compute_score",
    "compute_score_sequential",
    "easyr1_image_size",
    "result_keys",
]

REWARD_NAME = "grounding"
"""What EasyR1 prints as the reward's name."""

REWARD_TYPE = "batch"
"""EasyR1's calling convention for :func:`compute_score`."""

EASYR1_MIN_PIXELS: int | None = 262144
"""EasyR1's default ``data.min_pixels``."""

EASYR1_MAX_PIXELS: int | None = 4194304
"""EasyR1's default ``data.max_pixels``."""

_WARN = WarnOnce(
    "grounding_rewards.easyr1.compute_score",
    "such responses are scored as if the ground truth were empty",
)


def easyr1_image_size(
    image_size: Sequence[float],
    min_pixels: int | None = EASYR1_MIN_PIXELS,
    max_pixels: int | None = EASYR1_MAX_PIXELS,
) -> tuple[int, int]:
    """The ``(width, height)`` EasyR1's data loader resizes an image to.

    EasyR1 (``verl/utils/dataset.py: process_image``) scales an image above
    ``max_pixels`` down, then one below ``min_pixels`` up, each time by
    ``sqrt(budget / (width * height))`` with the new sides truncated to integers;
    the processor's own smart-resize comes after.

    Args:
        image_size: The original ``(width, height)``.
        min_pixels: EasyR1's ``data.min_pixels`` (``None``: no upscale).
        max_pixels: EasyR1's ``data.max_pixels`` (``None``: no downscale).

    Returns:
        The size of the image the processor receives.

    Example:
        >>> easyr1_image_size((4000, 3000))  # 12 Mpx > 4194304: scaled by sqrt(0.3495...)
        (2364, 1773)
        >>> easyr1_image_size((256, 256)), easyr1_image_size((640, 480))
        ((512, 512), (640, 480))
    """
    width, height = int(image_size[0]), int(image_size[1])
    if max_pixels is not None and width * height > max_pixels:
        factor = math.sqrt(max_pixels / (width * height))
        width, height = int(width * factor), int(height * factor)
    if min_pixels is not None and width * height < min_pixels:
        factor = math.sqrt(min_pixels / (width * height))
        width, height = int(width * factor), int(height * factor)
    return width, height


def _as_seen_by_easyr1(
    fields: Mapping[str, Any], min_pixels: int | None, max_pixels: int | None
) -> GroundTruth | Mapping[str, Any]:
    """Ground truth in pixels of the image EasyR1 hands the processor.

    Boxes and image size are scaled together; IoU (and GIoU, point-in-box) is
    unchanged by scaling both, so the reward is the one of the original image, with
    the model's boxes converted through the resize it really saw. Malformed ground
    truth is returned as it is, for :func:`score_record` to report.
    """
    try:
        truth = parse_ground_truth(**fields)
    except ValueError:
        return fields
    if truth.image_size is None:
        return truth
    width, height = truth.image_size
    new_width, new_height = easyr1_image_size((width, height), min_pixels, max_pixels)
    if (new_width, new_height) == (int(width), int(height)) and width == int(width):
        return truth
    sx, sy = new_width / width, new_height / height
    boxes = tuple((x1 * sx, y1 * sy, x2 * sx, y2 * sy) for x1, y1, x2, y2 in truth.boxes)
    return truth._replace(boxes=boxes, image_size=(float(new_width), float(new_height)))


def result_keys(config: RewardConfig | None = None) -> tuple[str, ...]:
    """The keys of every dict :func:`compute_score` returns for ``config``, in order.

    Example:
        >>> result_keys()
        ('overall', 'format', 'accuracy', 'bbox')
    """
    return ("overall", *scored_names(resolve_config(config)))


def _score_one(
    reward_input: Mapping[str, Any],
    config: RewardConfig,
    min_pixels: int | None,
    max_pixels: int | None,
) -> dict[str, float]:
    if not isinstance(reward_input, Mapping):
        raise InputTypeError(
            "reward_input: expected a dict with response, response_length, ground_truth, "
            f"got {type(reward_input).__name__}"
        )
    truth: Any = reward_input.get("ground_truth")
    if config.coords == "qwen25vl":
        with contextlib.suppress(ValueError):  # score_record reports it
            truth = _as_seen_by_easyr1(ground_truth_fields(truth), min_pixels, max_pixels)
    scored = score_record(reward_input.get("response"), truth, config, warn=_WARN)
    result = {"overall": scored.total}
    for name in scored_names(config):
        value = scored.scores.get(name)
        result[name] = 0.0 if value is None else float(value)
    return result


def compute_score(
    reward_inputs: Sequence[Mapping[str, Any]],
    config: ConfigLike = None,
    *,
    data_min_pixels: int | None = EASYR1_MIN_PIXELS,
    data_max_pixels: int | None = EASYR1_MAX_PIXELS,
    **fields: Any,
) -> list[dict[str, float]]:
    """Score a batch the way EasyR1's batch reward manager calls it (``REWARD_TYPE="batch"``).

    Thread-safe and stateless. Malformed ground truth never raises: the response is
    scored as if it were empty, with one :class:`GroundTruthWarning` per kind of problem.

    Args:
        reward_inputs: EasyR1's ``RewardInput`` dicts (``response``,
            ``response_length``, ``ground_truth``).
        config: A :class:`RewardConfig`, a dict of its fields or its JSON
            (``reward_function_kwargs.config``); ``None`` for the defaults (pixels).
        data_min_pixels: EasyR1's ``data.min_pixels`` (``qwen25vl`` only).
        data_max_pixels: EasyR1's ``data.max_pixels`` (``qwen25vl`` only).
        **fields: RewardConfig fields (``coords``, ``weights``, ...), as
            ``reward_function_kwargs`` pass them.

    Returns:
        One ``{"overall": ..., <component>: ...}`` per input, same keys every time
        (:func:`result_keys`).

    Raises:
        ConfigError: For invalid configuration.
        InputTypeError: When an input is not a dict.
    """
    resolved = resolve_config(config, **fields)
    return [_score_one(item, resolved, data_min_pixels, data_max_pixels) for item in reward_inputs]


def compute_score_sequential(
    reward_input: Mapping[str, Any],
    config: ConfigLike = None,
    *,
    data_min_pixels: int | None = EASYR1_MIN_PIXELS,
    data_max_pixels: int | None = EASYR1_MAX_PIXELS,
    **fields: Any,
) -> dict[str, float]:
    """The sequential twin of :func:`compute_score` (``REWARD_TYPE="sequential"``).

    Args:
        reward_input: One ``RewardInput`` dict.
        config: As for :func:`compute_score`.
        data_min_pixels: As for :func:`compute_score`.
        data_max_pixels: As for :func:`compute_score`.
        **fields: As for :func:`compute_score`.

    Returns:
        ``{"overall": ..., <component>: ...}``.

    Example:
        >>> compute_score_sequential({"response": "<answer>A</answer>", "response_length": 4,
        ...                           "ground_truth": {"answer": "A"}})
        {'overall': 1.0, 'format': 0.0, 'accuracy': 1.0, 'bbox': 0.0}
    """
    resolved = resolve_config(config, **fields)
    return _score_one(reward_input, resolved, data_min_pixels, data_max_pixels)
