"""Synthesis throughput against a stub OpenAI-compatible server with a fixed latency.

With ``C`` requests in flight and a server that takes ``L`` seconds per answer, no
client can do better than ``C / L`` requests per second: that is the bound. The
question is whether *our* side (the HTTP backend, and the whole pipeline around it)
keeps ``C`` requests in flight, or spends so long on its own work that the server
waits. Two measurements, in one run, against the same server:

1. ``backend``: the HTTP backend alone (``generate_many`` at concurrency C);
2. ``pipeline``: the local runner making N records (default 10,000 distinct small
   images generated on the fly) through that backend, at C records in flight and at
   most C requests in flight, with the process's RSS sampled as records go by
   (memory must stay flat: nothing is kept per record but its id).

The stub runs in its own process on 127.0.0.1 (so its CPU is not ours), answers each
stage with a fixed, valid answer, and stops by itself after ``--max-seconds``.
Every loop here is bounded by a count. Run it with:

    python benchmarks/bench_synthesis.py                      # L = 50 ms, C = 64, N = 10,000
    python benchmarks/bench_synthesis.py --latency 0.2 --records 2000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np

from grounding_rewards.synthesis.backends.base import GenerationRequest
from grounding_rewards.synthesis.backends.openai_http import OpenAIBackend
from grounding_rewards.synthesis.config import SynthesisConfig
from grounding_rewards.synthesis.pipeline import Pipeline
from grounding_rewards.synthesis.runner import run_synthesis
from grounding_rewards.synthesis.testing_server import StubOpenAIServer, request_text

# -- the stub's answers (in the server process) ------------------------------------

_SIZE = re.compile(r"(\d+) ?x ?(\d+) pixels")
_LABELS = re.compile(r"objects in the image: (\[.*?\])\.")
_STATEMENTS = re.compile(r"Statements \(JSON\):\n(.*?)\n\nAnswer with JSON", re.S)


def fast_responder(body: dict[str, Any]) -> str:
    """A valid answer per stage at almost no CPU cost (the stage is the schema's name)."""
    stage = ""
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        stage = str(response_format.get("json_schema", {}).get("name", ""))
    prompt = request_text(body)
    answer: dict[str, Any]
    if stage == "main_caption":
        answer = {"caption": "A gray image. It shows a block.", "objects": ["block"]}
    elif stage == "ground":
        size = _SIZE.search(prompt)
        width, height = (int(size[1]), int(size[2])) if size else (64, 64)
        labels = json.loads(match[1]) if (match := _LABELS.search(prompt)) else ["block"]
        box = [width * 0.25, height * 0.25, width * 0.75, height * 0.75]
        answer = {"objects": [{"label": labels[0] if labels else "block", "box": box}]}
    elif stage == "branch_caption":
        answer = {
            "caption": "The block is mostly red.",
            "attributes": {"color": "red"},
            "mentions": ["block"],
        }
    elif stage == "verify":
        found = _STATEMENTS.search(prompt)
        ids = [s["id"] for s in json.loads(found[1])] if found else []
        answer = {"verdicts": [{"id": i, "verdict": "keep", "text": "", "note": ""} for i in ids]}
    else:
        answer = {"echo": prompt[:40]}
    return json.dumps(answer)


def serve(latency: float, max_seconds: float) -> int:
    server = StubOpenAIServer(latency_s=latency, responder=fast_responder)
    asyncio.run(server.serve_until(max_seconds))
    return 0


# -- the client side -----------------------------------------------------------------


def rss_mib() -> float:
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:  # Linux without psutil
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stub_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        stats: dict[str, int] = json.load(response)
    return stats


def images(count: int, side: int) -> Iterator[tuple[str, bytes]]:
    """``count`` distinct small PNGs, made one at a time (nothing is held)."""
    from PIL import Image

    for k in range(count):
        pixels = np.full((side, side, 3), 128, np.uint8)
        pixels[side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] = (200, 30, 30)
        pixels[0, 0] = (k % 256, (k // 256) % 256, (k // 65536) % 256)  # distinct bytes
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
        yield f"bench/{k:06d}.png", buffer.getvalue()


async def bench_backend(port: int, concurrency: int, count: int, latency: float) -> float:
    backend = OpenAIBackend(
        model="stub", base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=concurrency
    )
    schema = {"type": "object"}
    requests = [
        GenerationRequest(prompt=f"p{k}", json_schema=schema, template_id="x@v1")
        for k in range(count)
    ]
    await backend.generate_many(requests[: concurrency * 2])  # open the pool
    cpu0, start = cpu_s(), time.perf_counter()
    results = await backend.generate_many(requests)
    elapsed = time.perf_counter() - start
    cpu = cpu_s() - cpu0
    await backend.aclose()
    failed = sum(not isinstance(r, str) for r in results)
    rate = count / elapsed
    bound = concurrency / latency
    print(
        f"backend : {count} requests in {elapsed:.2f} s = {rate:.0f} req/s; "
        f"bound {bound:.0f} req/s; ratio {rate / bound:.3f}; failed {failed}; "
        f"max in flight {backend.stats.max_in_flight}"
    )
    print(
        f"backend : client CPU {1e6 * cpu / count:.0f} us per request "
        f"({cpu / elapsed:.2f} cores busy; one core would allow {count / cpu:.0f} req/s)"
    )
    return rate / bound


async def bench_pipeline(
    port: int, concurrency: int, records: int, latency: float, side: int
) -> float:
    backend = OpenAIBackend(
        model="stub", base_url=f"http://127.0.0.1:{port}/v1", max_concurrency=concurrency
    )
    config = SynthesisConfig(min_image_side=16, min_crop_side=32, max_crop_side=64)
    pipeline = Pipeline(backend, config=config, detectors=["vlm"])
    samples: list[tuple[int, float]] = []

    def sampled(source: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
        for k, item in enumerate(source):
            if k % max(1, records // 10) == 0:
                samples.append((k, rss_mib()))
            yield item

    with tempfile.TemporaryDirectory() as out:
        before = stub_stats(port)["requests"]
        cpu0, start = cpu_s(), time.perf_counter()
        summary = await run_synthesis(
            sampled(images(records, side)),
            out,
            pipeline,
            concurrency=concurrency,
            progress=False,
            total=records,
        )
        elapsed = time.perf_counter() - start
        cpu = cpu_s() - cpu0
        samples.append((records, rss_mib()))
        requests = stub_stats(port)["requests"] - before
    await backend.aclose()
    rate = requests / elapsed
    bound = concurrency / latency
    middle = min(samples, key=lambda s: abs(s[0] - records // 2))
    print(
        f"pipeline: {summary.written} records ({summary.failed} failed) in {elapsed:.1f} s = "
        f"{summary.written / elapsed:.1f} records/s, {requests} requests "
        f"({requests / max(1, summary.written + summary.failed):.2f} per record) = "
        f"{rate:.0f} req/s; bound {bound:.0f} req/s; ratio {rate / bound:.3f}"
    )
    print(
        f"pipeline: client CPU {cpu:.1f} s = {1000 * cpu / max(1, records):.2f} ms per record "
        f"({cpu / elapsed:.2f} cores busy)"
    )
    print(
        f"memory  : RSS {samples[0][1]:.1f} MiB at start, {middle[1]:.1f} MiB at record "
        f"{middle[0]}, {samples[-1][1]:.1f} MiB at the end "
        f"(growth {samples[-1][1] - samples[0][1]:+.1f} MiB over {records} records); "
        f"samples: {', '.join(f'{k}:{v:.0f}' for k, v in samples)}"
    )
    if summary.failures_by_reason or summary.stage_errors:
        print(
            f"          failures {summary.failures_by_reason} stage errors {summary.stage_errors}"
        )
    return rate / bound


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="stub seconds per answer")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--backend-requests", type=int, default=5_000)
    parser.add_argument("--image-side", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.latency, args.max_seconds)

    command = [
        sys.executable,
        __file__,
        "--serve",
        "--latency",
        str(args.latency),
        "--max-seconds",
        str(args.max_seconds),
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line.startswith("LISTENING"):
            raise RuntimeError(f"stub server did not start: {line!r}")
        port = int(line.split()[1])
        print(
            f"stub server: 127.0.0.1:{port}, latency {args.latency * 1000:.0f} ms; "
            f"concurrency {args.concurrency}; bound {args.concurrency / args.latency:.0f} req/s; "
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
        )
        ratio_backend = asyncio.run(
            bench_backend(port, args.concurrency, args.backend_requests, args.latency)
        )
        ratio_pipeline = asyncio.run(
            bench_pipeline(port, args.concurrency, args.records, args.latency, args.image_side)
        )
        stats = stub_stats(port)
        print(
            f"stub    : max in flight {stats['max_in_flight']}, "
            f"{stats['connections']} connections for {stats['requests']} requests"
        )
        for name, ratio in (("backend", ratio_backend), ("pipeline", ratio_pipeline)):
            verdict = "meets" if ratio >= 0.9 else "MISSES"
            print(f"target  : {name} {verdict} 90% of the bound ({ratio:.1%})")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
