"""F7 tax-increment financing: a district's future property-tax increment repays a bond.

Terms: ``policy.financing.tif``. The first TIF tranche freezes the base
assessed value ``AV0`` of the city's first ``districts`` districts for
``term_years``. During the term the increment ``(AV(t) - AV0) x tax rate``
(:func:`sim.core.finance.tif_increment`) goes to the city's TIF fund instead of
the general fund; the fund pays the TIF bonds and releases what is beyond a
year of their debt service to the general fund. A TIF bond is sold only when
the increment projected at mid-term on the district's trend covers the TIF
debt service. Recourse: ``tif`` (the TIF fund only, never the general fund).
The *but-for* share reports how much of the increment would have come with
background growth alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.core import finance
from sim.core.fields import Strict, field
from sim.core.ledger import Ledger
from sim.instruments.applicability import USES_TIF
from sim.instruments.base import Deal, Debt, Desk, Raised, level_payments, new_debt

NAME = "tif"
RECOURSE = "tif"


class TIF(Strict):
    """F7 land-value capture / tax-increment financing."""

    districts: int = field(2, "districts", 1, 100, "districts in the TIF area", USES_TIF)
    term_years: int = field(20, "years", 1, 50, applies=USES_TIF)


@dataclass
class TIFDistrict:
    """A city's TIF area: frozen base values of its first districts and the term's end."""

    base: np.ndarray
    """Frozen assessed value AV0 of each district in the area."""
    until: int
    """First month after the term (the increment returns to the general fund)."""

    @property
    def size(self) -> int:
        """Number of districts in the area."""
        return self.base.size

    def capturing(self, t: int) -> bool:
        """Whether month ``t`` is inside the term."""
        return t < self.until


def freeze(av: np.ndarray, t: int, terms: TIF) -> TIFDistrict:
    """Freeze the base of the city's first ``terms.districts`` districts.

    Args:
        av: Current assessed values of the city's districts.
        t: Month.
        terms: TIF terms.

    Returns:
        The TIF area.
    """
    return TIFDistrict(base=av[: terms.districts].copy(), until=t + terms.term_years * 12)


def issue(
    desk: Desk,
    deal: Deal,
    amount: float,
    t: int,
    terms: TIF,
    area: TIFDistrict,
    av_trend: np.ndarray,
    tax_rate_annual: float,
    growth_annual: float,
) -> Raised | None:
    """Sell a TIF bond if the projected increment covers the TIF debt service.

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD to raise.
        t: Month.
        terms: TIF terms.
        area: The TIF area.
        av_trend: Trend assessed values of the city's districts.
        tax_rate_annual: Property tax rate.
        growth_annual: Trend growth of assessed values.

    Returns:
        Where the proceeds sit (the TIF fund), or None.
    """
    inv = desk.lender("bond_fund", amount)
    if inv is None:
        return None
    rate = inv.bond_yield(desk.rating, terms.term_years, revenue=True)
    pay = level_payments(amount, rate, terms.term_years)
    growth = (1 + growth_annual) ** (terms.term_years / 2)
    projected = float(
        np.sum(
            finance.tif_increment(av_trend[: area.size] * growth, area.base, tax_rate_annual / 12)
        )
    )
    existing = sum(d.due(t + 1) for d in desk.debts if d.instrument == NAME)
    if projected < existing + pay[0]:
        return None
    desk.ledger.transfer(t, inv.account, desk.tif, amount, "bond_proceeds", deal.pid)
    inv.invested += amount
    desk.add_debt(new_debt(deal, NAME, desk.tif, inv.account, t, pay, amount, rate, RECOURSE))
    return Raised(desk.tif, amount)


def increment(area: TIFDistrict, av: np.ndarray, tax_rate_month: float) -> np.ndarray:
    """This month's tax increment of each district in the area.

    Args:
        area: The TIF area.
        av: Current assessed values of the city's districts.
        tax_rate_month: Monthly property tax rate.

    Returns:
        Increment per district (USD).
    """
    return finance.tif_increment(av[: area.size], area.base, tax_rate_month)


def release_surplus(ledger: Ledger, fund: int, general: int, debts: list[Debt], t: int) -> None:
    """Release the TIF fund's cash beyond a year of TIF debt service to the general fund.

    Args:
        ledger: The ledger.
        fund: The TIF fund.
        general: The general fund.
        debts: The city's debts.
        t: Month.
    """
    keep = sum(d.annual_service(t + 1) for d in debts if d.instrument == NAME)
    surplus = ledger.balance(fund) - keep
    if surplus > 0:
        ledger.transfer(t, fund, general, surplus, "transfer")


def but_for(areas: list[tuple[TIFDistrict, np.ndarray, np.ndarray]]) -> float:
    """Share of the areas' value increment that background growth alone would have brought.

    Args:
        areas: (area, assessed values, trend values) of each city with a TIF area.

    Returns:
        :func:`sim.core.finance.but_for_share` of the areas' total values: ``(sum trend -
        sum AV0) / (sum AV - sum AV0)`` clipped to [0, 1]; 0 with no increment.
    """
    if not areas:
        return 0.0
    with_services = sum(float(np.sum(av[: area.size])) for area, av, _ in areas)
    trend_only = sum(float(np.sum(trend[: area.size])) for area, _, trend in areas)
    base = sum(float(np.sum(area.base)) for area, _, _ in areas)
    return float(finance.but_for_share(with_services, trend_only, base))
