"""Tasks and the worker-side function that runs a chunk of them.

Everything here is importable and picklable, so the same ``run_chunk`` runs
in-process, in a spawned process pool and on Dask workers. A run that raises
becomes a row with ``status = "error"`` and the message; the chunk goes on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine.spec import ALLIANCE, resolve_model

try:
    MODEL_VERSION = version("alliance-sim")
except PackageNotFoundError:  # running from a source tree without installing
    MODEL_VERSION = "0+source"


def replication_seed(experiment_seed: int, replication: int) -> int:
    """Seed of replication ``r``: the same for every scenario and design point.

    Replication r of any design point uses the same world random stream in every
    policy (common random numbers), so comparisons across scenarios are paired.

    Args:
        experiment_seed: The spec's seed.
        replication: Replication number.

    Returns:
        A 63-bit integer seed, from ``SeedSequence(seed, spawn_key=(r,))``.
    """
    state = np.random.SeedSequence(experiment_seed, spawn_key=(replication,)).generate_state(
        1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))


@dataclass(frozen=True)
class Task:
    """One run: a scenario, a design point, a replication."""

    index: int
    run_id: str
    scenario: str  # label
    scenario_file: str
    overlays: tuple[str, ...]
    point: int
    params: dict[str, Any]
    replication: int
    seed: int


@dataclass(frozen=True)
class Context:
    """What every task of an experiment shares."""

    model: str = ALLIANCE
    months: int | None = None
    kpis: tuple[str, ...] = ()
    timeseries: bool = False
    stride: int = 12
    columns: tuple[str, ...] = ()
    scenario_hashes: dict[str, str] = field(default_factory=dict)


def run_id(context: Context, scenario: str, params: dict[str, Any], seed: int) -> str:
    """Content hash naming a run: model, scenario content, overrides, seed, horizon, version.

    Args:
        context: The experiment context (model and scenario hashes).
        scenario: Scenario label.
        params: The design point's values.
        seed: The run's seed.

    Returns:
        16 hex digits.
    """
    blob = json.dumps({"model": context.model, "version": MODEL_VERSION,
                       "scenario": context.scenario_hashes.get(scenario, scenario),
                       "params": params, "seed": seed, "months": context.months},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@lru_cache(maxsize=32)
def _base_scenario(file: str, overlays: tuple[str, ...]) -> Any:
    from sim.config import load_scenario

    return load_scenario(file, overlays=list(overlays))


def _execute(task: Task, context: Context) -> tuple[dict[str, float], pd.DataFrame | None]:
    if context.model == ALLIANCE:
        from sim.model.api import run

        result = run(_base_scenario(task.scenario_file, task.overlays), seed=task.seed,
                     months=context.months, overrides=task.params or None)
        series = None
        if context.timeseries:
            ts = result.timeseries
            ts = ts[ts["month"] % context.stride == 0]
            if context.columns:  # names or shell patterns ("*.general_fund", "coverage.*")
                ts = ts[["month", *[c for c in ts.columns if c != "month" and any(
                    fnmatch.fnmatchcase(c, pattern) for pattern in context.columns)]]]
            series = ts.reset_index(drop=True)
        return result.kpis, series
    return resolve_model(context.model)(dict(task.params), task.seed), None


def run_chunk(tasks: list[Task], context: Context) -> tuple[list[dict], list[pd.DataFrame]]:
    """Run tasks one after another; never raises for a failing run.

    Args:
        tasks: The chunk.
        context: Shared settings.

    Returns:
        (one row per task, time-series frames of the successful runs).
    """
    worker = f"{socket.gethostname()}:{os.getpid()}"
    rows, frames = [], []
    for task in tasks:
        start = time.perf_counter()
        row: dict[str, Any] = {
            "run_id": task.run_id, "index": task.index, "scenario": task.scenario,
            "point": task.point, "replication": task.replication, "seed": task.seed,
            **{f"param.{k}": v for k, v in task.params.items()}}
        try:
            kpis, series = _execute(task, context)
            keep = context.kpis or tuple(kpis)
            row.update({k: float(kpis[k]) for k in keep if k in kpis})
            row.update(status="ok", error="")
            if series is not None:
                series.insert(0, "run_id", task.run_id)
                series.insert(1, "scenario", task.scenario)
                frames.append(series)
        except Exception as exc:  # a failing run is recorded, the rest go on
            last = traceback.extract_tb(exc.__traceback__)[-1]
            row.update(status="error", error=f"{type(exc).__name__}: {exc} "
                                             f"({os.path.basename(last.filename)}:{last.lineno})")
        row["duration_s"] = time.perf_counter() - start
        row["worker"] = worker
        rows.append(row)
    return rows, frames


def warm_up() -> None:
    """Load numba's compiled kernels (from its on-disk cache) once per worker."""
    from sim.model.api import run

    run("alliance", months=1, overrides={"world.residents.simulated_agents": 200})
