"""Designs on worlds: the worlds, one engine experiment per batch of designs, the metrics.

A set of worlds is world-parameter points (a Latin hypercube of ``[worlds.parameters]``)
times seeds: world ``w = s * seeds + r`` is point ``s`` with replication ``r``'s seed,
the same for every design (common random numbers). :func:`evaluate_designs` runs a
batch of designs on every world as one experiment of the engine (a list design of
design x point, the seeds as replications) into its own run store, and turns the KPIs
into each objective's robustness metric; :func:`reference_runs` does the same for the
shipped designs (regret's reference); :func:`reevaluate` runs the front again on fresh
worlds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine.batch import run_experiment
from experiments.engine.design import design_points, replication_seed
from experiments.engine.spec import Design, Spec
from experiments.engine.store import load
from experiments.search.optimiser import dominates
from experiments.search.robustness import metric, minimised
from experiments.search.spec import SearchSpec

#: Purposes the seed is split into (independent streams of one seed).
WORLDS, REEVALUATION = 1, 2
CANDIDATE = "design"  # the label of the base scenario's runs in a generation's store


@dataclass
class Worlds:
    """A set of worlds: world-parameter points x seeds (world ``w = s * seeds + r``)."""

    points: list[dict[str, Any]]
    seed: int  # the engine experiment's seed: replication r's seed derives from it
    seeds: int

    @property
    def count(self) -> int:
        """Number of worlds."""
        return len(self.points) * self.seeds

    def replication_seeds(self) -> list[int]:
        """The random seed of each replication."""
        return [replication_seed(self.seed, r) for r in range(self.seeds)]


def make_worlds(spec: SearchSpec, purpose: int) -> Worlds:
    """The search worlds (``WORLDS``) or the fresh worlds of the re-evaluation.

    Both come from the spec's seed through separate streams, so the re-evaluation's
    seeds and world-parameter points are not the search's.

    Args:
        spec: The search spec.
        purpose: ``WORLDS`` or ``REEVALUATION``.

    Returns:
        The worlds.
    """
    seed = replication_seed(spec.search.seed, 1_000_000 + purpose)
    size = spec.worlds if purpose == WORLDS else spec.reevaluation
    params = spec.worlds.parameters
    if params:
        design = Design(
            kind="lhs",
            samples=size.samples,
            parameters={k: {"range": p.range, "integer": p.integer} for k, p in params.items()},
        )
        points = design_points(design, seed)
    else:
        points = [{}]
    return Worlds(points, seed, size.seeds)


def kpis_of(spec: SearchSpec) -> list[str]:
    """The KPIs the objectives read."""
    return sorted({o.kpi for o in spec.objectives})


def _engine_spec(
    name: str,
    scenarios: list[dict[str, Any]],
    points: list[dict[str, Any]],
    worlds: Worlds,
    spec: SearchSpec,
) -> Spec:
    """One experiment of the engine: designs x worlds (kept KPIs: the objectives')."""
    return Spec.model_validate(
        {
            "experiment": {
                "name": name,
                "seed": worlds.seed,
                "replications": worlds.seeds,
                "months": spec.search.months,
                "kpis": kpis_of(spec),
            },
            "scenarios": scenarios,
            "design": {"kind": "list", "points": points},
        }
    )


def _matrices(
    runs: pd.DataFrame, label: str, n_designs: int, worlds: Worlds, kpis: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """KPI matrices (designs x worlds) of one label's runs; failed runs are NaN.

    Returns:
        (KPI -> matrix, share of failed runs per design, seconds the runs took).
    """
    s, r = len(worlds.points), worlds.seeds
    out = {k: np.full((n_designs, s * r), np.nan) for k in kpis}
    failed = np.zeros((n_designs, s * r), dtype=bool)
    rows = runs[runs["scenario"] == label]
    point = rows["point"].to_numpy()
    design, world = point // s, (point % s) * r + rows["replication"].to_numpy()
    ok = (rows["status"] == "ok").to_numpy()
    failed[design[~ok], world[~ok]] = True
    for k in kpis:
        if k in rows:
            out[k][design[ok], world[ok]] = rows[k].to_numpy(dtype=float)[ok]
    seconds = float(rows["duration_s"].sum()) if "duration_s" in rows else 0.0
    return out, failed.mean(axis=1), seconds


def reference_runs(
    spec: SearchSpec, store: Path, worlds: Worlds, engine: Any
) -> dict[str, dict[str, np.ndarray]]:
    """The shipped designs on a set of worlds: design -> KPI -> values by world.

    Args:
        spec: The spec (its ``search.compare`` designs).
        store: Their run store.
        worlds: The worlds.
        engine: A started engine.

    Returns:
        Design -> KPI -> array of length ``worlds.count``.
    """
    if not spec.search.compare:
        return {}
    points = [{**spec.search.fixed, **w} for w in worlds.points]
    refs = [{"file": d, "label": d} for d in spec.search.compare]
    run_experiment(
        _engine_spec(f"{spec.search.name}-reference", refs, points, worlds, spec),
        store,
        engine=engine,
    )
    runs = load(store)
    out = {}
    for d in spec.search.compare:
        mats, _, _ = _matrices(runs, d, 1, worlds, kpis_of(spec))
        out[d] = {k: v[0] for k, v in mats.items()}
    return out


def evaluate_designs(
    spec: SearchSpec,
    designs: Sequence[Mapping[str, Any]],
    store: Path,
    worlds: Worlds,
    reference: Mapping[str, Mapping[str, np.ndarray]],
    engine: Any,
    name: str,
) -> tuple[np.ndarray, np.ndarray, float, dict[str, np.ndarray]]:
    """Run designs on every world (one experiment) and compute their metrics.

    Args:
        spec: The spec.
        designs: Lever values per design.
        store: The run store.
        worlds: The worlds.
        reference: The shipped designs' KPIs on the same worlds (regret's reference).
        engine: A started engine.
        name: The experiment's name.

    Returns:
        (metrics (designs x objectives, plain reading; NaN when runs failed), share of
        failed runs per design, seconds the runs took, KPI -> designs x worlds).
    """
    points = [{**spec.search.fixed, **d, **w} for d in designs for w in worlds.points]
    run_experiment(
        _engine_spec(
            name, [{"file": spec.search.scenario, "label": CANDIDATE}], points, worlds, spec
        ),
        store,
        engine=engine,
    )
    mats, failed, seconds = _matrices(load(store), CANDIDATE, len(designs), worlds, kpis_of(spec))
    values = objective_values(spec, mats, reference)
    return values, failed, seconds, mats


def objective_values(
    spec: SearchSpec,
    mats: Mapping[str, np.ndarray],
    reference: Mapping[str, Mapping[str, np.ndarray]],
) -> np.ndarray:
    """Every objective's metric for designs with KPI matrices (designs x worlds)."""
    cols = []
    for o in spec.objectives:
        ref = np.array([r[o.kpi] for r in reference.values()]) if reference else None
        cols.append(metric(mats[o.kpi], o, ref))
    return np.column_stack(cols)


def minimised_matrix(spec: SearchSpec, values: np.ndarray) -> np.ndarray:
    """Every objective as the optimiser minimises it (designs x objectives)."""
    return np.column_stack([minimised(values[:, i], o) for i, o in enumerate(spec.objectives)])


def reevaluate(
    spec: SearchSpec,
    folder: Path,
    front: pd.DataFrame,
    shipped: pd.DataFrame,
    engine: Any,
) -> pd.DataFrame:
    """Run the front's first designs and the shipped ones on fresh worlds; metrics again.

    The worlds come from another stream of the seed (:func:`make_worlds`), so none is
    a search world; regret is measured against the shipped designs on the fresh worlds.

    Args:
        spec: The spec.
        folder: The search folder.
        front: The front, in shortlist order.
        shipped: The shipped designs' metrics on the search worlds.
        engine: A started engine.

    Returns:
        One row per design: each metric on the search worlds and on the fresh worlds.
    """
    fresh = make_worlds(spec, REEVALUATION)
    search_seeds = set(make_worlds(spec, WORLDS).replication_seeds())
    assert not search_seeds & set(fresh.replication_seeds()), "fresh worlds share a seed"
    chosen = front.head(spec.reevaluation.designs)
    levers = [{k: row[k] for k in spec.levers} for _, row in chosen.iterrows()]
    ref = reference_runs(spec, folder / "runs" / "reevaluation-reference", fresh, engine)
    values, failed, _, _ = evaluate_designs(
        spec,
        levers,
        folder / "runs" / f"reevaluation-{_designs_hash(levers)}",
        fresh,
        ref,
        engine,
        f"{spec.search.name}-reevaluation",
    )
    names = [o.name for o in spec.objectives]
    ref_fresh = (
        objective_values(spec, {k: np.array([ref[d][k] for d in ref]) for k in kpis_of(spec)}, ref)
        if ref
        else np.zeros((0, len(names)))
    )
    rows = []
    both = list(chosen["design"]) + list(shipped.index)
    search_vals = np.vstack([chosen[names].to_numpy(float), shipped[names].to_numpy(float)])
    fresh_vals = np.vstack([values, ref_fresh])
    f_fresh = minimised_matrix(spec, fresh_vals)
    n_front = len(chosen)
    for i, design in enumerate(both):
        row: dict[str, Any] = {"design": design, "shipped": i >= n_front}
        for n, o in enumerate(spec.objectives):
            row[f"{o.name} (search)"] = search_vals[i, n]
            row[f"{o.name} (fresh)"] = fresh_vals[i, n]
        if i < n_front:
            row["failed_share"] = float(failed[i])
            beaten = [
                d
                for j, d in enumerate(shipped.index)
                if dominates(f_fresh[i], f_fresh[n_front + j])
            ]
            row["dominates_on_fresh"] = ", ".join(beaten)
        rows.append(row)
    return pd.DataFrame(rows)


def _designs_hash(designs: Sequence[Mapping[str, Any]]) -> str:
    """8 hex digits naming a set of designs (a store per set: another set runs anew)."""
    blob = json.dumps([dict(d) for d in designs], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]
