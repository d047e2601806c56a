"""Time whole model runs and the resident kernels against their twins, in one run.

Usage: ``python benchmarks/model.py [--repeats 5] [--months 240]``.

Prints, for the default ``traditional`` and ``alliance`` scenarios (20,000
simulated residents, 240 months): the first run in a fresh process (numba's
on-disk cache loaded, or compiled if the cache is empty), then the median
and best wall time of ``--repeats`` warm runs; and the adoption kernel's
speed-up over its plain-Python twin at the same population size, measured in
this same process.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sim  # noqa: E402
from benchmarks.kernels import best_time, calls, make_inputs  # noqa: E402


def time_runs(scenario: str, repeats: int, months: int) -> tuple[float, list[float]]:
    """First-run time and warm-run times of one scenario (seconds)."""
    t0 = time.perf_counter()
    sim.run(scenario, seed=0, months=months)
    first = time.perf_counter() - t0
    warm = []
    for seed in range(1, repeats + 1):
        t0 = time.perf_counter()
        sim.run(scenario, seed=seed, months=months)
        warm.append(time.perf_counter() - t0)
    return first, warm


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--months", type=int, default=240)
    args = ap.parse_args(argv)
    print(
        f"alliance-sim benchmark: numba {numba.__version__}, numpy {np.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )
    print(f"\nwhole runs ({args.months} months, default scenarios)")
    print(f"{'scenario':<13}{'first run s':>12}{'warm median s':>15}{'warm best s':>13}")
    for scenario in ("traditional", "alliance"):
        first, warm = time_runs(scenario, args.repeats, args.months)
        print(f"{scenario:<13}{first:>12.3f}{statistics.median(warm):>15.3f}{min(warm):>13.3f}")
    n = sim.run("alliance", months=1).scenario.world.residents.simulated_agents
    print(f"\nkernels vs plain-Python twins at N = {n:,} residents")
    print(f"{'kernel':<13}{'numba s/call':>14}{'python s/call':>15}{'speed-up':>10}")
    fast, slow = calls(make_inputs(n), twin=False), calls(make_inputs(n), twin=True)
    for name in fast:
        fast[name]()
        t_fast = best_time(fast[name], args.repeats)
        t_slow = best_time(slow[name], 1)
        print(f"{name:<13}{t_fast:>14.2e}{t_slow:>15.2e}{t_slow / t_fast:>10.0f}")


if __name__ == "__main__":
    main()
