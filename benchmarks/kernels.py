"""Benchmark the resident kernels of ``sim.core.kernels`` against their plain-Python twins.

Usage: ``python benchmarks/kernels.py [--sizes 10000 100000 300000] [--repeats 5]``.

For every size N and kernel, the numba kernel is timed after a warm-up call (best of
``--repeats``); the plain-Python twin is timed once on min(N, ``--twin-cap``) residents
and scaled per resident. Prints time per call, resident-updates per second and the
speed-up, all measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.core import kernels  # noqa: E402

N_DISTRICTS = 20
N_SERVICES = 3


def make_inputs(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Synthetic resident arrays of size ``n`` (types as in ``agents.residents``)."""
    r = np.random.default_rng(seed)
    return {
        "district": r.integers(0, N_DISTRICTS, n),
        "income": r.lognormal(np.log(6_000), 0.7, n),
        "trust": r.random(n),
        "potential_u": r.random(n),
        "adopted": (r.random(n) < 0.3).astype(np.uint8),
        "adopted_2d": (r.random((N_SERVICES, n)) < 0.3).astype(np.uint8),
        "satisfaction": r.random(n),
        "weight": np.full(n, 35.0),
        "wants": r.integers(0, 41, n),
        "order": r.permutation(n),
        "groups": r.integers(0, N_DISTRICTS * 5, n),
    }


def calls(x: dict[str, np.ndarray], twin: bool) -> dict[str, Callable[[], object]]:
    """One zero-argument call per kernel; state arrays are updated in place call after call."""
    k = {
        name: getattr(kernels, name + ("_py" if twin else ""))
        for name in ("adopt", "group_sums", "satisfaction", "subscribe")
    }
    cod = np.repeat(np.arange(2), N_DISTRICTS // 2)
    cov = np.linspace(0.2, 1.0, N_DISTRICTS)
    share_d, share_c = np.full(N_DISTRICTS, 0.1), np.full(2, 0.1)
    quality, shock = np.array([0.9, 0.6, 1.2]), np.full(N_DISTRICTS, 0.001)
    afford = np.empty_like(x["income"])
    rng = np.random.default_rng(1)
    supply = float(x["wants"].sum() * 35.0 * 0.5)  # sells out half way
    return {
        "adopt": lambda: k["adopt"](  # the fee's affordability pass is part of the cost
            x["adopted"],
            x["potential_u"],
            x["district"],
            cod,
            kernels.affordability(x["income"], 30.0, 1.0, out=afford),
            x["trust"],
            cov,
            share_d,
            share_c,
            0.9,
            0.03,
            0.38,
            0.02,
            0.8,
            0.5,
            rng,
            x["weight"],
            x["district"],
            np.zeros(N_DISTRICTS),
            np.zeros(N_DISTRICTS),
        ),
        "group_sums": lambda: k["group_sums"](
            x["satisfaction"], x["groups"], x["weight"], N_DISTRICTS * 5
        ),
        "satisfaction": lambda: k["satisfaction"](
            x["satisfaction"],
            x["trust"],
            x["adopted_2d"],
            quality,
            x["district"],
            shock,
            0.1,
            0.05,
            x["weight"],
        ),
        "subscribe": lambda: k["subscribe"](x["order"], x["wants"], 40, x["weight"], 500.0, supply),
    }


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    ap.add_argument("--repeats", type=int, default=5, help="numba calls timed per cell")
    ap.add_argument("--twin-cap", type=int, default=20_000, help="residents for the twin")
    args = ap.parse_args(argv)

    print(
        f"numba {numba.__version__}, numpy {np.__version__}, python "
        f"{platform.python_version()}, {os.cpu_count()} cores "
        f"({numba.config.NUMBA_NUM_THREADS} numba threads; kernels are serial), "
        f"{platform.machine()}"
    )
    head = (
        f"{'kernel':<13}{'N':>9}{'numba s/call':>14}{'numba upd/s':>14}"
        f"{'python s/call':>15}{'python upd/s':>14}{'speed-up':>10}"
    )
    print(head)
    print("-" * len(head))
    twin_cache: dict[int, dict[str, float]] = {}
    for n in args.sizes:
        fast = calls(make_inputs(n), twin=False)
        n_twin = min(n, args.twin_cap)
        if n_twin not in twin_cache:
            slow = calls(make_inputs(n_twin), twin=True)
            twin_cache[n_twin] = {name: best_time(fn, 1) / n_twin for name, fn in slow.items()}
        for name, fn in fast.items():
            fn()  # warm-up (compilation or cache load)
            t_numba = best_time(fn, args.repeats)
            t_py = twin_cache[n_twin][name] * n
            print(
                f"{name:<13}{n:>9,}{t_numba:>14.2e}{n / t_numba:>14.2e}"
                f"{t_py:>15.2e}{n / t_py:>14.2e}{t_py / t_numba:>10.0f}"
            )


if __name__ == "__main__":
    main()
