"""The performance table of docs/performance.md, measured in one run.

Usage: ``python benchmarks/performance.py [--quick]``.

1. Resident kernels: resident-updates per second per core at 10k, 100k, 300k
   and 1M residents, beside the plain-Python twin and a per-agent Mesa
   implementation of the same rules (each resident a ``mesa.Agent``), as
   ratios; and the machine's bound for each kernel (bytes touched and random
   draws per update against the measured copy bandwidth and draw cost).
2. Whole runs: the default alliance scenario after warm-up; a cold start in a
   fresh process with an empty numba cache and with a warm cache; 1M
   residents over 240 months (time and peak memory).
3. Sweeps: runs per second on the serial, processes and Dask engines with 2
   workers and the scaling efficiency (``benchmarks/engines.py``).

Twins and the Mesa version are timed on at most 20,000 residents and scaled
per resident (they are linear); everything is measured in this one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mesa
import numba
import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.kernels import best_time, calls, make_inputs  # noqa: E402
from sim.core import kernels  # noqa: E402

#: Bytes read or written per resident update, and random draws per update (adopt includes
#: its affordability pass: read income, write and read affordability; its draws per update
#: are measured on the inputs, see ``adopt_draws``).
TRAFFIC = {
    "adopt": (8 * 8 + 2, 1),
    "group_sums": (24, 0),
    "satisfaction": (8 * 6 + 3, 0),  # with the weight its weighted totals read
    "subscribe": (28, 0),
    "in_market": (40, 0),
}
N_DISTRICTS = 20


# --------------------------------------------------------------------------- machine bound


def copy_bandwidth() -> float:
    """Measured memory copy bandwidth in bytes/s (read + write), 256 MB arrays."""
    src = np.ones(32_000_000)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    t = best_time(lambda: np.copyto(dst, src), 5)
    return 2 * src.nbytes / t


@njit(cache=True)
def _draws(rng, n):  # pragma: no cover - compiled
    total = 0.0
    for _ in range(n):
        total += rng.random()
    return total


def draw_cost() -> float:
    """Seconds per ``rng.random()`` inside a numba loop."""
    rng = np.random.default_rng(0)
    _draws(rng, 10)
    n = 20_000_000
    return best_time(lambda: _draws(rng, n), 3) / n


def adopt_draws(x: dict) -> float:
    """Share of residents whose adoption outcome is random (adopt draws only for them)."""
    afford = kernels.affordability(x["income"], 30.0, 1.0)
    market = x["potential_u"] < 0.8 * x["trust"] * 0.9 * afford
    covered = np.linspace(0.2, 1.0, N_DISTRICTS)[x["district"]] > 0
    return float(np.mean(market & covered))


# --------------------------------------------------------------------------- per-agent Mesa


class _Resident(mesa.Agent):
    """One resident as a Mesa agent, running the adoption and satisfaction rules."""

    def __init__(self, model: _Town, i: int, x: dict) -> None:
        super().__init__(model)
        self.u, self.d = float(x["potential_u"][i]), int(x["district"][i])
        self.income, self.trust = float(x["income"][i]), float(x["trust"][i])
        self.adopted, self.sat = bool(x["adopted"][i]), float(x["satisfaction"][i])

    def adopt(self) -> None:
        m = self.model
        u = m.rng.random()
        c = m.coverage[self.d]
        a = np.exp(-1.0 * 30.0 / (0.01 * self.income))
        in_market = self.u < 0.8 * a * self.trust * 0.9
        if self.adopted:
            if c <= 0 or not in_market or u < 0.02 * 1.1:
                self.adopted = False
        elif in_market and c > 0:
            f = 0.5 * m.share + 0.5 * m.share
            if u < min(1.0, c * (0.03 + 0.38 * f)):
                self.adopted = True

    def satisfy(self) -> None:
        target = 0.9 if self.adopted else 0.5
        self.sat += 0.1 * (target - self.sat)
        self.trust = min(1.0, max(0.0, self.trust + 0.05 * (self.sat - self.trust)))


class _Town(mesa.Model):
    def __init__(self, x: dict) -> None:
        super().__init__(seed=1)
        self.coverage = np.linspace(0.2, 1.0, N_DISTRICTS)
        self.share = 0.1
        for i in range(len(x["district"])):
            _Resident(self, i, x)


def mesa_per_update(n: int) -> dict[str, float]:
    """Seconds per resident update of the per-agent Mesa version (adopt, satisfaction)."""
    town = _Town(make_inputs(n))
    agents = town.agents
    return {
        "adopt": best_time(lambda: agents.do("adopt"), 2) / n,
        "satisfaction": best_time(lambda: agents.do("satisfy"), 2) / n,
    }


# --------------------------------------------------------------------------- whole runs


def _child(code: str, env: dict | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)},
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


RUN_CODE = """
import json, resource, time
t0 = time.perf_counter()
import sim
t1 = time.perf_counter()
sim.run("alliance", seed=0, months={months}, overrides={overrides})
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "run": t2 - t1,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def whole_runs(repeats: int) -> list[tuple[str, str]]:
    """Rows (label, figure) for the whole-run section."""
    import sim

    sim.run("alliance", seed=0)
    times = []
    for seed in range(1, repeats + 1):
        t = time.perf_counter()
        sim.run("alliance", seed=seed)
        times.append(time.perf_counter() - t)
    rows = [
        (
            "default alliance run, warm (20k residents, 240 months)",
            f"{np.median(times):.3f} s median of {repeats} (best {min(times):.3f} s)",
        )
    ]
    with tempfile.TemporaryDirectory() as cache:
        cold = _child(RUN_CODE.format(months=240, overrides={}), {"NUMBA_CACHE_DIR": cache})
        warm = _child(RUN_CODE.format(months=240, overrides={}), {"NUMBA_CACHE_DIR": cache})
    rows += [
        (
            "cold start, empty numba cache (import + first run)",
            f"{cold['import'] + cold['run']:.2f} s (run {cold['run']:.2f} s)",
        ),
        (
            "cold start, warm numba cache (import + first run)",
            f"{warm['import'] + warm['run']:.2f} s (run {warm['run']:.2f} s)",
        ),
    ]
    big = _child(
        RUN_CODE.format(
            months=240,
            overrides={
                "world.residents.simulated_agents": 1_000_000,
                "world.cities.central.population": 1_000_000,
            },
        )
    )
    rows.append(
        ("1M residents x 240 months", f"{big['run']:.2f} s, peak memory {big['peak_mb']:.0f} MiB")
    )
    return rows


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    """Measure and print every section."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip 1M kernels and the sweeps")
    args = ap.parse_args(argv)
    sizes = (10_000, 100_000, 300_000) if args.quick else (10_000, 100_000, 300_000, 1_000_000)
    print(
        f"alliance-sim performance: numba {numba.__version__}, numpy {np.__version__}, "
        f"mesa {mesa.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cores, {platform.machine()}"
    )
    bw, draw = copy_bandwidth(), draw_cost()
    print(
        f"machine: copy bandwidth {bw / 1e9:.1f} GB/s, rng.random() in numba "
        f"{draw * 1e9:.2f} ns/draw\n"
    )
    cap = 20_000
    twin = {k: best_time(f, 1) / cap for k, f in calls(make_inputs(cap), twin=True).items()}
    xs = make_inputs(cap)
    twin["in_market"] = (
        best_time(
            lambda: kernels.in_market_py(
                xs["potential_u"],
                xs["district"],
                kernels.affordability(xs["income"], 30.0, 1.0),
                xs["trust"],
                xs["weight"],
                0.9,
                0.8,
                N_DISTRICTS,
            ),
            1,
        )
        / cap
    )
    mesa_t = mesa_per_update(cap)
    print("1. resident kernels (updates/s per core; ratios measured in this run)")
    head = (
        f"{'kernel':<13}{'N':>10}{'numba upd/s':>13}{'x twin':>8}{'x Mesa':>8}"
        f"{'bound upd/s':>13}{'achieved/bound':>16}"
    )
    print(head)
    print("-" * len(head))
    for n in sizes:
        fast = calls(make_inputs(n), twin=False)
        x = make_inputs(n)
        fast["in_market"] = lambda x=x: kernels.in_market(
            x["potential_u"],
            x["district"],
            kernels.affordability(x["income"], 30.0, 1.0),
            x["trust"],
            x["weight"],
            0.9,
            0.8,
            N_DISTRICTS,
        )
        for name, fn in fast.items():
            fn()
            rate = n / best_time(fn, 5)
            nbytes, draws = TRAFFIC[name]
            if name == "adopt":
                draws = adopt_draws(x)
            bound = 1.0 / (nbytes / bw + draws * draw)
            vs_mesa = f"{rate * mesa_t[name]:>8.0f}" if name in mesa_t else f"{'-':>8}"
            print(
                f"{name:<13}{n:>10,}{rate:>13.3g}{rate * twin[name]:>8.0f}{vs_mesa}"
                f"{bound:>13.3g}{rate / bound:>15.0%}"
            )
    print("\n2. whole runs")
    for label, figure in whole_runs(5):
        print(f"  {label:<58} {figure}")
    if not args.quick:
        print("\n3. sweeps (benchmarks/engines.py)")
        from benchmarks.engines import main as engines

        engines([])


if __name__ == "__main__":
    main()
