"""The model as plain functions, for scripts, notebooks and other tools.

- :func:`run`: one run of a scenario, everything it produced (:class:`RunResult`:
  KPIs, monthly series, ledger, events; ``kpi_series`` and ``kpi_table`` for pandas).
- :func:`evaluate`: one run's KPIs for a point of dotted-path parameters.
- :func:`evaluate_many`: points x seeds on any executor (serial, a process pool,
  a ``dask.distributed.Client``), one row per run, in order.
- :func:`kpi_info`: the KPI catalogue (labels, units, directions, stakeholders).

The Mesa-native class is :class:`sim.model.model.AllianceModel`; these functions
build it, step it to the horizon and read what it recorded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import as_scenario
from sim.config.schema import Scenario
from sim.core.ledger import Ledger
from sim.model.model import AllianceModel
from sim.model.outputs import KPI_INFO, STAKEHOLDERS, kpi

ScenarioLike = Scenario | str | Path | Mapping[str, Any]


@dataclass
class RunResult:
    """Everything one run produced."""

    scenario: Scenario
    seed: int
    kpis: dict[str, float]
    """KPI name -> value (see :func:`sim.kpi_info` for labels, units and directions)."""
    timeseries: pd.DataFrame
    """The monthly series, one row per month, indexed by integer ``month``."""
    events: pd.DataFrame
    ledger: Ledger

    @property
    def kpi_series(self) -> pd.Series:
        """The KPIs as a pandas Series indexed by KPI name, named after the scenario."""
        return pd.Series(self.kpis, name=self.scenario.scenario.name, dtype=float).rename_axis(
            "kpi"
        )

    @property
    def kpi_table(self) -> pd.DataFrame:
        """The KPIs beside their catalogue entries: value, label, unit, direction, stakeholder.

        ``shown`` is the value as the reports print it (``-$84.7M``, ``49.1 %``).
        """
        table = kpi_info(self.kpis)
        table.insert(0, "value", pd.Series(self.kpis, dtype=float))
        table["shown"] = [kpi(k).format(v) for k, v in self.kpis.items()]
        return table


#: Turns a scenario object, file, library name or mapping into a validated Scenario.
resolve = as_scenario


def run(
    scenario: ScenarioLike = "alliance",
    *,
    seed: int = 0,
    months: int | None = None,
    overrides: Mapping[str, Any] | None = None,
    overlays: Iterable[str] = (),
    progress: Callable[[int], Any] | None = None,
) -> RunResult:
    """Run the model once.

    Args:
        scenario: A Scenario, a file, a library name or a mapping.
        seed: Seed of every random stream (same seed, same numbers).
        months: Horizon (default: the scenario's ``world.horizon_months``).
        overrides: Dotted-path overrides, e.g. ``{"world.rates.shift_bp": 200}``.
        overlays: Stress overlays to apply.
        progress: Optional callable called with 1 after each month.

    Returns:
        KPIs, monthly time series, the lifecycle event log and the ledger.
    """
    scn = as_scenario(scenario, overrides, overlays)
    model = AllianceModel(scn, seed=seed, months=months)
    model.run(progress)
    model.ledger.check_balanced()
    events = pd.DataFrame(
        model.events, columns=["month", "event", "city", "project", "domain", "info"]
    )
    events["info"] = events["info"].map(lambda d: ", ".join(f"{k}={_fmt(v)}" for k, v in d.items()))
    series = pd.DataFrame(model.series.data)
    series["month"] = series["month"].astype(np.int64)
    return RunResult(
        scn, seed, model.datacollector.kpis(), series.set_index("month"), events, model.ledger
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def evaluate(
    params: Mapping[str, Any] | None = None,
    scenario: ScenarioLike = "alliance",
    *,
    seed: int = 0,
    months: int | None = None,
) -> dict[str, float]:
    """KPIs of one run with parameters set by dotted path: the model as a plain function.

    For SALib, the EMA Workbench or any optimiser::

        evaluate({"world.rates.shift_bp": 150, "policy.pilot.share_of_units": 0.05})

    Args:
        params: Dotted-path values.
        scenario: The base scenario.
        seed: Seed.
        months: Horizon.

    Returns:
        KPI name -> value.
    """
    return run(scenario, seed=seed, months=months, overrides=params).kpis


def kpi_info(names: Iterable[str] | None = None) -> pd.DataFrame:
    """The KPI catalogue as a table: label, unit, display unit, direction, stakeholder.

    Args:
        names: KPIs to describe (default: every catalogued KPI). A name outside the
            catalogue (a per-domain coverage or adoption KPI) reads as itself.

    Returns:
        One row per KPI, indexed by ``kpi``; ``direction`` is +1 (more is better),
        -1 (less is better) or 0; ``stakeholder`` is whose outcome it measures.
    """
    owner = {k: group for group, ks in STAKEHOLDERS.items() for k in ks}
    rows = []
    for name in KPI_INFO if names is None else names:
        entry = kpi(name)
        rows.append(
            {
                "kpi": name,
                "label": entry.label,
                "unit": entry.unit,
                "display_unit": entry.display_unit,
                "direction": entry.direction,
                "stakeholder": owner.get(name, _stakeholder_of(name)),
            }
        )
    return pd.DataFrame(rows).set_index("kpi")


def _stakeholder_of(name: str) -> str:
    """Whose outcome a KPI outside the stakeholder tables measures.

    Programme counts and the city's instruments are the city's; the PPP vehicles'
    and the outside world's net flows are theirs; the ledger's imbalance is a
    check on the model (always zero), nobody's outcome.
    """
    if name.startswith("adoption"):
        return "residents"
    if name == "vehicles_net_usd":
        return "vehicles"
    if name == "outside_net_usd":
        return "outside"
    if name == "ledger_imbalance_usd":
        return "model check"
    return "city"


def _evaluate_task(
    index: int, params: dict[str, Any], seed: int, scenario: ScenarioLike, months: int | None
) -> tuple[int, int, dict[str, float] | None, str | None]:
    """One run of :func:`evaluate_many` (module level, so it pickles under spawn)."""
    try:
        values = evaluate(params, scenario, seed=seed, months=months)
    except Exception as exc:  # a failed run is a row with its reason, not a lost batch
        return index, seed, None, f"{type(exc).__name__}: {exc}"
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        named = ", ".join(f"{k} = {values[k]}" for k in bad)
        return index, seed, None, f"non-finite KPI(s): {named}"
    return index, seed, values, None


def evaluate_many(
    points: Iterable[Mapping[str, Any]] | pd.DataFrame,
    seeds: int | Iterable[int] = 1,
    scenario: ScenarioLike = "alliance",
    *,
    months: int | None = None,
    engine: str | Any = "serial",
    workers: int | None = None,
    errors: str = "raise",
    progress: bool = False,
) -> pd.DataFrame:
    """Evaluate many parameter points, each on the same seeds, serially or in parallel.

    Every point runs on every seed (common random numbers: two points differ only
    by their parameters), and the same seeds give the same numbers on every engine::

        evaluate_many([{"world.rates.shift_bp": b} for b in (0, 100, 200)], seeds=3,
                      engine="processes")

    Args:
        points: Dotted-path parameter mappings, or a DataFrame with one column per path.
        seeds: The seeds (an int ``n`` means ``0..n-1``).
        scenario: The base scenario.
        months: Horizon (default: the scenario's).
        engine: ``"serial"``, ``"processes"`` (a spawn process pool of ``workers``), or
            any executor with ``submit`` whose futures have ``result()``: a
            ``concurrent.futures`` executor or a ``dask.distributed.Client``.
        workers: Processes for ``"processes"`` (default: the machine's CPUs).
        errors: ``"raise"``: any failed run raises one error naming it, after all ran;
            ``"keep"``: failed runs are rows with KPIs missing and the reason in ``error``.
        progress: Show a progress bar (tqdm).

    Returns:
        One row per (point, seed), in order: ``point``, ``seed``, the parameters, the
        KPIs (and ``error`` with ``errors="keep"``).

    Raises:
        ValueError: An unknown engine or ``errors`` value, or no points or seeds.
        RuntimeError: Runs failed and ``errors="raise"``.
    """
    if errors not in ("raise", "keep"):
        raise ValueError(f"errors = {errors!r}: expected 'raise' or 'keep'")
    rows = points.to_dict("records") if isinstance(points, pd.DataFrame) else list(points)
    rows = [dict(p) for p in rows]
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not rows or not seed_list:
        raise ValueError(f"nothing to run: {len(rows)} points x {len(seed_list)} seeds")
    if isinstance(scenario, Scenario):
        scenario = scenario.model_dump()  # plain data pickles anywhere
    tasks = [(i, p, s, scenario, months) for i, p in enumerate(rows) for s in seed_list]
    results = _run_tasks(tasks, engine, workers, progress)
    failed = [(i, s, e) for i, s, _, e in results if e is not None]
    if failed and errors == "raise":
        i, s, e = failed[0]
        raise RuntimeError(
            f"{len(failed)} of {len(tasks)} runs failed; first: point {i} "
            f"({rows[i]}), seed {s}: {e}"
        )
    out = []
    for i, s, values, error in results:
        row = {"point": i, "seed": s, **rows[i], **(values or {})}
        if errors == "keep":
            row["error"] = error
        out.append(row)
    return pd.DataFrame(out)


def _run_tasks(tasks: list[tuple], engine: str | Any, workers: int | None, progress: bool) -> list:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), disable=not progress, unit="run")
    try:
        if engine == "serial":
            out = []
            for task in tasks:
                out.append(_evaluate_task(*task))
                bar.update()
            return out
        if engine == "processes":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=spawn) as pool:
                return _gather(pool, tasks, bar)
        if isinstance(engine, str) or not hasattr(engine, "submit"):
            raise ValueError(
                f"engine = {engine!r}: expected 'serial', 'processes', or an executor "
                "with submit() (concurrent.futures, dask.distributed.Client)"
            )
        return _gather(engine, tasks, bar)
    finally:
        bar.close()


def _gather(executor: Any, tasks: list[tuple], bar: Any) -> list:
    futures = [executor.submit(_evaluate_task, *task) for task in tasks]
    out = []
    for future in futures:  # in submission order, so rows are in order on every engine
        out.append(future.result())
        bar.update()
    return out
