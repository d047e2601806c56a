"""The analysis of a sensitivity study: indices, noise share, convergence, tidy tables.

:func:`analyse` reads an experiment folder written by
:func:`experiments.sensitivity.study.run_sensitivity`, averages the replications per
design point, runs the method's SALib analyzer on every KPI (at N and at N/2),
estimates how much of the variance is replication noise (:func:`noise_stats`),
compares the two sample sizes (:func:`convergence_table`) and writes
``indices.csv/.parquet``, ``convergence.csv``, ``noise.csv``, ``analysis.json``
and the charts.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.engine.runner import RUN_COLUMNS
from experiments.engine.spec import kpi_problems
from experiments.sensitivity.plan import Plan, build_plan
from experiments.sensitivity.spec import SensitivitySpec

if TYPE_CHECKING:
    import pandas as pd

#: The index each method ranks parameters by.
MAIN_INDEX = {"sobol": "ST", "morris": "mu_star", "fast": "ST", "rbd_fast": "S1",
              "delta": "delta", "pawn": "PAWN_median"}
#: Indices compared at N/2 and N.
CONVERGENCE_INDICES = {"sobol": ("S1", "ST"), "morris": ("mu_star",), "fast": ("S1", "ST"),
                       "rbd_fast": ("S1",), "delta": ("delta", "S1"), "pawn": ("PAWN_median",)}
#: Noise share above which a warning is printed.
NOISE_WARN = 0.10
#: Confidence half-width of a top-3 normalised index above which a warning is printed.
CI_WARN = 0.10


# --------------------------------------------------------------------------- analysis


@dataclass
class Analysis:
    """Everything the analysis of a sensitivity folder produced."""

    folder: Path
    method: str
    indices: pd.DataFrame
    convergence: pd.DataFrame
    verdicts: pd.DataFrame
    noise: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def top(self, kpi: str, k: int = 3) -> pd.DataFrame:
        """The k most influential parameters for a KPI by the method's main index.

        Args:
            kpi: The KPI.
            k: How many.

        Returns:
            Rows of the indices table (parameter, index, value, ci), largest first.
        """
        main = MAIN_INDEX[self.method]
        t = self.indices
        t = t[(t["kpi"] == kpi) & (t["index"] == main)]
        return t.sort_values("value", ascending=False).head(k).reset_index(drop=True)


def point_values(runs: pd.DataFrame, kpi: str, n_points: int,
                 twins: Sequence[np.ndarray] = ()) -> tuple[np.ndarray, np.ndarray, int]:
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
            first = np.where(known.any(axis=0), np.nanmax(np.where(known, block, -np.inf),
                                                          axis=0), np.nan)
            mat[group] = np.where(known, block, first[None, :])
    return mat, ~np.isnan(mat).any(axis=1), reps


def _twin_groups(spec: SensitivitySpec, plan: Plan) -> list[np.ndarray]:
    """Groups of design points with identical values (rounding, categorical levels)."""
    rebuilt = build_plan(spec)
    if rebuilt.unit.shape != plan.unit.shape or not np.allclose(rebuilt.unit, plan.unit):
        return []  # another SALib version sampled differently: no twins assumed
    groups: dict[str, list[int]] = {}
    for i, point in enumerate(rebuilt.points):
        groups.setdefault(json.dumps(point, sort_keys=True, default=str), []).append(i)
    return [np.array(g) for g in groups.values() if len(g) > 1]


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
        return {**out, "var_within": np.nan, "var_interaction": np.nan, "noise_share": np.nan,
                "noise_share_independent": np.nan, "noise_share_single_run": np.nan}
    within = float(np.var(mat, axis=1, ddof=1).mean())
    resid = mat - means[:, None] - mat.mean(axis=0)[None, :] + mat.mean()
    inter = float((resid**2).sum() / ((p - 1) * (r - 1)))
    total = float(np.var(mat, ddof=1))

    def share(v: float, ref: float) -> float:
        if ref <= 0:
            return 0.0 if v <= 0 else 1.0
        return float(min(1.0, v / ref))

    return {**out, "var_within": within, "var_interaction": inter,
            "noise_share": share(inter / r, var_means),
            "noise_share_independent": share(within / r, var_means),
            "noise_share_single_run": share(within, total)}


def _keep_rows(plan: Plan, good: np.ndarray) -> np.ndarray:
    """Rows usable for the analysis: whole blocks (Saltelli, trajectories) or single rows."""
    if plan.method in ("sobol", "morris"):
        bad_blocks = np.unique(plan.block[~good])
        return ~np.isin(plan.block, bad_blocks)
    return good.copy()


def _salib(plan: Plan, spec: SensitivitySpec, unit: np.ndarray, y: np.ndarray, n: int
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
        for j, name in enumerate(names):
            ci = np.nan if cis is None else float(cis[j])
            rows.append({"parameter": name, "parameter2": "", "index": index,
                         "value": float(values[j]), "ci": ci, "n": n})

    with warnings.catch_warnings(record=True):  # SALib's notices (delta resets the filter)
        warnings.simplefilter("ignore")
        if s.method == "sobol":
            r = sobol.analyze(problem, y, calc_second_order=s.second_order, seed=bseed, **common)
            add("S1", r["S1"], r["S1_conf"])
            add("ST", r["ST"], r["ST_conf"])
            if s.second_order:
                for j in range(len(names)):
                    for k in range(j + 1, len(names)):
                        rows.append({"parameter": names[j], "parameter2": names[k],
                                     "index": "S2", "value": float(r["S2"][j, k]),
                                     "ci": float(r["S2_conf"][j, k]), "n": n})
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


def _analyse_kpi(plan: Plan, spec: SensitivitySpec, y_point: np.ndarray, good: np.ndarray
                 ) -> tuple[list[dict], list[dict], int, int]:
    """Indices at N and at N/2 for one KPI's point means."""
    keep = _keep_rows(plan, good)
    method = plan.method
    if method == "fast":
        full, part = keep & ~plan.half, keep & plan.half
        if not full[~plan.half].all() or not part[plan.half].all():
            raise AnalysisError("eFAST needs every run of its search curves, and some failed "
                                "(see 'alliance status'); fix the cause and run into a new "
                                "--out, or use rbd_fast, which can drop points")
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
    half = _salib(plan, spec, plan.unit[sel_half], y_point[sel_half], n_half) \
        if n_half >= 2 else []
    return rows, half, n_full, n_half


class AnalysisError(Exception):
    """The runs cannot be analysed (e.g. an eFAST curve with failed runs)."""


def convergence_table(method: str, kpi: str, full: pd.DataFrame, half: pd.DataFrame,
                      tolerance: float) -> pd.DataFrame:
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
    t = f[["value", "ci", "n"]].merge(h[["value", "ci", "n"]], how="left", left_index=True,
                                      right_index=True, suffixes=("", "_half"))
    t = t.reset_index()
    scale = t.groupby("index")["value"].transform(lambda v: np.nanmax(np.abs(v))) \
        if method == "morris" else 1.0
    t["change"] = t["value"] - t["value_half"]
    allowed = np.maximum(t["ci"].fillna(0.0), tolerance * scale)
    t["settled"] = (t["change"].abs() <= allowed) & t["value_half"].notna()
    t.insert(0, "kpi", kpi)
    t.insert(0, "method", method)
    return t[["method", "kpi", "parameter", "index", "n_half", "value_half", "ci_half", "n",
              "value", "ci", "change", "settled"]]


def _verdict(method: str, kpi: str, conv: pd.DataFrame) -> dict[str, Any]:
    main = MAIN_INDEX[method]
    m = conv[conv["index"] == main]
    top_full = set(m.nlargest(3, "value")["parameter"])
    top_half = set(m.nlargest(3, "value_half")["parameter"])
    norm = 1.0 if method != "morris" else float(np.nanmax(m["value"].abs()) or 1.0)
    top_ci = float(m.nlargest(3, "value")["ci"].max() / norm) if len(m) else np.nan
    settled = bool(conv["settled"].all())
    stable = top_full == top_half
    precise = not top_ci > CI_WARN  # NaN (no CI) counts as precise
    return {"method": method, "kpi": kpi, "n_half": int(m["n_half"].max()) if len(m) else 0,
            "n": int(m["n"].max()) if len(m) else 0, "settled": settled, "top3_stable": stable,
            "unsettled": int((~conv["settled"]).sum()), "indices": len(conv),
            "max_top3_ci": top_ci, "precise": precise,
            "converged": settled and stable and precise}


def analyse(folder: str | Path, *, charts: bool = True) -> Analysis:
    """Analyse a sensitivity folder: indices, convergence, noise, charts; write them.

    Replications are averaged per design point before the analysis (with common
    random numbers, replication r has the same seed at every point). A point
    with any failed run is dropped, and with it its whole Saltelli block (Sobol)
    or trajectory (Morris); eFAST cannot drop rows and stops with an error. A
    requested KPI the runs did not return (possible only for a model that
    declares no outputs) is named in a warning and skipped.

    Args:
        folder: The experiment folder written by :func:`run_sensitivity`.
        charts: Also draw the PNG charts.

    Returns:
        The analysis (files written are listed in ``files``).

    Raises:
        FileNotFoundError: When the folder is not a sensitivity study.
        AnalysisError: When the runs cannot be analysed.
    """
    import pandas as pd

    from experiments.engine.store import load, write_csv, write_json, write_parquet

    folder = Path(folder)
    meta_path = folder / "sensitivity.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{folder}: no sensitivity.json: not a sensitivity study")
    spec, plan = _stored_plan(folder, json.loads(meta_path.read_text()))
    runs = load(folder)
    s = spec.sensitivity
    labels = parameter_labels(spec)
    twins = _twin_groups(spec, plan)
    unknown = _unknown_kpis(runs, s.kpis)
    notes = _run_notes(runs, twins, len(plan.unit)) + list(unknown.values())
    idx_rows, conv_frames, verdicts, noise_rows = [], [], [], []
    for kpi in (k for k in s.kpis if k not in unknown):
        mat, good, reps = point_values(runs, kpi, len(plan.unit), twins)
        if not good.any():
            notes.append(f"{kpi}: no complete point: skipped")
            continue
        y = np.where(good, mat.mean(axis=1), np.nan)
        ns = noise_stats(mat[good])
        noise_rows.append({"kpi": kpi, **ns})
        if not np.nanstd(y[good]) > 0:
            notes.append(f"{kpi}: constant over the design ({y[good][0]:g}): no indices")
            continue
        rows, half, n_full, n_half = _analyse_kpi(plan, spec, np.where(good, y, 0.0), good)
        dropped = int((~good).sum())
        if dropped:
            notes.append(f"{kpi}: {dropped} points incomplete; analysed N = {n_full} "
                         f"of {plan.n}")
        idx_rows += [{"method": s.method, "kpi": kpi, **r} for r in rows]
        conv = convergence_table(s.method, kpi, pd.DataFrame(rows), pd.DataFrame(half),
                                 s.tolerance)
        conv_frames.append(conv)
        verdicts.append(_verdict(s.method, kpi, conv))
        share = ns["noise_share"]
        if share == share and share > NOISE_WARN:
            notes.append(f"{kpi}: replication noise is {share:.0%} of the variance of the "
                         f"averaged output: total indices below ~{share:.2f} may be noise; "
                         f"raise replications (now {reps})")
    cols = ["method", "kpi", "parameter", "parameter2", "index", "value", "ci", "n"]
    indices = pd.DataFrame(idx_rows, columns=cols)
    indices["conf_level"] = s.conf_level
    convergence = pd.concat(conv_frames, ignore_index=True) if conv_frames else pd.DataFrame()
    verdict_df = pd.DataFrame(verdicts)
    noise = pd.DataFrame(noise_rows)
    notes += _convergence_notes(verdicts, s.method)
    files = [
        write_csv(indices, folder / "indices.csv", index=False),
        write_parquet(indices, folder / "indices.parquet"),
        write_csv(convergence, folder / "convergence.csv", index=False),
        write_csv(noise, folder / "noise.csv", index=False),
    ]
    result = Analysis(folder, s.method, indices, convergence, verdict_df, noise, notes, files,
                      labels)
    if charts and len(indices):
        from experiments.sensitivity.charts import draw_all

        files += draw_all(folder, s.method, indices, convergence, labels, kpi_units(s.kpis))
    summary = {"method": s.method, "n": plan.n, "kpis": s.kpis,
               "replications": spec.experiment.replications, "points": len(plan.unit),
               "verdicts": verdict_df.to_dict(orient="records"),
               "noise": noise.to_dict(orient="records"), "warnings": notes,
               "top": {k: result.top(k).to_dict(orient="records") for k in s.kpis}}
    files.append(write_json(summary, folder / "analysis.json"))
    return result


def _run_notes(runs: pd.DataFrame, twins: Sequence[np.ndarray], n_points: int) -> list[str]:
    """Warnings about failed runs and points without runs."""
    notes = []
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        bad_points = failed["point"].nunique()
        first = str(failed["error"].iloc[0])[:160]
        notes.append(f"{len(failed)} runs failed at {bad_points} points (first: {first}); "
                     "their points are dropped")
    recorded_points = set(runs["point"])
    for group in twins:  # a point whose identical twin ran counts as recorded
        if recorded_points & set(group.tolist()):
            recorded_points |= set(group.tolist())
    if len(recorded_points) < n_points:
        notes.append(f"{n_points - len(recorded_points)} of {n_points} points "
                     "have no runs yet (an interrupted experiment: rerun to finish it)")
    return notes


def _unknown_kpis(runs: pd.DataFrame, kpis: Sequence[str]) -> dict[str, str]:
    """The check of the requested KPIs after the runs: against what the runs returned.

    Specs of a model with declared ``outputs`` were checked before the runs; for
    the others this is the first place the names can be checked.

    Returns:
        KPI -> a warning naming it, for each KPI no successful run returned.
    """
    ok = runs[runs["status"] == "ok"]
    if ok.empty:
        return {}
    returned = {c for c in ok.columns if c not in RUN_COLUMNS and not c.startswith("param.")}
    return {k: f"{kpi_problems([k], returned, 'sensitivity.kpis')[0]}; skipped"
            for k in kpis if k not in returned}


def _convergence_notes(verdicts: list[dict[str, Any]], method: str) -> list[str]:
    """Why each KPI that did not converge did not."""
    notes = []
    for v in verdicts:
        if v["converged"]:
            continue
        why = []
        if not v["settled"]:
            why.append(f"{v['unsettled']} of {v['indices']} indices moved by more than "
                       "their CI")
        if not v["top3_stable"]:
            why.append("the top three parameters differ")
        if not v["precise"]:
            what = " of the largest mu*" if method == "morris" else ""
            why.append(f"the top three's CIs reach +/- {v['max_top3_ci']:.2f}{what}, "
                       f"more than {CI_WARN:g}")
        notes.append(f"{v['kpi']}: not converged between N/2 = {v['n_half']} and "
                     f"N = {v['n']} ({'; '.join(why)}): double n")
    return notes


def _stored_plan(folder: Path, meta: dict[str, Any]) -> tuple[SensitivitySpec, Plan]:
    """The spec and the design as they were run (JSON sorts keys: restore the order)."""
    import pandas as pd

    order = list(meta["parameters"])
    data = meta["spec"]
    params = data["sensitivity"]["parameters"]
    data["sensitivity"]["parameters"] = {k: params[k] for k in order}
    spec = SensitivitySpec.model_validate(data, strict=False)
    design = pd.read_parquet(folder / "design.parquet")
    unit = design[[f"u.{k}" for k in order]].to_numpy(dtype=float)
    plan = Plan(spec.sensitivity.method, order, unit, [], design["block"].to_numpy(),
                design["half"].to_numpy(dtype=bool), int(meta["n"]), int(meta["n_half"]))
    return spec, plan


def parameter_labels(spec: SensitivitySpec) -> dict[str, str]:
    """Short labels of the analysed parameters (the spec's ``label`` or the path's tail).

    Args:
        spec: The spec.

    Returns:
        Dotted path -> label.
    """
    out = {}
    for path, p in spec.sensitivity.parameters.items():
        if p.label:
            out[path] = p.label
            continue
        parts = path.split(".")
        tail = ".".join(parts[1:]) if len(parts) > 1 else path
        out[path] = tail if len(tail) <= 40 else ".".join(parts[-2:])
    return out


def kpi_units(kpis: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Label and unit of each KPI (from :data:`sim.model.kpis.KPI_INFO` where known).

    Args:
        kpis: KPI names.

    Returns:
        KPI -> (label, unit).
    """
    from sim.model.outputs import KPI_INFO

    return {k: (KPI_INFO[k][0], KPI_INFO[k][1]) if k in KPI_INFO else (k, "") for k in kpis}
