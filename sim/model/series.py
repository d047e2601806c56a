"""Monthly model-level series in preallocated arrays (a lean DataCollector)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from sim.config.schema import Scenario
from sim.core.ledger import Ledger
from sim.mechanisms.lifecycle import DEPLOYED, Project

N_QUINTILES = 5


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
            names += [
                f"{c.name}.{k}"
                for k in (
                    "general_fund",
                    "debt_service_ratio",
                    "rating",
                    "revenue",
                    "revolving_fund",
                    "tif_fund",
                )
            ]
        names += [f"coverage.{d}" for d in model.scenario.world.technology]
        for d in model.services:
            names += [f"adoption.{d}"] + [f"adoption.{d}.q{q}" for q in range(1, N_QUINTILES + 1)]
        self.data = {k: np.zeros(model.horizon) for k in names}

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
        d["investor_premium"][t] = float(np.mean([i.premium for i in m.investors]))
        pop = m.population
        d["trust_mean"][t] = pop.weighted_mean(pop.trust)
        d["satisfaction_mean"][t] = pop.weighted_mean(pop.satisfaction)
        led = m.ledger
        for c in m.cities:
            d[f"{c.name}.general_fund"][t] = led.balance(c.funds.general)
            d[f"{c.name}.debt_service_ratio"][t] = c.debt_service_ratio(t)
            d[f"{c.name}.rating"][t] = c.rating_index
            d[f"{c.name}.revenue"][t] = c.revenue_month
            d[f"{c.name}.revolving_fund"][t] = led.balance(c.funds.revolving)
            d[f"{c.name}.tif_fund"][t] = led.balance(c.funds.tif)
        for domain in m.scenario.world.technology:
            cov = [pr.coverage for pr in m.projects if pr.domain == domain and pr.state in DEPLOYED]
            d[f"coverage.{domain}"][t] = float(np.sum(cov)) / max(len(m.cities), 1)
        for s, domain in enumerate(m.services):
            d[f"adoption.{domain}"][t] = pop.adoption_share(s)
            for q, share in enumerate(pop.adoption_by_quintile(s), start=1):
                d[f"adoption.{domain}.q{q}"][t] = share
