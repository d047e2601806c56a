"""What the ``alliance`` sub-commands share: exit codes and common options."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

EXIT_INVALID = 2
EXIT_FAILED = 1


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
    p.add_argument("--engine", choices=("serial", "processes", "dask"), default="processes")
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="worker processes (default: CPU count)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="join a running Dask scheduler instead of a LocalCluster",
    )
