"""A robust design search over the experiment engine: generations, stores, checkpoints.

``run_search(spec, out)`` evaluates the shipped designs (``search.compare``) on the
search worlds, then asks the optimiser (:mod:`experiments.search.optimiser`) for a
generation of designs, runs every new design on every world as one experiment of the
engine (serial, processes or Dask; one engine kept warm for the whole search), turns
the runs into robustness metrics (:mod:`experiments.search.evaluate`), tells the
optimiser, and checkpoints. The folder::

    search.json                 the spec, status, generations and timings
    runs/reference/             run store: the shipped designs on the search worlds
    runs/gen-000/, gen-001/...  run store of each generation (every run kept)
    state/gen-000.pkl ...       the optimiser and the search after each generation
    evaluations.parquet         every design evaluated: levers, metrics, generation
    convergence.csv             hypervolume and epsilon progress by generation, timings
    front.csv, front.parquet    the Pareto front: levers and metrics
    reevaluation.csv            the front re-run on fresh worlds (runs/reevaluation*/)
    candidates/c1.toml ...      candidate designs as scenario files
    charts/search_front.png, search_convergence.png
    section.json                the search's section of the workshop report

Killed at any point, the same command continues: from the last generation's
checkpoint, with the runs of the generation under way already stored (the optimiser's
generator is in the checkpoint, so it asks for the same designs, and the run store
skips what it holds). A design asked for again is not run again. The same spec and
seed give the same front, on any engine.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine.engines import make_engine
from experiments.engine.model import ScenarioModel
from experiments.engine.runner import warm_up
from experiments.engine.store import atomic, write_csv, write_json, write_parquet
from experiments.search.evaluate import (
    WORLDS,
    Worlds,
    evaluate_designs,
    kpis_of,
    make_worlds,
    minimised_matrix,
    objective_values,
    reevaluate,
    reference_runs,
)
from experiments.search.optimiser import EpsilonArchive, Optimiser, hypervolume, nondominated
from experiments.search.spec import SearchSpec


class SearchError(Exception):
    """The folder holds another search, or the search cannot go on."""


def spec_hash(spec: SearchSpec) -> str:
    """16 hex digits of what decides the search's path (a folder holds one search).

    Left out: the budget (``search.evaluations``: the designs asked for do not depend
    on it, so a search can be extended by raising it and rerunning the command), the
    description, the number of candidate files and the re-evaluation, which act only
    after the search.
    """
    data = json.loads(spec.model_dump_json())
    for key in ("evaluations", "candidates", "description"):
        data["search"].pop(key)
    data.pop("reevaluation")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def design_key(levers: Mapping[str, Any]) -> str:
    """A design's identity: its lever values as canonical JSON."""
    return json.dumps(levers, sort_keys=True, default=str)


@dataclass
class State:
    """What a checkpoint holds: the optimiser and everything evaluated so far."""

    optimiser: Optimiser
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    cache: dict[str, tuple[np.ndarray, float, str]] = field(default_factory=dict)
    archive: EpsilonArchive | None = None

    @property
    def generation(self) -> int:
        """The last generation completed (-1: none)."""
        return self.optimiser.generation


@dataclass
class SearchResult:
    """What a search left in its folder."""

    folder: Path
    status: str
    generations: int
    evaluations: int
    front: pd.DataFrame
    convergence: pd.DataFrame
    reference: pd.DataFrame
    reevaluation: pd.DataFrame | None
    candidates: list[Path]
    charts: list[Path]


def _checkpoint(folder: Path, state: State) -> None:
    path = folder / "state" / f"gen-{state.generation:03d}.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic(path, lambda p: p.write_bytes(pickle.dumps(state)))


def _restore(folder: Path) -> State | None:
    saved = sorted((folder / "state").glob("gen-*.pkl"))
    if not saved:
        return None
    return pickle.loads(saved[-1].read_bytes())


def _open(spec: SearchSpec, folder: Path, source: str) -> dict[str, Any]:
    path = folder / "search.json"
    if path.is_file():
        manifest = json.loads(path.read_text())
        if manifest.get("spec_hash") != spec_hash(spec):
            raise SearchError(
                f"{folder}: holds another search ({manifest.get('name')}); choose a new --out"
            )
        manifest.update(spec=json.loads(spec.model_dump_json()), status="running")
        return manifest
    if (folder / "manifest.json").is_file():  # a run store or a workshop study
        raise SearchError(
            f"{folder}: holds an experiment, not a search; put the search in {folder / 'search'} "
            "(alliance report includes it from there)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": spec.search.name,
        "spec_hash": spec_hash(spec),
        "spec": json.loads(spec.model_dump_json()),
        "spec_file": source,
        "status": "running",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_json(manifest, path)
    return manifest


def run_search(
    spec: SearchSpec,
    out: str | Path,
    *,
    engine: str = "processes",
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[str, dict], Any] | None = None,
    stop: Callable[[int], bool] | None = None,
    spec_source: str = "",
) -> SearchResult:
    """Run (or continue) a search into ``out`` and write its outputs.

    Args:
        spec: The validated spec (:func:`experiments.search.spec.load_search_spec`).
        out: The search folder.
        engine: ``serial``, ``processes`` or ``dask``.
        workers: Worker processes.
        scheduler: A running Dask scheduler's address.
        progress: Called with ("generation", {...}) after each generation and
            ("phase", {"text"}) before each stage.
        stop: Asked after each generation (its number); True stops the search there
            (status ``stopped``; the same command continues it).
        spec_source: The spec file, recorded in ``search.json``.

    Returns:
        The outputs (the front so far when stopped).

    Raises:
        SearchError: When ``out`` holds another search.
    """
    folder = Path(out)
    manifest = _open(spec, folder, spec_source)
    say = progress or (lambda event, info: None)
    worlds = make_worlds(spec, WORLDS)
    model = ScenarioModel(spec.search.scenario, (), spec.search.months)
    prepare = partial(warm_up, (model,))
    state = _restore(folder)
    stopped = False
    with make_engine(engine, workers=workers, scheduler=scheduler, initializer=prepare) as eng:
        say("phase", {"text": f"shipped designs on {worlds.count} worlds"})
        reference = reference_runs(spec, folder / "runs" / "reference", worlds, eng)
        if state is None:
            opt = Optimiser(
                spec.levers,
                len(spec.objectives),
                population=spec.search.population,
                seed=spec.search.seed,
                algorithm=spec.search.algorithm,
            )
            state = State(opt)
        while state.generation + 1 < spec.generations:
            _generation(spec, folder, state, worlds, reference, eng, workers)
            say("generation", state.history[-1])
            if stop is not None and stop(state.generation):
                stopped = state.generation + 1 < spec.generations
                break
        finished = not stopped
        result = write_outputs(spec, folder, state, reference, eng if finished else None, say)
    manifest.update(
        status="complete" if finished else "stopped",
        generations=state.generation + 1,
        evaluations=len(state.evaluations),
        finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        engine=getattr(eng, "name", engine),
        workers=getattr(eng, "workers", workers),
        timings=timings(pd.DataFrame(state.history)),
    )
    write_json(manifest, folder / "search.json")
    from experiments.search.tables import section

    write_json(section(folder), folder / "section.json")  # alliance report reads it
    result.status = manifest["status"]
    return result


def _generation(
    spec: SearchSpec,
    folder: Path,
    state: State,
    worlds: Worlds,
    reference: Mapping[str, Mapping[str, np.ndarray]],
    engine: Any,
    workers: int,
) -> None:
    """Ask, evaluate the new designs, tell, update the archive, checkpoint."""
    g = state.generation + 1
    t0 = time.perf_counter()
    asked = state.optimiser.ask()
    t_ask = time.perf_counter() - t0
    keys = [design_key(d) for d in asked]
    new = [i for i, k in enumerate(keys) if k not in state.cache]
    new = [i for n, i in enumerate(new) if keys[i] not in {keys[j] for j in new[:n]}]
    t1 = time.perf_counter()
    seconds = 0.0
    if new:
        values, failed, seconds, _ = evaluate_designs(
            spec,
            [asked[i] for i in new],
            folder / "runs" / f"gen-{g:03d}",
            worlds,
            reference,
            engine,
            f"{spec.search.name}-gen-{g:03d}",
        )
        for j, i in enumerate(new):
            state.cache[keys[i]] = (values[j], float(failed[j]), f"g{g:03d}-{j:03d}")
    t_runs = time.perf_counter() - t1
    t2 = time.perf_counter()
    values = np.array([state.cache[k][0] for k in keys])
    violation = np.array([state.cache[k][1] for k in keys])
    f = minimised_matrix(spec, values)
    f, violation = for_optimiser(f, violation)
    t3 = time.perf_counter()
    state.optimiser.tell(f, violation)
    t_tell = time.perf_counter() - t3
    for i in new:
        state.evaluations.append(
            {
                "design": state.cache[keys[i]][2],
                "generation": g,
                "key": keys[i],
                "failed_share": float(violation[i]),
                **{o.name: float(values[i, n]) for n, o in enumerate(spec.objectives)},
            }
        )
    if state.archive is None:
        state.archive = EpsilonArchive(_epsilons(spec, f[violation == 0]))
    for i in new:
        if violation[i] == 0:
            state.archive.add(f[i], state.cache[keys[i]][2])
    state.history.append(
        {
            "generation": g,
            "evaluations": len(state.evaluations),
            "new_designs": len(new),
            "runs": len(new) * worlds.count,
            "epsilon_progress": state.archive.progress,
            "archive_size": len(state.archive.boxes),
            "seconds_runs": round(seconds, 3),  # the runs' own time, summed over workers
            "seconds_engine": round(t_runs, 3),  # wall time of the generation's experiment
            "seconds_optimiser": round(t_ask + t_tell, 4),
            "workers": getattr(engine, "workers", workers),
        }
    )
    _checkpoint(folder, state)
    write_parquet(pd.DataFrame(state.evaluations), folder / "evaluations.parquet")
    state.history[-1]["seconds_bookkeeping"] = round(time.perf_counter() - t2 - t_tell, 4)
    _checkpoint(folder, state)  # again, with the bookkeeping time (a pickle: milliseconds)


def _epsilons(spec: SearchSpec, f: np.ndarray) -> list[float]:
    """Box sizes: the spec's, or 1 % of the first generation's range of each objective."""
    out = []
    for i, o in enumerate(spec.objectives):
        if o.epsilon:
            out.append(float(o.epsilon))
            continue
        col = f[:, i] if len(f) else np.zeros(1)
        span = float(np.ptp(col)) if len(col) else 0.0
        out.append(span / 100 if span > 0 else max(abs(float(col.mean())), 1.0) * 1e-3)
    return out


def evaluations_table(spec: SearchSpec, state: State) -> pd.DataFrame:
    """Every design evaluated: id, generation, levers (one column each), metrics."""
    table = pd.DataFrame(state.evaluations)
    if table.empty:
        return table
    levers = pd.DataFrame([json.loads(k) for k in table["key"]], index=table.index)
    return pd.concat([table.drop(columns="key"), levers[list(spec.levers)]], axis=1)


def front_mask(spec: SearchSpec, table: pd.DataFrame) -> np.ndarray:
    """Which evaluated designs are feasible and non-dominated."""
    names = [o.name for o in spec.objectives]
    ok = (table["failed_share"] == 0).to_numpy() & np.isfinite(table[names].to_numpy()).all(1)
    mask = np.zeros(len(table), dtype=bool)
    if ok.any():
        f = minimised_matrix(spec, table.loc[ok, names].to_numpy(dtype=float))
        mask[np.flatnonzero(ok)[nondominated(f)]] = True
    return mask


def convergence(spec: SearchSpec, state: State) -> pd.DataFrame:
    """Hypervolume of the front found by each generation, with the history's counts.

    The objectives are scaled to [0, 1] between the best and the worst value any
    feasible design reached in the whole search (so every generation is measured on
    the same scale), and the hypervolume is taken up to the point 1.1 in every
    objective: 1.21 for two objectives is the largest possible, and the share of the
    unit box is what is reported (``hypervolume``, 0-1).
    """
    history = pd.DataFrame(state.history)
    table = pd.DataFrame(state.evaluations)
    if history.empty or table.empty:
        return history
    names = [o.name for o in spec.objectives]
    ok = table["failed_share"].to_numpy() == 0
    f = minimised_matrix(spec, table[names].to_numpy(dtype=float))
    ok &= np.isfinite(f).all(axis=1)
    if not ok.any():
        return history.assign(hypervolume=0.0)
    lo, hi = f[ok].min(axis=0), f[ok].max(axis=0)
    scaled = (f - lo) / np.where(hi > lo, hi - lo, 1.0)
    gens = table["generation"].to_numpy()
    hv = []
    for g in history["generation"]:
        pts = scaled[ok & (gens <= g)]
        pts = pts[nondominated(pts)] if len(pts) else pts
        hv.append(hypervolume(pts, [1.1] * len(names)) / 1.1 ** len(names))
    return history.assign(hypervolume=np.round(hv, 5))


def timings(history: pd.DataFrame) -> dict[str, float]:
    """The search's time split: runs, engine, optimiser, bookkeeping, overhead ratio.

    ``overhead`` = (optimiser + bookkeeping + engine time beyond the runs' own time
    shared over the workers) / (the runs' own time shared over the workers).
    """
    if history.empty:
        return {}
    workers = float(history["workers"].iloc[-1] or 1)
    runs = float(history["seconds_runs"].sum())
    engine = float(history["seconds_engine"].sum())
    opt = float(history["seconds_optimiser"].sum())
    book = float(history.get("seconds_bookkeeping", pd.Series([0.0])).fillna(0).sum())
    ideal = runs / workers
    return {
        "seconds_runs": round(runs, 2),
        "seconds_runs_per_worker": round(ideal, 2),
        "seconds_engine": round(engine, 2),
        "seconds_optimiser": round(opt, 3),
        "seconds_bookkeeping": round(book, 3),
        "optimiser_and_store_share": round((opt + book) / ideal, 4) if ideal else 0.0,
        "overhead": round((engine - ideal + opt + book) / ideal, 4) if ideal else 0.0,
    }


def write_outputs(
    spec: SearchSpec,
    folder: Path,
    state: State,
    reference: Mapping[str, Mapping[str, np.ndarray]],
    engine: Any | None,
    say: Callable[[str, dict], Any],
) -> SearchResult:
    """Front, convergence, charts, candidates and (with an engine) the re-evaluation."""
    from experiments.search import charts
    from experiments.search.candidates import order_front, write_candidates

    table = evaluations_table(spec, state)
    conv = convergence(spec, state)
    write_csv(conv, folder / "convergence.csv", index=False)
    names = [o.name for o in spec.objectives]
    ref_values = (
        objective_values(
            spec,
            {k: np.array([reference[d][k] for d in reference]) for k in kpis_of(spec)},
            reference,
        )
        if reference
        else np.zeros((0, len(names)))
    )
    ref_table = pd.DataFrame(ref_values, columns=names, index=list(reference))
    ref_table.index.name = "design"
    front = table[front_mask(spec, table)].reset_index(drop=True) if len(table) else table
    if len(front):
        front = order_front(spec, front, ref_table)
    write_csv(_parquet_safe(front), folder / "front.csv", index=False)
    write_parquet(_parquet_safe(front), folder / "front.parquet")
    write_csv(ref_table.reset_index(), folder / "shipped.csv", index=False)
    files = write_candidates(spec, front, folder / "candidates") if len(front) else []
    shown = charts.parallel_coordinates(
        spec, front, ref_table, folder / "charts" / "search_front.png"
    )
    curve = charts.convergence_chart(conv, folder / "charts" / "search_convergence.png")
    re_table = None
    if engine is not None and spec.reevaluation.seeds and len(front):
        say("phase", {"text": "re-evaluating the front on fresh worlds"})
        re_table = reevaluate(spec, folder, front, ref_table, engine)
        write_csv(re_table, folder / "reevaluation.csv", index=False)
    return SearchResult(
        folder,
        "complete",
        state.generation + 1,
        len(state.evaluations),
        front,
        conv,
        ref_table,
        re_table,
        files,
        [shown, curve],
    )


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists (financing preferences) as text, so every column has one Parquet type."""
    out = frame.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, dict))).any():
            out[c] = out[c].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
    return out


def for_optimiser(f: np.ndarray, violation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objectives and violations as the optimiser takes them: infeasible where not finite.

    A design with a failed or non-finite run is infeasible: the optimiser gets a
    constraint violation and, as pymoo needs a number, a placeholder just past the worst
    feasible value of that objective (feasible designs always win). Only the optimiser
    sees it: the evaluations table keeps the design's own values (NaN where they are).

    Args:
        f: Minimised objectives, one row per design.
        violation: Each design's share of failed runs.

    Returns:
        (objectives, violations).
    """
    bad = ~np.isfinite(f)
    if not bad.any():
        return f, violation
    worst = np.where(bad, -np.inf, f).max(axis=0)
    placeholder = np.where(np.isfinite(worst), worst + 1.0, 1.0)
    return (
        np.where(bad, placeholder, f),
        np.where(bad.any(axis=1) & (violation == 0), 1.0, violation),
    )
