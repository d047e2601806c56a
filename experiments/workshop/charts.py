"""The workshop's charts: fan charts, KPI distributions, scorecard, waterfalls, stress, tornado.

Each is written as PNG, SVG and PDF (:func:`experiments.engine.plots.save`),
one colour per scenario across every chart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from experiments.engine.plots import colours, plt, save

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
    from sim.model.outputs import KPI_INFO

    col = colours(scenarios)
    n = len(kpis)
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.2 * cols, 3.8 * rows), squeeze=False, constrained_layout=True
    )
    rng = np.random.default_rng(0)
    for ax, kpi in zip(axes.ravel(), kpis, strict=False):
        label, unit, _ = KPI_INFO.get(kpi, (kpi, "", 0))
        scale, unit_txt = (
            (1e6, "USD million")
            if unit == "USD"
            else ((100, "%") if unit == "fraction" else (1, unit))
        )
        data = [runs.loc[runs.scenario == s, kpi].dropna().to_numpy() / scale for s in scenarios]
        box = ax.boxplot(data, widths=0.5, patch_artist=True, showfliers=False)
        for patch, s in zip(box["boxes"], scenarios, strict=True):
            patch.set(facecolor=col[s], alpha=0.35, edgecolor=col[s])
        for i, (values, s) in enumerate(zip(data, scenarios, strict=True), start=1):
            ax.scatter(
                i + rng.uniform(-0.12, 0.12, values.size), values, s=10, color=col[s], alpha=0.7
            )
        ax.set_xticks(range(1, len(scenarios) + 1), scenarios, rotation=15)
        ax.set(title=label, ylabel=unit_txt)
        _style(ax)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle("KPIs across simulated worlds (one point per world)", fontsize=14)
    return save(fig, base)


def stakeholder_panel(summary: pd.DataFrame, base: Path) -> list[Path]:
    """Scorecard: each KPI's paired change against the reference design, by stakeholder.

    Bars are the mean change on the same worlds in standard deviations of the
    reference design's spread across worlds, signed so that right is better
    for that stakeholder (grey when a KPI has no better direction). Each bar is
    labelled with the change in its own unit, its 95 % confidence interval and
    the share of worlds where the design does better.

    Args:
        summary: Output of :func:`experiments.workshop.compare.summarise`.
        base: Output path without suffix.

    Returns:
        Files written.
    """
    from experiments.workshop.compare import direction
    from sim.model.outputs import format_value

    ref = summary.scenario.iloc[0]
    spread = summary[summary.scenario == ref].set_index("kpi")["sd"]
    rows = summary.dropna(subset=["diff"]).copy()
    rows = rows[rows.kpi.isin(spread.index)]
    scenarios = list(dict.fromkeys(rows.scenario))
    sign = rows.kpi.map(direction)
    scale = rows.kpi.map(spread).where(lambda x: x > 0, other=np.nan)
    effect = rows["diff"] / scale
    effect = effect.where(scale.notna(), np.sign(rows["diff"]) * 0.05)
    rows["effect"] = effect.fillna(0.0) * sign.replace(0, 1)
    order = {g: i for i, g in enumerate(("city", "residents", "vendors", "investors", "regulator"))}
    rows = rows.sort_values(
        ["stakeholder", "scenario"],
        key=lambda c: c.map(order) if c.name == "stakeholder" else c.map(scenarios.index),
    )
    fig, ax = plt.subplots(figsize=(13, 0.34 * len(rows) + 1.8), constrained_layout=True)
    y = np.arange(len(rows))
    colour = np.where(
        sign.loc[rows.index] == 0, "#999999", np.where(rows.effect >= 0, "#009E73", "#D55E00")
    )
    ax.barh(y, rows.effect.clip(-3, 3), color=colour, alpha=0.85)
    labels = []
    for _, r in rows.iterrows():
        who = f"[{r.stakeholder}] " + (f"{r.scenario}: " if len(scenarios) > 1 else "")
        labels.append(who + r.label)
        text = (
            ("+" if r["diff"] >= 0 else "-")
            + format_value(abs(r["diff"]), r.unit)
            + f"  (CI {format_value(r.diff_lo, r.unit)} .. {format_value(r.diff_hi, r.unit)})"
        )
        if pd.notna(r.p_better):
            text += f"  better in {r.p_better:.0%}"
        if not r.separable:
            text += "  n.s."
        x = min(max(r.effect, 0.0), 3.0)  # labels sit right of zero, clear of the names
        ax.text(
            x + 0.05,
            y[len(labels) - 1],
            text,
            va="center",
            ha="left",
            fontsize=7.5,
            color="#333333",
        )
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlim(-4.5, 4.5)
    ax.set(
        xlabel=f"change against {ref} on the same worlds, in standard deviations across "
        "worlds (right = better; grey = no better direction)"
    )
    ax.set_title(f"Scorecard by stakeholder: {', '.join(scenarios)} against {ref}", fontsize=13)
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
    colour = ["#009E73" if v >= 0 else "#D55E00" for v in means]
    colour[-1] = "#333333"
    ax.barh(y, means, color=colour, alpha=0.85, xerr=[low, high], capsize=3, ecolor="#555555")
    ax.set_yticks(y, labels)
    ax.axvline(0, color="grey", lw=0.8)
    pad = 0.02 * (np.abs(means) + np.maximum(low, high)).max()
    for yi, v, lo, hi in zip(y, means, low, high, strict=True):
        end = v + hi + pad if v >= 0 else v - lo - pad
        ax.text(end, yi, f"{v:+,.1f}", va="center", ha="left" if v >= 0 else "right", fontsize=9)
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
    entry), so the bars start and end at zero.

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
    fig, ax = plt.subplots(figsize=(10, 5.5), constrained_layout=True)
    colours_ = ["#009E73" if v >= 0 else "#D55E00" for v in values]
    ax.bar(names, values, bottom=start, color=colours_, alpha=0.85)
    for i, (b, v) in enumerate(zip(start, values, strict=True)):
        ax.text(i, b + v, f"{v:+,.0f}", ha="center", va="bottom" if v >= 0 else "top", fontsize=9)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(
        title=f"{scenario}: net cash by stakeholder over the run (mean of worlds)",
        ylabel="USD million, undiscounted (green: receives, orange: pays)",
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
    ax.legend(frameon=False)
    _style(ax)
    return save(fig, base)


def stress_heatmap(matrix: pd.DataFrame, kpi: str, base: Path) -> list[Path]:
    """Heatmap of a KPI's mean change under each stress overlay, design by overlay.

    Args:
        matrix: Output of :func:`experiments.workshop.compare.stress_matrix`.
        kpi: The KPI (for labels and colour direction).
        base: Output path without suffix.

    Returns:
        Files written.
    """
    from sim.model.outputs import KPI_INFO

    label, unit, sign = KPI_INFO.get(kpi, (kpi, "", 1))
    scale = 1e6 if unit == "USD" else (0.01 if unit == "fraction" else 1)
    values = matrix.to_numpy(dtype=float) / scale
    lim = np.nanmax(np.abs(values)) or 1.0
    fig, ax = plt.subplots(
        figsize=(1.9 * matrix.shape[1] + 3, 1.0 * matrix.shape[0] + 2.2), constrained_layout=True
    )
    image = ax.imshow(values * (sign or 1), cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:+,.1f}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=20)
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    unit_txt = "USD million" if unit == "USD" else ("pts" if unit == "fraction" else unit)
    fig.colorbar(image, ax=ax, label="better  <->  worse" if sign < 0 else "worse  <->  better")
    ax.set_title(f"Stress test: change in {label} ({unit_txt}) against the same worlds unstressed")
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
    from sim.model.outputs import KPI_INFO

    label, unit, _ = KPI_INFO.get(kpi, (kpi, "", 0))
    scale = 1e6 if unit == "USD" else 1.0
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
        xlabel=f"{label} ({'USD million' if unit == 'USD' else unit})",
    )
    ax.legend(frameon=False)
    _style(ax)
    return save(fig, base)
