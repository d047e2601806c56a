"""A city's procurement office: it starts projects from the queue and awards them.

Projects start in the order of ``policy.domains`` while the city has capacity
(:func:`sim.mechanisms.governance.capacity`). Each is procured in the policy's
mode (framework call-off only for domains the consortium's framework lists;
otherwise an RFP) and awarded by :func:`sim.mechanisms.procurement.award`; the
award sets the price, the vendors' claim, the city's prior on performance and
where the pilot's evidence is pooled, and the project waits for approval.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from agents.city.economics import Economics
from agents.outbox import Outbox
from sim.instruments import performance
from sim.mechanisms import governance, procurement
from sim.mechanisms.contracts import RiskTerms
from sim.mechanisms.lifecycle import ACTIVE, Project

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.config.schema import City as CitySpec
    from sim.core.parties import VendorLike

#: Months before a procurement without bidders is tried again.
RETRY_MONTHS = 6


class ProcurementOffice:
    """Starts and awards a city's projects."""

    def __init__(
        self,
        model: ModelView,
        name: str,
        spec: CitySpec,
        projects: list[Project],
        economics: Economics,
        outbox: Outbox,
    ) -> None:
        """Set up the queue of domains the policy pursues.

        Args:
            model: The model.
            name: The city's name.
            spec: Its block of the scenario.
            projects: The city's projects (new ones are appended).
            economics: Its projections.
            outbox: Where events and new projects go.
        """
        self.model = model
        self.name, self.spec = name, spec
        self.projects, self.economics, self.outbox = projects, economics, outbox
        self.queue = list(model.scenario.policy.domains)
        self.proven: set[str] = set()  # domains this city has scaled: no pilot again

    def start_projects(self, t: int) -> None:
        """Start procurements from the queue while the city has capacity.

        Args:
            t: Month.
        """
        m = self.model
        p = m.scenario.policy
        active = sum(1 for pr in self.projects if pr.state in ACTIVE)
        while self.queue and active < governance.capacity(p.governance):
            self._procure(self.queue.pop(0), t)
            active += 1

    def _procure(self, domain: str, t: int) -> Project:
        """Start one procurement in the policy's mode (framework only for listed domains)."""
        m = self.model
        p = m.scenario.policy
        tech = m.scenario.world.technology[domain]
        mode = p.procurement.mode
        if mode == "framework" and domain not in m.consortium.proven:
            mode = "rfp"  # the framework only lists technologies proven in a member city
        project = Project(
            m.new_project_id(),
            self.name,
            domain,
            tech,
            self.economics.units_for(tech),
            mode=mode,
            started=t,
            proven=domain in self.proven,
        )
        project.next_event = t + procurement.duration(
            mode, m.scenario.world.procurement, p.governance, m.rng_market
        )
        self.projects.append(project)
        self.outbox.started(project)
        self.outbox.note(project, "procurement_start", mode=mode)
        return project

    def procure_replacement(self, old: Project, t: int, life_end: int) -> Project:
        """Re-procure a deployment ahead of its end of life (its partner is gone).

        The replacement is a proven technology (no pilot) that deploys all its units
        when the old equipment reaches its end of life, so users carry over.

        Args:
            old: The project whose equipment ends.
            t: Month.
            life_end: The old equipment's end of life.

        Returns:
            The new project.
        """
        self.proven.add(old.domain)
        new = self._procure(old.domain, t)
        new.replaces, new.start_after = old.pid, life_end
        self.outbox.note(new, "renewal_procurement", replaces=old.pid, deploy_at=life_end)
        return new

    def requeue(self, domain: str, t: int) -> None:
        """Procure a domain again after its project ended (unless the horizon is near).

        Args:
            domain: The domain.
            t: Month.
        """
        if t < self.model.horizon - 24 and domain not in self.queue:
            self.queue.append(domain)

    def _asking(
        self, pr: Project
    ) -> Callable[[VendorLike, float], tuple[float, float] | None] | None:
        """How vendors price the performance risk of this project's contract (None: none).

        Args:
            pr: The project being awarded.

        Returns:
            ``(vendor, price) -> (asked price, claim) or None`` (declines), or None
            under a fixed-price contract without a savings guarantee.
        """
        pol, w = self.model.scenario.policy, self.model.scenario.world
        c = pol.contracts
        guaranteed = performance.guarantees_savings(c.energy_contract, pr.tech.benefit_type)
        if c.payment == "fixed_price" and not guaranteed:
            return None
        terms = RiskTerms(
            payment=c.payment,
            threshold=c.kpi_threshold,
            retention_share=c.retention_share if c.payment == "pay_for_performance" else 0.0,
            guaranteed_share=c.guaranteed_share if guaranteed else 0.0,
            guarantee_months=c.guarantee_years * 12,
            cost_of_capital=w.vendors.cost_of_capital_annual,
            risk_aversion=w.vendors.risk_aversion,
            sd_log=w.vendors.field_performance_sd,
            max_loading=w.vendors.max_risk_loading,
        )
        return lambda v, price: v.ask(pr.domain, price, terms)

    def award(self, pr: Project, t: int) -> None:
        """Select the partners; the project then waits for regulatory approval.

        Args:
            pr: A project whose procurement has run its course.
            t: Month.
        """
        m = self.model
        pol, w = m.scenario.policy, m.scenario.world
        result = procurement.award(
            pr.mode,
            pr.domain,
            list(m.vendors),
            partners=pol.procurement.technology_partners,
            interop_min=pol.procurement.interoperability_min,
            integrator=pol.procurement.integrator,
            discount=w.procurement.framework_discount,
            rng=m.rng_market,
            ask=self._asking(pr),
        )
        if result is None:
            self.outbox.note(pr, "no_bidder")
            pr.next_event = t + RETRY_MONTHS
            return
        pr.vendors, pr.integrator = list(result.vendors), result.integrator
        pr.price_per_unit, pr.claim = result.price_per_unit, result.claim
        pr.system_factor = result.system_factor
        alpha = w.stress.cost_overrun_alpha
        u = m.rng_market.random()  # drawn in every world, so the streams stay paired
        pr.overrun = float((1 - u) ** (-1 / alpha)) if alpha > 0 else 1.0
        sd = w.vendors.field_performance_sd
        pr.site_factor = float(np.exp(sd * m.rng_market.standard_normal() - 0.5 * sd**2))
        pr.mu = pr.claim * (1 - pol.pilot.optimism_haircut)
        pr.sd = pol.pilot.prior_sd
        pr.evidence_key = m.consortium.evidence_key(
            self.name, self.spec.consortium_member, pr.domain, pr.lead.unique_id
        )
        pr.state = "approval"
        pr.next_event = t + m.regulator.approval_delay(pol.governance.sandbox)
        self.outbox.note(
            pr,
            "award",
            vendors=[v.name for v in pr.vendors],
            price=pr.price_per_unit,
            claim=pr.claim,
        )
