"""The zoom tool as a TRL environment (``GRPOTrainer(environment_factory=ZoomEnvironment)``).

TRL (1.16) builds one environment per rollout, calls ``reset(**example)`` before generation
and exposes every public method as a tool, described to the model by its type hints and
docstring. ``image_zoom_in_tool`` returns the zoomed view as an image block, which TRL feeds
back to a vision-language policy. Score rollouts with :class:`ZoomReward` in ``reward_funcs``:
it reads the whole conversational completion (assistant ``tool_calls`` included), where
TRL's other reward functions see only the last assistant turn.

Example:
    >>> from PIL import Image
    >>> env = ZoomEnvironment()
    >>> env.reset(image=Image.new("RGB", (1000, 800)))
    >>> [part["type"] for part in env.image_zoom_in_tool([100, 100, 300, 250])]
    ['image', 'text']
    >>> ZoomReward()(completions=["<answer>A</answer>"], gt_boxes=[[[1, 1, 5, 5]]],
    ...              image_size=[(10, 10)])
    [0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grounding_rewards._completions import image_size_of
from grounding_rewards.config import RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.zoom.config import ZoomConfig
from grounding_rewards.zoom.reward import zoom_reward
from grounding_rewards.zoom.tool import ZoomSession

__all__ = ["ZoomEnvironment", "ZoomReward"]


def _first_image(example: dict[str, Any]) -> Any:
    for key in ("image", "images"):
        value = example.get(key)
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if value is not None:
            return value
    for message in example.get("prompt") or ():
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            if (
                isinstance(part, dict)
                and part.get("type") == "image"
                and part.get("image") is not None
            ):
                return part["image"]
    return None


class ZoomEnvironment:
    """One rollout's zoom tool for TRL's ``environment_factory``.

    Args:
        config: ``coords`` (the space the policy writes boxes in) and its pixel budget.
        zoom: The tool's resize rule.
    """

    def __init__(self, config: RewardConfig | None = None, zoom: ZoomConfig | None = None) -> None:
        self._config = config
        self._zoom = zoom
        self._session: ZoomSession | None = None

    def reset(self, **example: Any) -> None:
        """Start a rollout on the example's image (``image``, ``images`` or the prompt's image)."""
        image = _first_image(example)
        self._session = None if image is None else ZoomSession(image, self._config, self._zoom)

    def image_zoom_in_tool(
        self, bbox_2d: list[float], source: str = "original_image", label: str = ""
    ) -> list[dict[str, Any]]:
        """Zoom in on a region of the image: crop the bounding box and show it enlarged.

        Args:
            bbox_2d: The region as [x1, y1, x2, y2] on the source view.
            source: The view the box is on: "original_image" or "observation_i".
            label: What is in the region.

        Returns:
            The zoomed view and a line naming it.
        """
        if self._session is None:
            return [{"type": "text", "text": "Error: no image to zoom into"}]
        try:
            result = self._session.zoom(bbox_2d, source=source)
        except InputError as error:
            return [{"type": "text", "text": f"Error: {error}"}]
        return [
            {"type": "image", "image": result.image},
            {"type": "text", "text": result.describe()},
        ]


class ZoomReward:
    """TRL reward function: :func:`zoom_reward` of each (conversational) completion.

    Reads the dataset columns ``gt_boxes`` and ``image_size`` (or the ``image``), plus
    ``answer``/``choices`` when ``zoom.answer_weight`` > 0. Picklable; returns ``None``
    for rows without evidence boxes.

    Args:
        config: Coordinate space, α, caps.
        zoom: Zoom knobs.
    """

    __name__ = "zoom_reward"

    def __init__(self, config: RewardConfig | None = None, zoom: ZoomConfig | None = None) -> None:
        self.config = config
        self.zoom = zoom

    def __call__(
        self, completions: Sequence[Any], gt_boxes: Sequence[Any] | None = None, **columns: Any
    ) -> list[float | None]:
        """One reward per completion."""
        n = len(completions)
        boxes = list(gt_boxes) if gt_boxes is not None else [None] * n
        sizes = columns.get("image_size") or [None] * n
        images = columns.get("image") or columns.get("images") or [None] * n
        answers = columns.get("answer") or [None] * n
        choices = columns.get("choices") or [None] * n
        rewards: list[float | None] = []
        for i, completion in enumerate(completions):
            size = sizes[i] if sizes[i] is not None else image_size_of(images[i])
            rewards.append(
                zoom_reward(
                    completion,
                    boxes[i],
                    image_size=size,
                    answer=answers[i],
                    choices=choices[i],
                    config=self.config,
                    zoom=self.zoom,
                )
            )
        return rewards
