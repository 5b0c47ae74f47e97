"""The zoom tool as a veRL multi-turn tool (``BaseTool``), for ``tool_config_path`` YAML.

veRL (0.9.1) creates, executes and releases a tool instance around *each* call, so the
views of a trajectory live in ``agent_data.extra_fields["zoom_views"]`` (plain lists, safe
to carry in veRL's outputs), and the original image is ``agent_data.image_data[0]`` (or
``create_kwargs["image"]`` from the dataset's ``tools_kwargs``). A tool config::

    tools:
      - class_name: grounding_rewards.zoom.verl_tool.ImageZoomInTool
        config:
          type: native
          coords: qwen25vl          # the space the policy writes boxes in
          view_min_pixels: 200704   # the zoomed view's pixel budget
          view_max_pixels: 1003520

``integrations/verl/zoom_tool_config.yaml`` holds this file. Score the rollouts with
:func:`~grounding_rewards.zoom.zoom_reward` (veRL's ``solution_str`` carries the calls).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from grounding_rewards._optional import require
from grounding_rewards.config import RewardConfig
from grounding_rewards.errors import InputError
from grounding_rewards.zoom.config import ZoomConfig
from grounding_rewards.zoom.tool import TOOL_SCHEMA, ZoomSession
from grounding_rewards.zoom.views import View

_base = require("verl.tools.base_tool", extra="verl")
_schemas = require("verl.tools.schemas", extra="verl")

__all__ = ["TOOL_SCHEMA", "ImageZoomInTool"]


_ZOOM_KEYS = ("view_min_pixels", "view_max_pixels", "observation_base")


class ImageZoomInTool(_base.BaseTool):  # type: ignore[misc,name-defined]
    """veRL ``BaseTool`` that crops and enlarges a region of the trajectory's image.

    Args:
        config: The YAML ``config`` mapping: ``coords``, ``min_pixels``, ``max_pixels``
            (the policy's Qwen2.5-VL budget), ``view_min_pixels``, ``view_max_pixels``,
            ``observation_base``.
        tool_schema: veRL's parsed schema, or ``None`` for :data:`TOOL_SCHEMA`.
    """

    def __init__(self, config: dict[str, Any], tool_schema: Any = None) -> None:
        schema = tool_schema or _schemas.OpenAIFunctionToolSchema.model_validate(TOOL_SCHEMA)
        super().__init__(config, schema)
        self.reward_config = RewardConfig(
            coords=config.get("coords", "pixel"),
            min_pixels=int(config.get("min_pixels", 3136)),
            max_pixels=int(config.get("max_pixels", 12845056)),
        )
        self.zoom_config = ZoomConfig(**{k: config[k] for k in _ZOOM_KEYS if k in config})
        self._instances: dict[str, dict[str, Any]] = {}

    async def create(self, instance_id: str | None = None, **kwargs: Any) -> tuple[str, Any]:
        """Create an instance; ``create_kwargs["image"]`` may carry the original image."""
        instance_id = instance_id or str(uuid4())
        create_kwargs = kwargs.get("create_kwargs") or {}
        self._instances[instance_id] = {"image": create_kwargs.get("image")}
        return instance_id, _schemas.ToolResponse()

    def _session(self, instance_id: str, agent_data: Any) -> tuple[ZoomSession, list[Any]]:
        image = self._instances.get(instance_id, {}).get("image")
        if image is None and agent_data is not None and getattr(agent_data, "image_data", None):
            image = agent_data.image_data[0]
        if image is None:
            raise InputError("image: expected the trajectory's image, got none")
        session = ZoomSession(image, self.reward_config, self.zoom_config)
        extra = getattr(agent_data, "extra_fields", None)
        stored: list[Any] = extra.setdefault("zoom_views", []) if isinstance(extra, dict) else []
        session.views.extend(View(tuple(v[:4]), (v[4], v[5])) for v in stored)
        return session, stored

    async def execute(
        self, instance_id: str, parameters: dict[str, Any], **kwargs: Any
    ) -> tuple[Any, float, dict[str, Any]]:
        """Zoom; returns the view (image and a line of text), reward 0 and metrics."""
        try:
            session, stored = self._session(instance_id, kwargs.get("agent_data"))
            source = parameters.get("source")
            result = session.zoom(parameters.get("bbox_2d", ()), source=source)
        except InputError as error:
            return _schemas.ToolResponse(text=f"Error: {error}"), 0.0, {"zoom_error": 1.0}
        stored.append([*result.view.box, *result.view.size])
        width, height = session.image.size
        x1, y1, x2, y2 = result.view.box
        fraction = (x2 - x1) * (y2 - y1) / (width * height)
        response = _schemas.ToolResponse(image=[result.image], text=result.describe())
        return response, 0.0, {"zoom_error": 0.0, "zoom_area_fraction": fraction}

    async def release(self, instance_id: str, **kwargs: Any) -> None:
        """Forget the instance."""
        self._instances.pop(instance_id, None)
