"""Box formats and coordinate spaces.

Ground truth is always absolute pixel ``xyxy`` in the original image. Models write
boxes in their own space, converted to pixels before any IoU:

============  ====================================================  ==============================
space         what the model writes                                 models
============  ====================================================  ==============================
``pixel``     pixels of the original image                          any model prompted that way
``norm1000``  0-1000 relative to the image                          Qwen2-VL, Qwen3-VL, InternVL
``norm1``     0-1 relative to the image                             many detectors, Florence-style
``norm100``   0-100 relative to the image (percent)                 Molmo points
``qwen25vl``  pixels of the image *after* Qwen2.5-VL's smart-resize  Qwen2.5-VL
============  ====================================================  ==============================

``image_size`` is always ``(width, height)``.

Example:
    >>> to_pixels([[500, 500, 1000, 1000]], "norm1000", (640, 480)).tolist()
    [[320.0, 240.0, 640.0, 480.0]]
    >>> qwen25vl_resize((640, 480))
    (644, 476)
    >>> box_convert([[10, 20, 30, 40]], "xywh", "xyxy").tolist()
    [[10.0, 20.0, 40.0, 60.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, get_args

from grounding_rewards.config import CoordSpace
from grounding_rewards.errors import ConfigError, GroundTruthError, InputError

if TYPE_CHECKING:  # numpy is imported where it is used: the reward's path never needs it
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

__all__ = [
    "COORD_SPACES",
    "QWEN25VL_FACTOR",
    "BoxFormat",
    "as_boxes",
    "box_area",
    "box_convert",
    "from_pixels",
    "pixel_scale",
    "qwen25vl_resize",
    "to_pixels",
    "validate_image_size",
]

BoxFormat: TypeAlias = Literal["xyxy", "xywh", "cxcywh"]
COORD_SPACES: tuple[str, ...] = get_args(CoordSpace)
QWEN25VL_FACTOR = 28  # patch size 14 x spatial merge 2
_MAX_ASPECT_RATIO = 200  # the Qwen2.5-VL processor refuses more


def as_boxes(boxes: ArrayLike) -> NDArray[np.float64]:
    """Return ``boxes`` as a float array of shape ``[N, 4]`` (an empty input gives ``[0, 4]``).

    Args:
        boxes: Anything ``numpy.asarray`` reads as ``[N, 4]`` or a single ``[4]`` box.

    Returns:
        A float64 array ``[N, 4]``.

    Raises:
        InputError: When the shape is not ``[N, 4]`` or ``[4]`` (a ``ValueError``).

    Example:
        >>> as_boxes([1, 2, 3, 4]).shape, as_boxes([]).shape
        ((1, 4), (0, 4))
    """
    import numpy as np

    array = np.asarray(boxes, dtype=np.float64)
    if array.size == 0:
        return array.reshape(0, 4)
    if array.ndim == 1 and array.shape[0] == 4:
        return array.reshape(1, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise InputError(f"expected boxes of shape [N, 4], got {array.shape}")
    return array


def box_area(boxes: ArrayLike) -> NDArray[np.float64]:
    """Area of ``xyxy`` boxes; degenerate boxes have area 0.

    Args:
        boxes: ``[N, 4]`` boxes in ``xyxy``.

    Returns:
        ``[N]`` areas, never negative.

    Example:
        >>> box_area([[0, 0, 2, 3], [5, 5, 4, 4]]).tolist()
        [6.0, 0.0]
    """
    import numpy as np

    b = as_boxes(boxes)
    area: NDArray[np.float64] = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(
        b[:, 3] - b[:, 1], 0, None
    )
    return area


def box_convert(boxes: ArrayLike, in_fmt: BoxFormat, out_fmt: BoxFormat) -> NDArray[np.float64]:
    """Convert boxes between ``xyxy``, ``xywh`` (top-left, size) and ``cxcywh`` (centre, size).

    Args:
        boxes: ``[N, 4]`` boxes in ``in_fmt``.
        in_fmt: Format of ``boxes``.
        out_fmt: Format wanted.

    Returns:
        ``[N, 4]`` boxes in ``out_fmt``.

    Raises:
        ConfigError: For an unknown format (a ``ValueError``).

    Example:
        >>> box_convert([[10, 10, 20, 30]], "xyxy", "cxcywh").tolist()
        [[15.0, 20.0, 10.0, 20.0]]
    """
    formats = get_args(BoxFormat)
    for name, value in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if value not in formats:
            raise ConfigError(f"{name}: expected one of {formats}, got {value!r}")
    b: NDArray[np.float64] = as_boxes(boxes).copy()
    if in_fmt == out_fmt:
        return b
    if in_fmt == "xywh":
        b[:, 2:] += b[:, :2]
    elif in_fmt == "cxcywh":
        half = b[:, 2:] / 2
        b[:, :2], b[:, 2:] = b[:, :2] - half, b[:, :2] + half
    # b is xyxy here
    if out_fmt == "xywh":
        b[:, 2:] -= b[:, :2]
    elif out_fmt == "cxcywh":
        size = b[:, 2:] - b[:, :2]
        b[:, :2], b[:, 2:] = b[:, :2] + size / 2, size
    return b


def validate_image_size(image_size: Sequence[float] | dict[str, float]) -> tuple[float, float]:
    """Check an image size and return it as ``(width, height)`` floats.

    Accepts a ``(width, height)`` pair or a mapping with ``width`` and ``height``.

    Args:
        image_size: The size to check.

    Returns:
        ``(width, height)``.

    Raises:
        GroundTruthError: When it is not two finite positive numbers.

    Example:
        >>> validate_image_size({"width": 640, "height": 480})
        (640.0, 480.0)
    """
    # Checked, not trusted: ground truth arrives from JSON, so anything may come in.
    pair: Any = (
        (image_size.get("width"), image_size.get("height"))
        if isinstance(image_size, dict)  # not Mapping: an ABC check on the hot path
        else image_size
    )
    try:
        raw_width, raw_height = pair
        width, height = float(raw_width), float(raw_height)
    except (TypeError, ValueError):
        raise GroundTruthError(
            f"image_size: expected (width, height), got {image_size!r}"
        ) from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise GroundTruthError(
            f"image_size: expected two finite numbers > 0, got {(width, height)}"
        )
    return width, height


def qwen25vl_resize(
    image_size: Sequence[float],
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
    factor: int = QWEN25VL_FACTOR,
) -> tuple[int, int]:
    """Size of an image after Qwen2.5-VL's smart-resize, as ``(width, height)``.

    This is the processor's rule: round each side to a multiple of ``factor``, then
    scale both (keeping the aspect ratio) into ``[min_pixels, max_pixels]``.
    Qwen2.5-VL writes absolute pixel boxes in *this* image.

    Args:
        image_size: Original ``(width, height)``.
        min_pixels: Processor ``min_pixels`` (official default 3136).
        max_pixels: Processor ``max_pixels`` (official default 12845056).
        factor: Patch size times merge size (28).

    Returns:
        The resized ``(width, height)``.

    Raises:
        GroundTruthError: For a size that is not positive or with an aspect ratio
            above 200, which the processor rejects too.

    Example:
        >>> qwen25vl_resize((1920, 1080))
        (1932, 1092)
        >>> qwen25vl_resize((1920, 1080), max_pixels=1280 * 28 * 28)
        (1316, 728)
    """
    return _qwen25vl_resize(validate_image_size(image_size), min_pixels, max_pixels, factor)


@lru_cache(maxsize=4096)
def _qwen25vl_resize(
    size: tuple[float, float], min_pixels: int, max_pixels: int, factor: int
) -> tuple[int, int]:
    width, height = size
    if max(width, height) / min(width, height) > _MAX_ASPECT_RATIO:
        raise GroundTruthError(
            f"image_size: expected an aspect ratio <= {_MAX_ASPECT_RATIO} "
            f"(the Qwen2.5-VL processor's limit), got {size}"
        )
    # Python's round() (half to even) on purpose: it is what the processor uses.
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int(w_bar), int(h_bar)


def pixel_scale(
    space: CoordSpace,
    image_size: tuple[float, float] | None,
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> tuple[float, float]:
    """Factors ``(sx, sy)`` that take ``space`` coordinates to original-image pixels.

    Args:
        space: The model's coordinate space.
        image_size: Original ``(width, height)``; needed by every space but ``pixel``.
        min_pixels: Qwen2.5-VL ``min_pixels`` (``qwen25vl`` only).
        max_pixels: Qwen2.5-VL ``max_pixels`` (``qwen25vl`` only).

    Returns:
        ``(sx, sy)`` with ``x_pixel = sx * x`` and ``y_pixel = sy * y``.

    Raises:
        GroundTruthError: For a normalized or resized space without an image size.
        ConfigError: For an unknown space (both are ``ValueError``).

    Example:
        >>> pixel_scale("norm1", (640, 480))
        (640.0, 480.0)
    """
    if space == "pixel":
        return 1.0, 1.0
    if space not in COORD_SPACES:
        raise ConfigError(f"coords: expected one of {COORD_SPACES}, got {space!r}")
    if image_size is None:
        raise GroundTruthError(
            f"coords={space!r} needs image_size=(width, height) to convert boxes to pixels, "
            "got None"
        )
    width, height = validate_image_size(image_size)
    if space == "norm1000":
        return width / 1000.0, height / 1000.0
    if space == "norm100":
        return width / 100.0, height / 100.0
    if space == "norm1":
        return width, height
    resized_w, resized_h = _qwen25vl_resize(
        (width, height), min_pixels, max_pixels, QWEN25VL_FACTOR
    )
    return width / resized_w, height / resized_h


def to_pixels(
    boxes: ArrayLike,
    space: CoordSpace,
    image_size: tuple[float, float] | None = None,
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> NDArray[np.float64]:
    """Convert ``xyxy`` boxes from ``space`` to pixels of the original image.

    Args:
        boxes: ``[N, 4]`` boxes as the model wrote them.
        space: ``pixel``, ``norm1000``, ``norm1`` or ``qwen25vl``.
        image_size: Original ``(width, height)``; required unless ``space='pixel'``.
        min_pixels: Qwen2.5-VL ``min_pixels``.
        max_pixels: Qwen2.5-VL ``max_pixels``.

    Returns:
        ``[N, 4]`` pixel boxes.

    Raises:
        GroundTruthError: As :func:`pixel_scale` (both are ``ValueError``).
        ConfigError: As :func:`pixel_scale`.

    Example:
        >>> to_pixels([[0, 0, 644, 476]], "qwen25vl", (640, 480)).tolist()
        [[0.0, 0.0, 640.0, 480.0]]
    """
    sx, sy = pixel_scale(space, image_size, min_pixels=min_pixels, max_pixels=max_pixels)
    import numpy as np

    pixels: NDArray[np.float64] = as_boxes(boxes) * np.array([sx, sy, sx, sy])
    return pixels


def from_pixels(
    boxes: ArrayLike,
    space: CoordSpace,
    image_size: tuple[float, float] | None = None,
    *,
    min_pixels: int = 3136,
    max_pixels: int = 12845056,
) -> NDArray[np.float64]:
    """Convert pixel ``xyxy`` boxes of the original image into ``space``; inverts :func:`to_pixels`.

    Use it to write ground truth the way a given model family expects it (for
    prompts, SFT targets or dataset export).

    Args:
        boxes: ``[N, 4]`` pixel boxes.
        space: Target space.
        image_size: Original ``(width, height)``; required unless ``space='pixel'``.
        min_pixels: Qwen2.5-VL ``min_pixels``.
        max_pixels: Qwen2.5-VL ``max_pixels``.

    Returns:
        ``[N, 4]`` boxes in ``space``.

    Example:
        >>> from_pixels([[320, 240, 640, 480]], "norm1000", (640, 480)).tolist()
        [[500.0, 500.0, 1000.0, 1000.0]]
    """
    sx, sy = pixel_scale(space, image_size, min_pixels=min_pixels, max_pixels=max_pixels)
    import numpy as np

    converted: NDArray[np.float64] = as_boxes(boxes) / np.array([sx, sy, sx, sy])
    return converted
