"""What the ``alliance`` sub-commands share: exit codes, checked numbers, common options.

Every number on the command line is read by one of :func:`integer` or
:func:`number`, which refuse what is not a finite number inside the option's
range; :class:`Parser` prints any command-line error as one line (the option,
the problem, where to find help) and exits with status 2.

What a command prints follows one contract, set by ``-q`` / ``-v`` (accepted
before the sub-command and after it) and ``--json``:

- **output**, what the command was asked for (a KPI table, a listing, the JSON
  of ``--json``), goes to stdout, always, ``-q`` included;
- **errors and warnings** go to stderr, always, one line each;
- **information** (what was written where, how long it took, the line that
  starts an experiment) is printed by :func:`info`: to stdout, or to stderr
  when stdout carries JSON; not at all with ``-q``;
- **detail** (the resolved engine and workers, one line per run or per chunk
  of runs, timings, every file written) is printed by :func:`detail`, to
  stderr, only with ``-v``;
- **progress bars** (tqdm) go to stderr, only on a terminal, never with ``-q``
  (:func:`progress_off`).

Nothing is coloured: no ANSI escape is written anywhere (``NO_COLOR`` has
nothing to turn off, and ``tests/test_cli.py`` checks that it stays so).
"""

from __future__ import annotations

import argparse
import json
import math
import numbers
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

EXIT_INVALID = 2
EXIT_FAILED = 1

#: Horizon bounds (the schema's ``simulation.horizon_months``).
MONTHS = (1, 1200)
#: Seeds: what numpy's seeding takes and a spec allows.
SEEDS = (0, 2**63 - 1)
#: Replications per design (a spec's ``experiment.replications``).
REPLICATIONS = (1, 100_000)
#: Worker processes.
WORKERS = (1, 1024)

#: Verbosity levels (``-q``, none, ``-v``).
QUIET, NORMAL, VERBOSE = -1, 0, 1


class Parser(argparse.ArgumentParser):
    """argparse, with every command-line error on one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: <message> (<prog> --help)`` and exit 2.

        Args:
            message: argparse's description of the problem.
        """
        print(f"{self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(EXIT_INVALID)


def integer(lo: int, hi: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in ``lo .. hi``.

    Args:
        lo: Smallest allowed.
        hi: Largest allowed.
        unit: Shown in the message ("months").

    Returns:
        The converter (raises ``ArgumentTypeError`` with one line).
    """

    def convert(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range; allowed {lo} .. {hi}{' ' + unit if unit else ''}"
            )
        return value

    convert.__name__ = "whole number"
    return convert


def number(
    lo: float | None = None, hi: float | None = None, *, above: float | None = None
) -> Callable[[str], float]:
    """An argparse type: a finite number, within the bounds given.

    Args:
        lo: Smallest allowed (inclusive).
        hi: Largest allowed (inclusive).
        above: The value must be greater than this.

    Returns:
        The converter (raises ``ArgumentTypeError`` with one line).
    """

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if (
            (above is not None and value <= above)
            or (lo is not None and value < lo)
            or (hi is not None and value > hi)
        ):
            bounds = ((">", above), (">=", lo), ("<=", hi))
            allowed = " and ".join(f"{op} {b:g}" for op, b in bounds if b is not None)
            raise argparse.ArgumentTypeError(f"{value:g} is out of range; allowed {allowed}")
        return value

    convert.__name__ = "number"
    return convert


def run_args(p: argparse.ArgumentParser, *, seed: int, months: bool = True) -> None:
    """Add ``--seed`` (and ``--months``) with their ranges.

    Args:
        p: The sub-command's parser.
        seed: The default seed.
        months: Add ``--months`` too.
    """
    p.add_argument(
        "--seed",
        type=integer(*SEEDS),
        default=seed,
        help=f"random seed, {SEEDS[0]} .. 2**63-1 (default {seed})",
    )
    if months:
        p.add_argument(
            "--months",
            type=integer(*MONTHS, "months"),
            default=None,
            help=f"horizon in months, {MONTHS[0]} .. {MONTHS[1]} (default: the scenario's)",
        )


def replications_arg(p: argparse.ArgumentParser, default: int, text: str) -> None:
    """Add ``--replications`` / ``-n`` with its range.

    Args:
        p: The sub-command's parser.
        default: Its default.
        text: What one replication is.
    """
    p.add_argument(
        "--replications",
        "-n",
        type=integer(*REPLICATIONS),
        default=default,
        help=f"{text} (default {default})",
    )


def scenario_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--overlay`` and ``--set`` to a sub-command that loads scenarios.

    Args:
        parser: The sub-command's parser.
    """
    parser.add_argument(
        "--overlay",
        "-o",
        action="append",
        default=[],
        metavar="NAME",
        help="apply a stress overlay (library name or file); repeatable",
    )
    parser.add_argument(
        "--set",
        "-s",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override one parameter by dotted path; repeatable",
    )


def overlay_names(values: Sequence[str]) -> list[str]:
    """Overlay names from repeated and comma-separated options.

    Args:
        values: The option's values, e.g. ``["recession,rate_shock", "vendor_default"]``.

    Returns:
        The names, in order.
    """
    return [name for value in values for name in value.split(",") if name]


def engine_args(p: argparse.ArgumentParser) -> None:
    """Add ``--engine``, ``--workers`` and ``--scheduler`` to a sub-command that runs runs.

    Args:
        p: The sub-command's parser.
    """
    p.add_argument(
        "--engine",
        choices=("serial", "processes", "dask"),
        default="processes",
        help="where runs execute (default processes)",
    )
    p.add_argument(
        "--workers",
        type=integer(*WORKERS),
        default=os.cpu_count() or 2,
        help="worker processes (default: CPU count)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="join a running Dask scheduler instead of a LocalCluster",
    )


def engine_text(args: argparse.Namespace) -> str:
    """The engine a command resolved, for ``-v``: name, workers, scheduler.

    Args:
        args: Parsed arguments with ``engine``, ``workers`` and ``scheduler``.

    Returns:
        E.g. ``processes, 2 workers``.
    """
    if args.engine == "serial":
        return "serial (1 process)"
    where = ""
    if args.engine == "dask":
        where = f", scheduler {args.scheduler}" if args.scheduler else ", a LocalCluster"
    return f"{args.engine}, {args.workers} workers{where}"


def output_args(p: argparse.ArgumentParser) -> None:
    """Add ``-q`` / ``--quiet`` and ``-v`` / ``--verbose`` (one or the other).

    Both are added to the ``alliance`` parser and to every sub-command, with no
    default (``argparse.SUPPRESS``), so ``alliance -q run ...`` and
    ``alliance run -q ...`` mean the same; :func:`verbosity` reads them.

    Args:
        p: The parser.
    """
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print only the requested output (tables, --json), warnings and errors: "
        "no progress bar, no information lines",
    )
    which.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print more detail on stderr: resolved engine and workers, runs as they "
        "finish, timings, the files written",
    )


def verbosity(args: argparse.Namespace) -> int:
    """The verbosity ``-q`` / ``-v`` asked for.

    Args:
        args: The parsed arguments.

    Returns:
        :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`.
    """
    if getattr(args, "quiet", False):
        return QUIET
    return VERBOSE if getattr(args, "verbose", False) else NORMAL


def info(args: argparse.Namespace, text: str = "") -> None:
    """Print an information line: stdout (stderr under ``--json``); nothing with ``-q``.

    Args:
        args: The parsed arguments.
        text: The line.
    """
    if verbosity(args) > QUIET:
        print(text, file=sys.stderr if getattr(args, "json", False) else sys.stdout, flush=True)


def detail(args: argparse.Namespace, text: str) -> None:
    """Print a detail line on stderr, only with ``-v``.

    Args:
        args: The parsed arguments.
        text: The line (the command's name is put in front).
    """
    if verbosity(args) >= VERBOSE:
        print(f"alliance {args.command}: {text}", file=sys.stderr, flush=True)


def progress_off(args: argparse.Namespace) -> bool | None:
    """Whether to hide progress bars, as tqdm's ``disable`` wants it.

    Args:
        args: The parsed arguments.

    Returns:
        True (disable) with ``-q``; None otherwise (tqdm draws only on a terminal).
    """
    return True if verbosity(args) == QUIET else None


def json_arg(p: argparse.ArgumentParser, text: str) -> None:
    """Add ``--json``: the command's result as JSON on stdout, nothing else there.

    Args:
        p: The sub-command's parser.
        text: The help text: what the JSON holds.
    """
    p.add_argument("--json", action="store_true", help=f"{text} (stdout holds only the JSON)")


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (strict: a non-finite number becomes null).

    Args:
        data: Dicts, lists, strings, numbers, booleans and None.
    """
    print(json.dumps(_finite(data), indent=1, allow_nan=False), flush=True)


def _finite(data: Any) -> Any:
    if isinstance(data, bool | str) or data is None:
        return data
    if isinstance(data, numbers.Integral):  # numpy's integers too
        return int(data)
    if isinstance(data, numbers.Real):
        data = float(data)
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data
