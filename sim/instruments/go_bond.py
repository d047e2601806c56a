"""F1 general-obligation bond: the city borrows on its full faith and credit.

Terms: ``policy.financing.go_bond``. Schedule: level monthly debt service
``P = D r / (1 - (1 + r)^-n)`` at the nominal monthly rate (or serial: level
principal plus interest). Recourse: the general fund. The yield is the bond
fund's price for the city's rating and the term (the municipal curve plus the
investor's premium); the first year's debt service must fit under the city's
debt-service cap.
"""

from __future__ import annotations

from sim.core.fields import Strict, field
from sim.instruments.applicability import GO_BOND
from sim.instruments.base import GENERAL, Deal, Desk, Raised, level_payments, new_debt

NAME = "go_bond"


class GOBond(Strict):
    """F1 general-obligation bond."""

    term_years: int = field(20, "years", 1, 40, applies=GO_BOND)
    serial: bool = field(False, doc="level principal instead of level payment", applies=GO_BOND)


def issue(desk: Desk, deal: Deal, amount: float, t: int, terms: GOBond) -> Raised | None:
    """Sell GO bonds for ``amount`` to a bond fund.

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD to raise.
        t: Month.
        terms: The GO-bond terms.

    Returns:
        Where the proceeds sit (the general fund), or None when no bond fund has
        the capital or the debt service would break the cap.
    """
    inv = desk.lender("bond_fund", amount)
    if inv is None:
        return None
    rate = inv.bond_yield(desk.rating, terms.term_years)
    pay = level_payments(amount, rate, terms.term_years, terms.serial)
    if not desk.under_cap(pay[:12].sum(), t):
        return None
    desk.ledger.transfer(t, inv.account, desk.general, amount, "bond_proceeds", deal.pid)
    inv.invested += amount
    desk.add_debt(new_debt(deal, NAME, desk.general, inv.account, t, pay, amount, rate, GENERAL))
    return Raised(desk.general, amount)
