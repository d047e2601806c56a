"""The analysis of a sensitivity study: indices, noise share, convergence, tidy tables.

:func:`analyse` reads an experiment folder written by
:func:`experiments.sensitivity.study.run_sensitivity`, averages the replications per
design point, runs the method's SALib analyzer on every KPI (at N and at N/2;
:mod:`experiments.sensitivity.indices`), estimates how much of the variance is
replication noise, compares the two sample sizes and writes
``indices.csv/.parquet``, ``convergence.csv``, ``noise.csv``, ``analysis.json``
and the charts. The emulator method fits an emulator (polynomial chaos or a
Gaussian process) per KPI instead (:mod:`experiments.sensitivity.emulator`),
writes its fit figures to ``emulator.csv`` and withholds the indices of a KPI whose Q2 is too low.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from experiments.engine.runner import RUN_COLUMNS
from experiments.engine.spec import kpi_problems
from experiments.sensitivity.emulator import EMULATOR_COLUMNS, KIND_TITLES, fit_kpi, refusal
from experiments.sensitivity.indices import (
    CI_WARN,
    MAIN_INDEX,
    analyse_kpi,
    convergence_table,
    noise_stats,
    point_values,
    replications_needed,
    verdict,
)
from experiments.sensitivity.plan import Plan, build_plan
from experiments.sensitivity.spec import SensitivitySpec

if TYPE_CHECKING:
    import pandas as pd

#: Noise share above which a warning is printed.
NOISE_WARN = 0.10


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
    emulator: pd.DataFrame | None = None  # emulator method: per KPI kind, q2, reported, ...

    @property
    def titles(self) -> dict[str, str]:
        """KPI -> the emulator that gave its indices, as chart titles name it (else empty)."""
        if self.emulator is None:
            return {}
        return {r["kpi"]: KIND_TITLES[r["emulator"]] for r in self.emulator.to_dict("records")}

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


def _twin_groups(spec: SensitivitySpec, plan: Plan) -> list[np.ndarray]:
    """Groups of design points with identical values (rounding, categorical levels)."""
    rebuilt = build_plan(spec)
    if rebuilt.unit.shape != plan.unit.shape or not np.allclose(rebuilt.unit, plan.unit):
        return []  # another SALib version sampled differently: no twins assumed
    groups: dict[str, list[int]] = {}
    for i, point in enumerate(rebuilt.points):
        groups.setdefault(json.dumps(point, sort_keys=True, default=str), []).append(i)
    return [np.array(g) for g in groups.values() if len(g) > 1]


def analyse(folder: str | Path, *, charts: bool = True) -> Analysis:
    """Analyse a sensitivity folder: indices, convergence, noise, charts; write them.

    Replications are averaged per design point before the analysis (with common
    random numbers, replication r has the same seed at every point). A point
    with any failed run is dropped, and with it its whole Saltelli block (Sobol)
    or trajectory (Morris); eFAST cannot drop rows and stops with an error. A
    requested KPI the runs did not return (possible only for a model that
    declares no outputs) is named in a warning and skipped.

    Args:
        folder: The experiment folder written by
            :func:`experiments.sensitivity.study.run_sensitivity`.
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
    kpis = [k for k in s.kpis if k not in unknown]
    idx_rows, conv_frames, verdicts, noise_rows, fits = _analyse_kpis(
        plan, spec, runs, kpis, twins, notes
    )
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
    emulator = None
    if s.method == "emulator":
        emulator = pd.DataFrame(fits, columns=["kpi", *EMULATOR_COLUMNS])
        emulator.insert(3, "runs", emulator["points"] * spec.experiment.replications)
        files.append(write_csv(emulator, folder / "emulator.csv", index=False))
    result = Analysis(
        folder, s.method, indices, convergence, verdict_df, noise, notes, files, labels, emulator
    )
    if charts and len(indices):
        from experiments.sensitivity.charts import draw_all

        files += draw_all(
            folder, s.method, indices, convergence, labels, kpi_units(s.kpis), result.titles
        )
    summary = {
        "method": s.method,
        "n": plan.n,
        "kpis": s.kpis,
        "replications": spec.experiment.replications,
        "points": len(plan.unit),
        "verdicts": verdict_df.to_dict(orient="records"),
        "noise": noise.to_dict(orient="records"),
        "warnings": notes,
        "emulator": [] if emulator is None else emulator.to_dict(orient="records"),
        "top": {k: result.top(k).to_dict(orient="records") for k in s.kpis},
    }
    files.append(write_json(summary, folder / "analysis.json"))
    return result


def _analyse_kpis(
    plan: Plan,
    spec: SensitivitySpec,
    runs: pd.DataFrame,
    kpis: list[str],
    twins: Sequence[np.ndarray],
    notes: list[str],
) -> tuple[list[dict], list[pd.DataFrame], list[dict], list[dict], list[dict]]:
    """Indices, convergence, verdict, noise and emulator fit of each KPI; warnings to ``notes``.

    The emulator method withholds (no index rows, no verdict) a KPI whose Q2 is
    below the threshold, with a note saying so.
    """
    import pandas as pd

    s = spec.sensitivity
    idx_rows, conv_frames, verdicts, noise_rows, fits = [], [], [], [], []
    for kpi in kpis:
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
        if s.method == "emulator":
            fit = fit_kpi(plan, spec, np.where(good, y, 0.0), good, ns["noise_share"])
            fit.info["replications_needed"] = replications_needed(ns, s.q2_threshold)
            fits.append({"kpi": kpi, **fit.info})
            if not fit.reported:
                notes.append(refusal(kpi, fit.info))
                continue
            rows, half, n_full, n_half = fit.rows, fit.half, fit.n, fit.n_half
        else:
            rows, half, n_full, n_half = analyse_kpi(plan, spec, np.where(good, y, 0.0), good)
        dropped = int((~good).sum())
        if dropped:
            notes.append(f"{kpi}: {dropped} points incomplete; analysed N = {n_full} of {plan.n}")
        idx_rows += [{"method": s.method, "kpi": kpi, **r} for r in rows]
        conv = convergence_table(s.method, kpi, pd.DataFrame(rows), pd.DataFrame(half), s.tolerance)
        conv_frames.append(conv)
        verdicts.append(verdict(s.method, kpi, conv))
        share = ns["noise_share"]
        if share == share and share > NOISE_WARN:
            notes.append(
                f"{kpi}: replication noise is {share:.0%} of the variance of the "
                f"averaged output: total indices below ~{share:.2f} may be noise; "
                f"raise replications (now {reps})"
            )
    return idx_rows, conv_frames, verdicts, noise_rows, fits


def _run_notes(runs: pd.DataFrame, twins: Sequence[np.ndarray], n_points: int) -> list[str]:
    """Warnings about failed runs and points without runs."""
    notes = []
    failed = runs[runs["status"] != "ok"]
    if len(failed):
        bad_points = failed["point"].nunique()
        first = str(failed["error"].iloc[0])[:160]
        notes.append(
            f"{len(failed)} runs failed at {bad_points} points (first: {first}); "
            "their points are dropped"
        )
    recorded_points = set(runs["point"])
    for group in twins:  # a point whose identical twin ran counts as recorded
        if recorded_points & set(group.tolist()):
            recorded_points |= set(group.tolist())
    if len(recorded_points) < n_points:
        notes.append(
            f"{n_points - len(recorded_points)} of {n_points} points "
            "have no runs yet (an interrupted experiment: rerun to finish it)"
        )
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
    return {
        k: f"{kpi_problems([k], returned, 'sensitivity.kpis')[0]}; skipped"
        for k in kpis
        if k not in returned
    }


def _convergence_notes(verdicts: list[dict[str, Any]], method: str) -> list[str]:
    """Why each KPI that did not converge did not."""
    notes = []
    for v in verdicts:
        if v["converged"]:
            continue
        why = []
        if not v["settled"]:
            why.append(f"{v['unsettled']} of {v['indices']} indices moved by more than their CI")
        if not v["top3_stable"]:
            why.append("the top three parameters differ")
        if not v["precise"]:
            what = " of the largest mu*" if method == "morris" else ""
            why.append(
                f"the top three's CIs reach +/- {v['max_top3_ci']:.2f}{what}, more than {CI_WARN:g}"
            )
        notes.append(
            f"{v['kpi']}: not converged between N/2 = {v['n_half']} and "
            f"N = {v['n']} ({'; '.join(why)}): double n"
        )
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
    plan = Plan(
        spec.sensitivity.method,
        order,
        unit,
        [],
        design["block"].to_numpy(),
        design["half"].to_numpy(dtype=bool),
        int(meta["n"]),
        int(meta["n_half"]),
    )
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
    """Label and unit of each KPI (from :data:`sim.model.outputs.KPI_INFO` where known).

    Args:
        kpis: KPI names.

    Returns:
        KPI -> (label, unit).
    """
    from sim.model.outputs import KPI_INFO

    return {k: (KPI_INFO[k][0], KPI_INFO[k][1]) if k in KPI_INFO else (k, "") for k in kpis}
