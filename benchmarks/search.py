"""Overhead of the robust design search: optimiser and store time against the runs' time.

Runs (or continues, or only reads) a search and prints how its time splits: the runs'
own time (summed over the workers, and shared over them), the engine's wall time for
the generations' experiments, the optimiser (pymoo's ask and tell), and the search's
bookkeeping (metrics, the epsilon archive, checkpoints, the evaluations table). The
overhead is everything beyond the runs' own time shared over the workers, as a share of
it; the target is at most 10 %. It then extrapolates the time of the issue's full
target (2,000 designs x 30 worlds = 60,000 runs) from the measured time per run.

Run: ``PYTHONPATH=. nice python benchmarks/search.py [SPEC] [--out FOLDER] [--workers 2]``
(default: the documented search, ``experiments/specs/search_alliance.toml``, into
``results/search/alliance``; ``--read-only`` prints the figures of a finished folder).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd


def figures(folder: Path) -> list[str]:
    """The overhead figures of a search folder, one line each."""
    manifest = json.loads((folder / "search.json").read_text())
    conv = pd.read_csv(folder / "convergence.csv")
    t = manifest["timings"]
    runs = int(conv["runs"].sum())
    workers = int(conv["workers"].iloc[-1])
    per_run = t["seconds_runs"] / runs if runs else float("nan")
    opt_per_gen = t["seconds_optimiser"] / len(conv)
    engine_extra = t["seconds_engine"] - t["seconds_runs_per_worker"]
    target_runs = 2000 * 30
    target_runs_time = target_runs * per_run / workers
    gens = 2000 / manifest["spec"]["search"]["population"]
    target_extra = gens * opt_per_gen + gens * t["seconds_bookkeeping"] / len(conv)
    return [
        f"search {manifest['name']}: {manifest['evaluations']} designs, {len(conv)} generations, "
        f"{runs} runs on {workers} workers ({manifest.get('engine', '')})",
        f"runs' own time: {t['seconds_runs']:.1f} s ({per_run * 1000:.0f} ms per run), "
        f"{t['seconds_runs_per_worker']:.1f} s shared over {workers} workers",
        f"engine wall time of the generations: {t['seconds_engine']:.1f} s "
        f"(beyond the runs' time per worker: {engine_extra:+.1f} s, "
        f"{100 * engine_extra / t['seconds_runs_per_worker']:+.1f} %)",
        f"optimiser (ask + tell): {t['seconds_optimiser']:.3f} s ({opt_per_gen * 1000:.1f} ms per "
        f"generation); bookkeeping and store: {t['seconds_bookkeeping']:.3f} s",
        f"optimiser + bookkeeping: {100 * t['optimiser_and_store_share']:.2f} % of the runs' "
        f"time per worker; overhead in all (engine included): {100 * t['overhead']:.1f} %",
        f"full target, 2,000 designs x 30 worlds = {target_runs:,} runs at the measured "
        f"{per_run * 1000:.0f} ms per run on {workers} workers: {target_runs_time / 3600:.1f} h "
        f"of runs + {target_extra:.0f} s of optimiser and bookkeeping "
        f"({100 * target_extra / target_runs_time:.2f} %)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="search_alliance")
    parser.add_argument("--out", default="results/search/alliance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engine", default="processes")
    parser.add_argument("--read-only", action="store_true", help="only print the figures")
    args = parser.parse_args()
    out = Path(args.out)
    if not args.read_only:
        from experiments.search.spec import load_search_spec
        from experiments.search.study import run_search

        spec = load_search_spec(args.spec)
        fresh = not (out / "search.json").exists()
        print(f"alliance search {args.spec} --out {out} --workers {args.workers}")
        t0 = time.perf_counter()
        run_search(spec, out, engine=args.engine, workers=args.workers, spec_source=args.spec)
        wall = time.perf_counter() - t0
        print(f"wall time of this invocation: {wall:.1f} s")
        if fresh:  # every run of every store ran in this invocation
            print(whole(out, wall, args.workers))
    for line in figures(out):
        print(line)


def whole(folder: Path, wall: float, workers: int) -> str:
    """The whole invocation (shipped designs, generations, re-evaluation, charts)."""
    from experiments.engine.store import load

    seconds = sum(load(p)["duration_s"].sum() for p in sorted((folder / "runs").iterdir()))
    ideal = seconds / workers
    return (
        f"whole search, start to end: {wall:.1f} s against {ideal:.1f} s of runs per worker "
        f"(every store, re-evaluation included): {100 * (wall / ideal - 1):+.1f} %"
    )


if __name__ == "__main__":
    main()
