"""F8 energy-performance contracts: guaranteed savings and shared savings.

Terms: ``policy.contracts`` (``energy_contract``, ``vendor_savings_share``,
``savings_term_years``), for projects whose cash is verified savings (energy,
water leakage).

- Guaranteed savings (``energy_contract = "guaranteed_savings"``) on a
  city-financed project: the vendor guarantees ``guaranteed_share`` of the
  savings it claims for ``guarantee_years`` from deployment and pays any
  shortfall each month (:func:`sim.core.finance.guaranteed_savings`); it prices
  the guarantee on its bid from what it knows of its own performance
  (:func:`sim.mechanisms.contracts.risk_premium`), or declines to bid.
- Shared savings (instrument ``shared_savings``): an ESCO funds, owns and runs
  the equipment and takes ``vendor_savings_share`` of the verified savings for
  ``savings_term_years``; it signs only if that share of its own claim pays back
  the equipment and the O&M at its cost of capital.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.core import finance
from sim.core.fields import SAVINGS_BENEFITS
from sim.core.parties import VendorLike
from sim.instruments.base import Arrangement, Cash, Deal, Desk
from sim.instruments.vendor_finance import share_pays

NAME = "shared_savings"
GUARANTEED = "guaranteed_savings"


def guarantees_savings(energy_contract: str, benefit_type: str) -> bool:
    """Whether a city-financed project runs under a guaranteed-savings contract.

    Args:
        energy_contract: ``policy.contracts.energy_contract``.
        benefit_type: The domain's benefit type.

    Returns:
        True for a guaranteed-savings contract on a savings domain.
    """
    return energy_contract == GUARANTEED and benefit_type in SAVINGS_BENEFITS


def shortfall_penalty(
    desk: Desk,
    deal: Deal,
    vendor: VendorLike,
    verified: float,
    nominal_per_unit: float,
    t: int,
    share: float,
) -> None:
    """The vendor pays the month's shortfall below the guaranteed savings.

    Args:
        desk: The city's treasury.
        deal: The project.
        vendor: The guarantor.
        verified: This month's verified savings.
        nominal_per_unit: Nominal monthly savings per unit.
        t: Month.
        share: Share of the claimed savings guaranteed.
    """
    guaranteed = deal.units * nominal_per_unit * deal.claim * share
    _, penalty = finance.guaranteed_savings(verified, guaranteed)
    desk.ledger.transfer(t, vendor.account, desk.general, penalty, "penalty", deal.pid)


def partner_take(arr: Arrangement) -> Callable[[Cash], Cash] | None:
    """The ESCO's take of a shared-savings project's verified savings, or None.

    Args:
        arr: The arrangement.

    Returns:
        ``savings -> the ESCO's part`` (:func:`sim.core.finance.shared_savings`).
    """
    if arr.instrument != NAME or arr.vendor_share <= 0:
        return None
    return lambda cash: finance.shared_savings(cash, arr.vendor_share)[1]


def open_shared(
    desk: Desk,
    deal: Deal,
    vendor: VendorLike,
    t: int,
    share: float,
    years: int,
    cost_of_capital: float,
    cash_per_unit: float,
) -> Arrangement | None:
    """Sign a shared-savings contract if the ESCO finds it pays; None otherwise.

    Args:
        desk: The city's treasury.
        deal: The project (no arrangement yet).
        vendor: The ESCO.
        t: Month.
        share: The ESCO's share of verified savings.
        years: The contract's term.
        cost_of_capital: The ESCO's annual cost of capital.
        cash_per_unit: Nominal monthly savings per unit.

    Returns:
        The arrangement, or None.
    """
    if deal.tech.benefit_type not in SAVINGS_BENEFITS:
        return None
    months = min(years * 12, int(deal.tech.lifetime_years * 12))
    if not share_pays(vendor, deal, share, months, cash_per_unit, cost_of_capital, True):
        return None
    arr = desk.arrangement(deal, NAME, "vendor", t + years * 12)
    arr.vendor_share = share
    return arr
