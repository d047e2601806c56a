"""Pilots as experiments: noisy measurements, Bayesian evaluation, scale / extend / stop.

The city's prior on a technology's performance is centred on the vendor's
claim less an optimism haircut. Each month of a running pilot adds one
measurement of the realised performance plus the pilot's persistent bias, with
noise of variance ``s^2 / units`` (``s`` the domain's ``measurement_noise_sd``),
pooled by evidence key in an :class:`Evidence` store (one per consortium, whose
members share it; other cities key theirs by city). The posterior is
Normal-Normal (MODEL.md, Project lifecycle)::

    mu1 = (mu0/s0^2 + n*xbar/s^2) / (1/s0^2 + n/s^2),   s1^2 = 1 / (1/s0^2 + n/s^2)

and the city scales when ``P(theta > theta*) = Phi((mu1 - theta*)/s1)``, with
``theta*`` the break-even performance, reaches its threshold; it stops below
the stop threshold or after the last extension, and extends otherwise.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sim.config.schema import Pilot

SCALE, EXTEND, STOP = "scale", "extend", "stop"


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


def break_even_performance(
    capex_per_unit: float, opex_pv_per_unit: float, benefit_pv_per_unit: float
) -> float:
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


class Evidence:
    """Pilot measurements pooled by key, kept per pilot (each has its own persistent bias).

    A pilot's month of data is ``theta + b + e``: ``b`` is the pilot's bias (site
    selection, vendor attention), drawn once when the pilot starts and the same
    every month, and ``e`` is noise of variance ``s^2 / units``. Months average the
    noise away but not the bias, so a pilot's estimate of ``theta`` has variance
    ``bias_sd^2 + 1 / sum(units / s^2)``: evidence grows with a pilot's size and
    length up to the floor the bias sets, and further only with more pilots
    (shared in a consortium). The city knows how widely pilots' biases spread
    (``bias_sd``) but not their mean, so pilots that flatter mislead it.
    """

    def __init__(self, bias_sd: float = 0.0) -> None:
        """Start empty.

        Args:
            bias_sd: Standard deviation of pilots' bias that the city allows for.
        """
        self.bias_sd = bias_sd
        self._pool: dict[tuple, dict[int, list[float]]] = {}

    def keys(self) -> list[tuple]:
        """The evidence keys with measurements."""
        return list(self._pool)

    def measure(
        self,
        key: tuple,
        pilot: int,
        theta: float,
        noise_sd: float,
        units: float,
        rng: np.random.Generator,
        bias: float = 0.0,
    ) -> None:
        """Add one month's measurement of a pilot whose realised performance is ``theta``.

        Args:
            key: Evidence key (domain and lead vendor; per city unless shared).
            pilot: The pilot (its project id).
            theta: Realised performance this month.
            noise_sd: The domain's measurement noise of one unit.
            units: Units in the pilot.
            rng: The measurement stream.
            bias: The pilot's persistent bias.
        """
        var = noise_sd**2 / max(units, 1.0)
        x = theta + bias + rng.normal(0.0, np.sqrt(var))
        ev = self._pool.setdefault(key, {}).setdefault(pilot, [0.0, 0.0])
        ev[0] += 1.0 / var
        ev[1] += x / var

    def posterior(self, key: tuple, mu0: float, sd0: float) -> tuple[float, float]:
        """Posterior mean and sd of performance given the prior and every pilot's evidence.

        Args:
            key: Evidence key.
            mu0: Prior mean.
            sd0: Prior sd.

        Returns:
            (mean, sd); the prior when there is no evidence yet.
        """
        mu, sd = mu0, sd0
        for prec, weighted in self._pool.get(key, {}).values():
            # one pilot: its months' mean, with the bias's variance on top of the noise's
            mu, sd = posterior(mu, sd, 1.0, weighted / prec, np.sqrt(self.bias_sd**2 + 1.0 / prec))
        return mu, sd


def decide(p_good: float, extensions: int, pilot: Pilot) -> str:
    """Scale, extend or stop a pilot given P(NPV of scaling > 0 | data).

    Args:
        p_good: Probability that scaling pays.
        extensions: Extensions already granted.
        pilot: The policy's pilot block.

    Returns:
        ``"scale"``, ``"extend"`` or ``"stop"``.
    """
    if p_good >= pilot.scale_probability:
        return SCALE
    if p_good < pilot.stop_probability or extensions >= pilot.max_extensions:
        return STOP
    return EXTEND
