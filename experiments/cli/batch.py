"""Experiments from a spec: ``batch``, ``sweep`` and ``status``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from experiments.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    QUIET,
    VERBOSE,
    detail,
    engine_args,
    engine_text,
    info,
    json_arg,
    number,
    print_json,
    verbosity,
)
from experiments.engine.progress import progress_bar


def cmd_batch(args: argparse.Namespace) -> int:
    """Run an experiment spec (replications, designs) on an engine into a run store."""
    from experiments.engine.batch import ExperimentError, run_experiment
    from experiments.engine.spec import load_spec

    spec = load_spec(args.spec)
    if args.command == "sweep" and spec.design.kind == "none":
        print(
            f"{args.spec}: design: a sweep needs [design] kind = grid, lhs or list "
            "(use 'alliance batch' for replications only)",
            file=sys.stderr,
        )
        return EXIT_INVALID
    from experiments.engine.store import safe_name

    out = Path(args.out) if args.out else Path("results") / safe_name(spec.experiment.name)
    detail(args, f"spec {args.spec}, engine {engine_text(args)}, store {out.resolve()}")
    progress, close = progress_bar(
        lambda i: (
            f"{spec.experiment.name}: {i['planned']} runs planned, {i['skipped']} "
            f"already stored, engine {engine_text(args)} -> {out}"
        ),
        quiet=verbosity(args) == QUIET,
        verbose=verbosity(args) == VERBOSE,
    )
    try:
        summary = run_experiment(
            spec,
            out,
            engine=args.engine,
            workers=args.workers,
            scheduler=args.scheduler,
            resume=True,
            progress=progress,
            spec_source=str(args.spec),
            wait=args.wait,
            run_timeout=args.run_timeout,
            retry_failed=args.retry_failed,
        )
    except ExperimentError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    info(
        args,
        f"{summary.ran} runs in {summary.seconds:.1f} s ({summary.runs_per_second:.2f} runs/s "
        f"after {summary.startup:.1f} s of engine start-up; {summary.failed} failed; "
        f"{summary.skipped} were already stored) -> {out}",
    )
    info(args, f"load with: experiments.load({str(out)!r})")
    if summary.failed:
        print(
            f"{summary.failed} of {summary.ran} runs failed: their error column says why "
            f"(alliance status {out})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    """Print done / failed / pending of an experiment folder (``--json``: one object).

    The JSON object: ``folder`` (absolute), ``name``, ``status`` (the manifest's:
    ``running``, ``complete``, ``partial``, ``interrupted``, ``stopped``, ``error``;
    ``stopped: its writer is gone`` when a writer of this host died), the counts
    ``planned``, ``done``, ``failed``, ``pending``, ``missing``, ``corrupt``,
    ``orphaned``, ``writer`` (the last writer: ``host``, ``pid``, ``since``,
    ``alive``: true, false, or null for another host, which cannot be checked;
    null if no writer was recorded) and ``paths`` (``manifest``, ``runs``,
    ``timeseries``, ``lock``).
    """
    from experiments.engine.batch import status
    from experiments.engine.store import LOCK_NAME, writer_record

    try:
        st = status(args.folder)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return EXIT_INVALID
    folder = Path(args.folder).resolve()
    writer = writer_record(folder)
    paths = {
        "manifest": folder / "manifest.json",
        "runs": folder / "runs",
        "timeseries": folder / "timeseries",
        "lock": folder / LOCK_NAME,
    }
    if args.json:
        print_json(
            {
                "folder": str(folder),
                **st,
                "writer": writer,
                "paths": {k: str(v) for k, v in paths.items()},
            }
        )
        return 0
    if writer:
        detail(
            args,
            f"last writer: host {writer['host']}, pid {writer['pid']}, since "
            f"{writer['since']}" + {True: " (alive)", False: " (gone)", None: ""}[writer["alive"]],
        )
    for what, path in paths.items():
        detail(args, f"{what}: {path}")
    problems = [f"{st[k]} {k} part(s)" for k in ("missing", "corrupt", "orphaned") if st[k]]
    print(
        f"{st['name']}: {st['done']} done, {st['failed']} failed, {st['pending']} pending "
        f"of {st['planned']} ({st['status']})"
        + (f"; {', '.join(problems)}: alliance verify {args.folder}" if problems else "")
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check a run store end to end: every part readable and matching its checksum."""
    from experiments.engine.store import verify

    folder = Path(args.folder)
    if not (folder / "manifest.json").is_file():
        print(f"{folder}: no manifest.json: not an experiment folder", file=sys.stderr)
        return EXIT_INVALID
    r = verify(folder)
    print(
        f"{folder}: {r['parts']} part files, {r['runs']} runs; {len(r['missing'])} missing, "
        f"{len(r['corrupt'])} corrupt, {len(r['orphaned'])} orphaned, "
        f"{len(r['unchecked'])} without a checksum, {r['duplicate_runs']} duplicate runs"
    )
    for kind in ("missing", "corrupt", "orphaned"):
        for name in r[kind]:
            print(f"  {kind}: {name}")
    for name in r["unchecked"]:
        detail(args, f"without a checksum: {name}")
    bad = r["missing"] or r["corrupt"] or r["orphaned"] or r["duplicate_runs"]
    if bad:
        info(args, "resume the experiment to set damaged parts aside and run their runs again")
    return EXIT_FAILED if bad else 0


def add_batch(sub: argparse._SubParsersAction) -> None:
    """Register ``batch`` and ``sweep``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    for name, text in (
        ("batch", "run an experiment spec: scenarios x replications (x design)"),
        ("sweep", "run an experiment design (grid, lhs, list) x replications"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("spec", help="experiment spec (TOML) or a name in experiments/specs")
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
            help="finish an interrupted experiment (rerunning into the same folder "
            "always resumes: stored runs are skipped)",
        )
        p.add_argument(
            "--wait",
            action="store_true",
            help="if another process is writing to the folder, wait for it to finish "
            "(default: stop with a line naming it)",
        )
        p.add_argument(
            "--run-timeout",
            type=number(above=0.0),
            default=None,
            metavar="SECONDS",
            help="a run still going after this long fails (its error says so) and the "
            "experiment goes on (default: no limit)",
        )
        p.add_argument(
            "--retry-failed",
            action="store_true",
            help="run again the runs stored as failed (their new rows supersede the failed ones)",
        )
        p.set_defaults(func=cmd_batch)


def add_status(sub: argparse._SubParsersAction) -> None:
    """Register ``status``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    p = sub.add_parser(
        "status",
        help="done / failed / pending of an experiment folder",
        epilog="--json prints one object on stdout: {folder, name, status, planned, done, "
        "failed, pending, missing, corrupt, orphaned, writer: {host, pid, since, alive} or "
        "null, paths: {manifest, runs, timeseries, lock}}. Exit 2 if FOLDER is not an "
        "experiment folder.",
    )
    p.add_argument("folder", help="experiment folder (the --out of batch, sweep, sensitivity)")
    json_arg(p, "print one JSON object: status, counts, last writer, paths")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser(
        "verify", help="check a run store end to end (every part readable, checksums match)"
    )
    p.add_argument("folder", help="experiment folder to check (exit 1 if anything is damaged)")
    p.set_defaults(func=cmd_verify)
