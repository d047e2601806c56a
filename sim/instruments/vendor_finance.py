"""F3 vendor financing: a vendor loan, equipment as a service, or a revenue share.

Terms: ``policy.financing.vendor`` (Cisco's $1B programme: loans and leases,
as-a-service, revenue share).

- ``vendor_loan``: the partner lends the tranche at its cost of capital plus
  ``loan_margin``, repaid in level monthly instalments over ``term_years``;
  general recourse, counted against the city's debt-service cap.
- ``as_a_service``: the partner funds, owns and runs the equipment for
  ``term_years`` and charges a fee per unit per month that amortises its price
  at its cost of capital, covers O&M and adds ``service_margin``
  (:func:`sim.core.finance.as_a_service_fee`); the fee is scaled by the
  contract's payment factor. Advertising and fee revenue of a vendor-run
  service is shared (``policy.contracts.gain_share_city``). At the end of the
  term the city returns the equipment, upgrades (a new term) or buys it at its
  depreciated price (``end_of_term``).
- ``revenue_share``: the partner funds and owns the equipment and takes
  ``revenue_share`` of its cash benefits for ``revenue_share_years``, with no
  fixed payment; it signs only if that share of what it knows it delivers pays
  back the equipment at its cost of capital. The city keeps running its
  service and pays the O&M.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from sim.core import finance
from sim.core.fields import CASH_BENEFITS, Strict, field
from sim.core.parties import VendorLike
from sim.instruments.applicability import (
    AS_A_SERVICE,
    REVENUE_SHARE,
    VENDOR_LOAN,
    VENDOR_LOAN_OR_SERVICE,
)
from sim.instruments.base import (
    GENERAL,
    Arrangement,
    Cash,
    Deal,
    Desk,
    Raised,
    new_debt,
    pv_monthly,
)

LOAN, SERVICE, SHARE = "vendor_loan", "as_a_service", "revenue_share"
#: Benefits of a vendor-run service whose revenue the partners share (gain sharing).
SHARED_REVENUE = frozenset({"advertising", "user_fees"})


class VendorFinance(Strict):
    """F3 vendor financing: loan, as-a-service, revenue share."""

    loan_margin: float = field(
        0.02, "fraction/yr", 0.0, 0.3, "over vendor cost of capital", VENDOR_LOAN
    )
    term_years: int = field(
        10, "years", 1, 30, "vendor loan and as-a-service term", VENDOR_LOAN_OR_SERVICE
    )
    service_margin: float = field(0.12, "fraction", 0.0, 2.0, "as-a-service margin", AS_A_SERVICE)
    end_of_term: Literal["return", "purchase", "upgrade"] = field(
        "purchase", doc="at the end of an as-a-service term", applies=AS_A_SERVICE
    )
    revenue_share: float = field(
        0.4, "fraction", 0.0, 1.0, "vendor's share of revenues", REVENUE_SHARE
    )
    revenue_share_years: int = field(10, "years", 1, 40, applies=REVENUE_SHARE)


def issue_loan(
    desk: Desk, deal: Deal, amount: float, t: int, terms: VendorFinance, cost_of_capital: float
) -> Raised | None:
    """Borrow ``amount`` from the project's partner (general recourse).

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD to borrow.
        t: Month.
        terms: Vendor-finance terms.
        cost_of_capital: The vendors' annual cost of capital.

    Returns:
        Where the loan sits (the general fund), or None when the partner cannot
        fund it or its service would break the cap.
    """
    vendor = desk.vendor_for(deal)
    if vendor is None or not vendor.can_fund(amount):
        return None
    rate = cost_of_capital + terms.loan_margin
    pay = finance.vendor_loan_schedule(
        amount, cost_of_capital, terms.loan_margin, terms.term_years
    ).payment
    if not desk.under_cap(pay[:12].sum(), t):
        return None
    desk.ledger.transfer(t, vendor.account, desk.general, amount, "loan", deal.pid)
    desk.add_debt(
        new_debt(
            deal,
            LOAN,
            desk.general,
            vendor.account,
            t,
            pay,
            amount,
            rate,
            GENERAL,
            "loan_repayment",
        )
    )
    return Raised(desk.general, amount)


def share_pays(
    vendor: VendorLike,
    deal: Deal,
    share: float,
    months: int,
    cash_per_unit: float,
    cost_of_capital: float,
    runs_equipment: bool,
) -> bool:
    """Whether a share of a unit's cash pays back the vendor's cost at its cost of capital.

    The vendor values the deal on what it knows it will deliver (its true
    performance, not its claim); running the equipment (shared savings) adds
    the O&M to what must be paid back.

    Args:
        vendor: The partner.
        deal: The project.
        share: The vendor's share of cash benefits.
        months: Months the share is paid (the term, at most the equipment's life).
        cash_per_unit: Nominal monthly cash per unit at full performance.
        cost_of_capital: The vendor's annual cost of capital.
        runs_equipment: The vendor also pays the O&M.

    Returns:
        True when the PV of the share covers the unit cost (and the O&M).
    """
    gain = pv_monthly(
        share * cash_per_unit * vendor.true_perf[deal.domain], cost_of_capital, months
    )
    running = pv_monthly(deal.tech.opex_per_unit_month_usd, cost_of_capital, months)
    return gain >= vendor.unit_cost(deal.domain) + (running if runs_equipment else 0)


def open_service(
    desk: Desk, deal: Deal, t: int, terms: VendorFinance, cost_of_capital: float
) -> Arrangement:
    """Sign an as-a-service contract: the vendor owns the equipment for the term.

    Args:
        desk: The city's treasury.
        deal: The project (no arrangement yet).
        t: Month.
        terms: Vendor-finance terms.
        cost_of_capital: The vendor's annual cost of capital.

    Returns:
        The arrangement, with its fee per unit per month.
    """
    term = terms.term_years * 12
    arr = desk.arrangement(deal, SERVICE, "vendor", t + term)
    arr.fee_per_unit_month = finance.as_a_service_fee(
        deal.price_per_unit,
        deal.tech.opex_per_unit_month_usd,
        term,
        cost_of_capital,
        terms.service_margin,
    )
    return arr


def open_share(
    desk: Desk,
    deal: Deal,
    vendor: VendorLike,
    t: int,
    terms: VendorFinance,
    cost_of_capital: float,
    cash_per_unit: float,
) -> Arrangement | None:
    """Sign a revenue share if the vendor finds it pays; None otherwise.

    Args:
        desk: The city's treasury.
        deal: The project (no arrangement yet).
        vendor: The partner.
        t: Month.
        terms: Vendor-finance terms.
        cost_of_capital: The vendor's annual cost of capital.
        cash_per_unit: Nominal monthly cash per unit.

    Returns:
        The arrangement, or None when the project has no cash or the share does not pay.
    """
    if deal.tech.benefit_type not in CASH_BENEFITS:
        return None
    share, years = terms.revenue_share, terms.revenue_share_years
    months = min(years * 12, int(deal.tech.lifetime_years * 12))
    if not share_pays(vendor, deal, share, months, cash_per_unit, cost_of_capital, False):
        return None
    arr = desk.arrangement(deal, SHARE, "vendor", t + years * 12)
    arr.vendor_share = share
    return arr


def partner_take(
    arr: Arrangement, deal: Deal, gain_share_city: float
) -> Callable[[Cash], Cash] | None:
    """The vendor's take of a vendor-financed project's cash benefits, or None.

    Under a revenue share the vendor takes ``revenue_share`` of the cash; under
    as-a-service it shares the revenue of the service it runs (gain sharing:
    the city keeps ``gain_share_city``). Both are
    :func:`sim.core.finance.revenue_share_payment`.

    Args:
        arr: The arrangement.
        deal: The project.
        gain_share_city: The city's share of a vendor-run service's revenue.

    Returns:
        ``cash -> the vendor's part``, or None when the vendor takes nothing.
    """
    if arr.instrument == SHARE and arr.vendor_share > 0:
        share = arr.vendor_share
    elif arr.instrument == SERVICE and deal.tech.benefit_type in SHARED_REVENUE:
        share = 1 - gain_share_city
    else:
        return None
    return lambda cash: finance.revenue_share_payment(cash, share)


def pay_month(
    desk: Desk,
    deal: Deal,
    arr: Arrangement,
    vendor: VendorLike,
    opex: float,
    margin: float,
    factor: float,
    t: int,
) -> None:
    """A vendor-owned project's month: O&M, and the city's fee under as-a-service.

    Args:
        desk: The city's treasury.
        deal: The project.
        arr: Its arrangement (owner ``vendor``).
        vendor: The paid partner.
        opex: This month's running cost of the units.
        margin: The vendors' margin on O&M.
        factor: The contract's payment factor (pay for performance, value-based billing).
        t: Month.
    """
    led = desk.ledger
    if arr.instrument == SHARE:  # the city runs its service and pays the O&M
        led.transfer(
            t, desk.general, vendor.account, opex * (1 + margin) * factor, "opex", deal.pid
        )
    led.transfer(t, vendor.account, desk.market, opex, "opex", deal.pid)
    if arr.instrument == SERVICE:
        led.transfer(
            t,
            desk.general,
            vendor.account,
            arr.fee_per_unit_month * deal.units * factor,
            "service_fee",
            deal.pid,
        )


def end_of_term(
    desk: Desk,
    deal: Deal,
    arr: Arrangement,
    t: int,
    terms: VendorFinance,
    lead: VendorLike | None,
    deployed_at: int,
) -> str:
    """The end of an as-a-service term: ``return``, ``upgrade`` or ``purchase``.

    On purchase the city pays the lead partner the equipment's depreciated price
    (straight line over its life) if a partner is still in business; on
    upgrade the term starts again.

    Args:
        desk: The city's treasury.
        deal: The project.
        arr: Its arrangement.
        t: Month.
        terms: Vendor-finance terms.
        lead: The lead partner when any partner is still in business, else None.
        deployed_at: Month the equipment's life began.

    Returns:
        The choice made.
    """
    choice = terms.end_of_term
    if choice == "upgrade":
        arr.term_end = t + terms.term_years * 12
    elif choice == "purchase" and lead is not None:
        price = purchase_price(deal, t, deployed_at)
        desk.ledger.transfer(t, desk.general, lead.account, price, "capex", deal.pid)
    return choice


def purchase_price(deal: Deal, t: int, deployed_at: int) -> float:
    """The equipment's depreciated price at month ``t`` (straight line over its life).

    Args:
        deal: The project.
        t: Month of the purchase.
        deployed_at: Month the equipment's life began.

    Returns:
        price x units x max(0, 1 - age / lifetime).
    """
    age = (t - deployed_at) / (deal.tech.lifetime_years * 12)
    return deal.price_per_unit * deal.units * max(0.0, 1 - age)
