"""The indices of one KPI: SALib at N and at N/2, the noise share, convergence.

:func:`analyse_kpi` runs the method's SALib analyzer on one KPI's point means
(dropping whole Saltelli blocks or Morris trajectories with failed runs);
:func:`noise_stats` estimates how much of the variance is replication noise;
:func:`convergence_table` and :func:`verdict` compare the indices at N/2 and N.
:mod:`experiments.sensitivity.analysis` applies them to a study folder.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.sensitivity.plan import Plan
from experiments.sensitivity.spec import SensitivitySpec

if TYPE_CHECKING:
    import pandas as pd

#: The index each method ranks parameters by.
MAIN_INDEX = {
    "sobol": "ST",
    "morris": "mu_star",
    "fast": "ST",
    "rbd_fast": "S1",
    "delta": "delta",
    "pawn": "PAWN_median",
    "emulator": "ST",
}
#: Indices compared at N/2 and N.
CONVERGENCE_INDICES = {
    "sobol": ("S1", "ST"),
    "morris": ("mu_star",),
    "fast": ("S1", "ST"),
    "rbd_fast": ("S1",),
    "delta": ("delta", "S1"),
    "pawn": ("PAWN_median",),
    "emulator": ("S1", "ST"),
}
#: Confidence half-width of a top-3 normalised index above which a warning is printed.
CI_WARN = 0.10


def point_values(
    runs: pd.DataFrame, kpi: str, n_points: int, twins: Sequence[np.ndarray] = ()
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per design point, the KPI of every replication (NaN where a run failed or is missing).

    Args:
        runs: The runs table of the experiment.
        kpi: The KPI column.
        n_points: Number of design points.
        twins: Groups of points with identical values (rounding can make a Saltelli
            row equal to its neighbour): they share one run id, so the run store may
            hold only one of them; each fills the others (same values and seed, same
            result).

    Returns:
        (points x replications matrix, mask of complete points, replications).
    """
    import pandas as pd

    reps = int(runs["replication"].max()) + 1 if len(runs) else 1
    mat = np.full((n_points, reps), np.nan)
    ok = runs[runs["status"] == "ok"]
    if kpi in ok.columns:
        vals = pd.to_numeric(ok[kpi], errors="coerce").to_numpy(dtype=float)
        mat[ok["point"].to_numpy(int), ok["replication"].to_numpy(int)] = vals
    for group in twins:
        block = mat[group]
        known = ~np.isnan(block)
        if known.any() and not known.all():
            first = np.where(
                known.any(axis=0), np.nanmax(np.where(known, block, -np.inf), axis=0), np.nan
            )
            mat[group] = np.where(known, block, first[None, :])
    return mat, ~np.isnan(mat).any(axis=1), reps


def noise_stats(mat: np.ndarray) -> dict[str, float]:
    """How much of the variance of replication-averaged outputs is replication noise.

    With ``R`` replications on common random numbers, ``Y[p, r] = m + a_p + b_r + e_pr``:
    ``a_p`` is the parameter effect, ``b_r`` the world of replication r (the same at
    every point, so it cancels in every index) and ``e_pr`` the noise that differs
    between points. The two-way residual mean square estimates ``var(e)``; the
    averaged output carries ``var(e) / R`` of it, so

    ``noise_share = (var(e) / R) / var(point means)``.

    ``noise_share_independent`` uses the whole within-point variance instead
    (what the share would be if every point drew its own seeds).

    Args:
        mat: Points x replications (complete points only).

    Returns:
        replications, points, var_means, var_within, var_interaction, noise_share,
        noise_share_independent, noise_share_single_run.
    """
    p, r = mat.shape
    means = mat.mean(axis=1)
    var_means = float(np.var(means, ddof=1)) if p > 1 else float("nan")
    out = {"replications": r, "points": p, "var_means": var_means}
    if r < 2 or p < 2:
        return {
            **out,
            "var_within": np.nan,
            "var_interaction": np.nan,
            "noise_share": np.nan,
            "noise_share_independent": np.nan,
            "noise_share_single_run": np.nan,
        }
    within = float(np.var(mat, axis=1, ddof=1).mean())
    resid = mat - means[:, None] - mat.mean(axis=0)[None, :] + mat.mean()
    inter = float((resid**2).sum() / ((p - 1) * (r - 1)))
    total = float(np.var(mat, ddof=1))

    def share(v: float, ref: float) -> float:
        if ref <= 0:
            return 0.0 if v <= 0 else 1.0
        return float(min(1.0, v / ref))

    return {
        **out,
        "var_within": within,
        "var_interaction": inter,
        "noise_share": share(inter / r, var_means),
        "noise_share_independent": share(within / r, var_means),
        "noise_share_single_run": share(within, total),
    }


def replications_needed(noise: dict[str, float], threshold: float) -> int:
    """Replications that bring a KPI's noise share down to half of ``1 - threshold``.

    With R replications the averages carry ``var(e) / R`` of noise
    (:func:`experiments.sensitivity.indices.noise_stats`) on top of the
    parameters' signal, ``var(point means) - var(e) / R``. The share
    ``(var(e) / R') / (signal + var(e) / R')`` is at most ``t = (1 - threshold) / 2``
    from ``R' = var(e) (1 - t) / (t signal)``: the other half of what the emulator
    may miss is left to its fit.

    Args:
        noise: The KPI's row of ``noise.csv`` (replications, var_means, var_interaction).
        threshold: The Q2 threshold.

    Returns:
        The replications (at least the current number), or 0 when the signal is
        not above the noise (no number can be told).
    """
    reps = int(noise["replications"])
    var_e = float(noise["var_interaction"])
    signal = float(noise["var_means"]) - var_e / reps
    if not (np.isfinite(var_e) and np.isfinite(signal)) or var_e <= 0:
        return reps
    if signal <= 0:
        return 0
    t = (1.0 - threshold) / 2
    return max(reps, int(np.ceil(var_e * (1 - t) / (t * signal))))


def _keep_rows(plan: Plan, good: np.ndarray) -> np.ndarray:
    """Rows usable for the analysis: whole blocks (Saltelli, trajectories) or single rows."""
    if plan.method in ("sobol", "morris"):
        bad_blocks = np.unique(plan.block[~good])
        return ~np.isin(plan.block, bad_blocks)
    return good.copy()


def index_rows(
    names: Sequence[str], index: str, values: Sequence[float], cis: Sequence[float] | None, n: int
) -> list[dict[str, Any]]:
    """One ``indices.csv`` row per parameter of a per-parameter index (S1, ST, mu_star, ...).

    Args:
        names: The parameters.
        index: The index's name.
        values: One value per parameter.
        cis: One CI half-width per parameter (None: not estimated, NaN).
        n: The sample size the index comes from.

    Returns:
        Rows parameter, parameter2 (empty), index, value, ci, n.
    """
    return [
        {
            "parameter": name,
            "parameter2": "",
            "index": index,
            "value": float(values[j]),
            "ci": np.nan if cis is None else float(cis[j]),
            "n": n,
        }
        for j, name in enumerate(names)
    ]


def s2_rows(
    names: Sequence[str], values: np.ndarray, cis: np.ndarray, n: int
) -> list[dict[str, Any]]:
    """One ``indices.csv`` row per pair of parameters (j < k) of a second-order matrix.

    Args:
        names: The parameters.
        values: D x D second-order indices (the upper triangle is read).
        cis: D x D CI half-widths.
        n: The sample size.

    Returns:
        Rows parameter, parameter2, index ("S2"), value, ci, n.
    """
    return [
        {
            "parameter": names[j],
            "parameter2": names[k],
            "index": "S2",
            "value": float(values[j, k]),
            "ci": float(cis[j, k]),
            "n": n,
        }
        for j in range(len(names))
        for k in range(j + 1, len(names))
    ]


def _salib(
    plan: Plan, spec: SensitivitySpec, unit: np.ndarray, y: np.ndarray, n: int
) -> list[dict[str, Any]]:
    """Run the method's SALib analysis; one row per index."""
    from SALib.analyze import delta, fast, morris, pawn, rbd_fast, sobol
    from scipy import stats

    s = spec.sensitivity
    problem = plan.problem()
    names = plan.names
    bseed = spec.seed % (2**32 - 2) + 1
    common = {"num_resamples": s.bootstrap, "conf_level": s.conf_level}
    rows: list[dict[str, Any]] = []

    def add(index: str, values: Sequence[float], cis: Sequence[float] | None) -> None:
        rows.extend(index_rows(names, index, values, cis, n))

    with warnings.catch_warnings(record=True):  # SALib's notices (delta resets the filter)
        warnings.simplefilter("ignore")
        if s.method == "sobol":
            r = sobol.analyze(problem, y, calc_second_order=s.second_order, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
            add("ST", r["ST"], r["ST_conf"])
            if s.second_order:
                rows.extend(s2_rows(names, r["S2"], r["S2_conf"], n))
        elif s.method == "morris":
            r = morris.analyze(problem, unit, y, num_levels=s.num_levels, seed=bseed, **common)
            add("mu_star", np.asarray(r["mu_star"]), np.asarray(r["mu_star_conf"]))
            add("mu", np.asarray(r["mu"]), None)
            add("sigma", np.asarray(r["sigma"]), None)
        elif s.method == "fast":
            r = fast.analyze(problem, y, M=s.m, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
            add("ST", r["ST"], r["ST_conf"])
        elif s.method == "rbd_fast":
            r = rbd_fast.analyze(problem, unit, y, M=s.m, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
        elif s.method == "delta":
            with contextlib.redirect_stdout(io.StringIO()):  # SALib prints bin notices
                r = delta.analyze(problem, unit, y, seed=bseed, method="all", **common)
            add("delta", r["delta_raw"], r["delta_raw_conf"])
            add("delta_balanced", r["delta_balanced"], r["delta_balanced_conf"])
            add("S1", r["S1"], r["S1_conf"])
        else:
            r = pawn.analyze(problem, unit, y, S=s.slides, seed=bseed)
            rng = np.random.default_rng(bseed)
            boot = np.empty((s.bootstrap, len(names)))
            for b in range(s.bootstrap):
                idx = rng.integers(0, len(y), len(y))
                boot[b] = pawn.analyze(problem, unit[idx], y[idx], S=s.slides)["median"]
            z = stats.norm.ppf(0.5 + s.conf_level / 2)
            add("PAWN_median", r["median"], z * np.nanstd(boot, axis=0, ddof=1))
            add("PAWN_mean", r["mean"], None)
            add("PAWN_max", r["maximum"], None)
            add("PAWN_CV", r["CV"], None)
    return rows


def analyse_kpi(
    plan: Plan, spec: SensitivitySpec, y_point: np.ndarray, good: np.ndarray
) -> tuple[list[dict], list[dict], int, int]:
    """Indices at N and at N/2 for one KPI's point means.

    Args:
        plan: The study's plan.
        spec: Its spec.
        y_point: The KPI's mean per design point (any value where ``good`` is False).
        good: Points whose every replication ran.

    Returns:
        (index rows at N, index rows at N/2, N analysed, N/2 analysed).

    Raises:
        AnalysisError: When too few samples remain, or eFAST lost a run.
    """
    keep = _keep_rows(plan, good)
    method = plan.method
    if method == "fast":
        full, part = keep & ~plan.half, keep & plan.half
        if not full[~plan.half].all() or not part[plan.half].all():
            raise AnalysisError(
                "eFAST needs every run of its search curves, and some failed "
                "(see 'alliance status'); fix the cause and run into a new "
                "--out, or use rbd_fast, which can drop points"
            )
        n_full, n_half = plan.n, plan.n_half
        rows = _salib(plan, spec, plan.unit[full], y_point[full], n_full)
        half = _salib(plan, spec, plan.unit[part], y_point[part], n_half)
        return rows, half, n_full, n_half
    units = {"sobol": plan.block, "morris": plan.block}.get(method, np.arange(len(keep)))
    n_full = len(np.unique(units[keep]))
    sel_half = keep & plan.half
    n_half = len(np.unique(units[sel_half]))
    if n_full < 2:
        raise AnalysisError("fewer than two complete samples remain after dropping failed runs")
    rows = _salib(plan, spec, plan.unit[keep], y_point[keep], n_full)
    half = _salib(plan, spec, plan.unit[sel_half], y_point[sel_half], n_half) if n_half >= 2 else []
    return rows, half, n_full, n_half


class AnalysisError(Exception):
    """The runs cannot be analysed (e.g. an eFAST curve with failed runs)."""


def convergence_table(
    method: str, kpi: str, full: pd.DataFrame, half: pd.DataFrame, tolerance: float
) -> pd.DataFrame:
    """Indices at N/2 and N side by side, with the change and whether it settled.

    An index has *settled* when it moved by no more than its confidence
    half-width at N or ``tolerance`` (for Morris mu*: ``tolerance`` x the largest
    mu*), whichever is larger.

    Args:
        method: The method.
        kpi: The KPI.
        full: Index rows at N (parameter, index, value, ci, n).
        half: Index rows at N/2.
        tolerance: Allowed change beyond the CI.

    Returns:
        One row per (parameter, index).
    """
    kinds = CONVERGENCE_INDICES[method]
    f = full[full["index"].isin(kinds)].set_index(["parameter", "index"])
    if half.empty:
        h = f[["value", "ci", "n"]] * np.nan
    else:
        h = half[half["index"].isin(kinds)].set_index(["parameter", "index"])
    t = f[["value", "ci", "n"]].merge(
        h[["value", "ci", "n"]],
        how="left",
        left_index=True,
        right_index=True,
        suffixes=("", "_half"),
    )
    t = t.reset_index()
    scale = (
        t.groupby("index")["value"].transform(lambda v: np.nanmax(np.abs(v)))
        if method == "morris"
        else 1.0
    )
    t["change"] = t["value"] - t["value_half"]
    allowed = np.maximum(t["ci"].fillna(0.0), tolerance * scale)
    t["settled"] = (t["change"].abs() <= allowed) & t["value_half"].notna()
    t.insert(0, "kpi", kpi)
    t.insert(0, "method", method)
    return t[
        [
            "method",
            "kpi",
            "parameter",
            "index",
            "n_half",
            "value_half",
            "ci_half",
            "n",
            "value",
            "ci",
            "change",
            "settled",
        ]
    ]


def verdict(method: str, kpi: str, conv: pd.DataFrame) -> dict[str, Any]:
    """Whether a KPI's indices converged: settled, the same top three, precise enough.

    Args:
        method: The method.
        kpi: The KPI.
        conv: Its rows of the convergence table.

    Returns:
        The verdict's fields (``converged`` and why not).
    """
    main = MAIN_INDEX[method]
    m = conv[conv["index"] == main]
    top_full = set(m.nlargest(3, "value")["parameter"])
    top_half = set(m.nlargest(3, "value_half")["parameter"])
    norm = 1.0 if method != "morris" else float(np.nanmax(m["value"].abs()) or 1.0)
    top_ci = float(m.nlargest(3, "value")["ci"].max() / norm) if len(m) else np.nan
    settled = bool(conv["settled"].all())
    stable = top_full == top_half
    precise = not top_ci > CI_WARN  # NaN (no CI) counts as precise
    return {
        "method": method,
        "kpi": kpi,
        "n_half": int(m["n_half"].max()) if len(m) else 0,
        "n": int(m["n"].max()) if len(m) else 0,
        "settled": settled,
        "top3_stable": stable,
        "unsettled": int((~conv["settled"]).sum()),
        "indices": len(conv),
        "max_top3_ci": top_ci,
        "precise": precise,
        "converged": settled and stable and precise,
    }
