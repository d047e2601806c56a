"""Adaptive sample size: a study's design grows until its indices converge or a budget is spent.

:func:`run_until_converged` runs the spec's ``n``, analyses it, and while the
indices have not converged grows the design and runs again into the same
folder. Both nested designs keep their earlier points when ``n`` doubles (the
Sobol' sequence of the emulator appends points; Saltelli's design appends base
samples, each with its block), and replication r's seed does not depend on how
many replications there are, so every stored run keeps its id and is never run
again (:func:`experiments.engine.batch.run_experiment` with ``extend``).

Converged means, for every KPI whose indices are reported: every index
(S1, ST, and S2 when computed) has a CI half-width of at most ``ci_target``
(0.05) and the N/2-vs-N check passes (:func:`experiments.sensitivity.indices.verdict`).
The emulator method also needs at least one KPI reported, and what more runs
could still bring in is tried first:

- a KPI withheld because replication noise caps its Q2 (the noise alone takes
  more than half of the ``1 - q2_threshold`` the emulator may miss) gets the
  replications that bring the noise share of its averages down to that half
  (:func:`experiments.sensitivity.indices.replications_needed`), when they
  would fit in the budget even with the design doubled once more (the cheapest
  such KPI first, when several ask); more points cannot help it, since the
  noise of an average does not fall with the number of points. One beyond the
  budget stays withheld, and the reason says how many replications it would
  need. When its fit also misses far more than the noise (Q2 more than 0.1
  below ``1 - noise share``), ``n`` doubles as well. Replications rise only to
  a need above 1.2 times the current number: the need is estimated from
  estimated noise;
- a KPI withheld for the design (its noise is small) within 0.1 of the
  threshold whose Q2 still rose by more than 0.02 since the last round keeps
  the design growing (n doubles). One far below it does not hold the design back.

Reported KPIs not yet converged double ``n``. The loop stops at convergence, or
before a round whose runs (points x replications, stored ones included) would
exceed ``max_runs``. Run again into the same folder, it starts at the n and
the replications stored there.
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
#: Replications rise only to a need above this multiple of the current number
#: (the need is estimated from the noise, which is itself estimated).
REPS_STEP = 1.2


@dataclass
class Round:
    """One round of an adaptive study."""

    index: int  # 1, 2, ...
    n: int
    replications: int
    runs: int  # planned: points x replications, stored ones included
    ran: int  # run in this round
    max_ci: float  # largest CI half-width of a reported index
    check: bool  # the N/2-vs-N check passed for every reported KPI
    q2: dict[str, float]  # emulator: Q2 per KPI
    reported: list[str]
    converged: bool  # the study stopped here, converged
    seconds: float
    #: Withheld, noise-limited KPIs -> the replications that would let them pass
    #: (0: cannot be told: the parameters' signal is lost in the noise).
    needs: dict[str, int] = field(default_factory=dict)
    #: A withheld KPI limited by the design is near the threshold and still rising.
    rising: bool = False
    #: Noise-limited KPIs whose fit also misses far more than their noise (the design
    #: is short for them too, once their replications are there).
    short: list[str] = field(default_factory=list)


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


def with_replications(spec: SensitivitySpec, replications: int) -> SensitivitySpec:
    """The spec with another number of replications per point.

    Args:
        spec: A validated spec.
        replications: The new number.

    Returns:
        A copy.
    """
    exp = spec.experiment.model_copy(update={"replications": replications})
    return spec.model_copy(update={"experiment": exp})


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


def stored_size(spec: SensitivitySpec, out: str | Path) -> tuple[int, int]:
    """The n and replications of this study already in ``out``: a rerun starts there.

    Args:
        spec: The spec.
        out: The experiment folder.

    Returns:
        ``(n, replications)`` when the folder holds this spec with another n or
        number of replications, else ``(0, 0)``.
    """
    import json

    path = Path(out) / "sensitivity.json"
    if not path.is_file():
        return 0, 0
    stored = json.loads(path.read_text())["spec"]
    mine = spec.model_dump(mode="json")
    n = int(stored["sensitivity"].get("n", 0))
    reps = int(stored["experiment"].get("replications", 1))
    stored["sensitivity"]["n"] = mine["sensitivity"]["n"]
    stored["experiment"]["replications"] = mine["experiment"]["replications"]
    return (n, reps) if stored == mine else (0, 0)


def assess(
    study: StudyResult, spec: SensitivitySpec, previous: dict[str, float] | None = None
) -> Round:
    """One round's figures: the largest reported CI, the N/2-vs-N check, Q2, what KPIs need.

    Args:
        study: The round's study.
        spec: Its spec.
        previous: The previous round's Q2 per KPI (emulator; None in the first round).

    Returns:
        The round (``runs``, ``ran`` and ``seconds`` from the study; ``converged``
        False until :func:`next_round` decides the study stops there).
    """
    a = study.analysis
    reported = list(dict.fromkeys(a.indices["kpi"]))
    cis = a.indices["ci"].to_numpy(dtype=float)
    max_ci = float(np.nanmax(cis)) if len(cis) and np.isfinite(cis).any() else float("nan")
    check = bool(len(a.verdicts)) and bool(a.verdicts["converged"].all())
    q2: dict[str, float] = {}
    needs: dict[str, int] = {}
    rising = False
    short: list[str] = []
    if a.emulator is not None:
        for row in a.emulator.itertuples():
            q2[row.kpi] = float(row.q2)
            if row.reported:
                continue
            limit = (1.0 - row.q2_threshold) / 2
            if row.noise_share == row.noise_share and row.noise_share > limit:
                needs[row.kpi] = int(row.replications_needed)
                if row.q2 < 1.0 - row.noise_share - Q2_NEAR:
                    short.append(row.kpi)  # the fit misses far more than the noise too
                continue
            before = (previous or {}).get(row.kpi, -np.inf)
            near = row.q2 >= row.q2_threshold - Q2_NEAR
            if near and row.q2 - before > Q2_RISING:
                rising = True
    return Round(
        index=0,
        n=spec.sensitivity.n,
        replications=spec.experiment.replications,
        runs=study.planned,
        ran=study.ran,
        max_ci=max_ci,
        check=check,
        q2=q2,
        reported=reported,
        converged=False,
        seconds=study.wall_seconds,
        needs=needs,
        rising=rising,
        short=short,
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
        f"round {index}: N = {r.n} x {_reps(r.replications)}, {r.runs} runs so far "
        f"({r.ran} new), {ci}, "
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
    n_stored, reps_stored = stored_size(spec, out)
    current = with_size(
        spec,
        max(n_stored, spec.sensitivity.n),
        max(reps_stored, spec.experiment.replications),
    )
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
            r = assess(study, current, rounds[-1].q2 if rounds else None)
            r.index = len(rounds) + 1
            following, stopped, reason = next_round(r, current, max_runs, ci_target)
            r.converged = stopped == "converged"
            rounds.append(r)
            if on_round is not None:
                on_round(r)
            if following is None:
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
            a.titles,
        )
    return AdaptiveResult(rounds, stopped, reason, study, current, time.perf_counter() - t0, files)


def with_size(spec: SensitivitySpec, n: int, replications: int) -> SensitivitySpec:
    """The spec with another n and number of replications.

    Args:
        spec: A validated spec.
        n: The new ``n``.
        replications: The new number of replications.

    Returns:
        A copy.
    """
    return with_replications(with_n(spec, n), replications)


def next_round(
    r: Round, current: SensitivitySpec, max_runs: int, ci_target: float = CI_TARGET
) -> tuple[SensitivitySpec | None, str, str]:
    """What the next round runs, or why there is none.

    ``n`` doubles while a reported KPI has not converged, a withheld KPI limited
    by the design is still rising near the threshold, a noise-limited KPI that
    more replications can bring in misses far more than its noise
    (:attr:`Round.short`), or nothing is reported and some withheld KPI is limited
    by the design; the replications rise to the smallest need of the
    noise-limited KPIs (:attr:`Round.needs`) whose need would still fit in the
    budget at twice the next round's n (the design usually has to grow once more
    after the noise falls). When only this n leaves that room, the points wait,
    unless they were wanted only for a withheld KPI limited by the design (still
    rising near the threshold) and doubling them costs fewer runs than the
    replications: then the points go first and the noise-limited KPIs may be
    left to a later study. The KPI cheapest to bring in comes first,
    a costlier one in a later round. (The flagship study once spent 63
    replications on welfare, whose fit then missed for want of points, while the
    lowest balance, short of points alone, stayed withheld at Q2 0.89.)

    Args:
        r: The round just assessed.
        current: Its spec.
        max_runs: The run budget.
        ci_target: Largest CI half-width at convergence.

    Returns:
        ``(spec, "", "")`` for another round, or ``(None, stopped_by, reason)``
        with ``stopped_by`` "converged" or "budget".
    """
    n, reps = r.n, r.replications
    settled = bool(r.reported) and r.check and r.max_ci <= ci_target
    by_design = [k for k in r.q2 if k not in r.reported and k not in r.needs]
    wanted = {k: v for k, v in r.needs.items() if v > REPS_STEP * reps}

    def fits_at(points: int) -> dict[str, int]:  # with room for the design to double once more
        return {
            k: v
            for k, v in wanted.items()
            if planned_runs(with_size(current, 2 * points, v)) <= max_runs
        }

    fits_here = fits_at(n)
    hopeless = set(wanted) - set(fits_here) | {k for k, v in r.needs.items() if v == 0}
    unsettled = bool(r.reported) and not settled
    grow_n = unsettled or r.rising
    grow_n = grow_n or any(k not in hopeless for k in r.short)
    grow_n = grow_n or (not r.reported and bool(by_design or not r.q2))
    n_next = 2 * n if grow_n else n
    fits = fits_at(n_next) if n_next != n else fits_here
    if grow_n and not fits and fits_here:  # the points would leave no room for the replications
        by_points = planned_runs(with_size(current, 2 * n, reps))
        by_reps = min(planned_runs(with_size(current, n, v)) for v in fits_here.values())
        if not (r.rising and not unsettled and by_points < by_reps):  # replications first
            n_next, fits = n, fits_here
    reps_next = min(fits.values(), default=reps)  # the cheapest KPI to bring in first
    left = _withheld_text(r, wanted, fits, current, n_next)
    if n_next == n and reps_next == reps:
        if settled:
            return None, "converged", _converged_text(r, ci_target) + left
        return None, "budget", f"no KPI can be reported within --max-runs {max_runs}" + left
    following = with_size(current, n_next, reps_next)
    need = planned_runs(following)
    if need > max_runs:
        return (
            None,
            "budget",
            f"run budget: the next round (N = {n_next} x {_reps(reps_next)}) needs "
            f"{need} runs, more than --max-runs {max_runs}; not converged "
            f"({_missing_text(r, ci_target)})" + left,
        )
    return following, "", ""


def _withheld_text(
    r: Round,
    wanted: dict[str, int],
    fits: dict[str, int],
    spec: SensitivitySpec,
    n: int,
) -> str:
    """The noise-limited KPIs more replications within the budget cannot bring in."""
    parts = []
    for kpi, need in r.needs.items():
        if need == 0:
            parts.append(f"{kpi}: its parameters' signal is not above the replication noise")
        elif kpi in wanted and kpi not in fits:
            runs = planned_runs(with_size(spec, n, need))
            parts.append(
                f"{kpi}: replication noise caps its Q2; it needs about {need} replications "
                f"({runs} runs at N = {n})"
            )
    return ("; withheld: " + "; ".join(parts)) if parts else ""


def _reps(count: int) -> str:
    return f"{count} replication{'' if count == 1 else 's'}"


def _converged_text(r: Round, ci_target: float) -> str:
    return (
        f"converged at N = {r.n} x {_reps(r.replications)} ({r.runs} runs): every "
        f"reported index's CI half-width "
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
