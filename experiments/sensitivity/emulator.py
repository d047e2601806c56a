"""The emulator method: an emulator per KPI, its Q2, and its Sobol indices.

``method = "emulator"`` runs a scrambled Sobol' sequence of ``n`` points (a
space-filling design that extends by appending points), averages each KPI over
the replications of each point and fits an emulator to the averages: a sparse
polynomial chaos expansion (:mod:`experiments.sensitivity.pce`, indices from
its coefficients) or a Gaussian process (:mod:`experiments.sensitivity.gp`,
indices by Monte Carlo on its posterior mean); with ``emulator = "auto"``,
whichever predicts held-out points better. The fit's validation Q2 decides
whether the indices are reported: below ``q2_threshold`` the emulator does not
describe the KPI and its indices are withheld, with one line saying why.

An index's interval combines two errors in quadrature: the fit's uncertainty
(polynomial chaos: indices of coefficient vectors drawn from the fit's robust
HC3 covariance, :func:`experiments.sensitivity.pce.draw_indices`; Gaussian
process: a bootstrap over the design points and the spread of independently
scrambled Monte Carlo samples, :func:`experiments.sensitivity.gp.draw_indices`:
the design's finite size, the noise, the residual misfit at the design points
and the Monte Carlo's error) and
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

from experiments.sensitivity import gp, pce
from experiments.sensitivity.indices import AnalysisError, index_rows, s2_rows
from experiments.sensitivity.plan import Plan
from experiments.sensitivity.spec import SensitivitySpec

#: The columns of ``emulator.csv`` after ``kpi`` (``runs`` is added: points x replications).
EMULATOR_COLUMNS = (
    "emulator",
    "q2",
    "q2_cv",
    "q2_pce",
    "q2_gp",
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


#: The emulators' names in chart titles.
KIND_TITLES = {"pce": "polynomial-chaos emulator", "gp": "Gaussian-process emulator"}


def describe(info: dict[str, Any]) -> str:
    """The emulator of one KPI in a few words (for the report and the refusal line).

    Args:
        info: Its :attr:`EmulatorFit.info`.

    Returns:
        e.g. "polynomial chaos of degree 3, 20 terms" or "Gaussian process (Matérn 5/2)".
    """
    if info["emulator"] == "gp":
        return "Gaussian process (Matérn 5/2)"
    return f"polynomial chaos of degree {info['degree']}, {info['terms']} terms"


def _rows(
    fitted: pce.PCE | gp.GP,
    q2: float,
    noise_share: float,
    unit: np.ndarray,
    y: np.ndarray,
    spec: SensitivitySpec,
    names: list[str],
) -> list[dict[str, Any]]:
    """Index rows of one fit, half-widths from the fit's error and its lack of fit."""
    from scipy import stats

    s = spec.sensitivity
    seed = spec.seed % (2**32 - 2) + 1
    if isinstance(fitted, gp.GP):
        values, sd = gp.draw_indices(fitted, s.bootstrap, seed, s.second_order)
    else:
        values = fitted.indices()
        boot = pce.draw_indices(fitted, unit, y, s.bootstrap, seed)
        sd = {k: v.std(axis=0, ddof=1) for k, v in boot.items()}
    z = stats.norm.ppf(0.5 + s.conf_level / 2)
    lack = _lack(q2, noise_share)

    def half_width(kind: str) -> np.ndarray:
        return np.sqrt((z * sd[kind]) ** 2 + lack**2)

    n = len(y)
    rows = []
    for kind in ("S1", "ST"):
        rows += index_rows(names, kind, values[kind], half_width(kind), n)
    if s.second_order:
        rows += s2_rows(names, values["S2"], half_width("S2"), n)
    return rows


def _lack(q2: float, noise_share: float) -> float:
    """The share of the averages' variance the emulator misses beyond the noise (NaN noise: 0)."""
    noise = noise_share if noise_share == noise_share else 0.0
    return min(1.0, max(0.0, 1.0 - q2 - noise)) if np.isfinite(q2) else 1.0


def _validation_q2(fitted: pce.PCE | gp.GP, y_rest: np.ndarray, unit_rest: np.ndarray) -> float:
    """Q2 of a fit on points it never saw."""
    err = np.mean((fitted.predict(unit_rest) - y_rest) ** 2)
    var = np.var(y_rest)
    return float(1.0 - err / var) if var > 0 else (1.0 if err == 0 else -np.inf)


def _fit(kind: str, unit: np.ndarray, y: np.ndarray, spec: SensitivitySpec, kernel: Any = None):
    """One emulator of the given kind on these points."""
    s = spec.sensitivity
    if kind == "gp":
        return gp.fit(unit, y, kernel)
    return pce.fit(unit, y, max_degree=s.max_degree, q=s.q_norm, max_interaction=s.max_interaction)


def _fits(kinds: list[str], unit: np.ndarray, y: np.ndarray, spec: SensitivitySpec) -> dict:
    """Each kind fitted on these points.

    A process whose covariance cannot be factorised is left out when the
    polynomial chaos is tried too; alone, it is an :class:`AnalysisError`.
    """
    out = {}
    for kind in kinds:
        try:
            out[kind] = _fit(kind, unit, y, spec)
        except np.linalg.LinAlgError as exc:
            if kind != "gp":
                raise
            if len(kinds) == 1:
                raise AnalysisError(
                    f"the Gaussian process cannot be fitted ({exc}): use emulator = 'pce' or 'auto'"
                ) from exc
    return out


def fit_kpi(
    plan: Plan,
    spec: SensitivitySpec,
    y_point: np.ndarray,
    good: np.ndarray,
    noise_share: float = float("nan"),
) -> EmulatorFit:
    """Fit one KPI's emulator on the whole design and on its first half; indices of both.

    Each kind is fitted on the first half of the design and predicts the second
    half, which it never saw (the validation Q2). With ``emulator = "auto"`` the
    kind that predicts it better is used (above :data:`gp.MAX_POINTS` points only
    the polynomial chaos is tried): its validation Q2 decides whether the indices
    are reported (they are computed only if they are), and its fit on the whole
    design gives them. (Choosing by cross-validation instead would favour the
    process: its leave-one-out Q2, with hyperparameters fitted on the same
    points, said 0.97 on the G function at 256 points, where it reached 0.92 on
    new points and the polynomial chaos 0.99.)

    Args:
        plan: The study's plan (a Sobol' sequence; the first N/2 points are its half).
        spec: Its spec (``emulator``, ``q2_threshold``, the polynomial chaos's options).
        y_point: The KPI's replication mean per design point.
        good: Points whose every replication ran.
        noise_share: The KPI's replication noise share (NaN: not estimable, taken as 0).

    Returns:
        The fit; ``info`` holds emulator (``pce`` or ``gp``), q2 (validation: the
        first half's emulator predicting the second half's points, which it never
        saw), q2_cv (the whole design's cross-validated Q2 of the chosen kind),
        q2_pce and q2_gp (each kind's validation Q2; NaN if not tried), degree, terms and
        candidates (polynomial chaos; NaN for the process), points, lack_of_fit, reported.
    """
    s = spec.sensitivity
    full = good.copy()
    part = good & plan.half
    rest = good & ~plan.half
    kinds = ["pce", "gp"] if s.emulator == "auto" else [s.emulator]
    if int(full.sum()) > gp.MAX_POINTS and kinds != ["pce"]:
        kinds = ["pce"]
    validated = {k: float("nan") for k in ("pce", "gp")}
    fitted_half = None
    if part.sum() >= 8 and rest.sum() >= 2:
        halves = _fits(kinds, plan.unit[part], y_point[part], spec)
        kinds = list(halves)
        for k, half_fit in halves.items():
            validated[k] = _validation_q2(half_fit, y_point[rest], plan.unit[rest])
        kind = max(kinds, key=lambda k: validated[k])
        fitted_half = halves[kind]
        same = kind == "gp" and part.sum() >= gp.HYPER_POINTS  # the same first points
        fitted = _fit(
            kind, plan.unit[full], y_point[full], spec, fitted_half.kernel if same else None
        )
        q2 = validated[kind]
    else:  # too few points to hold half out: the cross-validated Q2 decides
        fits = _fits(kinds, plan.unit[full], y_point[full], spec)
        kind = max(fits, key=lambda k: fits[k].q2)
        fitted = fits[kind]
        q2 = fitted.q2
    reported = bool(q2 >= s.q2_threshold)
    rows: list[dict[str, Any]] = []
    half_rows: list[dict[str, Any]] = []
    if reported:
        rows = _rows(fitted, q2, noise_share, plan.unit[full], y_point[full], spec, plan.names)
        if fitted_half is not None:
            half_rows = _rows(
                fitted_half, q2, noise_share, plan.unit[part], y_point[part], spec, plan.names
            )
    info = {
        "emulator": kind,
        "q2": q2,
        "q2_cv": fitted.q2,
        "q2_pce": validated["pce"],
        "q2_gp": validated["gp"],
        "q2_threshold": s.q2_threshold,
        "reported": reported,
        "degree": fitted.degree if kind == "pce" else float("nan"),
        "terms": len(fitted.alphas) if kind == "pce" else float("nan"),
        "candidates": fitted.candidates if kind == "pce" else float("nan"),
        "points": int(full.sum()),
        "points_half": int(part.sum()),
        "lack_of_fit": _lack(q2, noise_share),
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
        f"{info['q2']:.2f} < {info['q2_threshold']:g} ({describe(info)}, "
        f"{info['points']} points); {hint}"
    )
