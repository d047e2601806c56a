"""The what-if page: a Dash app on the runner, every asset served from the installed wheels.

Dash serves its scripts (React, Plotly.js, its components) from the ``dash`` and
``plotly`` wheels (``serve_locally``, the default), loads no web font and no
style sheet from elsewhere, so the page works with the network closed.

One callback keeps the controls and the address in step (an address opens the
page in that state; a change of control rewrites the address and submits the
request); a timer draws the newest snapshot of the request's runs as worlds
finish. Every problem is one line on the page, never a traceback.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, get_args

from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from experiments.app.runner import Job, Runner
from experiments.app.state import LEVERS, Request, RequestError, parse_other
from experiments.app.views import build, error_figure
from experiments.engine.store import atomic, safe_name
from sim.config import ScenarioError, load_scenario, parameters
from sim.config.loader import library

STYLE = {
    "body": {"fontFamily": "system-ui, sans-serif", "margin": "0", "color": "#222"},
    "side": {
        "width": "330px",
        "padding": "12px 16px",
        "background": "#f4f6f8",
        "height": "100vh",
        "overflowY": "auto",
        "boxSizing": "border-box",
        "flex": "none",
    },
    "main": {
        "flex": "1",
        "padding": "12px 20px",
        "height": "100vh",
        "overflowY": "auto",
        "boxSizing": "border-box",
    },
    "label": {"fontWeight": "600", "marginTop": "10px", "display": "block", "fontSize": "13px"},
    "hint": {"fontSize": "11px", "color": "#555"},
    "error": {"color": "#a40000", "fontWeight": "600", "minHeight": "1.2em"},
    "table": {"borderCollapse": "collapse", "fontSize": "13px", "width": "100%"},
    "cell": {"borderBottom": "1px solid #ddd", "padding": "3px 6px", "textAlign": "left"},
}
SWITCH = [
    {"label": "as designed", "value": ""},
    {"label": "on", "value": "true"},
    {"label": "off", "value": "false"},
]


@lru_cache(maxsize=64)
def _params(design: str) -> dict[str, Any]:
    """The parameters of a design by dotted path (unit, range, value)."""
    return {p.path: p for p in parameters(load_scenario(design))}


def _choices(path: str) -> list[str]:
    """The values a choice lever takes, from the schema."""
    from sim.config import schema
    from sim.instruments.catalogue import Instrument

    return {
        "policy.procurement.mode": list(get_args(schema.ProcurementMode)),
        "policy.contracts.payment": list(get_args(schema.PaymentMode)),
        "policy.financing.preference": list(get_args(Instrument)),
    }.get(path, [])


def _range(param: Any) -> tuple[float, float]:
    lo, _, hi = str(param.allowed).partition(" .. ")
    return float(lo), float(hi)


def _lever_control(path: str, label: str, kind: str, reference: str) -> html.Div:
    """A lever's control, with its unit and range from the schema."""
    param = _params(reference).get(path)
    unit = param.unit if param is not None else ""
    title = f"{label}" + (f" ({unit})" if unit else "")
    lid = {"type": "lever", "path": path}
    on = {"type": "lever-on", "path": path}
    hidden_on = dcc.Checklist(id=on, options=[], value=[], style={"display": "none"})
    if kind == "slider" and param is not None:
        lo, hi = _range(param)
        step = 25 if unit == "bp" else (hi - lo) / 100
        control: Any = html.Div(
            [
                dcc.Checklist(
                    id=on,
                    options=[{"label": " set", "value": "on"}],
                    value=[],
                    inline=True,
                    style={"fontSize": "12px"},
                ),
                html.Div(f"{path}, {param.allowed} {unit}", style=STYLE["hint"]),
                dcc.Slider(
                    id=lid,
                    min=lo,
                    max=hi,
                    step=step,
                    value=param.value,
                    disabled=True,
                    marks=None,
                    tooltip={"placement": "bottom", "always_visible": True},
                ),
            ],
            style={"paddingBottom": "22px"},
        )
    elif kind == "switch":
        control = html.Div(
            [
                hidden_on,
                dcc.RadioItems(
                    id=lid, options=SWITCH, value="", inline=True, style={"fontSize": "13px"}
                ),
            ]
        )
    elif kind == "order":
        control = html.Div(
            [
                hidden_on,
                dcc.Dropdown(
                    id=lid, options=_choices(path), value=[], multi=True, placeholder="as designed"
                ),
                html.Div("first choice first", style=STYLE["hint"]),
            ]
        )
    else:
        control = html.Div(
            [
                hidden_on,
                dcc.Dropdown(
                    id=lid,
                    options=[{"label": "as designed", "value": ""}]
                    + [{"label": c, "value": c} for c in _choices(path)],
                    value="",
                    clearable=False,
                ),
            ]
        )
    return html.Div([html.Label(title, style=STYLE["label"]), control])


def _table(rows: list[list[str]], table_id: str) -> html.Table:
    if not rows:
        return html.Table(id=table_id)
    head = html.Tr([html.Th(c, style=STYLE["cell"]) for c in rows[0]])
    body = [html.Tr([html.Td(c, style=STYLE["cell"]) for c in r]) for r in rows[1:]]
    return html.Table([html.Thead(head), html.Tbody(body)], id=table_id, style=STYLE["table"])


class App:
    """The page and its state: a runner, the files added, the exports."""

    def __init__(
        self,
        runner: Runner,
        *,
        default: Request | None = None,
        exports: str | Path = "results",
        poll_ms: int = 400,
    ) -> None:
        """Build the Dash app (the runner is started by :meth:`serve`).

        Args:
            runner: Runs the requests.
            default: The request of an address without one (designs, worlds, months).
            exports: Where "export" writes study folders.
            poll_ms: How often the page asks for new results.
        """
        self.runner = runner
        self.default = default or Request()
        self.exports = Path(exports)
        self.files = runner.cache / "files"
        self._painted: dict[str, dict[str, Any]] = {}  # by request key: the newest views
        self._paint_id = 0
        self._views_lock = threading.Lock()
        self._stopping = threading.Event()
        self._painter: threading.Thread | None = None
        self.dash = Dash(__name__, title="alliance what-if", serve_locally=True, update_title=None)
        self.dash.layout = self._layout(poll_ms)
        self._callbacks()

    # ------------------------------------------------------------------ layout
    def _layout(self, poll_ms: int) -> html.Div:
        reference = self.default.designs[0]
        scenarios = [name for name, _, _ in library()]
        overlays = [{"label": f" {name}", "value": name} for name, _, _ in library(overlay=True)]
        side = html.Div(
            [
                html.H2("alliance what-if", style={"margin": "4px 0"}),
                html.Label("Designs (the first is the reference)", style=STYLE["label"]),
                dcc.Dropdown(
                    id="designs", options=scenarios, value=list(self.default.designs), multi=True
                ),
                dcc.Upload(
                    id="upload",
                    children=html.Div("Add a scenario file (.toml): drop or click"),
                    style={
                        "border": "1px dashed #888",
                        "padding": "6px",
                        "marginTop": "6px",
                        "fontSize": "12px",
                        "cursor": "pointer",
                    },
                ),
                html.Div(
                    [
                        dcc.Input(
                            id="path",
                            placeholder="or a file path on the server",
                            style={"width": "230px"},
                        ),
                        html.Button("add", id="add-path", n_clicks=0),
                    ],
                    style={"marginTop": "4px"},
                ),
                html.Label("Stress overlays", style=STYLE["label"]),
                dcc.Checklist(
                    id="overlays",
                    options=overlays,
                    value=list(self.default.overlays),
                    style={"fontSize": "13px"},
                ),
                html.H3("Levers (every design)", style={"margin": "14px 0 0"}),
                *[_lever_control(p, lab, kind, reference) for p, (lab, kind) in LEVERS.items()],
                html.Label("Any parameter (PATH=VALUE, one a line)", style=STYLE["label"]),
                dcc.Textarea(
                    id="other",
                    value="",
                    style={"width": "100%", "height": "48px"},
                    placeholder="e.g. world.macro.discount_rate_annual=0.04 (applied on leaving)",
                ),
                html.Div(
                    [
                        html.Label("Worlds", style=STYLE["label"]),
                        dcc.Input(
                            id="worlds",
                            type="number",
                            min=2,
                            max=200,
                            step=1,
                            value=self.default.worlds,
                            debounce=True,
                            style={"width": "60px"},
                        ),
                        html.Label("Months", style=STYLE["label"]),
                        dcc.Input(
                            id="months",
                            type="number",
                            min=1,
                            max=1200,
                            step=1,
                            value=self.default.months,
                            debounce=True,
                            placeholder="design's",
                            style={"width": "70px"},
                        ),
                        html.Label("Seed", style=STYLE["label"]),
                        dcc.Input(
                            id="seed",
                            type="number",
                            min=0,
                            step=1,
                            value=self.default.seed,
                            debounce=True,
                            style={"width": "60px"},
                        ),
                    ],
                    style={
                        "display": "flex",
                        "gap": "6px",
                        "alignItems": "baseline",
                        "flexWrap": "wrap",
                    },
                ),
                html.Button(
                    "Export study and report", id="export", n_clicks=0, style={"marginTop": "14px"}
                ),
                dcc.Loading(
                    html.Pre(id="export-out", style={"whiteSpace": "pre-wrap", "fontSize": "11px"})
                ),
            ],
            style=STYLE["side"],
        )
        main = html.Div(
            [
                html.Div(id="error", role="alert", style=STYLE["error"]),
                html.Div(id="status", style={"fontSize": "13px", "color": "#333"}),
                html.H3("Stakeholder scorecard", style={"marginBottom": "4px"}),
                html.Div(
                    "Paired change against the reference on the same worlds, its 95 % "
                    "confidence interval (n.s.: not separable yet) and the worlds in which "
                    "the design does better / the same / worse.",
                    style=STYLE["hint"],
                ),
                html.Div(_table([], "scorecard"), id="scorecard-box"),
                html.Div(
                    [
                        dcc.Graph(
                            id="fans",
                            figure=error_figure("waiting for worlds"),
                            config={"displaylogo": False, "displayModeBar": False},
                        ),
                        dcc.Graph(
                            id="quintiles",
                            figure=error_figure("waiting for worlds"),
                            config={"displaylogo": False, "displayModeBar": False},
                        ),
                    ],
                    style={"display": "grid", "gridTemplateColumns": "1fr 1fr", "gap": "8px"},
                ),
                dcc.Graph(
                    id="npv",
                    figure=error_figure("waiting for worlds"),
                    config={"displaylogo": False, "displayModeBar": False},
                ),
                html.H3("Stress matrix", style={"marginBottom": "4px"}),
                html.Div(id="stress-box"),
                dcc.Graph(
                    id="stress",
                    figure=error_figure("choose a stress overlay"),
                    config={"displaylogo": False, "displayModeBar": False},
                ),
            ],
            style=STYLE["main"],
        )
        return html.Div(
            [
                dcc.Location(id="url", refresh=False),
                dcc.Store(id="key"),
                dcc.Store(id="shown"),
                dcc.Store(id="added", data=[]),
                dcc.Interval(id="tick", interval=poll_ms),
                html.Div([side, main], style={"display": "flex"}),
            ],
            style=STYLE["body"],
        )

    # --------------------------------------------------------------- callbacks
    def _callbacks(self) -> None:
        app = self.dash
        lever = {"type": "lever", "path": ALL}
        lever_on = {"type": "lever-on", "path": ALL}
        controls = [
            Output("designs", "value"),
            Output("overlays", "value"),
            Output(lever, "value"),
            Output(lever_on, "value"),
            Output("other", "value"),
            Output("worlds", "value"),
            Output("months", "value"),
            Output("seed", "value"),
        ]
        inputs = [
            Input("url", "search"),
            Input("designs", "value"),
            Input("overlays", "value"),
            Input(lever, "value"),
            Input(lever_on, "value"),
            Input("other", "n_blur"),
            Input("worlds", "value"),
            Input("months", "value"),
            Input("seed", "value"),
            Input("upload", "contents"),
            Input("add-path", "n_clicks"),
        ]

        @app.callback(
            [
                Output("url", "search"),
                *controls,
                Output("designs", "options"),
                Output("added", "data"),
                Output("error", "children"),
                Output("key", "data"),
            ],
            inputs,
            [
                State("upload", "filename"),
                State("path", "value"),
                State("added", "data"),
                State("other", "value"),
            ],
        )
        def sync(
            search,
            designs,
            overlays,
            values,
            ons,
            _blur,
            worlds,
            months,
            seed,
            upload,
            _clicks,
            filename,
            path,
            added,
            other,
        ):
            return self.sync(
                ctx.triggered_id,
                search,
                designs,
                overlays,
                values,
                ons,
                other,
                worlds,
                months,
                seed,
                upload,
                filename,
                path,
                added or [],
            )

        @app.callback(
            Output({"type": "lever", "path": ALL}, "disabled"),
            Input(lever_on, "value"),
            State(lever_on, "options"),
        )
        def enable(ons, options):
            return [bool(opts) and not on for on, opts in zip(ons, options, strict=True)]

        @app.callback(
            [
                Output("status", "children"),
                Output("scorecard-box", "children"),
                Output("fans", "figure"),
                Output("quintiles", "figure"),
                Output("npv", "figure"),
                Output("stress", "figure"),
                Output("stress-box", "children"),
                Output("shown", "data"),
            ],
            Input("tick", "n_intervals"),
            State("key", "data"),
            State("shown", "data"),
        )
        def draw(_n, key, shown):
            return self.draw(key, shown)

        @app.callback(
            Output("export-out", "children"),
            Input("export", "n_clicks"),
            State("key", "data"),
            prevent_initial_call=True,
        )
        def export(_n, key):
            return self.export(key)

    # ------------------------------------------------------------------ sync
    def controls_of(self, request: Request) -> list[Any]:
        """The control values that show a request (the inverse of :meth:`request_of`).

        Args:
            request: The request.

        Returns:
            designs, overlays, lever values, lever switches, other, worlds, months, seed.
        """
        given = request.overrides
        reference = _params(request.designs[0]) if request.designs else {}
        values, ons = [], []
        for path, (_, kind) in LEVERS.items():
            value = given.pop(path, None)
            if kind == "slider":
                default = reference.get(path)
                ons.append(["on"] if value is not None else [])
                values.append(value if value is not None else getattr(default, "value", 0))
            elif kind == "switch":
                ons.append([])
                values.append("" if value is None else ("true" if value else "false"))
            elif kind == "order":
                ons.append([])
                values.append(list(value) if value else [])
            else:
                ons.append([])
                values.append("" if value is None else str(value))
        other = "\n".join(f"{p}={v}" for p, v in given.items())
        return [
            list(request.designs),
            list(request.overlays),
            values,
            ons,
            other,
            request.worlds,
            request.months,
            request.seed,
        ]

    def request_of(self, designs, overlays, values, ons, other, worlds, months, seed) -> Request:
        """The request the controls describe.

        Args:
            designs: Design names or files.
            overlays: Overlay names.
            values: The levers' values, in :data:`LEVERS` order.
            ons: Their "set" switches (sliders).
            other: The "any parameter" box.
            worlds: Worlds per design.
            months: Horizon (None: the designs').
            seed: Seed.

        Returns:
            The request.

        Raises:
            RequestError: One line naming the control and the problem.
        """
        levers: dict[str, Any] = {}
        for (path, (_, kind)), value, on in zip(LEVERS.items(), values, ons, strict=True):
            if kind == "slider":
                levers[path] = value if on else None
            elif kind == "switch":
                levers[path] = None if value in ("", None) else value == "true"
            elif kind == "order":
                levers[path] = list(value) if value else None
            else:
                levers[path] = value or None
        for path, value in parse_other(other or "").items():
            if path in levers and levers[path] is not None:
                raise RequestError([f"{path}: set twice (a lever and the parameter box)"])
            levers[path] = value
        problems = []
        for name, value, lo, hi in (
            ("worlds", worlds, 2, 200),
            ("months", months, 1, 1200),
            ("seed", seed, 0, 2**63 - 1),
        ):
            if value is None and name == "months":
                continue
            if value is None or not lo <= value <= hi or int(value) != value:
                problems.append(f"{name}: {value!r}: enter a whole number {lo} .. {hi}")
        if problems:
            raise RequestError(problems)
        return Request(
            tuple(designs or ()),
            tuple(overlays or ()),
            (),
            int(worlds),
            None if months is None else int(months),
            int(seed),
        ).with_levers(levers)

    def sync(
        self,
        trigger,
        search,
        designs,
        overlays,
        values,
        ons,
        other,
        worlds,
        months,
        seed,
        upload,
        filename,
        path,
        added,
    ) -> list[Any]:
        """Keep controls, address and runner in step (the one callback of the controls).

        Returns:
            The callback's outputs.
        """
        if search is None:  # the address is not read yet
            raise PreventUpdate
        n_controls = 8
        keep = [no_update] * n_controls
        options = [name for name, _, _ in library()] + added
        error = ""
        if trigger in ("upload", "add-path"):
            text = None
            if trigger == "upload":
                if not upload:
                    raise PreventUpdate
                text = base64.b64decode(upload.split(",", 1)[1]).decode("utf-8", "replace")
            added_file, error = self.add_file(filename if trigger == "upload" else path, text)
            if error:
                return [no_update, *keep, no_update, no_update, error, no_update]
            options = [*options, added_file] if added_file not in options else options
            designs = [*(designs or []), added_file]
            added = [*added, added_file]
            trigger = "designs"
        if trigger in (None, "url"):
            try:
                request = Request.from_query(search, self.default)
            except RequestError as exc:
                return [no_update, *keep, options, added, exc.problems[0], no_update]
            for d in request.designs:
                if d not in options:
                    options.append(d)
            shown = self.controls_of(request)
            url_out: Any = no_update
        else:
            try:
                request = self.request_of(
                    designs, overlays, values, ons, other, worlds, months, seed
                )
            except RequestError as exc:
                return [no_update, *keep, options, added, exc.problems[0], no_update]
            shown = [designs] + [no_update] * (n_controls - 1)
            url_out = "?" + request.to_query()
        problems = request.check()
        if problems:
            return [url_out, *shown, options, added, problems[0], no_update]
        try:
            key = request.key()
            self.runner.submit(request, key)
        except (ScenarioError, RequestError) as exc:
            return [url_out, *shown, options, added, exc.problems[0], no_update]
        return [url_out, *shown, options, added, error, key]

    def add_file(self, name: str | None, text: str | None) -> tuple[str, str]:
        """Keep a scenario file (uploaded, or a path on the server) by its content.

        The file is copied to ``<cache>/files/<hash>/<name>``, so an edited file is a
        new design for the run store and for the warm workers (they cache scenarios
        by file name).

        Args:
            name: Its file name (upload) or path.
            text: Its content (upload) or None (read the path).

        Returns:
            (the path to use, "") or ("", one line naming the file and the problem).
        """
        if not name:
            return "", "scenario file: give a file name or path"
        label = Path(name).name
        if text is None:
            source = Path(name).expanduser()
            if not source.is_file():
                return "", f"{name}: no such file"
            try:
                text = source.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                return "", f"{name}: cannot be read ({exc})"
        if not label.endswith(".toml"):
            return "", f"{label}: a scenario file must be a .toml file"
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        target = self.files / digest / label
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic(target, lambda p: p.write_text(text))
        try:
            load_scenario(str(target))
        except ScenarioError as exc:
            return "", f"{label}: {exc.problems[0]}"
        except Exception as exc:  # anything else a broken file raises: one line
            return "", f"{label}: cannot be loaded ({type(exc).__name__}: {exc})".splitlines()[0]
        return str(target), ""

    # ------------------------------------------------------------------ draw
    def draw(self, key: str | None, shown: dict | None) -> list[Any]:
        """The newest views of the request's runs, when they changed since last drawn.

        The views are built by the painter thread (:meth:`paint_once`), so this
        returns at once, well inside the page's polling interval.

        Args:
            key: The request's key.
            shown: What this page last drew.

        Returns:
            The callback's outputs.
        """
        job = self.runner.job(key) if key else None
        if job is None:
            raise PreventUpdate
        with self._views_lock:
            painted = self._painted.get(key)
        worlds = painted["worlds"] if painted else 0
        status = self.status_line(job, max(worlds, 0))
        if painted and painted["error"]:
            status = f"{status} · cannot draw the results: {painted['error']}"
        stamp = {"key": key, "paint": painted["id"] if painted else 0, "status": status}
        if shown == stamp:
            raise PreventUpdate
        if not painted or painted["views"] is None:
            return [status, *[no_update] * 6, stamp]
        views = painted["views"]
        return [
            status,
            _table(views.scorecard, "scorecard"),
            views.fans,
            views.quintiles,
            views.npv if views.npv is not None else error_figure("no data"),
            views.stress if views.stress is not None else error_figure("choose a stress overlay"),
            _table(views.stress_rows, "stress-table"),
            stamp,
        ]

    def paint_once(self) -> bool:
        """Build the views of the newest job's complete worlds, once per number of worlds.

        Returns:
            Whether anything was built.
        """
        job = self.runner.current
        if job is None:
            return False
        worlds = job.complete_worlds()
        if worlds < min(self.runner.min_worlds, job.request.worlds):
            return False
        with self._views_lock:
            painted = self._painted.get(job.key)
        if painted is not None and painted["worlds"] == worlds:  # drawn already (the store)
            if job.shown_full is None and worlds >= job.request.worlds:
                job.shown_first = job.shown_full = time.perf_counter() - job.submitted
            return False
        total = job.request.worlds
        if (
            painted is not None
            and worlds < total
            and worlds - painted["worlds"] < max(1, painted["worlds"] // 2)
        ):  # refine in steps (2, 3, 4, 6, 9, ...): drawing takes a core from the workers
            return False
        runs, series, worlds = job.snapshot()
        req = job.request
        views, error = None, ""
        try:
            views = build(runs, series, list(req.designs), list(req.overlays), worlds)
        except Exception as exc:  # one line on the page; the page keeps going
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        elapsed = time.perf_counter() - job.submitted
        if job.shown_first is None:
            job.shown_first = elapsed
        if worlds >= req.worlds and job.shown_full is None:
            job.shown_full = elapsed
        with self._views_lock:
            self._paint_id += 1
            if len(self._painted) > 64:
                self._painted.clear()
            self._painted[job.key] = {
                "worlds": worlds,
                "views": views,
                "error": error,
                "id": self._paint_id,
            }
        return True

    def start_painter(self) -> None:
        """Start the thread that builds the views as worlds finish."""

        def loop() -> None:
            while not self._stopping.is_set():
                try:
                    busy = self.paint_once()
                except Exception:  # never let the painter die; the next round retries
                    busy = False
                if not busy:
                    self._stopping.wait(0.05)

        if self._painter is None:
            self._painter = threading.Thread(target=loop, name="alliance-app-paint", daemon=True)
            self._painter.start()

    def stop(self) -> None:
        """Stop the painter and the runner."""
        self._stopping.set()
        self.runner.close()

    def status_line(self, job: Job, worlds: int) -> str:
        """The status: "12 of 20 worlds", with the times to the first estimate and the full result.

        Args:
            job: The job.
            worlds: Complete worlds.

        Returns:
            One line.
        """
        total = job.request.worlds
        parts = [f"{worlds} of {total} worlds"]
        if job.status == "failed":
            parts.append(f"failed: {job.error}")
        elif job.status == "cancelled":
            parts.append("stopped (the levers changed)")
        elif worlds < total:
            parts.append(
                {"running": "running", "queued": "starting the workers"}.get(job.status, "drawing")
            )
        if job.stored and job.ran == 0 and worlds >= total:
            parts.append("from the run store")
        if job.shown_first is not None and job.ran:
            parts.append(f"first estimate after {job.shown_first:.1f} s")
        if job.shown_full is not None and job.ran:
            parts.append(f"full result after {job.shown_full:.1f} s")
        months = job.request.months
        parts.append(f"horizon {months} months" if months else "horizon: the designs'")
        return " · ".join(parts)

    # ---------------------------------------------------------------- export
    def export(self, key: str | None) -> str:
        """Write the study folder and report ``alliance compare`` would, from the run store.

        Args:
            key: The request shown.

        Returns:
            What was written and the equivalent command line (or one line of error).
        """
        from experiments.workshop.report import build_report
        from experiments.workshop.studies import compare_study

        job = self.runner.job(key) if key else None
        if job is None:
            return "export: nothing to export yet"
        req = job.request
        labels = "-".join(Path(d).stem for d in req.designs)
        out = self.exports / safe_name(f"compare-{labels}-{job.key[:8]}")
        try:
            if not out.exists() and (job.folder / "manifest.json").is_file():
                job.finished.wait(timeout=600)  # the store's writer is done with it
                staging = out.with_name(out.name + f".tmp-{os.getpid()}")
                shutil.copytree(job.folder, staging, ignore=shutil.ignore_patterns(".lock*"))
                os.replace(staging, out)  # the folder appears whole or not at all
            started = time.perf_counter()
            compare_study(
                list(req.designs),
                out,
                replications=req.worlds,
                overlays=list(req.overlays),
                seed=req.seed,
                months=req.months,
                engine=self.runner.engine or "processes",
                overrides=req.overrides or None,
            )
            html_path, pdf_path = build_report(out)
        except Exception as exc:  # one line on the page; the server goes on
            return f"export: {type(exc).__name__}: {exc}".splitlines()[0]
        return (
            f"wrote {out} ({time.perf_counter() - started:.1f} s): {html_path.name}, "
            f"{pdf_path.name}, compare.csv, charts/\nthe same from the command line:\n"
            f"{req.command(out)}"
        )

    def serve(self, host: str, port: int) -> None:
        """Start the workers and serve until interrupted.

        Args:
            host: Address to listen on.
            port: Port.
        """
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.runner.start()
        self.start_painter()
        self.dash.run(host=host, port=port, debug=False)
