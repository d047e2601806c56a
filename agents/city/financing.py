"""How a city finances a tranche: the preference list walked instrument by instrument.

For each tranche the city walks its policy's preference list
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
retention paid over ``retention_years`` against the measured KPI.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.city.economics import Economics, ScalingTerms
from agents.city.treasury import Treasury
from sim.core import finance
from sim.core.parties import VendorLike
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
from sim.instruments.base import Arrangement, Raised, level_payments, pv_monthly
from sim.instruments.catalogue import PARTNER_FUNDED
from sim.mechanisms import contracts

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.mechanisms.lifecycle import Project


class Financing:
    """Finances and builds a city's tranches through its treasury."""

    def __init__(
        self,
        model: ModelView,
        treasury: Treasury,
        economics: Economics,
        belief: Callable[[Project], tuple[float, float]],
    ) -> None:
        """Attach to the city's treasury.

        Args:
            model: The model.
            treasury: The city's treasury (the instruments' desk).
            economics: Its per-unit projections.
            belief: ``f(project) -> (mean, sd)``: the city's current belief about a
                project's performance (its posterior).
        """
        self.model = model
        self.treasury, self.economics, self.belief = treasury, economics, belief
        self.ledger = model.ledger

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
        vendor = self.treasury.vendor_for(pr)
        if vendor is None:  # no partner to pay or to build: raise nothing
            return False
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
        if remaining > 1e-6:
            return False
        self._pay_vendor(pr, vendor, sources, amount, upfront, units, t)
        pr.instrument = "+".join(used)
        self.treasury.arrangement(pr, used[0])
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
            self.treasury.retentions.append((pr.pid, t + 1, t + 1 + months, retention / months))
        vendor.build(pr.domain, units, pr.pid, t, pr.overrun)
        pr.units += units
        pr.capex_total += amount

    # ------------------------------------------------------------------ the deal's terms

    def scaling_terms(self, pr: Project) -> ScalingTerms:
        """What scaling a unit of the project would cost the city under its financing.

        The deal is the project's arrangement (set by its pilot) or, before any, the
        first instrument of the policy's preference list: the city's payments per unit
        over the equipment's life at its discount rate (a bond's or loan's debt
        service, a service fee, an availability payment, the O&M it runs) and the share
        of the cash it keeps while a partner takes a share.

        Args:
            pr: The project.

        Returns:
            The terms the city's break-even performance is computed under.
        """
        m = self.model
        fin = m.scenario.policy.financing
        inst = pr.arrangements[0].instrument if pr.arrangements else self._preferences(pr)[0]
        life = int(pr.tech.lifetime_years * 12)
        r = self.economics.discount_rate
        om = self.economics.om_per_unit(pr.tech)
        run = pv_monthly(om, r, life)  # the city runs the unit for its life
        price = pr.price_per_unit
        if inst in (vendor_finance.SERVICE, vendor_finance.SHARE, performance.NAME, ppp.NAME):
            return self._partner_terms(pr, inst, life, r, om)
        return ScalingTerms(price * self._finance_factor(inst, fin, r) + run)

    def _finance_factor(self, inst: str, fin: Any, r: float) -> float:
        """PV at the city's rate of the payments on 1 USD raised with a city instrument."""
        m = self.model
        if inst == revolving_fund.NAME:
            return 1.0  # the fund lends without interest
        if inst == vendor_finance.LOAN:
            rate = m.scenario.world.vendors.cost_of_capital_annual + fin.vendor.loan_margin
            years, principal = fin.vendor.term_years, 1.0
        elif inst == revenue_bond.NAME:
            years = fin.revenue_bond.term_years
            rate = m.market.municipal_yield(self.treasury.rating, years)
            rate += m.scenario.world.rates.revenue_bond_spread_bp / 1e4
            principal = 1 + fin.revenue_bond.reserve_share
        elif inst == tif.NAME:
            years, principal = fin.tif.term_years, 1.0
            rate = m.market.municipal_yield(self.treasury.rating, years)
            rate += m.scenario.world.rates.revenue_bond_spread_bp / 1e4
        else:  # GO bonds (and mini-bonds, valued like them)
            years, principal = fin.go_bond.term_years, 1.0
            rate = m.market.municipal_yield(self.treasury.rating, years)
        payments = level_payments(principal, rate, years)
        return float(np.sum(payments * (1 + r) ** (-np.arange(1, payments.size + 1) / 12)))

    def _partner_terms(
        self, pr: Project, inst: str, life: int, r: float, om: float
    ) -> ScalingTerms:
        """Terms of a deal where a partner funds the equipment."""
        m = self.model
        fin, pol = m.scenario.policy.financing, m.scenario.policy
        coc = m.scenario.world.vendors.cost_of_capital_annual
        if inst == vendor_finance.SERVICE:
            term = min(fin.vendor.term_years * 12, life)
            fee = finance.as_a_service_fee(
                pr.price_per_unit,
                pr.tech.opex_per_unit_month_usd,
                fin.vendor.term_years * 12,
                coc,
                fin.vendor.service_margin,
            )
            after = pv_monthly(om, r, life) - pv_monthly(om, r, term)
            shared = pr.tech.benefit_type in vendor_finance.SHARED_REVENUE
            return ScalingTerms(
                pv_monthly(fee, r, term) + after,
                pol.contracts.gain_share_city if shared else 1.0,
                term,
            )
        if inst == vendor_finance.SHARE:
            term = min(fin.vendor.revenue_share_years * 12, life)
            return ScalingTerms(pv_monthly(om, r, life), 1 - fin.vendor.revenue_share, term)
        if inst == performance.NAME:  # the ESCO runs the equipment for the term
            term = min(pol.contracts.savings_term_years * 12, life)
            after = pv_monthly(om, r, life) - pv_monthly(om, r, term)
            return ScalingTerms(after, 1 - pol.contracts.vendor_savings_share, term)
        term = min(fin.ppp.term_years * 12, life)  # a PPP
        if fin.ppp.payment == "user_fees":  # the vehicle keeps the fees for the term
            return ScalingTerms(pv_monthly(om, r, life) - pv_monthly(om, r, term), 0.0, term)
        fee = pr.arrangements[0].fee_per_unit_month if pr.arrangements else 0.0
        fee = fee or ppp.availability_payment(
            pr.price_per_unit,
            om,
            fin.ppp.term_years,
            m.scenario.world.rates.bank_rate_annual,
            m.scenario.world.rates.equity_irr_required,
            fin.ppp.gearing_max,
        )
        after = pv_monthly(om, r, life) - pv_monthly(om, r, term)
        return ScalingTerms(pv_monthly(fee, r, term) + after)

    def _preferences(self, pr: Project) -> list[str]:
        fin = self.model.scenario.policy.financing
        return list(fin.by_domain.get(pr.domain, fin.preference))

    def _raise(self, pr: Project, inst: str, amount: float, units: float, t: int) -> Raised | None:
        """Raise ``amount`` with a city-funded instrument."""
        m = self.model
        fin = m.scenario.policy.financing
        if inst == go_bond.NAME:
            return go_bond.issue(self.treasury, pr, amount, t, fin.go_bond)
        if inst == vendor_finance.LOAN:
            return vendor_finance.issue_loan(
                self.treasury,
                pr,
                amount,
                t,
                fin.vendor,
                m.scenario.world.vendors.cost_of_capital_annual,
            )
        if inst == revolving_fund.NAME:
            return revolving_fund.issue(self.treasury, pr, amount, fin.revolving_fund)
        if inst == revenue_bond.NAME:
            mu, sd = self.belief(pr)
            return revenue_bond.issue(
                self.treasury,
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
        districts = m.layout.district_slice(self.treasury.index)
        terms = m.scenario.policy.financing.tif
        if self.treasury.funds.tif_area is None:
            self.treasury.funds.tif_area = tif.freeze(m.land.av[districts], t, terms)
            self.treasury.note(
                pr, "tif_base_frozen", base=float(self.treasury.funds.tif_area.base.sum())
            )
        return tif.issue(
            self.treasury,
            pr,
            amount,
            t,
            terms,
            self.treasury.funds.tif_area,
            m.land.trend[districts],
            self.treasury.spec.property_tax_rate,
            m.scenario.world.macro.property_growth_annual,
        )

    def _mini_bonds(self, pr: Project, amount: float, t: int) -> Raised | None:
        if self.treasury.minibond_issued:
            return None
        m = self.model

        def offer(**terms: Any) -> mini_bonds.MiniBondSale:
            return m.residents.offer_minibonds(city_index=self.treasury.index, **terms)

        raised, sale = mini_bonds.issue(
            self.treasury,
            pr,
            amount,
            t,
            m.scenario.policy.financing.mini_bonds,
            offer,
            m.layout.group_accounts,
        )
        if sale is not None:
            self.treasury.minibond_issued, self.treasury.minibond_sale = True, sale
        return raised

    # ------------------------------------------------------------------ partner-funded

    def _partner_first(self, pr: Project, inst: str, units: float, t: int) -> bool:
        """First tranche through a partner who funds and owns the equipment."""
        if inst == ppp.NAME:
            return self._ppp_first(pr, units, t)
        vendor = self.treasury.vendor_for(pr)
        if vendor is None or not vendor.can_fund(units * vendor.unit_cost(pr.domain)):
            return False
        m = self.model
        pol = m.scenario.policy
        coc = m.scenario.world.vendors.cost_of_capital_annual
        cash = self.economics.cash_per_unit(pr.tech)
        if inst == vendor_finance.SERVICE:
            vendor_finance.open_service(self.treasury, pr, t, pol.financing.vendor, coc)
        elif inst == vendor_finance.SHARE:
            if (
                vendor_finance.open_share(
                    self.treasury, pr, vendor, t, pol.financing.vendor, coc, cash
                )
                is None
            ):
                return False
        elif (
            performance.open_shared(
                self.treasury,
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
        vendor = self.treasury.vendor_for(pr)
        if vendor is None or not vendor.can_fund(units * vendor.unit_cost(pr.domain)):
            return False
        vendor.build(pr.domain, units, pr.pid, t, pr.overrun)
        pr.capex_total += units * pr.price_per_unit
        return True

    def _ppp_first(self, pr: Project, units: float, t: int) -> bool:
        arr = ppp.open_vehicle(self.treasury, pr, t, self.model.scenario.policy.financing.ppp)
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
            self.treasury,
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
        self.treasury.outbox.tally("ppp_value_for_money_usd", vfm)
        return True
