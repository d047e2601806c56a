"""F5 citizen mini-bonds (Denver 2014): zero-coupon bonds sold to the city's residents.

Terms: ``policy.financing.mini_bonds``. One offering per city: up to
``issue_size_usd`` of bonds at ``price_usd`` redeemed at ``maturity_value_usd``
after ``term_years`` (yield ``(M / P)^(1/n) - 1``,
:func:`sim.core.finance.zero_coupon_yield`), at most ``max_per_person`` each,
open for ``offering_days``. Residents buy first come first served by income,
savings and trust (``agents.population.Population.subscribe_minibonds``); the
sell-out time is an output. What sold is a general-recourse debt redeemed at
maturity to the buyers' (district, income quintile) groups; against the cap it
counts as the level annual service of its principal at its yield until it is
redeemed, the same measure the offering's cap test uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sim.core import finance
from sim.core.fields import Strict
from sim.core.fields import field as schema_field
from sim.core.ledger import Ledger
from sim.instruments.applicability import MINI_BONDS
from sim.instruments.base import GENERAL, Deal, Debt, Desk, Raised, new_debt

NAME = "mini_bonds"


class MiniBonds(Strict):
    """F5 citizen mini-bonds (Denver 2014)."""

    issue_size_usd: float = schema_field(12e6, "USD", 0.0, 1e10, applies=MINI_BONDS)
    price_usd: float = schema_field(500.0, "USD", 1.0, 1e6, applies=MINI_BONDS)
    maturity_value_usd: float = schema_field(750.0, "USD", 1.0, 1e7, applies=MINI_BONDS)
    term_years: int = schema_field(9, "years", 1, 40, applies=MINI_BONDS)
    max_per_person: int = schema_field(40, "bonds", 1, 10_000, applies=MINI_BONDS)
    offering_days: int = schema_field(
        30, "days", 1, 365, "how long the offering stays open", MINI_BONDS
    )


@dataclass(frozen=True)
class MiniBondSale:
    """Outcome of one mini-bond offering to one city's residents."""

    bonds_sold: float
    """Real bonds sold (simulated bonds x weight)."""
    amount_usd: float
    """Proceeds, ``bonds_sold * price``."""
    sellout_hours: float
    """Hours from opening to sell-out; the offering length when it did not sell out."""
    sold_out: bool
    """Whether the supply ran out before the offering closed."""
    by_group: np.ndarray
    """USD bought per (district, quintile) group of the region, in group order."""
    buyers: float
    """Real people who bought at least one bond."""


class Offering(Protocol):
    """Sells an issue to the city's residents (bound to the city and the residents' stream)."""

    def __call__(
        self,
        *,
        price: float,
        cap: int,
        supply_bonds: float,
        bond_yield: float,
        offering_hours: float,
    ) -> MiniBondSale:
        """Run the offering."""
        ...


@dataclass
class MiniBondDebt(Debt):
    """A zero-coupon debt redeemed to many holders' groups in proportion to what they bought."""

    holders: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shares: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cap_annual: float = 0.0
    """Level annual service of the principal at the bond's yield (what the cap counts)."""

    def pay(self, ledger: Ledger, t: int, payee: int) -> float:
        """Redeem at maturity to the holders (general recourse).

        Args:
            ledger: The ledger.
            t: Month.
            payee: Ignored: the holders are paid.

        Returns:
            0 (the general fund always pays).
        """
        due = self.due(t)
        if due > 0:
            ledger.transfer_many(
                t, self.payer, self.holders, due * self.shares, self.kind, self.project
            )
            self.paid += due
        return 0.0

    def outstanding(self, month: int) -> float:
        """Price at the bond's yield of the redemption still to come after ``month``."""
        left = self.start + len(self.payments) - 1 - month
        if left <= 0:
            return 0.0
        return finance.zero_coupon_price(float(self.payments[-1]), self.rate_annual, left / 12)

    def cap_service(self, month: int) -> float:
        """What the debt counts against the cap until it is redeemed: its level annual service."""
        return self.cap_annual if month < self.start + len(self.payments) else 0.0


def zero_coupon_payments(maturity_value: float, years: int) -> np.ndarray:
    """One payment of ``maturity_value`` at the end of ``years``.

    Args:
        maturity_value: Total repaid.
        years: Term.

    Returns:
        Monthly schedule with a single non-zero last payment.
    """
    out = np.zeros(years * 12)
    out[-1] = maturity_value
    return out


def issue(
    desk: Desk,
    deal: Deal,
    amount: float,
    t: int,
    terms: MiniBonds,
    offer: Offering,
    group_accounts: np.ndarray,
) -> tuple[Raised | None, MiniBondSale | None]:
    """Offer mini-bonds for up to ``amount`` (once per city).

    Args:
        desk: The city's treasury.
        deal: The project.
        amount: USD needed.
        t: Month.
        terms: Mini-bond terms.
        offer: Runs the offering among the city's residents.
        group_accounts: Ledger account of every resident group of the region, indexed
            like the sale's ``by_group``.

    Returns:
        (where the proceeds sit, the sale); (None, None) when the issue would break
        the cap (no offering), (None, sale) when nothing sold.
    """
    size = min(amount, terms.issue_size_usd)
    yld = finance.zero_coupon_yield(terms.price_usd, terms.maturity_value_usd, terms.term_years)
    if not desk.under_cap(float(finance.annuity_payment(size, yld, terms.term_years)), t):
        return None, None
    sale = offer(
        price=terms.price_usd,
        cap=terms.max_per_person,
        supply_bonds=size / terms.price_usd,
        bond_yield=yld,
        offering_hours=terms.offering_days * 24.0,
    )
    desk.note(
        deal,
        "minibond_sale",
        amount=sale.amount_usd,
        hours=sale.sellout_hours,
        sold_out=sale.sold_out,
        buyers=sale.buyers,
    )
    if sale.amount_usd <= 0:
        return None, sale
    groups = np.flatnonzero(sale.by_group > 0)
    desk.ledger.transfer_many(
        t, group_accounts[groups], desk.general, sale.by_group[groups], "mini_bond_sale", deal.pid
    )
    maturity = sale.bonds_sold * terms.maturity_value_usd
    base = new_debt(
        deal,
        NAME,
        desk.general,
        -1,
        t,
        zero_coupon_payments(maturity, terms.term_years),
        sale.amount_usd,
        yld,
        GENERAL,
        "mini_bond_redemption",
    )
    debt = MiniBondDebt(
        **vars(base),
        holders=group_accounts[groups],
        shares=sale.by_group[groups] / sale.amount_usd,
        cap_annual=float(finance.annuity_payment(sale.amount_usd, yld, terms.term_years)),
    )
    desk.add_debt(debt)
    return Raised(desk.general, sale.amount_usd), sale
