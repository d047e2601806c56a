"""Today's code against a reference commit on the default scenario, in one run (issue 16).

Usage: ``python -m benchmarks.speed [--base c5eb381 | --base-path DIR] [--rounds 3]
[--runs 24] [--workers 2]``.

Checks the reference commit (``--base``, by default the commit before the speed-up)
out into a temporary git worktree, unless ``--base-path`` names a checkout, and
measures both trees in this one run, taking turns (reference, current, reference,
...) so both see the same machine:

1. sweeps: runs/s of the project's engine (``processes``, ``--workers`` workers) on
   the default alliance scenario (240 months, ``--runs`` replications a round),
   after engine start-up, each round in a fresh process;
2. one process: runs/s of the ``serial`` engine on the same experiment (half the
   replications);
3. the institutions' monthly Python (the cities' month, vendors, investors, the
   regulator's incidents, booking the agents' reports and recording the series,
   each with what it calls: ledger transfers, treasury, instruments) in ms per run
   and as a share of a run, over ``--profile-runs`` default runs: by a timer around
   those entry points, then under cProfile (which inflates Python calls), with the
   top entries by own time.

Ratios are current over reference; runs/s pool every round of one tree (total runs
over total time) and the range of the per-round ratios is shown beside them. The
target (issue 16) is >= 2x the reference's runs/s on 2 workers with identical
numbers (``tests/test_baseline.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The commit before the speed-up (issue 16): "today's code".
BASE = "c5eb381"
#: The institutions' monthly entry points: (module, class, method); ``book`` is also called
#: from ``_incidents``, so time inside another entry point is counted once.
INSTITUTIONS = (
    ("agents.city.city", "City", "step"),
    ("agents.vendor", "Vendor", "step"),
    ("agents.investor", "Investor", "step"),
    ("sim.model.model", "AllianceModel", "_incidents"),
    ("sim.model.model", "AllianceModel", "book"),
    ("sim.model.series", "Series", "record"),
)

#: Run inside each tree: an experiment on one engine, or a profile; prints one JSON line.
CHILD = r"""
import cProfile, importlib, json, pstats, sys, tempfile, time
from pathlib import Path
mode, engine = sys.argv[1], sys.argv[2]
workers, runs, months = (int(x) for x in sys.argv[3:6])
if mode == "sweep":
    from experiments.engine.batch import run_experiment
    from experiments.engine.spec import load_spec
    spec = load_spec({"experiment": {"name": "speed", "seed": 1, "replications": runs,
                                     "months": months}, "scenarios": [{"file": "alliance"}]})
    with tempfile.TemporaryDirectory() as tmp:
        s = run_experiment(spec, Path(tmp) / "x", engine=engine, workers=workers)
    print(json.dumps({"ran": s.ran, "seconds": s.seconds}))
    sys.exit()
import sim
points = [tuple(p) for p in json.loads(sys.argv[6])]
sim.run("alliance", seed=0, months=months)
# 1. wall clock in the entry points (a timer around each; nested calls counted once)
inside, spent, originals = [0], [0.0], []
for module, cls, name in points:
    owner = getattr(importlib.import_module(module), cls)
    f = getattr(owner, name)
    originals.append((owner, name, f))
    def timed(*a, _f=f, **k):
        if inside[0]:
            return _f(*a, **k)
        inside[0] = 1
        t = time.perf_counter()
        try:
            return _f(*a, **k)
        finally:
            spent[0] += time.perf_counter() - t
            inside[0] = 0
    setattr(owner, name, timed)
t0 = time.perf_counter()
for seed in range(1, runs + 1):
    sim.run("alliance", seed=seed, months=months)
wall = time.perf_counter() - t0
for owner, name, f in originals:
    setattr(owner, name, f)
# 2. cProfile: cumulative time of the entry points, less their calls from one another
prof = cProfile.Profile()
prof.enable()
for seed in range(1, runs + 1):
    sim.run("alliance", seed=seed, months=months)
prof.disable()
stats = pstats.Stats(prof).stats
def entry(key):
    path = key[0].replace("\\", "/")
    return any(path.endswith(m.replace(".", "/") + ".py") and key[2] == n for m, _, n in points)
inst = 0.0
for key, (cc, nc, tt, ct, callers) in stats.items():
    if entry(key):
        inst += ct - sum(v[3] for c, v in callers.items() if entry(c))
top = sorted(stats.items(), key=lambda kv: -kv[1][2])[:12]
print(json.dumps({
    "runs": runs, "wall": wall, "wall_institutions": spent[0],
    "total": sum(v[2] for v in stats.values()), "institutions": inst,
    "top": [[v[2], v[1], f"{Path(f).parent.name}/{Path(f).name}:{ln}({fn})"]
            for (f, ln, fn), v in top],
}))
"""


def child(tree: Path, *args: str) -> dict:
    """Run :data:`CHILD` with ``tree`` first on the path; return its JSON line."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def rates(trees: dict[str, Path], engine: str, workers: int, runs: int, rounds: int,
          months: int) -> dict[str, list[tuple[int, float]]]:  # fmt: skip
    """(runs, seconds) of each round of each tree on one engine, the trees taking turns."""
    out: dict[str, list[tuple[int, float]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            r = child(tree, "sweep", engine, str(workers), str(runs), str(months))
            out[name].append((r["ran"], r["seconds"]))
    return out


def ratio_line(label: str, found: dict[str, list[tuple[int, float]]]) -> float:
    """Print runs/s of both trees and their ratio (all rounds pooled); return the ratio."""
    rate = {k: sum(r for r, _ in v) / sum(s for _, s in v) for k, v in found.items()}
    ratio = rate["current"] / rate["reference"]
    pairs = [
        (c[0] / c[1]) / (b[0] / b[1])
        for b, c in zip(found["reference"], found["current"], strict=True)
    ]
    spread = f"rounds {min(pairs):.2f}-{max(pairs):.2f}x"
    print(f"{label:<30}{rate['reference']:>10.2f}{rate['current']:>10.2f}{ratio:>8.2f}x  {spread}")
    return ratio


def profiles(trees: dict[str, Path], runs: int, rounds: int, months: int) -> dict[str, dict]:
    """The institutions' time per run, per tree: the round with the median time."""
    out: dict[str, list[dict]] = {name: [] for name in trees}
    points = json.dumps(INSTITUTIONS)
    for _ in range(rounds):
        for name, tree in trees.items():
            out[name].append(child(tree, "profile", "-", "1", str(runs), str(months), points))
    best = {}
    for name, found in out.items():
        found.sort(key=lambda p: p["institutions"] / p["runs"])
        best[name] = found[len(found) // 2]
    return best


def main(argv: list[str] | None = None) -> None:
    """Measure both trees and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=BASE, help="reference commit (default: %(default)s)")
    ap.add_argument("--base-path", type=Path, help="a checkout of the reference instead")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=24, help="replications per sweep round")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--months", type=int, default=240)
    ap.add_argument("--profile-runs", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        base = args.base_path
        if base is None:
            base = Path(tmp) / "base"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(base), args.base],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        try:
            report(args, {"reference": base.resolve(), "current": ROOT})
        finally:
            if args.base_path is None:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=False
                )


def report(args: argparse.Namespace, trees: dict[str, Path]) -> None:
    """Print the figures of both trees."""
    label = args.base_path or args.base
    print(
        f"alliance-sim speed: current tree vs {label} on the default alliance scenario "
        f"({args.months} months), python {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(f"{args.rounds} rounds taken in turn; ratios are current / reference\n")
    print(f"{'':<30}{'reference':>10}{'current':>10}{'ratio':>9}")
    sweeps = rates(trees, "processes", args.workers, args.runs, args.rounds, args.months)
    ratio = ratio_line(f"runs/s, {args.workers} workers", sweeps)
    serial = rates(trees, "serial", 1, max(args.runs // 2, 1), args.rounds, args.months)
    ratio_line("runs/s, 1 process", serial)
    prof = profiles(trees, args.profile_runs, args.rounds, args.months)
    for key, total, name in (
        ("wall_institutions", "wall", "institutions ms/run (timer)"),
        ("institutions", "total", "institutions ms/run (cProfile)"),
    ):
        ms = {k: 1e3 * p[key] / p["runs"] for k, p in prof.items()}
        share = {k: p[key] / p[total] for k, p in prof.items()}
        less = ms["reference"] / ms["current"]
        print(
            f"{name:<30}{ms['reference']:>10.1f}{ms['current']:>10.1f}{less:>8.2f}x less"
            f"  (share of a run {share['reference']:.0%} -> {share['current']:.0%})"
        )
    for k, p in prof.items():
        print(f"\n{k}: top entries by own time under cProfile ({p['runs']} runs, s)")
        for own, calls, where in p["top"]:
            print(f"  {own:7.3f} {calls:>8} {where}")
    verdict = "met" if ratio >= 2 else "not met"
    print(
        f"\ntarget (issue 16): >= 2x the reference's runs/s on {args.workers} workers "
        f"(default scenario): {ratio:.2f}x, {verdict}"
    )
    print(
        f"command: python -m benchmarks.speed --base {args.base} --rounds {args.rounds} "
        f"--runs {args.runs} --workers {args.workers}"
    )


if __name__ == "__main__":
    main()
