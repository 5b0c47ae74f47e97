"""``grounding-rewards export INPUT... --to TRAINER --out PATH``: training data for a trainer.

INPUT is a JSONL file of grounded QA records (the simple schema, see
``grounding_rewards.export_schema``, or ``grounding-rewards synth`` records) or a
``synth`` output folder (its ``records/part-*.jsonl``). The coordinate space is never
guessed: give the target ``--model-family`` (qwen2-vl, qwen2.5-vl, qwen3-vl, internvl)
or ``--coords``, and train with a RewardConfig of the same ``coords``,
``min_pixels`` and ``max_pixels``.

``--to trl`` writes a Hugging Face ``datasets`` folder (load it with
``datasets.load_from_disk``) for ``GRPOTrainer`` and ``grounding_rewards.trl``;
``--to verl`` writes one parquet file for veRL's ``data.train_files`` and
``grounding_rewards.verl.compute_score``; ``--to easyr1`` one parquet file for
EasyR1's ``data.train_files`` (``prompt``, ``images``, ``answer``) and
``grounding_rewards.easyr1.compute_score`` (give EasyR1's ``data.min_pixels`` /
``data.max_pixels`` as ``--data-min-pixels`` / ``--data-max-pixels`` when you change
them: with qwen2.5-vl the prompt states the size the model sees after EasyR1's resize);
``--to swift`` one JSONL file for ms-swift's GRPO ``--dataset`` and
``grounding_rewards.swift``; ``--to openrlhf`` one JSONL file for OpenRLHF's
``--data.prompt_dataset`` (``prompt``, ``label``, ``images``) and
``grounding_rewards.openrlhf.reward_func``; ``--to zoom-sft`` one JSONL file of
multi-turn zoom-in SFT trajectories (``messages`` with ``<image>`` placeholders,
``images``, ``tools``, the ground-truth columns): question, a zoom call on each
evidence box (``--zoom-syntax``: DeepEyes ``<tool_call>`` JSON by default, ``mini-o3``
or ``function``) in the model's coordinates, the zoomed view, the grounded answer. Only
trajectories with ``zoom_reward`` = 1 are written; questions without evidence boxes
are skipped (counted on stderr).

A malformed record (not UTF-8, not JSON, truncated, a missing field, a duplicate id)
is reported on stderr as ``file:line: ...`` and skipped; the other records are
exported and the command exits 1. Text that Arrow cannot store (a lone surrogate from
a model) is replaced by U+FFFD. The output is written atomically: an existing
dataset or parquet file stays intact until the new one is complete.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grounding_rewards._atomic import atomic_dir
from grounding_rewards.cli._common import DataFileError
from grounding_rewards.cli._skipped import SkippedRecords
from grounding_rewards.config import RewardConfig
from grounding_rewards.easyr1 import EASYR1_MAX_PIXELS, EASYR1_MIN_PIXELS
from grounding_rewards.errors import ConfigError, GroundTruthError
from grounding_rewards.export import (
    coords_for,
    to_trl_dataset,
    write_easyr1_parquet,
    write_openrlhf_jsonl,
    write_swift_jsonl,
    write_verl_parquet,
    write_zoom_sft_jsonl,
)
from grounding_rewards.export_schema import GroundedExample, examples_from_line

_SURROGATE = re.compile("[\ud800-\udfff]")

__all__ = ["TARGETS", "input_files", "load_examples", "register", "run"]

TARGETS = ("trl", "verl", "easyr1", "swift", "openrlhf", "zoom-sft")
"""The trainers ``--to`` writes for."""


def register(subparsers: Any) -> None:
    """Add the ``export`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers.
    """
    parser = subparsers.add_parser(
        "export",
        help="export grounded QA records for TRL, veRL, EasyR1, ms-swift, OpenRLHF or zoom SFT",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="JSONL files of grounded QA records, or synth output folders",
    )
    parser.add_argument("--to", required=True, choices=TARGETS, help="target trainer")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output: a dataset folder (trl), a .parquet file (verl, easyr1) "
        "or a .jsonl file (swift, openrlhf, zoom-sft)",
    )
    space = parser.add_mutually_exclusive_group()
    space.add_argument("--model-family", help="qwen2-vl, qwen2.5-vl, qwen3-vl or internvl")
    space.add_argument("--coords", help="pixel, norm1000, norm1 or qwen25vl")
    parser.add_argument(
        "--config",
        type=Path,
        help="JSON file of RewardConfig fields (tags, coords, min/max pixels)",
    )
    parser.add_argument("--min-pixels", type=int, help="Qwen2.5-VL processor min_pixels")
    parser.add_argument("--max-pixels", type=int, help="Qwen2.5-VL processor max_pixels")
    parser.add_argument(
        "--image-root",
        type=Path,
        help="folder relative image paths start from (default: each file's)",
    )
    parser.add_argument("--system-prompt", help="system message before the user turn")
    parser.add_argument(
        "--data-source",
        default="grounding_rewards",
        help="veRL data_source / OpenRLHF datasource column (default: grounding_rewards)",
    )
    parser.add_argument("--split", default="train", help="veRL extra_info split (default: train)")
    for bound, default in (("min", EASYR1_MIN_PIXELS), ("max", EASYR1_MAX_PIXELS)):
        parser.add_argument(
            f"--data-{bound}-pixels",
            type=_pixels_or_none,
            default=default,
            help=f"EasyR1's data.{bound}_pixels, or 'none' for its null (default: {default})",
        )
    parser.add_argument(
        "--zoom-syntax",
        choices=("deepeyes", "mini-o3", "function"),
        default="deepeyes",
        help="zoom-sft: how the zoom call is written (default: deepeyes <tool_call> JSON)",
    )
    parser.set_defaults(handler=run)


def _pixels_or_none(text: str) -> int | None:
    if text.strip().lower() in ("none", "null"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a pixel count or 'none', got {text!r}"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive pixel count, got {value}")
    return value


def _config(args: argparse.Namespace) -> RewardConfig:
    fields: dict[str, Any] = {}
    if args.config is not None:
        loaded = json.loads(args.config.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise DataFileError(f"{args.config}: expected a JSON object of RewardConfig fields")
        fields.update(loaded)
    if args.model_family is not None:
        fields["coords"] = coords_for(args.model_family)
    elif args.coords is not None:
        fields["coords"] = args.coords
    if "coords" not in fields:
        raise ConfigError(
            "coords: expected --model-family or --coords (the space the model writes boxes in), "
            "got neither"
        )
    for name in ("min_pixels", "max_pixels"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    return RewardConfig(**fields)


def input_files(paths: list[Path]) -> list[Path]:
    """The JSONL files behind ``paths``: files as given, folders expanded.

    A ``synth`` output folder gives its ``records/part-*.jsonl``; any other folder
    every ``*.jsonl`` directly inside it, sorted.

    Raises:
        DataFileError: For a path that does not exist or a folder without JSONL.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            records = path / "records"
            found = (
                sorted(records.glob("part-*.jsonl"))
                if records.is_dir()
                else sorted(p for p in path.glob("*.jsonl") if p.name != "failures.jsonl")
            )
            if not found:
                raise DataFileError(f"{path}: expected JSONL files in this folder, found none")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise DataFileError(f"{path}: expected a JSONL file or a folder, got nothing there")
    return files


def _visible(text: str) -> str:
    # Arrow stores UTF-8 only; a lone surrogate (a model's "\ud800") becomes U+FFFD.
    return _SURROGATE.sub("\ufffd", text)


def _storable(example: GroundedExample) -> GroundedExample:
    return dataclasses.replace(
        example,
        id=_visible(example.id),
        question=_visible(example.question),
        choices=tuple(_visible(c) for c in example.choices),
        answer=_visible(example.answer),
        labels=tuple(_visible(label) for label in example.labels),
        rationale=None if example.rationale is None else _visible(example.rationale),
    )


def _line_examples(raw: bytes, where: str, default_id: str) -> list[GroundedExample]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GroundTruthError(
            f"{where}: expected UTF-8 text, got the invalid byte 0x{raw[exc.start]:02x} "
            f"at byte {exc.start + 1} of the line"
        ) from None
    try:
        return examples_from_line(line, where=where, default_id=default_id)
    except RecursionError:
        raise GroundTruthError(
            f"{where}: expected a JSON object, got JSON nested too deeply to decode"
        ) from None
    except GroundTruthError:
        if not raw.endswith(b"\n"):
            raise GroundTruthError(
                f"{where}: expected a complete JSON line, got a truncated last line "
                f"({len(raw)} bytes, no newline: was the writer stopped mid-line?)"
            ) from None
        raise


def _file_examples(
    path: Path,
    image_root: Path | None,
    on_error: Callable[[GroundTruthError], None] | None,
) -> Iterator[GroundedExample]:
    root = image_root if image_root is not None else path.parent
    seen: dict[str, int] = {}
    with open(path, "rb") as handle:  # line by line: one bad line is one bad record
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                examples = _line_examples(raw, where, f"{path.stem}-{number}")
                for example in examples:
                    if example.id in seen:
                        raise GroundTruthError(
                            f"{where}: id: expected a unique id, got {example.id!r} "
                            f"(also on line {seen[example.id]})"
                        )
            except GroundTruthError as error:
                if on_error is None:
                    raise
                on_error(error)
                continue
            for example in examples:
                seen[example.id] = number
                image = Path(example.image).expanduser()
                if not image.is_absolute():
                    image = root / image
                yield _storable(dataclasses.replace(example, image=str(image.resolve())))


def load_examples(
    paths: list[Path],
    *,
    image_root: Path | None = None,
    on_error: Callable[[GroundTruthError], None] | None = None,
) -> list[GroundedExample]:
    """Every example of ``paths``, ids unique across files.

    Args:
        paths: JSONL files or folders (see :func:`input_files`).
        image_root: Folder relative image paths start from (default: each file's).
        on_error: Called with the error of each malformed record, which is then
            skipped; ``None`` raises it.

    Raises:
        DataFileError: For a duplicate id across files.
        GroundTruthError: For a malformed record (naming file and line).
    """
    examples: list[GroundedExample] = []
    seen: dict[str, Path] = {}
    for path in input_files(paths):
        for example in _file_examples(path, image_root, on_error):
            if example.id in seen and seen[example.id] != path:
                raise DataFileError(
                    f"{path}: id: expected ids unique across inputs, got {example.id!r} "
                    f"(also in {seen[example.id]})"
                )
            seen[example.id] = path
            examples.append(example)
    return examples


def run(args: argparse.Namespace) -> int:
    """Export the inputs; print what was written and the reward config to train with.

    Returns:
        0 on success, 1 when the inputs hold no example or malformed records were
        skipped (each reported on stderr).
    """
    config = _config(args)
    skipped = SkippedRecords("export")
    examples = load_examples(args.inputs, image_root=args.image_root, on_error=skipped)
    if not examples:
        print("grounding-rewards export: no examples in the inputs (failed records are skipped)")
        skipped.exit_code()
        return 1
    if args.to == "trl":
        with tempfile.TemporaryDirectory(prefix="gr-export-") as cache:
            dataset = to_trl_dataset(
                examples, config=config, system_prompt=args.system_prompt, cache_dir=cache
            )
            with atomic_dir(args.out) as folder:  # the old folder stays until this one is whole
                dataset.save_to_disk(str(folder))
            count = len(dataset)
            del dataset  # its Arrow files live in the cache folder being removed
    else:
        count = _write_file(args, examples, config)
    print(f"wrote {count} examples to {args.out} ({args.to}, coords={config.coords})")
    reward = f"RewardConfig(coords={config.coords!r}"
    if config.coords == "qwen25vl":
        reward += f", min_pixels={config.min_pixels}, max_pixels={config.max_pixels}"
    print(f"train with {reward})")
    if args.to == "easyr1":
        print(
            f"and EasyR1's data.min_pixels={_easyr1_value(args.data_min_pixels)} "
            f"data.max_pixels={_easyr1_value(args.data_max_pixels)} (the reward's "
            "data_min_pixels / data_max_pixels)"
        )
    return skipped.exit_code()


def _easyr1_value(pixels: int | None) -> str:
    return "null" if pixels is None else str(pixels)


def _write_file(
    args: argparse.Namespace, examples: list[GroundedExample], config: RewardConfig
) -> int:
    """Write the one-file targets (verl, easyr1, swift, openrlhf); the number of rows."""
    if args.to == "easyr1":
        if args.system_prompt:
            raise ConfigError(
                "--system-prompt: expected none for easyr1 (its data loader builds the user "
                "turn only; use EasyR1's data.format_prompt), got one"
            )
        return write_easyr1_parquet(
            examples,
            args.out,
            config=config,
            data_min_pixels=args.data_min_pixels,
            data_max_pixels=args.data_max_pixels,
        )
    if args.to == "zoom-sft":
        return _write_zoom_sft(args, examples, config)
    if args.to == "swift":
        return write_swift_jsonl(
            examples, args.out, config=config, system_prompt=args.system_prompt
        )
    if args.to == "openrlhf":
        return write_openrlhf_jsonl(
            examples,
            args.out,
            config=config,
            data_source=args.data_source,
            system_prompt=args.system_prompt,
        )
    return write_verl_parquet(
        examples,
        args.out,
        config=config,
        data_source=args.data_source,
        split=args.split,
        system_prompt=args.system_prompt,
    )


def _write_zoom_sft(
    args: argparse.Namespace, examples: list[GroundedExample], config: RewardConfig
) -> int:
    from grounding_rewards.zoom.sft import synthesis_crops

    skipped: list[str] = []
    count = write_zoom_sft_jsonl(
        examples,
        args.out,
        config=config,
        syntax=args.zoom_syntax,
        crops=synthesis_crops(input_files(args.inputs)),
        system_prompt=args.system_prompt,
        on_skip=skipped.append,
    )
    if skipped:
        print(
            f"grounding-rewards export: {len(skipped)} questions without a zoom trajectory "
            f"(first: {skipped[0]})",
            file=sys.stderr,
        )
    return count
