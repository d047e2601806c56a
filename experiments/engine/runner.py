"""Tasks and the worker-side function that runs a chunk of them.

Everything here is importable and picklable, so the same ``run_chunk`` runs
in-process, in a spawned process pool and on Dask workers. Every task runs the
same way, whatever the model (:mod:`experiments.engine.model`): call it with the
design point and the seed, keep its KPIs and, if asked, its series. A run that
raises, calls ``sys.exit``, returns a non-finite KPI or outlives the per-run time
limit (``Context.run_timeout``) becomes a row with ``status = "error"`` and the
reason; the chunk goes on.
"""

from __future__ import annotations

import ctypes
import fnmatch
import hashlib
import json
import math
import os
import signal
import socket
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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
    run_timeout: float | None = None  # seconds a run may take (None: no limit)


class RunTimeout(BaseException):
    """A run outlived the per-run time limit.

    A ``BaseException``, so a model's own ``except Exception`` cannot swallow it.
    """


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`RunTimeout` in the block's thread once ``seconds`` have passed.

    In a process's main thread (the serial and process engines) a ``SIGALRM``
    timer interrupts the run, sleeping included; in another thread (a Dask
    worker's) a timer thread raises the exception asynchronously in the run's
    thread, which Python delivers at its next bytecode. Either way the run
    stops where it is next in Python: a run stuck inside compiled code that
    never returns to Python cannot be stopped this way.

    Args:
        seconds: The limit; None or 0: no limit.

    Yields:
        Nothing.
    """
    if not seconds:
        yield
        return
    message = f"the run took longer than --run-timeout {seconds:g} s"
    if threading.current_thread() is threading.main_thread():

        def alarm(signum: int, frame: object) -> None:
            raise RunTimeout(message)

        previous = signal.signal(signal.SIGALRM, alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    target = ctypes.c_ulong(threading.get_ident())
    guard = threading.Lock()
    state = {"active": True, "fired": False}

    def expire() -> None:
        with guard:
            if state["active"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(RunTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with guard:
            state["active"] = False
            if state["fired"]:  # fired as the run ended: clear what has not been raised yet
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)
        timer.cancel()


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
    with deadline(context.run_timeout):
        kpis, series = split_outcome(context.models[task.scenario](dict(task.params), task.seed))
    keep = context.kpis or tuple(kpis)
    values = {k: float(kpis[k]) for k in keep if k in kpis}
    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:  # never stored as a number: the run failed, and the row says which KPI
        from sim.model.kpis import NonFiniteKPI

        raise NonFiniteKPI(f"non-finite KPI(s): {', '.join(f'{k} = {values[k]}' for k in bad)}")
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
        except (Exception, SystemExit, RunTimeout) as exc:  # recorded; the rest go on
            # (a model calling sys.exit fails its run, not the batch; Ctrl-C still stops)
            if isinstance(exc, RunTimeout):
                where = ""  # wherever the run happened to be
                text = (
                    str(exc) or f"the run took longer than --run-timeout {context.run_timeout:g} s"
                )
            else:
                last = traceback.extract_tb(exc.__traceback__)[-1]
                where = f" ({os.path.basename(last.filename)}:{last.lineno})"
                text = str(exc)
            row.update(status="error", error=f"{type(exc).__name__}: {text}{where}")
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
