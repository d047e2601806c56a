"""The city's treasury: choosing and issuing instruments, operating cash flows, paying debts.

A mixin of :class:`agents.city.City`. For each tranche the city walks its
policy's preference list (``policy.financing.by_domain`` or ``preference``)
and uses the first instrument that fits the constraints:

- ``go_bond``, ``vendor_loan``, ``mini_bonds``: new debt service must stay
  under the debt-service cap; an investor (or the vendor) must have capital.
- ``revenue_bond``: projected net cash must cover the debt service by the
  covenant (DSCR); repaid only from the project's own fund.
- ``tif``: the projected increment of the TIF districts must cover the debt.
- ``revolving_fund``: the fund must hold enough (max loan share).
- ``mini_bonds``: one offering per city; residents buy first come first served.
- ``as_a_service``, ``revenue_share``, ``shared_savings``: the vendor funds and
  owns the equipment for the term if its cash allows and, for the shares, if
  the deal pays at its cost of capital on its own (optimistic) claim. An ESCO
  under shared savings also runs the equipment; under a revenue share the
  city keeps running its service and pays the O&M.
- ``ppp``: a vehicle raises senior debt sized on CFADS / DSCR and equity;
  equity must reach its required IRR (higher under demand risk, lower with a
  minimum revenue guarantee).

City-owned projects pay overruns (change orders); partners who fund and own
the equipment bear them. Each month :meth:`Treasury.operate` books a
project's benefits to whoever is entitled to them and the payments that
follow from the arrangement and the contract's payment mode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core import finance
from sim.core.fields import CASH_BENEFITS
from sim.instruments.base import (
    PRIVATELY_OWNED,
    Arrangement,
    Debt,
    monthly_level_payments,
    ppp_availability_payment,
    pv_monthly,
    required_fee,
    zero_coupon_payments,
)
from sim.mechanisms import contracts

if TYPE_CHECKING:
    from agents.city import City
    from agents.investor import Investor
    from sim.mechanisms.lifecycle import Project

PROGRAM = 0  # ledger project id of program-level flows (PMO, framework fees, tax uplift)
#: Premium a city pays to run orphaned equipment itself.
SELF_PERFORM = 1.2
#: KPI measurement noise (sd of measured / true performance).
KPI_NOISE = 0.05
#: Share of the market potential at which advertising reaches its nominal value.
EXPECTED_REACH = 0.6


class Treasury:
    """Financing and payments of a :class:`~agents.city.City` (mixin)."""

    # ------------------------------------------------------------------ helpers

    def _investor(self: City, kind: str, amount: float) -> Investor | None:
        pool = [i for i in self.model.investors if i.kind == kind and i.can_invest(amount)]
        return min(pool, key=lambda i: i.premium) if pool else None

    def _under_cap(self: City, new_annual: float, t: int) -> bool:
        cap = self.model.scenario.policy.financing.debt_cap_share
        return self.annual_debt_service(t) + new_annual <= cap * self.annual_revenue()

    def _new_debt(self: City, pr: Project, instrument: str, payer: int, payee: int, t: int,
                  payments: np.ndarray, principal: float, rate: float, recourse: str,
                  kind: str = "debt_service") -> Debt:
        debt = Debt(pr.pid, instrument, payer, payee, t + 1, payments, principal, rate,
                    recourse, kind)
        years = max(len(payments) // 12, 1)
        debt.principal_service = 12 * float(finance.annuity_payment(
            principal, (1 + rate) ** (1 / 12) - 1, years * 12))
        self.debts.append(debt)
        return debt

    def _arrangement(self: City, pr: Project, instrument: str, owner: str = "city",
                     term_end: int = 10**9) -> Arrangement:
        if not pr.arrangements:
            pr.arrangements.append(Arrangement(instrument, owner=owner, term_end=term_end))
        return pr.arrangements[0]

    def _project_account(self: City, pr: Project) -> int:
        if pr.account < 0:
            pr.account = self.model.ledger.open_account(
                f"{self.name}:project{pr.pid}", "city", owner=self.name)
        return pr.account

    def expected_cash_month(self: City, pr: Project, units: float, theta: float) -> float:
        """Projected monthly net cash of ``units`` at performance ``theta`` (after O&M)."""
        opex = pr.tech.opex_per_unit_month_usd * (1 + self.model.scenario.world.vendors.margin)
        return units * (self.cash_per_unit(pr.tech) * theta - opex)

    # ------------------------------------------------------------------ funding

    def fund(self: City, pr: Project, units: float, t: int) -> bool:
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
        if pr.arrangements and pr.arrangements[0].owner != "city":
            ok = self._private_tranche(pr, pr.arrangements[0], units, t)
            if ok:
                pr.units += units
            return ok
        pol = self.model.scenario.policy
        amount = units * pr.price_per_unit * pr.overrun
        upfront = amount * contracts.capex_upfront_share(pol.contracts.payment,
                                                         pol.contracts.retention_share)
        remaining, sources, used = upfront, [], []
        for inst in self._preferences(pr):
            if remaining <= 1e-6:
                break
            if inst in PRIVATELY_OWNED:
                if not pr.arrangements and self._private_first(pr, inst, units, t):
                    pr.units += units
                    return True
                continue
            raised = self._issue(pr, inst, remaining, units, t)
            if raised is not None:
                sources.append(raised)
                used.append(inst)
                remaining -= raised[1]
        vendor = self.vendor_for(pr)
        if remaining > 1e-6 or vendor is None:
            return False
        led = self.model.ledger
        for account, value in sources:
            led.transfer(t, account, vendor.account, value, "capex", pr.pid)
        retention = amount - upfront
        if retention > 0:
            months = pol.contracts.retention_years * 12
            self.retentions.append((pr.pid, t + 1, t + 1 + months, retention / months))
        vendor.build(pr.domain, units, pr.pid, pr.overrun)
        pr.units += units
        pr.capex_city += amount
        pr.capex_total += amount
        pr.instrument = "+".join(used)
        self._arrangement(pr, used[0])
        return True

    def _issue(self: City, pr: Project, inst: str, amount: float, units: float, t: int
               ) -> tuple[int, float] | None:
        """Raise ``amount`` with a city-owned instrument; (account holding it, amount raised)."""
        m = self.model
        fin = m.scenario.policy.financing
        led = m.ledger
        if inst == "go_bond":
            inv = self._investor("bond_fund", amount)
            if inv is None:
                return None
            rate = inv.bond_yield(self.rating, fin.go_bond.term_years)
            pay = monthly_level_payments(amount, rate, fin.go_bond.term_years, fin.go_bond.serial)
            if not self._under_cap(pay[:12].sum(), t):
                return None
            led.transfer(t, inv.account, self.general, amount, "bond_proceeds", pr.pid)
            inv.invested += amount
            self._new_debt(pr, inst, self.general, inv.account, t, pay, amount, rate, "general")
            return self.general, amount
        if inst == "vendor_loan":
            vendor = self.vendor_for(pr)
            if vendor is None or not vendor.can_fund(amount):
                return None
            rate = m.scenario.world.vendors.cost_of_capital_annual + fin.vendor.loan_margin
            pay = monthly_level_payments(amount, rate, fin.vendor.term_years)
            if not self._under_cap(pay[:12].sum(), t):
                return None
            led.transfer(t, vendor.account, self.general, amount, "loan", pr.pid)
            self._new_debt(pr, inst, self.general, vendor.account, t, pay, amount, rate,
                           "general", "loan_repayment")
            return self.general, amount
        if inst == "revolving_fund":
            if led.balance(self.revolving) * fin.revolving_fund.max_loan_share < amount:
                return None
            self._arrangement(pr, inst).revolving_outstanding += amount
            return self.revolving, amount
        if inst == "revenue_bond":
            return self._revenue_bond(pr, amount, units, t)
        if inst == "tif":
            return self._tif_bond(pr, amount, t)
        if inst == "mini_bonds":
            return self._mini_bonds(pr, amount, t)
        raise ValueError(f"unknown instrument {inst!r}")

    def _revenue_bond(self: City, pr: Project, amount: float, units: float, t: int
                      ) -> tuple[int, float] | None:
        m = self.model
        fin = m.scenario.policy.financing
        if pr.tech.benefit_type not in CASH_BENEFITS:
            return None
        floor_share = (fin.guarantee.savings_floor_share if pr.tech.benefit_type
                       in ("energy", "leakage") else fin.guarantee.revenue_floor_share)
        inv = self._investor("bond_fund", amount)
        if inv is None:
            return None
        rate = inv.bond_yield(self.rating, fin.revenue_bond.term_years, revenue=True,
                              covered_share=floor_share)
        principal = amount * (1 + fin.revenue_bond.reserve_share)
        pay = monthly_level_payments(principal, rate, fin.revenue_bond.term_years)
        mu, sd = self._posterior(pr)
        cash = self.expected_cash_month(pr, pr.units + units, mu)
        existing = sum(d.due(t + 1) for d in self.debts
                       if d.project == pr.pid and d.instrument == "revenue_bond")
        if cash < fin.revenue_bond.dscr_covenant * (existing + pay[0]):
            return None
        account = self._project_account(pr)
        m.ledger.transfer(t, inv.account, account, principal, "bond_proceeds", pr.pid)
        inv.invested += principal
        self._new_debt(pr, "revenue_bond", account, inv.account, t, pay, principal, rate,
                       "project")
        arr = self._arrangement(pr, "revenue_bond")
        arr.reserve_target += principal - amount
        if floor_share > 0:  # the contingent liability grows by this tranche's part
            gross = units * self.cash_per_unit(pr.tech)
            arr.guarantee_floor_month += floor_share * gross * mu
            arr.base_case_cash_month += gross * mu
            self.contingent += 12 * fin.revenue_bond.term_years * finance.guarantee_expected_cost(
                floor_share * gross * mu, gross * mu, gross * sd)
        return account, amount

    def _tif_bond(self: City, pr: Project, amount: float, t: int) -> tuple[int, float] | None:
        m = self.model
        fin = m.scenario.policy.financing
        k = fin.tif.districts
        lo = self.index * m.districts
        if self.tif_base is None:
            self.tif_base = m.av[lo:lo + k].copy()
            self.tif_until = t + fin.tif.term_years * 12
            m.record(pr, "tif_base_frozen", base=float(self.tif_base.sum()))
        inv = self._investor("bond_fund", amount)
        if inv is None:
            return None
        rate = inv.bond_yield(self.rating, fin.tif.term_years, revenue=True)
        pay = monthly_level_payments(amount, rate, fin.tif.term_years)
        growth = (1 + m.scenario.world.macro.property_growth_annual) ** (fin.tif.term_years / 2)
        increment = float(np.sum(m.av_trend[lo:lo + k] * growth - self.tif_base))
        increment *= self.spec.property_tax_rate / 12
        existing = sum(d.due(t + 1) for d in self.debts if d.instrument == "tif")
        if increment < existing + pay[0]:
            return None
        m.ledger.transfer(t, inv.account, self.tif, amount, "bond_proceeds", pr.pid)
        inv.invested += amount
        self._new_debt(pr, "tif", self.tif, inv.account, t, pay, amount, rate, "tif")
        return self.tif, amount

    def _mini_bonds(self: City, pr: Project, amount: float, t: int) -> tuple[int, float] | None:
        m = self.model
        mb = m.scenario.policy.financing.mini_bonds
        res = m.scenario.world.residents
        if self.minibond_issued:
            return None
        size = min(amount, mb.issue_size_usd)
        yld = finance.zero_coupon_yield(mb.price_usd, mb.maturity_value_usd, mb.term_years)
        if not self._under_cap(float(finance.annuity_payment(size, yld, mb.term_years)), t):
            return None
        sale = m.population.subscribe_minibonds(
            m.rng_residents, city_index=self.index, price=mb.price_usd, cap=mb.max_per_person,
            supply_bonds=size / mb.price_usd, yield_premium=yld - res.savings_rate_annual,
            interest_share=res.minibond_interest_share, arrival_hours=res.minibond_arrival_hours,
            premium_response=res.minibond_premium_response,
            offering_hours=mb.offering_days * 24.0)
        self.minibond_issued = True
        self.minibond_sale = sale
        m.record(pr, "minibond_sale", amount=sale.amount_usd, hours=sale.sellout_hours,
                 sold_out=sale.sold_out, buyers=sale.buyers)
        if sale.amount_usd <= 0:
            return None
        groups = np.flatnonzero(sale.by_group > 0)
        m.ledger.transfer_many(t, m.group_accounts[groups], self.general, sale.by_group[groups],
                               "mini_bond_sale", pr.pid)
        maturity = sale.bonds_sold * mb.maturity_value_usd
        debt = self._new_debt(pr, "mini_bonds", self.general, -1, t,
                              zero_coupon_payments(maturity, mb.term_years), sale.amount_usd,
                              yld, "general", "mini_bond_redemption")
        debt.split_accounts = m.group_accounts[groups]
        debt.split = sale.by_group[groups] / sale.amount_usd
        return self.general, sale.amount_usd

    # ------------------------------------------------------------------ private partners

    def _private_first(self: City, pr: Project, inst: str, units: float, t: int) -> bool:
        m = self.model
        w, fin, pol = m.scenario.world, m.scenario.policy.financing, m.scenario.policy
        vendor = self.vendor_for(pr)
        if inst == "ppp":
            return self._ppp_first(pr, units, t)
        if vendor is None:
            return False
        coc = w.vendors.cost_of_capital_annual
        cost = units * vendor.unit_cost(pr.domain)
        if not vendor.can_fund(cost):
            return False
        life = int(pr.tech.lifetime_years * 12)
        if inst == "as_a_service":
            term = fin.vendor.term_years * 12
            arr = self._arrangement(pr, inst, "vendor", t + term)
            arr.fee_per_unit_month = required_fee(
                pr.price_per_unit, pr.tech.opex_per_unit_month_usd, term, coc,
                fin.vendor.service_margin)
        else:
            if inst == "shared_savings":
                if pr.tech.benefit_type not in ("energy", "leakage"):
                    return False
                share, years = pol.contracts.vendor_savings_share, pol.contracts.savings_term_years
            else:
                if pr.tech.benefit_type not in CASH_BENEFITS:
                    return False
                share, years = fin.vendor.revenue_share, fin.vendor.revenue_share_years
            months = min(years * 12, life)
            gain = pv_monthly(share * self.cash_per_unit(pr.tech) * vendor.claim[pr.domain],
                              coc, months)
            # an ESCO (shared savings) also runs the equipment; under a revenue share the
            # city keeps operating its service and pays the O&M
            running = pv_monthly(pr.tech.opex_per_unit_month_usd, coc, months)
            if gain < vendor.unit_cost(pr.domain) + (running if inst == "shared_savings" else 0):
                return False
            arr = self._arrangement(pr, inst, "vendor", t + years * 12)
            arr.vendor_share = share
        vendor.build(pr.domain, units, pr.pid, pr.overrun)
        pr.capex_total += units * pr.price_per_unit
        pr.instrument = inst
        return True

    def _private_tranche(self: City, pr: Project, arr: Arrangement, units: float, t: int) -> bool:
        if arr.instrument == "ppp":
            return self._ppp_raise(pr, arr, units, t)
        vendor = self.vendor_for(pr)
        if vendor is None or not vendor.can_fund(units * vendor.unit_cost(pr.domain)):
            return False
        vendor.build(pr.domain, units, pr.pid, pr.overrun)
        pr.capex_total += units * pr.price_per_unit
        return True

    def _ppp_first(self: City, pr: Project, units: float, t: int) -> bool:
        m = self.model
        ppp = m.scenario.policy.financing.ppp
        demand = ppp.payment == "user_fees"
        if demand and not pr.tech.user_facing:
            return False
        arr = Arrangement("ppp", owner="vehicle", term_end=t + ppp.term_years * 12)
        name = f"{self.name}:vehicle{pr.pid}"
        try:
            arr.vehicle = m.ledger.account(name)
        except KeyError:
            arr.vehicle = m.ledger.open_account(name, "vehicle", owner=self.name)
        pr.arrangements.append(arr)
        if not self._ppp_raise(pr, arr, units, t):
            pr.arrangements.clear()
            return False
        pr.instrument = "ppp"
        return True

    def _ppp_raise(self: City, pr: Project, arr: Arrangement, units: float, t: int) -> bool:
        """Size senior debt on CFADS / DSCR and equity for a tranche; False if not bankable."""
        m = self.model
        w, fin = m.scenario.world, m.scenario.policy.financing
        ppp = fin.ppp
        capex = units * pr.price_per_unit
        bank = self._investor("bank", capex)
        eq = self._investor("equity", capex)
        vendor = self.vendor_for(pr)
        if bank is None or eq is None or vendor is None:
            return False
        demand = ppp.payment == "user_fees"
        covered = max(ppp.min_revenue_guarantee_share, fin.guarantee.revenue_floor_share)
        debt_rate = bank.project_debt_rate()
        eq_rate = eq.equity_return(demand_risk=demand, covered_share=covered if demand else 0.0)
        om = pr.tech.opex_per_unit_month_usd * (1 + w.vendors.margin)
        years = max(1, (arr.term_end - t) // 12)
        if demand:
            cash = self.cash_per_unit(pr.tech) * pr.claim * (1 - m.scenario.policy.pilot
                                                             .optimism_haircut)
            arr.base_case_cash_month += units * cash
            arr.guarantee_floor_month = covered * arr.base_case_cash_month
        else:
            cash = ppp_availability_payment(pr.price_per_unit, om, ppp.term_years, debt_rate,
                                            eq_rate, ppp.gearing_max)
            arr.fee_per_unit_month = cash
        cfads = np.full(years, 12 * units * (cash - om))
        if np.any(cfads <= 0):
            return False
        s = finance.ppp_structure(capex, cfads, debt_rate, ppp.dscr_target, eq_rate,
                                  gearing_max=ppp.gearing_max)
        # equity invests when its flows are worth their cost at its required return (an NPV
        # test: the IRR is undefined when the equity is tiny against the cash flows)
        if demand and finance.npv(eq_rate, s.equity_flows) < 0:
            m.record(pr, "ppp_not_bankable", equity_irr=s.equity_irr, required=eq_rate)
            return False
        led = m.ledger
        led.transfer(t, bank.account, arr.vehicle, s.debt, "loan", pr.pid)
        led.transfer(t, eq.account, arr.vehicle, s.equity, "equity", pr.pid)
        led.transfer(t, arr.vehicle, vendor.account, capex, "capex", pr.pid)
        bank.invested += s.debt
        eq.invested += s.equity
        arr.equity += s.equity
        arr.equity_investor = eq.account
        if s.debt > 0:
            pay = monthly_level_payments(s.debt, debt_rate, years)
            self._new_debt(pr, "ppp", arr.vehicle, bank.account, t, pay, s.debt, debt_rate,
                           "vehicle")
        if covered > 0 and demand:
            self.contingent += 12 * years * finance.guarantee_expected_cost(
                arr.guarantee_floor_month, arr.base_case_cash_month,
                0.3 * arr.base_case_cash_month)
        vendor.build(pr.domain, units, pr.pid, pr.overrun)
        pr.capex_total += capex
        r = w.macro.discount_rate_annual
        psc = capex + pv_monthly(units * om, r, years * 12)
        paid = np.full(years * 12, units * (arr.fee_per_unit_month if not demand else 0.0))
        m.ppp_vfm.append(finance.value_for_money(
            psc, paid, (1 + r) ** (1 / 12) - 1, 0.0, ppp.contract_management_share * capex))
        return True

    # ------------------------------------------------------------------ monthly operations

    def operate(self: City, pr: Project, t: int) -> None:
        """Book a deployed project's monthly benefits and the payments they trigger.

        Args:
            pr: A project with deployed units.
            t: Month.
        """
        m = self.model
        led, acc = m.ledger, m.accounts
        w, pol = m.scenario.world, m.scenario.policy
        tech, units = pr.tech, pr.units
        arr = pr.arrangements[0] if pr.arrangements else Arrangement("none")
        theta = self.theta(pr)
        target = pr.kpi_target if pr.kpi_target > 0 else pr.claim
        pr.kpi_history.append(theta / max(target, 1e-9)
                              * (1 + KPI_NOISE * m.rng_measure.standard_normal()))
        lag = pol.contracts.measurement_lag_months
        pr.measured_kpi = pr.kpi_history[-1 - lag] if len(pr.kpi_history) > lag else 1.0
        g = contracts.payment_factor(pol.contracts.payment, pr.measured_kpi,
                                     pol.contracts.kpi_threshold)
        vendor = self.vendor_for(pr)
        # --- who is entitled to the cash benefits
        if arr.owner == "vehicle" and pol.financing.ppp.payment == "user_fees":
            receivers = [(arr.vehicle, 1.0)]
        elif arr.owner == "city" and pr.account >= 0:
            receivers = [(pr.account, 1.0)]
        elif arr.vendor_share > 0 and vendor is not None:
            receivers = [(vendor.account, arr.vendor_share), (self.general, 1 - arr.vendor_share)]
        elif arr.instrument == "as_a_service" and vendor is not None and tech.benefit_type in (
                "advertising", "user_fees"):  # gain sharing of the vendor-run service's revenue
            share = pol.contracts.gain_share_city
            receivers = [(self.general, share), (vendor.account, 1 - share)]
        else:
            receivers = [(self.general, 1.0)]
        cash = 0.0
        if tech.benefit_type in ("energy", "leakage"):
            cash = units * tech.benefit_per_unit_month_usd * theta
            for account, share in receivers:
                led.transfer(t, acc["utility"], account, cash * share, "savings", pr.pid)
            m.kwh_saved += units * tech.kwh_saved_per_unit_month * theta
            m.savings_usd += cash
        elif tech.benefit_type == "advertising":
            reach = min(1.0, m.adoption_of_potential(self.index, pr.domain) / EXPECTED_REACH)
            cash = units * tech.benefit_per_unit_month_usd * theta * reach
            for account, share in receivers:
                led.transfer(t, acc["market"], account, cash * share, "advertising", pr.pid)
        elif tech.benefit_type == "user_fees":
            fees = m.fees_of(self.index, pr.domain)
            cash = float(fees.sum())
            if cash > 0:
                gids = m.city_groups[self.index]
                for account, share in receivers:
                    led.transfer_many(t, m.group_accounts[gids], account, fees * share,
                                      "user_fee", pr.pid)
        else:
            m.welfare_usd += units * tech.benefit_per_unit_month_usd * theta
        if tech.user_facing:
            m.welfare_usd += (tech.welfare_per_user_month_usd * m.users_of(self.index, pr.domain)
                              * min(theta / max(pr.claim, 1e-9), 1.0))
        # --- running costs and the arrangement's payments
        opex = units * tech.opex_per_unit_month_usd
        payer = pr.account if pr.account >= 0 else self.general
        if arr.owner == "city":
            if vendor is not None:
                fee = opex * (1 + w.vendors.margin) * g
                led.transfer(t, payer, vendor.account, fee, "opex", pr.pid)
                led.transfer(t, vendor.account, acc["market"], opex, "opex", pr.pid)
                if pol.contracts.energy_contract == "guaranteed_savings" and \
                        tech.benefit_type in ("energy", "leakage"):
                    guaranteed = units * tech.benefit_per_unit_month_usd * pr.claim * 0.8
                    short = contracts.savings_shortfall(cash, guaranteed)
                    led.transfer(t, vendor.account, self.general, short, "penalty", pr.pid)
            else:
                led.transfer(t, payer, acc["market"], opex * SELF_PERFORM, "opex", pr.pid)
            if arr.revolving_outstanding > 0 and cash > 0:
                repay = min(arr.revolving_outstanding,
                            pol.financing.revolving_fund.recycle_share * cash)
                led.transfer(t, self.general, self.revolving, repay, "loan_repayment", pr.pid)
                arr.revolving_outstanding -= repay
            if arr.guarantee_floor_month > cash and pr.account >= 0:
                call = arr.guarantee_floor_month - cash
                led.transfer(t, self.general, pr.account, call, "guarantee_call", pr.pid)
                self.guarantee_calls += call
        elif arr.owner == "vendor":
            if vendor is not None:
                if arr.instrument == "revenue_share":  # the city runs its service
                    fee = opex * (1 + w.vendors.margin) * g
                    led.transfer(t, self.general, vendor.account, fee, "opex", pr.pid)
                led.transfer(t, vendor.account, acc["market"], opex, "opex", pr.pid)
                if arr.instrument == "as_a_service":
                    led.transfer(t, self.general, vendor.account,
                                 arr.fee_per_unit_month * units * g, "service_fee", pr.pid)
        else:  # PPP vehicle
            om = opex * (1 + w.vendors.margin)
            inflow = cash if pol.financing.ppp.payment == "user_fees" else 0.0
            if pol.financing.ppp.payment == "availability":
                deduction = pol.financing.ppp.kpi_deduction_rate * max(0.0, 1 - pr.measured_kpi)
                inflow = arr.fee_per_unit_month * units * max(0.0, 1 - deduction)
                led.transfer(t, self.general, arr.vehicle, inflow, "availability_payment", pr.pid)
            elif arr.guarantee_floor_month > cash:
                call = arr.guarantee_floor_month - cash
                led.transfer(t, self.general, arr.vehicle, call, "guarantee_call", pr.pid)
                self.guarantee_calls += call
                inflow += call
            target = vendor.account if vendor is not None else acc["market"]
            led.transfer(t, arr.vehicle, target, om, "opex", pr.pid)
            if vendor is not None:
                led.transfer(t, vendor.account, acc["market"], opex, "opex", pr.pid)
            due = sum(d.due(t) for d in self.debts if d.payer == arr.vehicle)
            arr.cfads_12 = (arr.cfads_12 + [inflow - om])[-12:]
            arr.ds_12 = (arr.ds_12 + [due])[-12:]
            if len(arr.ds_12) == 12 and sum(arr.ds_12) > 0:
                arr.min_dscr = min(arr.min_dscr, sum(arr.cfads_12) / sum(arr.ds_12))

    # ------------------------------------------------------------------ debts

    def pay_debt(self: City, debt: Debt, t: int) -> None:
        """Pay one debt's scheduled payment; revenue-backed debts default when short.

        Args:
            debt: The debt.
            t: Month.
        """
        due = debt.due(t)
        if due <= 0:
            return
        m = self.model
        led = m.ledger
        if debt.payee == -1:  # mini-bonds: redeemed to the holders' groups
            led.transfer_many(t, self.general, debt.split_accounts, due * debt.split, debt.kind,
                              debt.project)
            debt.paid += due
            return
        payee = m.live_account(debt.payee)
        if debt.recourse == "general":
            led.transfer(t, debt.payer, payee, due, debt.kind, debt.project)
            debt.paid += due
            return
        available = max(led.balance(debt.payer), 0.0)
        paid = min(due, available)
        led.transfer(t, debt.payer, payee, paid, debt.kind, debt.project)
        debt.paid += paid
        if due - paid > 1e-6:
            debt.unpaid += due - paid
            if not debt.defaulted:
                debt.defaulted = True
                m.record(m.project_by_id[debt.project], "default", instrument=debt.instrument,
                         shortfall=due - paid)
                for inv in m.investors:
                    inv.observe_default(debt.instrument)

    def sweep(self: City, t: int) -> None:
        """Sweep surpluses to their owners each month.

        The TIF fund's cash beyond the next year of TIF debt service and
        revenue-bond funds above their reserve go to the general fund; PPP
        vehicles' cash above next month's debt service goes to their equity.

        Args:
            t: Month.
        """
        m = self.model
        led = m.ledger
        if self.tif_base is not None:  # increment beyond a year of TIF debt service
            keep = sum(d.annual_service(t + 1) for d in self.debts if d.instrument == "tif")
            surplus = led.balance(self.tif) - keep
            if surplus > 0:
                led.transfer(t, self.tif, self.general, surplus, "transfer")
        for pr in self.projects:
            if not pr.arrangements:
                continue
            arr = pr.arrangements[0]
            if pr.account >= 0:
                surplus = led.balance(pr.account) - arr.reserve_target
                if surplus > 0:
                    led.transfer(t, pr.account, self.general, surplus, "transfer", pr.pid)
            if arr.vehicle >= 0 and arr.equity_investor >= 0:
                keep = sum(d.due(t + 1) for d in self.debts if d.payer == arr.vehicle)
                surplus = led.balance(arr.vehicle) - keep
                if surplus > 0:
                    led.transfer(t, arr.vehicle, arr.equity_investor, surplus, "dividend", pr.pid)

