"""The command line of sensitivity analysis: ``sensitivity`` and ``discover``.

:func:`add_commands` registers both on the ``alliance`` command's sub-parsers
(:mod:`experiments.cli`); :func:`main` runs them on their own
(``python -m experiments.sensitivity sensitivity SPEC``). ``discover`` itself
lives in :mod:`experiments.discovery`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from experiments.sa_analysis import AnalysisError
from experiments.sa_spec import METHOD_NAMES, load_sensitivity_spec
from experiments.sa_study import report_lines, run_sensitivity
from sim.config import ScenarioError

EXIT_INVALID = 2
EXIT_FAILED = 1


# --------------------------------------------------------------------------- command line


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run a sensitivity spec on an engine, analyse it and print the closing note.

    Args:
        args: Parsed arguments (spec, engine, workers, scheduler, out, no_chart).

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.engine.batch import ExperimentError
    from experiments.engine.progress import progress_bar

    try:
        spec = load_sensitivity_spec(args.spec)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else Path("results") / spec.experiment.name
    workers = "" if args.engine == "serial" else f" ({args.workers} workers)"
    progress, close = progress_bar(
        lambda info: f"{spec.experiment.name}: {METHOD_NAMES[spec.sensitivity.method]}, "
                     f"{len(spec.sensitivity.parameters)} parameters, n = {spec.sensitivity.n}: "
                     f"{info['planned']} runs planned, {info['skipped']} already stored, engine "
                     f"{args.engine}{workers} -> {out}")

    try:
        result = run_sensitivity(spec, out, engine=args.engine, workers=args.workers,
                                 scheduler=args.scheduler, progress=progress,
                                 spec_source=str(args.spec), charts=not args.no_chart)
    except (ExperimentError, AnalysisError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    for line in report_lines(result, spec):
        print(line)
    print(f"wrote {out}/: indices.csv/.parquet, convergence.csv, noise.csv, analysis.json, "
          "design.parquet, sensitivity.json" + ("" if args.no_chart else ", charts (*.png)"))
    if result.analysis.indices.empty:
        print(f"alliance sensitivity: no KPI could be analysed (see the warnings; "
              f"'alliance status {out}' lists failed runs)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``sensitivity`` and ``discover`` on the ``alliance`` command's sub-parsers.

    Args:
        sub: The object returned by ``parser.add_subparsers()``.
    """
    p = sub.add_parser("sensitivity",
                       help="global sensitivity analysis of a spec (SALib: sobol, morris, fast, "
                            "rbd_fast, delta, pawn)")
    p.add_argument("spec", help="sensitivity spec (TOML) or a name in experiments/specs")
    p.add_argument("--engine", choices=("serial", "processes", "dask"), default="processes")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                   help="worker processes (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="join a running Dask scheduler instead of a LocalCluster")
    p.add_argument("--out", default=None, help="experiment folder (default results/NAME)")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted study (rerunning into the same folder always "
                        "resumes: stored runs are skipped, the analysis is redone)")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG charts")
    p.set_defaults(func=cmd_sensitivity)
    _add_discover(sub)


def cmd_discover(args: argparse.Namespace) -> int:
    """Scenario discovery (PRIM) on an experiment folder; see :mod:`experiments.discovery`.

    Args:
        args: Parsed arguments.

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.discovery import cmd_discover as run

    return run(args)


def _add_discover(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("discover", help="scenario discovery (PRIM): where in parameter space "
                                        "a design fails a KPI threshold")
    p.add_argument("folder", help="experiment folder (alliance sweep / sensitivity output)")
    p.add_argument("--kpi", required=True, help="KPI column, e.g. fiscal_npv_usd")
    p.add_argument("--threshold", type=float, default=None,
                   help="failure threshold (with --compare-to: on the difference; default 0)")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--below", dest="direction", action="store_const", const="below",
                      help="failure = KPI below the threshold (default)")
    side.add_argument("--above", dest="direction", action="store_const", const="above",
                      help="failure = KPI above the threshold (e.g. debt-service ratio)")
    side.add_argument("--direction", choices=("below", "above"))
    p.set_defaults(direction="below")
    p.add_argument("--scenario", default=None, help="the judged scenario (if several)")
    p.add_argument("--compare-to", default=None, metavar="SCENARIO",
                   help="failure = worse than this scenario on the same world "
                        "(same design point and replication)")
    p.add_argument("--peel-alpha", type=float, default=0.05,
                   help="share of the box removed per peel (default 0.05)")
    p.add_argument("--min-mass", type=float, default=0.05,
                   help="stop peeling below this share of the runs (default 0.05)")
    p.add_argument("--min-density", type=float, default=None,
                   help="choose the highest-coverage box with this density (default: knee)")
    p.add_argument("--no-paste", action="store_true", help="do not paste the chosen box")
    p.add_argument("--keep-weak", action="store_true",
                   help="keep limits whose quasi-p-value is >= 0.05 (default: drop them)")
    p.add_argument("--out", default=None, help="where to write (default: the folder)")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG")
    p.set_defaults(func=cmd_discover)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sensitivity`` / ``discover`` without the ``alliance`` command (for testing).

    Args:
        argv: Arguments, e.g. ``["sensitivity", "experiments/specs/ishigami_sobol.toml"]``.

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m experiments.sensitivity")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
