"""The model as plain functions: ``run(scenario, seed=...)`` and ``evaluate(params)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import load_scenario
from sim.config.schema import Scenario
from sim.core.ledger import Ledger
from sim.model.kpis import kpis
from sim.model.model import AllianceModel

ScenarioLike = Scenario | str | Path | Mapping[str, Any]


@dataclass
class RunResult:
    """Everything one run produced."""

    scenario: Scenario
    seed: int
    kpis: dict[str, float]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    ledger: Ledger


def resolve(
    scenario: ScenarioLike, overrides: Mapping[str, Any] | None = None, overlays: Iterable[str] = ()
) -> Scenario:
    """Turn a scenario object, file, library name or mapping into a validated Scenario.

    Args:
        scenario: What to run.
        overrides: Dotted-path overrides.
        overlays: Overlays to apply.

    Returns:
        The validated scenario.
    """
    overlays = list(overlays)
    if isinstance(scenario, Scenario):
        if not overrides and not overlays:
            return scenario
        scenario = scenario.model_dump()
    return load_scenario(scenario, overlays=overlays, overrides=overrides)


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
    scn = resolve(scenario, overrides, overlays)
    model = AllianceModel(scn, seed=seed, months=months)
    model.run(progress)
    model.ledger.check_balanced()
    events = pd.DataFrame(
        model.events, columns=["month", "event", "city", "project", "domain", "info"]
    )
    events["info"] = events["info"].map(lambda d: ", ".join(f"{k}={_fmt(v)}" for k, v in d.items()))
    return RunResult(
        scn, seed, kpis(model.record()), pd.DataFrame(model.series.data), events, model.ledger
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
