"""Projects and their lifecycle states (MODEL.md, Project lifecycle).

need -> procuring -> approval -> pilot -> (evaluate: scale | extend | stop)
     -> scale_approval -> scaling (tranches) -> operating -> ended (hand-back)

Without pilots (the traditional approach) a project goes from approval
straight to scaling. A project may be halted (incident) or lose its vendor at
any operating stage; at the end of the equipment's life or contract it ends.
Pilot evaluation is in :mod:`sim.mechanisms.pilots`; the city's portfolio
(``agents.city.portfolio``) moves projects from state to state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.core.parties import VendorLike

if TYPE_CHECKING:
    from sim.config.schema import Technology

STATES = (
    "procuring",
    "approval",
    "pilot",
    "scale_approval",
    "scaling",
    "operating",
    "stopped",
    "ended",
)
ACTIVE = frozenset({"procuring", "approval", "pilot", "scale_approval", "scaling"})
DEPLOYED = frozenset({"pilot", "scale_approval", "scaling", "operating"})


@dataclass
class Project:
    """One city's project in one technology domain."""

    pid: int
    city: str
    domain: str
    tech: Technology
    units_target: float
    state: str = "procuring"
    mode: str = "rfp"
    started: int = 0
    vendors: list[VendorLike] = field(default_factory=list)
    integrator: VendorLike | None = None
    price_per_unit: float = 0.0
    claim: float = 1.0
    system_factor: float = 1.0
    instrument: str = ""
    units: float = 0.0
    pilot_units: float = 0.0
    next_event: int = 0  # month when the current stage's wait ends
    pilot_start: int = -1
    pilot_end: int = -1  # month of the pilot's scale or stop decision
    pilot_bias: float = 0.0  # the pilot's persistent measurement bias
    deploy_start: int = -1
    scaled_month: int = -1
    end_month: int = -1
    extensions: int = 0  # pilot extensions
    stalled_months: int = 0  # months a tranche waited for finance
    tranches_left: int = 0
    mu: float = 1.0  # the city's prior mean performance
    sd: float = 1.0  # and its sd
    halted_until: int = -1
    capex_total: float = 0.0
    arrangements: list[Any] = field(default_factory=list)  # [sim.instruments.base.Arrangement]
    measured_kpi: float = 1.0
    kpi_target: float = 0.0  # performance the contract pays in full for (0 = the claim)
    kpi_history: list[float] = field(default_factory=list)
    # (coverage, districts) -> coverage_by_district, kept until the units change
    _by_district: tuple[Any, Any] = field(default=(None, None), repr=False, compare=False)
    evidence_key: tuple = ()
    overrun: float = 1.0
    site_factor: float = 1.0  # realised / true performance at this project's site
    account: int = -1  # the project's own fund (revenue-bond projects), else -1
    proven: bool = False  # the city scaled this domain before: no pilot again
    replaces: int = -1  # the project whose equipment this one replaces at its end of life
    start_after: int = -1  # a replacement deploys from this month (the old one's end of life)
    successor: int = -1  # the replacement procured ahead of this project's end of life
    partners_lost: int = 0  # partners that left while others stayed on
    disrupted_until: int = -1  # until a lost partner's replacement is in place

    @property
    def coverage(self) -> float:
        """Share of the target units deployed."""
        return min(1.0, self.units / self.units_target) if self.units_target > 0 else 0.0

    @property
    def lead(self) -> VendorLike | None:
        """The lead vendor (first partner), if any."""
        return self.vendors[0] if self.vendors else None

    @property
    def deployed(self) -> bool:
        """Units are in the field (possibly halted)."""
        return self.units > 0 and self.state in DEPLOYED

    def live_vendors(self) -> list[VendorLike]:
        """Partners still in business."""
        return [v for v in self.vendors if v.solvent]

    def owned_by_city(self) -> bool:
        """Whether the city owns (and runs) the equipment."""
        return not self.arrangements or self.arrangements[0].owner == "city"

    def halted(self, month: int) -> bool:
        """Whether an incident halt is in force in ``month``."""
        return month < self.halted_until

    def true_performance(self, performance_factor: float, month: int = -1) -> float:
        """Realised performance: partners' mean true performance x site x system x stress.

        The mean is over the partners as contracted: a partner that left is replaced
        by one that does its part as well (losing a weak partner never improves the
        service), but until the replacement is in place (``disrupted_until``) only
        the live partners' parts are delivered.

        Args:
            performance_factor: The underperformance overlay's multiplier.
            month: The month (-1: ignore a disruption).

        Returns:
            Fraction of the catalogue's nominal benefit actually delivered.
        """
        live = self.live_vendors()
        if not live:
            return 0.0
        theta = sum(v.true_perf[self.domain] for v in self.vendors) / len(self.vendors)
        if month < self.disrupted_until:
            theta *= len(live) / len(self.vendors)
        return theta * self.site_factor * self.system_factor * performance_factor

    def performance(self, month: int, performance_factor: float) -> float:
        """Performance delivered this month: 0 when halted; degraded when orphaned.

        A city-owned system whose vendors are all gone keeps the domain's
        ``orphan_factor`` of what they delivered; a partner-owned one stops.

        Args:
            month: The month.
            performance_factor: The underperformance overlay's multiplier.

        Returns:
            Fraction of the nominal benefit delivered.
        """
        if self.halted(month):
            return 0.0
        if not self.live_vendors():
            if not self.owned_by_city():
                return 0.0
            theta = float(np.mean([v.true_perf[self.domain] for v in self.vendors]))
            return (
                theta
                * self.site_factor
                * self.system_factor
                * performance_factor
                * self.tech.orphan_factor
            )
        return self.true_performance(performance_factor, month)

    def coverage_by_district(self, n_districts: int) -> np.ndarray:
        """Coverage of each district: units fill districts one after another.

        Args:
            n_districts: Districts in the city.

        Returns:
            Array of coverage fractions (0-1), read-only.
        """
        key = (self.coverage, n_districts)
        if self._by_district[0] != key:  # asked several times a month; units seldom move
            by_district = np.clip(key[0] * n_districts - np.arange(n_districts), 0.0, 1.0)
            by_district.flags.writeable = False
            self._by_district = (key, by_district)
        return self._by_district[1]
