"""ms-swift adapter: ORM classes for ``--external_plugins plugin.py --reward_funcs ...``.

ms-swift builds each reward as ``orms[name](args=training_args)`` and calls it as
``reward(completions, **columns)`` (every dataset column as a list, plus
``messages``, ``images``, ``objects``, ``trainer_state``, ...), expecting one
``float | None`` per completion; ``None`` becomes NaN and is left out of that
function's mean and the weighted sum. An ``async def __call__`` is awaited with the
other async rewards.

This module never imports ms-swift. It generates, from the component registry, one
class per component (``FormatORM``, ``OptionORM``, ``BboxORM``, ``PointORM``, ...,
named after the component's ``reward_name``) and :class:`GroundingORM` for the
weighted total; ms-swift logs each under its class name and weighs them with
``--reward_weights``. :func:`grounding_orms` returns them bound to a
:class:`RewardConfig` under the names to register (``grounding_format``,
``grounding_accuracy``, ``grounding_bbox``, ..., ``grounding``), so a plugin file is::

    from swift.rewards import orms
    from grounding_rewards import RewardConfig
    from grounding_rewards.swift import grounding_orms
    orms.update(grounding_orms(RewardConfig(coords="norm1000")))

Ground truth comes from the dataset columns, with the same names as for TRL
(``answer``, ``gt_boxes``, ``gt_labels``, ``choices``, ``image_size``, ...). Failing
those, ``solution`` (ms-swift's usual column) is read as the answer, or as our whole
ground-truth record when it holds a JSON object; ``objects`` (ms-swift's grounding
column: ``ref`` labels, ``bbox`` boxes, ``bbox_type`` ``real`` or ``norm1``) gives the
boxes; the first of ``images`` (PIL image, path, or ``{"bytes", "path"}``) gives the size.

Example:
    >>> orms = grounding_orms()
    >>> sorted(orms), orms["grounding_bbox"].__name__
    (['grounding', 'grounding_accuracy', 'grounding_bbox', 'grounding_format'], 'BboxORM')
    >>> text = "<think>A <obj>cat</obj><bbox>[0, 0, 10, 10]</bbox>.</think><answer>B</answer>"
    >>> bbox = orms["grounding_bbox"](args=None)
    >>> bbox([text, text], solution=["B", "B"], gt_boxes=[[[0, 0, 10, 20]], None])
    [0.5, None]
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from grounding_rewards._completions import Completion, completion_text, image_size_of
from grounding_rewards._records import resolve_config, score_record, scored_names
from grounding_rewards._warn_once import GroundTruthWarning, WarnOnce
from grounding_rewards.components import GROUND_TRUTH_FIELDS, components, get_component
from grounding_rewards.config import DEFAULT_CONFIG, ConfigLike, RewardConfig
from grounding_rewards.errors import ConfigError, GroundTruthError, InputError

__all__ = [
    "ORM_CLASSES",
    "ComponentORM",
    "GroundTruthWarning",
    "GroundingORM",
    "class_name",
    "grounding_orms",
    "row_ground_truth",
]

REGISTER_PREFIX = "grounding"


def class_name(component: str) -> str:
    """The ORM class name of a component: its ``reward_name`` in CamelCase plus ``ORM``.

    Example:
        >>> class_name("accuracy"), class_name("bbox")
        ('OptionORM', 'BboxORM')
    """
    base = get_component(component).reward_name.removesuffix("_reward") or component
    return "".join(part.capitalize() for part in base.split("_")) + "ORM"


def _image_size(images: Any) -> Any:
    """``(width, height)`` of the first image as ms-swift passes it, or ``None``."""
    if isinstance(images, Sequence) and not isinstance(images, (str, bytes)):
        if not images:
            return None
        images = images[0]
    size = image_size_of(images)
    if size is not None or images is None:
        return size
    source: Any = images
    if isinstance(images, Mapping):
        source = images.get("bytes") or images.get("path")
    if isinstance(source, bytes):
        source = io.BytesIO(source)
    if not isinstance(source, (str, io.BytesIO)):
        return None
    try:
        from PIL import Image

        with Image.open(source) as image:  # reads the header only
            return (int(image.size[0]), int(image.size[1]))
    except (ImportError, OSError, ValueError):
        return None


def _decode_json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _objects_truth(objects: Any, size: Any) -> dict[str, Any]:
    """``gt_boxes`` / ``gt_labels`` from ms-swift's ``objects`` (``ref``, ``bbox``, ...)."""
    objects = _decode_json(objects)
    if not isinstance(objects, Mapping) or not objects.get("bbox"):
        return {}
    if "width" in objects:  # normalized in place by ms-swift's template: space unknown
        raise GroundTruthError(
            "objects: expected the dataset's boxes, got boxes a template already normalized "
            "(give a gt_boxes column: grounding-rewards export --to swift)"
        )
    boxes = [list(box) for box in objects["bbox"]]
    if objects.get("bbox_type") == "norm1":
        if size is None:
            raise GroundTruthError("objects: expected an image size for norm1 boxes, got none")
        width, height = size
        boxes = [[b[0] * width, b[1] * height, b[2] * width, b[3] * height] for b in boxes]
    fields: dict[str, Any] = {"gt_boxes": boxes}
    refs = objects.get("ref")
    if isinstance(refs, Sequence) and not isinstance(refs, str) and len(refs) == len(boxes):
        fields["gt_labels"] = list(refs)
    return fields


def _column(kwargs: Mapping[str, Any], name: str, index: int, n: int) -> Any:
    values = kwargs.get(name)
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InputError(
            f"column {name!r}: expected a list with one value per completion, "
            f"got {type(values).__name__}"
        )
    if len(values) != n:
        raise InputError(
            f"column {name!r}: expected one value per completion ({n}), got {len(values)}"
        )
    return values[index]


def row_ground_truth(
    kwargs: Mapping[str, Any],
    index: int,
    n: int,
    columns: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ground-truth fields of row ``index`` of an ms-swift reward call.

    Args:
        kwargs: The columns ms-swift passes (each a list of ``n`` values).
        index: The row.
        n: The number of completions.
        columns: ``{field: column}`` renames (default: each field's own name).

    Returns:
        A dict of ground-truth fields (see the module docs for the fallbacks).

    Raises:
        ValueError: For a column of the wrong length, or unreadable ``objects``.

    Example:
        >>> row_ground_truth({"solution": ["(B)"], "objects": [{"ref": ["cat"],
        ...                   "bbox": [[0, 0, 5, 5]]}]}, 0, 1)
        {'answer': '(B)', 'gt_boxes': [[0, 0, 5, 5]], 'gt_labels': ['cat']}
    """
    names = dict(columns or {})
    fields: dict[str, Any] = {}
    for field in GROUND_TRUTH_FIELDS:
        value = _column(kwargs, names.get(field, field), index, n)
        if value is not None and not (isinstance(value, float) and value != value):
            fields[field] = value
    solution = _decode_json(_column(kwargs, "solution", index, n))
    if isinstance(solution, Mapping):
        for field in GROUND_TRUTH_FIELDS:
            if field not in fields and solution.get(field) is not None:
                fields[field] = solution[field]
    elif isinstance(solution, str) and "answer" not in fields:
        fields["answer"] = solution
    if "image_size" not in fields:
        size = _image_size(_column(kwargs, "images", index, n))
        if size is None:
            size = _image_size(_column(kwargs, "image", index, n))
        if size is not None:
            fields["image_size"] = size
    if "gt_boxes" not in fields:
        objects = _column(kwargs, "objects", index, n)
        if objects is not None:
            fields.update(_objects_truth(objects, fields.get("image_size")))
    return fields


class GroundingORM:
    """The weighted total as an ms-swift ORM (``orms["grounding"]``).

    ms-swift constructs it as ``GroundingORM(args=training_args)``; the configuration is
    the class's bound ``config`` (see :func:`grounding_orms`) unless one is passed.

    Args:
        args: ms-swift's training arguments (unused).
        config: A :class:`RewardConfig`, dict or JSON; default: the class's.
        columns: ``{field: column}`` renames of the ground-truth columns.
        **kwargs: Ignored (ms-swift may add arguments).
    """

    component: ClassVar[str | None] = None
    bound_config: ClassVar[RewardConfig] = DEFAULT_CONFIG
    bound_columns: ClassVar[Mapping[str, str] | None] = None

    def __init__(
        self,
        args: Any = None,
        config: ConfigLike = None,
        columns: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.args = args
        self.config = self.bound_config if config is None else resolve_config(config)
        self.columns = dict(columns if columns is not None else self.bound_columns or {})
        if self.component is not None and self.component not in scored_names(self.config):
            raise ConfigError(
                f"{type(self).__name__}: expected a config that scores {self.component!r} "
                f"(give it a weight), got weights for {list(scored_names(self.config))}"
            )
        self._warn = WarnOnce(type(self).__name__, "such rows get reward None (NaN in ms-swift)")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(config={self.config!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.component, self.config, self.columns))

    def score(self, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """The rewards of a batch (the body of ``__call__``, also for the async classes)."""
        n = len(completions)
        rewards: list[float | None] = []
        for index, completion in enumerate(completions):
            try:
                truth: Any = row_ground_truth(kwargs, index, n, self.columns)
            except ValueError as error:
                if "one value per completion" in str(error):
                    raise
                self._warn.warn(str(error)[:60], f"malformed ground truth: {error}")
                rewards.append(None)
                continue
            scored = score_record(completion_text(completion), truth, self.config, warn=self._warn)
            if scored.gt_error:
                rewards.append(None)
            elif self.component is None:
                rewards.append(scored.total)
            else:
                rewards.append(scored.scores.get(self.component))
        return rewards

    def __call__(self, completions: Sequence[Completion], **kwargs: Any) -> list[float | None]:
        """Score completions as ms-swift calls an ORM.

        Args:
            completions: Strings (or message lists).
            **kwargs: The dataset columns ms-swift passes, each one value per completion.

        Returns:
            One reward per completion; ``None`` where the component does not apply or the
            row's ground truth is malformed (one :class:`GroundTruthWarning` per kind).
        """
        return self.score(completions, **kwargs)


class ComponentORM(GroundingORM):
    """Base of the per-component ORMs; ``component`` names the registered component."""

    component: ClassVar[str | None] = None


class _AsyncMixin:
    """``async __call__``: scores in a worker thread, so ms-swift's event loop stays free."""

    async def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        score = self.score  # type: ignore[attr-defined]
        result: list[float | None] = await asyncio.to_thread(score, completions, **kwargs)
        return result


def _make_class(
    component: str | None,
    *,
    asynchronous: bool = False,
    config: RewardConfig | None = None,
    columns: Mapping[str, str] | None = None,
) -> type[GroundingORM]:
    name = "GroundingORM" if component is None else class_name(component)
    base: type[GroundingORM] = GroundingORM if component is None else ComponentORM
    namespace: dict[str, Any] = {"component": component, "__module__": __name__}
    if config is not None:
        namespace["bound_config"] = config
    if columns is not None:
        namespace["bound_columns"] = dict(columns)
    bases: tuple[type, ...] = (base,)
    if asynchronous:
        name = "Async" + name
        bases = (_AsyncMixin, base)
    cls = type(name, bases, namespace)
    cls.__qualname__ = name
    return cls


def _rebuild(
    component: str | None, config: RewardConfig, columns: Mapping[str, str]
) -> GroundingORM:
    cls = GroundingORM if component is None else ORM_CLASSES.get(component)
    if cls is None:
        cls = _make_class(component)
    return cls(config=config, columns=columns)


ORM_CLASSES: dict[str, type[GroundingORM]] = {}
"""``{component name: ORM class}`` for every component registered when this module loaded."""

for _component in components():
    _cls = _make_class(_component.name)
    ORM_CLASSES[_component.name] = _cls
    globals()[_cls.__name__] = _cls


def grounding_orms(
    config: ConfigLike = None,
    *,
    asynchronous: bool = False,
    columns: Mapping[str, str] | None = None,
    prefix: str = REGISTER_PREFIX,
) -> dict[str, type[GroundingORM]]:
    """ORM classes bound to ``config``, keyed by the names to put in ms-swift's ``orms``.

    One class per component ``config`` scores (``<prefix>_<component>``) and the total
    (``<prefix>``); pass the names you want to ``--reward_funcs`` and their weights to
    ``--reward_weights`` (e.g. ``grounding_format grounding_accuracy grounding_bbox``
    with ``RewardConfig.weights``'s values).

    Args:
        config: A :class:`RewardConfig`, dict or JSON; ``None`` for the defaults.
        asynchronous: Return classes with ``async def __call__``.
        columns: ``{field: column}`` renames of the ground-truth columns.
        prefix: The name prefix (ms-swift's own ``format`` and ``accuracy`` are taken).

    Returns:
        ``{name: class}``, the components first, in ``config.weights`` order.
    """
    resolved = resolve_config(config)
    orms: dict[str, type[GroundingORM]] = {}
    for name in scored_names(resolved):
        orms[f"{prefix}_{name}"] = _make_class(
            name, asynchronous=asynchronous, config=resolved, columns=columns
        )
    orms[prefix] = _make_class(None, asynchronous=asynchronous, config=resolved, columns=columns)
    return orms
