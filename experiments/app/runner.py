"""Run the page's requests progressively on warm workers, newest first, from a run store.

:class:`Runner` keeps one engine started for the life of the app (its workers have
loaded the model's compiled kernels) and runs one request at a time with
:func:`experiments.engine.batch.run_experiment` into ``<cache>/<request key>/``: the
run store is the cache, so a request asked before is read back (and a request
stopped half way goes on from where it stopped). Worlds come back one after
another (the engine plans replication by replication), so the page can show an
estimate after the first worlds and refine it. Submitting a new request stops the
one running: no more work is submitted for it, work not started is cancelled, and
what finished is stored.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.app.state import Request
from experiments.engine.batch import run_experiment
from experiments.engine.engines import make_engine
from experiments.engine.model import ScenarioModel
from experiments.engine.runner import warm_up
from experiments.engine.store import load

#: Runs per chunk: small, so worlds come back one by one and a cancel wastes little.
CHUNK = 1


@dataclass
class Job:
    """One request being run (or read back): its runs as they arrive."""

    request: Request
    key: str
    folder: Path
    submitted: float = field(default_factory=time.perf_counter)
    status: str = "queued"  # queued, running, done, cancelled, failed
    error: str = ""
    rows: list[dict] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    stored: int = 0  # runs read back from the store
    ran: int = 0  # runs computed for this job
    version: int = 0  # bumped whenever rows arrive or the status changes
    first: float | None = None  # seconds from submission to the first estimate
    full: float | None = None  # ... to the full result
    shown_first: float | None = None  # seconds to the first estimate drawn (the page's)
    shown_full: float | None = None  # ... to the full result drawn
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def labels(self) -> list[str]:
        """Every run label: the designs, then each design under each overlay."""
        designs = [Path(d).stem for d in self.request.designs]
        return designs + [f"{d}+{o}" for o in self.request.overlays for d in designs]

    def snapshot(self) -> tuple[pd.DataFrame, pd.DataFrame, int]:
        """The runs so far, restricted to complete worlds (every label ran on them).

        Returns:
            (runs, time series, number of complete worlds).
        """
        with self.lock:
            rows, frames = list(self.rows), list(self.frames)
        if not rows:
            return pd.DataFrame(), pd.DataFrame(), 0
        runs = pd.DataFrame(rows).drop_duplicates("run_id", keep="last")
        runs = runs[runs.status == "ok"]
        counts = runs.groupby("replication")["scenario"].nunique()
        complete = sorted(counts.index[counts >= len(self.labels)])
        runs = runs[runs.replication.isin(complete)]
        series = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if len(series):
            series = series[series.run_id.isin(set(runs.run_id))]
        return runs.reset_index(drop=True), series, len(complete)

    def complete_worlds(self) -> int:
        """How many worlds every label has run on (cheap: no tables built).

        Returns:
            The number of complete worlds.
        """
        with self.lock:
            done = {(r["replication"], r["scenario"]) for r in self.rows if r["status"] == "ok"}
        per: dict[int, int] = {}
        for replication, _ in done:
            per[replication] = per.get(replication, 0) + 1
        return sum(n >= len(self.labels) for n in per.values())

    def add(self, rows: list[dict], frames: list[pd.DataFrame]) -> None:
        """Record finished runs.

        Args:
            rows: Runs rows.
            frames: Their series.
        """
        with self.lock:
            self.rows += rows
            self.frames += frames
            self.version += 1

    def set_status(self, status: str, error: str = "") -> None:
        """Change the status (and bump the version).

        Args:
            status: The new status.
            error: One line, for ``failed``.
        """
        with self.lock:
            self.status, self.error = status, error
            self.version += 1


class Runner:
    """Runs one request at a time on a warm engine; the newest request wins."""

    def __init__(
        self,
        cache: str | Path,
        *,
        engine: str = "processes",
        workers: int = 2,
        min_worlds: int = 2,
    ) -> None:
        """Configure (nothing starts until :meth:`start`).

        Args:
            cache: Folder of the run stores, one per request key.
            engine: ``processes``, ``serial`` or ``dask``.
            workers: Worker processes.
            min_worlds: Complete worlds needed before a result counts as an estimate.
        """
        self.cache = Path(cache)
        self.engine_name = engine
        self.workers = workers
        self.min_worlds = min_worlds
        self._engine: Any = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}  # by key, the latest job for each
        self._current: Job | None = None
        self._thread: threading.Thread | None = None
        self.runs_started = 0  # runs computed (not read back) since start: for tests

    def start(self, wait: bool = False) -> None:
        """Start the workers (in the background unless ``wait``).

        Args:
            wait: Block until they are up.
        """

        def boot() -> None:
            prepare = partial(warm_up, (ScenarioModel("alliance", (), 1),))
            engine = make_engine(self.engine_name, workers=self.workers, initializer=prepare)
            self._engine = engine.__enter__()
            self._ready.set()

        if self._engine is None and not self._ready.is_set():
            thread = threading.Thread(target=boot, name="alliance-app-engine", daemon=True)
            thread.start()
            if wait:
                thread.join()

    def close(self) -> None:
        """Stop the running request and the workers."""
        with self._lock:
            if self._current is not None:
                self._current.cancel.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._engine is not None:
            self._engine.__exit__(None, None, None)
            self._engine = None

    def job(self, key: str) -> Job | None:
        """The latest job of a request key.

        Args:
            key: :meth:`Request.key`.

        Returns:
            The job, or None.
        """
        with self._lock:
            return self._jobs.get(key)

    @property
    def engine(self) -> Any:
        """The started engine (None until the workers are up)."""
        return self._engine

    @property
    def current(self) -> Job | None:
        """The newest job."""
        return self._current

    def submit(self, request: Request, key: str | None = None) -> Job:
        """Run a request (checked by the caller): stop the one running, read the store.

        The same request as the newest one is not started again.

        Args:
            request: The request.
            key: Its key (computed when not given).

        Returns:
            Its job.
        """
        key = key or request.key()
        with self._lock:
            current = self._current
            if (
                current is not None
                and current.key == key
                and current.status not in ("cancelled", "failed")
            ):
                return current
            if current is not None:
                current.cancel.set()
            job = Job(request, key, self.cache / key)
            self._jobs[key] = job
            self._current = job
            previous = self._thread
            self._thread = threading.Thread(
                target=self._run, args=(job, previous), name=f"alliance-app-{key}", daemon=True
            )
            self._thread.start()
        return job

    def _run(self, job: Job, previous: threading.Thread | None) -> None:
        """Read back what the store holds, then run the rest (after the previous job)."""
        if previous is not None:
            previous.join()  # one writer at a time; it stops at its next chunk
        if job.cancel.is_set():
            job.set_status("cancelled")
            job.finished.set()
            return
        try:
            self._read_store(job)
            self._note(job)
            while not self._ready.wait(0.1):  # the workers are starting
                if job.cancel.is_set():
                    job.set_status("cancelled")
                    return
            if job.cancel.is_set():
                job.set_status("cancelled")
                return
            job.set_status("running")
            spec = job.request.spec()

            def progress(event: str, info: dict) -> None:
                if event == "chunk":
                    self.runs_started += info["runs"]
                    job.ran += info["runs"]
                    job.add(info["rows"], info["frames"])
                    self._note(job)

            run_experiment(
                spec,
                job.folder,
                engine=self._engine,
                progress=progress,
                stop=job.cancel.is_set,
                chunk_size=CHUNK,
                wait=True,
            )
            if job.cancel.is_set():
                job.set_status("cancelled")
            else:
                self._note(job, final=True)
                job.set_status("done")
        except Exception as exc:  # shown on the page as one line; the server goes on
            job.set_status("failed", f"{type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            job.finished.set()

    def _read_store(self, job: Job) -> None:
        """Load the runs the request's store already holds into the job."""
        if not (job.folder / "runs").is_dir():
            return
        try:
            runs = load(job.folder)
        except FileNotFoundError:
            return
        try:
            series = load(job.folder, timeseries=True)
        except FileNotFoundError:
            series = pd.DataFrame()
        frames = [series] if len(series) else []
        job.stored = len(runs)
        job.add(runs.to_dict("records"), frames)

    def _note(self, job: Job, final: bool = False) -> None:
        """Record the time to the first estimate and to the full result."""
        _, _, worlds = job.snapshot()
        elapsed = time.perf_counter() - job.submitted
        if job.first is None and worlds >= min(self.min_worlds, job.request.worlds):
            job.first = elapsed
        if job.full is None and (final or worlds >= job.request.worlds):
            job.full = elapsed
            if job.first is None:
                job.first = elapsed
