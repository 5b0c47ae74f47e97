"""Turn grounded QA records into training data for TRL and veRL.

The prompt asks for the grounded format in the coordinate space of the target model
family, and the ground truth stays pixel ``xyxy`` of the original image, so the same
:class:`~grounding_rewards.RewardConfig` (its ``coords``, ``min_pixels``,
``max_pixels`` and tag names) must drive both the export and the reward:

==============  ============  ==========================================================
model family    ``coords``    the model writes
==============  ============  ==========================================================
``qwen2-vl``    ``norm1000``  integers 0-1000 relative to the image
``qwen2.5-vl``  ``qwen25vl``  absolute pixels of the image after the processor's resize
``qwen3-vl``    ``norm1000``  integers 0-1000 relative to the image
``internvl``    ``norm1000``  integers 0-1000 relative to the image
==============  ============  ==========================================================

Targets:

* **TRL** (:func:`to_trl_dataset`): a ``datasets.Dataset`` with a conversational
  ``prompt`` (an image block, then the question, options and instruction), an
  ``image`` column, and the ground-truth columns :mod:`grounding_rewards.trl` reads
  (``answer``, ``choices``, ``gt_boxes``, ``gt_labels``, ``image_size``) plus ``id``.
* **veRL** (:func:`write_verl_parquet`): the columns of veRL's RL dataset:
  ``data_source``, ``prompt`` (``<image>`` then the text), ``images`` (encoded bytes),
  ``ability``, ``reward_model`` (``style`` and ``ground_truth``, the JSON that
  :func:`grounding_rewards.verl.compute_score` reads) and ``extra_info`` (``index``,
  ``split``, ``id``, ``image_size``, ``coords``).
* **EasyR1** (:func:`write_easyr1_parquet`): the columns EasyR1's ``RLHFDataset``
  reads with ``data.prompt_key=prompt``, ``data.image_key=images`` and
  ``data.answer_key=answer``: ``prompt`` (``<image>`` then the text), ``images``
  (``{"bytes"}``, which its ``process_image`` opens) and ``answer``, the JSON of our
  ground-truth keys that EasyR1 hands :func:`grounding_rewards.easyr1.compute_score`
  as ``ground_truth``. With ``qwen25vl`` the prompt states the size the model sees
  after EasyR1's own resize (``data.min_pixels`` / ``data.max_pixels``, see
  :func:`grounding_rewards.easyr1.easyr1_image_size`) and then the processor's.
* **ms-swift** (:func:`write_swift_jsonl`): ms-swift's GRPO JSONL: ``messages``
  (the user turn starts with ``<image>``), ``images`` (a ``data:`` URI that
  ms-swift's ``load_image`` decodes) and the ground-truth columns that
  :mod:`grounding_rewards.swift` reads by name (``answer``, ``choices``,
  ``gt_boxes``, ``gt_labels``, ``image_size``) plus ``id``.
* **OpenRLHF** (:func:`write_openrlhf_jsonl`): ``prompt`` (``<image>`` then the text,
  for ``--data.input_key prompt --data.apply_chat_template``), ``label`` (the JSON of
  our ground-truth keys, for ``--data.label_key label`` and
  :func:`grounding_rewards.openrlhf.reward_func`), ``images`` (a ``data:image`` URI
  that OpenRLHF's ``load_images`` decodes), ``datasource`` and ``id``.
* **Zoom SFT** (:func:`write_zoom_sft_jsonl`): multi-turn trajectories for the cold
  start of tool-using RL (question -> zoom call on the evidence -> zoomed view ->
  grounded answer), each with R_zoom = 1; see :mod:`grounding_rewards.zoom.sft`.

Images are embedded (so the data moves between machines), with EXIF orientation
applied: the pixels the model sees are those the boxes refer to.

Example:
    >>> from grounding_rewards import RewardConfig
    >>> import textwrap
    >>> text = instruction(RewardConfig(coords="qwen25vl"), image_size=(640, 480))
    >>> print(textwrap.fill(text, 88))
    First think inside <think></think>. Each time you mention an object, write its name in
    <obj></obj> and right after it its box in <bbox>[x1, y1, x2, y2]</bbox>, in absolute
    pixels of the image as you see it (644x476). Then write only the letter of the correct
    option inside <answer></answer>.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from grounding_rewards._atomic import atomic_open, atomic_path
from grounding_rewards._optional import require
from grounding_rewards.boxes import qwen25vl_resize
from grounding_rewards.config import DEFAULT_CONFIG, CoordSpace, RewardConfig
from grounding_rewards.easyr1 import EASYR1_MAX_PIXELS, EASYR1_MIN_PIXELS, easyr1_image_size
from grounding_rewards.errors import ConfigError, GroundTruthError
from grounding_rewards.export_schema import GroundedExample

__all__ = [
    "MODEL_FAMILIES",
    "coords_for",
    "data_uri",
    "easyr1_rows",
    "instruction",
    "load_image",
    "openrlhf_rows",
    "split_by_id",
    "swift_rows",
    "to_trl_dataset",
    "trl_rows",
    "user_text",
    "verl_rows",
    "write_easyr1_parquet",
    "write_openrlhf_jsonl",
    "write_swift_jsonl",
    "write_verl_parquet",
    "write_zoom_sft_jsonl",
]

MODEL_FAMILIES: dict[str, CoordSpace] = {
    "qwen2-vl": "norm1000",
    "qwen2.5-vl": "qwen25vl",
    "qwen3-vl": "norm1000",
    "internvl": "norm1000",
}
"""The coordinate space each model family writes boxes in."""

_ROWS_PER_GROUP = 256


def split_by_id(
    examples: Iterable[GroundedExample], val_fraction: float
) -> tuple[list[GroundedExample], list[GroundedExample]]:
    """Split examples into ``(train, val)`` deterministically: each id's hash decides.

    The split does not depend on the input order, so a re-run (or a run over more
    data) keeps every example on its side.

    Args:
        examples: The examples.
        val_fraction: Expected share of validation examples, in ``[0, 1)``.

    Returns:
        ``(train, val)``, each in input order.

    Raises:
        ConfigError: For a fraction outside ``[0, 1)``.

    Example:
        >>> split_by_id([], 0.1)
        ([], [])
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction: expected a number in [0, 1), got {val_fraction}")
    train: list[GroundedExample] = []
    val: list[GroundedExample] = []
    for example in examples:
        digest = hashlib.sha256(example.id.encode("utf-8")).digest()
        side = val if int.from_bytes(digest[:4], "big") / 2**32 < val_fraction else train
        side.append(example)
    return train, val


def coords_for(model_family: str) -> CoordSpace:
    """The ``coords`` setting for a model family.

    Args:
        model_family: One of :data:`MODEL_FAMILIES` (case and ``_``/``.`` are forgiven).

    Returns:
        The coordinate space.

    Raises:
        ConfigError: For an unknown family.

    Example:
        >>> coords_for("Qwen2.5-VL"), coords_for("qwen3_vl")
        ('qwen25vl', 'norm1000')
    """
    key = model_family.lower().replace("_", "-")
    key = {"qwen25-vl": "qwen2.5-vl", "qwen2-5-vl": "qwen2.5-vl"}.get(key, key)
    if key not in MODEL_FAMILIES:
        raise ConfigError(
            f"model family: expected one of {sorted(MODEL_FAMILIES)}, got {model_family!r}"
        )
    return MODEL_FAMILIES[key]


def _space_phrase(config: RewardConfig, image_size: tuple[int, int] | None) -> str:
    if config.coords == "norm1000":
        return "as integers from 0 to 1000 relative to the image width and height"
    if config.coords == "norm1":
        return "as fractions from 0 to 1 of the image width and height"
    if image_size is None:
        raise ConfigError(
            f"coords={config.coords!r}: expected an image size for the prompt, got None"
        )
    if config.coords == "qwen25vl":
        width, height = qwen25vl_resize(
            image_size, min_pixels=config.min_pixels, max_pixels=config.max_pixels
        )
        return f"in absolute pixels of the image as you see it ({width}x{height})"
    return f"in pixels of the {image_size[0]}x{image_size[1]} image"


def instruction(
    config: RewardConfig | None = None, *, image_size: tuple[int, int] | None = None
) -> str:
    """The instruction that asks for the grounded format in ``config.coords``.

    Args:
        config: Tags and coordinate space; ``None`` uses the defaults (pixels).
        image_size: Original ``(width, height)``; needed for ``pixel`` and ``qwen25vl``.

    Returns:
        One paragraph.

    Raises:
        ConfigError: When the space needs an image size and none is given.
    """
    config = config or DEFAULT_CONFIG
    t, a, o, b = config.think_tag, config.answer_tag, config.obj_tag, config.bbox_tag
    return (
        f"First think inside <{t}></{t}>. Each time you mention an object, write its name in "
        f"<{o}></{o}> and right after it its box in <{b}>[x1, y1, x2, y2]</{b}>, "
        f"{_space_phrase(config, image_size)}. Then write only the letter of the correct "
        f"option inside <{a}></{a}>."
    )


def user_text(
    example: GroundedExample, config: RewardConfig | None = None, *, image_size: tuple[int, int]
) -> str:
    """Question, lettered options and instruction, as the user turn's text.

    Example:
        >>> ex = GroundedExample("e", "a.png", "Which?", ("cat", "dog"), "A")
        >>> user_text(ex, image_size=(8, 8)).splitlines()[:3]
        ['Which?', '(A) cat', '(B) dog']
    """
    options = "\n".join(f"({chr(65 + i)}) {text}" for i, text in enumerate(example.choices))
    return f"{example.question}\n{options}\n{instruction(config, image_size=image_size)}"


def load_image(
    path: str | Path, *, expected_size: tuple[int, int] | None = None
) -> tuple[bytes, tuple[int, int]]:
    """Encoded bytes and ``(width, height)`` of an image, EXIF orientation applied.

    The file's own bytes are kept when no rotation is needed; a rotated image is
    re-encoded as PNG so that every reader sees the pixels the boxes refer to.

    Args:
        path: Image file.
        expected_size: The size the record states, checked against the file.

    Returns:
        ``(bytes, (width, height))``.

    Raises:
        GroundTruthError: When the file is not an image or its size is not ``expected_size``.
        MissingDependencyError: Without Pillow.
    """
    pil = require("PIL.Image", extra="export")
    ops = require("PIL.ImageOps", extra="export")
    path = Path(path)
    try:
        data = path.read_bytes()
        with pil.open(io.BytesIO(data)) as image:
            oriented = ops.exif_transpose(image)
            size = (int(oriented.size[0]), int(oriented.size[1]))
            if oriented is not image:
                buffer = io.BytesIO()
                oriented.convert("RGB").save(buffer, format="PNG")
                data = buffer.getvalue()
    except OSError as error:
        raise GroundTruthError(
            f"image {str(path)!r}: expected a readable image file ({error})"
        ) from None
    if expected_size is not None and tuple(expected_size) != size:
        raise GroundTruthError(
            f"image {str(path)!r}: expected size {tuple(expected_size)} as the record states, "
            f"got {size}"
        )
    return data, size


def _truth(example: GroundedExample, size: tuple[int, int]) -> dict[str, Any]:
    return {
        "answer": example.answer,
        "choices": list(example.choices),
        "gt_boxes": [list(box) for box in example.boxes],
        "gt_labels": list(example.labels),
        "image_size": list(size),
    }


def trl_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    system_prompt: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of the TRL dataset (see :func:`to_trl_dataset`), image as ``{"bytes", "path"}``.

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        system_prompt: Optional system message placed before the user turn.

    Yields:
        One dict per example.
    """
    for example in examples:
        data, size = load_image(example.image, expected_size=example.image_size)
        prompt: list[dict[str, Any]] = []
        if system_prompt:
            prompt.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
        prompt.append(
            {
                "role": "user",
                "content": [
                    {"type": "image", "text": None},
                    {"type": "text", "text": user_text(example, config, image_size=size)},
                ],
            }
        )
        yield {
            "id": example.id,
            "prompt": prompt,
            "image": {"bytes": data, "path": example.image},
            **_truth(example, size),
        }


def _trl_generator(
    examples: list[GroundedExample], config: RewardConfig | None, system_prompt: str | None
) -> Iterator[dict[str, Any]]:
    yield from trl_rows(examples, config=config, system_prompt=system_prompt)


def to_trl_dataset(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    system_prompt: str | None = None,
    cache_dir: str | Path | None = None,
) -> Any:
    """A ``datasets.Dataset`` for ``GRPOTrainer`` with the grounding columns.

    Rows are written to Arrow files as they are made (images included), so memory
    stays flat however many examples there are.

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        system_prompt: Optional system message.
        cache_dir: Where the Arrow files go (default: a new temporary folder; the
            dataset reads from it, so keep it until the dataset is saved).

    Returns:
        The dataset (save it with ``save_to_disk``).

    Raises:
        MissingDependencyError: Without ``datasets``.
    """
    datasets = require("datasets", extra="export")
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "prompt": datasets.List(
                {
                    "role": datasets.Value("string"),
                    "content": datasets.List(
                        {"type": datasets.Value("string"), "text": datasets.Value("string")}
                    ),
                }
            ),
            "image": datasets.Image(),
            "answer": datasets.Value("string"),
            "choices": datasets.List(datasets.Value("string")),
            "gt_boxes": datasets.List(datasets.List(datasets.Value("float64"))),
            "gt_labels": datasets.List(datasets.Value("string")),
            "image_size": datasets.List(datasets.Value("int64")),
        }
    )
    # A fresh cache and fingerprint each call: an image file may change under the same
    # path, and a reused cache would then export stale pixels.
    folder = (
        Path(cache_dir) if cache_dir is not None else Path(tempfile.mkdtemp(prefix="gr-export-"))
    )
    return datasets.Dataset.from_generator(
        _trl_generator,
        features=features,
        gen_kwargs={"examples": list(examples), "config": config, "system_prompt": system_prompt},
        cache_dir=str(folder),
        fingerprint=uuid.uuid4().hex,
    )


def verl_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    data_source: str = "grounding_rewards",
    split: str = "train",
    system_prompt: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of veRL's RL dataset (see :func:`write_verl_parquet`).

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        data_source: The ``data_source`` column (veRL groups validation metrics by it).
        split: Written into ``extra_info``.
        system_prompt: Optional system message.

    Yields:
        One dict per example.
    """
    config = config or DEFAULT_CONFIG
    for index, example in enumerate(examples):
        data, size = load_image(example.image, expected_size=example.image_size)
        image: dict[str, Any] = {"bytes": data}
        if config.coords == "qwen25vl":
            # veRL resizes with qwen_vl_utils before the processor does; pinning its pixel
            # budget to the reward's keeps the image the model sees the one the reward assumes.
            image.update(min_pixels=config.min_pixels, max_pixels=config.max_pixels)
        prompt = []
        if system_prompt:
            prompt.append({"role": "system", "content": system_prompt})
        prompt.append(
            {"role": "user", "content": "<image>" + user_text(example, config, image_size=size)}
        )
        yield {
            "data_source": data_source,
            "prompt": prompt,
            "images": [image],
            "ability": "grounding",
            "reward_model": {"style": "rule", "ground_truth": json.dumps(_truth(example, size))},
            "extra_info": {
                "index": index,
                "split": split,
                "id": example.id,
                "image_size": list(size),
                "coords": config.coords,
            },
        }


def write_verl_parquet(
    examples: Iterable[GroundedExample],
    path: str | Path,
    *,
    config: RewardConfig | None = None,
    data_source: str = "grounding_rewards",
    split: str = "train",
    system_prompt: str | None = None,
) -> int:
    """Write veRL's parquet (``data.train_files`` / ``data.val_files``).

    Args:
        examples: The examples.
        path: Output ``.parquet`` file.
        config: Coordinate space and tags of the target model's reward.
        data_source: The ``data_source`` column.
        split: Written into ``extra_info``.
        system_prompt: Optional system message.

    Returns:
        The number of rows written.

    Raises:
        MissingDependencyError: Without ``pyarrow``.
    """
    rows = verl_rows(
        examples, config=config, data_source=data_source, split=split, system_prompt=system_prompt
    )
    return _write_parquet(rows, path)


def _write_parquet(rows: Iterator[dict[str, Any]], path: str | Path) -> int:
    pa = require("pyarrow", extra="export")
    pq = require("pyarrow.parquet", extra="export")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    writer = None
    # Into a temporary file renamed at the end: a failure never leaves half a parquet.
    with atomic_path(path) as temporary:
        try:
            # Row groups of _ROWS_PER_GROUP: memory stays flat, images included.
            while chunk := list(itertools.islice(rows, _ROWS_PER_GROUP)):
                table = pa.Table.from_pylist(chunk, schema=writer.schema if writer else None)
                if writer is None:
                    writer = pq.ParquetWriter(temporary, table.schema)
                writer.write_table(table)
                count += len(chunk)
            if writer is None:  # no rows: still a valid, empty file
                pq.write_table(pa.table({}), temporary)
        finally:
            if writer is not None:
                writer.close()
    return count


_IMAGE_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF8", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)


def data_uri(data: bytes) -> str:
    r"""An encoded image as a ``data:image/...;base64,`` URI (ms-swift and OpenRLHF read it).

    Example:
        >>> data_uri(b"\x89PNG\r\n\x1a\n")
        'data:image/png;base64,iVBORw0KGgo='
    """
    kind = next((name for magic, name in _IMAGE_MAGIC if data.startswith(magic)), None)
    if kind is None:
        kind = "webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else "png"
    return f"data:image/{kind};base64,{base64.b64encode(data).decode('ascii')}"


def easyr1_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    data_min_pixels: int | None = EASYR1_MIN_PIXELS,
    data_max_pixels: int | None = EASYR1_MAX_PIXELS,
) -> Iterator[dict[str, Any]]:
    """Rows of EasyR1's RL dataset (see :func:`write_easyr1_parquet`).

    EasyR1 builds the user turn from ``prompt`` alone (no system message: use its
    ``data.format_prompt`` for one).

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        data_min_pixels: EasyR1's ``data.min_pixels`` (``None`` for its ``null``).
        data_max_pixels: EasyR1's ``data.max_pixels`` (``None`` for its ``null``).

    Yields:
        One dict per example: ``id``, ``prompt``, ``images``, ``answer``.
    """
    config = config or DEFAULT_CONFIG
    for example in examples:
        data, size = load_image(example.image, expected_size=example.image_size)
        # EasyR1 resizes the image before the processor: the prompt states the pixels of
        # that image (qwen25vl), as the reward scores them; ground truth stays original.
        seen = easyr1_image_size(size, data_min_pixels, data_max_pixels)
        yield {
            "id": example.id,
            "prompt": "<image>" + user_text(example, config, image_size=seen),
            "images": [{"bytes": data}],
            "answer": json.dumps(_truth(example, size)),
        }


def write_easyr1_parquet(
    examples: Iterable[GroundedExample],
    path: str | Path,
    *,
    config: RewardConfig | None = None,
    data_min_pixels: int | None = EASYR1_MIN_PIXELS,
    data_max_pixels: int | None = EASYR1_MAX_PIXELS,
) -> int:
    """Write EasyR1's parquet (``data.train_files`` / ``data.val_files``).

    Train with ``data.prompt_key=prompt data.image_key=images data.answer_key=answer
    data.format_prompt=null``, the same ``data.min_pixels`` / ``data.max_pixels``, and
    the reward's ``data_min_pixels`` / ``data_max_pixels`` set to them.

    Args:
        examples: The examples.
        path: Output ``.parquet`` file.
        config: Coordinate space and tags of the target model's reward.
        data_min_pixels: EasyR1's ``data.min_pixels`` (``None`` for its ``null``).
        data_max_pixels: EasyR1's ``data.max_pixels`` (``None`` for its ``null``).

    Returns:
        The number of rows written.

    Raises:
        MissingDependencyError: Without ``pyarrow``.
    """
    rows = easyr1_rows(
        examples, config=config, data_min_pixels=data_min_pixels, data_max_pixels=data_max_pixels
    )
    return _write_parquet(rows, path)


def swift_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    system_prompt: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of ms-swift's GRPO JSONL (see :func:`write_swift_jsonl`).

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        system_prompt: Optional system message placed before the user turn.

    Yields:
        One dict per example: ``messages``, ``images`` and the ground-truth columns.
    """
    for example in examples:
        data, size = load_image(example.image, expected_size=example.image_size)
        messages = []
        if system_prompt:
            messages.append({"role": "system", "content": system_prompt})
        messages.append(
            {"role": "user", "content": "<image>" + user_text(example, config, image_size=size)}
        )
        yield {
            "id": example.id,
            "messages": messages,
            "images": [data_uri(data)],
            **_truth(example, size),
        }


def openrlhf_rows(
    examples: Iterable[GroundedExample],
    *,
    config: RewardConfig | None = None,
    data_source: str = "grounding_rewards",
    system_prompt: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of OpenRLHF's prompt dataset (see :func:`write_openrlhf_jsonl`).

    Args:
        examples: The examples.
        config: Coordinate space and tags of the target model's reward.
        data_source: The ``datasource`` column (OpenRLHF groups evaluation by it).
        system_prompt: Optional system message; the prompt is then a message list.

    Yields:
        One dict per example: ``id``, ``prompt``, ``label``, ``images``, ``datasource``.
    """
    for example in examples:
        data, size = load_image(example.image, expected_size=example.image_size)
        text = "<image>" + user_text(example, config, image_size=size)
        prompt: str | list[dict[str, str]] = text
        if system_prompt:
            prompt = [
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": text},
            ]
        yield {
            "id": example.id,
            "prompt": prompt,
            "label": json.dumps(_truth(example, size)),
            "images": [data_uri(data)],
            "datasource": data_source,
        }


def _write_jsonl(rows: Iterator[dict[str, Any]], path: str | Path) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with atomic_open(path) as handle:  # the old file stays until this one is whole
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_swift_jsonl(
    examples: Iterable[GroundedExample],
    path: str | Path,
    *,
    config: RewardConfig | None = None,
    system_prompt: str | None = None,
) -> int:
    """Write ms-swift's GRPO dataset (``swift rlhf --rlhf_type grpo --dataset PATH``).

    With ``qwen25vl`` the prompt states the size Qwen2.5-VL's resize gives under
    ``config.max_pixels`` / ``config.min_pixels``: launch ms-swift with the same
    ``MAX_PIXELS`` / ``MIN_PIXELS`` environment variables.

    Args:
        examples: The examples.
        path: Output ``.jsonl`` file.
        config: Coordinate space and tags of the target model's reward.
        system_prompt: Optional system message.

    Returns:
        The number of rows written.
    """
    return _write_jsonl(swift_rows(examples, config=config, system_prompt=system_prompt), path)


def write_openrlhf_jsonl(
    examples: Iterable[GroundedExample],
    path: str | Path,
    *,
    config: RewardConfig | None = None,
    data_source: str = "grounding_rewards",
    system_prompt: str | None = None,
) -> int:
    """Write OpenRLHF's prompt dataset (``--data.prompt_dataset PATH``).

    Train with ``--data.input_key prompt --data.label_key label --data.image_key
    images --data.apply_chat_template``. OpenRLHF hands images to the model's processor
    unresized: with ``qwen25vl``, ``config.max_pixels`` / ``min_pixels`` must be the
    processor's (the official checkpoints': 12845056 / 3136).

    Args:
        examples: The examples.
        path: Output ``.jsonl`` file.
        config: Coordinate space and tags of the target model's reward.
        data_source: The ``datasource`` column.
        system_prompt: Optional system message.

    Returns:
        The number of rows written.
    """
    rows = openrlhf_rows(
        examples, config=config, data_source=data_source, system_prompt=system_prompt
    )
    return _write_jsonl(rows, path)


def write_zoom_sft_jsonl(
    examples: Iterable[GroundedExample],
    path: str | Path,
    *,
    config: RewardConfig | None = None,
    zoom: Any = None,
    syntax: str = "deepeyes",
    crops: Any = None,
    system_prompt: str | None = None,
    on_skip: Any = None,
) -> int:
    """Write zoom-in SFT trajectories (:func:`grounding_rewards.zoom.sft.zoom_sft_rows`).

    Only trajectories whose R_zoom is 1 are written; examples without evidence boxes,
    or whose trajectory scores less, are passed to ``on_skip``.

    Args:
        examples: The examples.
        path: Output ``.jsonl`` file.
        config: Coordinate space and tags of the target model's reward.
        zoom: The zoom tool's :class:`~grounding_rewards.zoom.ZoomConfig`.
        syntax: ``deepeyes`` (default), ``mini-o3`` or ``function``.
        crops: Example id -> evidence box -> synthesis crop
            (:func:`grounding_rewards.zoom.sft.synthesis_crops`).
        system_prompt: Optional system message.
        on_skip: Called with ``"<id>: <reason>"`` for each skipped example.

    Returns:
        The number of trajectories written.
    """
    from grounding_rewards.zoom.sft import zoom_sft_rows

    rows = zoom_sft_rows(
        examples,
        config=config,
        zoom=zoom,
        syntax=syntax,
        crops=crops,
        system_prompt=system_prompt,
        on_skip=on_skip,
    )
    return _write_jsonl(rows, path)
