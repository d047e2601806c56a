"""Ready-made studies for policy teams: compare designs, stress them, tornado them.

Each study builds an experiment spec, runs it with the experiment engine (so it
resumes and runs on any engine), then writes its tables and charts into the
experiment folder, where ``alliance report`` finds them:

- ``compare.csv`` / ``compare.parquet``: the stakeholder table;
- ``stress.csv`` (KPI changes under each overlay) and ``regret.csv``;
- ``tornado.csv``: one-at-a-time changes;
- ``charts/*.png|svg|pdf``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.engine.batch import Summary, run_experiment
from experiments.engine.spec import Spec, load_spec
from experiments.engine.store import load, safe_name, write_csv, write_json, write_parquet
from experiments.workshop import charts
from experiments.workshop.compare import (
    TABLE_KPIS,
    npv_decomposition,
    regret,
    stress_matrix,
    summarise,
)
from sim.config import load_scenario
from sim.model.outputs import SCORECARD

#: KPIs shown as distributions and in the stress matrix.
HEADLINE_KPIS = (
    "fiscal_npv_usd",
    "min_budget_balance_usd",
    "stranded_debt_usd",
    "welfare_usd",
    "savings_usd",
    "adoption_gap_top_bottom",
)
STRESS_KPIS = ("fiscal_npv_usd", "min_budget_balance_usd", "welfare_usd")
SERIES = ["*.general_fund", "*.debt_service_ratio", "coverage.*", "adoption.*"]


def _label(file: str, overlays: Sequence[str] = ()) -> str:
    return "+".join([Path(file).stem, *overlays])


def compare_spec(
    scenarios: Sequence[str],
    *,
    replications: int = 20,
    overlays: Sequence[str] = (),
    seed: int = 1,
    months: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> Spec:
    """The experiment a comparison runs: every design plain and under each overlay.

    Args:
        scenarios: Scenario files or names; the first is the reference.
        replications: Worlds per design.
        overlays: Stress overlays to run every design under (one at a time).
        seed: Seed of the worlds.
        months: Horizon (default: the scenarios').
        overrides: Dotted-path values applied to every scenario (a design point).

    Returns:
        The validated spec (the same for the same arguments, so its run store is reused).
    """
    refs = [{"file": s} for s in scenarios]
    refs += [{"file": s, "overlays": [o]} for o in overlays for s in scenarios]
    return load_spec(
        {
            "experiment": {
                "name": "compare-" + "-".join(_label(s) for s in scenarios),
                "seed": seed,
                "replications": replications,
                "months": months,
                "timeseries": True,
                "timeseries_stride": 3,
                "timeseries_columns": SERIES,
            },
            "scenarios": refs,
            "design": {"kind": "list", "points": [overrides]} if overrides else {},
        }
    )


def compare_study(
    scenarios: Sequence[str],
    out: str | Path,
    *,
    replications: int = 20,
    overlays: Sequence[str] = (),
    seed: int = 1,
    months: int | None = None,
    engine: Any = "processes",
    workers: int = 2,
    scheduler: str | None = None,
    overrides: dict[str, Any] | None = None,
    progress: Callable[[str, dict], Any] | None = None,
) -> dict[str, Any]:
    """Run designs (and their stressed versions) on paired worlds and write the analysis.

    Args:
        scenarios: Scenario files or names; the first is the reference.
        out: The study folder.
        replications: Worlds per design.
        overlays: Stress overlays to run every design under (one at a time).
        seed: Seed of the worlds.
        months: Horizon (default: the scenarios').
        engine: Experiment engine by name, or one already started (warm workers).
        workers: Workers.
        scheduler: Dask scheduler address.
        overrides: Dotted-path values applied to every scenario (a design point).
        progress: Passed to :func:`experiments.engine.batch.run_experiment`.

    Returns:
        ``{"summary": stakeholder table, "decomposition": the fiscal-NPV difference by
        component, "stress": {kpi: matrix}, "regret": {...}, "run": Summary}``.
    """
    spec = compare_spec(
        scenarios,
        replications=replications,
        overlays=overlays,
        seed=seed,
        months=months,
        overrides=overrides,
    )
    run: Summary = run_experiment(
        spec, out, engine=engine, workers=workers, scheduler=scheduler, progress=progress
    )
    out = Path(out)
    runs = load(out)
    designs = [_label(s) for s in scenarios]
    loaded = {_label(s): load_scenario(s) for s in scenarios}
    reserves = sum(c.reserves_usd for c in loaded[designs[0]].world.cities.values())
    summary = summarise(runs, designs, reserves=reserves)
    write_csv(summary, out / "compare.csv", index=False)
    write_parquet(summary, out / "compare.parquet")
    decomposition = npv_decomposition(runs, designs)
    write_csv(decomposition, out / "npv_decomposition.csv", index=False)
    result: dict[str, Any] = {
        "summary": summary,
        "decomposition": decomposition,
        "stress": {},
        "regret": {},
        "run": run,
    }
    overlay_labels = list(overlays)
    if overlay_labels:
        rows = []
        for kpi in STRESS_KPIS:
            matrix = stress_matrix(runs, designs, overlay_labels, kpi)
            result["stress"][kpi] = matrix
            rows.append(matrix.reset_index(names="design").assign(kpi=kpi))
            result["regret"][kpi] = regret(runs, designs, overlay_labels, kpi)
        write_csv(pd.concat(rows, ignore_index=True), out / "stress.csv", index=False)
        write_csv(
            pd.concat(
                [r.reset_index(names="design").assign(kpi=k) for k, r in result["regret"].items()],
                ignore_index=True,
            ),
            out / "regret.csv",
            index=False,
        )
    write_json(
        {
            "designs": designs,
            "overlays": overlay_labels,
            "replications": replications,
            "seed": seed,
            "months": months,
            "overrides": overrides or {},
            "scenarios": {
                d: {"file": s, "description": loaded[d].scenario.description}
                for d, s in zip(designs, scenarios, strict=True)
            },
        },
        out / "study.json",
    )
    _compare_charts(out, runs, designs, overlay_labels, result, loaded)
    return result


def _compare_charts(
    out: Path,
    runs: pd.DataFrame,
    designs: list[str],
    overlays: list[str],
    result: dict[str, Any],
    loaded: dict[str, Any],
) -> None:
    chart_dir = out / "charts"
    summary, stress = result["summary"], result["stress"]
    for design, table in result["decomposition"].groupby("design", sort=False):
        charts.npv_decomposition(table, chart_dir / f"why_{safe_name(design)}")
    base_runs = runs[runs.scenario.isin(designs)]
    ts = load(out, timeseries=True)
    ts = ts[ts.scenario.isin(designs)]
    domains = {d: list(loaded[d].policy.domains) for d in designs}
    charts.fan_charts(charts.derived_series(ts, domains), designs, chart_dir / "fan_charts")
    kpis = [k for k in HEADLINE_KPIS if k in runs]
    charts.kpi_distributions(base_runs, designs, kpis, chart_dir / "kpi_distributions")
    table = summary[summary.kpi.isin(TABLE_KPIS)]
    card = [k for k in SCORECARD if k in set(table.kpi)]
    charts.stakeholder_panel(table, chart_dir / "stakeholders", card, "Workshop scorecard")
    charts.stakeholder_panel(
        table, chart_dir / "stakeholders_full", title="Every KPI by stakeholder"
    )
    for d in designs:
        charts.waterfall(base_runs, d, chart_dir / f"waterfall_{safe_name(d)}")
    charts.adoption_by_quintile(base_runs, designs, chart_dir / "adoption_quintiles")
    for kpi, matrix in stress.items():
        charts.stress_heatmap(matrix, kpi, chart_dir / f"stress_{safe_name(kpi)}")


def tornado_study(
    scenario: str,
    ranges: dict[str, tuple[float, float]],
    out: str | Path,
    *,
    kpi: str = "fiscal_npv_usd",
    replications: int = 10,
    seed: int = 1,
    months: int | None = None,
    engine: str = "processes",
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[str, dict], Any] | None = None,
) -> pd.DataFrame:
    """One-at-a-time changes: each parameter at its low and high value, the rest at base.

    Args:
        scenario: The design.
        ranges: Dotted path -> (low, high).
        out: The study folder.
        kpi: KPI charted.
        replications: Worlds per point (paired: the same worlds at every point).
        seed: Seed.
        months: Horizon.
        engine: Experiment engine.
        workers: Workers.
        scheduler: A running Dask scheduler's address.
        progress: Passed to the engine.

    Returns:
        Rows parameter, low, high, kpi_low, kpi_high, kpi_base.
    """
    points = [{}]
    for path, (lo, hi) in ranges.items():
        points += [{path: lo}, {path: hi}]
    spec = load_spec(
        {
            "experiment": {
                "name": f"tornado-{_label(scenario)}",
                "seed": seed,
                "replications": replications,
                "months": months,
            },
            "scenarios": [{"file": scenario}],
            "design": {"kind": "list", "points": points},
        }
    )
    run_experiment(
        spec, out, engine=engine, workers=workers, scheduler=scheduler, progress=progress
    )
    runs = load(out)
    means = runs[runs.status == "ok"].groupby("point")[kpi].mean()
    rows = [
        {
            "parameter": path,
            "low": lo,
            "high": hi,
            "kpi": kpi,
            "kpi_low": means.get(1 + 2 * i),
            "kpi_high": means.get(2 + 2 * i),
            "kpi_base": means.get(0),
        }
        for i, (path, (lo, hi)) in enumerate(ranges.items())
    ]
    table = pd.DataFrame(rows)
    out = Path(out)
    write_csv(table, out / "tornado.csv", index=False)
    charts.tornado(table, kpi, float(means.get(0)), out / "charts" / "tornado")
    return table
