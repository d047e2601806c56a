"""The workshop commands: ``compare``, ``stress``, ``tornado`` and ``report``."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from experiments.cli.common import (
    EXIT_INVALID,
    QUIET,
    VERBOSE,
    detail,
    engine_args,
    engine_text,
    info,
    overlay_names,
    replications_arg,
    run_args,
    verbosity,
)
from experiments.engine.progress import progress_bar
from sim.config import load_scenario


def _kpi_choice(text: str, summary: object) -> list[str] | None:
    """The KPIs ``--kpis`` names: ``scorecard`` (default), ``all`` or a comma list."""
    from sim.model.outputs import SCORECARD

    if text == "all":
        return None
    if text == "scorecard":
        return [k for k in SCORECARD if k in set(summary.kpi)]
    return [k.strip() for k in text.split(",") if k.strip()]


def cmd_compare(args: argparse.Namespace) -> int:
    """Paired comparison (and stress test) of designs, with charts and the report."""
    from experiments.engine.batch import ExperimentError
    from experiments.engine.store import safe_name
    from experiments.workshop.report import (
        build_report,
        hidden_kpis,
        regret_rows,
        stakeholder_text,
        stress_rows,
        text_table,
    )
    from experiments.workshop.studies import compare_study
    from sim.config import parse_assignments
    from sim.model.outputs import kpi as kpi_info

    def kpi_name(name: str) -> str:
        return kpi_info(name).label

    overlays = overlay_names([args.overlays or ""])
    if args.command == "stress" and not overlays:
        print("--overlays: name at least one overlay, e.g. rate_shock,recession", file=sys.stderr)
        return EXIT_INVALID
    if args.kpis not in ("all", "scorecard"):
        from sim.model.outputs import KPI_INFO

        unknown = [k for k in args.kpis.split(",") if k.strip() and k.strip() not in KPI_INFO]
        if unknown:
            print(
                f"--kpis: {', '.join(unknown)}: unknown KPI(s); 'alliance params' and "
                "docs/model.md list them (or use scorecard / all)",
                file=sys.stderr,
            )
            return EXIT_INVALID
    for scenario in args.scenarios:  # one clear line per bad name before anything runs
        load_scenario(scenario, overlays=overlays[:1])
    labels = "-".join(Path(s).stem for s in args.scenarios)
    out = Path(args.out) if args.out else Path("results") / safe_name(f"{args.command}-{labels}")
    detail(args, f"engine {engine_text(args)}, study folder {out.resolve()}")
    progress, close = progress_bar(
        lambda i: (
            f"{args.command} {labels}: {i['planned']} runs "
            f"planned, {i['skipped']} already stored -> {out}"
        ),
        quiet=verbosity(args) == QUIET,
        verbose=verbosity(args) == VERBOSE,
    )
    try:
        result = compare_study(
            args.scenarios,
            out,
            replications=args.replications,
            overlays=overlays,
            seed=args.seed,
            months=args.months,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            overrides=parse_assignments(args.overrides) or None,
            progress=progress,
        )
    except ExperimentError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    summary = result["summary"]
    chosen = _kpi_choice(args.kpis, summary)
    print("\n".join(stakeholder_text(summary, chosen)))
    rest = summary.kpi.nunique() - len(set(chosen or summary.kpi))
    hidden = hidden_kpis(summary)
    if rest > len(hidden):
        info(
            args,
            f"\n{rest - len(hidden)} more KPIs in {out}/compare.csv and the report "
            "(--kpis all prints them)",
        )
    if hidden:
        shown = f"Not shown, zero for every design in every world: {', '.join(hidden)}"
        print(textwrap.fill(shown, 100))
    for kpi, matrix in result["stress"].items():
        title = f"Stress test: {kpi_name(kpi)}, mean change against the same worlds unstressed"
        print("\n" + textwrap.fill(title, 100))
        print("\n".join(text_table(stress_rows(matrix, kpi))))
    for kpi, table in result["regret"].items():
        print(f"\nRegret and robustness: {kpi_name(kpi)}")
        print("\n".join(text_table(regret_rows(table, kpi))))
    run = result["run"]
    info(
        args,
        f"\n{run.ran} runs in {run.seconds:.1f} s ({run.runs_per_second:.2f} runs/s, "
        f"{run.failed} failed, {run.skipped} already stored) -> {out}",
    )
    if not args.no_report:
        html_path, pdf_path = build_report(out)
        info(args, f"report: {html_path} and {pdf_path}")
    return 0


def cmd_tornado(args: argparse.Namespace) -> int:
    """One-at-a-time changes of parameters around a scenario, as a tornado chart."""
    from experiments.engine.store import safe_name
    from experiments.workshop.studies import tornado_study
    from sim.config import ScenarioError, parse_value

    ranges = {}
    for item in args.param:
        path, sep, span = item.partition("=")
        lo, sep2, hi = span.partition(":")
        try:
            low, high = float(parse_value(lo)), float(parse_value(hi))
        except (TypeError, ValueError):
            sep2 = ""
        if not sep or not sep2:
            raise ScenarioError(
                [f"--param {item!r}: expected PATH=LOW:HIGH, e.g. world.rates.shift_bp=0:300"]
            )
        ranges[path] = (low, high)
    for path, (low, high) in ranges.items():  # validate both ends before running
        load_scenario(args.scenario, overrides={path: low})
        load_scenario(args.scenario, overrides={path: high})
    out = (
        Path(args.out)
        if args.out
        else Path("results") / safe_name(f"tornado-{Path(args.scenario).stem}")
    )
    detail(args, f"engine {engine_text(args)}, study folder {out.resolve()}")
    progress, close = progress_bar(
        lambda i: (
            f"tornado {args.scenario}: {i['planned']} runs "
            f"planned, {i['skipped']} already stored -> {out}"
        ),
        quiet=verbosity(args) == QUIET,
        verbose=verbosity(args) == VERBOSE,
    )
    try:
        table = tornado_study(
            args.scenario,
            ranges,
            out,
            kpi=args.kpi,
            replications=args.replications,
            seed=args.seed,
            months=args.months,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
        )
    finally:
        close()
    from experiments.workshop.report import text_table, tornado_rows
    from sim.model.outputs import kpi as kpi_info

    print(f"One-at-a-time changes: {kpi_info(args.kpi).label}")
    print("\n".join(text_table(tornado_rows(table))))
    info(args, f"wrote {out}/tornado.csv and {out}/charts/tornado.png|svg|pdf")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.html and report.pdf for a study folder."""
    from experiments.workshop.report import build_report

    try:
        html_path, pdf_path = build_report(args.folder)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    info(args, f"report: {html_path} and {pdf_path}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``compare``, ``stress``, ``tornado`` and ``report``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    for name, text in (
        ("compare", "paired comparison of designs, with charts and a report"),
        ("stress", "designs under stress overlays: matrix, regret, robustness"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "scenarios", nargs="+", metavar="SCENARIO", help="designs; the first is the reference"
        )
        replications_arg(p, 20, "paired worlds per design")
        p.add_argument(
            "--overlays",
            default="" if name == "compare" else None,
            required=name == "stress",
            metavar="LIST",
            help="comma-separated overlays (library names or files) to stress every design "
            "with" + (" (required)" if name == "stress" else " (default: none)"),
        )
        run_args(p, seed=1)
        p.add_argument(
            "--out",
            default=None,
            metavar="FOLDER",
            help=f"study folder (default results/{name}-SCENARIOS); rerunning into it resumes",
        )
        p.add_argument("--no-report", action="store_true", help="skip report.html / .pdf")
        p.add_argument(
            "--kpis",
            default="scorecard",
            metavar="LIST",
            help="KPIs printed: 'scorecard' (default: the ones a workshop decides on), "
            "'all', or a comma-separated list; the report and compare.csv hold all",
        )
        p.add_argument(
            "--set",
            "-s",
            dest="overrides",
            action="append",
            default=[],
            metavar="PATH=VALUE",
            help="override a parameter in every design",
        )
        engine_args(p)
        p.set_defaults(func=cmd_compare)

    p = sub.add_parser("tornado", help="one-at-a-time parameter changes (tornado chart)")
    p.add_argument("scenario", help="the scenario changed around (file or library name)")
    p.add_argument(
        "--param",
        "-p",
        action="append",
        required=True,
        metavar="PATH=LOW:HIGH",
        help="a parameter by dotted path and the two values it is set to, in its unit "
        "(e.g. world.rates.shift_bp=0:300); repeatable, at least one",
    )
    p.add_argument(
        "--kpi",
        default="fiscal_npv_usd",
        metavar="KPI",
        help="the KPI the bars show (default %(default)s; 'alliance run --json' lists KPIs)",
    )
    replications_arg(p, 10, "worlds per parameter setting")
    run_args(p, seed=1)
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="study folder (default results/tornado-SCENARIO); rerunning into it resumes",
    )
    engine_args(p)
    p.set_defaults(func=cmd_tornado)

    p = sub.add_parser("report", help="write report.html and report.pdf for a study folder")
    p.add_argument("folder", help="study folder written by compare, stress or tornado")
    p.set_defaults(func=cmd_report)
