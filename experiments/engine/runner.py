"""Tasks and the worker-side function that runs a chunk of them.

Everything here is importable and picklable, so the same ``run_chunk`` runs
in-process, in a spawned process pool and on Dask workers. Every task runs the
same way, whatever the model (:mod:`experiments.engine.model`): call it with the
design point and the seed, keep its KPIs and, if asked, its series. A run that
raises becomes a row with ``status = "error"`` and the message; the chunk goes on.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import socket
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

from experiments.engine.model import Model, split_outcome

try:
    MODEL_VERSION = version("alliance-sim")
except PackageNotFoundError:  # running from a source tree without installing
    MODEL_VERSION = "0+source"

#: Columns of a runs row that are not design values (``param.*``) or KPIs.
RUN_COLUMNS = (
    "run_id",
    "index",
    "scenario",
    "point",
    "replication",
    "seed",
    "status",
    "error",
    "duration_s",
    "worker",
)


@dataclass(frozen=True)
class Task:
    """One run: a model (by its label), a design point, a replication."""

    index: int
    run_id: str  # unique per (model label, design point, replication)
    scenario: str  # the model's label
    point: int
    params: dict[str, Any]
    replication: int
    seed: int
    content: str = ""  # what the run computes: equal for identical design points


@dataclass(frozen=True)
class Context:
    """What every task of an experiment shares: the models by label and what to keep."""

    models: dict[str, Model] = field(default_factory=dict)
    kpis: tuple[str, ...] = ()
    timeseries: bool = False
    stride: int = 12
    columns: tuple[str, ...] = ()


def plan_id(content: str, label: str, point: int, replication: int) -> str:
    """The run id of a plan entry: its content, model label, design point and replication.

    Two entries of a plan never share an id, even when their content is the same
    (a design that lists one point twice, one scenario under two labels).

    Args:
        content: The run's content hash (:func:`run_id`).
        label: The model's label.
        point: The design point's position.
        replication: The replication.

    Returns:
        16 hex digits.
    """
    blob = json.dumps([content, label, point, replication])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_id(
    model: str, fingerprint: str, params: dict[str, Any], seed: int, months: int | None
) -> str:
    """Content hash of a run: model, its content, the design values, seed, horizon, version.

    Args:
        model: The spec's model reference (``alliance`` or ``package.module:function``).
        fingerprint: The model's ``fingerprint`` (the built-in: its scenario's content),
            or its label when it has none.
        params: The design point's values.
        seed: The run's seed.
        months: The spec's horizon.

    Returns:
        16 hex digits.
    """
    blob = json.dumps(
        {
            "model": model,
            "version": MODEL_VERSION,
            "scenario": fingerprint,
            "params": params,
            "seed": seed,
            "months": months,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def thin_series(ts: pd.DataFrame, stride: int, columns: tuple[str, ...]) -> pd.DataFrame:
    """Keep every ``stride``-th month and the chosen columns of a run's series.

    Args:
        ts: The series, one row per month (rows are counted when there is no ``month``).
        stride: Keep months that are multiples of it.
        columns: Names or shell patterns (``"*.general_fund"``, ``"coverage.*"``); empty: all.

    Returns:
        The kept rows and columns, ``month`` first, with a fresh index.
    """
    if "month" in ts.columns:
        ts = ts[ts["month"] % stride == 0]
    else:
        ts = ts.iloc[::stride]
    if columns:
        lead = ["month"] if "month" in ts.columns else []
        ts = ts[
            [
                *lead,
                *[
                    c
                    for c in ts.columns
                    if c != "month" and any(fnmatch.fnmatchcase(c, pattern) for pattern in columns)
                ],
            ]
        ]
    return ts.reset_index(drop=True)


def _run_one(task: Task, context: Context) -> tuple[dict[str, float], pd.DataFrame | None]:
    kpis, series = split_outcome(context.models[task.scenario](dict(task.params), task.seed))
    keep = context.kpis or tuple(kpis)
    values = {k: float(kpis[k]) for k in keep if k in kpis}
    if not context.timeseries or series is None:
        return values, None
    return values, thin_series(series, context.stride, context.columns)


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
            "run_id": task.run_id,
            "index": task.index,
            "scenario": task.scenario,
            "point": task.point,
            "replication": task.replication,
            "seed": task.seed,
            **{f"param.{k}": v for k, v in task.params.items()},
        }
        try:
            kpis, series = _run_one(task, context)
            row.update(kpis)
            row.update(status="ok", error="")
            if series is not None:
                series.insert(0, "run_id", task.run_id)
                series.insert(1, "scenario", task.scenario)
                frames.append(series)
        except (Exception, SystemExit) as exc:  # a failing run is recorded, the rest go on
            # (a model calling sys.exit fails its run, not the batch; Ctrl-C still stops)
            last = traceback.extract_tb(exc.__traceback__)[-1]
            row.update(
                status="error",
                error=f"{type(exc).__name__}: {exc} "
                f"({os.path.basename(last.filename)}:{last.lineno})",
            )
        row["duration_s"] = time.perf_counter() - start
        row["worker"] = worker
        rows.append(row)
    return rows, frames


def warm_up(models: Iterable[Model]) -> None:
    """Let each model prepare a worker process (``warm_up()``, where a model has one).

    Args:
        models: The experiment's models.
    """
    for model in models:
        prepare = getattr(model, "warm_up", None)
        if prepare is not None:
            prepare()
