"""``grounding-rewards synth IMAGES --out DIR``: synthesize verified, grounded QA.

IMAGES are directories (searched recursively), image files, ``.txt`` lists of
paths or globs. Each image becomes one JSON line in ``DIR/records/``; failures go
to ``DIR/failures.jsonl`` with their reason and the run goes on. Rerunning the
same command resumes: finished images are skipped, failed ones retried, nothing
is written twice. ``--backend openai --base-url http://host:8000/v1 --model M``
talks to a vLLM or SGLang server (the API key comes from ``OPENAI_API_KEY``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grounding_rewards.cli._common import DataFileError

__all__ = ["build_pipeline", "parse_options", "register", "run"]

BACKENDS = ("offline", "openai", "vllm", "transformers")


def register(subparsers: Any) -> None:
    """Add the ``synth`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers.
    """
    parser = subparsers.add_parser(
        "synth",
        help="synthesize verified grounded QA from images",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", help="image files, directories, .txt lists or globs")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default="offline",
        help="captioning VLM backend (default: the deterministic offline one)",
    )
    parser.add_argument("--model", help="model name for the backend")
    parser.add_argument("--base-url", help="server URL for --backend openai")
    parser.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra backend option (VALUE parsed as JSON when it can be)",
    )
    parser.add_argument(
        "--verifier-backend", choices=BACKENDS, help="verifier LLM backend (default: the captioner)"
    )
    parser.add_argument("--verifier-model", help="model name for the verifier")
    parser.add_argument("--verifier-base-url", help="server URL for the verifier")
    parser.add_argument("--verifier-option", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--detector",
        default="vlm",
        help="comma-separated: vlm, face-cascade, owlv2[:model], "
        "grounding-dino[:model] (default: vlm)",
    )
    parser.add_argument("--config", type=Path, help="JSON file of SynthesisConfig fields")
    parser.add_argument("--seed", type=int, help="base seed (overrides --config)")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the verifier (only to measure what it catches)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="records in flight (default 8)")
    parser.add_argument("--shard-size", type=int, default=1000, help="records per shard")
    parser.add_argument(
        "--retry-failed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="retry images that failed in an earlier run (default: yes)",
    )
    parser.add_argument(
        "--allow-mixed-config",
        action="store_true",
        help="write into a directory made with another configuration",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--ray",
        action="store_true",
        help="run as a Ray Data job (grounding_rewards.synthesis.ray_job)",
    )
    ray = parser.add_argument_group("Ray Data (with --ray)")
    ray.add_argument("--ray-actors", type=int, help="pipeline actors (default: GR_RAY_ACTORS or 2)")
    ray.add_argument("--ray-cpus-per-actor", type=float, help="CPUs per actor (default 1)")
    ray.add_argument("--ray-gpus-per-actor", type=float, help="GPUs per actor (default 0)")
    parser.set_defaults(handler=run)


def parse_options(pairs: list[str], flag: str) -> dict[str, Any]:
    """``["k=v", ...]`` into a dict; values are JSON when they parse, else strings.

    Example:
        >>> parse_options(["timeout_s=5", "model=qwen", 'hallucinate=["mention"]'], "--x")
        {'timeout_s': 5, 'model': 'qwen', 'hallucinate': ['mention']}
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DataFileError(f"{flag}: expected KEY=VALUE, got {pair!r}")
        try:
            options[key.strip().replace("-", "_")] = json.loads(value)
        except ValueError:
            options[key.strip().replace("-", "_")] = value
    return options


def _backend_options(
    model: str | None, base_url: str | None, pairs: list[str], flag: str
) -> dict[str, Any]:
    options = parse_options(pairs, flag)
    if model is not None:
        options["model"] = model
    if base_url is not None:
        options["base_url"] = base_url
    return options


def _config(args: argparse.Namespace) -> Any:
    from grounding_rewards.synthesis.config import SynthesisConfig

    fields: dict[str, Any] = {}
    if args.config is not None:
        loaded = json.loads(args.config.read_text(encoding="utf-8"))
        if not isinstance(loaded, dict):
            raise DataFileError(f"{args.config}: expected a JSON object of SynthesisConfig fields")
        fields.update(loaded)
    if args.seed is not None:
        fields["seed"] = args.seed
    if args.no_verify:
        fields["verify"] = False
    return SynthesisConfig(**fields)


def build_pipeline(args: argparse.Namespace) -> Any:
    """The :class:`~grounding_rewards.synthesis.pipeline.Pipeline` the arguments describe."""
    from grounding_rewards.synthesis.backends import make_backend
    from grounding_rewards.synthesis.pipeline import Pipeline

    captioner = make_backend(args.backend, **args.backend_options)
    verifier = None
    if args.verifier_backend is not None or args.verifier_options:
        verifier = make_backend(args.verifier_backend or args.backend, **args.verifier_options)
    return Pipeline(
        captioner, config=args.synthesis_config, detectors=args.detectors, verifier=verifier
    )


def run(args: argparse.Namespace) -> int:
    """Run ``synth``; returns the exit code (0 when the run completed, failures included)."""
    from grounding_rewards.synthesis.backends.detectors import make_detectors

    args.synthesis_config = _config(args)
    args.backend_options = _backend_options(
        args.model, args.base_url, args.backend_option, "--backend-option"
    )
    args.verifier_options = _backend_options(
        args.verifier_model, args.verifier_base_url, args.verifier_option, "--verifier-option"
    )
    args.detectors = make_detectors(args.detector)
    if args.ray:
        import importlib

        ray_job = importlib.import_module("grounding_rewards.synthesis.ray_job")
        code: int = ray_job.run_cli(args)
        return code

    from grounding_rewards.synthesis.pipeline import run_sync
    from grounding_rewards.synthesis.runner import iter_image_paths, run_synthesis

    pipeline = build_pipeline(args)
    progress = sys.stderr.isatty() if args.progress is None else args.progress

    async def go() -> Any:
        try:
            return await run_synthesis(
                iter_image_paths(args.images),
                args.out,
                pipeline,
                concurrency=args.concurrency,
                shard_size=args.shard_size,
                retry_failed=args.retry_failed,
                allow_mixed_config=args.allow_mixed_config,
                progress=progress,
            )
        finally:
            await pipeline.captioner.aclose()
            if pipeline.verifier is not pipeline.captioner:
                await pipeline.verifier.aclose()

    summary = run_sync(go())
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    else:
        print(summary.format())
        print(f"output: {args.out}")
    return 0
