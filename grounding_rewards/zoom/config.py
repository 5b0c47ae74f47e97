"""ZoomConfig: the knobs of zoom-in trajectories, their tool and their reward.

A small frozen dataclass beside :class:`~grounding_rewards.RewardConfig`, which still
gives the coordinate space (``coords``), the Qwen2.5-VL pixel budget, ``length_penalty``
(``α``), ``max_chars`` and the answer tag.

Example:
    >>> ZoomConfig().context, ZoomConfig(free_calls=0).free_calls
    (4.0, 0)
    >>> ZoomConfig(context=0.5)
    Traceback (most recent call last):
    ...
    grounding_rewards.errors.ConfigError: ZoomConfig.context: expected a number >= 1, got 0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from grounding_rewards.boxes import COORD_SPACES
from grounding_rewards.errors import ConfigError

__all__ = ["DEFAULT_ZOOM_CONFIG", "ZoomConfig"]

_TOOL_NAMES = ("image_zoom_in_tool", "zoom_in", "zoom", "crop", "crop_image")


@dataclass(frozen=True, slots=True)
class ZoomConfig:
    """How zoom calls are read, replayed and scored.

    Attributes:
        tool_names: Function names that count as the zoom-in tool (DeepEyes'
            ``image_zoom_in_tool`` first); calls to other tools are ignored.
        coords: Space of the boxes in ``<tool_call>`` and function-calling arguments, on
            the view they name; ``None`` uses ``RewardConfig.coords``. Mini-o3's
            ``<grounding>`` boxes are always ``norm1`` (0-1 of the view).
        context: A crop up to ``context`` times the evidence box's area still counts as
            tight (``4``: twice the box's width and height).
        min_crop_side: A crop up to ``min_crop_side ** 2`` pixels counts as tight however
            small the evidence (a zoom tool needs context around a tiny object).
        free_calls: Calls beyond the evidence count that cost nothing (``1``: one
            coarse-to-fine chain step per trajectory is free).
        length_penalty: ``α`` of the call penalty; ``None`` uses ``RewardConfig.length_penalty``.
        require_answer: A trajectory without a final non-empty answer block scores 0.
        answer_weight: ``b`` in ``R = R_crop · (1 − b + b · [answer correct])``: the
            answer-conditioned bonus (0 turns it off).
        max_calls: More zoom calls than this score 0.
        max_messages: Messages read from a chat trajectory (the rest are ignored).
        max_call_chars: A call body longer than this is one invalid call.
        observation_base: Index of the first zoomed view in ``observation_i`` (Mini-o3: 1).
        view_min_pixels: The tool resizes each crop into ``[view_min_pixels,
            view_max_pixels]`` pixels with Qwen2.5-VL's smart-resize (small crops are
            enlarged: that is the zoom).
        view_max_pixels: See ``view_min_pixels``.
    """

    tool_names: tuple[str, ...] = _TOOL_NAMES
    coords: str | None = None
    context: float = 4.0
    min_crop_side: float = 56.0
    free_calls: int = 1
    length_penalty: float | None = None
    require_answer: bool = True
    answer_weight: float = 0.0
    max_calls: int = 32
    max_messages: int = 512
    max_call_chars: int = 4096
    observation_base: int = 1
    view_min_pixels: int = 256 * 28 * 28
    view_max_pixels: int = 1280 * 28 * 28

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> ConfigError:
            return ConfigError(
                f"ZoomConfig.{name}: expected {expected}, got {getattr(self, name)!r}"
            )

        if not isinstance(self.tool_names, tuple) or not all(
            isinstance(n, str) and n for n in self.tool_names
        ):
            raise bad("tool_names", "a tuple of non-empty names")
        if self.coords is not None and self.coords not in COORD_SPACES:
            raise bad("coords", f"None or one of {COORD_SPACES}")
        _number(self, "context", 1.0, bad, "a number >= 1")
        _number(self, "min_crop_side", 0.0, bad, "a number >= 0")
        _number(self, "answer_weight", 0.0, bad, "a number in [0, 1]", high=1.0)
        if self.length_penalty is not None:
            _number(self, "length_penalty", 0.0, bad, "None or a number >= 0")
        for name in ("free_calls", "observation_base"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise bad(name, "an integer >= 0")
        for name in ("max_calls", "max_messages", "max_call_chars", "view_min_pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "an integer >= 1")
        if not isinstance(self.view_max_pixels, int) or self.view_max_pixels < self.view_min_pixels:
            raise bad("view_max_pixels", "an integer >= view_min_pixels")

    def replace(self, **changes: Any) -> ZoomConfig:
        """Return a validated copy with ``changes`` applied.

        Example:
            >>> ZoomConfig().replace(answer_weight=0.5).answer_weight
            0.5
        """
        names = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ConfigError(f"ZoomConfig: expected fields from {sorted(names)}, got {unknown}")
        return replace(self, **changes)


def _number(
    config: ZoomConfig, name: str, low: float, bad: Any, expected: str, high: float = math.inf
) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad(name, expected)
    if not (math.isfinite(value) and low <= value <= high):
        raise bad(name, expected)
    object.__setattr__(config, name, float(value))


DEFAULT_ZOOM_CONFIG = ZoomConfig()
"""The defaults every zoom function uses when given ``zoom=None``."""
