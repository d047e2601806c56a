"""The city's treasury: it finances tranches, services debts, sweeps funds and holds the rating.

For each tranche the treasury walks the policy's preference list
(``policy.financing.by_domain`` or ``preference``) and uses the first
instruments that fit (:mod:`sim.instruments`, one module per instrument):

- city-funded (``go_bond``, ``vendor_loan``, ``mini_bonds``, ``revenue_bond``,
  ``tif``, ``revolving_fund``): each raises what it can of the tranche's
  up-front cost, in turn, until it is covered; then the city pays the vendor;
- partner-funded (``as_a_service``, ``revenue_share``, ``shared_savings``,
  ``ppp``): usable for a project's first tranche only; the partner funds, owns
  and builds this tranche and the later ones.

City-owned projects pay overruns (change orders); partners who fund and own
the equipment bear them. Under pay for performance part of the price is a
retention paid over ``retention_years`` against the measured KPI. The
treasury is the :class:`~sim.instruments.base.Desk` the instruments book
through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.city.budget import Budget, Funds
from agents.city.debt_book import DebtBook
from agents.city.economics import Economics
from agents.outbox import Outbox
from sim.core import finance
from sim.core.fields import RATINGS
from sim.core.parties import LenderLike, VendorLike
from sim.instruments import (
    go_bond,
    mini_bonds,
    performance,
    ppp,
    revenue_bond,
    revolving_fund,
    tif,
    vendor_finance,
)
from sim.instruments.base import NO_TERM, Arrangement, Debt, Raised
from sim.instruments.catalogue import PARTNER_FUNDED
from sim.mechanisms import contracts

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.config.schema import City as CitySpec
    from sim.mechanisms.lifecycle import Project


class Treasury:
    """A city's financing desk, debt book, funds and credit rating."""

    def __init__(
        self,
        model: ModelView,
        index: int,
        name: str,
        spec: CitySpec,
        funds: Funds,
        debts: DebtBook,
        budget: Budget,
        economics: Economics,
        outbox: Outbox,
        projects: list[Project],
        belief: Callable[[Project], tuple[float, float]],
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
            economics: Its per-unit projections.
            outbox: Where the city notes events.
            projects: The city's projects (the portfolio's list).
            belief: ``f(project) -> (mean, sd)``: the city's current belief about a
                project's performance (its posterior).
        """
        self.model = model
        self.index, self.name, self.spec = index, name, spec
        self.ledger = model.ledger
        self.funds, self.book, self.budget, self.economics = funds, debts, budget, economics
        self.general, self.revolving, self.tif = funds.general, funds.revolving, funds.tif
        self.market = model.accounts["market"]
        self.outbox = outbox
        self.projects = projects
        self.belief = belief
        self.rating_index = self.initial_rating_index = RATINGS.index(spec.rating)
        self.contingent = 0.0
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

    def lender(self, kind: str, amount: float) -> LenderLike | None:
        """The cheapest investor of a kind with the capital for ``amount``."""
        pool = [i for i in self.model.investors if i.kind == kind and i.can_invest(amount)]
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

    def add_contingent(self, amount: float) -> None:
        """Add the expected cost of a guarantee to the contingent liabilities."""
        self.contingent += amount

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

    # ------------------------------------------------------------------ funding

    def fund(self, pr: Project, units: float, t: int) -> bool:
        """Finance and build a tranche of ``units``.

        Args:
            pr: The project.
            units: Units in the tranche.
            t: Month.

        Returns:
            True when the tranche was financed and built.
        """
        if units <= 0:
            return False
        if not pr.owned_by_city():
            ok = self._partner_tranche(pr, pr.arrangements[0], units, t)
            if ok:
                pr.units += units
            return ok
        pol = self.model.scenario.policy
        amount = units * pr.price_per_unit * pr.overrun
        upfront = amount * contracts.capex_upfront_share(
            pol.contracts.payment, pol.contracts.retention_share
        )
        remaining, sources, used = upfront, [], []
        for inst in self._preferences(pr):
            if remaining <= 1e-6:
                break
            if inst in PARTNER_FUNDED:
                if not pr.arrangements and self._partner_first(pr, inst, units, t):
                    pr.units += units
                    return True
                continue
            raised = self._raise(pr, inst, remaining, units, t)
            if raised is not None:
                sources.append(raised)
                used.append(inst)
                remaining -= raised.amount
        vendor = self.vendor_for(pr)
        if remaining > 1e-6 or vendor is None:
            return False
        self._pay_vendor(pr, vendor, sources, amount, upfront, units, t)
        pr.instrument = "+".join(used)
        self.arrangement(pr, used[0])
        return True

    def _pay_vendor(
        self,
        pr: Project,
        vendor: VendorLike,
        sources: list[Raised],
        amount: float,
        upfront: float,
        units: float,
        t: int,
    ) -> None:
        """Pay the vendor from what was raised (a retention later) and have it build."""
        for account, value in sources:
            self.ledger.transfer(t, account, vendor.account, value, "capex", pr.pid)
        retention = amount - upfront
        if retention > 0:
            months = self.model.scenario.policy.contracts.retention_years * 12
            self.retentions.append((pr.pid, t + 1, t + 1 + months, retention / months))
        vendor.build(pr.domain, units, pr.pid, t, pr.overrun)
        pr.units += units
        pr.capex_total += amount

    def _preferences(self, pr: Project) -> list[str]:
        fin = self.model.scenario.policy.financing
        return list(fin.by_domain.get(pr.domain, fin.preference))

    def _raise(self, pr: Project, inst: str, amount: float, units: float, t: int) -> Raised | None:
        """Raise ``amount`` with a city-funded instrument."""
        m = self.model
        fin = m.scenario.policy.financing
        if inst == go_bond.NAME:
            return go_bond.issue(self, pr, amount, t, fin.go_bond)
        if inst == vendor_finance.LOAN:
            return vendor_finance.issue_loan(
                self, pr, amount, t, fin.vendor, m.scenario.world.vendors.cost_of_capital_annual
            )
        if inst == revolving_fund.NAME:
            return revolving_fund.issue(self, pr, amount, fin.revolving_fund)
        if inst == revenue_bond.NAME:
            mu, sd = self.belief(pr)
            return revenue_bond.issue(
                self,
                pr,
                amount,
                units,
                t,
                fin.revenue_bond,
                fin.guarantee,
                cash_month=self.economics.expected_cash_month(pr, pr.units + units, mu),
                gross_per_unit=self.economics.cash_per_unit(pr.tech),
                mu=mu,
                sd=sd,
            )
        if inst == tif.NAME:
            return self._tif_bond(pr, amount, t)
        if inst == mini_bonds.NAME:
            return self._mini_bonds(pr, amount, t)
        raise ValueError(f"unknown instrument {inst!r}")

    def _tif_bond(self, pr: Project, amount: float, t: int) -> Raised | None:
        m = self.model
        districts = m.layout.district_slice(self.index)
        terms = m.scenario.policy.financing.tif
        if self.funds.tif_area is None:
            self.funds.tif_area = tif.freeze(m.land.av[districts], t, terms)
            self.note(pr, "tif_base_frozen", base=float(self.funds.tif_area.base.sum()))
        return tif.issue(
            self,
            pr,
            amount,
            t,
            terms,
            self.funds.tif_area,
            m.land.trend[districts],
            self.spec.property_tax_rate,
            m.scenario.world.macro.property_growth_annual,
        )

    def _mini_bonds(self, pr: Project, amount: float, t: int) -> Raised | None:
        if self.minibond_issued:
            return None
        m = self.model

        def offer(**terms: Any) -> mini_bonds.MiniBondSale:
            return m.residents.offer_minibonds(city_index=self.index, **terms)

        raised, sale = mini_bonds.issue(
            self,
            pr,
            amount,
            t,
            m.scenario.policy.financing.mini_bonds,
            offer,
            m.layout.group_accounts,
        )
        if sale is not None:
            self.minibond_issued, self.minibond_sale = True, sale
        return raised

    # ------------------------------------------------------------------ partner-funded

    def _partner_first(self, pr: Project, inst: str, units: float, t: int) -> bool:
        """First tranche through a partner who funds and owns the equipment."""
        if inst == ppp.NAME:
            return self._ppp_first(pr, units, t)
        vendor = self.vendor_for(pr)
        if vendor is None or not vendor.can_fund(units * vendor.unit_cost(pr.domain)):
            return False
        m = self.model
        pol = m.scenario.policy
        coc = m.scenario.world.vendors.cost_of_capital_annual
        cash = self.economics.cash_per_unit(pr.tech)
        if inst == vendor_finance.SERVICE:
            vendor_finance.open_service(self, pr, t, pol.financing.vendor, coc)
        elif inst == vendor_finance.SHARE:
            if (
                vendor_finance.open_share(self, pr, vendor, t, pol.financing.vendor, coc, cash)
                is None
            ):
                return False
        elif (
            performance.open_shared(
                self,
                pr,
                vendor,
                t,
                pol.contracts.vendor_savings_share,
                pol.contracts.savings_term_years,
                coc,
                cash,
            )
            is None
        ):
            return False
        vendor.build(pr.domain, units, pr.pid, t, pr.overrun)
        pr.capex_total += units * pr.price_per_unit
        pr.instrument = inst
        return True

    def _partner_tranche(self, pr: Project, arr: Arrangement, units: float, t: int) -> bool:
        """A later tranche of a partner-owned project: the partner funds it again."""
        if arr.instrument == ppp.NAME:
            return self._ppp_raise(pr, arr, units, t)
        vendor = self.vendor_for(pr)
        if vendor is None or not vendor.can_fund(units * vendor.unit_cost(pr.domain)):
            return False
        vendor.build(pr.domain, units, pr.pid, t, pr.overrun)
        pr.capex_total += units * pr.price_per_unit
        return True

    def _ppp_first(self, pr: Project, units: float, t: int) -> bool:
        arr = ppp.open_vehicle(self, pr, t, self.model.scenario.policy.financing.ppp)
        if arr is None:
            return False
        pr.arrangements.append(arr)
        if not self._ppp_raise(pr, arr, units, t):
            pr.arrangements.clear()
            return False
        pr.instrument = ppp.NAME
        return True

    def _ppp_raise(self, pr: Project, arr: Arrangement, units: float, t: int) -> bool:
        m = self.model
        fin = m.scenario.policy.financing
        vfm = ppp.raise_tranche(
            self,
            pr,
            arr,
            units,
            t,
            fin.ppp,
            revenue_floor_share=fin.guarantee.revenue_floor_share,
            base_cash_per_unit=self.economics.cash_per_unit(pr.tech)
            * pr.claim
            * (1 - m.scenario.policy.pilot.optimism_haircut),
            om_per_unit=self.economics.om_per_unit(pr.tech),
            discount_rate=m.scenario.world.macro.discount_rate_annual,
        )
        if vfm is None:
            return False
        self.outbox.tally("ppp_value_for_money_usd", vfm)
        return True

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
        """Annual rating review: debt burden and reserves move the rating a notch.

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
