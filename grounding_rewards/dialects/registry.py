"""The dialect registry: how a model writes boxes and points, by name.

Every dialect turns a completion into the same :class:`~grounding_rewards.parsing.Trace`;
the blocks (``<think>``, ``<answer>``) are read by the core parser, the dialect reads only
its boxes and points. Built-in dialects are registered by reference, so that importing
the registry stays light.

Example:
    >>> dialect_names()[:3]
    ('tags', 'json', 'qwen2-tokens')
    >>> get_dialect("molmo").coords
    'norm100'
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grounding_rewards.dialects.marks import Reading
from grounding_rewards.errors import ConfigError

if TYPE_CHECKING:
    from grounding_rewards.config import RewardConfig

__all__ = [
    "Dialect",
    "Reader",
    "Renderer",
    "dialect_names",
    "dialects",
    "get_dialect",
    "register_dialect",
]

Reader = Callable[[str, "RewardConfig"], Reading]
"""``read(text, config) -> Reading``: find the boxes and points; never raise, linear time."""
Renderer = Callable[[Sequence[tuple[str, Sequence[float]]], "RewardConfig"], str]
"""``render(items, config) -> str``: write ``(label, box or point)`` items as the dialect does."""

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def _load(reference: Any) -> Any:
    if isinstance(reference, str):
        module, _, attribute = reference.partition(":")
        return getattr(importlib.import_module(module), attribute)
    return reference


@dataclass(frozen=True)
class Dialect:
    """One registered dialect.

    Attributes:
        name: The name ``RewardConfig(dialect=...)`` takes.
        reader: ``read(text, config) -> Reading`` or a ``"module:function"`` reference.
        renderer: ``render(items, config) -> str`` (or a reference), ``None`` if it cannot
            write (the audit and the property tests use it).
        coords: The coordinate space models writing this dialect usually use (a hint for
            docs and the audit; ``RewardConfig.coords`` is always set on its own).
        writes: What it can express: ``("boxes",)``, ``("points",)`` or both.
        description: One line for docs.
    """

    name: str
    reader: Reader | str
    renderer: Renderer | str | None
    coords: str
    writes: tuple[str, ...]
    description: str = ""

    def read(self, text: str, config: RewardConfig) -> Reading:
        """Find the boxes and points of ``text`` (see :data:`Reader`)."""
        reader: Reader = _load(self.reader)
        return reader(text, config)

    def render(self, items: Iterable[tuple[str, Sequence[float]]], config: RewardConfig) -> str:
        """Write ``(label, box)`` / ``(label, point)`` items the way this dialect does.

        Raises:
            ConfigError: When the dialect cannot write, or cannot write points/boxes.
        """
        if self.renderer is None:
            raise ConfigError(f"dialect {self.name!r}: expected a renderer, got none")
        items = list(items)
        for _, coords in items:
            kind = "points" if len(coords) == 2 else "boxes"
            if kind not in self.writes:
                raise ConfigError(f"dialect {self.name!r}: expected {self.writes}, got {kind}")
        renderer: Renderer = _load(self.renderer)
        return renderer(items, config)


_REGISTRY: dict[str, Dialect] = {}


def register_dialect(
    name: str,
    reader: Reader | str,
    *,
    renderer: Renderer | str | None = None,
    coords: str = "pixel",
    writes: Sequence[str] = ("boxes",),
    description: str = "",
    replace: bool = False,
) -> Dialect:
    r"""Register a dialect so that ``RewardConfig(dialect=name)`` reads it.

    A reader returns a :class:`~grounding_rewards.dialects.Reading`; the core then
    assigns each mark to its block, checks validity, counts, caps and scores exactly as
    for the built-in dialects. It must not raise (an exception is reported as an issue
    and scores 0) and should run in linear time.

    Args:
        name: Lower-case name (``[a-z][a-z0-9_-]*``).
        reader: The reader, or a ``"module:function"`` reference.
        renderer: Optional writer, for the audit and property tests.
        coords: The usual coordinate space (documentation only).
        writes: ``"boxes"`` and/or ``"points"``.
        description: One line for docs.
        replace: Allow replacing an existing registration.

    Returns:
        The :class:`Dialect`.

    Raises:
        ConfigError: For a bad or taken name, or a reader that is not callable.

    Example:
        >>> import re
        >>> from grounding_rewards import RewardConfig, parse_trace
        >>> from grounding_rewards.dialects import BoxMark, Reading
        >>> def arrows(text, config):  # "cat -> 1 2 3 4"
        ...     found = re.finditer(r"(\w+) -> (\d+) (\d+) (\d+) (\d+)", text)
        ...     return Reading(boxes=[BoxMark(m[1], tuple(map(float, m.groups()[1:])),
        ...                                   m.start(), m.end()) for m in found])
        >>> _ = register_dialect("arrows", arrows, replace=True)
        >>> parse_trace("cat -> 1 2 3 4", config=RewardConfig(dialect="arrows")).spans[0].box
        (1.0, 2.0, 3.0, 4.0)
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"dialect name: expected [a-z][a-z0-9_-]* (<= 32), got {name!r}")
    if name in _REGISTRY and not replace:
        raise ConfigError(f"dialect {name!r}: expected a new name, got one already registered")
    if not (callable(reader) or (isinstance(reader, str) and ":" in reader)):
        raise ConfigError(f"dialect {name!r}: expected a callable reader, got {reader!r}")
    kinds = tuple(writes)
    if not kinds or any(kind not in ("boxes", "points") for kind in kinds):
        raise ConfigError(
            f"dialect {name!r}: expected writes from ('boxes', 'points'), got {kinds}"
        )
    dialect = Dialect(name, reader, renderer, coords, kinds, description)
    _REGISTRY[name] = dialect
    return dialect


def get_dialect(name: str) -> Dialect:
    """The dialect registered as ``name``.

    Raises:
        ConfigError: For an unknown name.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"dialect: expected one of {dialect_names()}, got {name!r}") from None


def dialect_names() -> tuple[str, ...]:
    """Every registered dialect name, built-ins first."""
    return tuple(_REGISTRY)


def dialects() -> tuple[Dialect, ...]:
    """Every registered dialect, built-ins first."""
    return tuple(_REGISTRY.values())


_BASE = "grounding_rewards.dialects"
# (name, reader, renderer, usual coords, what it writes, description): registered by
# reference, so that a reader's module loads only when its dialect is used.
_BUILTINS: tuple[tuple[str, str, str, str, tuple[str, ...], str], ...] = (
    (
        "tags",
        "tags:read_tags",
        "tags:render_tags",
        "pixel",
        ("boxes", "points"),
        "<obj>label</obj><bbox>[x1, y1, x2, y2]</bbox> and <point>[x, y]</point>",
    ),
    (
        "json",
        "json_objects:read_json",
        "render:render_json",
        "qwen25vl",
        ("boxes", "points"),
        'Qwen2.5-VL / Qwen3-VL {"bbox_2d": [x1, y1, x2, y2], "label": ...} objects',
    ),
    (
        "qwen2-tokens",
        "token_pairs:read_qwen2_tokens",
        "render:render_qwen2_tokens",
        "norm1000",
        ("boxes", "points"),
        "Qwen2-VL <|object_ref_start|>..<|box_start|>(x1,y1),(x2,y2)<|box_end|>",
    ),
    (
        "ref-box",
        "token_pairs:read_ref_box",
        "render:render_ref_box",
        "norm1000",
        ("boxes",),
        "InternVL <ref>label</ref><box>[[x1, y1, x2, y2], ...]</box>",
    ),
    (
        "bare",
        "plain:read_bare",
        "render:render_bare",
        "pixel",
        ("boxes",),
        "bare [x1, y1, x2, y2] lists, unlabelled (referring-expression answers)",
    ),
    (
        "molmo",
        "plain:read_molmo",
        "render:render_molmo",
        "norm100",
        ("points",),
        'Molmo <point x="61.5" y="40.2" alt="cat">cat</point> and <points x1=.. y1=..>',
    ),
    (
        "florence2",
        "plain:read_florence2",
        "render:render_florence2",
        "norm1000",
        ("boxes", "points"),
        "Florence-2 label<loc_x1><loc_y1><loc_x2><loc_y2> (0-999 bins)",
    ),
)
for _name, _reader, _renderer, _coords, _writes, _description in _BUILTINS:
    register_dialect(
        _name,
        f"{_BASE}.{_reader}",
        renderer=f"{_BASE}.{_renderer}",
        coords=_coords,
        writes=_writes,
        description=_description,
    )
