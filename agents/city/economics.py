"""A city's projections of what a unit of each technology earns: the basis of its decisions.

The city projects a unit's users (an expected uptake of the market potential),
its nominal monthly cash and public value at full performance, and the
performance at which scaling a project breaks even. Realised flows are booked
by :mod:`agents.city.operations`; these projections only drive choices
(financing feasibility, pilot evaluation, partners' offers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.instruments.base import pv_monthly
from sim.mechanisms.pilots import break_even_performance

if TYPE_CHECKING:
    from sim.config.schema import Technology, World
    from sim.mechanisms.lifecycle import Project

#: Expected share of the market potential that adopts, used in projections.
EXPECTED_UPTAKE = 0.3


@dataclass(frozen=True)
class ScalingTerms:
    """What scaling a unit costs the city under a deal, and what share of its cash it keeps."""

    cost_pv: float
    """PV per unit of the city's payments over the unit's life (capex with its financing,
    fees, O&M)."""
    cash_share: float = 1.0
    """The city's share of the unit's cash benefits while the deal runs."""
    share_months: int = 0
    """Months the share applies; the city keeps all of the cash after them."""


class Economics:
    """Per-unit projections for one city."""

    def __init__(self, population: int, world: World) -> None:
        """Project for a city of ``population`` people in ``world``.

        Args:
            population: The city's residents.
            world: The world block of the scenario.
        """
        self.population = population
        self.margin = world.vendors.margin
        self.discount_rate = world.macro.discount_rate_annual

    def units_for(self, tech: Technology) -> float:
        """Units that cover the city."""
        return tech.units_per_1000_residents * self.population / 1000

    def users_per_unit(self, tech: Technology) -> float:
        """Expected users a unit serves (projection)."""
        return tech.market_potential * EXPECTED_UPTAKE * self.population / self.units_for(tech)

    def cash_per_unit(self, tech: Technology) -> float:
        """Nominal monthly cash per unit at full performance (projection)."""
        if tech.benefit_type == "user_fees":
            return tech.fee_per_user_month_usd * self.users_per_unit(tech)
        if tech.benefit_type == "advertising":
            return tech.benefit_per_unit_month_usd
        if tech.benefit_type == "time_saved":
            return 0.0
        return tech.benefit_per_unit_month_usd

    def welfare_per_unit(self, tech: Technology) -> float:
        """Nominal monthly public (non-cash) value per unit (projection)."""
        value = tech.benefit_per_unit_month_usd if tech.benefit_type == "time_saved" else 0.0
        if tech.user_facing:
            value += tech.welfare_per_user_month_usd * self.users_per_unit(tech)
        return value

    def om_per_unit(self, tech: Technology) -> float:
        """What a partner charges to run a unit for a month (O&M plus margin)."""
        return tech.opex_per_unit_month_usd * (1 + self.margin)

    def expected_cash_month(self, pr: Project, units: float, theta: float) -> float:
        """Projected monthly net cash of ``units`` at performance ``theta`` (after O&M)."""
        return units * (self.cash_per_unit(pr.tech) * theta - self.om_per_unit(pr.tech))

    def break_even(self, pr: Project, terms: ScalingTerms | None = None) -> float:
        """Performance at which scaling pays, for the city, under the deal's terms.

        The city's NPV of a unit is linear in performance ``theta``: ``theta x (its
        share of the unit's cash + the public value) - what the unit costs it``, all
        over the equipment's life at the city's discount rate. Without terms the
        city buys the unit at its price, pays its O&M and keeps all its cash.

        Args:
            pr: The project.
            terms: What scaling costs the city and what share of the cash it keeps.

        Returns:
            The break-even theta (``inf`` when there is no benefit).
        """
        life = int(pr.tech.lifetime_years * 12)
        r = self.discount_rate
        om = pv_monthly(self.om_per_unit(pr.tech), r, life)
        if terms is None:
            nominal = self.cash_per_unit(pr.tech) + self.welfare_per_unit(pr.tech)
            return break_even_performance(pr.price_per_unit, om, pv_monthly(nominal, r, life))
        shared = min(terms.share_months, life)
        cash_factor = terms.cash_share * pv_monthly(1.0, r, shared) + (
            pv_monthly(1.0, r, life) - pv_monthly(1.0, r, shared)
        )
        benefit = self.cash_per_unit(pr.tech) * cash_factor + pv_monthly(
            self.welfare_per_unit(pr.tech), r, life
        )
        return break_even_performance(terms.cost_pv, 0.0, benefit)
