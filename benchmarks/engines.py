"""Throughput of the experiment engines on the default alliance scenario, in one run.

Usage: ``python benchmarks/engines.py [--runs 48] [--workers 2] [--months 240]``.

Runs the same experiment (the alliance scenario, ``--runs`` replications,
default 240 months and 20,000 residents) with the serial, processes and Dask
(LocalCluster) engines into fresh temporary folders, checks that all three
tables are identical, and prints runs per second after engine start-up, the
start-up time, and the scaling efficiency: runs/s with N workers divided by
N x serial runs/s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import experiments  # noqa: E402
from experiments.engine.batch import run_experiment  # noqa: E402
from experiments.engine.spec import load_spec  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    """Run the three engines and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=48)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--months", type=int, default=240)
    args = ap.parse_args(argv)
    spec = load_spec(
        {
            "experiment": {
                "name": "bench",
                "seed": 1,
                "replications": args.runs,
                "months": args.months,
            },
            "scenarios": [{"file": "alliance"}],
        }
    )
    print(
        f"alliance-sim engines: {args.runs} runs of the alliance scenario ({args.months} months),"
        f" python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(f"{'engine':<11}{'workers':>8}{'runs/s':>9}{'start-up s':>12}{'efficiency':>12}")
    tables, serial_rate = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for engine, workers in (("serial", 1), ("processes", args.workers), ("dask", args.workers)):
            summary = run_experiment(spec, Path(tmp) / engine, engine=engine, workers=workers)
            rate = summary.runs_per_second
            serial_rate = serial_rate or rate
            eff = rate / (workers * serial_rate)
            print(f"{engine:<11}{workers:>8}{rate:>9.2f}{summary.startup:>12.1f}{eff:>11.0%}")
            tables[engine] = experiments.load(Path(tmp) / engine).drop(
                columns=["duration_s", "worker"]
            )
    same = all(tables["serial"].equals(t) for t in tables.values())
    print(f"identical results on every engine: {same}")


if __name__ == "__main__":
    main()
