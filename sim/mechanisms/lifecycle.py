"""Projects and their lifecycle; Bayesian pilot evaluation.

need -> procuring -> approval -> pilot -> (evaluate: scale | extend | stop)
     -> scale_approval -> scaling (tranches) -> operating -> ended (hand-back)

Without pilots (the traditional approach) a project goes from approval
straight to scaling. A project may be halted (incident) or lose its vendor at
any operating stage; at the end of the equipment's life or contract it ends.

Evaluation is Normal-Normal Bayesian updating (MODEL.md, Project lifecycle)::

    mu1 = (mu0/s0^2 + n*xbar/s^2) / (1/s0^2 + n/s^2),   s1^2 = 1 / (1/s0^2 + n/s^2)

where the city's prior mu0 is the vendor's claim less an optimism haircut and
each pilot unit-month is a measurement with noise s. The city scales when
P(NPV of scaling > 0 | data) = P(theta > theta*) = Phi((mu1 - theta*)/s1)
reaches the policy's threshold, with theta* the break-even performance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from agents.vendor import Vendor
    from sim.config.schema import Technology

STATES = ("procuring", "approval", "pilot", "scale_approval", "scaling", "operating",
          "stopped", "ended")
ACTIVE = frozenset({"procuring", "approval", "pilot", "scale_approval", "scaling"})
DEPLOYED = frozenset({"pilot", "scale_approval", "scaling", "operating"})


def posterior(mu0: float, s0: float, n: float, xbar: float, s: float) -> tuple[float, float]:
    """Normal-Normal update of a mean with known measurement noise.

    Args:
        mu0: Prior mean.
        s0: Prior standard deviation.
        n: Number of measurements.
        xbar: Their mean.
        s: Standard deviation of one measurement.

    Returns:
        (posterior mean, posterior standard deviation).
    """
    if n <= 0:
        return mu0, s0
    precision = 1.0 / s0**2 + n / s**2
    mu1 = (mu0 / s0**2 + n * xbar / s**2) / precision
    return mu1, math.sqrt(1.0 / precision)


def prob_above(mu: float, sd: float, threshold: float) -> float:
    """P(X > threshold) for X ~ Normal(mu, sd).

    Args:
        mu: Mean.
        sd: Standard deviation.
        threshold: The bar.

    Returns:
        The probability.
    """
    if sd <= 0:
        return float(mu > threshold)
    return 0.5 * math.erfc((threshold - mu) / (sd * math.sqrt(2.0)))


def break_even_performance(capex_per_unit: float, opex_pv_per_unit: float,
                           benefit_pv_per_unit: float) -> float:
    """Performance (fraction of nominal benefit) at which scaling breaks even.

    NPV(theta) = theta * PV(benefit) - capex - PV(opex) is linear in theta, so
    NPV > 0 exactly when theta > (capex + PV(opex)) / PV(benefit).

    Args:
        capex_per_unit: Price per unit.
        opex_pv_per_unit: PV of a unit's running costs over its life.
        benefit_pv_per_unit: PV of a unit's nominal benefit over its life.

    Returns:
        The break-even theta (``inf`` when there is no benefit).
    """
    if benefit_pv_per_unit <= 0:
        return math.inf
    return (capex_per_unit + opex_pv_per_unit) / benefit_pv_per_unit


@dataclass
class Project:
    """One city's project in one technology domain."""

    pid: int
    city: str
    domain: str
    tech: Technology
    units_target: float
    state: str = "procuring"
    mode: str = "rfp"
    started: int = 0
    vendors: list[Vendor] = field(default_factory=list)
    integrator: Vendor | None = None
    price_per_unit: float = 0.0
    claim: float = 1.0
    system_factor: float = 1.0
    instrument: str = ""
    units: float = 0.0
    pilot_units: float = 0.0
    next_event: int = 0  # month when the current stage's wait ends
    pilot_start: int = -1
    deploy_start: int = -1
    scaled_month: int = -1
    end_month: int = -1
    extensions: int = 0  # pilot extensions
    stalled_months: int = 0  # months a tranche waited for finance
    tranches_left: int = 0
    mu: float = 1.0
    sd: float = 1.0
    n_obs: float = 0.0
    sum_obs: float = 0.0
    halted_until: int = -1
    capex_city: float = 0.0
    capex_total: float = 0.0
    arrangements: list[Any] = field(default_factory=list)
    measured_kpi: float = 1.0
    kpi_target: float = 0.0  # performance the contract pays in full for (0 = the claim)
    kpi_history: list[float] = field(default_factory=list)
    evidence_key: tuple = ()
    overrun: float = 1.0
    account: int = -1  # the project's own fund (revenue-bond projects), else -1

    @property
    def coverage(self) -> float:
        """Share of the target units deployed."""
        return min(1.0, self.units / self.units_target) if self.units_target > 0 else 0.0

    @property
    def lead(self) -> Vendor | None:
        """The lead vendor (first partner), if any."""
        return self.vendors[0] if self.vendors else None

    def live_vendors(self) -> list[Vendor]:
        """Partners still in business."""
        return [v for v in self.vendors if v.solvent]

    def true_performance(self, performance_factor: float) -> float:
        """Realised performance: partners' mean true performance x system factor x stress.

        Args:
            performance_factor: The underperformance overlay's multiplier.

        Returns:
            Fraction of the catalogue's nominal benefit actually delivered.
        """
        live = self.live_vendors()
        if not live:
            return 0.0
        theta = sum(v.true_perf[self.domain] for v in live) / len(live)
        return theta * self.system_factor * performance_factor

    def coverage_by_district(self, n_districts: int) -> np.ndarray:
        """Coverage of each district: units fill districts one after another.

        Args:
            n_districts: Districts in the city.

        Returns:
            Array of coverage fractions (0-1).
        """
        filled = self.coverage * n_districts
        return np.clip(filled - np.arange(n_districts), 0.0, 1.0)
