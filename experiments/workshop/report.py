"""The workshop report: one self-contained HTML file (opens offline) and its PDF.

``build_report(folder)`` reads what a study left in its folder (the
stakeholder table, stress and regret tables, tornado, sensitivity indices and
discovery boxes where present, the charts, the manifest) and writes
``report.html`` (charts embedded as data URIs, no external resources) and
``report.pdf``, typeset by WeasyPrint from the very same HTML string with the
page's print style sheet (A4, page numbers, tables that fit the page width,
headers repeated across pages). Figures and tables carry numbered captions
("Figure 1. ...", "Table 1. ..."); the figure captions come from
:data:`CAPTIONS`. Every number in the report's tables is read from the tables
the study computed from the runs table, never retyped.
"""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.engine.store import atomic, safe_name
from sim.model.outputs import KPI, KPI_INFO, SCORECARD, kpi

QUESTION = (
    "Does the Alliance Approach (nimble procurement, mixed financing, risk sharing, a champion "
    "and a PMO, start small and scale what works) beat the traditional approach (general-"
    "obligation bonds, a detailed RFP, the city carries the risk) on the city's finances, on "
    "services delivered and on risk, and under which conditions does it fail?"
)
HEADLINES = (
    "fiscal_npv_usd",
    "min_budget_balance_usd",
    "stranded_debt_usd",
    "savings_usd",
    "welfare_usd",
    "adoption_gap_top_bottom",
    "vendor_net_usd",
    "investor_net_usd",
)
CHART_ORDER = (
    "why_",
    "stakeholders",
    "fan_charts",
    "kpi_distributions",
    "adoption_quintiles",
    "waterfall_",
    "stress_",
    "tornado",
    "sensitivity",
    "sobol",
    "emulator",
    "morris",
    "convergence",
    "discovery",
)


def _read(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / name
    return pd.read_csv(path) if path.is_file() else None


def _json(folder: Path, name: str) -> dict:
    path = folder / name
    return json.loads(path.read_text()) if path.is_file() else {}


def _signed(value: float, unit: str) -> str:
    return KPI("", "", unit, 0).format(value, signed=True, change=True)


def overlay_label(name: str) -> str:
    """A stress overlay's name as people read it (``rate_shock`` -> ``rate shock``)."""
    return "no stress" if name == "none" else name.replace("_", " ")


def text_table(rows: list[list[str]], width: int = 100) -> list[str]:
    """A table as terminal lines at most ``width`` wide: the first column wraps to fit.

    Args:
        rows: Header first; every row as long as the header.
        width: Longest line.

    Returns:
        Lines (header, a rule, the rows; a wrapped first cell continues below itself).
    """
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rest = sum(widths[1:]) + 2 * (len(widths) - 1)
    widths[0] = max(12, min(widths[0], width - rest))
    lines = []
    for k, r in enumerate(rows):
        first = _wrap_cell(r[0], widths[0])
        cells = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join([first[0].ljust(widths[0]), *cells]).rstrip())
        lines += first[1:]
        if k == 0:
            lines.append("-" * min(width, sum(widths) + 2 * (len(widths) - 1)))
    return lines


def _wrap_cell(text: str, width: int) -> list[str]:
    """A cell's lines at most ``width`` wide, broken after a space, ``.`` or ``_``.

    A dotted path wraps at its dots (``policy.contracts.`` / ``payment``) rather
    than inside a word; a piece longer than the width is cut.
    """
    if len(text) <= width:
        return [text]
    pieces = [p for p in re.split(r"(?<=[ ._])", text) if p]
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        while len(piece.rstrip()) > width:
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line.strip():
        lines.append(line.rstrip())
    return lines or [""]


def kpi_label(name: str) -> str:
    """A KPI's label with its display unit (``City fiscal NPV vs no projects ($M)``)."""
    return kpi(name).axis_label


def stress_rows(matrix: pd.DataFrame, kpi_name: str) -> list[list[str]]:
    """A stress matrix (designs x overlays) as rows with units, header first.

    Args:
        matrix: Mean change per design (index) and overlay (columns).
        kpi_name: The KPI.

    Returns:
        Rows: design, then the signed change under each overlay.
    """
    k = kpi(kpi_name)
    rows = [["design", *(overlay_label(str(c)) for c in matrix.columns)]]
    for design, values in matrix.iterrows():
        rows.append([str(design), *(k.format(v, signed=True, change=True) for v in values)])
    return rows


def regret_rows(table: pd.DataFrame, kpi_name: str) -> list[list[str]]:
    """Regret and robustness of each design (``regret.csv`` rows of one KPI), header first.

    Args:
        table: Indexed by design: ``regret.<condition>``, ``max_regret``,
            ``worst_level``, ``worst_change``.
        kpi_name: The KPI.

    Returns:
        Rows: design, largest regret and where, worst level, largest drop under stress.
    """
    k = kpi(kpi_name)
    conditions = [c.removeprefix("regret.") for c in table.columns if c.startswith("regret.")]
    rows = [["design", "max regret", "where", "worst level", "worst change under stress"]]
    for design, r in table.iterrows():
        regrets = [float(r[f"regret.{c}"]) for c in conditions]
        where = overlay_label(conditions[int(np.argmax(regrets))]) if max(regrets) > 0 else "-"
        rows.append(
            [
                str(design),
                k.format(r["max_regret"]),
                where,
                k.format(r["worst_level"]),
                k.format(r["worst_change"], signed=True, change=True),
            ]
        )
    return rows


def tornado_rows(table: pd.DataFrame) -> list[list[str]]:
    """A tornado table (``tornado.csv``) with units, widest swing first, header first.

    Args:
        table: Rows parameter, low, high, kpi, kpi_low, kpi_high, kpi_base.

    Returns:
        Rows: parameter (with unit), its low and high, the KPI at each, the swing.
    """
    from sim.config import load_scenario, parameters

    units = {p.path: p.unit for p in parameters(load_scenario("alliance"))}
    name = str(table["kpi"].iloc[0]) if "kpi" in table and len(table) else "fiscal_npv_usd"
    k = kpi(name)
    rows = [["parameter", "low .. high", "at low", "at high", "swing"]]
    t = table.assign(swing=(table.kpi_high - table.kpi_low).abs()).sort_values(
        "swing", ascending=False
    )
    for r in t.itertuples(index=False):
        unit = units.get(str(r.parameter), "")
        rows.append(
            [
                str(r.parameter),
                f"{r.low:g} .. {r.high:g}{' ' + unit if unit else ''}",
                k.format(r.kpi_low),
                k.format(r.kpi_high),
                k.format(r.swing),
            ]
        )
    return rows


def indices_rows(indices: pd.DataFrame) -> list[list[str]]:
    """Sensitivity indices with KPI labels and two decimals, header first.

    Args:
        indices: Rows of ``indices.csv`` (kpi, parameter, index, value, ...).

    Returns:
        Rows: KPI, parameter, index, value (with its confidence half-width when known).
    """
    rows = [["KPI", "parameter", "index", "value"]]
    for r in indices.itertuples(index=False):
        conf = getattr(r, "ci", float("nan"))
        value = f"{r.value:.2f}" + (f" ± {conf:.2f}" if pd.notna(conf) else "")
        rows.append([kpi(str(r.kpi)).label, str(r.parameter), str(r.index), value])
    return rows


def hidden_kpis(summary: pd.DataFrame) -> list[str]:
    """Labels of the KPIs that are zero for every design in every world (left out of tables).

    Args:
        summary: The stakeholder table.

    Returns:
        Their labels, in table order.
    """
    zero = summary.groupby("kpi", sort=False).apply(
        lambda g: bool(
            (g["mean"].fillna(0) == 0).all()
            and (g["p05"].fillna(0) == 0).all()
            and (g["p95"].fillna(0) == 0).all()
        ),
        include_groups=False,
    )
    labels = summary.drop_duplicates("kpi").set_index("kpi")["label"]
    return [labels[k] for k in zero.index if zero[k]]


def headline_findings(summary: pd.DataFrame) -> list[str]:
    """Plain-language sentences for the headline KPIs, with their uncertainty.

    Args:
        summary: The stakeholder table (``compare.csv``).

    Returns:
        One sentence per (design, KPI) against the reference design.
    """
    lines = []
    ref = summary.scenario.iloc[0]
    for name in HEADLINES:
        rows = summary[(summary.kpi == name) & summary["diff"].notna()]
        for _, r in rows.iterrows():
            interval = f"95 % CI {_signed(r.diff_lo, r.unit)} to {_signed(r.diff_hi, r.unit)}"
            text = (
                f"{r.label}: {r.scenario} {_signed(r['diff'], r.unit)} against {ref} "
                f"on the same worlds ({interval}"
            )
            if pd.notna(r.p_better):
                text += f"; better in {r.p_better:.0%} of {int(r.n)} worlds"
            text += ")."
            if not bool(r.separable):
                text += (
                    f" Not separable with {int(r.n)} worlds: about "
                    f"{int(r.runs_needed)} would be needed."
                )
            lines.append(text)
    return lines


def decomposition_rows(table: pd.DataFrame) -> list[list[str]]:
    """The fiscal-NPV difference by component as table rows (header first).

    Args:
        table: ``npv_decomposition.csv``.

    Returns:
        Rows: design vs against, component, mean difference, 95 % interval.
    """
    rows = [["design", "component", "difference", "95 % interval"]]
    for r in table.itertuples(index=False):
        if r.component != "total" and r.usd_mean == 0:
            continue
        rows.append(
            [
                f"{r.design} vs {r.against}",
                "fiscal NPV (total)" if r.component == "total" else str(r.label),
                _signed(r.usd_mean, "USD"),
                f"{_signed(r.usd_ci_low, 'USD')} to {_signed(r.usd_ci_high, 'USD')}",
            ]
        )
    return rows


def _shown(summary: pd.DataFrame, kpis: Sequence[str] | None) -> pd.DataFrame:
    """The summary's rows to show: the KPIs asked for (all by default) minus all-zero ones."""
    hidden = set(hidden_kpis(summary))
    rows = summary[~summary["label"].isin(hidden)]
    if kpis is not None:
        rows = rows[rows["kpi"].isin(kpis)]
        rows = rows.assign(_order=rows["kpi"].map({k: i for i, k in enumerate(kpis)}))
        rows = rows.sort_values("_order", kind="stable").drop(columns="_order")
    return rows


def _kpi(r: pd.Series) -> KPI:
    return kpi(r.kpi) if r.kpi in KPI_INFO else KPI(r.kpi, r.label, r.unit, 0)


def _cells(r: pd.Series, bare: bool = False) -> list[str]:
    """mean, 90 % of worlds, change, its 95 % CI, better/same/worse of one summary row."""
    k = _kpi(r)
    change = ci = counts = ""
    if pd.notna(r.get("diff")):
        change = k.format(r["diff"], signed=True, change=True, bare=bare)
        ci = k.format_range(r.diff_lo, r.diff_hi, change=True, bare=bare)
        if not bool(r.separable):
            ci += " (n.s.)"
        if pd.notna(r.get("n_better")) and k.direction:
            counts = f"{int(r.n_better)} / {int(r.n_same)} / {int(r.n_worse)}"
        elif pd.notna(r.get("n_same")):
            counts = f"- / {int(r.n_same)} / -"
    spread = k.format_range(r.p05, r.p95, bare=bare) if pd.notna(r.get("p05")) else ""
    mean = k.format(r["mean"], bare=bare) if pd.notna(r["mean"]) else ""
    return [mean, spread, change, ci, counts]


def stakeholder_rows(summary: pd.DataFrame, kpis: Sequence[str] | None = None) -> list[list[str]]:
    """The stakeholder table as formatted rows (header first), for HTML and PDF.

    KPIs that are zero for every design in every world are left out
    (:func:`hidden_kpis` names them); values carry their units ($M, %, months).

    Args:
        summary: The stakeholder table.
        kpis: KPIs to show, in order (default: every KPI of the table).

    Returns:
        Rows of strings.
    """
    ref = summary.scenario.iloc[0]
    head = [
        "stakeholder",
        "KPI",
        "design",
        "mean",
        "90 % of worlds",
        f"change vs {ref}",
        "95 % CI of the change",
        "better / same / worse",
    ]
    rows = [head]
    for _, r in _shown(summary, kpis).iterrows():
        rows.append([r.stakeholder, r.label, r.scenario, *_cells(r)])
    return rows


def stakeholder_text(
    summary: pd.DataFrame, kpis: Sequence[str] | None = None, width: int = 100
) -> list[str]:
    """The stakeholder table for a terminal, every line at most ``width`` wide.

    Each KPI's label (with its unit) on its own line, then a row per design with
    bare numbers in that unit.

    Args:
        summary: The stakeholder table.
        kpis: KPIs to show, in order (default: every KPI of the table).
        width: Longest line.

    Returns:
        Lines.
    """
    ref = summary.scenario.iloc[0]
    shown = _shown(summary, kpis)
    body = [[f"  {r.scenario}", *_cells(r, bare=True)] for _, r in shown.iterrows()]
    head = [
        "  design",
        "mean",
        "90 % of worlds",
        "change",
        "95 % CI of change",
        "better/same/worse",
    ]
    widths = [max(len(x[i]) for x in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    n = int(shown["n"].max()) if len(shown) else 0
    lead = (
        f"Each design against {ref} on the same {n} worlds (paired): the change's mean, its "
        "95 % confidence interval (n.s.: not separable from zero) and the worlds where the "
        "design does better, the same or worse."
    )
    out = [*textwrap.wrap(lead, width), "", line(head), "-" * min(width, len(line(head)))]
    last = None
    for (_, r), cells in zip(shown.iterrows(), body, strict=True):
        if r.kpi != last:
            k = _kpi(r)
            unit = k.display_unit + (", changes in points" if k.unit == "fraction" else "")
            better = {1: "more is better", -1: "less is better"}.get(k.direction, "")
            title = (
                f"{r.label}{f' ({unit})' if unit else ''} "
                f"[{r.stakeholder}{'; ' + better if better else ''}]"
            )
            out += textwrap.wrap(title, width)
            last = r.kpi
        out.append(line(cells))
    return out


def _scorecard(summary: pd.DataFrame) -> list[str]:
    """The scorecard's KPIs that the study has."""
    return [k for k in SCORECARD if k in set(summary.kpi)]


def _hidden_note(summary: pd.DataFrame) -> str:
    hidden = hidden_kpis(summary)
    if not hidden:
        return ""
    return (
        "<p class='note'>Not shown, zero for every design in every world: "
        f"{html.escape(', '.join(hidden))}.</p>"
    )


#: A cell that is a number, a range or an interval ("$-84.7M", "+$2.0M .. +$89.4M (n.s.)",
#: "8.1 %", "50,158 t", "-4.97e+07"): set on one line, right-aligned.
_NUMBER = re.compile(r"[-+$\d.,%\s]*\d[-+$\d.,%\seMt]*(?:\s\(n\.s\.\))?")
#: A signed amount in running text ("-$65.1M", "+0.2 %"): kept on one line.
_AMOUNT = re.compile(r"[-+]\$?\d[\d,.]*(?:[MkB]|\s%)?")
#: Where a dotted or snake_case name may break across lines ("regret.rate_shock").
_NAME_BREAK = re.compile(r"(?<=[A-Za-z0-9])([._/])(?=[A-Za-z])")
#: Placeholder of a caption's number, replaced in document order by :func:`_number`.
_MARK = "\x00{kind}\x00"
#: Tables with more columns than this are set in a smaller font.
WIDE_TABLE = 7


def _keep_numbers(text: str) -> str:
    """Escaped running text in which no signed amount breaks across lines."""
    return _AMOUNT.sub(lambda m: f"<span class='nb'>{m.group(0)}</span>", html.escape(text))


def _is_number(text: str) -> bool:
    """A number, a range or an interval, with the catalogue's units ("5.4 months")."""
    t = text.strip()
    if not t or not any(ch.isdigit() for ch in t):
        return False
    bare = re.sub(r"\s(?:months|pts|hours|t)\b|\s\(n\.s\.\)|(?<=\d)x\b", "", t)
    return _NUMBER.fullmatch(bare) is not None or re.fullmatch(r"\d+ / \d+ / \d+", t) is not None


def _text(text: str) -> str:
    """Escaped text in which long dotted or snake_case names may wrap."""
    return _NAME_BREAK.sub(r"\1<wbr>", html.escape(text))


def _html_table(rows: list[list[str]], caption: str) -> str:
    """A table with a numbered caption; numbers stay on one line, names wrap.

    Args:
        rows: Header first, then the body rows (strings).
        caption: What the table shows (the number is added).

    Returns:
        The HTML of the table in its wrapper.
    """
    body = [[str(c) for c in r] for r in rows[1:]]
    right = " class='r'"
    numeric = [
        bool(col) and all(_is_number(c) for c in col if c.strip())
        for col in ([r[j] for r in body if j < len(r)] for j in range(len(rows[0])))
    ]
    head = "".join(
        f"<th scope='col'{right if num else ''}>{_text(str(c))}</th>"
        for c, num in zip(rows[0], numeric, strict=True)
    )
    cells = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{html.escape(c)}</td>" if _is_number(c) else f"<td>{_text(c)}</td>"
            for c in r
        )
        + "</tr>"
        for r in body
    )
    wide = " class='wide'" if len(rows[0]) > WIDE_TABLE else ""
    return (
        f"<div class='table-wrap'><table{wide}><caption><span class='label'>"
        f"{_MARK.format(kind='Table')}</span> {html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></div>"
    )


def _charts(folder: Path) -> list[Path]:
    found = sorted((folder / "charts").glob("*.png")) + sorted(folder.glob("*.png"))
    found = [p for p in found if not p.stem.startswith("search_")]  # in the search's section

    def rank(p: Path) -> tuple[int, str]:
        return (
            next(
                (i for i, key in enumerate(CHART_ORDER) if p.stem.startswith(key)), len(CHART_ORDER)
            ),
            p.stem,
        )

    return sorted({p.resolve(): p for p in found}.values(), key=rank)


#: What each chart shows, one sentence, by the chart's file stem or stem prefix. A prefix
#: ending in "_" takes a suffix naming a design ({design}) or a KPI ({kpi}); {reference} is
#: the design the others are compared with.
CAPTIONS: dict[str, str] = {
    "why_": (
        "Why {design} differs from {reference}: the paired difference in the city's fiscal NPV "
        "taken apart by component, in present values (mean over the same worlds with its 95 % "
        "interval; the parts add up to the total, the dark bar)."
    ),
    "stakeholders": (
        "The workshop scorecard: each decisive KPI's paired change against {reference} on the "
        "same worlds, in standard deviations across worlds (right is better; grey has no "
        "better direction or no change; beyond 3 SD marked with its size), with the change in "
        "its unit, its 95 % confidence interval and the worlds better, the same or worse."
    ),
    "stakeholders_full": (
        "Every KPI by stakeholder: its paired change against {reference} on the same worlds, "
        "drawn as in the scorecard (KPIs that are zero in every world are left out)."
    ),
    "fan_charts": (
        "How the designs unfold over time: the city's general fund, debt service as a share of "
        "general revenue, coverage of the domains pursued and adoption of the user-facing "
        "services (median line; the bands hold 50 % and 90 % of the simulated worlds)."
    ),
    "kpi_distributions": (
        "The headline KPIs across the simulated worlds, design by design (the box holds the "
        "middle half of the worlds; one point per world)."
    ),
    "adoption_quintiles": (
        "Adoption of the user-facing services in the final month by income quintile, from the "
        "poorest (1) to the richest (5) (bars: mean over worlds; whiskers: 90 % of worlds)."
    ),
    "waterfall_": (
        "Who pays and who receives under {design}: net cash by stakeholder over the run "
        "(mean of worlds, undiscounted; green receives, orange pays)."
    ),
    "stress_": (
        "Stress test of {kpi}: its mean change under each stress overlay, design by design, "
        "against the same worlds unstressed (green is better)."
    ),
    "tornado": (
        "Tornado of one-at-a-time changes: how the KPI moves when each parameter in turn is set "
        "to the low or the high end of its range (the line marks the base point)."
    ),
    "sensitivity": "Sensitivity of the KPIs to the model's parameters.",
    "sobol_": (
        "Sobol indices of {kpi}: each parameter's first-order (S1) and total (ST) share of the "
        "variance, with confidence intervals."
    ),
    "emulator_": (
        "Sobol indices of {kpi} from an emulator (polynomial chaos or Gaussian process, whichever "
        "predicted new points better): each parameter's first-order "
        "(S1) and total (ST) share of the variance, with intervals that include the emulator's "
        "error."
    ),
    "s2_": (
        "Sobol second-order indices of {kpi}: the share of the variance due to each pair of "
        "parameters acting together."
    ),
    "fast_": (
        "eFAST indices of {kpi}: each parameter's first-order (S1) and total (ST) share of the "
        "variance, with confidence intervals."
    ),
    "rbd_fast_": (
        "RBD-FAST first-order indices of {kpi}: each parameter's share of the variance, with "
        "confidence intervals."
    ),
    "delta_": (
        "Moment-independent delta indices of {kpi} (with first-order S1): how much each "
        "parameter moves the whole distribution of the KPI."
    ),
    "pawn_": (
        "PAWN indices of {kpi}: the median Kolmogorov-Smirnov distance between the KPI's "
        "distribution with each parameter fixed and its unconditional distribution."
    ),
    "morris_": (
        "Morris screening of {kpi}: each parameter's mean absolute elementary effect (mu*) "
        "against its spread (sigma); the lines sigma / mu* = 0.1, 0.5 and 1 separate linear, "
        "monotonic and non-linear or interacting effects."
    ),
    "convergence_": (
        "Convergence of the sensitivity indices of {kpi}: each index at N/2 and at N runs side "
        "by side, unsettled ones marked."
    ),
    "discovery_": (
        "Scenario discovery for {kpi}: PRIM's trade-off between coverage and density (left) "
        "and the parameter limits of the box it chose (right)."
    ),
    "search_front": (
        "The Pareto front of the robust design search in parallel coordinates: each line a "
        "design, across its levers (left) and its robustness metrics (right, better up); the "
        "shipped designs dashed, the candidate designs c1, c2, ... labelled."
    ),
    "search_convergence": (
        "Convergence of the search: the hypervolume of the front found by each generation "
        "(objectives scaled to the range the search reached) and the epsilon progress (new "
        "epsilon boxes entered, cumulative)."
    ),
}


def _kpi_label(name: str) -> str:
    """The readable label of a KPI named by a file-name suffix (longest known KPI first)."""
    for known in sorted(KPI_INFO, key=len, reverse=True):
        if name in (known, safe_name(known)):
            return KPI_INFO[known][0]
    for known in sorted(KPI_INFO, key=len, reverse=True):  # discovery: <kpi>_<a>_vs_<b>
        if name.startswith(known + "_"):
            rest = name.removeprefix(known + "_").replace("_vs_", " vs ").replace("_", " ")
            return f"{KPI_INFO[known][0]} ({rest})"
    return name.replace("_", " ")


def figure_caption(stem: str, designs: list[str]) -> str:
    """One sentence on what a chart shows, from :data:`CAPTIONS`.

    Args:
        stem: The chart's file name without its suffix (``waterfall_alliance``).
        designs: The study's designs, the reference first.

    Returns:
        The caption, naming the chart's design or KPI readably; a chart the
        catalogue does not know is named after its file.
    """
    reference = designs[0] if designs else "the reference design"
    by_file = {safe_name(d): d for d in designs}
    for key in sorted(CAPTIONS, key=len, reverse=True):
        if stem == key or (key.endswith("_") and stem.startswith(key)):
            suffix = stem.removeprefix(key)
            return CAPTIONS[key].format(
                reference=reference,
                design=by_file.get(suffix, suffix.replace("_", " ")),
                kpi=_kpi_label(suffix),
            )
    return f"Chart {stem.replace('_', ' ')}."


def _figure(path: Path, caption: str) -> str:
    raw = path.read_bytes()
    width, height = struct.unpack(">II", raw[16:24]) if raw[12:16] == b"IHDR" else (1, 0)
    data = base64.b64encode(raw).decode()
    tall = " class='tall'" if height > width else ""  # on a portrait page in the PDF
    return (
        f"<figure id='fig-{_slug(path.stem)}'{tall}><img alt='{html.escape(caption)}' "
        f"src='data:image/png;base64,{data}'><figcaption><span class='label'>"
        f"{_MARK.format(kind='Figure')}</span> {html.escape(caption)}</figcaption></figure>"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _number(page: str) -> str:
    """Number the figure and the table captions, each in the order they appear."""
    for kind in ("Figure", "Table"):
        parts = page.split(_MARK.format(kind=kind))
        page = parts[0] + "".join(f"{kind} {n}.{rest}" for n, rest in enumerate(parts[1:], 1))
    return page


def _designs(study: dict) -> list[tuple[str, str, list[str]]]:
    from sim.config import load_scenario

    out = []
    scenarios = study.get("scenarios", {})
    for label in study.get("designs", list(scenarios)):
        info = scenarios[label]
        scn = load_scenario(info["file"])
        p = scn.policy
        fin = p.financing
        levers = [
            f"procurement: {p.procurement.mode}, {p.procurement.technology_partners} "
            f"partner(s){', integrator' if p.procurement.integrator else ''}",
            f"financing: {', '.join(fin.preference)} by default"
            + "".join(f"; {d}: {', '.join(v)}" for d, v in fin.by_domain.items()),
            f"contracts: {p.contracts.payment}"
            + (f", {p.contracts.energy_contract}" if p.contracts.energy_contract != "none" else ""),
            "governance: "
            + (
                ", ".join(k for k in ("champion", "pmo", "sandbox") if getattr(p.governance, k))
                or "none (silos)"
            ),
            (
                "pilots: " + f"{p.pilot.share_of_units:.0%} of units for {p.pilot.months} months, "
                f"scale at P(NPV > 0) >= {p.pilot.scale_probability:.0%}"
            )
            if p.pilot.enabled
            else "pilots: none (full roll-out)",
            f"domains: {', '.join(p.domains)}",
        ]
        out.append((label, info.get("description", ""), levers))
    return out


def build_report(folder: str | Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.pdf`` from a study folder.

    Args:
        folder: A folder written by ``alliance compare`` (and optionally stress,
            tornado, sensitivity or discovery studies).

    Returns:
        (HTML path, PDF path).

    Raises:
        FileNotFoundError: When the folder holds no study to report on.
    """
    folder = Path(folder)
    summary = _read(folder, "compare.csv")
    search = find_search(folder)
    if summary is None and search is not None:
        return _write_report(
            folder,
            f"alliance-sim search report: {_json(search, 'search.json').get('name', '')}",
            [*search_sections(search), ("How to reproduce", _search_reproduce(search))],
        )
    if summary is None:
        raise FileNotFoundError(
            f"{folder}: no compare.csv: run 'alliance compare ... --out {folder}' first"
        )
    manifest, study = _json(folder, "manifest.json"), _json(folder, "study.json")
    stress = _read(folder, "stress.csv")
    decomposition = _read(folder, "npv_decomposition.csv")
    why = decomposition_rows(decomposition) if decomposition is not None else []
    findings = headline_findings(summary)
    designs = _designs(study)
    charts = _charts(folder)
    title = f"alliance-sim workshop report: {' vs '.join(study.get('designs', []))}"
    ref = summary.scenario.iloc[0]
    reproduce = _reproduce(folder, study, manifest)
    sections: list[tuple[str, str]] = [
        ("The question", f"<p>{html.escape(QUESTION)}</p>"),
        (
            "The designs",
            "".join(
                f"<h3>{html.escape(label)}</h3><p>{html.escape(desc)}</p><ul>"
                + "".join(f"<li>{html.escape(x)}</li>" for x in levers)
                + "</ul>"
                for label, desc, levers in designs
            ),
        ),
        (
            "Headline findings",
            "<ul>"
            + "".join(f"<li>{_keep_numbers(x)}</li>" for x in findings)
            + "</ul><p class='note'>Each design ran on the same simulated worlds (paired "
            "replications); intervals are 95 % confidence intervals of the mean paired "
            "difference; n.s. marks differences the runs could not separate from zero.</p>",
        ),
        (
            "Scorecard",
            "<p>The KPIs a workshop decides on; every KPI is in the stakeholder table "
            "below.</p>"
            + _html_table(
                stakeholder_rows(summary, _scorecard(summary)),
                f"The workshop scorecard: each design's mean, the range holding 90 % of the "
                f"worlds, and the paired change against {ref} on the same worlds with its 95 % "
                f"confidence interval and the worlds where the design does better, the same or "
                f"worse.",
            ),
        ),
        (
            "Stakeholder table",
            _html_table(
                stakeholder_rows(summary),
                f"Every KPI by stakeholder and design: its mean, the range holding 90 % of the "
                f"worlds, and the paired change against {ref} on the same worlds with its 95 % "
                f"confidence interval and the worlds where the design does better, the same or "
                f"worse.",
            )
            + _hidden_note(summary),
        ),
    ]
    if why:
        sections.insert(
            3,
            (
                "Why the designs differ",
                "<p>The paired difference in the city's fiscal NPV, taken apart by the flows "
                "that make it (present values; the parts add up to the total). Commitments "
                "after the horizon are what the city still owes past it (debt, service fees, "
                "availability payments, guarantees); benefits after the horizon are what its "
                "assets still in service are expected to earn to their end of life.</p>"
                + _html_table(
                    why,
                    "The paired difference in the city's fiscal NPV by component: mean over the "
                    "same worlds and its 95 % interval (present values).",
                ),
            ),
        )
    sections += _other_studies(folder, stress)
    if search is not None:
        sections += search_sections(search)
    labels = list(study.get("designs", []))
    sections.append(("Charts", "".join(_figure(p, figure_caption(p.stem, labels)) for p in charts)))
    sections.append(
        (
            "How to reproduce",
            "<ul>"
            + "".join(f"<li><code>{html.escape(x)}</code></li>" for x in reproduce)
            + "</ul>",
        )
    )
    return _write_report(folder, title, sections)


def _write_report(folder: Path, title: str, sections: list[tuple[str, str]]) -> tuple[Path, Path]:
    """Number the captions, write ``report.html`` and typeset ``report.pdf``."""
    page = _number(
        _HTML.format(
            title=html.escape(title),
            css=_CSS,
            body="".join(
                f"<section id='{_slug(h)}'><h2>{html.escape(h)}</h2>{b}</section>"
                for h, b in sections
            ),
        )
    )
    html_path = atomic(folder / "report.html", lambda p: p.write_text(page, encoding="utf-8"))
    pdf_path = atomic(folder / "report.pdf", lambda p: render_pdf(page, p))
    return html_path, pdf_path


def find_search(folder: Path) -> Path | None:
    """The search section a folder holds (``section.json`` here or in ``search/``), if any."""
    for where in (folder, folder / "search"):
        if (where / "section.json").is_file() and (where / "search.json").is_file():
            return where
    return None


def search_sections(where: Path) -> list[tuple[str, str]]:
    """The robust design search's section, from the ``section.json`` the search wrote.

    The search (``alliance search``) writes its section as data: paragraphs, tables as
    rows of text (numbers in their KPI's display unit, read from its tables), notes and
    the stems of its charts; this renders them with numbered captions, and the charts'
    captions from :data:`CAPTIONS`. The report imports nothing of the search.

    Args:
        where: The search folder (:func:`find_search`).

    Returns:
        One (title, HTML) section.
    """
    section = _json(where, "section.json")
    parts = [f"<p>{html.escape(p)}</p>" for p in section.get("intro", [])]
    for block in section.get("blocks", []):
        if block.get("heading"):
            parts.append(f"<h3>{html.escape(block['heading'])}</h3>")
        parts += [f"<p>{html.escape(p)}</p>" for p in block.get("paragraphs", [])]
        if block.get("rows"):
            parts.append(_html_table(block["rows"], block.get("caption", "")))
        if block.get("notes"):
            parts.append(
                "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in block["notes"]) + "</ul>"
            )
    for stem in section.get("figures", []):
        path = where / "charts" / f"{stem}.png"
        if path.is_file():
            parts.append(_figure(path, figure_caption(stem, [])))
    return [(section.get("title", "Robust design search"), "".join(parts))]


def _search_reproduce(where: Path) -> str:
    items = _json(where, "section.json").get("reproduce", [])
    return "<ul>" + "".join(f"<li><code>{html.escape(x)}</code></li>" for x in items) + "</ul>"


def render_pdf(page: str, path: Path) -> Path:
    """Typeset an HTML page as a PDF with WeasyPrint and the page's print style sheet.

    Nothing is fetched: the page must carry its images as data URIs.

    Args:
        page: The whole HTML document.
        path: The PDF to write (the caller makes the write atomic).

    Returns:
        ``path``.

    Raises:
        ValueError: When the page refers to anything but a data URI.
    """
    from weasyprint import HTML
    from weasyprint.urls import FatalURLFetchingError, URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    try:
        HTML(string=page, url_fetcher=fetcher, media_type="print").write_pdf(path)
    except FatalURLFetchingError as exc:
        raise ValueError(f"{exc}: the report embeds every resource and fetches nothing") from None
    return path


def _reproduce(folder: Path, study: dict, manifest: dict) -> list[str]:
    """The command, versions and seed that reproduce the study."""
    return [
        f"alliance compare "
        f"{' '.join(study['scenarios'][d]['file'] for d in study.get('designs', []))} "
        f"--replications {study.get('replications', '')} --seed {study.get('seed', '')}"
        + (f" --overlays {','.join(study['overlays'])}" if study.get("overlays") else "")
        + f" --out {folder}",
        f"git commit {manifest.get('git_commit', 'unknown')}; alliance-sim "
        f"{manifest.get('packages', {}).get('alliance-sim', '')}; engine "
        f"{manifest.get('engine', '')}",
        f"experiment seed {manifest.get('spec', {}).get('experiment', {}).get('seed', '')}; "
        f"runs recorded {manifest.get('recorded', '')}, failed {manifest.get('failed', '')}",
    ]


def _other_studies(folder: Path, stress: pd.DataFrame | None) -> list[tuple[str, str]]:
    """Sections of the studies the folder holds besides the comparison (title, HTML)."""
    regret_t, tornado = _read(folder, "regret.csv"), _read(folder, "tornado.csv")
    indices = _read(folder, "indices.csv")
    sections = []
    if stress is not None:
        parts = [
            "<p>Mean change of each KPI under each overlay, against the same worlds unstressed.</p>"
        ]
        for name, frame in stress.groupby("kpi", sort=False):
            matrix = frame.drop(columns="kpi").set_index("design")
            parts.append(f"<h3>{html.escape(kpi_label(str(name)))}</h3>")
            parts.append(
                _html_table(
                    stress_rows(matrix, str(name)),
                    f"Mean change of {kpi(str(name)).label} under each stress overlay, design "
                    "by design, against the same worlds unstressed.",
                )
            )
        if regret_t is not None:
            parts.append(
                "<h3>Regret and robustness</h3><p>Regret: how far a design's mean falls "
                "short of the best design's in the same condition (no stress or an "
                "overlay); the largest over the conditions, and where. Worst level: its "
                "worst mean over the conditions.</p>"
            )
            for name, frame in regret_t.groupby("kpi", sort=False):
                table = frame.drop(columns="kpi").set_index("design")
                parts.append(f"<h4>{html.escape(kpi_label(str(name)))}</h4>")
                parts.append(
                    _html_table(
                        regret_rows(table, str(name)),
                        f"Regret and robustness of each design on {kpi(str(name)).label}.",
                    )
                )
        sections.append(("Stress tests", "".join(parts)))
    if tornado is not None:
        sections.append(
            (
                "One-at-a-time changes",
                _html_table(
                    tornado_rows(tornado),
                    "The KPI's mean with each parameter in turn at the low and at the high end "
                    "of its range, the others at the base point.",
                ),
            )
        )
    if indices is not None:
        top = indices[indices["index"].isin(["ST", "mu_star", "delta"])]
        top = top.sort_values("value", ascending=False).groupby("kpi").head(5)
        sections.append(
            (
                "Sensitivity",
                "<p>The five most influential parameters per KPI."
                "</p>"
                + _html_table(
                    indices_rows(top),
                    "The five most influential parameters per KPI, by their total-effect, mu* "
                    "or delta index.",
                ),
            )
        )
    for path in sorted(folder.glob("discovery_*.json")):
        info = json.loads(path.read_text())
        rules = info.get("rules") or info.get("rule") or ""
        if isinstance(rules, list):
            rules = " and ".join(rules)
        sections.append(
            (
                f"Scenario discovery: {path.stem.removeprefix('discovery_')}",
                f"<p>{html.escape(str(rules))}</p><pre>"
                f"{html.escape(json.dumps(info, indent=1)[:3000])}</pre>",
            )
        )
    return sections


#: The page's style sheet: the screen rules for report.html, the print rules (A4, margins,
#: running header, page numbers) for WeasyPrint's report.pdf and for a browser's print.
_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 2rem auto; max-width: 1200px; color: #1b1b1b; line-height: 1.45;
       padding: 0 1rem; }
h1 { font-size: 1.7rem; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: .2rem; break-after: avoid; }
h3 { break-after: avoid; }
p, li { max-width: 80rem; }
table { border-collapse: collapse; font-size: .82rem; margin: .5rem 0 1.5rem; max-width: 100%; }
table.wide { font-size: .72rem; }
table.wide th, table.wide td { padding: .2rem .3rem; }
caption { caption-side: top; text-align: left; padding: 0 0 .4rem; color: #333; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #eef4fa; vertical-align: bottom; }
th.r { text-align: right; }
.nb { white-space: nowrap; }
td.num { white-space: nowrap; text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fafafa; }
thead { display: table-header-group; }
tr, figure { break-inside: avoid; }
figure { margin: 1.5rem 0; }
img { display: block; box-sizing: border-box; max-width: 100%; height: auto;
      border: 1px solid #eee; }
figcaption, .note { color: #555; font-size: .85rem; }
figcaption { margin-top: .4rem; max-width: 80rem; }
.label { font-weight: bold; color: #1b1b1b; }
code { font-size: .85rem; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: .75rem; background: #f6f6f6;
      padding: .5rem; }
@media screen {
  .table-wrap { max-width: 100%; overflow-x: auto; }
}
@page {
  size: A4 landscape;
  margin: 13mm 14mm 15mm 14mm;
  @top-right { content: string(doctitle); font-family: "DejaVu Sans", sans-serif;
               font-size: 7pt; color: #777; }
  @bottom-center { content: "Page " counter(page) " of " counter(pages);
                   font-family: "DejaVu Sans", sans-serif; font-size: 8pt; color: #555; }
}
@page :first { @top-right { content: none; } }
@page tall { size: A4 portrait; }
@media print {
  body { font-family: "DejaVu Sans", sans-serif; font-size: 9.5pt; line-height: 1.35;
         margin: 0; padding: 0; max-width: none; }
  h1 { font-size: 16pt; margin: 0 0 8pt; string-set: doctitle content(); }
  h2 { font-size: 13pt; margin: 14pt 0 6pt; }
  h3 { font-size: 10.5pt; margin: 9pt 0 4pt; }
  table { font-size: 7.5pt; width: 100%; margin: 4pt 0 12pt; }
  table.wide { font-size: 6.5pt; }
  table.wide th, table.wide td { padding: 1.2pt 2.5pt; }
  th, td { padding: 1.5pt 3pt; }
  caption { font-size: 8.5pt; }
  figure { margin: 8pt 0 14pt; }
  p, ul, figcaption, caption { max-width: 210mm; }
  img { max-height: 150mm; width: auto; margin: 0 auto; }
  figure.tall { page: tall; }
  figure.tall img { max-height: 240mm; }
  figcaption, .note { font-size: 8.5pt; }
  code { font-size: 8pt; }
}
"""

_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>{css}</style></head><body><h1>{title}</h1>{body}</body></html>
"""
