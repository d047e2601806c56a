"""A city's projects at work: each month's benefits, who receives them, and what is paid.

For every deployed project each month: the realised performance is measured
as a KPI against the contract's target (with noise and a lag) and sets the
payment factor of the contract (:mod:`sim.mechanisms.contracts`); the cash
benefits (energy and water savings from the utility, advertising from the
market, user fees from residents) are booked to whoever the arrangement
entitles (the general fund, the project's own fund, the partner's share, the
PPP vehicle); the running costs and the arrangement's payments follow
(:mod:`sim.instruments`). Non-cash outcomes (kWh saved, time saved, the value
of services to their users) are tallied for the model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agents.city.economics import Economics
from agents.city.treasury import Treasury
from agents.outbox import Outbox
from sim.core.fields import SAVINGS_BENEFITS
from sim.core.parties import VendorLike
from sim.instruments import guarantees, performance, ppp, revolving_fund, vendor_finance
from sim.instruments.base import Arrangement, Cash
from sim.mechanisms import contracts

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.config.schema import City as CitySpec
    from sim.mechanisms.lifecycle import Project

#: Premium a city pays to run orphaned equipment itself.
SELF_PERFORM = 1.2
#: Share of the market potential at which advertising reaches its nominal value.
EXPECTED_REACH = 0.6


class Operations:
    """Books a city's deployed projects' monthly benefits and payments."""

    def __init__(
        self,
        model: ModelView,
        index: int,
        spec: CitySpec,
        treasury: Treasury,
        economics: Economics,
        outbox: Outbox,
    ) -> None:
        """Attach to the city's treasury.

        Args:
            model: The model.
            index: The city's position (its districts and resident groups).
            spec: The city's block of the scenario.
            treasury: Its treasury (accounts, the paid partner).
            economics: Its projections.
            outbox: Where tallies go.
        """
        self.model = model
        self.spec = spec
        self.treasury, self.economics, self.outbox = treasury, economics, outbox
        self.districts = model.layout.district_slice(index)
        self.groups = model.layout.city_groups(index)

    def run(self, pr: Project, t: int) -> None:
        """One month of a deployed project.

        Args:
            pr: A project with deployed units.
            t: Month.
        """
        m = self.model
        w, pol = m.scenario.world, m.scenario.policy
        arr = pr.arrangements[0] if pr.arrangements else Arrangement("none")
        theta = pr.performance(t, w.stress.performance_factor)
        target = pr.kpi_target if pr.kpi_target > 0 else pr.claim
        pr.measured_kpi = contracts.measure_kpi(
            pr.kpi_history,
            theta,
            target,
            m.rng_measure.standard_normal(),
            pol.contracts.measurement_lag_months,
        )
        g = contracts.payment_factor(
            pol.contracts.payment, pr.measured_kpi, pol.contracts.kpi_threshold
        )
        vendor = self.treasury.vendor_for(pr)
        cash = self._benefits(pr, theta, self._payees(pr, arr, vendor), t)
        if pr.tech.user_facing:
            self.outbox.tally(
                "welfare_usd",
                pr.tech.welfare_per_user_month_usd
                * m.residents.users_in(self.districts, pr.domain)
                * min(theta / max(pr.claim, 1e-9), 1.0),
            )
        opex = pr.units * pr.tech.opex_per_unit_month_usd
        if arr.owner == "city":
            self._city_owned(pr, arr, vendor, cash, opex, g, t)
        elif arr.owner == "vendor":
            if vendor is not None:
                vendor_finance.pay_month(
                    self.treasury, pr, arr, vendor, opex, w.vendors.margin, g, t
                )
        else:
            self.treasury.guarantee_calls += ppp.operate_month(
                self.treasury,
                pr,
                arr,
                vendor,
                cash,
                opex,
                w.vendors.margin,
                pr.measured_kpi,
                t,
                pol.financing.ppp,
            )

    def _payees(
        self, pr: Project, arr: Arrangement, vendor: VendorLike | None
    ) -> Callable[[Cash], list[tuple[int, Cash]]]:
        """Who receives the project's cash benefits: ``cash -> [(account, amount)]``.

        The owner of the cash (the general fund, the revenue-bond fund, a
        demand-risk PPP vehicle) keeps what a partner's take leaves (a revenue
        share, shared savings, gain sharing of a vendor-run service).
        """
        pol = self.model.scenario.policy
        owner = ppp.receiver(arr, pol.financing.ppp)
        if owner is None and arr.owner == "city" and pr.account >= 0:
            owner = pr.account  # the revenue-bond fund
        take = None
        if owner is None and vendor is not None:
            take = vendor_finance.partner_take(
                arr, pr, pol.contracts.gain_share_city
            ) or performance.partner_take(arr)
        owner = self.treasury.general if owner is None else owner
        if take is None:
            return lambda cash: [(owner, cash)]

        def split(cash: Cash) -> list[tuple[int, Cash]]:
            part = take(cash)
            return [(vendor.account, part), (owner, cash - part)]

        return split

    def _benefits(
        self, pr: Project, theta: float, payees: Callable[[Cash], list[tuple[int, Cash]]], t: int
    ) -> float:
        """Book the month's cash benefits to their receivers; returns the cash."""
        m = self.model
        led, acc, tech, units = m.ledger, m.accounts, pr.tech, pr.units
        cash = 0.0
        if tech.benefit_type in SAVINGS_BENEFITS:
            cash = units * tech.benefit_per_unit_month_usd * theta
            for account, amount in payees(cash):
                led.transfer(t, acc["utility"], account, amount, "savings", pr.pid)
            self.outbox.tally("kwh_saved", units * tech.kwh_saved_per_unit_month * theta)
            self.outbox.tally("savings_usd", cash)
        elif tech.benefit_type == "advertising":
            people = self.spec.population * max(tech.market_potential, 1e-9)
            adoption = m.residents.users_in(self.districts, pr.domain) / people
            reach = min(1.0, adoption / EXPECTED_REACH)
            cash = units * tech.benefit_per_unit_month_usd * theta * reach
            for account, amount in payees(cash):
                led.transfer(t, acc["market"], account, amount, "advertising", pr.pid)
        elif tech.benefit_type == "user_fees":
            fees = m.residents.fees_of(self.groups, pr.domain)
            cash = float(fees.sum())
            if cash > 0:
                for account, amount in payees(fees):
                    led.transfer_many(
                        t, m.layout.group_accounts[self.groups], account, amount, "user_fee", pr.pid
                    )
        else:
            self.outbox.tally("welfare_usd", units * tech.benefit_per_unit_month_usd * theta)
        return cash

    def _city_owned(
        self,
        pr: Project,
        arr: Arrangement,
        vendor: VendorLike | None,
        cash: float,
        opex: float,
        g: float,
        t: int,
    ) -> None:
        """Running costs of city-owned equipment, fund repayment and guarantee calls."""
        m = self.model
        led, market = m.ledger, m.accounts["market"]
        pol = m.scenario.policy
        tr = self.treasury
        payer = pr.account if pr.account >= 0 else tr.general
        if vendor is not None:
            fee = opex * (1 + m.scenario.world.vendors.margin) * g
            led.transfer(t, payer, vendor.account, fee, "opex", pr.pid)
            led.transfer(t, vendor.account, market, opex, "opex", pr.pid)
            c = pol.contracts
            if (
                performance.guarantees_savings(c.energy_contract, pr.tech.benefit_type)
                and t < pr.deploy_start + 12 * c.guarantee_years
            ):
                performance.shortfall_penalty(
                    tr, pr, vendor, cash, pr.tech.benefit_per_unit_month_usd, t, c.guaranteed_share
                )
        else:
            led.transfer(t, payer, market, opex * SELF_PERFORM, "opex", pr.pid)
        revolving_fund.repay(tr, arr, cash, t, pr.pid, pol.financing.revolving_fund)
        if pr.account >= 0:
            tr.guarantee_calls += guarantees.call(tr, arr, cash, pr.account, t, pr.pid)

    def pay_retentions(self, t: int) -> None:
        """Pay this month's part of every retention, scaled by the measured KPI.

        Args:
            t: Month.
        """
        m = self.model
        terms = m.scenario.policy.contracts
        by_id = None
        for pid, start, end, monthly in self.treasury.retentions:
            if start <= t < end:
                by_id = by_id or {pr.pid: pr for pr in self.treasury.projects}
                pr = by_id[pid]
                vendor = self.treasury.vendor_for(pr)
                if vendor is None or pr.state == "stopped":
                    continue
                g = contracts.payment_factor(terms.payment, pr.measured_kpi, terms.kpi_threshold)
                m.ledger.transfer(
                    t, self.treasury.general, vendor.account, monthly * g, "capex", pr.pid
                )
