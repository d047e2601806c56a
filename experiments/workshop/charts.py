"""The workshop's charts: fan charts, KPI distributions, scorecard, waterfalls, stress, tornado.

Each is written as PNG, SVG and PDF (:func:`experiments.engine.plots.save`),
one colour per scenario across every chart.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.engine.plots import BLUE, VERMILION, colours, plt, save
from sim.model.outputs import GROUP_LABELS

STAKEHOLDER_ORDER = ("city", "residents", "vendors", "investors", "vehicles", "outside")
NET_KPIS = {
    "city": "city_net_usd",
    "residents": "residents_net_usd",
    "vendors": "vendor_net_usd",
    "investors": "investor_net_usd",
    "vehicles": "vehicles_net_usd",
    "outside": "outside_net_usd",
}


def _style(ax: plt.Axes) -> None:
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def derived_series(ts: pd.DataFrame, domains: dict[str, list[str]]) -> pd.DataFrame:
    """Per run and month: city balance (USD M), peak debt ratio (%), coverage and adoption (%).

    Args:
        ts: Time series of an experiment (``experiments.load(..., timeseries=True)``).
        domains: Scenario label -> domains its policy pursues.

    Returns:
        Columns scenario, run_id, month, balance, dsr, coverage, adoption.
    """
    import pandas as pd

    fund = [c for c in ts.columns if c.endswith(".general_fund")]
    dsr = [c for c in ts.columns if c.endswith(".debt_service_ratio")]
    out = []
    for label, frame in ts.groupby("scenario", sort=False):
        pursued = domains.get(label, [])
        cov = [f"coverage.{d}" for d in pursued if f"coverage.{d}" in frame]
        adopt = [f"adoption.{d}" for d in pursued if f"adoption.{d}" in frame]
        out.append(
            pd.DataFrame(
                {
                    "scenario": label,
                    "run_id": frame["run_id"],
                    "month": frame["month"],
                    "balance": frame[fund].sum(axis=1) / 1e6 if fund else np.nan,
                    "dsr": frame[dsr].max(axis=1) * 100 if dsr else np.nan,
                    "coverage": frame[cov].mean(axis=1) * 100 if cov else np.nan,
                    "adoption": frame[adopt].mean(axis=1) * 100 if adopt else np.nan,
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def fan_charts(series: pd.DataFrame, scenarios: list[str], base: Path) -> list[Path]:
    """Median with 50 % and 90 % bands over time, per scenario, for four series.

    Args:
        series: Output of :func:`derived_series`.
        scenarios: Scenario labels in order (sets the colours).
        base: Output path without suffix.

    Returns:
        Files written.
    """
    col = colours(scenarios)
    panels = (
        ("balance", "City general fund", "USD million"),
        ("dsr", "Debt service / general revenue", "% (peak over cities)"),
        ("coverage", "Average coverage of the domains pursued", "% of target units"),
        ("adoption", "Adoption of user-facing services", "% of residents"),
    )
    fig, axes = plt.subplots(2, 2, figsize=(14, 9), constrained_layout=True)
    for ax, (key, title, unit) in zip(axes.ravel(), panels, strict=True):
        for label in scenarios:
            frame = series[series.scenario == label]
            if frame.empty or frame[key].isna().all():
                continue
            q = frame.groupby("month")[key].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
            years = q.index.to_numpy() / 12
            ax.fill_between(years, q[0.05], q[0.95], color=col[label], alpha=0.12, lw=0)
            ax.fill_between(years, q[0.25], q[0.75], color=col[label], alpha=0.28, lw=0)
            ax.plot(years, q[0.5], color=col[label], lw=2, label=f"{label} (median)")
        ax.set(title=title, xlabel="year", ylabel=unit)
        _style(ax)
    axes[0, 0].legend(frameon=False, title="bands: 50 % and 90 % of worlds", fontsize=9)
    fig.suptitle("How the designs unfold over time, across simulated worlds", fontsize=14)
    return save(fig, base)


def kpi_distributions(
    runs: pd.DataFrame, scenarios: list[str], kpis: list[str], base: Path
) -> list[Path]:
    """Distributions of KPIs across worlds, scenarios side by side (box and points).

    Args:
        runs: Runs table.
        scenarios: Scenario labels.
        kpis: KPIs to show.
        base: Output path without suffix.

    Returns:
        Files written.
    """
    from sim.model.outputs import kpi as kpi_info

    col = colours(scenarios)
    n = len(kpis)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False, constrained_layout=True
    )
    rng = np.random.default_rng(0)
    for ax, name in zip(axes.ravel(), kpis, strict=False):
        k = kpi_info(name)  # values and axis in the catalogue's display unit
        data = [runs.loc[runs.scenario == s, name].dropna().to_numpy() * k.scale for s in scenarios]
        box = ax.boxplot(data, widths=0.5, patch_artist=True, showfliers=False)
        for patch, s in zip(box["boxes"], scenarios, strict=True):
            patch.set(facecolor=col[s], alpha=0.35, edgecolor=col[s])
        for i, (values, s) in enumerate(zip(data, scenarios, strict=True), start=1):
            ax.scatter(
                i + rng.uniform(-0.12, 0.12, values.size), values, s=10, color=col[s], alpha=0.7
            )
        ax.set_xticks(range(1, len(scenarios) + 1), scenarios)
        ax.set_title(textwrap.fill(k.label, 40), fontsize=10)
        ax.set_ylabel(k.display_unit or "count")
        _style(ax)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle("KPIs across simulated worlds (one point per world)", fontsize=14)
    return save(fig, base)


def stakeholder_panel(
    summary: pd.DataFrame,
    base: Path,
    kpis: list[str] | None = None,
    title: str = "Scorecard by stakeholder",
) -> list[Path]:
    """Scorecard: each KPI's paired change against the reference design, by stakeholder.

    Bars are the mean change on the same worlds in standard deviations across
    worlds (pooled over the two designs), signed so that right is better
    for that stakeholder: blue better, vermilion worse, grey when a KPI has no
    better direction or the change rounds to zero. A change beyond 3 SD is
    drawn to 3 with an arrow and its size. The right-hand column gives the
    change in the KPI's unit, its 95 % interval and the worlds where the
    design did better / the same / worse. KPIs that are zero for every design
    in every world are left out.

    Args:
        summary: Output of :func:`experiments.workshop.compare.summarise`.
        base: Output path without suffix.
        kpis: KPIs to show, in order (default: all of the summary's).
        title: The chart's title (the designs are added).

    Returns:
        Files written.
    """
    from experiments.workshop.report import hidden_kpis
    from sim.model.outputs import kpi as kpi_info

    ref = summary.scenario.iloc[0]
    hidden = set(hidden_kpis(summary))
    spread = summary[summary.scenario == ref].set_index("kpi")["sd"]
    rows = summary.dropna(subset=["diff"]).copy()
    rows = rows[rows.kpi.isin(spread.index) & ~rows.label.isin(hidden)]
    if kpis is not None:
        rows = rows[rows.kpi.isin(kpis)]
        rank = {k: i for i, k in enumerate(kpis)}
        rows = rows.iloc[np.argsort(rows.kpi.map(rank).to_numpy(), kind="stable")]
    else:
        order = {g: i for i, g in enumerate(("city", "residents", "vendors", "investors"))}
        rows = rows.iloc[
            np.argsort(rows.stakeholder.map(order).fillna(9).to_numpy(), kind="stable")
        ]
    scenarios = list(dict.fromkeys(rows.scenario))
    infos = [kpi_info(k) for k in rows.kpi]
    sign = np.array([k.direction for k in infos])
    # the spread across worlds, pooled over the two designs (one may not vary at all)
    own = rows["sd"].to_numpy(dtype=float)
    sd = np.sqrt((rows.kpi.map(spread).to_numpy(dtype=float) ** 2 + own**2) / 2)
    diff = rows["diff"].to_numpy(dtype=float)
    zero = [k.format(0.0, signed=True, change=True) for k in infos]
    shown_zero = np.array(
        [
            k.format(d, signed=True, change=True) == z
            for k, d, z in zip(infos, diff, zero, strict=True)
        ]
    )
    effect = np.where(sd > 0, diff / np.where(sd > 0, sd, 1), np.sign(diff) * 0.05)
    effect = np.where(shown_zero, 0.0, effect * np.where(sign == 0, 1, sign))
    fig, ax = plt.subplots(figsize=(13, 0.42 * len(rows) + 1.9), constrained_layout=True)
    y = np.arange(len(rows))
    colour = np.where((sign == 0) | shown_zero, "#999999", np.where(effect >= 0, BLUE, VERMILION))
    clipped = np.clip(effect, -3, 3)
    ax.barh(y, clipped, color=colour, alpha=0.85, height=0.7)
    labels = []
    for yi, r, k, e in zip(y, rows.itertuples(index=False), infos, effect, strict=True):
        who = f"[{r.stakeholder}] " + (f"{r.scenario}: " if len(scenarios) > 1 else "")
        labels.append(textwrap.shorten(who + r.label, 62, placeholder="..."))
        if abs(e) > 3:  # drawn to 3: say so, with the size
            ax.text(
                2.9 * np.sign(e),
                yi,
                f"{abs(e):.1f} SD →" if e > 0 else f"← {abs(e):.1f} SD",
                fontsize=7.5,
                color="white",
                va="center",
                ha="right" if e > 0 else "left",
                fontweight="bold",
            )
        text = (
            f"{k.format(r.diff, signed=True, change=True)}  "
            f"({k.format_range(r.diff_lo, r.diff_hi, change=True)})"
        )
        if k.direction and pd.notna(r.n_better):
            text += (
                f"  better / same / worse: {int(r.n_better)} / {int(r.n_same)} / {int(r.n_worse)}"
            )
        if not r.separable:
            text += "  n.s."
        ax.text(3.35, yi, text, va="center", ha="left", fontsize=8, color="#333333")
    ax.set_yticks(y, labels, fontsize=8.5)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.axvline(3.25, color="#cccccc", lw=0.8)
    ax.set_xlim(-3.3, 10.5)
    ax.set_xticks([-3, -2, -1, 0, 1, 2, 3])
    ax.set_xlabel(
        f"change against {ref} on the same worlds, in standard deviations across worlds "
        "(pooled)\n"
        "(right = better; grey = no better direction or no change)"
    )
    ax.set_title(f"{title}: {', '.join(scenarios)} against {ref}", fontsize=13, loc="left")
    _style(ax)
    return save(fig, base)


def npv_decomposition(table: pd.DataFrame, base: Path) -> list[Path]:
    """Why two designs differ: the paired fiscal-NPV difference by component, with 95 % CIs.

    Args:
        table: Rows of :func:`experiments.workshop.compare.npv_decomposition` for one design
            (the components and the ``total`` row).
        base: Output path without suffix.

    Returns:
        Files written.
    """
    total = table[table.component == "total"]
    parts = table[(table.component != "total") & (table.usd_mean.abs() > 0)]
    parts = pd.concat([parts, total])
    means = parts.usd_mean.to_numpy() / 1e6
    low = (parts.usd_mean - parts.usd_ci_low).to_numpy() / 1e6
    high = (parts.usd_ci_high - parts.usd_mean).to_numpy() / 1e6
    labels = [str(x) for x in parts.label]
    y = np.arange(len(parts))[::-1]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(parts) + 1.6), constrained_layout=True)
    colour = [BLUE if v >= 0 else VERMILION for v in means]
    colour[-1] = "#333333"
    ax.barh(y, means, color=colour, alpha=0.85, xerr=[low, high], capsize=3, ecolor="#555555")
    ax.set_yticks(y, labels)
    ax.axvline(0, color="grey", lw=0.8)
    pad = 0.02 * (np.abs(means) + np.maximum(low, high)).max()
    for yi, v, lo, hi in zip(y, means, low, high, strict=True):
        end = v + hi + pad if v >= 0 else v - lo - pad
        text = f"{'+' if v >= 0 else '-'}${abs(v):,.1f}M"
        ax.text(end, yi, text, va="center", ha="left" if v >= 0 else "right", fontsize=9)
    row = table.iloc[0]
    ax.set(
        title=f"Why {row.design} differs from {row.against}: fiscal NPV by component",
        xlabel="USD million, present value: mean paired difference on the same worlds\n"
        "with its 95 % interval; the parts add up to the total (dark bar)",
    )
    ax.margins(x=0.22)
    _style(ax)
    return save(fig, base)


def waterfall(runs: pd.DataFrame, scenario: str, base: Path) -> list[Path]:
    """Cash-flow waterfall by stakeholder: who pays and who receives, for one design.

    The programme's money flows between stakeholders sum to zero (double
    entry), so the bars start and end at zero. "PPP vehicles" are the
    special-purpose companies of public-private partnerships; the "outside
    world" is everyone outside the programme (the utility selling power, the
    bond market, ...).

    Args:
        runs: Runs table.
        scenario: The design.
        base: Output path without suffix.

    Returns:
        Files written.
    """
    sub = runs[(runs.scenario == scenario) & (runs.status == "ok")]
    names = [s for s in STAKEHOLDER_ORDER if NET_KPIS[s] in sub]
    values = np.array([sub[NET_KPIS[s]].mean() / 1e6 for s in names])
    start = np.concatenate([[0.0], np.cumsum(values)[:-1]])
    ends = np.concatenate([start, start + values, [0.0]])
    low, high = ends.min(), ends.max()
    pad = 0.14 * max(high - low, 1e-9)
    fig, ax = plt.subplots(figsize=(10, 5.8), constrained_layout=True)
    colours_ = [BLUE if v >= 0 else VERMILION for v in values]
    ax.bar(range(len(names)), values, bottom=start, color=colours_, alpha=0.85, width=0.6)
    for i, (b, v) in enumerate(zip(start, values, strict=True)):
        top, bottom = max(b, b + v), min(b, b + v)
        text = f"{'+' if v >= 0 else '-'}${abs(v):,.0f}M"
        if v >= 0:
            ax.text(i, top + 0.02 * (high - low), text, ha="center", va="bottom", fontsize=9)
        else:
            ax.text(i, bottom - 0.02 * (high - low), text, ha="center", va="top", fontsize=9)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(names)), [GROUP_LABELS[n] for n in names])
    ax.set_ylim(low - pad, high + pad)
    ax.set_title(
        f"{scenario}: who pays and who receives (net cash over the run, mean of {len(sub)} worlds)",
        loc="left",
    )
    ax.set_ylabel("$M, undiscounted (blue: receives, vermilion: pays)")
    ax.set_xlabel(
        "PPP vehicles: the partnerships' project companies; outside world: the utility, the "
        "bond market and others outside the programme.\nThe bars add up to zero (every dollar "
        "one stakeholder pays, another receives).",
        fontsize=8.5,
        color="#555555",
    )
    _style(ax)
    return save(fig, base)


def adoption_by_quintile(runs: pd.DataFrame, scenarios: list[str], base: Path) -> list[Path]:
    """Final adoption of the user-facing services by income quintile, with 90 % ranges.

    Args:
        runs: Runs table with ``adoption_q1`` ... ``adoption_q5``.
        scenarios: Scenario labels.
        base: Output path without suffix.

    Returns:
        Files written.
    """
    col = colours(scenarios)
    fig, ax = plt.subplots(figsize=(10, 5.5), constrained_layout=True)
    width = 0.8 / len(scenarios)
    q = np.arange(1, 6)
    for j, s in enumerate(scenarios):
        sub = runs[runs.scenario == s]
        data = np.array([sub[f"adoption_q{k}"].to_numpy() for k in q]) * 100
        mean = data.mean(axis=1)
        lo, hi = np.percentile(data, 5, axis=1), np.percentile(data, 95, axis=1)
        ax.bar(
            q + (j - (len(scenarios) - 1) / 2) * width,
            mean,
            width=width,
            color=col[s],
            yerr=[mean - lo, hi - mean],
            capsize=3,
            label=s,
            alpha=0.85,
        )
    ax.set(
        title="Adoption of the user-facing services by income quintile (final month)",
        xlabel="income quintile (1 = poorest)",
        ylabel="% of residents (bars: mean; whiskers: 90 % of worlds)",
        xticks=q,
    )
    top = max((line.get_ydata().max() for line in ax.lines if len(line.get_ydata())), default=0)
    ax.set_ylim(0, max(top, max(b.get_height() for b in ax.patches)) * 1.25 + 1e-9)
    ax.legend(frameon=False, loc="upper left", ncols=len(scenarios))
    _style(ax)
    return save(fig, base)


def stress_heatmap(matrix: pd.DataFrame, kpi: str, base: Path) -> list[Path]:
    """Heatmap of a KPI's mean change under each stress overlay, design by overlay.

    Colour-blind safe (blue better, vermilion worse, white no change), with
    each cell's change written in the KPI's unit, in white on dark cells.

    Args:
        matrix: Output of :func:`experiments.workshop.compare.stress_matrix`.
        kpi: The KPI (for labels and colour direction).
        base: Output path without suffix.

    Returns:
        Files written.
    """
    from matplotlib.colors import LinearSegmentedColormap

    from experiments.workshop.report import overlay_label
    from sim.model.outputs import kpi as kpi_info

    k = kpi_info(kpi)
    values = matrix.to_numpy(dtype=float)
    better = values * (k.direction or 1)
    lim = np.nanmax(np.abs(better)) or 1.0
    cmap = LinearSegmentedColormap.from_list("worse_better", [VERMILION, "#ffffff", BLUE])
    width = max(1.9 * matrix.shape[1] + 3.4, 6.5)
    fig, ax = plt.subplots(figsize=(width, 0.9 * matrix.shape[0] + 2.6), constrained_layout=True)
    image = ax.imshow(better, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        dark = abs(better[i, j]) / lim > 0.6
        ax.text(
            j,
            i,
            k.format(v, signed=True, change=True),
            ha="center",
            va="center",
            fontsize=10,
            color="white" if dark else "black",
        )
    ax.set_xticks(range(matrix.shape[1]), [overlay_label(str(c)) for c in matrix.columns])
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    ax.set_xlabel("stress overlay")
    bar = fig.colorbar(
        image, ax=ax, label=f"change ({k.display_unit})" if k.display_unit else "change"
    )
    bar.set_ticks([-lim, 0, lim], labels=["worse", "no change", "better"])
    ax.set_title(
        textwrap.fill(
            f"Stress test: change in {k.label} against the same worlds unstressed",
            int(width * 7),
        ),
        loc="left",
        fontsize=11,
    )
    return save(fig, base)


def tornado(table: pd.DataFrame, kpi: str, base_value: float, base: Path) -> list[Path]:
    """Tornado chart of one-at-a-time changes of a KPI.

    Args:
        table: Rows parameter, low, high, kpi_low, kpi_high (KPI means).
        kpi: The KPI.
        base_value: The KPI at the base point.
        base: Output path without suffix.

    Returns:
        Files written.
    """
    from sim.model.outputs import kpi as kpi_info

    k = kpi_info(kpi)
    label = k.label
    scale = 1 / k.scale  # values / scale = display unit
    t = table.assign(swing=(table.kpi_high - table.kpi_low).abs()).sort_values("swing")
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.55 * len(t)), constrained_layout=True)
    lo = (t.kpi_low - base_value) / scale
    hi = (t.kpi_high - base_value) / scale
    ax.barh(y, lo, left=base_value / scale, color="#D55E00", alpha=0.8, label="parameter low")
    ax.barh(y, hi, left=base_value / scale, color="#0072B2", alpha=0.8, label="parameter high")
    ax.set_yticks(
        y,
        [f"{p}  [{a:g} .. {b:g}]" for p, a, b in zip(t.parameter, t.low, t.high, strict=True)],
        fontsize=8,
    )
    ax.axvline(base_value / scale, color="black", lw=1)
    ax.set(
        title=f"One-at-a-time changes: {label}",
        xlabel=k.axis_label,
    )
    ax.legend(frameon=False)
    _style(ax)
    return save(fig, base)
