"""The city: budget, debt book, rating, funds, and the portfolio of projects it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.city.treasury import PROGRAM, Treasury
from sim.core.fields import RATINGS
from sim.instruments.base import DEBT_CAP_INSTRUMENTS, Arrangement, Debt, pv_monthly
from sim.mechanisms import contracts, procurement
from sim.mechanisms.lifecycle import (
    ACTIVE,
    DEPLOYED,
    Project,
    break_even_performance,
    posterior,
    prob_above,
)

if TYPE_CHECKING:
    from agents.vendor import Vendor
    from sim.config.schema import Technology
    from sim.model import AllianceModel

#: Expected share of the market potential that adopts, used in projections.
EXPECTED_UPTAKE = 0.3
#: Common-mode noise of a pilot's monthly measurement, as a share of the unit noise.
COMMON_NOISE = 0.5
#: Months a stalled financing is retried before the project settles where it is.
FINANCING_PATIENCE = 12


class City(Treasury, mesa.Agent):
    """A municipality: revenues, spending, debt, rating, funds and its projects."""

    def __init__(self, model: AllianceModel, index: int, name: str) -> None:
        """Open the city's funds and its starting budget.

        Args:
            model: The model.
            index: Position among cities (its districts are ``index * D ...``).
            name: Key of the city in ``world.cities``.
        """
        super().__init__(model)
        w, p = model.scenario.world, model.scenario.policy
        spec = w.cities[name]
        self.index, self.name, self.spec = index, name, spec
        led = model.ledger
        self.general = led.open_account(f"{name}:general", "city", owner=name)
        self.revolving = led.open_account(f"{name}:revolving", "city", owner=name)
        self.tif = led.open_account(f"{name}:tif", "city", owner=name)
        led.transfer(0, model.accounts["opening"], self.general, spec.reserves_usd, "transfer")
        fund = p.financing.revolving_fund.initial_usd
        if fund > 0:
            led.transfer(0, self.general, self.revolving, fund, "transfer", PROGRAM)
        self.rating_index = RATINGS.index(spec.rating)
        self.initial_rating_index = self.rating_index
        self.revenue_annual0 = spec.general_revenue_annual_usd
        self.property_base0 = spec.property_tax_share * spec.general_revenue_annual_usd
        self.existing_ds_month = spec.existing_debt_service_annual_usd / 12
        self.queue = list(p.domains)
        self.projects: list[Project] = []
        self.debts: list[Debt] = []
        self.retentions: list[tuple[int, int, int, float]] = []  # (pid, start, end, monthly)
        self.minibond_issued = False
        self.minibond_sale = None
        self.tif_base: np.ndarray | None = None
        self.tif_until = -1
        self.contingent = 0.0
        self.financing_failures = 0
        self.revenue_month = self.revenue_annual0 / 12
        self.guarantee_calls = 0.0
        self._ds_cache: tuple = (None, 0.0)

    # ------------------------------------------------------------------ budget

    @property
    def rating(self) -> str:
        """Current credit rating."""
        return RATINGS[self.rating_index]

    def balance(self) -> float:
        """General-fund balance."""
        return self.model.ledger.balance(self.general)

    def annual_debt_service(self, month: int) -> float:
        """Debt service counted against the cap over the next 12 months."""
        key = (month, len(self.debts))
        if self._ds_cache[0] == key:  # asked several times a month; debts only get added
            return self._ds_cache[1]
        total = self.existing_ds_month * 12 * self.model.revenue_trend
        for d in self.debts:
            if d.instrument in DEBT_CAP_INSTRUMENTS and d.recourse == "general":
                total += d.principal_service if d.instrument == "mini_bonds" else \
                    d.annual_service(month)
        self._ds_cache = (key, total)
        return total

    def debt_service_ratio(self, month: int) -> float:
        """Debt service over general revenue (both annual)."""
        return self.annual_debt_service(month) / max(self.revenue_month * 12, 1.0)

    def _collect_revenue(self, t: int) -> None:
        m, led = self.model, self.model.ledger
        groups = m.city_groups[self.index]
        rate = self.spec.property_tax_rate / 12
        district = m.district_slice(self.index)
        av, trend = m.av[district], m.av_trend[district]
        tax_trend_d = trend * rate
        uplift_d = np.maximum(av - trend, 0.0) * rate
        capturing = self.tif_base is not None and t < self.tif_until
        if capturing:  # TIF districts: during the TIF term the increment goes to the TIF fund
            k = self.tif_base.size
            inc = np.maximum(av[:k] - self.tif_base, 0.0) * rate
            share = np.divide(inc, tax_trend_d[:k] + uplift_d[:k],
                              out=np.zeros(k), where=(tax_trend_d[:k] + uplift_d[:k]) > 0)
            led.transfer_many(t, m.group_accounts[groups[: k * 5]], self.tif,
                              np.repeat(inc, 5) * m.group_tax_share[groups[: k * 5]],
                              "tif_increment")
            tax_trend_d = tax_trend_d.copy()
            uplift_d = uplift_d.copy()
            tax_trend_d[:k] *= 1 - share
            uplift_d[:k] *= 1 - share
        shares = m.group_tax_share[groups]
        led.transfer_many(t, m.group_accounts[groups], self.general,
                          np.repeat(tax_trend_d, 5) * shares, "tax")
        led.transfer_many(t, m.group_accounts[groups], self.general,
                          np.repeat(uplift_d, 5) * shares, "tax_uplift", PROGRAM)
        other = (self.revenue_annual0 - self.property_base0) / 12 * m.revenue_index
        led.transfer(t, m.accounts["economy"], self.general, other, "tax")
        self.revenue_month = float(other + tax_trend_d.sum() + uplift_d.sum()
                                   + (inc.sum() if capturing else 0.0))
        # spending follows the trend budget: a recession opens a gap, projects do not move it
        trend_rev = (self.revenue_annual0 - self.property_base0) / 12 * m.revenue_trend \
            + float((trend * rate).sum())
        # the existing debt book is rolled over: its service keeps pace with the budget
        existing = self.existing_ds_month * m.revenue_trend
        led.transfer(t, self.general, m.accounts["services"], trend_rev - existing, "spending")
        led.transfer(t, self.general, m.bondholder, existing, "debt_service")
        p = m.scenario.policy
        if t % 12 == 0:
            if p.governance.pmo:
                led.transfer(t, self.general, m.accounts["services"],
                             p.governance.pmo_cost_annual_usd, "opex", PROGRAM)
            if p.procurement.mode == "framework":
                led.transfer(t, self.general, m.accounts["framework"],
                             m.scenario.world.procurement.framework_member_fee_annual_usd,
                             "member_fee", PROGRAM)
        balance = led.balance(self.revolving)
        if balance > 0:
            r = (1 + m.scenario.world.rates.revolving_fund_deposit_rate_annual) ** (1 / 12) - 1
            led.transfer(t, m.accounts["market"], self.revolving, balance * r, "interest")

    def _review_rating(self, t: int) -> None:
        """Annual rating review: debt burden and reserves move the rating a notch."""
        cap = self.model.scenario.policy.financing.debt_cap_share
        reserves = self.balance() / max(self.revenue_month * 12, 1.0)
        dsr = self.debt_service_ratio(t)
        move = 0
        if reserves < 0:
            move += 2
        elif reserves < 0.05:
            move += 1
        if dsr > cap:
            move += 1
        if move == 0 and reserves > 0.12 and dsr < 0.6 * cap \
                and self.rating_index > self.initial_rating_index:
            move = -1
        new = int(np.clip(self.rating_index + move, 0, len(RATINGS) - 1))
        if new != self.rating_index:
            self.model.record(None, "rating_change", city=self.name, rating=RATINGS[new],
                              was=self.rating)
            self.rating_index = new

    # ------------------------------------------------------------------ step

    def step(self) -> None:
        """One month: revenue and spending, project operations, debts, lifecycle."""
        t = self.model.month
        self._collect_revenue(t)
        for project in self.projects:
            if project.units > 0 and project.state in DEPLOYED:
                self.operate(project, t)
        self._pay_retentions(t)
        self._pay_debts(t)
        self.sweep(t)
        for project in list(self.projects):
            self._advance(project, t)
        self._start_projects(t)
        if t % 12 == 11:
            self._review_rating(t)

    # ------------------------------------------------------------------ projects

    def capacity(self) -> int:
        """How many projects the city can run at once (a PMO raises it)."""
        g = self.model.scenario.policy.governance
        return g.base_capacity_projects + (g.pmo_extra_capacity if g.pmo else 0)

    def _start_projects(self, t: int) -> None:
        m = self.model
        p = m.scenario.policy
        active = sum(1 for pr in self.projects if pr.state in ACTIVE)
        while self.queue and active < self.capacity():
            domain = self.queue.pop(0)
            tech = m.scenario.world.technology[domain]
            mode = p.procurement.mode
            if mode == "framework" and domain not in m.proven_domains:
                mode = "rfp"  # the framework only lists technologies proven in a member city
            units = tech.units_per_1000_residents * self.spec.population / 1000
            project = Project(m.next_pid(), self.name, domain, tech, units, mode=mode,
                              started=t)
            project.next_event = t + procurement.duration(
                mode, m.scenario.world.procurement, p.governance, m.rng_market)
            self.projects.append(project)
            m.add_project(project)
            m.record(project, "procurement_start", mode=mode)
            active += 1

    def _advance(self, pr: Project, t: int) -> None:
        """Move a project through its lifecycle when its current wait is over."""
        m = self.model
        pol = m.scenario.policy
        if pr.state in ("stopped", "ended"):
            return
        orphaned = pr.state in DEPLOYED and pr.vendors and not pr.live_vendors()
        if orphaned and (not self.owns(pr) or pr.tech.orphan_factor == 0):
            self._end(pr, t, "service_disrupted")  # the debts, if any, run on: stranded
            return
        if pr.state == "pilot" and pr.units > 0 and not self._halted(pr, t):
            self._measure(pr)
        if t < pr.next_event or self._halted(pr, t):
            return
        if pr.state == "procuring":
            self._award(pr, t)
        elif pr.state == "approval":
            if pol.pilot.enabled:
                units = max(1.0, round(pol.pilot.share_of_units * pr.units_target))
                if self._fund(pr, units, t):
                    pr.state, pr.pilot_start, pr.deploy_start = "pilot", t, t
                    pr.pilot_units = units
                    pr.next_event = t + pol.pilot.months
                    m.record(pr, "pilot_start", units=units, instrument=pr.instrument)
                else:
                    pr.next_event = t + 1
            else:
                pr.state, pr.pilot_start, pr.deploy_start = "scaling", t, t
                pr.tranches_left = pol.pilot.tranches
                pr.next_event = t
                self._advance(pr, t)
        elif pr.state == "pilot":
            self._evaluate(pr, t)
        elif pr.state == "scale_approval":
            pr.state, pr.tranches_left, pr.next_event = "scaling", pol.pilot.tranches, t
            self._advance(pr, t)
        elif pr.state == "scaling":
            units = (pr.units_target - pr.units) / max(pr.tranches_left, 1)
            if self._fund(pr, units, t):
                pr.tranches_left -= 1
                pr.next_event = t + pol.pilot.tranche_months
                m.record(pr, "tranche", units=units, coverage=pr.coverage,
                         instrument=pr.instrument)
                if pr.deploy_start < 0:
                    pr.deploy_start = t
                if pr.tranches_left <= 0:
                    pr.state = "operating"
                    m.record(pr, "operating", coverage=pr.coverage)
            else:
                pr.stalled_months += 1
                pr.next_event = t + 1
                if pr.stalled_months > FINANCING_PATIENCE:
                    pr.state = "operating"
                    m.record(pr, "financing_exhausted", coverage=pr.coverage)
            if pr.scaled_month < 0 and pr.coverage >= 0.5:
                pr.scaled_month = t
                m.record(pr, "scaled", months=t - pr.pilot_start)
                if m.consortium:
                    m.proven_domains.add(pr.domain)
        elif pr.state == "operating":
            life_end = pr.deploy_start + int(pr.tech.lifetime_years * 12)
            arr = pr.arrangements[0] if pr.arrangements else None
            if t >= life_end:
                if not self._renew(pr, t):
                    self._end(pr, t, "end_of_life")
            elif arr is not None and t >= arr.term_end:
                self._hand_back(pr, arr, t)

    def owns(self, pr: Project) -> bool:
        """Whether the city owns (and runs) a project's equipment."""
        return not pr.arrangements or pr.arrangements[0].owner == "city"

    def _halted(self, pr: Project, t: int) -> bool:
        return t < pr.halted_until

    def _award(self, pr: Project, t: int) -> None:
        m = self.model
        pol, w = m.scenario.policy, m.scenario.world
        result = procurement.award(
            pr.mode, pr.domain, m.vendors, partners=pol.procurement.technology_partners,
            interop_min=pol.procurement.interoperability_min,
            integrator=pol.procurement.integrator, discount=w.procurement.framework_discount,
            rng=m.rng_market)
        if result is None:
            m.record(pr, "no_bidder")
            pr.next_event = t + 6
            return
        pr.vendors, pr.integrator = list(result.vendors), result.integrator
        pr.price_per_unit, pr.claim = result.price_per_unit, result.claim
        pr.system_factor = result.system_factor
        alpha = w.stress.cost_overrun_alpha
        pr.overrun = float((1 - m.rng_market.random()) ** (-1 / alpha)) if alpha > 0 else 1.0
        if pol.contracts.energy_contract == "guaranteed_savings" and \
                pr.tech.benefit_type in ("energy", "leakage"):
            pr.price_per_unit *= 1.05  # the vendor prices the savings guarantee
        pr.mu = pr.claim * (1 - pol.pilot.optimism_haircut)
        pr.sd = pol.pilot.prior_sd
        key = (pr.domain, pr.lead.unique_id)
        pr.evidence_key = key if m.consortium and self.spec.consortium_member else (self.name, *key)
        pr.state = "approval"
        pr.next_event = t + m.regulator.approval_delay(pol.governance.sandbox)
        m.record(pr, "award", vendors=[v.name for v in pr.vendors], price=pr.price_per_unit,
                 claim=pr.claim)

    # ------------------------------------------------------------------ evaluation

    def _measure(self, pr: Project) -> None:
        """One month of pilot measurements, pooled in the (shared) evidence store."""
        m = self.model
        sigma = pr.tech.measurement_noise_sd
        var = (COMMON_NOISE * sigma) ** 2 + sigma**2 / max(pr.units, 1.0)
        x = self.theta(pr) + m.rng_measure.normal(0.0, np.sqrt(var))
        ev = m.evidence.setdefault(pr.evidence_key, [0.0, 0.0])
        ev[0] += 1.0 / var
        ev[1] += x / var

    def _posterior(self, pr: Project) -> tuple[float, float]:
        prec, weighted = self.model.evidence.get(pr.evidence_key, [0.0, 0.0])
        if prec <= 0:
            return pr.mu, pr.sd
        # n measurements of variance 1/prec each, mean weighted/prec, is one of variance 1/prec
        return posterior(pr.mu, pr.sd, 1.0, weighted / prec, np.sqrt(1.0 / prec))

    def break_even(self, pr: Project) -> float:
        """Performance at which scaling pays (city's view: cash plus public value)."""
        m = self.model
        r = m.scenario.world.macro.discount_rate_annual
        life = int(pr.tech.lifetime_years * 12)
        nominal = self.cash_per_unit(pr.tech) + self.welfare_per_unit(pr.tech)
        opex = pr.tech.opex_per_unit_month_usd * (1 + m.scenario.world.vendors.margin)
        return break_even_performance(pr.price_per_unit, pv_monthly(opex, r, life),
                                      pv_monthly(nominal, r, life))

    def _evaluate(self, pr: Project, t: int) -> None:
        m = self.model
        pol = m.scenario.policy
        mu, sd = self._posterior(pr)
        p_good = prob_above(mu, sd, self.break_even(pr))
        delay = int(round(procurement.governance_delay(1.0, pol.governance,
                                                       m.scenario.world.procurement)))
        if p_good >= pol.pilot.scale_probability:
            pr.state = "scale_approval"
            pr.kpi_target = mu  # the pilot's evidence sets a realistic contract target
            pr.next_event = t + delay + m.regulator.approval_delay(pol.governance.sandbox)
            m.record(pr, "pilot_scale", p=p_good, mu=mu, sd=sd)
        elif p_good < pol.pilot.stop_probability or pr.extensions >= pol.pilot.max_extensions:
            m.record(pr, "pilot_stopped", p=p_good, mu=mu, sd=sd)
            self._end(pr, t, "stopped")
        else:
            pr.extensions += 1
            pr.next_event = t + pol.pilot.months
            m.record(pr, "pilot_extended", p=p_good, mu=mu, sd=sd)

    def _end(self, pr: Project, t: int, why: str) -> None:
        m = self.model
        pr.state = "stopped" if why == "stopped" else "ended"
        pr.end_month = t
        pr.units = 0.0
        for arr in pr.arrangements:
            arr.term_end = min(arr.term_end, t)
        if why != "stopped":
            m.record(pr, why)
            if t < m.horizon - 24 and pr.domain not in self.queue:
                self.queue.append(pr.domain)  # renewal or re-procurement

    def _renew(self, pr: Project, t: int) -> bool:
        """End of the equipment's life: replace it in place with the same partner.

        A proven deployment whose partner is still in business is renewed
        without a new procurement or pilot: the replacement is financed like a
        tranche and the equipment's life starts again. Otherwise the project ends
        and the city procures the domain again.
        """
        if not pr.live_vendors() or pr.units <= 0:
            return False
        units, pr.units = pr.units, 0.0
        if not self.fund(pr, units, t):
            pr.units = units
            return False
        pr.deploy_start = t
        self.model.record(pr, "renewed", units=units, instrument=pr.instrument)
        return True

    def _hand_back(self, pr: Project, arr: Arrangement, t: int) -> None:
        """Contract end: ownership passes to the city (or the equipment goes back)."""
        m = self.model
        if arr.instrument == "as_a_service":
            choice = m.scenario.policy.financing.vendor.end_of_term
            if choice == "return":
                self._end(pr, t, "returned")
                return
            if choice == "upgrade":
                arr.term_end = t + m.scenario.policy.financing.vendor.term_years * 12
                m.record(pr, "upgraded")
                return
            residual = pr.price_per_unit * pr.units * max(
                0.0, 1 - (t - pr.deploy_start) / (pr.tech.lifetime_years * 12))
            if pr.live_vendors():
                m.ledger.transfer(t, self.general, pr.lead.account, residual, "capex", pr.pid)
        if arr.instrument == "ppp":
            rest = m.ledger.balance(arr.vehicle)
            if rest > 0:
                m.ledger.transfer(t, arr.vehicle, arr.equity_investor, rest, "dividend", pr.pid)
        arr.owner, arr.vendor_share, arr.fee_per_unit_month = "city", 0.0, 0.0
        arr.term_end = 10**9
        m.record(pr, "hand_back", instrument=arr.instrument)

    # ------------------------------------------------------------------ per-unit economics

    def users_per_unit(self, tech: Technology) -> float:
        """Expected users a unit serves (projection)."""
        units = tech.units_per_1000_residents * self.spec.population / 1000
        return tech.market_potential * EXPECTED_UPTAKE * self.spec.population / units

    def cash_per_unit(self, tech: Technology) -> float:
        """Nominal monthly cash per unit at full performance (projection)."""
        if tech.benefit_type == "user_fees":
            return tech.fee_per_user_month_usd * self.users_per_unit(tech)
        if tech.benefit_type == "advertising":
            return tech.benefit_per_unit_month_usd
        if tech.benefit_type == "time_saved":
            return 0.0
        return tech.benefit_per_unit_month_usd

    def welfare_per_unit(self, tech: Technology) -> float:
        """Nominal monthly public (non-cash) value per unit (projection)."""
        value = tech.benefit_per_unit_month_usd if tech.benefit_type == "time_saved" else 0.0
        if tech.user_facing:
            value += tech.welfare_per_user_month_usd * self.users_per_unit(tech)
        return value

    def theta(self, pr: Project) -> float:
        """Realised performance this month (0 when halted; degraded when orphaned)."""
        m = self.model
        factor = m.scenario.world.stress.performance_factor
        if self._halted(pr, m.month):
            return 0.0
        if not pr.live_vendors():
            if pr.arrangements and pr.arrangements[0].owner != "city":
                return 0.0
            theta = float(np.mean([v.true_perf[pr.domain] for v in pr.vendors]))
            return theta * pr.system_factor * factor * pr.tech.orphan_factor
        return pr.true_performance(factor)

    # ------------------------------------------------------------------ financing

    def _preferences(self, pr: Project) -> list[str]:
        fin = self.model.scenario.policy.financing
        return list(fin.by_domain.get(pr.domain, fin.preference))

    def _fund(self, pr: Project, units: float, t: int) -> bool:
        """Finance and build ``units`` of a project; False when no instrument fits."""
        ok = self.fund(pr, units, t)
        if not ok:
            self.financing_failures += 1
            self.model.record(pr, "financing_failed", units=units)
        return ok

    # ------------------------------------------------------------------ operations

    def _pay_retentions(self, t: int) -> None:
        m = self.model
        pol = m.scenario.policy.contracts
        for pid, start, end, monthly in self.retentions:
            if start <= t < end:
                pr = m.project_by_id[pid]
                vendor = pr.live_vendors()[0] if pr.live_vendors() else None
                if vendor is None or pr.state == "stopped":
                    continue
                g = contracts.payment_factor(pol.payment, pr.measured_kpi, pol.kpi_threshold)
                m.ledger.transfer(t, self.general, vendor.account, monthly * g, "capex", pid)

    def _pay_debts(self, t: int) -> None:
        for debt in self.debts:
            self.pay_debt(debt, t)

    def vendor_for(self, pr: Project) -> Vendor | None:
        """The partner that gets paid: the lead if solvent, else another live partner."""
        live = pr.live_vendors()
        return live[0] if live else None

    def annual_revenue(self) -> float:
        """Current general revenue, annualised."""
        return self.revenue_month * 12
