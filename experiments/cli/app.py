"""``alliance app``: the live what-if page for strategy workshops."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import socket
import sys

from experiments.cli.common import (
    EXIT_INVALID,
    MONTHS,
    QUIET,
    WORKERS,
    detail,
    integer,
    verbosity,
)


def cmd_app(args: argparse.Namespace) -> int:
    """Start the what-if page (prints its address; Ctrl-C stops it).

    The address line is the command's output, ``-q`` included; ``-q`` hides the
    start-up lines of Dash ("Dash is running on ...") and Flask (" * Serving
    Flask app ...").
    """
    try:
        from experiments.app.runner import Runner
        from experiments.app.server import App
        from experiments.app.state import Request, RequestError
    except ImportError as exc:
        print(
            f"alliance app: needs the app extra ({exc.name} is not installed): "
            "pip install -e '.[app]'",
            file=sys.stderr,
        )
        return EXIT_INVALID
    designs = tuple(d for d in args.designs.split(",") if d.strip())
    overlays = tuple(o for o in args.overlays.split(",") if o.strip())
    default = Request(designs, overlays, (), args.worlds, args.months, 1)
    problems = default.check()
    if problems:
        print(f"alliance app: {problems[0]}", file=sys.stderr)
        return EXIT_INVALID
    with socket.socket() as probe:  # a busy port is one line, before anything starts
        try:
            probe.bind((args.host, args.port))
        except OSError as exc:
            print(
                f"alliance app: --port {args.port}: cannot listen ({exc.strerror})", file=sys.stderr
            )
            return EXIT_INVALID
    detail(
        args,
        f"engine {args.engine}, {args.workers} warm workers, cache {args.cache}, "
        f"exports {args.exports}",
    )
    runner = Runner(args.cache, engine=args.engine, workers=args.workers)
    app = App(runner, default=default, exports=args.exports)
    print(f"alliance app: http://{args.host}:{args.port}/ (Ctrl-C stops it)", flush=True)
    banners: contextlib.AbstractContextManager = contextlib.nullcontext()
    if verbosity(args) == QUIET:
        logging.getLogger("dash.dash").setLevel(logging.WARNING)  # "Dash is running on"
        banners = contextlib.redirect_stdout(io.StringIO())  # Flask's start-up banner
    try:
        with banners:
            app.serve(args.host, args.port)
    except RequestError as exc:
        print(f"alliance app: {exc.problems[0]}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        app.stop()
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``app``.

    Args:
        sub: The ``alliance`` command's sub-parsers.
    """
    p = sub.add_parser("app", help="live what-if page for workshops, in the browser (offline)")
    p.add_argument(
        "--port", type=integer(1, 65535), default=8050, help="TCP port, 1 .. 65535 (default 8050)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--designs",
        default="traditional,alliance",
        metavar="LIST",
        help="comma-separated designs the page opens with (default %(default)s)",
    )
    p.add_argument(
        "--overlays",
        default="",
        metavar="LIST",
        help="comma-separated overlays the page opens with (default: none)",
    )
    p.add_argument(
        "--worlds", type=integer(2, 200), default=20, help="worlds per design (default 20)"
    )
    p.add_argument(
        "--months",
        type=integer(*MONTHS, "months"),
        default=None,
        help="horizon the page opens with (default: the designs')",
    )
    p.add_argument(
        "--engine",
        choices=("processes", "serial", "dask"),
        default="processes",
        help="where the page's runs execute (default processes)",
    )
    p.add_argument(
        "--workers", type=integer(*WORKERS), default=2, help="warm worker processes (default 2)"
    )
    p.add_argument(
        "--cache",
        default="results/app-cache",
        metavar="FOLDER",
        help="where the run stores of the page's requests are kept (default %(default)s)",
    )
    p.add_argument(
        "--exports",
        default="results",
        metavar="FOLDER",
        help="where Export writes study folders (default %(default)s)",
    )
    p.set_defaults(func=cmd_app)
