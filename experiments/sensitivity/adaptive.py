"""Adaptive sample size: a study's design doubles until its indices converge or a budget is spent.

:func:`run_until_converged` runs the spec's ``n``, analyses it, and while the
indices have not converged doubles ``n`` and runs again into the same folder.
Both nested designs keep their earlier points when they double (the Sobol'
sequence of the emulator appends points; Saltelli's design appends base
samples, each with its block), so every stored run keeps its id and is never
run again (:func:`experiments.engine.batch.run_experiment` with ``extend``).

Converged means, for every KPI whose indices are reported: every index
(S1, ST, and S2 when computed) has a CI half-width of at most ``ci_target``
(0.05) and the N/2-vs-N check passes (:func:`experiments.sensitivity.indices.verdict`).
The emulator method also needs at least one KPI reported, and a KPI withheld
for a low Q2 but within 0.1 of the threshold must have stopped improving (Q2 at
most 0.02 above the previous round's): more points could still bring it above
the threshold. A KPI far below it (replication noise, typically) does not hold
the design back; it stays withheld. The loop stops at
convergence, or before a round whose runs (points x replications, stored ones
included) would exceed ``max_runs``. Run again into the same folder, it starts
at the n stored there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from experiments.sensitivity.plan import build_plan
from experiments.sensitivity.spec import SensitivitySpec
from experiments.sensitivity.study import StudyResult, run_sensitivity

#: Methods whose design nests when n doubles.
ADAPTIVE_METHODS = ("sobol", "emulator")
#: Largest CI half-width of any reported index at convergence.
CI_TARGET = 0.05
#: A withheld KPI within Q2_NEAR of the threshold whose Q2 rose by more than Q2_RISING
#: since the previous round may still pass: the design keeps growing.
Q2_RISING = 0.02
Q2_NEAR = 0.1


@dataclass
class Round:
    """One round of an adaptive study."""

    index: int  # 1, 2, ...
    n: int
    runs: int  # planned: points x replications, stored ones included
    ran: int  # run in this round
    max_ci: float  # largest CI half-width of a reported index
    check: bool  # the N/2-vs-N check passed for every reported KPI
    q2: dict[str, float]  # emulator: Q2 per KPI
    reported: list[str]
    converged: bool
    seconds: float


@dataclass
class AdaptiveResult:
    """The rounds, what stopped them, and the last round's study."""

    rounds: list[Round]
    stopped_by: str  # "converged" or "budget"
    reason: str
    study: StudyResult
    study_spec: SensitivitySpec  # the last round's (its n)
    wall_seconds: float = 0.0
    files: list[Path] = field(default_factory=list)


def with_n(spec: SensitivitySpec, n: int) -> SensitivitySpec:
    """The spec with another sample size.

    Args:
        spec: A validated spec.
        n: The new ``n``.

    Returns:
        A copy.
    """
    return spec.model_copy(update={"sensitivity": spec.sensitivity.model_copy(update={"n": n})})


def planned_runs(spec: SensitivitySpec) -> int:
    """Runs of a spec's design: points x replications.

    Args:
        spec: A validated spec.

    Returns:
        The number of runs.
    """
    s = spec.sensitivity
    d = len(s.parameters)
    if s.method == "sobol":
        points = s.n * ((2 * d + 2) if s.second_order else (d + 2))
    elif s.method == "emulator":
        points = s.n
    else:
        points = len(build_plan(spec).points)
    return points * spec.experiment.replications


def stored_n(spec: SensitivitySpec, out: str | Path) -> int:
    """The n of this study already in ``out`` (0 when none): a rerun starts there.

    Args:
        spec: The spec.
        out: The experiment folder.

    Returns:
        The stored study's n when it is this spec with another n, else 0.
    """
    import json

    path = Path(out) / "sensitivity.json"
    if not path.is_file():
        return 0
    stored = json.loads(path.read_text())["spec"]
    mine = spec.model_dump(mode="json")
    n = int(stored["sensitivity"].get("n", 0))
    stored["sensitivity"]["n"] = mine["sensitivity"]["n"]
    return n if stored == mine else 0


def assess(
    study: StudyResult,
    spec: SensitivitySpec,
    ci_target: float = CI_TARGET,
    previous: dict[str, float] | None = None,
) -> Round:
    """One round's figures: the largest reported CI, the N/2-vs-N check, Q2, convergence.

    Args:
        study: The round's study.
        spec: Its spec.
        ci_target: Largest CI half-width allowed.
        previous: The previous round's Q2 per KPI (emulator; None in the first round).

    Returns:
        The round (``runs``, ``ran`` and ``seconds`` from the study).
    """
    a = study.analysis
    reported = list(dict.fromkeys(a.indices["kpi"]))
    cis = a.indices["ci"].to_numpy(dtype=float)
    max_ci = float(np.nanmax(cis)) if len(cis) and np.isfinite(cis).any() else float("nan")
    check = bool(len(a.verdicts)) and bool(a.verdicts["converged"].all())
    q2: dict[str, float] = {}
    rising = False
    if a.emulator is not None:
        for row in a.emulator.itertuples():
            q2[row.kpi] = float(row.q2)
            before = (previous or {}).get(row.kpi, -np.inf)
            near = row.q2 >= row.q2_threshold - Q2_NEAR
            if not row.reported and near and row.q2 - before > Q2_RISING:
                rising = True
    converged = bool(reported) and check and max_ci <= ci_target and not rising
    return Round(
        index=0,
        n=spec.sensitivity.n,
        runs=study.planned,
        ran=study.ran,
        max_ci=max_ci,
        check=check,
        q2=q2,
        reported=reported,
        converged=converged,
        seconds=study.wall_seconds,
    )


def round_line(r: Round, index: int) -> str:
    """One printed line per round.

    Args:
        r: The round.
        index: Its number (1, 2, ...).

    Returns:
        The line.
    """
    q2 = ", ".join(f"{k} {v:.3f}" for k, v in r.q2.items())
    ci = f"max CI half-width {r.max_ci:.3f}" if r.reported else "no KPI reported"
    return (
        f"round {index}: N = {r.n}, {r.runs} runs so far ({r.ran} new), {ci}, "
        f"N/2-vs-N check {'passed' if r.check else 'failed'}"
        + (f", Q2: {q2}" if q2 else "")
        + f" ({r.seconds:.1f} s)"
    )


def run_until_converged(
    spec: SensitivitySpec,
    out: str | Path,
    *,
    max_runs: int,
    engine: str = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[str, dict], Any] | None = None,
    on_round: Callable[[Round], Any] | None = None,
    spec_source: str = "",
    charts: bool = True,
    ci_target: float = CI_TARGET,
) -> AdaptiveResult:
    """Run the spec, doubling n into the same folder until converged or the budget is spent.

    One engine serves every round (workers start once). Stored runs are reused.

    Args:
        spec: A validated spec of a method in :data:`ADAPTIVE_METHODS`.
        out: The experiment folder.
        max_runs: Run budget: no round whose planned runs exceed it is started.
        engine: ``serial``, ``processes`` or ``dask``.
        workers: Worker processes.
        scheduler: A running Dask scheduler's address.
        progress: Passed to each round's run.
        on_round: Called with each round as it ends.
        spec_source: The spec file, recorded in the manifest.
        charts: Draw the charts of the last round.
        ci_target: Largest CI half-width at convergence.

    Returns:
        The rounds and what stopped them.

    Raises:
        ValueError: For a method whose design does not nest, or a budget below the
            first round.
    """
    from experiments.engine.engines import make_engine
    from experiments.engine.runner import warm_up
    from experiments.engine.spec import bind_models
    from experiments.sensitivity.analysis import kpi_units
    from experiments.sensitivity.charts import draw_all

    method = spec.sensitivity.method
    if method not in ADAPTIVE_METHODS:
        raise ValueError(
            f"--until-converged grows nested designs (sobol, emulator), not {method}'s"
        )
    first = planned_runs(spec)
    if first > max_runs:
        raise ValueError(
            f"--max-runs {max_runs} is below the first round's {first} runs "
            f"(n = {spec.sensitivity.n}); raise it or lower n"
        )
    t0 = time.perf_counter()
    stored = stored_n(spec, out)
    current = spec if stored <= spec.sensitivity.n else with_n(spec, stored)
    models = tuple(b.model for b in bind_models(spec.experiment, spec.scenarios))
    rounds: list[Round] = []
    with make_engine(
        engine, workers=workers, scheduler=scheduler, initializer=partial(warm_up, models)
    ) as eng:
        while True:
            study = run_sensitivity(
                current,
                out,
                engine=eng,
                progress=progress,
                spec_source=spec_source,
                charts=False,
                extend=True,
            )
            r = assess(study, current, ci_target, rounds[-1].q2 if rounds else None)
            r.index = len(rounds) + 1
            rounds.append(r)
            if on_round is not None:
                on_round(r)
            if r.converged:
                stopped, reason = "converged", _converged_text(r, ci_target)
                break
            following = with_n(current, current.sensitivity.n * 2)
            need = planned_runs(following)
            if need > max_runs:
                stopped = "budget"
                reason = (
                    f"run budget: the next round (N = {following.sensitivity.n}) needs "
                    f"{need} runs, more than --max-runs {max_runs}; not converged "
                    f"({_missing_text(r, ci_target)})"
                )
                break
            current = following
    a = study.analysis
    files = []
    if charts and len(a.indices):
        files = draw_all(
            Path(out),
            a.method,
            a.indices,
            a.convergence,
            a.labels,
            kpi_units(spec.sensitivity.kpis),
        )
    return AdaptiveResult(rounds, stopped, reason, study, current, time.perf_counter() - t0, files)


def _converged_text(r: Round, ci_target: float) -> str:
    return (
        f"converged at N = {r.n} ({r.runs} runs): every reported index's CI half-width "
        f"<= {ci_target:g} (largest {r.max_ci:.3f}) and the N/2-vs-N check passed"
    )


def _missing_text(r: Round, ci_target: float) -> str:
    why = []
    if not r.reported:
        why.append("no KPI reported")
    if not r.check:
        why.append("the N/2-vs-N check failed")
    if r.reported and not r.max_ci <= ci_target:
        why.append(f"largest CI half-width {r.max_ci:.3f} > {ci_target:g}")
    return "; ".join(why) or "a withheld KPI's Q2 is still rising"
