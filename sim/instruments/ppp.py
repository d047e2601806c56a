"""F6 public-private partnership (DBFOM): a project vehicle finances, builds and runs.

Terms: ``policy.financing.ppp``. For each tranche the vehicle raises senior
debt from a bank and equity from an infrastructure investor
(:func:`sim.core.finance.ppp_structure`: debt sized on CFADS / DSCR, capped by
gearing) and pays the partner for the equipment; the senior debt is repaid
only from the vehicle's cash (recourse ``vehicle``). The vehicle earns either

- availability payments from the city: a fee per unit per month that
  recovers capex at the vehicle's weighted cost of capital plus O&M, less a
  deduction of ``kpi_deduction_rate`` per unit of measured KPI shortfall; or
- user fees (demand risk: equity asks ``world.investors.risk_premium_demand``
  more), with an optional minimum revenue guarantee
  (:mod:`sim.instruments.guarantees`). Equity invests only if its flows are
  worth their cost at its required return; when two or more equity investors
  can bid, competition gives the city a concession share of the fees
  (:func:`concession_share`) that leaves the winner exactly its required
  return on the base case, so the required return and the demand premium
  decide what the city gets.

Each month the vehicle pays O&M, then its senior debt service (the sculpted
annual service of the structure in twelve monthly parts, by recourse, with the
city's other debts), and its cash above next month's debt service goes to the
equity as dividends; its lowest DSCR over any twelve months is reported.
Value for money is the public sector comparator less the PV of payments to
the partner and the contract-management cost. At the end of the term the
vehicle's remaining cash goes to equity and the city takes the equipment over.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sim.core import finance
from sim.core.fields import Strict, field
from sim.core.parties import LenderLike, VendorLike
from sim.instruments import guarantees
from sim.instruments.applicability import AVAILABILITY_PPP, DEMAND_PPP, USES_PPP
from sim.instruments.base import (
    Arrangement,
    Deal,
    Desk,
    new_debt,
    pv_monthly,
)

NAME = "ppp"
RECOURSE = "vehicle"
#: Bisection steps for the concession share (resolution 2^-40 of the range).
CONCESSION_BISECTIONS = 40


class PPP(Strict):
    """F6 public-private partnership (DBFOM)."""

    payment: Literal["availability", "user_fees"] = field(
        "availability", doc="who pays the vehicle: the city or its users", applies=USES_PPP
    )
    term_years: int = field(20, "years", 3, 50, applies=USES_PPP)
    dscr_target: float = field(
        1.2, "x", 1.0, 5.0, "1.15-1.2 availability; 1.5-2.0 demand", USES_PPP
    )
    gearing_max: float = field(0.85, "fraction", 0.0, 0.99, applies=USES_PPP)
    kpi_deduction_rate: float = field(
        1.0, "x", 0.0, 10.0, "availability deduction per unit of KPI shortfall", AVAILABILITY_PPP
    )
    min_revenue_guarantee_share: float = field(
        0.0,
        "fraction",
        0.0,
        1.0,
        "city tops user fees up to this share of the base case",
        DEMAND_PPP,
    )
    contract_management_share: float = field(0.02, "fraction", 0.0, 0.5, "of capex, PV", USES_PPP)


def availability_payment(
    price_per_unit: float,
    opex_per_unit_month: float,
    term_years: int,
    debt_rate: float,
    equity_rate: float,
    gearing: float,
) -> float:
    """Availability payment per unit per month that remunerates PPP capital.

    Capex is recovered as an annuity at the vehicle's weighted cost of capital
    (gearing x debt rate + (1 - gearing) x equity target), plus operating cost.

    Args:
        price_per_unit: Capex per unit.
        opex_per_unit_month: Running cost per unit.
        term_years: Concession term.
        debt_rate: Senior debt rate.
        equity_rate: Required equity IRR.
        gearing: Debt share of capex.

    Returns:
        Monthly availability payment per unit.
    """
    wacc = gearing * debt_rate + (1 - gearing) * equity_rate
    return float(
        finance.annuity_payment(price_per_unit, finance.annual_to_monthly(wacc), term_years * 12)
        + opex_per_unit_month
    )


def open_vehicle(desk: Desk, deal: Deal, t: int, terms: PPP) -> Arrangement | None:
    """Set up the project's vehicle (reusing its account after an earlier attempt).

    Args:
        desk: The city's treasury.
        deal: The project (no arrangement yet).
        t: Month.
        terms: PPP terms.

    Returns:
        The arrangement (not yet attached to the project), or None when a demand-risk
        PPP is asked of a domain without users.
    """
    if terms.payment == "user_fees" and not deal.tech.user_facing:
        return None
    arr = Arrangement(NAME, owner="vehicle", term_end=t + terms.term_years * 12)
    name = f"{desk.name}:vehicle{deal.pid}"
    try:
        arr.vehicle = desk.ledger.account(name)
    except KeyError:
        arr.vehicle = desk.ledger.open_account(name, "vehicle", owner=desk.name)
    return arr


def raise_tranche(
    desk: Desk,
    deal: Deal,
    arr: Arrangement,
    units: float,
    t: int,
    terms: PPP,
    *,
    revenue_floor_share: float,
    base_cash_per_unit: float,
    om_per_unit: float,
    discount_rate: float,
) -> float | None:
    """Finance and build a tranche through the vehicle.

    Args:
        desk: The city's treasury.
        deal: The project.
        arr: Its PPP arrangement.
        units: Units in the tranche.
        t: Month.
        terms: PPP terms.
        revenue_floor_share: The city's general revenue floor (``guarantee.revenue_floor_share``).
        base_cash_per_unit: Base-case monthly user-fee cash per unit (at the city's prior
            mean performance).
        om_per_unit: O&M per unit per month charged by the partner.
        discount_rate: The city's discount rate (value for money).

    Returns:
        The tranche's value for money, or None when it could not be financed.
    """
    capex = units * deal.price_per_unit
    bank = desk.lender("bank", capex)
    eq = desk.lender("equity", capex)
    vendor = desk.vendor_for(deal)
    if bank is None or eq is None or vendor is None:
        return None
    demand = terms.payment == "user_fees"
    covered = max(terms.min_revenue_guarantee_share, revenue_floor_share)
    debt_rate = bank.project_debt_rate()
    eq_rate = eq.equity_return(demand_risk=demand, covered_share=covered if demand else 0.0)
    years = max(1, (arr.term_end - t) // 12)
    if demand:
        cash = base_cash_per_unit
    else:
        cash = availability_payment(
            deal.price_per_unit,
            om_per_unit,
            terms.term_years,
            debt_rate,
            eq_rate,
            terms.gearing_max,
        )
    cfads = np.full(years, 12 * units * (cash - om_per_unit))
    if np.any(cfads <= 0):
        return None
    s = finance.ppp_structure(
        capex, cfads, debt_rate, terms.dscr_target, eq_rate, gearing_max=terms.gearing_max
    )
    # equity invests when its flows are worth their cost at its required return (an NPV
    # test: the IRR is undefined when the equity is tiny against the cash flows)
    if demand and finance.npv(eq_rate, s.equity_flows) < 0:
        desk.note(deal, "ppp_not_bankable", equity_irr=s.equity_irr, required=eq_rate)
        return None
    share = 0.0
    if demand and len(desk.willing_lenders("equity", capex)) >= 2:
        # competing bidders offer the city a share of the fees until equity just earns
        # its required return: the rent above it goes to the city, not to the winner
        share = concession_share(
            capex, units * cash, units * om_per_unit, years, debt_rate, eq_rate, terms
        )
        s = finance.ppp_structure(
            capex,
            np.full(years, 12 * units * (cash * (1 - share) - om_per_unit)),
            debt_rate,
            terms.dscr_target,
            eq_rate,
            gearing_max=terms.gearing_max,
        )
    # financial close: only now do the tranche's terms join the arrangement
    if demand:
        base_case = arr.base_case_cash_month + units * cash
        weight = units * cash / base_case
        arr.concession_share += weight * (share - arr.concession_share)
        guarantees.cover_ppp(desk, arr, covered * base_case, base_case, years)
        arr.guarantee_end = arr.term_end
    else:
        arr.fee_per_unit_month = cash
    _close(desk, deal, arr, bank, eq, vendor, s, capex, debt_rate, years, t)
    vendor.build(deal.domain, units, deal.pid, t, deal.overrun)
    deal.capex_total += capex
    psc = capex + pv_monthly(units * om_per_unit, discount_rate, years * 12)
    paid = np.full(years * 12, units * (arr.fee_per_unit_month if not demand else 0.0))
    return finance.value_for_money(
        psc,
        paid,
        finance.annual_to_monthly(discount_rate),
        0.0,
        terms.contract_management_share * capex,
    )


def concession_share(
    capex: float,
    fees_month: float,
    om_month: float,
    years: int,
    debt_rate: float,
    equity_rate: float,
    terms: PPP,
) -> float:
    """The share of user fees competing bidders offer the city (demand-risk PPP).

    Bidders compete the base case's rent away: the winner offers the largest
    share ``s`` of the fees for which its equity, with debt sized on the
    remaining CFADS (:func:`sim.core.finance.ppp_structure`), still earns its
    required return (NPV at ``equity_rate`` = 0; bisection, as equity's NPV
    falls with ``s``).

    Args:
        capex: The tranche's capex.
        fees_month: Base-case user fees a month.
        om_month: O&M a month.
        years: Years of operation in the term.
        debt_rate: Senior debt rate.
        equity_rate: Equity's required return.
        terms: PPP terms.

    Returns:
        The share, in [0, 1 - O&M / fees); 0 when the base case earns no rent.
    """

    def equity_npv(share: float) -> float:
        cfads = np.full(years, 12 * (fees_month * (1 - share) - om_month))
        s = finance.ppp_structure(
            capex, cfads, debt_rate, terms.dscr_target, equity_rate, gearing_max=terms.gearing_max
        )
        return finance.npv(equity_rate, s.equity_flows)

    low, high = 0.0, 1.0 - om_month / fees_month
    if high <= 0 or equity_npv(low) <= 0:
        return 0.0
    for _ in range(CONCESSION_BISECTIONS):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if equity_npv(mid) > 0 else (low, mid)
    return low


def _close(
    desk: Desk,
    deal: Deal,
    arr: Arrangement,
    bank: LenderLike,
    eq: LenderLike,
    vendor: VendorLike,
    s: finance.PPPStructure,
    capex: float,
    debt_rate: float,
    years: int,
    t: int,
) -> None:
    """Financial close: debt and equity in, the partner paid, the senior debt on the book."""
    led = desk.ledger
    led.transfer(t, bank.account, arr.vehicle, s.debt, "loan", deal.pid)
    led.transfer(t, eq.account, arr.vehicle, s.equity, "equity", deal.pid)
    led.transfer(t, arr.vehicle, vendor.account, capex, "capex", deal.pid)
    bank.invested += s.debt
    eq.invested += s.equity
    arr.equity += s.equity
    arr.equity_investor = eq.account
    if s.debt > 0:  # the sculpted annual service, paid in twelve monthly parts
        pay = np.repeat(s.debt_service / 12, 12)
        desk.add_debt(
            new_debt(deal, NAME, arr.vehicle, bank.account, t, pay, s.debt, debt_rate, RECOURSE)
        )


def receiver(arr: Arrangement, terms: PPP) -> int | None:
    """A demand-risk vehicle receives the users' fees; otherwise not decided here.

    Args:
        arr: The arrangement.
        terms: PPP terms.

    Returns:
        The vehicle's account, or None.
    """
    if arr.owner == "vehicle" and terms.payment == "user_fees":
        return arr.vehicle
    return None


def operate_month(
    desk: Desk,
    deal: Deal,
    arr: Arrangement,
    vendor: VendorLike | None,
    cash: float,
    opex: float,
    margin: float,
    measured_kpi: float,
    t: int,
    terms: PPP,
) -> float:
    """The vehicle's month: availability payment or guarantee call, O&M, DSCR tracking.

    Args:
        desk: The city's treasury.
        deal: The project.
        arr: Its PPP arrangement.
        vendor: The O&M partner (None when gone: the market runs it).
        cash: This month's user fees (demand risk).
        opex: This month's running cost.
        margin: The partner's margin on O&M.
        measured_kpi: Measured performance over target.
        t: Month.
        terms: PPP terms.

    Returns:
        The guarantee call the city paid this month.
    """
    led = desk.ledger
    om = opex * (1 + margin)
    inflow = cash if terms.payment == "user_fees" else 0.0
    call = 0.0
    if terms.payment == "availability":
        deduction = terms.kpi_deduction_rate * max(0.0, 1 - measured_kpi)
        inflow = arr.fee_per_unit_month * deal.units * max(0.0, 1 - deduction)
        led.transfer(t, desk.general, arr.vehicle, inflow, "availability_payment", deal.pid)
    else:
        call = guarantees.call(desk, arr, cash, arr.vehicle, t, deal.pid)
        inflow += call
        if arr.concession_share > 0 and cash > 0:
            fee = arr.concession_share * cash
            led.transfer(t, arr.vehicle, desk.general, fee, "concession_fee", deal.pid)
            inflow -= fee
    led.transfer(
        t, arr.vehicle, vendor.account if vendor is not None else desk.market, om, "opex", deal.pid
    )
    if vendor is not None:
        led.transfer(t, vendor.account, desk.market, opex, "opex", deal.pid)
    arr.cfads.append(inflow - om)
    arr.debt_service.append(sum(d.due(t) for d in desk.debts if d.payer == arr.vehicle))
    return call


def min_dscr(arr: Arrangement) -> float:
    """Lowest DSCR of the vehicle over any 12 consecutive months of operation.

    Args:
        arr: A PPP arrangement.

    Returns:
        min over windows of CFADS / debt service (:func:`sim.core.finance.dscr_series`);
        ``inf`` when no window had debt service.
    """
    n = len(arr.cfads)
    if n < 12:
        return np.inf
    cfads = [sum(arr.cfads[i - 11 : i + 1]) for i in range(11, n)]
    service = [sum(arr.debt_service[i - 11 : i + 1]) for i in range(11, n)]
    return float(np.min(finance.dscr_series(cfads, service)))


def pay_dividends(desk: Desk, deal: Deal, arr: Arrangement, t: int, keep_next: bool = True) -> None:
    """The vehicle's cash above next month's debt service (all of it at the end) to equity.

    Args:
        desk: The city's treasury.
        deal: The project.
        arr: Its PPP arrangement.
        t: Month.
        keep_next: Keep next month's debt service (False at hand-back).
    """
    keep = sum(d.due(t + 1) for d in desk.debts if d.payer == arr.vehicle) if keep_next else 0.0
    surplus = desk.ledger.balance(arr.vehicle) - keep
    if surplus > 0:
        desk.ledger.transfer(t, arr.vehicle, arr.equity_investor, surplus, "dividend", deal.pid)
