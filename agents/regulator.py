"""The regulator: approval delays before pilots and scale-ups, incidents and halts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa
import numpy as np

from agents.outbox import Outbox

if TYPE_CHECKING:
    from agents.view import ModelView
    from sim.mechanisms.lifecycle import Project


class Regulator(mesa.Agent):
    """Approves or refuses pilots and scale-ups, with a delay; halts deployments after incidents.

    The approval delay is exponential with the world's mean, multiplied by the
    stress overlay's factor and, in a regulatory sandbox, by the sandbox
    factor. When the delay is over it may refuse: with probability
    ``1 - exp(-rejection_rate x privacy_sensitivity x (1 + incidents in the
    domain so far))``, so surveillance-heavy services are refused more often,
    and more so after incidents (a sandbox shortens the wait, it does not
    waive the decision). Each month every deployed project may cause a public incident with
    the domain's hazard (scaled by deployment and the overlay's factor); an
    incident halts the project's operation for ``halt_months`` (shorter in a
    sandbox) and costs the district's residents trust (social licence).
    """

    def __init__(self, model: ModelView) -> None:
        """Start with an empty record.

        Args:
            model: The model.
        """
        super().__init__(model)
        self.name = "regulator"
        self.world = model.scenario.world
        self.stream = model.rng_regulator
        self.outbox = Outbox()
        self.account = model.ledger.open_account(self.name, "regulator")
        self.incidents = 0
        self.halts = 0
        self.approvals = 0
        self.refusals = 0
        self.incidents_by_domain: dict[str, int] = {}

    def _factor(self, city_sandbox: bool) -> float:
        return self.world.regulator.sandbox_factor if city_sandbox else 1.0

    def approval_delay(self, sandbox: bool) -> int:
        """Months until an approval requested now is granted.

        Args:
            sandbox: The city runs a regulatory sandbox.

        Returns:
            Whole months (at least 0).
        """
        w = self.world
        mean = (
            w.regulator.approval_months_mean
            * w.stress.approval_delay_factor
            * self._factor(sandbox)
        )
        self.approvals += 1
        return int(np.ceil(self.stream.exponential(mean))) if mean > 0 else 0

    def refusal_probability(self, project: Project) -> float:
        """Chance the regulator refuses an approval of ``project`` now.

        Args:
            project: The project asking for approval.

        Returns:
            ``1 - exp(-rejection_rate x privacy_sensitivity x (1 + incidents in its domain))``.
        """
        seen = self.incidents_by_domain.get(project.domain, 0)
        x = self.world.regulator.rejection_rate * project.tech.privacy_sensitivity * (1 + seen)
        return float(-np.expm1(-x))

    def decide(self, project: Project) -> bool:
        """Approve or refuse ``project`` once its approval delay is over.

        Args:
            project: The project asking for approval.

        Returns:
            True when approved; a refusal is noted (``approval_refused``).
        """
        p = self.refusal_probability(project)
        if self.stream.random() >= p:  # drawn for every decision, so streams stay aligned
            return True
        self.refusals += 1
        self.outbox.note(project, "approval_refused", p=p)
        return False

    def check_incident(self, project: Project, sandbox: bool, month: int) -> bool:
        """Draw this month's incident for an operating project; halt it if one happens.

        Args:
            project: A project with deployed units.
            sandbox: The city runs a regulatory sandbox.
            month: The month.

        Returns:
            True when an incident happened.
        """
        w = self.world
        hazard = (
            project.tech.incident_hazard_monthly
            * w.stress.incident_hazard_factor
            * min(1.0, project.coverage * 2.0)
        )
        if self.stream.random() >= hazard:
            return False
        self.incidents += 1
        seen = self.incidents_by_domain.get(project.domain, 0)
        self.incidents_by_domain[project.domain] = seen + 1
        self.halts += 1
        project.halted_until = month + int(np.ceil(w.regulator.halt_months * self._factor(sandbox)))
        self.outbox.note(project, "incident_halt", until=project.halted_until)
        return True
