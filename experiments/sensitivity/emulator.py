"""The emulator method: a polynomial chaos expansion per KPI, its Q2, and its Sobol indices.

``method = "emulator"`` runs a scrambled Sobol' sequence of ``n`` points (a
space-filling design that extends by appending points), averages each KPI over
the replications of each point, fits a sparse polynomial chaos expansion to
the averages (:mod:`experiments.sensitivity.pce`) and reads S1, ST and S2 from
its coefficients. The fit's validation Q2 decides whether the indices are
reported: below ``q2_threshold`` the emulator does not describe the KPI and its
indices are withheld, with one line saying why.

An index's interval combines two errors in quadrature: the coefficients'
uncertainty (indices of coefficient vectors drawn from the fit's robust HC3
covariance, :func:`experiments.sensitivity.pce.draw_indices`: the design's
finite size, the noise and the residual misfit at the design points) and
the emulator's lack of fit, ``max(0, 1 - Q2 - noise_share)``: the share of the
variance of the replication averages it misses beyond the replication noise
(an index can be off by about that much if all of it belonged to one parameter).
The noise is left out of the second term because it is in the first: it scatters
the residuals the covariance is made of, and it has no parameter to belong to.
A deterministic model (or one replication: noise not estimable) counts all of
``1 - Q2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.sensitivity import pce
from experiments.sensitivity.indices import index_rows, s2_rows
from experiments.sensitivity.plan import Plan
from experiments.sensitivity.spec import SensitivitySpec

#: The columns of ``emulator.csv`` after ``kpi`` (``runs`` is added: points x replications).
EMULATOR_COLUMNS = (
    "q2",
    "q2_cv",
    "q2_threshold",
    "reported",
    "degree",
    "terms",
    "candidates",
    "points",
    "points_half",
    "lack_of_fit",
    "noise_share",
    "replications_needed",
)


@dataclass
class EmulatorFit:
    """One KPI's emulator at N and N/2: index rows, and the fit's figures."""

    rows: list[dict[str, Any]]
    half: list[dict[str, Any]]
    n: int
    n_half: int
    info: dict[str, Any]

    @property
    def reported(self) -> bool:
        """Whether the emulator is good enough (Q2 at or above the threshold)."""
        return bool(self.info["reported"])


def _rows(
    fitted: pce.PCE,
    q2: float,
    noise_share: float,
    unit: np.ndarray,
    y: np.ndarray,
    spec: SensitivitySpec,
    names: list[str],
) -> tuple[list[dict[str, Any]], float]:
    """Index rows of one fit with draw-plus-lack-of-fit half-widths; (rows, lack of fit)."""
    from scipy import stats

    s = spec.sensitivity
    values = fitted.indices()
    boot = pce.draw_indices(fitted, unit, y, s.bootstrap, spec.seed % (2**32 - 2) + 1)
    z = stats.norm.ppf(0.5 + s.conf_level / 2)
    noise = noise_share if noise_share == noise_share else 0.0
    lack = min(1.0, max(0.0, 1.0 - q2 - noise)) if np.isfinite(q2) else 1.0

    def half_width(samples: np.ndarray) -> np.ndarray:
        return np.sqrt((z * samples.std(axis=0, ddof=1)) ** 2 + lack**2)

    n = len(y)
    rows = []
    for kind in ("S1", "ST"):
        rows += index_rows(names, kind, values[kind], half_width(boot[kind]), n)
    if s.second_order:
        rows += s2_rows(names, values["S2"], half_width(boot["S2"]), n)
    return rows, lack


def fit_kpi(
    plan: Plan,
    spec: SensitivitySpec,
    y_point: np.ndarray,
    good: np.ndarray,
    noise_share: float = float("nan"),
) -> EmulatorFit:
    """Fit one KPI's emulator on the whole design and on its first half; indices of both.

    Args:
        plan: The study's plan (a Sobol' sequence; the first N/2 points are its half).
        spec: Its spec (``q2_threshold``, ``max_degree``, ``q_norm``, ``max_interaction``).
        y_point: The KPI's replication mean per design point.
        good: Points whose every replication ran.
        noise_share: The KPI's replication noise share (NaN: not estimable, taken as 0).

    Returns:
        The fit; ``info`` holds q2 (validation: the first half's emulator predicting
        the second half's points, which it never saw), q2_cv (the whole design's
        5-fold cross-validated Q2, which chose its degree and terms), degree, terms,
        candidates, points, lack_of_fit, reported.
    """
    s = spec.sensitivity
    options = {"max_degree": s.max_degree, "q": s.q_norm, "max_interaction": s.max_interaction}
    full = good.copy()
    part = good & plan.half
    rest = good & ~plan.half
    fitted = pce.fit(plan.unit[full], y_point[full], **options)
    q2 = fitted.q2
    fitted_half = None
    if part.sum() >= 8 and rest.sum() >= 2:
        fitted_half = pce.fit(plan.unit[part], y_point[part], **options)
        y_rest = y_point[rest]
        err = np.mean((fitted_half.predict(plan.unit[rest]) - y_rest) ** 2)
        var = np.var(y_rest)
        q2 = float(1.0 - err / var) if var > 0 else (1.0 if err == 0 else -np.inf)
    rows, lack = _rows(fitted, q2, noise_share, plan.unit[full], y_point[full], spec, plan.names)
    half_rows: list[dict[str, Any]] = []
    if fitted_half is not None:
        half_rows, _ = _rows(
            fitted_half, q2, noise_share, plan.unit[part], y_point[part], spec, plan.names
        )
    info = {
        "q2": q2,
        "q2_cv": fitted.q2,
        "q2_threshold": s.q2_threshold,
        "reported": bool(q2 >= s.q2_threshold),
        "degree": fitted.degree,
        "terms": len(fitted.alphas),
        "candidates": fitted.candidates,
        "points": int(full.sum()),
        "points_half": int(part.sum()),
        "lack_of_fit": lack,
        "noise_share": noise_share,
    }
    return EmulatorFit(rows, half_rows, int(full.sum()), int(part.sum()), info)


def refusal(kpi: str, info: dict[str, Any]) -> str:
    """The one line that withholds a KPI's indices for a low Q2.

    Args:
        kpi: The KPI.
        info: Its :attr:`EmulatorFit.info`.

    Returns:
        The line (why, and what would help).
    """
    noise = info["noise_share"] if info["noise_share"] == info["noise_share"] else 0.0
    cap = 1.0 - noise
    need = info.get("replications_needed")
    if cap < info["q2_threshold"]:
        hint = (
            f"replication noise is {noise:.0%} of the variance of the averages, which caps "
            f"Q2 near {cap:.2f}: raise replications"
        )
        if need == 0:
            hint += " (the parameters' signal is not above the noise: no number can be told)"
        elif need:
            hint += f" to about {need}"
    else:
        hint = "raise n (more design points), or use method = 'sobol'"
        if noise > 0.05:
            hint += f"; replication noise ({noise:.0%}) caps Q2 near {cap:.2f}"
    return (
        f"{kpi}: indices NOT reported: the emulator's validation Q2 is "
        f"{info['q2']:.2f} < {info['q2_threshold']:g} (degree {info['degree']}, "
        f"{info['terms']} terms, {info['points']} points); {hint}"
    )
