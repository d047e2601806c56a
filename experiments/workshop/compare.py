"""Paired comparison of designs, stress matrices, regret and robustness.

All statistics come from an experiment's runs table, where replication ``r``
of every scenario ran on the same world (the same seed): differences are
paired, so the noise the worlds share cancels.

- ``summarise``: per scenario and KPI, the mean, a 90 % interval (5th-95th
  percentile across worlds), the paired difference against the first
  scenario with its 95 % confidence interval (t distribution), the
  probability of being better on the same world, and whether the runs were
  enough to separate the two designs.
- ``cvar``: conditional value at risk (expected shortfall) of the city's
  budget shortfall, the mean of the worst 5 % of worlds.
- ``stress_matrix``: KPI change under each overlay against the unstressed run
  on the same world, and which design degrades least (regret, robustness).
- ``npv_decomposition``: the paired difference in fiscal NPV taken apart by
  component (savings, revenue, land value, capex, O&M, fees, financing, ...,
  commitments and benefits after the horizon); the components' mean
  differences add up to the total's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim.model.outputs import COMPONENT_LABELS, COMPONENTS, KPI_INFO, STAKEHOLDERS

#: KPIs shown in stakeholder tables, in order.
TABLE_KPIS = tuple(k for group in STAKEHOLDERS.values() for k in group)


def direction(kpi: str) -> int:
    """+1 when more of a KPI is better, -1 when less is, 0 when neither."""
    return KPI_INFO.get(kpi, ("", "", 0))[2]


def stakeholder_of(kpi: str) -> str:
    """The stakeholder group a KPI belongs to ("other" if none)."""
    return next((who for who, keys in STAKEHOLDERS.items() if kpi in keys), "other")


def cvar(losses: Sequence[float] | np.ndarray, level: float = 0.95) -> float:
    """Expected shortfall: mean of the worst ``1 - level`` share of losses.

    Uses the exact tail mean with a fractional weight on the boundary
    observation (Acerbi and Tasche 2002), so it is defined for any sample size.

    Args:
        losses: Loss per world (larger is worse).
        level: Confidence level (0.95 -> the worst 5 %).

    Returns:
        The CVaR (nan for an empty sample).
    """
    x = np.sort(np.asarray(losses, dtype=float))[::-1]
    n = x.size
    if n == 0:
        return math.nan
    tail = (1 - level) * n  # number of worst observations, fractional
    whole = int(math.floor(tail))
    total = x[:whole].sum()
    if whole < n and tail > whole:
        total += (tail - whole) * x[whole]
    return float(total / tail) if tail > 0 else float(x[0])


def budget_shortfall(runs: pd.DataFrame, reserves: float) -> pd.Series:
    """How far each run's general fund fell below its starting reserves (0 if never).

    Args:
        runs: Runs table with ``min_budget_balance_usd``.
        reserves: Starting reserves (USD).

    Returns:
        Shortfall per run (USD, >= 0).
    """
    return (reserves - runs["min_budget_balance_usd"]).clip(lower=0.0)


def mean_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a t-interval for it.

    Args:
        x: Sample.
        level: Confidence level.

    Returns:
        (mean, low, high); the interval collapses to the mean for n < 2 or no spread.
    """
    x = np.asarray(x, dtype=float)
    m = float(x.mean()) if x.size else math.nan
    if x.size < 2 or np.allclose(x, x[0]):
        return m, m, m
    half = stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return m, m - half, m + half


def runs_needed(diffs: np.ndarray, level: float = 0.95) -> int:
    """Replications needed for a paired difference's CI to exclude zero (normal approx.).

    Args:
        diffs: Paired differences.
        level: Confidence level.

    Returns:
        n such that z * sd / sqrt(n) < |mean| (0 when the mean is 0).
    """
    d = np.asarray(diffs, dtype=float)
    if d.size < 2 or d.mean() == 0:
        return 0
    z = stats.norm.ppf(0.5 + level / 2)
    return int(math.ceil((z * d.std(ddof=1) / abs(d.mean())) ** 2))


def _paired(runs: pd.DataFrame, scenario: str, kpi: str) -> pd.Series:
    sub = runs[(runs.scenario == scenario) & (runs.status == "ok")]
    return sub.set_index(["point", "replication"])[kpi]


def summarise(
    runs: pd.DataFrame,
    scenarios: Sequence[str],
    *,
    reserves: float | None = None,
    kpis: Sequence[str] = TABLE_KPIS,
) -> pd.DataFrame:
    """The stakeholder table: one row per (scenario, KPI).

    Args:
        runs: Runs table (``experiments.load``).
        scenarios: Scenario labels; the first is the reference.
        reserves: Starting reserves, for the budget-shortfall CVaR row (city).
        kpis: KPIs to include (those present in the table).

    Returns:
        Columns: stakeholder, kpi, label, unit, scenario, n, mean, sd, p05, p95, diff, diff_lo,
        diff_hi, p_better (share of worlds strictly better), n_better, n_same, n_worse
        (worlds better, equal and worse than the reference), separable, runs_needed.
    """
    runs = runs.copy()
    if reserves is not None:
        runs["budget_shortfall_usd"] = budget_shortfall(runs, reserves)
    base = scenarios[0]
    rows = []
    for kpi in [k for k in kpis if k in runs.columns]:
        label, unit, sign = KPI_INFO.get(kpi, (kpi, "", 0))
        ref = _paired(runs, base, kpi)
        for scenario in scenarios:
            values = _paired(runs, scenario, kpi)
            row = {
                "stakeholder": stakeholder_of(kpi),
                "kpi": kpi,
                "label": label,
                "unit": unit,
                "scenario": scenario,
                "n": int(values.size),
                "mean": values.mean(),
                "sd": values.std(ddof=1) if values.size > 1 else 0.0,
                "p05": values.quantile(0.05),
                "p95": values.quantile(0.95),
            }
            if scenario != base:
                joined = pd.concat([values.rename("x"), ref.rename("r")], axis=1).dropna()
                d = (joined.x - joined.r).to_numpy()
                m, lo, hi = mean_ci(d)
                # worlds better, the same (equal up to rounding) and worse; without a
                # direction only "same" is meaningful
                tie = np.abs(d) <= 1e-9 * np.maximum(1.0, np.abs(joined.r.to_numpy()))
                up = (np.sign(d) == sign) & ~tie if sign else np.zeros(d.size, bool)
                down = ~tie & ~up if sign else np.zeros(d.size, bool)
                # share of worlds strictly better; undefined without a direction or when
                # every world ties
                better = up.mean() if sign and not tie.all() else math.nan
                separable = bool(lo > 0 or hi < 0) or bool(np.allclose(d, 0))
                row.update(
                    diff=m,
                    diff_lo=lo,
                    diff_hi=hi,
                    p_better=better,
                    n_better=int(up.sum()),
                    n_same=int(tie.sum()),
                    n_worse=int(down.sum()),
                    separable=separable,
                    runs_needed=0 if separable else runs_needed(d),
                )
            rows.append(row)
    table = pd.DataFrame(rows)
    if reserves is not None:
        for scenario in scenarios:
            sub = runs[(runs.scenario == scenario) & (runs.status == "ok")]
            rows_cvar = {
                "stakeholder": "city",
                "kpi": "budget_shortfall_cvar95_usd",
                "label": "CVaR95 of the budget shortfall",
                "unit": "USD",
                "scenario": scenario,
                "n": len(sub),
                "mean": cvar(sub["budget_shortfall_usd"]),
            }
            table = pd.concat([table, pd.DataFrame([rows_cvar])], ignore_index=True)
    return table


def npv_decomposition(runs: pd.DataFrame, designs: Sequence[str]) -> pd.DataFrame:
    """Why the designs differ: the paired fiscal-NPV difference by component.

    Args:
        runs: Runs table with the ``npv.<component>`` KPIs.
        designs: Design labels; each after the first is compared with the first.

    Returns:
        Columns design, against, component, label, usd_mean, usd_ci_low, usd_ci_high: one
        row per component and a last row ``total`` (the fiscal NPV); the components'
        ``usd_mean`` add up to the total's.
    """
    against = designs[0]
    rows = []
    for design in designs[1:]:
        for component in (*COMPONENTS, "total"):
            kpi = "fiscal_npv_usd" if component == "total" else f"npv.{component}"
            if kpi not in runs:
                continue
            joined = pd.concat(
                [
                    _paired(runs, design, kpi).rename("x"),
                    _paired(runs, against, kpi).rename("r"),
                ],
                axis=1,
            ).dropna()
            mean, low, high = mean_ci((joined.x - joined.r).to_numpy())
            rows.append(
                {
                    "design": design,
                    "against": against,
                    "component": component,
                    "label": COMPONENT_LABELS.get(component, "fiscal NPV"),
                    "usd_mean": mean,
                    "usd_ci_low": low,
                    "usd_ci_high": high,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "design",
            "against",
            "component",
            "label",
            "usd_mean",
            "usd_ci_low",
            "usd_ci_high",
        ],
    )


def stress_matrix(
    runs: pd.DataFrame, designs: Sequence[str], overlays: Sequence[str], kpi: str
) -> pd.DataFrame:
    """Mean paired change of a KPI under each overlay against the unstressed run.

    Args:
        runs: Runs table whose scenario labels are ``design`` and ``design+overlay``.
        designs: Unstressed design labels.
        overlays: Overlay labels (as in ``design+overlay``).
        kpi: The KPI.

    Returns:
        Matrix designs x overlays of mean changes (same world, same replication).
    """
    out = pd.DataFrame(index=list(designs), columns=list(overlays), dtype=float)
    for design in designs:
        base = _paired(runs, design, kpi)
        for overlay in overlays:
            hit = _paired(runs, f"{design}+{overlay}", kpi)
            out.loc[design, overlay] = (hit - base).dropna().mean()
    return out


def regret(
    runs: pd.DataFrame, designs: Sequence[str], overlays: Sequence[str], kpi: str
) -> pd.DataFrame:
    """Regret and robustness of each design across the unstressed and stressed worlds.

    Regret of a design in a condition = the best design's mean KPI there minus
    this design's (in the KPI's better direction); robustness summaries are
    the worst-case level and the largest degradation.

    Args:
        runs: Runs table.
        designs: Unstressed design labels.
        overlays: Overlay labels.
        kpi: The KPI.

    Returns:
        One row per design: regret per condition, max regret, worst level, worst change.
    """
    sign = direction(kpi) or 1
    conditions = ["none", *overlays]
    level = pd.DataFrame(index=list(designs), columns=conditions, dtype=float)
    for design in designs:
        for cond in conditions:
            label = design if cond == "none" else f"{design}+{cond}"
            level.loc[design, cond] = _paired(runs, label, kpi).mean()
    best = level.max() if sign > 0 else level.min()
    reg = (best - level) * sign
    change = stress_matrix(runs, designs, overlays, kpi) * sign
    out = reg.add_prefix("regret.")
    out["max_regret"] = reg.max(axis=1)
    out["worst_level"] = level.min(axis=1) if sign > 0 else level.max(axis=1)
    out["worst_change"] = change.min(axis=1) * sign if len(overlays) else 0.0
    return out.sort_values("max_regret")
