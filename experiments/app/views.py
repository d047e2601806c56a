"""What the page shows of a request's runs: the scorecard, fan charts, quintiles, NPV, stress.

The numbers come from the same functions as ``alliance compare``
(:func:`experiments.workshop.compare.summarise`, ``npv_decomposition``,
``stress_matrix``) and are formatted by the KPI catalogue
(:func:`sim.model.outputs.kpi`), so the page and the report agree; the charts are
Plotly figures in the palette of the report's charts (one colour per design).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from experiments.engine.plots import colours
from experiments.workshop.charts import derived_series
from experiments.workshop.compare import npv_decomposition, stress_matrix, summarise
from experiments.workshop.report import overlay_label, stakeholder_rows
from experiments.workshop.studies import STRESS_KPIS
from sim.config import load_scenario
from sim.model.outputs import SCORECARD, kpi

LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
    "font": {"family": "sans-serif", "size": 12},
    "legend": {"orientation": "h", "y": -0.18},
}


@dataclass
class Views:
    """Everything the page draws for one snapshot of a request's runs."""

    worlds: int
    scorecard: list[list[str]]  # header first
    fans: go.Figure
    quintiles: go.Figure
    npv: go.Figure | None
    stress: go.Figure | None
    stress_rows: list[list[str]]


def build(
    runs: pd.DataFrame, series: pd.DataFrame, designs: list[str], overlays: list[str], worlds: int
) -> Views:
    """Compute the tables and charts of a snapshot.

    Args:
        runs: Runs of complete worlds.
        series: Their time series.
        designs: Design files or names (the first is the reference).
        overlays: Overlay names.
        worlds: Complete worlds.

    Returns:
        The views.
    """
    labels = [Path(d).stem for d in designs]
    loaded = {Path(d).stem: load_scenario(d) for d in designs}
    reserves = sum(c.reserves_usd for c in loaded[labels[0]].world.cities.values())
    summary = summarise(runs, labels, reserves=reserves, kpis=SCORECARD)
    card = [k for k in SCORECARD if k in set(summary.kpi)] if len(summary) else []
    rows = stakeholder_rows(summary, card) if len(summary) else []
    base = runs[runs.scenario.isin(labels)]
    domains = {d: list(loaded[d].policy.domains) for d in labels}
    fans = fan_figure(derived_series(series, domains) if len(series) else series, labels)
    quint = quintile_figure(base, labels)
    npv = None
    if len(labels) > 1 and any(c.startswith("npv.") for c in runs.columns):
        npv = npv_figure(npv_decomposition(runs, labels))
    stress, srows = None, []
    if overlays:
        stress, srows = stress_figure(runs, labels, overlays)
    return Views(worlds, rows, fans, quint, npv, stress, srows)


def _figure(title: str, height: int = 360) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title, "x": 0}, height=height, **LAYOUT)
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def fan_figure(series: pd.DataFrame, labels: list[str]) -> go.Figure:
    """City general fund over time: median and 90 % band of the worlds, per design.

    Args:
        series: :func:`experiments.workshop.charts.derived_series` output.
        labels: Design labels.

    Returns:
        The figure.
    """
    fig = _figure("City general fund (median, 90 % of worlds)")
    col = colours(labels)
    if len(series):
        for label in labels:
            frame = series[series.scenario == label]
            if frame.empty or frame["balance"].isna().all():
                continue
            q = frame.groupby("month")["balance"].quantile([0.05, 0.5, 0.95]).unstack()
            years = (q.index.to_numpy() / 12).tolist()
            band = _rgba(col[label], 0.15)
            fig.add_scatter(
                x=years,
                y=q[0.95].tolist(),
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            )
            fig.add_scatter(
                x=years,
                y=q[0.05].tolist(),
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=band,
                name=f"{label} 90 %",
                hoverinfo="skip",
            )
            fig.add_scatter(
                x=years,
                y=q[0.5].tolist(),
                mode="lines",
                name=f"{label} median",
                line={"color": col[label], "width": 2},
            )
    fig.update_xaxes(title="year")
    fig.update_yaxes(title="USD million")
    return fig


def quintile_figure(runs: pd.DataFrame, labels: list[str]) -> go.Figure:
    """Final adoption of user-facing services by income quintile (mean, 90 % of worlds).

    Args:
        runs: Runs of the unstressed designs.
        labels: Design labels.

    Returns:
        The figure.
    """
    fig = _figure("Adoption by income quintile (mean, 90 % of worlds)")
    col = colours(labels)
    columns = [f"adoption_q{k}" for k in range(1, 6)]
    if len(runs) and all(c in runs for c in columns):
        for label in labels:
            sub = runs[runs.scenario == label]
            if sub.empty:
                continue
            data = sub[columns].to_numpy(dtype=float) * 100
            mean = data.mean(axis=0)
            lo, hi = np.percentile(data, 5, axis=0), np.percentile(data, 95, axis=0)
            fig.add_bar(
                x=[f"Q{k}" for k in range(1, 6)],
                y=mean.tolist(),
                name=label,
                marker_color=col[label],
                error_y={
                    "type": "data",
                    "array": (hi - mean).tolist(),
                    "arrayminus": (mean - lo).tolist(),
                },
            )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="income quintile (Q1 poorest)")
    fig.update_yaxes(title="% of residents")
    return fig


def npv_figure(table: pd.DataFrame) -> go.Figure:
    """Why the designs differ: the paired fiscal-NPV difference by component, with 95 % CIs.

    Args:
        table: :func:`experiments.workshop.compare.npv_decomposition` output.

    Returns:
        The figure.
    """
    fig = _figure("Fiscal NPV difference by component (95 % CI)", 420)
    if len(table):
        shown = table[(table.usd_mean.abs() > 0) | (table.component == "total")]
        col = colours(["_ref", *table.design.unique()])
        for design, sub in shown.groupby("design", sort=False):
            sub = sub.iloc[::-1]
            fig.add_bar(
                y=sub.label.tolist(),
                x=(sub.usd_mean / 1e6).tolist(),
                orientation="h",
                name=f"{design} vs {sub.against.iloc[0]}",
                marker_color=col[design],
                error_x={
                    "type": "data",
                    "array": ((sub.usd_ci_high - sub.usd_mean) / 1e6).tolist(),
                    "arrayminus": ((sub.usd_mean - sub.usd_ci_low) / 1e6).tolist(),
                },
            )
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="USD million (present value)")
    return fig


def stress_figure(
    runs: pd.DataFrame, labels: list[str], overlays: list[str]
) -> tuple[go.Figure, list[list[str]]]:
    """The stress matrix: mean change of the fiscal NPV under each overlay, per design.

    Args:
        runs: Runs of every label.
        labels: Design labels.
        overlays: Overlay names.

    Returns:
        (heatmap, rows of every stress KPI with units, header first per KPI).
    """
    rows: list[list[str]] = []
    for name in STRESS_KPIS:
        if name not in runs:
            continue
        matrix = stress_matrix(runs, labels, overlays, name)
        k = kpi(name)
        rows.append([k.label, *(overlay_label(o) for o in overlays)])
        for design, values in matrix.iterrows():
            rows.append([str(design), *(k.format(v, signed=True, change=True) for v in values)])
    name = STRESS_KPIS[0]
    matrix = stress_matrix(runs, labels, overlays, name) / 1e6
    z = matrix.to_numpy(dtype=float)
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = _figure(f"Stress: change of {kpi(name).label} (USD million)", 80 + 70 * len(labels))
    fig.add_heatmap(
        z=z.tolist(),
        x=[overlay_label(o) for o in overlays],
        y=labels,
        colorscale=[[0, "#D55E00"], [0.5, "#FFFFFF"], [1, "#0072B2"]],
        zmin=-limit or -1,
        zmax=limit or 1,
        text=[[f"{v:+,.1f}" for v in row] for row in z],
        texttemplate="%{text}",
        showscale=False,
    )
    return fig, rows


def error_figure(message: str) -> dict[str, Any]:
    """An empty chart (no data yet).

    Args:
        message: Shown in the middle.

    Returns:
        A figure as a dict.
    """
    fig = _figure("", 200)
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig.to_dict()
