"""The ``alliance`` command: the top layer of :mod:`experiments`.

Every sub-command turns bad input into one line per problem on stderr and a
non-zero exit (2 for invalid input, 1 for a failure while running); a traceback
is shown only with ``--traceback`` (or ``ALLIANCE_TRACEBACK=1``). Every
sub-command takes ``-q`` / ``-v`` (here or after the sub-command's name), with
the contract of :mod:`experiments.cli.common`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence

from experiments.cli import app, batch, discover, scenarios, search, sensitivity, workshop
from experiments.cli.common import EXIT_FAILED, EXIT_INVALID, Parser, detail, output_args
from sim.config import ScenarioError


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command.

    Returns:
        The parser.
    """
    parser = Parser(
        prog="alliance",
        description="Agent-based simulation of smart-city alliance ecosystems.",
        epilog="Exit status: 0 done, 1 failed while running, 2 invalid input, 130 interrupted, "
        "143 terminated. Output on stdout, errors and progress on stderr; -q/-v work here or "
        "after the command; nothing is coloured. 'alliance COMMAND --help' for a command.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"alliance-sim {_version()}",
        help="print the version (alliance-sim X.Y.Z) and exit",
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show the Python traceback on an unexpected error"
    )
    output_args(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scenarios.add_validate_and_run(sub)  # validate, run
    batch.add_batch(sub)  # batch, sweep
    workshop.add_commands(sub)  # compare, stress, tornado, report
    batch.add_status(sub)
    scenarios.add_listings(sub)  # scenarios, params
    sensitivity.add_commands(sub)
    discover.add_commands(sub)
    search.add_commands(sub)
    app.add_commands(sub)  # app
    for command in sub.choices.values():  # one contract for every command
        output_args(command)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alliance-sim")
    except PackageNotFoundError:  # a source tree that was not installed
        return "0+source"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``alliance`` command.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "quiet", False) and getattr(args, "verbose", False):
        parser.error("argument -q/--quiet: not allowed with argument -v/--verbose")
    func: Callable[[argparse.Namespace], int] = args.func
    previous = signal.signal(signal.SIGTERM, _terminate)  # a scheduler's wall-time limit
    started = time.perf_counter()
    try:
        code = func(args)
        detail(args, f"exit status {code} after {time.perf_counter() - started:.1f} s")
        return code
    except Terminated:
        print("alliance: terminated (SIGTERM); finished runs are stored", file=sys.stderr)
        return 143
    except ScenarioError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("alliance: interrupted; finished runs are stored", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine, not the model: a full disk, a read-only folder
        where = f": {exc.filename}" if exc.filename else ""
        print(
            f"alliance: cannot go on: {exc.strerror or exc}{where}; runs written before "
            "it are kept (rerun the same command to resume)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except Exception as exc:  # a bug, not bad input: one line unless asked
        from experiments.engine.store import StoreCorrupt  # loaded by then if raised

        if isinstance(exc, StoreCorrupt):  # damaged data, not a bug: one line
            print(exc, file=sys.stderr)
            return EXIT_INVALID
        if args.traceback or os.environ.get("ALLIANCE_TRACEBACK"):
            traceback.print_exc()
        else:
            print(
                f"alliance: internal error: {type(exc).__name__}: {exc} "
                "(rerun with --traceback for details)",
                file=sys.stderr,
            )
        return EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as after Ctrl-C (finished runs written, manifest says so)."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
