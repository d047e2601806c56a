"""The model's own commands: ``validate``, ``run``, ``scenarios`` and ``params``."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from experiments.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    QUIET,
    detail,
    info,
    json_arg,
    overlay_names,
    print_json,
    progress_off,
    run_args,
    scenario_args,
    verbosity,
)
from sim.config import ScenarioError, library, load_scenario, parameters, read_toml

if TYPE_CHECKING:
    import pandas as pd


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
                scn = load_scenario(name, overlays=overlay_names(args.overlay), overrides=overrides)
                what = f"scenario '{scn.scenario.name}'"
                detail(
                    args,
                    f"{name}: overlays {scn.scenario.overlays or 'none'}, "
                    f"{len(overrides)} --set override(s)",
                )
        except ScenarioError as exc:
            bad += 1
            for line in exc.problems:
                print(line, file=sys.stderr)
            continue
        if verbosity(args) > QUIET:
            print(f"ok  {name}  ({what})")
    total = len(args.files)
    if bad:  # the verdict on failure is part of the error, -q or not
        print(f"{total - bad} of {total} valid", file=sys.stderr)
    else:
        info(args, f"{total} of {total} valid")
    return EXIT_INVALID if bad else 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    """List the shipped scenarios and overlays."""
    from sim.config import LIBRARY

    detail(args, f"library folder {LIBRARY}")
    for title, overlay in (("Scenarios", False), ("Overlays (--overlay NAME)", True)):
        rows = library(overlay=overlay)
        print(f"{title}:")
        width = max((len(n) for n, _, _ in rows), default=0)
        for name, desc, _ in rows:
            print(f"  {name:<{width}}  {desc}")
        print()
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """Print every parameter of a scenario: path, value, unit, range, whether it applies.

    Plain text: one line per parameter, ``on`` or ``off`` first (``off``: the parameter
    does not apply in this scenario; the line ends with when it would). ``--json``: a
    JSON list of objects with path, value, unit, range, active, applies_when and doc.
    """
    from sim.config import parse_assignments

    scn = load_scenario(
        args.scenario,
        overlays=overlay_names(args.overlay),
        overrides=parse_assignments(args.overrides),
    )
    rows = [p for p in parameters(scn) if not args.grep or args.grep in p.path]
    if args.active is not None:
        rows = [p for p in rows if p.active == args.active]
    detail(args, f"{len(rows)} parameters listed, {sum(p.active for p in rows)} apply")
    if args.json:
        print_json([p.as_dict() for p in rows])
        return 0
    width = max((len(p.path) for p in rows), default=0)
    for p in rows:
        unit = f" {p.unit}" if p.unit else ""
        span = f"  [{p.allowed}]" if p.allowed else ""
        when = "" if p.active else f"  (applies when {p.applies_when})"
        print(f"{'on ' if p.active else 'off'}  {p.path:<{width}} = {p.value!r}{unit}{span}{when}")
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
        rows.append(
            row
            + ([f"{(values.iloc[-1] - values.iloc[0]) * 100:+.0f} pts"] if len(names) > 1 else [])
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one or more scenarios on the same seed; print KPIs, write files and a dashboard.

    With ``--json`` stdout holds one JSON object and nothing else::

        {"seed": 0, "folder": "/abs/results/runs/alliance-s0",
         "runs": [{"scenario": "alliance", "overlays": [], "months": 240,
                   "folder": "/abs/results/runs/alliance-s0", "kpis": {"fiscal_npv_usd": ...}}]}

    one entry in ``runs`` per scenario, in the order given; folders are absolute
    paths (a run's ``folder`` holds its kpis.json and Parquet files).
    """
    from tqdm import tqdm

    from experiments.engine.store import new_folder, safe_name, write_csv, write_run
    from experiments.workshop.dashboard import dashboard
    from sim.config import parse_assignments
    from sim.model.api import run

    overrides = parse_assignments(args.overrides)
    scenarios = [
        load_scenario(s, overlays=overlay_names(args.overlay), overrides=overrides)
        for s in args.scenarios
    ]  # validate everything before running anything
    names: list[str] = []
    for scn in scenarios:
        name = scn.scenario.name
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    created = args.out is None or not Path(args.out).exists()
    try:
        folder = new_folder(args.out, "-".join(names) + f"-s{args.seed}")
    except FileExistsError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    # everything is written into a staging folder inside --out and moved into place at
    # the end: a failed run or a full disk leaves no half-written result behind
    stage = folder / f".partial-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        results, months, written = {}, {}, []
        where = {name: safe_name(name) if len(scenarios) > 1 else "" for name in names}
        for name, scn in zip(names, scenarios, strict=True):
            months[name] = args.months or scn.world.horizon_months
            started = time.perf_counter()
            off = progress_off(args)
            with tqdm(total=months[name], desc=name, unit="month", leave=False, disable=off) as bar:
                results[name] = run(scn, seed=args.seed, months=args.months, progress=bar.update)
            detail(
                args,
                f"{name}: {months[name]} months, seed {args.seed}, overlays "
                f"{scn.scenario.overlays or 'none'}: {time.perf_counter() - started:.1f} s",
            )
            written += write_run(results[name], stage / where[name])
        table = kpi_table(results)
        written.append(write_csv(table, stage / "kpis.csv", index_label="kpi"))
        if not args.no_chart:
            written.append(dashboard(results, stage / "dashboard.png"))
        for item in stage.iterdir():
            os.replace(item, folder / item.name)
        stage.rmdir()
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a folder this command made stays only with a result in it
        if isinstance(exc, OSError):
            print(
                f"alliance run: could not write {folder}: {exc}; nothing was kept", file=sys.stderr
            )
            return EXIT_FAILED
        if isinstance(exc, Exception):
            print(f"alliance run: the run failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return EXIT_FAILED
        raise
    if args.json:
        print_json(
            {
                "seed": args.seed,
                "folder": str(folder.resolve()),
                "runs": [
                    {
                        "scenario": name,
                        "overlays": list(res.scenario.scenario.overlays),
                        "months": months[name],
                        "folder": str((folder / where[name]).resolve()),
                        "kpis": res.kpis,
                    }
                    for name, res in results.items()
                ],
            }
        )
    else:
        print(format_kpis(table))
        info(args)  # a blank line under the table
    chart = "" if args.no_chart else "dashboard.png, "
    info(
        args,
        f"wrote {folder}/ (kpis.csv, {chart}and per run: kpis.json, "
        "timeseries/events/ledger .parquet, scenario.json)",
    )
    for path in written:
        detail(args, f"wrote {folder / path.relative_to(stage)}")
    return 0


def add_validate_and_run(sub: argparse._SubParsersAction) -> None:
    """Register ``validate`` and ``run``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    p = sub.add_parser("validate", help="validate scenario / overlay files (exit 2 if invalid)")
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="scenario or overlay files (TOML), or library names; each is checked on its own",
    )
    scenario_args(p)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "run",
        help="run scenarios on one seed: KPI table, files, dashboard",
        epilog="--json prints one object on stdout: {seed, folder, runs: [{scenario, "
        "overlays, months, folder, kpis: {KPI: number}}]}, one run per SCENARIO in order; "
        "the progress bar and the 'wrote' line go to stderr. docs/interop.md has recipes.",
    )
    p.add_argument(
        "scenarios",
        nargs="+",
        metavar="SCENARIO",
        help="scenario files or library names; several run on the same world",
    )
    run_args(p, seed=0)
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="output folder; must not hold a result already (default results/runs/NAME-sSEED)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip the dashboard PNG")
    json_arg(p, "print one JSON object: seed, folder and each run's KPIs, months and folder")
    scenario_args(p)
    p.set_defaults(func=cmd_run)


def add_listings(sub: argparse._SubParsersAction) -> None:
    """Register ``scenarios`` and ``params``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    p = sub.add_parser("scenarios", help="list the scenario and overlay library")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser(
        "params", help="list a scenario's parameters by dotted path, and whether each applies"
    )
    p.add_argument("scenario", help="scenario file or library name")
    p.add_argument("--grep", "-g", default="", metavar="TEXT", help="only paths containing TEXT")
    json_arg(p, "print a JSON list of objects: path, value, unit, range, active, applies_when, doc")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--active",
        dest="active",
        action="store_const",
        const=True,
        default=None,
        help="only the parameters that apply in this scenario",
    )
    which.add_argument(
        "--inactive",
        dest="active",
        action="store_const",
        const=False,
        help="only the parameters that do not apply in this scenario",
    )
    scenario_args(p)
    p.set_defaults(func=cmd_params)
