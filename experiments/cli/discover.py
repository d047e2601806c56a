"""The ``discover`` command: scenario discovery (PRIM) on an experiment folder.

The method lives in :mod:`experiments.discovery`.
"""

from __future__ import annotations

import argparse
import sys

from experiments.cli.common import EXIT_INVALID, detail, info, number
from experiments.discovery.prim import DiscoveryError
from experiments.discovery.rules import rule_lines
from experiments.discovery.study import discover, trajectory_lines


def cmd_discover(args: argparse.Namespace) -> int:
    """Run PRIM on an experiment folder; print the trajectory and the box as rules.

    Args:
        args: Parsed arguments.

    Returns:
        The exit status (2 for invalid input).
    """
    try:
        d = discover(
            args.folder,
            args.kpi,
            args.threshold,
            direction=args.direction,
            scenario=args.scenario,
            compare_to=args.compare_to,
            alpha=args.peel_alpha,
            min_mass=args.min_mass,
            min_density=args.min_density,
            paste=not args.no_paste,
            prune=None if args.keep_weak else 0.05,
            out=args.out,
            chart=not args.no_chart,
        )
    except DiscoveryError as exc:
        print(f"alliance discover: {exc}", file=sys.stderr)
        return EXIT_INVALID
    detail(
        args,
        f"PRIM on {args.folder}, over the parameters that vary: {', '.join(d.data.x.columns)}",
    )
    r = d.result
    n, fails = len(d.data.y), int(d.data.y.sum())
    print(f"Scenario discovery: failure = {d.data.description}")
    print(
        f"{n} runs, {fails} fail ({fails / n:.1%}); PRIM: peel alpha {args.peel_alpha:g}, "
        f"min mass {args.min_mass:g}; {len(d.data.x.columns)} parameters vary"
        + (f"; {d.data.dropped} runs without a value dropped" if d.data.dropped else "")
    )
    print()
    for line in trajectory_lines(r):
        print(line)
    s = r.stats
    print(
        f"\nchosen box ({r.selection}): coverage {s['coverage']:.1%}, density "
        f"{s['density']:.1%}, mass {s['mass']:.1%} ({int(s['n'])} runs, "
        f"{int(s['failures'])} failures; base rate {fails / n:.1%})"
    )
    if d.rules:
        print("fails when " + " and ".join(d.rules))
    else:
        print(
            "no limit of the box is significant (quasi-p < 0.05): failures look "
            "spread over the space"
        )
    for row, text in zip(r.limits.itertuples(), rule_lines(r.limits, d.info), strict=True):
        weak = "; weak" if row.qp >= 0.05 else ""
        print(f"  - {text}   (quasi-p {row.qp:.2g}{weak})")
    info(args, f"wrote {', '.join(str(f) for f in d.files)}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``discover`` on the ``alliance`` command's sub-parsers.

    Args:
        sub: The object returned by ``parser.add_subparsers()``.
    """
    p = sub.add_parser(
        "discover",
        help="scenario discovery (PRIM): where in parameter space a design fails a KPI threshold",
    )
    p.add_argument("folder", help="experiment folder (alliance sweep / sensitivity output)")
    p.add_argument(
        "--kpi", required=True, metavar="KPI", help="KPI column judged, e.g. fiscal_npv_usd"
    )
    p.add_argument(
        "--threshold",
        type=number(),
        default=None,
        help="failure threshold (with --compare-to: on the difference; default 0)",
    )
    side = p.add_mutually_exclusive_group()
    side.add_argument(
        "--below",
        dest="direction",
        action="store_const",
        const="below",
        help="failure = KPI below the threshold (default)",
    )
    side.add_argument(
        "--above",
        dest="direction",
        action="store_const",
        const="above",
        help="failure = KPI above the threshold (e.g. debt-service ratio)",
    )
    side.add_argument(
        "--direction",
        choices=("below", "above"),
        help="failure = KPI below or above the threshold (the same as --below / --above)",
    )
    p.set_defaults(direction="below")
    p.add_argument(
        "--scenario",
        default=None,
        help="the judged scenario, when the folder holds several (default: the only one)",
    )
    p.add_argument(
        "--compare-to",
        default=None,
        metavar="SCENARIO",
        help="failure = worse than this scenario on the same world "
        "(same design point and replication)",
    )
    p.add_argument(
        "--peel-alpha",
        type=number(hi=0.5, above=0.0),
        default=0.05,
        help="share of the box removed per peel (default 0.05)",
    )
    p.add_argument(
        "--min-mass",
        type=number(hi=1.0, above=0.0),
        default=0.05,
        help="stop peeling below this share of the runs (default 0.05)",
    )
    p.add_argument(
        "--min-density",
        type=number(0.0, 1.0),
        default=None,
        help="choose the highest-coverage box with this density (default: knee)",
    )
    p.add_argument("--no-paste", action="store_true", help="do not paste the chosen box")
    p.add_argument(
        "--keep-weak",
        action="store_true",
        help="keep limits whose quasi-p-value is >= 0.05 (default: drop them)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="where to write discovery.json and the chart (default: FOLDER itself)",
    )
    p.add_argument("--no-chart", action="store_true", help="skip the PNG of the peeling trajectory")
    p.set_defaults(func=cmd_discover)
