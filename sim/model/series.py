"""Monthly model-level series in preallocated arrays (a lean DataCollector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from sim.config.schema import Scenario
from sim.core.ledger import Ledger
from sim.core.sums import np_mean, np_sum
from sim.mechanisms.lifecycle import DEPLOYED, Project

N_QUINTILES = 5
#: Each city's series, in column order.
CITY_SERIES = (
    "general_fund",
    "debt_service_ratio",
    "rating",
    "revenue",
    "revolving_fund",
    "tif_fund",
)


class Observed(Protocol):
    """What the series read of the model each month."""

    scenario: Scenario
    horizon: int
    ledger: Ledger
    cities: Sequence[Any]
    vendors: Sequence[Any]
    investors: Sequence[Any]
    projects: Sequence[Project]
    population: Any
    services: Sequence[str]


class Series:
    """One array per series, one value per month."""

    def __init__(self, model: Observed) -> None:
        """Allocate every series for the horizon.

        Args:
            model: The model (its cities, domains and services name the series).
        """
        self.model = model
        names = ["month", "vendors_solvent", "investor_premium", "trust_mean", "satisfaction_mean"]
        for c in model.cities:
            names += [f"{c.name}.{k}" for k in CITY_SERIES]
        names += [f"coverage.{d}" for d in model.scenario.world.technology]
        for d in model.services:
            names += [f"adoption.{d}"] + [f"adoption.{d}.q{q}" for q in range(1, N_QUINTILES + 1)]
        self.data = {k: np.zeros(model.horizon) for k in names}
        d = self.data  # the columns each month writes, looked up once
        self._cities = [(c, *(d[f"{c.name}.{k}"] for k in CITY_SERIES)) for c in model.cities]
        self._coverage = {dom: d[f"coverage.{dom}"] for dom in model.scenario.world.technology}
        self._adoption = [
            (d[f"adoption.{dom}"], [d[f"adoption.{dom}.q{q}"] for q in range(1, N_QUINTILES + 1)])
            for dom in model.services
        ]

    def record(self, t: int) -> None:
        """Record month ``t`` (past the horizon nothing is recorded).

        Args:
            t: Month.
        """
        m = self.model
        if t >= len(self.data["month"]):
            return
        d = self.data
        d["month"][t] = t
        d["vendors_solvent"][t] = sum(v.solvent for v in m.vendors)
        d["investor_premium"][t] = np_mean([i.premium for i in m.investors])
        pop = m.population
        d["trust_mean"][t] = pop.trust_mean  # kept by the month's satisfaction step
        d["satisfaction_mean"][t] = pop.satisfaction_mean
        led = m.ledger
        for c, general, dsr, rating, revenue, revolving, tif in self._cities:
            general[t] = led.balance(c.funds.general)
            dsr[t] = c.debt_service_ratio(t)
            rating[t] = c.rating_index
            revenue[t] = c.revenue_month
            revolving[t] = led.balance(c.funds.revolving)
            tif[t] = led.balance(c.funds.tif)
        deployed: dict[str, list[float]] = {}
        for pr in m.projects:
            if pr.state in DEPLOYED:
                deployed.setdefault(pr.domain, []).append(pr.coverage)
        n_cities = max(len(m.cities), 1)
        for domain, column in self._coverage.items():
            cov = deployed.get(domain)
            column[t] = np_sum(cov) / n_cities if cov else 0.0
        for s, (share, by_quintile) in enumerate(self._adoption):
            share[t] = pop.adoption_share(s)
            for column, value in zip(by_quintile, pop.adoption_by_quintile(s), strict=True):
                column[t] = value
