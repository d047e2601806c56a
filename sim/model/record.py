"""The record of a finished run: the plain data every KPI is computed from.

:meth:`sim.model.model.AllianceModel.record` builds it at the end of a run;
:func:`sim.model.kpis.kpis` reads nothing else, so KPIs can be recomputed (or
new ones added) from a record without the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.config.schema import Scenario
from sim.core.ledger import Ledger
from sim.instruments.base import Debt
from sim.instruments.mini_bonds import MiniBondSale
from sim.instruments.tif import TIFDistrict
from sim.mechanisms.lifecycle import Project


@dataclass(frozen=True)
class CityRecord:
    """One city at the end of the run."""

    name: str
    index: int
    rating_index: int
    contingent: float
    guarantee_calls: float
    financing_failures: int
    revolving_balance: float
    debts: list[Debt]
    minibond_sale: MiniBondSale | None
    tif_area: TIFDistrict | None
    retentions: tuple[tuple[int, int, int, float], ...] = ()
    """(project, first month, end month, monthly amount) of capex retained against KPIs."""
    exposure: float = 0.0
    """The most guarantees can call on the city over their terms, as taken on."""


@dataclass(frozen=True)
class RunRecord:
    """Everything a run produced that KPIs are computed from."""

    scenario: Scenario
    horizon: int
    ledger: Ledger
    series: dict[str, np.ndarray]
    events: list[dict[str, Any]]
    projects: list[Project]
    cities: list[CityRecord]
    districts: int
    """Districts per city."""
    adoption: dict[str, tuple[float, np.ndarray]]
    """Each user-facing service's adoption share and its share by income quintile."""
    totals: dict[str, float]
    """Non-cash tallies: ``kwh_saved``, ``savings_usd``, ``welfare_usd``."""
    ppp_vfm: list[float]
    incidents: int
    av: np.ndarray
    av_trend: np.ndarray
