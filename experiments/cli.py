"""The ``alliance`` command.

Every sub-command turns bad input into one line per problem on stderr and a
non-zero exit (2 for invalid input, 1 for a failure while running); a traceback
is shown only with ``--traceback`` (or ``ALLIANCE_TRACEBACK=1``).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.engine.progress import progress_bar
from sim.config import ScenarioError, library, load_scenario, parameters, read_toml

if TYPE_CHECKING:
    import pandas as pd

EXIT_INVALID = 2
EXIT_FAILED = 1


def _scenario_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overlay", "-o", action="append", default=[], metavar="NAME",
                        help="apply a stress overlay (library name or file); repeatable")
    parser.add_argument("--set", "-s", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override one parameter by dotted path; repeatable")


def _overlays(values: Sequence[str]) -> list[str]:
    return [name for value in values for name in value.split(",") if name]


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario and overlay files; print one line per problem."""
    from sim.config import parse_assignments

    overrides = parse_assignments(args.overrides)
    bad = 0
    for name in args.files:
        try:
            path = Path(name)
            if path.is_file() and "overlay" in read_toml(path):
                load_scenario({}, overlays=[str(path)], overrides=overrides)
                what = "overlay"
            else:
                scn = load_scenario(name, overlays=_overlays(args.overlay), overrides=overrides)
                what = f"scenario '{scn.scenario.name}'"
        except ScenarioError as exc:
            bad += 1
            for line in exc.problems:
                print(line, file=sys.stderr)
            continue
        if not args.quiet:
            print(f"ok  {name}  ({what})")
    total = len(args.files)
    print(f"{total - bad} of {total} valid", file=sys.stderr if bad else sys.stdout)
    return EXIT_INVALID if bad else 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the shipped scenarios and overlays."""
    for title, overlay in (("Scenarios", False), ("Overlays (--overlay NAME)", True)):
        rows = library(overlay=overlay)
        print(f"{title}:")
        width = max((len(n) for n, _, _ in rows), default=0)
        for name, desc, _ in rows:
            print(f"  {name:<{width}}  {desc}")
        print()
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """Print every parameter of a scenario by dotted path with unit and range."""
    from sim.config import parse_assignments

    scn = load_scenario(args.scenario, overlays=_overlays(args.overlay),
                        overrides=parse_assignments(args.overrides))
    rows = [p for p in parameters(scn) if not args.grep or args.grep in p.path]
    width = max((len(p.path) for p in rows), default=0)
    for p in rows:
        unit = f" {p.unit}" if p.unit else ""
        span = f"  [{p.allowed}]" if p.allowed else ""
        print(f"{p.path:<{width}} = {p.value!r}{unit}{span}")
    return 0


def kpi_table(results: dict) -> pd.DataFrame:
    """KPIs of one or more runs side by side (rows: KPIs; columns: scenarios).

    Args:
        results: Scenario name -> RunResult.

    Returns:
        A DataFrame indexed by KPI key.
    """
    import pandas as pd

    return pd.DataFrame({name: res.kpis for name, res in results.items()})


def format_kpis(table: pd.DataFrame) -> str:
    """Render the main KPIs readably, with a difference column for two or more scenarios."""
    from sim.model.outputs import KPI_INFO, format_value

    names = list(table.columns)
    rows = [["KPI", *names] + ([f"{names[-1]} - {names[0]}"] if len(names) > 1 else [])]
    for key, (label, unit, _) in KPI_INFO.items():
        if key not in table.index:
            continue
        values = table.loc[key]
        row = [label, *(format_value(v, unit) for v in values)]
        if len(names) > 1:
            delta = values.iloc[-1] - values.iloc[0]
            row.append(("+" if delta >= 0 else "-") + format_value(abs(delta), unit))
        rows.append(row)
    cover = [k for k in table.index if k.startswith("coverage.")]
    for key in cover:
        values = table.loc[key]
        row = [f"Coverage: {key.split('.', 1)[1]}", *(f"{v * 100:.0f} %" for v in values)]
        rows.append(row + ([f"{(values.iloc[-1] - values.iloc[0]) * 100:+.0f} pts"]
                           if len(names) > 1 else []))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one or more scenarios on the same seed; print KPIs, write files and a dashboard."""
    from tqdm import tqdm

    from experiments.charts import dashboard
    from experiments.engine.store import new_folder, write_csv, write_run
    from sim.config import parse_assignments
    from sim.model.api import run

    overrides = parse_assignments(args.overrides)
    scenarios = [load_scenario(s, overlays=_overlays(args.overlay), overrides=overrides)
                 for s in args.scenarios]  # validate everything before running anything
    names: list[str] = []
    for scn in scenarios:
        name = scn.scenario.name
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    try:
        folder = new_folder(args.out, "-".join(names) + f"-s{args.seed}")
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    results = {}
    for name, scn in zip(names, scenarios, strict=True):
        months = args.months or scn.world.horizon_months
        with tqdm(total=months, desc=name, unit="month", leave=False, disable=None) as bar:
            results[name] = run(scn, seed=args.seed, months=args.months, progress=bar.update)
        write_run(results[name], folder / name if len(scenarios) > 1 else folder)
    table = kpi_table(results)
    print(format_kpis(table))
    write_csv(table, folder / "kpis.csv", index_label="kpi")
    if not args.no_chart:
        dashboard(results, folder / "dashboard.png")
    print(f"\nwrote {folder}/ (kpis.csv, dashboard.png, and per run: kpis.json, "
          "timeseries/events/ledger .parquet, scenario.json)")
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    """Run an experiment spec (replications, designs) on an engine into a run store."""
    from experiments.engine.batch import ExperimentError, run_experiment
    from experiments.engine.spec import load_spec

    spec = load_spec(args.spec)
    if args.command == "sweep" and spec.design.kind == "none":
        print(f"{args.spec}: design: a sweep needs [design] kind = grid, lhs or list "
              "(use 'alliance batch' for replications only)", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else Path("results") / spec.experiment.name
    progress, close = progress_bar(
        lambda i: f"{spec.experiment.name}: {i['planned']} runs planned, {i['skipped']} "
                  f"already stored, engine {args.engine} ({args.workers} workers) -> {out}")
    try:
        summary = run_experiment(spec, out, engine=args.engine, workers=args.workers,
                                 scheduler=args.scheduler, resume=True, progress=progress,
                                 spec_source=str(args.spec))
    except ExperimentError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    print(f"{summary.ran} runs in {summary.seconds:.1f} s ({summary.runs_per_second:.2f} runs/s "
          f"after {summary.startup:.1f} s of engine start-up; {summary.failed} failed; "
          f"{summary.skipped} were already stored) -> {out}")
    print(f"load with: experiments.load({str(out)!r})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print done / failed / pending of an experiment folder."""
    from experiments.engine.batch import status

    try:
        st = status(args.folder)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    print(f"{st['name']}: {st['done']} done, {st['failed']} failed, {st['pending']} pending "
          f"of {st['planned']} ({st['status']})")
    return 0


def _print_rows(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if k == 0:
            print("-" * (sum(widths) + 2 * len(widths)))


def cmd_compare(args: argparse.Namespace) -> int:
    """Paired comparison (and stress test) of designs, with charts and the report."""
    from experiments.engine.batch import ExperimentError
    from experiments.report import build_report, stakeholder_rows
    from experiments.studies import compare_study
    from sim.config import parse_assignments

    overlays = _overlays([args.overlays or ""])
    if args.command == "stress" and not overlays:
        print("--overlays: name at least one overlay, e.g. rate_shock,recession",
              file=sys.stderr)
        return EXIT_INVALID
    for scenario in args.scenarios:  # one clear line per bad name before anything runs
        load_scenario(scenario, overlays=overlays[:1])
    labels = "-".join(Path(s).stem for s in args.scenarios)
    out = Path(args.out) if args.out else Path("results") / f"{args.command}-{labels}"
    progress, close = progress_bar(lambda i: f"{args.command} {labels}: {i['planned']} runs "
                                   f"planned, {i['skipped']} already stored -> {out}")
    try:
        result = compare_study(args.scenarios, out, replications=args.replications,
                               overlays=overlays, seed=args.seed, months=args.months,
                               engine=args.engine, workers=args.workers,
                               scheduler=args.scheduler,
                               overrides=parse_assignments(args.overrides) or None,
                               progress=progress)
    except ExperimentError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    _print_rows(stakeholder_rows(result["summary"]))
    for kpi, matrix in result["stress"].items():
        print(f"\nstress: mean change in {kpi} against the same worlds unstressed")
        print(matrix.to_string(float_format=lambda v: f"{v:,.4g}"))
    for kpi, table in result["regret"].items():
        best = table.index[0]
        print(f"least regret on {kpi}: {best} (max regret {table['max_regret'].iloc[0]:,.4g})")
    run = result["run"]
    print(f"\n{run.ran} runs in {run.seconds:.1f} s ({run.runs_per_second:.2f} runs/s, "
          f"{run.failed} failed, {run.skipped} already stored) -> {out}")
    if not args.no_report:
        html_path, pdf_path = build_report(out)
        print(f"report: {html_path} and {pdf_path}")
    return 0


def cmd_tornado(args: argparse.Namespace) -> int:
    """One-at-a-time changes of parameters around a scenario, as a tornado chart."""
    from experiments.studies import tornado_study
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
            raise ScenarioError([f"--param {item!r}: expected PATH=LOW:HIGH, "
                                 "e.g. world.rates.shift_bp=0:300"])
        ranges[path] = (low, high)
    for path, (low, high) in ranges.items():  # validate both ends before running
        load_scenario(args.scenario, overrides={path: low})
        load_scenario(args.scenario, overrides={path: high})
    out = Path(args.out) if args.out else Path("results") / f"tornado-{Path(args.scenario).stem}"
    progress, close = progress_bar(lambda i: f"tornado {args.scenario}: {i['planned']} runs "
                                   f"planned, {i['skipped']} already stored -> {out}")
    try:
        table = tornado_study(args.scenario, ranges, out, kpi=args.kpi,
                              replications=args.replications, seed=args.seed,
                              months=args.months, engine=args.engine, workers=args.workers,
                              progress=progress)
    finally:
        close()
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    print(f"wrote {out}/tornado.csv and {out}/charts/tornado.png|svg|pdf")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write report.html and report.pdf for a study folder."""
    from experiments.report import build_report

    try:
        html_path, pdf_path = build_report(args.folder)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    print(f"report: {html_path} and {pdf_path}")
    return 0


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("serial", "processes", "dask"), default="processes")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                   help="worker processes (default: CPU count)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="join a running Dask scheduler instead of a LocalCluster")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="alliance",
        description="Agent-based simulation of smart-city alliance ecosystems.")
    parser.add_argument("--traceback", action="store_true",
                        help="show the Python traceback on an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="validate scenario / overlay files (exit 2 if invalid)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--quiet", "-q", action="store_true", help="print only problems")
    _scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="run scenarios on one seed: KPI table, files, dashboard")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                   help="scenario files or library names; several run on the same world")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--months", type=int, default=None, help="horizon (default: scenario's)")
    p.add_argument("--out", default=None, help="output folder (default results/runs/...)")
    p.add_argument("--no-chart", action="store_true", help="skip the dashboard PNG")
    _scenario_args(p)
    p.set_defaults(func=cmd_run)

    for name, text in (("batch", "run an experiment spec: scenarios x replications (x design)"),
                       ("sweep", "run an experiment design (grid, lhs, list) x replications")):
        p = sub.add_parser(name, help=text)
        p.add_argument("spec", help="experiment spec (TOML) or a name in experiments/specs")
        _engine_args(p)
        p.add_argument("--out", default=None, help="experiment folder (default results/NAME)")
        p.add_argument("--resume", action="store_true",
                       help="finish an interrupted experiment (rerunning into the same folder "
                            "always resumes: stored runs are skipped)")
        p.set_defaults(func=cmd_batch)

    for name, text in (("compare", "paired comparison of designs, with charts and a report"),
                       ("stress", "designs under stress overlays: matrix, regret, robustness")):
        p = sub.add_parser(name, help=text)
        p.add_argument("scenarios", nargs="+", metavar="SCENARIO",
                       help="designs; the first is the reference")
        p.add_argument("--replications", "-n", type=int, default=20,
                       help="paired worlds per design (default 20)")
        p.add_argument("--overlays", default="" if name == "compare" else None,
                       required=name == "stress",
                       help="comma-separated overlays to stress every design with")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--months", type=int, default=None)
        p.add_argument("--out", default=None, help="study folder (default results/NAME-...)")
        p.add_argument("--no-report", action="store_true", help="skip report.html / .pdf")
        p.add_argument("--set", "-s", dest="overrides", action="append", default=[],
                       metavar="PATH=VALUE", help="override a parameter in every design")
        _engine_args(p)
        p.set_defaults(func=cmd_compare)

    p = sub.add_parser("tornado", help="one-at-a-time parameter changes (tornado chart)")
    p.add_argument("scenario")
    p.add_argument("--param", "-p", action="append", required=True, metavar="PATH=LOW:HIGH")
    p.add_argument("--kpi", default="fiscal_npv_usd")
    p.add_argument("--replications", "-n", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--months", type=int, default=None)
    p.add_argument("--out", default=None)
    _engine_args(p)
    p.set_defaults(func=cmd_tornado)

    p = sub.add_parser("report", help="write report.html and report.pdf for a study folder")
    p.add_argument("folder")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("status", help="done / failed / pending of an experiment folder")
    p.add_argument("folder")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("scenarios", help="list the scenario and overlay library")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("params", help="list a scenario's parameters by dotted path")
    p.add_argument("scenario", help="scenario file or library name")
    p.add_argument("--grep", "-g", default="", help="only paths containing this text")
    _scenario_args(p)
    p.set_defaults(func=cmd_params)
    from experiments.sensitivity import add_commands

    add_commands(sub)  # sensitivity, discover
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``alliance`` command.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("alliance: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not bad input: one line unless asked
        if args.traceback or os.environ.get("ALLIANCE_TRACEBACK"):
            traceback.print_exc()
        else:
            print(f"alliance: internal error: {type(exc).__name__}: {exc} "
                  "(rerun with --traceback for details)", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
