"""The zoom-in tool: crop a region of the image and enlarge it within the model's pixel budget.

A :class:`ZoomSession` holds one trajectory's original image and the views it has produced.
Each call names a box on a view (the original, or ``observation_i``), exactly as the reward
reads it: the box is mapped to original pixels through that view's transform
(:meth:`~grounding_rewards.zoom.views.View.to_original`), the region is cut from the
*original* image (no resampling twice down a chain) and resized to
:func:`~grounding_rewards.zoom.views.view_size`. The tool and :func:`zoom_reward` share
this replay, so the reward scores exactly the region the model saw.

Example:
    >>> from PIL import Image
    >>> session = ZoomSession(Image.new("RGB", (1000, 800)))
    >>> result = session.zoom([100, 100, 300, 250])
    >>> result.name, result.view.box, result.image.size
    ('observation_1', (100.0, 100.0, 300.0, 250.0), (532, 392))
    >>> session.zoom([0, 0, 0.5, 0.5], source="observation_1", space="norm1").view.box
    (100.0, 100.0, 200.0, 175.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grounding_rewards._optional import require
from grounding_rewards.config import DEFAULT_CONFIG, RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.zoom.chain import source_index
from grounding_rewards.zoom.config import DEFAULT_ZOOM_CONFIG, ZoomConfig
from grounding_rewards.zoom.views import View

__all__ = ["TOOL_SCHEMA", "ZoomResult", "ZoomSession", "zoom_in"]

TOOL_SCHEMA: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "image_zoom_in_tool",
        "description": (
            "Zoom in on a region of the image: crop the bounding box and show it enlarged. "
            "The box is on the original image, or on an earlier zoomed view named by source."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "bbox_2d": {
                    "type": "array",
                    "description": "The region as [x1, y1, x2, y2] on the source view.",
                },
                "label": {"type": "string", "description": "What is in the region."},
                "source": {
                    "type": "string",
                    "description": "'original_image' (default) or 'observation_i'.",
                },
            },
            "required": ["bbox_2d"],
        },
    },
}
"""The OpenAI function schema (DeepEyes' tool name and arguments, plus ``source``)."""


@dataclass(frozen=True)
class ZoomResult:
    """What one zoom returns.

    Attributes:
        image: The zoomed view (a PIL image of ``view.size``).
        view: Its transform: the region of the original image (pixels) and the view size.
        name: How later calls refer to it (``observation_<n>``).
    """

    image: Any
    view: View
    name: str

    def describe(self) -> str:
        """One line for the tool's text response.

        Example:
            >>> ZoomResult(None, View((1.0, 2.0, 3.0, 4.0), (28, 28)), "observation_1").describe()
            'observation_1: region [1, 2, 3, 4] of the original image, shown at 28x28'
        """
        box = ", ".join(f"{v:g}" for v in self.view.box)
        w, h = self.view.size
        return f"{self.name}: region [{box}] of the original image, shown at {w:g}x{h:g}"


def _resample() -> Any:
    image = require("PIL.Image", extra="synthesis")
    return image.Resampling.BICUBIC


def zoom_in(image: Any, view: View) -> Any:
    """Cut ``view.box`` out of the original ``image`` and resize it to ``view.size``.

    Args:
        image: The original PIL image.
        view: The view to render (its size already follows the tool's pixel budget).

    Returns:
        A PIL image of ``view.size``.
    """
    width, height = (int(v) for v in view.size)
    return image.convert("RGB").resize((width, height), _resample(), box=view.box)


class ZoomSession:
    """One trajectory's zoom tool: the original image and the views produced so far.

    Args:
        image: The original PIL image.
        config: ``coords`` (the default space of boxes) and the Qwen2.5-VL budget.
        zoom: The tool's resize rule and ``observation_base``.
    """

    def __init__(
        self, image: Any, config: RewardConfig | None = None, zoom: ZoomConfig | None = None
    ) -> None:
        self.image = image
        self.config = config or DEFAULT_CONFIG
        self.settings = zoom or DEFAULT_ZOOM_CONFIG
        self.views: list[View] = [View.original(image.size)]

    def zoom(
        self, bbox_2d: Sequence[float], source: str | None = None, space: str | None = None
    ) -> ZoomResult:
        """Zoom into ``bbox_2d`` on the view ``source`` names.

        Args:
            bbox_2d: ``[x1, y1, x2, y2]`` on that view.
            source: ``"original_image"`` (default) or ``"observation_i"``.
            space: Coordinate space of the box; ``None`` uses ``zoom.coords`` or ``config.coords``.

        Returns:
            The :class:`ZoomResult`; the new view becomes the next ``observation_i``.

        Raises:
            InputError: For a box that is not four numbers, an unknown view, or a region
                outside its view or too thin to show (the adapters turn the message into
                the tool's text response, so the model reads why).
        """
        try:
            box = tuple(float(v) for v in bbox_2d)
        except (TypeError, ValueError):
            raise InputError(
                f"bbox_2d: expected [x1, y1, x2, y2] numbers, got {bbox_2d!r}"
            ) from None
        if len(box) != 4:
            raise InputError(f"bbox_2d: expected 4 numbers, got {len(box)}")
        index = source_index(source, self.settings)
        if index is None or not 0 <= index < len(self.views):
            names = ["original_image"] + [
                f"observation_{i + self.settings.observation_base}"
                for i in range(len(self.views) - 1)
            ]
            raise InputError(f"source: expected one of {names}, got {source!r}")
        space = space or self.settings.coords or self.config.coords
        region = self.views[index].to_original(
            (box[0], box[1], box[2], box[3]),
            space,
            min_pixels=self.config.min_pixels,
            max_pixels=self.config.max_pixels,
        )
        view = None if region is None else self.views[index].crop_of(region, self.settings)
        if view is None:
            raise InputError(
                f"bbox_2d: expected x1 < x2, y1 < y2 and a region inside the view, got {list(box)}"
            )
        self.views.append(view)
        name = f"observation_{len(self.views) - 2 + self.settings.observation_base}"
        return ZoomResult(zoom_in(self.image, view), view, name)
