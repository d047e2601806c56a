"""The city's treasury: its debt book and funds, debt service, sweeps and the credit rating.

The treasury is the :class:`~sim.instruments.base.Desk` the financing
instruments book through (:mod:`agents.city.financing` decides which
instrument finances a tranche): it finds lenders, checks the debt-service
cap, keeps the debts, opens project funds and records contingent
liabilities. Each month it pays every instalment by its recourse (revenue
bonds by their waterfall), sweeps the TIF fund and PPP vehicles, and once a
year reviews the rating.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from agents.city.budget import Budget, Funds
from agents.city.debt_book import DebtBook
from agents.outbox import Outbox
from sim.core import finance
from sim.core.fields import RATINGS
from sim.core.parties import LenderLike, VendorLike
from sim.instruments import (
    mini_bonds,
    ppp,
    revenue_bond,
    tif,
)
from sim.instruments.base import NO_TERM, Arrangement, Debt

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.config.schema import City as CitySpec
    from sim.mechanisms.lifecycle import Project


class Treasury:
    """A city's debt book, funds, debt service and credit rating: the instruments' desk."""

    def __init__(
        self,
        model: ModelView,
        index: int,
        name: str,
        spec: CitySpec,
        funds: Funds,
        debts: DebtBook,
        budget: Budget,
        outbox: Outbox,
        projects: list[Project],
    ) -> None:
        """Open the treasury with the city's starting rating.

        Args:
            model: The model.
            index: The city's position.
            name: The city's name.
            spec: Its block of the scenario.
            funds: Its funds.
            debts: Its debt book.
            budget: Its budget (revenue for the cap and the rating).
            outbox: Where the city notes events.
            projects: The city's projects (the portfolio's list).
        """
        self.model = model
        self.index, self.name, self.spec = index, name, spec
        self.ledger = model.ledger
        self.funds, self.book, self.budget = funds, debts, budget
        self.general, self.revolving, self.tif = funds.general, funds.revolving, funds.tif
        self.market = model.accounts["market"]
        self.outbox = outbox
        self.projects = projects
        self.rating_index = self.initial_rating_index = RATINGS.index(spec.rating)
        self.contingent = 0.0  # expected cost of the guarantees taken on
        self.exposure = 0.0  # the most they can call over their terms
        self.guarantee_calls = 0.0
        self.financing_failures = 0
        self.minibond_issued = False
        self.minibond_sale: mini_bonds.MiniBondSale | None = None
        self.retentions: list[tuple[int, int, int, float]] = []  # (pid, start, end, monthly)
        self._vendor_of_account = {v.account: v for v in model.vendors}

    # ------------------------------------------------------------------ the Desk protocol

    @property
    def debts(self) -> list[Debt]:
        """Every debt on the book."""
        return self.book.debts

    @property
    def rating(self) -> str:
        """Current credit rating."""
        return RATINGS[self.rating_index]

    def willing_lenders(self, kind: str, amount: float) -> list[LenderLike]:
        """Every investor of a kind willing and able to put up ``amount``.

        Bond funds hold only bonds of issuers rated ``world.investors.min_bond_rating``
        or better (investment grade by default): a city below it cannot sell bonds.

        Args:
            kind: ``bond_fund``, ``bank`` or ``equity``.
            amount: USD.

        Returns:
            The investors (possibly none).
        """
        floor = self.model.scenario.world.investors.min_bond_rating
        if kind == "bond_fund" and self.rating_index > RATINGS.index(floor):
            return []
        return [i for i in self.model.investors if i.kind == kind and i.can_invest(amount)]

    def lender(self, kind: str, amount: float) -> LenderLike | None:
        """The cheapest investor of a kind willing and able to put up ``amount``."""
        pool = self.willing_lenders(kind, amount)
        return min(pool, key=lambda i: i.premium) if pool else None

    def under_cap(self, new_annual: float, t: int) -> bool:
        """Whether new annual debt service fits under the debt-service cap."""
        cap = self.model.scenario.policy.financing.debt_cap_share
        return self.annual_debt_service(t) + new_annual <= cap * self.budget.annual_revenue

    def add_debt(self, debt: Debt) -> Debt:
        """Put a debt on the book."""
        return self.book.add(debt)

    def arrangement(
        self, deal: Project, instrument: str, owner: str = "city", term_end: int = NO_TERM
    ) -> Arrangement:
        """The project's arrangement, created by its first tranche."""
        if not deal.arrangements:
            deal.arrangements.append(Arrangement(instrument, owner=owner, term_end=term_end))
        return deal.arrangements[0]

    def project_account(self, deal: Project) -> int:
        """The project's own fund (opened on first use)."""
        if deal.account < 0:
            deal.account = self.ledger.open_account(
                f"{self.name}:project{deal.pid}", "city", owner=self.name
            )
        return deal.account

    def vendor_for(self, deal: Project) -> VendorLike | None:
        """The partner that gets paid: the lead if solvent, else another live partner."""
        live = deal.live_vendors()
        return live[0] if live else None

    def note(self, deal: Project | None, event: str, **info: Any) -> None:
        """Note an event for the run's log."""
        self.outbox.note(deal, event, **info)

    def add_contingent(self, expected: float, exposure: float) -> None:
        """Add a guarantee's expected cost and its exposure to the contingent liabilities."""
        self.contingent += expected
        self.exposure += exposure

    # ------------------------------------------------------------------ debt service

    def annual_debt_service(self, month: int) -> float:
        """Debt service counted against the cap over the next 12 months."""
        return self.book.annual_service(month, self.model.market.revenue_trend)

    def debt_service_ratio(self, month: int) -> float:
        """Debt service over general revenue (both annual)."""
        return finance.debt_service_ratio(
            self.annual_debt_service(month), max(self.budget.annual_revenue, 1.0)
        )

    def pay_debts(self, t: int) -> None:
        """Pay every instalment due; revenue-backed debts default when their fund is short.

        Revenue bonds are paid project by project by their waterfall, which also
        releases each fund's cash above its reserve.

        Args:
            t: Month.
        """
        gone = {acc: self.market for acc, v in self._vendor_of_account.items() if not v.solvent}
        defaults = self.book.pay(self.ledger, t, gone, exclude=revenue_bond.NAME)
        for pr in self.projects:
            if pr.account >= 0:
                defaults += revenue_bond.service(self, pr, t, gone)
        if not defaults:
            return
        by_id = {pr.pid: pr for pr in self.projects}
        for debt, short in defaults:
            self.note(by_id[debt.project], "default", instrument=debt.instrument, shortfall=short)
            for inv in self.model.investors:
                inv.observe_default(debt.instrument)

    # ------------------------------------------------------------------ funds and rating

    def sweep(self, t: int) -> None:
        """Release surpluses each month.

        TIF cash beyond a year of TIF debt service goes to the general fund; a PPP
        vehicle's cash above next month's debt service goes to its equity.

        Args:
            t: Month.
        """
        if self.funds.tif_area is not None:
            tif.release_surplus(self.ledger, self.tif, self.general, self.debts, t)
        for pr in self.projects:
            if not pr.arrangements:
                continue
            arr = pr.arrangements[0]
            if arr.vehicle >= 0 and arr.equity_investor >= 0:
                ppp.pay_dividends(self, pr, arr, t)

    def review_rating(self, t: int) -> None:
        """Annual rating review: reserves and debt burden move the rating.

        Negative reserves cost two notches and thin ones (under 5 % of revenue) one;
        a debt-service ratio above the cap costs one more. With none of these, ample
        reserves (over 12 %) and a ratio under 60 % of the cap win back a notch, never
        past the starting rating.

        Args:
            t: Month.
        """
        cap = self.model.scenario.policy.financing.debt_cap_share
        reserves = self.ledger.balance(self.general) / max(self.budget.annual_revenue, 1.0)
        dsr = self.debt_service_ratio(t)
        move = 0
        if reserves < 0:
            move += 2
        elif reserves < 0.05:
            move += 1
        if dsr > cap:
            move += 1
        if (
            move == 0
            and reserves > 0.12
            and dsr < 0.6 * cap
            and self.rating_index > self.initial_rating_index
        ):
            move = -1
        new = int(np.clip(self.rating_index + move, 0, len(RATINGS) - 1))
        if new != self.rating_index:
            self.note(None, "rating_change", city=self.name, rating=RATINGS[new], was=self.rating)
            self.rating_index = new
