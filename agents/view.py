"""What agents see of the model: a protocol, so agents never import the model.

``sim.model.model.AllianceModel`` satisfies :class:`ModelView`. Agents read the
scenario, the month, the shared mechanisms (ledger, market, land values,
district map, consortium) and the other agents through it; they write only to
the ledger, to the projects they run and to their own outbox
(:mod:`agents.outbox`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from sim.config.schema import Scenario
    from sim.core.ledger import Ledger
    from sim.core.parties import LenderLike, VendorLike
    from sim.instruments.mini_bonds import MiniBondSale
    from sim.mechanisms.consortium import Consortium
    from sim.mechanisms.land import DistrictMap, LandValues
    from sim.mechanisms.lifecycle import Project
    from sim.mechanisms.markets import Market


class RegulatorLike(Protocol):
    """The regulator as a city sees it."""

    def approval_delay(self, sandbox: bool) -> int:
        """Months until an approval requested now is decided."""
        ...

    def decide(self, project: Project) -> bool:
        """Approve (True) or refuse a project whose approval delay is over."""
        ...


class ResidentsLike(Protocol):
    """The residents as a city sees them."""

    def income_of(self, groups: np.ndarray) -> np.ndarray:
        """The month's income of (district, quintile) groups."""
        ...

    def fees_of(self, groups: np.ndarray, domain: str) -> np.ndarray:
        """Fees owed this month for a service by the given groups."""
        ...

    def users_in(self, districts: slice, domain: str) -> float:
        """Users of a service in the given districts (real people)."""
        ...

    def offer_minibonds(
        self,
        *,
        city_index: int,
        price: float,
        cap: int,
        supply_bonds: float,
        bond_yield: float,
        offering_hours: float,
    ) -> MiniBondSale:
        """Sell a mini-bond issue to one city's residents."""
        ...


class ModelView(Protocol):
    """The model as agents see it."""

    scenario: Scenario
    month: int
    horizon: int
    ledger: Ledger
    accounts: Mapping[str, int]
    market: Market
    land: LandValues
    layout: DistrictMap
    consortium: Consortium
    rng_market: np.random.Generator
    rng_measure: np.random.Generator
    rng_regulator: np.random.Generator
    rng_events: np.random.Generator
    investors: Sequence[LenderLike]
    vendors: Sequence[VendorLike]
    regulator: RegulatorLike
    residents: ResidentsLike

    def new_project_id(self) -> int:
        """A new project id (ids start at 1; 0 tags programme-level flows)."""
        ...
