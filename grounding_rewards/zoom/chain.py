"""Replay a trajectory's zoom calls: follow chains of crops back to original pixels.

Each call zooms into a view: the original image, or ``observation_i``, the ``i``-th view
an earlier call returned (numbered from ``observation_base``, 1 by default; only calls
that produced a crop create an observation). The box is read in the call's coordinate
space *relative to that view*, mapped to pixels of the original image through the view's
transform and clipped to the view (the tool cannot show what the view does not). The
replay uses the tool's own resize rule (:func:`~grounding_rewards.zoom.views.view_size`),
never sizes written in the text, which the model could forge.

Example:
    >>> from grounding_rewards.zoom.trajectory import parse_trajectory
    >>> t = parse_trajectory(
    ...     '<grounding>{"bbox_2d": [0.5, 0.5, 1, 1], "source": "original_image"}</grounding>'
    ...     '<grounding>{"bbox_2d": [0, 0, 0.5, 0.5], "source": "observation_1"}</grounding>')
    >>> [c.box for c in resolve_crops(t, (800, 600))]
    [(400.0, 300.0, 800.0, 600.0), (400.0, 300.0, 600.0, 450.0)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grounding_rewards.boxes import validate_image_size
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.zoom.calls import ZoomCall
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.trajectory import ZoomTrajectory
from grounding_rewards.zoom.views import Box, View

__all__ = ["Crop", "call_space", "resolve_crops", "source_index"]

_OBSERVATION = re.compile(r"(?:observation|obs|image)[_ -]?(\d{1,6})", re.IGNORECASE)
_ORIGINAL = frozenset({"", "original", "original_image", "original image", "image"})


@dataclass(frozen=True, slots=True)
class Crop:
    """A call replayed on the image.

    Attributes:
        call: The call as written.
        box: Its crop in pixels of the original image, or ``None`` when the tool could not
            crop (unreadable box, unknown view, nothing inside the view, degenerate).
        observation: The number of the view it produced (``observation_<n>``), or ``None``.
        reason: Why ``box`` is ``None``; empty otherwise.
    """

    call: ZoomCall
    box: Box | None
    observation: int | None = None
    reason: str = ""


def call_space(call: ZoomCall, config: RewardConfig, zoom: ZoomConfig) -> str:
    """A call's space: ``norm1`` for Mini-o3, else ``zoom.coords`` or ``config.coords``."""
    if call.syntax == "mini-o3":
        return "norm1"
    return zoom.coords or config.coords


def source_index(source: str | None, zoom: ZoomConfig) -> int | None:
    """Index into the list of views (0 = original) that ``source`` names, or ``None`` if none.

    Example:
        >>> zoom = DEFAULT_ZOOM_CONFIG
        >>> source_index(None, zoom), source_index("observation_2", zoom)
        (0, 2)
        >>> source_index("the moon", zoom) is None
        True
    """
    if source is None or source.strip().lower() in _ORIGINAL:
        return 0
    match = _OBSERVATION.fullmatch(source.strip())
    if match is None:
        return None
    return int(match.group(1)) - zoom.observation_base + 1


def resolve_crops(
    trajectory: ZoomTrajectory,
    image_size: tuple[float, float],
    config: RewardConfig | None = None,
    zoom: ZoomConfig | None = None,
) -> tuple[Crop, ...]:
    """Replay every call: its crop in original pixels and the view it produces.

    Args:
        trajectory: The parsed trajectory.
        image_size: ``(width, height)`` of the original image.
        config: ``coords`` and the Qwen2.5-VL pixel budget for boxes on a view.
        zoom: The tool's resize rule, ``coords`` and ``observation_base``.

    Returns:
        One :class:`Crop` per call, in order.

    Raises:
        GroundTruthError: For an invalid ``image_size`` (the caller's data).
    """
    config = config or DEFAULT_CONFIG
    zoom = zoom or DEFAULT_ZOOM_CONFIG
    views = [View.original(validate_image_size(image_size))]
    crops = []
    for call in trajectory.calls:
        if call.box is None:
            crops.append(Crop(call, None, None, call.issue or "unreadable box"))
            continue
        index = source_index(call.source, zoom)
        if index is None or not 0 <= index < len(views):
            crops.append(Crop(call, None, None, f"unknown view {call.source!r}"))
            continue
        box = views[index].to_original(
            call.box,
            call_space(call, config, zoom),
            min_pixels=config.min_pixels,
            max_pixels=config.max_pixels,
        )
        view = None if box is None else views[index].crop_of(box, zoom)
        if box is None or view is None:
            crops.append(Crop(call, None, None, "crop outside its view or degenerate"))
            continue
        views.append(view)
        crops.append(Crop(call, box, len(views) - 1 + zoom.observation_base - 1))
    return tuple(crops)
