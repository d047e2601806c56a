"""Run an experiment spec into a run store: plan, skip what is done, run, record.

``run_experiment(spec, out)`` plans every (scenario, design point,
replication) run, drops those already stored in ``out`` (resume), groups the
rest into chunks, runs them on an engine and writes rows as chunks finish.
Killing it at any moment loses at most the runs in flight; running it again
completes the experiment without running anything twice.
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.engine.design import design_points, replication_seed
from experiments.engine.engines import make_engine
from experiments.engine.runner import Context, Task, plan_id, run_chunk, run_id, warm_up
from experiments.engine.spec import Spec, bind_models
from experiments.engine.store import RunStore, StoreLocked, verify, writer_gone

#: The run store's format: 2 since run ids include the plan entry (label, point,
#: replication); a store of another format is not resumed (its ids would not match).
STORE_FORMAT = 2

PACKAGES = (
    "alliance-sim",
    "mesa",
    "numpy",
    "pandas",
    "scipy",
    "numba",
    "pyarrow",
    "SALib",
    "dask",
    "distributed",
    "pydantic",
)


class ExperimentError(Exception):
    """The folder holds another experiment, or the spec cannot run."""


@dataclass
class Summary:
    """What an experiment run did."""

    planned: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    engine: str
    workers: int
    startup: float = 0.0

    @property
    def runs_per_second(self) -> float:
        """Runs completed per second once the workers were up."""
        return self.ran / self.seconds if self.seconds > 0 else 0.0


def plan(spec: Spec) -> tuple[Context, list[Task]]:
    """Every run of the experiment, in a fixed order (a list; see :func:`iter_tasks`).

    Args:
        spec: A validated spec.

    Returns:
        (shared context, tasks) where task ``index`` is its position.
    """
    context, count, tasks = iter_tasks(spec)
    return context, list(tasks)


def iter_tasks(spec: Spec) -> tuple[Context, int, Iterator[Task]]:
    """The experiment's runs as a generator, so planning a million runs takes no memory.

    Every model of the spec (:func:`experiments.engine.spec.bind_models`) runs
    every design point and replication, the built-in model and a function alike.

    Args:
        spec: A validated spec.

    Returns:
        (shared context, number of runs, tasks in a fixed order).

    Raises:
        ExperimentError: When two models share a label.
    """
    exp = spec.experiment
    bindings = bind_models(exp, spec.scenarios)
    labels = [b.label for b in bindings]
    if len(set(labels)) != len(labels):
        raise ExperimentError("two [[scenarios]] share a label: give each a distinct label")
    fingerprints = {b.label: getattr(b.model, "fingerprint", None) or b.label for b in bindings}
    context = Context(
        models={b.label: b.model for b in bindings},
        kpis=tuple(exp.kpis),
        timeseries=exp.timeseries,
        stride=exp.timeseries_stride,
        columns=tuple(exp.timeseries_columns),
    )
    points = design_points(spec.design, exp.seed)

    def generate() -> Iterator[Task]:
        index = 0
        for r in range(exp.replications):
            seed = replication_seed(exp.seed, r)
            for p, point in enumerate(points):
                for label in labels:
                    content = run_id(exp.model, fingerprints[label], point, seed, exp.months)
                    yield Task(
                        index=index,
                        scenario=label,
                        point=p,
                        params=point,
                        replication=r,
                        seed=seed,
                        run_id=plan_id(content, label, p, r),
                        content=content,
                    )
                    index += 1

    return context, exp.replications * len(points) * len(labels), generate()


def _spec_hash(spec: Spec) -> str:
    return hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _chunks(tasks: Iterator[Task], total: int, size: int, workers: int) -> Iterator[list[Task]]:
    if size <= 0:  # enough chunks to balance the workers, few enough to keep overhead small
        size = max(1, min(64, math.ceil(total / (8 * workers))))
    while chunk := list(itertools.islice(tasks, size)):
        yield chunk


def run_experiment(
    spec: Spec,
    out: str | Path,
    *,
    engine: str = "serial",
    workers: int = 2,
    scheduler: str | None = None,
    resume: bool = True,
    progress: Callable[[str, dict], Any] | None = None,
    spec_source: str = "",
    wait: bool = False,
    run_timeout: float | None = None,
    retry_failed: bool = False,
    stop: Callable[[], bool] | None = None,
    chunk_size: int | None = None,
    extend: bool = False,
) -> Summary:
    """Run (or finish) an experiment into a run store.

    The store has one writer: while this runs it holds the store's lock, and
    whatever ends it (success, an error, Ctrl-C) the finished runs still
    buffered are written and the lock released.

    Args:
        spec: The validated spec.
        out: The experiment folder.
        engine: ``serial``, ``processes`` or ``dask``; or an engine already started
            (:func:`experiments.engine.engines.make_engine`, entered), which is used as
            it is and left running (warm workers; their initializer is the caller's).
        workers: Worker processes (processes, dask LocalCluster).
        scheduler: A running Dask scheduler's address (``tcp://host:port``).
        resume: Skip runs already stored (False refuses a non-empty folder).
        progress: Called with ("start", {"planned", "skipped"}) and then with
            ("chunk", {"runs", "failed", "rows", "frames"}) after each chunk (the rows
            and series just stored).
        spec_source: The spec file, recorded in the manifest.
        wait: Wait for another process writing to ``out`` instead of failing.
        run_timeout: Seconds a run may take; a run still going then fails with
            ``RunTimeout`` and the experiment goes on (None: no limit).
        retry_failed: Run again the runs stored as failed; the new row supersedes
            the failed one (:func:`experiments.engine.store.latest`).
        stop: Asked between chunks; once it returns True no more work is submitted,
            the chunks not yet started are cancelled and the runs finished so far are
            stored (status ``partial``). None: run to the end.
        chunk_size: Runs per chunk, instead of the spec's (not part of the spec:
            the store stays the same experiment).
        extend: Accept a folder whose experiment is this one with fewer design
            points (a list design this one's begins with) or fewer replications:
            its runs keep their ids and are skipped, the new points and
            replications run (a sensitivity design grown by ``--until-converged``).

    Returns:
        The summary.

    Raises:
        ExperimentError: When the folder holds another experiment (or, without
            ``resume``, any results), or another process is writing to it.
    """
    if run_timeout is not None and not (math.isfinite(run_timeout) and run_timeout > 0):
        raise ExperimentError(f"--run-timeout {run_timeout}: must be a positive number of seconds")
    store, manifest, done = _open_store(spec, out, resume, wait, retry_failed, extend)
    try:
        return _run(
            spec,
            store,
            manifest,
            done,
            engine,
            workers,
            scheduler,
            progress,
            spec_source,
            run_timeout,
            stop,
            chunk_size,
        )
    except BaseException as exc:  # Ctrl-C, SIGTERM, a fatal error: say so in the manifest
        _stopped(store, exc)
        raise
    finally:
        store.close()


def _finish(store: RunStore, status: Callable[[int], str], **more: Any) -> None:
    """Write the buffered runs, then the manifest's end state with the stored counts.

    Args:
        store: The store (open for writing).
        status: The number of runs stored -> the status to record.
        **more: Further manifest entries.
    """
    store.flush()
    total = store.recorded()
    store.write_manifest(
        {
            **store.manifest(),
            "status": status(len(total)),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "recorded": len(total),
            "failed": int((total["status"] != "ok").sum()),
            **more,
        }
    )


def _stopped(store: RunStore, exc: BaseException) -> None:
    """Write the finished runs and record why the experiment stopped, with the counts.

    When even that fails (the disk is full), the manifest keeps "running" and
    :func:`status` tells from the lock file that its writer is gone.
    """
    state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped"
    try:
        _finish(store, lambda n: state, stopped_by=f"{type(exc).__name__}: {exc}".rstrip(": "))
    except OSError:
        store.discard()  # nothing more can be written; the original error is the one to show


def _run(
    spec: Spec,
    store: RunStore,
    manifest: dict,
    done: set[str],
    engine: str,
    workers: int,
    scheduler: str | None,
    progress: Callable[[str, dict], Any] | None,
    spec_source: str,
    run_timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
    chunk_size: int | None = None,
) -> Summary:
    """The body of :func:`run_experiment`, with the store open for writing."""
    context, planned, tasks = iter_tasks(spec)
    context = replace(context, run_timeout=run_timeout)
    mapped = _identical(spec, done)
    copies = {t.run_id for same in mapped.values() for t in same}
    todo = (t for t in tasks if t.run_id not in done and t.run_id not in copies)
    n_todo = planned - len(done)
    started = time.time()
    store.write_manifest(
        {
            **manifest,
            "name": spec.experiment.name,
            "store_format": STORE_FORMAT,
            "spec": json.loads(spec.model_dump_json()),
            "spec_hash": _spec_hash(spec),
            "spec_file": spec_source or manifest.get("spec_file", ""),
            "git_commit": _git_commit(),
            "packages": _versions(),
            "python": sys.version.split()[0],
            "host": platform.node(),
            "user": getpass.getuser(),
            "engine": engine,
            "workers": workers,
            "planned": planned,
            "status": "running",
            "started": manifest.get("started", time.strftime("%Y-%m-%dT%H:%M:%S%z")),
            "resumed": manifest.get("resumed", -1) + 1,
        }
    )
    if progress is not None:
        progress("start", {"planned": planned, "skipped": planned - n_todo})
    t_start = time.perf_counter()
    prepare = partial(warm_up, tuple(context.models.values()))
    size = spec.experiment.chunk_size if chunk_size is None else chunk_size
    with _engine(engine, workers, scheduler, prepare) as eng:
        t0 = time.perf_counter()  # throughput is measured once the workers are up
        chunks = _chunks(todo, n_todo - len(copies), size, eng.workers)
        if stop is not None:  # stop submitting once asked to
            chunks = itertools.takewhile(lambda _: not stop(), chunks)
        ran, failed = _record(
            eng.imap(partial(run_chunk, context=context), chunks), store, progress, mapped, stop
        )
        seconds = time.perf_counter() - t0
        engine = getattr(eng, "name", str(engine))
        workers = eng.workers
    startup = t0 - t_start
    _finish(
        store,
        lambda n: "complete" if n >= planned else "partial",
        last_invocation={
            "ran": ran,
            "failed": failed,
            "seconds": round(seconds, 3),
            "engine": engine,
            "workers": workers,
            "startup_seconds": round(startup, 3),
            "runs_per_second": round(ran / seconds, 3) if seconds else 0,
        },
        wall_seconds=round(time.time() - started, 3),
    )
    return Summary(planned, planned - n_todo, ran, failed, seconds, engine, workers, startup)


@contextmanager
def _engine(
    engine: Any, workers: int, scheduler: str | None, prepare: Callable[[], Any]
) -> Iterator[Any]:
    """An engine by name (started here, stopped after), or a started one used as it is."""
    if not isinstance(engine, str):
        yield engine
        return
    with make_engine(engine, workers=workers, scheduler=scheduler, initializer=prepare) as eng:
        yield eng


def _open_store(
    spec: Spec,
    out: str | Path,
    resume: bool,
    wait: bool = False,
    retry_failed: bool = False,
    extend: bool = False,
) -> tuple[RunStore, dict, set[str]]:
    """The run store of ``out`` (its writer), its manifest and the run ids not to run again.

    Refuses another writer's store, another experiment's, and stored runs without
    ``resume``; the lock is released again when it refuses. With ``retry_failed``
    the runs stored as failed are not among the ids returned: they run again.
    """
    try:
        store = RunStore(out, flush_seconds=spec.experiment.flush_seconds, wait=wait)
    except StoreLocked as exc:
        raise ExperimentError(str(exc)) from None
    manifest = store.manifest()
    problem = None
    same = not manifest or manifest.get("spec_hash") == _spec_hash(spec)
    if not same and not (extend and _extends(manifest.get("spec"), spec)):
        problem = f"{out}: holds another experiment ({manifest.get('name')}); choose a new --out"
    recorded = store.recorded()
    if problem is None and len(recorded) and manifest.get("store_format", 1) != STORE_FORMAT:
        problem = (
            f"{out}: written by an earlier version of the run store (format "
            f"{manifest.get('store_format', 1)}, now {STORE_FORMAT}): its run ids differ, so "
            "it cannot be resumed; choose a new --out"
        )
    if problem is None and len(recorded) and not resume:
        problem = (
            f"{out}: already holds {len(recorded)} runs; "
            "pass --resume to finish it or choose a new --out"
        )
    if problem is not None:
        store.close()
        raise ExperimentError(problem)
    if retry_failed:
        recorded = recorded[recorded["status"] == "ok"]
    return store, manifest, set(recorded["run_id"])


def _extends(stored: dict | None, spec: Spec) -> bool:
    """Whether ``spec`` is the stored experiment grown: points appended, replications added.

    A run's id depends on its point and seed, and replication r's seed on r alone
    (:func:`experiments.engine.design.replication_seed`), so the stored runs keep
    their ids in the grown experiment and none runs again.

    Args:
        stored: The manifest's spec (JSON).
        spec: The new spec.

    Returns:
        True when both are list designs, the stored points begin the new ones, the
        new spec has at least the stored replications and everything else is the same.
    """
    if not stored:
        return False
    new = json.loads(spec.model_dump_json())
    old_design, new_design = stored.get("design", {}), new.get("design", {})
    if old_design.get("kind") != "list" or new_design.get("kind") != "list":
        return False
    old_points, new_points = old_design.get("points", []), new_design.get("points", [])
    old_exp, new_exp = dict(stored.get("experiment", {})), dict(new.get("experiment", {}))
    if new_exp.pop("replications", 1) < old_exp.pop("replications", 1):
        return False
    rest_old = {k: v for k, v in stored.items() if k not in ("design", "experiment")}
    rest_new = {k: v for k, v in new.items() if k not in ("design", "experiment")}
    return (
        rest_old == rest_new
        and old_exp == new_exp
        and new_points[: len(old_points)] == old_points
        and {k: v for k, v in old_design.items() if k != "points"}
        == {k: v for k, v in new_design.items() if k != "points"}
    )


def _identical(spec: Spec, done: set[str]) -> dict[str, list[Task]]:
    """Plan entries still to run that compute the same as an earlier one: run once, copy.

    A design can list a point twice (a Sobol design with second order does so
    on its own), and two labels can name the same scenario: such entries have
    their own run ids but the same content, so the first one not yet stored
    runs and the others are stored as copies of its row and series.

    Args:
        spec: The spec.
        done: Run ids already stored.

    Returns:
        The run id that runs -> the entries that copy it.
    """
    first: dict[str, str] = {}
    mapped: dict[str, list[Task]] = {}
    for task in iter_tasks(spec)[2]:
        if task.run_id in done:
            continue
        runs = first.setdefault(task.content, task.run_id)
        if runs != task.run_id:
            mapped.setdefault(runs, []).append(task)
    return mapped


def _copies(
    rows: list[dict], frames: list[pd.DataFrame], mapped: dict[str, list[Task]]
) -> tuple[list[dict], list[pd.DataFrame]]:
    """Rows and series of the entries that copy the runs in ``rows``."""
    out_rows, out_frames = [], []
    for row in rows:
        for task in mapped.get(row["run_id"], ()):
            out_rows.append(
                {
                    **row,
                    "run_id": task.run_id,
                    "index": task.index,
                    "scenario": task.scenario,
                    "point": task.point,
                    "replication": task.replication,
                    "duration_s": 0.0,
                    "worker": f"same as {row['run_id']}",
                }
            )
            for frame in frames:
                if len(frame) and frame["run_id"].iloc[0] == row["run_id"]:
                    out_frames.append(frame.assign(run_id=task.run_id, scenario=task.scenario))
    return out_rows, out_frames


def _record(
    results: Iterator[tuple[list[Task], Any]],
    store: RunStore,
    progress: Callable[[str, dict], Any] | None,
    mapped: dict[str, list[Task]] | None = None,
    stop: Callable[[], bool] | None = None,
) -> tuple[int, int]:
    """Store each finished chunk's rows and series as it comes: (runs, failed runs).

    Entries identical to a run in the chunk (``mapped``) are stored with it. Once
    ``stop()`` is true the chunks still in flight are abandoned (the engine cancels
    those not started).
    """
    ran = failed = 0
    for chunk, result in results:
        if isinstance(result, BaseException):  # the chunk's worker kept dying
            rows = [
                _failed_row(t, f"worker lost: {type(result).__name__}: {result}") for t in chunk
            ]
            frames = []
        else:
            rows, frames = result
        if mapped:
            extra_rows, extra_frames = _copies(rows, frames, mapped)
            rows, frames = rows + extra_rows, frames + extra_frames
        store.add(rows, frames)
        ran += len(rows)
        bad = sum(r["status"] != "ok" for r in rows)
        failed += bad
        if progress is not None:
            progress("chunk", {"runs": len(rows), "failed": bad, "rows": rows, "frames": frames})
        if stop is not None and stop():
            close = getattr(results, "close", None)
            if close is not None:
                close()
            break
    return ran, failed


def _failed_row(task: Task, error: str) -> dict:
    return {
        "run_id": task.run_id,
        "index": task.index,
        "scenario": task.scenario,
        "point": task.point,
        "replication": task.replication,
        "seed": task.seed,
        **{f"param.{k}": v for k, v in task.params.items()},
        "status": "error",
        "error": error,
        "duration_s": 0.0,
        "worker": "",
    }


def status(folder: str | Path) -> dict[str, Any]:
    """Done / failed / pending counts of an experiment folder.

    Args:
        folder: The experiment folder.

    Returns:
        Counts and the manifest's status.

    Raises:
        FileNotFoundError: When the folder is not an experiment.
    """
    store = RunStore(folder, write=False)  # a reader: no lock, nothing written or moved
    manifest = store.manifest()
    if not manifest:
        raise FileNotFoundError(f"{folder}: no manifest.json: not an experiment folder")
    report = verify(folder)
    rec = store.recorded(skip=set(report["corrupt"]))
    ok = int((rec["status"] == "ok").sum())
    failed = int(len(rec) - ok)
    planned = int(manifest.get("planned", len(rec)))
    state = manifest.get("status", "")
    if state == "running" and writer_gone(folder):
        state = "stopped: its writer is gone"
    return {
        "name": manifest.get("name", ""),
        "planned": planned,
        "done": ok,
        "failed": failed,
        "pending": max(planned - len(rec), 0),
        "status": state,
        "missing": len(report["missing"]),
        "corrupt": len(report["corrupt"]),
        "orphaned": len(report["orphaned"]),
    }
