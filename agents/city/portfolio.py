"""A city's project portfolio: each project moved through its lifecycle when its wait is over.

procuring -> approval -> pilot -> (scale | extend | stop) -> scale_approval ->
scaling (tranches) -> operating -> end of life (renewal in place) or end of
contract (hand-back), as in :mod:`sim.mechanisms.lifecycle`. Pilots are
measured every month and evaluated at the end of each pilot period
(:mod:`sim.mechanisms.pilots`); decisions wait for governance delays and
regulatory approval; tranches wait for finance (a stalled tranche is retried
monthly for ``FINANCING_PATIENCE`` months before the project settles where it
is). A project whose vendors are gone ends unless the city owns a system that
still works without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agents.city.economics import Economics
from agents.city.financing import Financing
from agents.city.procurement_office import ProcurementOffice
from agents.city.treasury import Treasury
from agents.outbox import Outbox
from sim.instruments import ppp, vendor_finance
from sim.instruments.base import Arrangement
from sim.instruments.catalogue import PARTNER_FUNDED
from sim.mechanisms import governance, pilots, procurement
from sim.mechanisms.lifecycle import DEPLOYED, Project

if TYPE_CHECKING:
    from agents.view import ModelView

#: Months a stalled financing is retried before the project settles where it is.
FINANCING_PATIENCE = 12


class Portfolio:
    """Moves a city's projects through their lifecycle."""

    def __init__(
        self,
        model: ModelView,
        projects: list[Project],
        treasury: Treasury,
        financing: Financing,
        office: ProcurementOffice,
        economics: Economics,
        outbox: Outbox,
    ) -> None:
        """Attach to the city's parts.

        Args:
            model: The model.
            projects: The city's projects.
            treasury: Its treasury (failures counted, hand-backs booked).
            financing: Its financing (finances tranches).
            office: Its procurement office (awards, requeues).
            economics: Its projections (break-even performance).
            outbox: Where events go.
        """
        self.model = model
        self.projects, self.treasury, self.office = projects, treasury, office
        self.financing = financing
        self.economics, self.outbox = economics, outbox
        self._handlers = {
            "procuring": self._procuring,
            "approval": self._approval,
            "pilot": self._evaluate,
            "scale_approval": self._scale_approval,
            "scaling": self._scaling,
            "operating": self._operating,
        }

    def belief(self, pr: Project) -> tuple[float, float]:
        """The city's posterior mean and sd of a project's performance."""
        return self.model.consortium.evidence.posterior(pr.evidence_key, pr.mu, pr.sd)

    def advance_all(self, t: int) -> None:
        """Advance every project (those started this month wait for next month).

        Args:
            t: Month.
        """
        for pr in list(self.projects):
            self.advance(pr, t)

    def advance(self, pr: Project, t: int) -> None:
        """Move a project on when its current wait is over.

        Args:
            pr: The project.
            t: Month.
        """
        if pr.state in ("stopped", "ended"):
            return
        orphaned = pr.state in DEPLOYED and pr.vendors and not pr.live_vendors()
        if orphaned and (not pr.owned_by_city() or pr.tech.orphan_factor == 0):
            self._end(pr, t, "service_disrupted")  # the debts, if any, run on: stranded
            return
        if pr.state in DEPLOYED and len(pr.vendors) > 1 and not orphaned:
            self._partner_exits(pr, t)
        halted = pr.halted(t)
        if pr.state == "pilot" and pr.units > 0 and not halted:
            self.model.consortium.evidence.measure(
                pr.evidence_key,
                pr.pid,
                pr.performance(t, self.model.scenario.world.stress.performance_factor),
                pr.tech.measurement_noise_sd,
                pr.units,
                self.model.rng_measure,
                bias=pr.pilot_bias,
            )
        if t < pr.next_event or halted:
            return
        self._handlers[pr.state](pr, t)

    # ------------------------------------------------------------------ states

    def _procuring(self, pr: Project, t: int) -> None:
        self.office.award(pr, t)

    def _approval(self, pr: Project, t: int) -> None:
        pol = self.model.scenario.policy
        if t < pr.start_after:  # a replacement deploys when the old equipment ends
            pr.next_event = pr.start_after
            return
        if pr.replaces < 0 and not self.model.regulator.decide(pr):
            self._end(pr, t, "refused")
            return
        if not pol.pilot.enabled or pr.proven:  # straight to scale-up
            pr.state, pr.pilot_start, pr.deploy_start = "scaling", t, t
            pr.tranches_left = 1 if pr.replaces >= 0 else pol.pilot.tranches
            pr.next_event = t
            self.advance(pr, t)
            return
        units = max(1.0, round(pol.pilot.share_of_units * pr.units_target))
        if self._fund(pr, units, t):
            pr.state, pr.pilot_start, pr.deploy_start = "pilot", t, t
            pr.pilot_units = units
            bias = self.model.scenario.world.pilots
            pr.pilot_bias = float(self.model.rng_measure.normal(bias.bias_mean, bias.bias_sd))
            pr.next_event = t + pol.pilot.months
            self.outbox.note(pr, "pilot_start", units=units, instrument=pr.instrument)
        else:
            pr.next_event = t + 1

    def _evaluate(self, pr: Project, t: int) -> None:
        m = self.model
        pol = m.scenario.policy
        mu, sd = self.belief(pr)
        p_good = pilots.prob_above(
            mu, sd, self.economics.break_even(pr, self.financing.scaling_terms(pr))
        )
        delay = int(round(governance.delay(1.0, pol.governance, m.scenario.world.procurement)))
        decision = pilots.decide(p_good, pr.extensions, pol.pilot)
        if decision != pilots.EXTEND:
            pr.pilot_end = t
        if decision == pilots.SCALE:
            pr.state = "scale_approval"
            pr.kpi_target = mu  # the pilot's evidence sets a realistic contract target
            pr.next_event = t + delay + m.regulator.approval_delay(pol.governance.sandbox)
            self.outbox.note(pr, "pilot_scale", p=p_good, mu=mu, sd=sd)
        elif decision == pilots.STOP:
            self.outbox.note(pr, "pilot_stopped", p=p_good, mu=mu, sd=sd)
            self._end(pr, t, "stopped")
        else:
            pr.extensions += 1
            pr.next_event = t + pol.pilot.months
            self.outbox.note(pr, "pilot_extended", p=p_good, mu=mu, sd=sd)

    def _scale_approval(self, pr: Project, t: int) -> None:
        if not self.model.regulator.decide(pr):  # the pilot's units come down
            self._end(pr, t, "refused")
            return
        pr.state, pr.tranches_left, pr.next_event = (
            "scaling",
            self.model.scenario.policy.pilot.tranches,
            t,
        )
        self.advance(pr, t)

    def _scaling(self, pr: Project, t: int) -> None:
        pilot = self.model.scenario.policy.pilot
        if pr.replaces < 0 and self.treasury.budget.below_floor():  # the budget rule defers
            pr.next_event = t + 1
            return
        units = (pr.units_target - pr.units) / max(pr.tranches_left, 1)
        if self._fund(pr, units, t):
            pr.tranches_left -= 1
            pr.next_event = t + pilot.tranche_months
            self.outbox.note(
                pr, "tranche", units=units, coverage=pr.coverage, instrument=pr.instrument
            )
            if pr.deploy_start < 0:
                pr.deploy_start = t
            if pr.tranches_left <= 0:
                pr.state = "operating"
                self.outbox.note(pr, "operating", coverage=pr.coverage)
        else:
            pr.stalled_months += 1
            pr.next_event = t + 1
            if pr.stalled_months > FINANCING_PATIENCE:
                pr.state = "operating"
                self.outbox.note(pr, "financing_exhausted", coverage=pr.coverage)
        if pr.scaled_month < 0 and pr.coverage >= 0.5:
            pr.scaled_month = t
            self.outbox.note(pr, "scaled", months=t - pr.pilot_start)
            self.model.consortium.proven_by(pr.domain)
            self.office.proven.add(pr.domain)

    def _operating(self, pr: Project, t: int) -> None:
        life_end = pr.deploy_start + int(pr.tech.lifetime_years * 12)
        arr = pr.arrangements[0] if pr.arrangements else None
        lead = self.model.scenario.policy.procurement.renewal_lead_months
        if t >= life_end - lead and pr.successor < 0 and not pr.live_vendors():
            # no partner to renew in place with: re-procure ahead, so the service goes on
            pr.successor = self.office.procure_replacement(pr, t, max(life_end, t + 1)).pid
        if t >= life_end:
            if pr.successor >= 0 or not self._renew(pr, t):
                self._end(pr, t, "end_of_life")
        elif arr is not None and t >= arr.term_end:
            self._hand_back(pr, arr, t)

    def _partner_exits(self, pr: Project, t: int) -> None:
        """A partner left a multi-partner project: transition cost, disruption, re-procurement.

        The city pays ``exit_transition_share`` of the contract's remaining value (the
        O&M still to come over the equipment's life) and re-procures the partner
        through its own procurement mode; until then the lost partner's part of the
        service is not delivered (``Project.true_performance``).
        """
        lost = sum(not v.solvent for v in pr.vendors)
        if lost <= pr.partners_lost:
            return
        m = self.model
        w, pol = m.scenario.world, m.scenario.policy
        pr.partners_lost = lost
        months_left = max(pr.deploy_start + int(pr.tech.lifetime_years * 12) - t, 0)
        remaining = self.economics.om_per_unit(pr.tech) * pr.units * months_left
        cost = w.vendors.exit_transition_share * remaining
        m.ledger.transfer(
            t, self.treasury.general, m.accounts["market"], cost, "transition", pr.pid
        )
        months = procurement.duration(
            pol.procurement.mode, w.procurement, pol.governance, m.rng_market
        )
        pr.disrupted_until = t + months
        self.outbox.note(pr, "partner_exit", cost=cost, disrupted_months=months)

    # ------------------------------------------------------------------ helpers

    def _fund(self, pr: Project, units: float, t: int) -> bool:
        """Finance and build ``units``; a failure is counted and noted."""
        ok = self.financing.fund(pr, units, t)
        if not ok:
            self.treasury.financing_failures += 1
            self.outbox.note(pr, "financing_failed", units=units)
        return ok

    def _end(self, pr: Project, t: int, why: str) -> None:
        pr.state = "stopped" if why == "stopped" else "ended"
        pr.end_month = t
        pr.units = 0.0
        for arr in pr.arrangements:
            arr.term_end = min(arr.term_end, t)
        if why not in ("stopped", "refused"):  # a refused domain is not procured again
            self.outbox.note(pr, why)
            if pr.successor < 0:  # re-procurement (a replacement was not procured ahead)
                self.office.requeue(pr.domain, t)

    def _renew(self, pr: Project, t: int) -> bool:
        """End of the equipment's life: replace it in place with the same partner.

        A proven deployment whose partner is still in business is renewed
        without a new procurement or pilot: the replacement is financed like a
        tranche and the equipment's life starts again. Otherwise the project ends
        and the city procures the domain again.
        """
        if not pr.live_vendors() or pr.units <= 0:
            return False
        if (
            pr.arrangements
            and pr.owned_by_city()
            and pr.arrangements[0].instrument in (PARTNER_FUNDED)
        ):  # the partner's contract ended at hand-back: the renewal is a new contract
            pr.arrangements.clear()
        units, pr.units = pr.units, 0.0
        if not self.financing.fund(pr, units, t):
            pr.units = units
            return False
        pr.deploy_start = t
        self.outbox.note(pr, "renewed", units=units, instrument=pr.instrument)
        return True

    def _hand_back(self, pr: Project, arr: Arrangement, t: int) -> None:
        """Contract end: ownership passes to the city (or the equipment goes back)."""
        tr = self.treasury
        if arr.instrument == vendor_finance.SERVICE:
            lead = pr.lead if pr.live_vendors() else None
            choice = vendor_finance.end_of_term(
                tr, pr, arr, t, self.model.scenario.policy.financing.vendor, lead, pr.deploy_start
            )
            if choice == "return":
                self._end(pr, t, "returned")
                return
            if choice == "upgrade":
                self.outbox.note(pr, "upgraded")
                return
        if arr.instrument == ppp.NAME:
            ppp.pay_dividends(tr, pr, arr, t, keep_next=False)
        arr.to_city()
        self.outbox.note(pr, "hand_back", instrument=arr.instrument)
