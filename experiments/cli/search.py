"""The ``search`` command: a robust design search, with a closing note.

The search itself lives in :mod:`experiments.search`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.cli.common import (
    EXIT_INVALID,
    QUIET,
    detail,
    engine_args,
    engine_text,
    info,
    integer,
    verbosity,
)


def cmd_search(args: argparse.Namespace) -> int:
    """Run (or continue) a search spec and print the front, convergence and re-evaluation.

    Args:
        args: Parsed arguments (spec, engine, workers, scheduler, out, stop_after).

    Returns:
        The exit status (2 for invalid input).
    """
    from experiments.engine.store import safe_name
    from experiments.search.spec import load_search_spec

    spec = load_search_spec(args.spec)  # a bad spec: main prints its lines, exit 2
    from experiments.search.study import SearchError, run_search

    out = Path(args.out) if args.out else Path("results") / "search" / safe_name(spec.search.name)
    s = spec.search
    detail(args, f"spec {args.spec}, engine {engine_text(args)}, folder {out.resolve()}")
    info(
        args,
        f"{s.name}: {len(spec.levers)} levers, {len(spec.objectives)} objectives, "
        f"{spec.worlds.count} worlds, {spec.generations} generations of {s.population} designs "
        f"({s.algorithm}) -> {out}",
    )

    def progress(event: str, data: dict) -> None:
        if verbosity(args) == QUIET:
            return
        if event == "phase":
            print(f"  {data['text']} ...", file=sys.stderr)
        else:
            print(
                f"  generation {data['generation']}: {data['evaluations']} designs evaluated "
                f"({data['runs']} runs, {data['seconds_engine']:.1f} s); epsilon progress "
                f"{data['epsilon_progress']}",
                file=sys.stderr,
            )

    stop = None if args.stop_after is None else (lambda g: g >= args.stop_after)
    try:
        result = run_search(
            spec,
            out,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
            stop=stop,
            spec_source=str(args.spec),
        )
    except SearchError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    for line in note_lines(out):
        print(line)
    if result.status == "stopped":
        info(args, f"stopped after generation {result.generations - 1}; rerun to continue")
    info(
        args,
        f"wrote {out}/: front.csv/.parquet, convergence.csv, reevaluation.csv, "
        "evaluations.parquet, candidates/*.toml, charts/search_*.png, runs/ (every run)",
    )
    return 0


def note_lines(folder: Path) -> list[str]:
    """The closing note of a search folder: front, levers, convergence, re-evaluation."""
    from experiments.search.tables import (
        convergence_rows,
        convergence_step,
        front_rows,
        lever_rows,
        load_search,
        overfit_lines,
        reevaluation_rows,
    )
    from experiments.workshop.report import text_table

    found = load_search(folder)
    if found is None:
        return []
    spec, front = found["spec"], found["front"]
    m = found["manifest"]
    lines = [
        f"Search {spec.search.name}: {m.get('evaluations', 0)} designs evaluated in "
        f"{m.get('generations', 0)} generations on {spec.worlds.count} worlds ({m.get('status')})",
        "",
    ]
    if front is None or front.empty:
        return [*lines, "no feasible design found"]
    lines += [f"Pareto front: {len(front)} designs (first 10 in shortlist order)"]
    lines += text_table(front_rows(spec, front, found["shipped"], limit=10))
    lines += ["", "Levers of the candidates"]
    lines += text_table(lever_rows(spec, front, limit=spec.search.candidates or 5), width=160)
    conv = found["convergence"]
    if conv is not None and len(conv):
        step = convergence_step(len(conv))
        every = f" (every {step}th generation and the last; convergence.csv has all)"
        lines += ["", "Convergence" + (every if step > 1 else "")]
        lines += text_table(convergence_rows(conv))
    re = found["reevaluation"]
    if re is not None and len(re):
        lines += ["", "Re-evaluation on fresh worlds"]
        lines += text_table(reevaluation_rows(spec, re), width=160)
        lines += overfit_lines(spec, re)
    t = m.get("timings") or {}
    if t:
        lines += [
            "",
            f"time: runs {t['seconds_runs']:.1f} s of work ({t['seconds_runs_per_worker']:.1f} s "
            f"per worker), optimiser {t['seconds_optimiser']:.2f} s, store and bookkeeping "
            f"{t['seconds_bookkeeping']:.2f} s; overhead {100 * t['overhead']:.1f} % of the "
            f"runs' time per worker (optimiser and store alone "
            f"{100 * t['optimiser_and_store_share']:.2f} %)",
        ]
    return lines


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``search`` on the ``alliance`` command's sub-parsers.

    Args:
        sub: The object returned by ``parser.add_subparsers()``.
    """
    p = sub.add_parser(
        "search",
        help="robust design search: the designs that hold up across worlds (NSGA-II)",
        description="Search the levers of a search spec for designs that do well on every "
        "objective across the worlds (docs/search.md). Rerunning the same command continues "
        "an interrupted search.",
    )
    p.add_argument("spec", help="search spec (TOML) or a name in experiments/specs")
    engine_args(p)
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="search folder (default results/search/NAME, NAME the spec's search.name)",
    )
    p.add_argument(
        "--stop-after",
        type=integer(0, 1_000_000),
        default=None,
        metavar="GEN",
        help="stop after this generation (the same command without it continues)",
    )
    p.set_defaults(func=cmd_search)
