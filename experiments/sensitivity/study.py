"""Running a sensitivity study end to end, and its closing note.

:func:`run_sensitivity` samples the plan, runs (or finishes) it on an engine
through :func:`experiments.engine.batch.run_experiment`, records the design and
analyses every KPI; :func:`report_lines` and :func:`format_indices` turn the
result into the printed summary (top parameters, convergence, noise, timings).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.sensitivity.analysis import (
    MAIN_INDEX,
    Analysis,
    analyse,
    kpi_units,
    parameter_labels,
)
from experiments.sensitivity.emulator import describe
from experiments.sensitivity.plan import build_plan, experiment_spec
from experiments.sensitivity.spec import METHOD_NAMES, SensitivitySpec

# --------------------------------------------------------------------------- running


@dataclass
class StudyResult:
    """A finished sensitivity study: the runs' summary, the analysis and the timings."""

    folder: Path
    analysis: Analysis
    runs_seconds: float
    analysis_seconds: float
    wall_seconds: float
    planned: int
    ran: int
    failed: int


def run_sensitivity(
    spec: SensitivitySpec,
    out: str | Path,
    *,
    engine: Any = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[str, dict], Any] | None = None,
    spec_source: str = "",
    charts: bool = True,
    extend: bool = False,
) -> StudyResult:
    """Sample, run (or finish) the design on an engine, and analyse every KPI.

    Args:
        spec: The validated spec.
        out: The experiment folder (rerunning into it resumes).
        engine: ``serial``, ``processes`` or ``dask``, or an engine already started
            (kept running: :func:`experiments.sensitivity.adaptive.run_until_converged`
            reuses one across rounds).
        workers: Worker processes.
        scheduler: A running Dask scheduler's address.
        progress: Passed to :func:`experiments.engine.batch.run_experiment`.
        spec_source: The spec file, recorded in the manifest.
        charts: Draw the charts.
        extend: The folder may hold this study with a smaller n (a nested design:
            Sobol' points or Saltelli blocks appended); its runs are reused.

    Returns:
        The study result.

    Raises:
        experiments.engine.batch.ExperimentError: When the folder holds another experiment.
    """
    import pandas as pd

    from experiments.engine.batch import run_experiment
    from experiments.engine.store import write_json, write_parquet

    t0 = time.perf_counter()
    plan = build_plan(spec)
    exp_spec = experiment_spec(spec, plan)
    out = Path(out)
    summary = run_experiment(
        exp_spec,
        out,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        resume=True,
        progress=progress,
        spec_source=spec_source,
        extend=extend,
    )
    t1 = time.perf_counter()
    design = pd.DataFrame(plan.unit, columns=[f"u.{k}" for k in plan.names])
    design.insert(0, "block", plan.block)
    design.insert(0, "point", np.arange(len(plan.unit)))
    design["half"] = plan.half
    write_parquet(design, out / "design.parquet")
    write_json(
        {
            "spec": spec.model_dump(mode="json"),
            "spec_file": spec_source,
            "method": spec.sensitivity.method,
            "n": plan.n,
            "n_half": plan.n_half,
            "points": len(plan.points),
            "parameters": plan.names,
            "labels": parameter_labels(spec),
        },
        out / "sensitivity.json",
    )
    analysis = analyse(out, charts=charts)
    t2 = time.perf_counter()
    timing = {
        "wall_seconds": round(t2 - t0, 3),
        "runs_seconds": round(t1 - t0, 3),
        "analysis_seconds": round(t2 - t1, 3),
        "engine": getattr(engine, "name", engine),
        "workers": getattr(engine, "workers", workers),
        "runs_planned": summary.planned,
        "runs_this_invocation": summary.ran,
        "failed": summary.failed,
    }
    path = out / "analysis.json"
    write_json({**json.loads(path.read_text()), "timing": timing}, path)
    return StudyResult(
        out, analysis, t1 - t0, t2 - t1, t2 - t0, summary.planned, summary.ran, summary.failed
    )


def format_indices(analysis: Analysis, kpi: str, k: int = 3) -> list[str]:
    """Lines naming the k most influential parameters of a KPI with index and CI.

    Args:
        analysis: The analysis.
        kpi: The KPI.
        k: How many.

    Returns:
        Printable lines.
    """
    method = analysis.method
    main = MAIN_INDEX[method]
    top = analysis.top(kpi, k)
    t = analysis.indices
    units = kpi_units([kpi])[kpi]
    lines = []
    width = max((len(p) for p in top["parameter"]), default=0)
    for i, row in enumerate(top.itertuples(), 1):
        text = f"  {i}. {row.parameter:<{width}}  {main} {_fmt_index(row.value, units[1], method)}"
        text += f" +/- {_fmt_index(row.ci, units[1], method)}"
        if method in ("sobol", "fast", "emulator"):
            s1 = t[(t["kpi"] == kpi) & (t["index"] == "S1") & (t["parameter"] == row.parameter)]
            if len(s1):
                text += f"   (S1 {s1['value'].iloc[0]:.2f} +/- {s1['ci'].iloc[0]:.2f})"
        if method == "morris":
            sg = t[(t["kpi"] == kpi) & (t["index"] == "sigma") & (t["parameter"] == row.parameter)]
            if len(sg):
                text += f"   (sigma {_fmt_index(sg['value'].iloc[0], units[1], method)})"
        lines.append(text)
    return lines


def _fmt_index(value: float, unit: str, method: str) -> str:
    if value != value:
        return "n/a"
    if method == "morris" and unit == "USD":
        return f"${value / 1e6:,.1f}M"
    if method == "morris":
        return f"{value:,.3g}"
    return f"{value:.2f}"


def report_lines(result: StudyResult, spec: SensitivitySpec) -> list[str]:
    """The closing note: top parameters per KPI, convergence, noise, wall time.

    Args:
        result: The study result.
        spec: Its spec.

    Returns:
        Printable lines.
    """
    a = result.analysis
    s = spec.sensitivity
    lines = []
    main = MAIN_INDEX[a.method]
    conf = f"{s.conf_level:.0%}"
    fits = a.emulator.set_index("kpi") if a.emulator is not None else None
    for kpi in s.kpis:
        if fits is not None and kpi in fits.index and not fits.loc[kpi, "reported"]:
            f = fits.loc[kpi]
            lines.append(
                f"{kpi}: NOT reported: emulator Q2 {f['q2']:.2f} < {f['q2_threshold']:g} "
                f"(see the warning below)"
            )
            continue
        if not (a.indices["kpi"] == kpi).any():
            continue
        label = kpi_units([kpi])[kpi][0]
        label = "" if label == kpi else f"{label}; "
        v = a.verdicts[a.verdicts["kpi"] == kpi].iloc[0]
        lines.append(
            f"Most influential for {kpi} ({label}{METHOD_NAMES[a.method]} {main} "
            f"+/- {conf} CI, N = {v['n']}, {spec.experiment.replications} "
            f"replication{'' if spec.experiment.replications == 1 else 's'} averaged):"
        )
        lines += format_indices(a, kpi)
        if fits is not None and kpi in fits.index:
            f = fits.loc[kpi]
            cv = "leave-one-out" if f["emulator"] == "gp" else "5-fold cross-validation"
            lines.append(
                f"  emulator: {describe(f)} on {f['points']} points; validation Q2 "
                f"{f['q2']:.3f} (threshold {f['q2_threshold']:g}; the first half's fit on the "
                f"second half's points; {cv} {f['q2_cv']:.3f})"
            )
        state = "passed" if v["converged"] else "NOT passed"
        lines.append(f"  convergence check (N/2 = {v['n_half']} vs N = {v['n']}): {state}")
        nz = a.noise[a.noise["kpi"] == kpi]
        if len(nz):
            share, indep = nz["noise_share"].iloc[0], nz["noise_share_independent"].iloc[0]
            if share == share:
                lines.append(
                    f"  noise share: {share:.1%} of the variance of the averaged "
                    f"{kpi} (without common random numbers it would be {indep:.1%})"
                )
            else:
                lines.append(
                    "  noise share: not estimable with one replication (for a "
                    "stochastic model the indices then hold for that one seed)"
                )
    for note in a.warnings:
        lines.append(f"warning: {note}")
    lines.append(
        f"{result.planned} runs ({result.ran} run now, {result.failed} failed); wall "
        f"time {result.wall_seconds:.1f} s (runs {result.runs_seconds:.1f} s, analysis "
        f"and charts {result.analysis_seconds:.1f} s) -> {result.folder}"
    )
    return lines
