"""F2 revenue bond: repaid only from the project's own cash, never from the general fund.

Terms: ``policy.financing.revenue_bond``. The bond is sized at the tranche's
cost plus a debt-service reserve (``reserve_share`` of principal) kept in the
project's own fund; it is sold to a bond fund at the city's curve plus the
revenue-bond spread, less the share of the risk a city guarantee covers
(:mod:`sim.instruments.guarantees`). It is issued only when the project's
projected net cash, at the city's posterior mean performance, covers the
project's revenue-bond debt service by the coverage covenant (DSCR).

Recourse: ``project``. The project's cash benefits go to its fund, which pays
its O&M and, once a month, the debt service of all its revenue-bond tranches
by the waterfall of :func:`sim.core.finance.revenue_bond_month`: a shortfall
draws the reserve and then defaults (no recourse to the general fund), and
cash above the reserve is released to the general fund.
"""

from __future__ import annotations

from sim.core import finance
from sim.core.fields import CASH_BENEFITS, SAVINGS_BENEFITS, Strict, field
from sim.instruments import guarantees
from sim.instruments.applicability import REVENUE_BOND
from sim.instruments.base import Deal, Debt, Desk, Raised, level_payments, new_debt
from sim.instruments.guarantees import Guarantee

NAME = "revenue_bond"
RECOURSE = "project"


class RevenueBond(Strict):
    """F2 revenue bond."""

    term_years: int = field(15, "years", 1, 40, applies=REVENUE_BOND)
    dscr_covenant: float = field(1.25, "x", 1.0, 5.0, "coverage covenant", REVENUE_BOND)
    reserve_share: float = field(
        0.1, "fraction of principal", 0.0, 1.0, "debt service reserve", REVENUE_BOND
    )


def issue(
    desk: Desk,
    deal: Deal,
    amount: float,
    units: float,
    t: int,
    terms: RevenueBond,
    guarantee: Guarantee,
    *,
    cash_month: float,
    gross_per_unit: float,
    mu: float,
    sd: float,
) -> Raised | None:
    """Sell a revenue bond for a tranche, if the project's cash covers it.

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD to raise.
        units: Units in the tranche.
        t: Month.
        terms: Revenue-bond terms.
        guarantee: The city's guarantee terms (a floor lowers the yield).
        cash_month: Projected monthly net cash of the project after the tranche.
        gross_per_unit: Nominal monthly cash per unit at full performance.
        mu: The city's posterior mean performance.
        sd: Its posterior standard deviation.

    Returns:
        Where the proceeds sit (the project's fund), or None.
    """
    if deal.tech.benefit_type not in CASH_BENEFITS:
        return None
    floor_share = (
        guarantee.savings_floor_share
        if deal.tech.benefit_type in SAVINGS_BENEFITS
        else guarantee.revenue_floor_share
    )
    inv = desk.lender("bond_fund", amount)
    if inv is None:
        return None
    rate = inv.bond_yield(desk.rating, terms.term_years, revenue=True, covered_share=floor_share)
    principal = amount * (1 + terms.reserve_share)
    pay = level_payments(principal, rate, terms.term_years)
    existing = sum(
        d.due(t + 1) for d in desk.debts if d.project == deal.pid and d.instrument == NAME
    )
    if cash_month < terms.dscr_covenant * (existing + pay[0]):
        return None
    account = desk.project_account(deal)
    desk.ledger.transfer(t, inv.account, account, principal, "bond_proceeds", deal.pid)
    inv.invested += principal
    desk.add_debt(new_debt(deal, NAME, account, inv.account, t, pay, principal, rate, RECOURSE))
    arr = desk.arrangement(deal, NAME)
    arr.reserve_target += principal - amount
    if floor_share > 0:
        arr.guarantee_end = max(arr.guarantee_end, t + 1 + 12 * terms.term_years)
        guarantees.cover_bond(
            desk, arr, floor_share, units * gross_per_unit, mu, sd, terms.term_years
        )
    return Raised(account, amount)


def service(desk: Desk, deal: Deal, t: int, payee_of: dict[int, int]) -> list[tuple[Debt, float]]:
    """Pay the month's instalments of a project's revenue bonds from its fund; release the rest.

    Args:
        desk: The city's treasury.
        deal: A project with its own fund.
        t: Month.
        payee_of: Where a payee's payments go instead (an exited vendor's to the market).

    Returns:
        (tranche, shortfall) of every tranche that defaulted for the first time.
    """
    tranches = [d for d in desk.debts if d.project == deal.pid and d.instrument == NAME]
    due = [d.due(t) for d in tranches]
    month = finance.revenue_bond_month(
        desk.ledger.balance(deal.account), sum(due), deal.arrangements[0].reserve_target
    )
    left, defaults = month.paid, []
    for debt, owed in zip(tranches, due, strict=True):
        if owed <= 0:
            continue
        paid = owed if month.shortfall <= 0 else min(owed, left)
        left -= paid
        desk.ledger.transfer(
            t, deal.account, payee_of.get(debt.payee, debt.payee), paid, debt.kind, deal.pid
        )
        debt.paid += paid
        if owed - paid > 1e-6:
            debt.unpaid += owed - paid
            if not debt.defaulted:
                debt.defaulted = True
                defaults.append((debt, owed - paid))
    desk.ledger.transfer(t, deal.account, desk.general, month.released, "transfer", deal.pid)
    return defaults
