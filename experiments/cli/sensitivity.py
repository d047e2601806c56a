"""The ``sensitivity`` command: a sensitivity spec on an engine, analysed, with a closing note.

The study itself lives in :mod:`experiments.sensitivity`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from experiments.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    QUIET,
    VERBOSE,
    detail,
    engine_args,
    engine_text,
    info,
    verbosity,
)
from experiments.sensitivity.adaptive import ADAPTIVE_METHODS, round_line, run_until_converged
from experiments.sensitivity.indices import AnalysisError
from experiments.sensitivity.spec import METHOD_NAMES, kpi_check_note, load_sensitivity_spec
from experiments.sensitivity.study import report_lines, run_sensitivity

#: Run budget of --until-converged when --max-runs is not given.
DEFAULT_MAX_RUNS = 50_000


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run a sensitivity spec on an engine, analyse it and print the closing note.

    With ``--until-converged`` the design grows (n doubles; the emulator raises the
    replications of a noise-limited KPI) until the indices converge or
    ``--max-runs`` is spent (a line per round, then what stopped it).

    Args:
        args: Parsed arguments (spec, engine, workers, scheduler, out, no_chart,
            until_converged, max_runs).

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.engine.batch import ExperimentError
    from experiments.engine.progress import progress_bar

    spec = load_sensitivity_spec(args.spec)  # a bad spec: main prints its lines, exit 2
    method = spec.sensitivity.method
    if args.max_runs is not None and not args.until_converged:
        print(
            f"{args.spec}: --max-runs is the budget of --until-converged; add "
            "--until-converged (or set n in the spec)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.until_converged and method not in ADAPTIVE_METHODS:
        print(
            f"{args.spec}: --until-converged needs a design that extends when n doubles "
            f"(method = 'sobol' or 'emulator'), not method = '{method}'",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if args.until_converged and args.max_runs is not None and args.max_runs < 1:
        print(
            f"{args.spec}: --max-runs {args.max_runs}: must be a positive number of runs",
            file=sys.stderr,
        )
        return EXIT_INVALID
    note = kpi_check_note(spec)
    if note:  # a model without declared outputs: its KPI names are checked by the analysis
        print(note, file=sys.stderr)
    from experiments.engine.store import safe_name

    out = Path(args.out) if args.out else Path("results") / safe_name(spec.experiment.name)
    workers = "" if args.engine == "serial" else f" ({args.workers} workers)"
    detail(args, f"spec {args.spec}, engine {engine_text(args)}, store {out.resolve()}")
    progress, close = progress_bar(
        lambda info: (
            f"{spec.experiment.name}: {METHOD_NAMES[spec.sensitivity.method]}, "
            f"{len(spec.sensitivity.parameters)} parameters"
            + ("" if args.until_converged else f", n = {spec.sensitivity.n}")
            + f": {info['planned']} runs planned, {info['skipped']} already stored, engine "
            f"{args.engine}{workers} -> {out}"
        ),
        quiet=verbosity(args) == QUIET,
        verbose=verbosity(args) == VERBOSE,
    )
    if args.until_converged:
        return _until_converged(args, spec, out, progress, close)

    try:
        result = run_sensitivity(
            spec,
            out,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
            spec_source=str(args.spec),
            charts=not args.no_chart,
        )
    except (ExperimentError, AnalysisError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    for line in report_lines(result, spec):
        print(line)
    info(
        args,
        f"wrote {out}/: indices.csv/.parquet, convergence.csv, noise.csv, analysis.json, "
        + ("emulator.csv, " if method == "emulator" else "")
        + "design.parquet, sensitivity.json"
        + ("" if args.no_chart else ", charts (*.png)"),
    )
    if result.analysis.indices.empty:
        print(
            f"alliance sensitivity: no KPI could be analysed (see the warnings; "
            f"'alliance status {out}' lists failed runs)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def _until_converged(
    args: argparse.Namespace, spec: Any, out: Path, progress: Any, close: Any
) -> int:
    """``--until-converged``: rounds of growing the design, a line each, then what stopped them."""
    from experiments.engine.batch import ExperimentError

    budget = DEFAULT_MAX_RUNS if args.max_runs is None else args.max_runs
    try:
        result = run_until_converged(
            spec,
            out,
            max_runs=budget,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
            on_round=lambda r: print(round_line(r, r.index), flush=True),
            spec_source=str(args.spec),
            charts=not args.no_chart,
        )
    except ValueError as exc:
        print(f"{args.spec}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except (ExperimentError, AnalysisError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    for line in report_lines(result.study, result.study_spec):
        print(line)
    total = sum(r.ran for r in result.rounds)
    print(
        f"stopped by {result.stopped_by}: {result.reason}; {len(result.rounds)} "
        f"round{'' if len(result.rounds) == 1 else 's'}, "
        f"{result.rounds[-1].runs} runs stored ({total} run by this command), "
        f"{result.wall_seconds:.1f} s"
    )
    if result.study.analysis.indices.empty:
        print("alliance sensitivity: no KPI could be analysed (see the warnings)", file=sys.stderr)
        return EXIT_FAILED
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``sensitivity`` on the ``alliance`` command's sub-parsers.

    Args:
        sub: The object returned by ``parser.add_subparsers()``.
    """
    p = sub.add_parser(
        "sensitivity",
        help="global sensitivity analysis of a spec (SALib: sobol, morris, fast, "
        "rbd_fast, delta, pawn; or an emulator: polynomial chaos or Gaussian process)",
    )
    p.add_argument("spec", help="sensitivity spec (TOML) or a name in experiments/specs")
    engine_args(p)
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="experiment folder (default results/NAME, NAME the spec's experiment.name)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="finish an interrupted study (rerunning into the same folder always "
        "resumes: stored runs are skipped, the analysis is redone)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip the PNG charts")
    p.add_argument(
        "--until-converged",
        action="store_true",
        help="sobol and emulator: double n (stored runs reused) until every reported "
        "index's CI half-width is <= 0.05 and the N/2-vs-N check passes, or --max-runs "
        "is spent; the emulator also raises the replications of a KPI that replication "
        "noise withholds",
    )
    p.add_argument(
        "--max-runs",
        type=int,
        default=None,
        metavar="RUNS",
        help=f"run budget of --until-converged (points x replications; default "
        f"{DEFAULT_MAX_RUNS:,})",
    )
    p.set_defaults(func=cmd_sensitivity)
