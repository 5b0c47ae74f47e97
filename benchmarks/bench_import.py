"""Cost of ``import grounding_rewards`` in a fresh interpreter.

Run:  python benchmarks/bench_import.py [--n 15] [--module grounding_rewards] [--top 12]

Each round starts a new ``python -X importtime -c "import <module>"`` subprocess, so
nothing is cached in memory between rounds (the OS file cache is warm after the first).
The import time is the self-reported cumulative time of the top-level module; the wall
time of the whole process (interpreter start included) is printed beside it. The table
lists, for the median round, the share of each top-level package (numpy, pydantic,
grounding_rewards itself, ...): the self times of its modules, summed, so that the
shares add up to the whole import.

The target for the default install is an import under 150 ms on the development
machine (2 shared cores); numpy, scipy.optimize and shapely are loaded only when needed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _one_round(module: str) -> tuple[float, float, dict[str, float], float]:
    """Import ``module`` in a fresh interpreter.

    Returns:
        (import ms, wall ms, self ms by top-level package, CPU ms of the whole process).
    """
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = (time.perf_counter() - start) * 1e3
    cpu = (_children_cpu() - cpu) * 1e3
    total = 0.0
    by_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        try:
            own_us, cum_us = float(own), float(cumulative)
        except ValueError:  # the header line
            continue
        name = name.strip()
        if name == module:
            total = cum_us / 1e3
        # Self times summed by top-level package add up to the whole import.
        top = name.split(".")[0]
        by_package[top] = by_package.get(top, 0.0) + own_us / 1e3
    return total, wall, by_package, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=15, help="fresh interpreters (default 15)")
    parser.add_argument("--module", default="grounding_rewards")
    parser.add_argument("--top", type=int, default=12, help="packages to list (default 12)")
    args = parser.parse_args(argv)

    _one_round(args.module)  # warm the OS file cache
    rounds = [_one_round(args.module) for _ in range(args.n)]
    imports = [r[0] for r in rounds]
    walls = [r[1] for r in rounds]
    median_import = statistics.median(imports)
    print(f"import {args.module}: {args.n} fresh interpreters, {sys.executable}")
    print(
        f"  import time  median {median_import:7.1f} ms   "
        f"min {min(imports):7.1f}   max {max(imports):7.1f}"
    )
    print(
        f"  process wall median {statistics.median(walls):7.1f} ms   "
        f"(interpreter start and exit included)"
    )
    print(
        f"  process CPU  median {statistics.median(r[3] for r in rounds):7.1f} ms   "
        f"(user + system of the child process)"
    )
    # The package shares of the round whose import time is the median.
    median_round = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
    shares = sorted(median_round[2].items(), key=lambda kv: kv[1], reverse=True)
    print(f"  biggest packages in the median round ({median_round[0]:.1f} ms):")
    for name, ms in shares[: args.top]:
        print(f"    {name:28s} {ms:7.1f} ms  {100 * ms / median_round[0]:5.1f} %")
    heavy = [name for name in ("numpy", "scipy", "shapely") if name in median_round[2]]
    print(f"  heavy packages imported: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
