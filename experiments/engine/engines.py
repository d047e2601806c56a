"""Engines: where chunks of runs execute. One small interface, three implementations.

``with make_engine("processes", workers=2) as engine:`` then
``for item, result in engine.imap(fn, items):`` yields each item with its
result (or the exception that ended it) as chunks finish, in any order; at
most ``2 x workers`` chunks are in flight, so memory stays flat however many
runs there are.

- ``serial``: in this process, in order (the reference).
- ``processes``: a local pool of spawned processes (Mesa sets the spawn start
  method; spawn is used explicitly). Each worker loads numba's compiled
  kernels once. A worker that dies breaks the pool: the pool is rebuilt and
  the chunks that were in flight are retried, up to ``retries`` times.
- ``dask``: dask.distributed, on an embedded LocalCluster (processes, one
  thread each, dashboard on a free port, scratch space in a temporary folder)
  or on a running cluster given by ``scheduler="tcp://host:8786"``. The
  scheduler reschedules the chunks of a worker that dies; each is retried up
  to ``retries`` times.

``make_engine(..., initializer=fn)`` calls ``fn()`` once in every worker process
(in this process for ``serial``) before its first chunk: the experiment's models
prepare there (the built-in loads numba's compiled kernels), so start-up is
never billed to the runs.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

ENGINES = ("serial", "processes", "dask")
#: One BLAS / OpenMP thread per worker process: workers are the parallelism.
SINGLE_THREAD = {
    k: "1"
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
}


def _noop(_: object) -> None:
    return None


def _nothing() -> None:
    return None


class _SingleThreaded:
    """Set the thread variables for the worker processes started inside the block."""

    def __enter__(self) -> None:
        self._saved = {k: os.environ.get(k) for k in SINGLE_THREAD}
        os.environ.update(SINGLE_THREAD)

    def __exit__(self, *exc: object) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class SerialEngine:
    """Run chunks one after another in this process."""

    name = "serial"

    def __init__(
        self, workers: int = 1, initializer: Callable[[], Any] | None = None, **_: Any
    ) -> None:
        """No workers to start.

        Args:
            workers: Ignored (always 1).
            initializer: Called once on entering.
            **_: Other engines' options, ignored.
        """
        self.workers = 1
        self.initializer = initializer or _nothing

    def __enter__(self) -> SerialEngine:
        self.initializer()  # as every engine does, so start-up is never billed to the runs
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (item, fn(item)) in order; an exception is yielded as the result.

        Args:
            fn: The work.
            items: The chunks.

        Yields:
            (item, result or exception).
        """
        for item in items:
            try:
                yield item, fn(item)
            except Exception as exc:
                yield item, exc


class ProcessEngine:
    """A pool of spawned worker processes."""

    name = "processes"

    def __init__(
        self,
        workers: int = 2,
        retries: int = 2,
        initializer: Callable[[], Any] | None = None,
        **_: Any,
    ) -> None:
        """Configure the pool (started on ``__enter__``).

        Args:
            workers: Worker processes.
            retries: Times a chunk is retried after its worker died.
            initializer: Called once in every worker process (picklable).
            **_: Other engines' options, ignored.
        """
        self.workers = max(1, workers)
        self.retries = retries
        self.initializer = initializer
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self.initializer,
        )

    def __enter__(self) -> ProcessEngine:
        self._threads = _SingleThreaded()
        self._threads.__enter__()
        self._pool = self._start()
        # start every worker now (each prepares the models in its initializer), so start-up
        # is not billed to the first runs
        list(self._pool.map(_noop, range(self.workers)))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._threads.__exit__()

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (item, result or exception) as chunks finish.

        Args:
            fn: The work (picklable).
            items: The chunks (picklable).

        Yields:
            (item, result or exception).
        """
        assert self._pool is not None, "use the engine as a context manager"
        todo = iter(items)
        running: dict[Future, tuple[Any, int]] = {}
        retry: list[tuple[Any, int]] = []

        def submit(item: Any, tries: int) -> None:
            running[self._pool.submit(fn, item)] = (item, tries)

        try:
            yield from self._loop(todo, running, retry, submit)
        finally:  # abandoned (or done): chunks not started yet are not run
            for future in running:
                future.cancel()

    def _loop(
        self,
        todo: Iterator[Any],
        running: dict[Future, tuple[Any, int]],
        retry: list[tuple[Any, int]],
        submit: Callable[[Any, int], None],
    ) -> Iterator[tuple[Any, Any]]:
        """The body of :meth:`imap`: keep ``2 x workers`` chunks in flight, retry lost ones."""
        while True:
            while retry and len(running) < 2 * self.workers:
                submit(*retry.pop())
            while len(running) < 2 * self.workers:
                item = next(todo, None)
                if item is None:
                    break
                submit(item, 0)
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in done:
                item, tries = running.pop(future)
                try:
                    yield item, future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    if tries < self.retries:
                        retry.append((item, tries + 1))
                    else:
                        yield item, exc
                except Exception as exc:
                    yield item, exc
            if broken:  # a worker died: every chunk in flight is lost; rebuild and retry
                for future, (item, tries) in list(running.items()):
                    running.pop(future)
                    if tries < self.retries:
                        retry.append((item, tries + 1))
                    else:
                        yield item, BrokenProcessPool("worker died")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()


class DaskEngine:
    """dask.distributed: an embedded LocalCluster or a running scheduler."""

    name = "dask"

    def __init__(
        self,
        workers: int = 2,
        retries: int = 2,
        scheduler: str | None = None,
        initializer: Callable[[], Any] | None = None,
        **_: Any,
    ) -> None:
        """Configure the cluster (started on ``__enter__``).

        Args:
            workers: Workers of the embedded LocalCluster.
            retries: Times a chunk is retried after a failure of its worker.
            scheduler: Address of a running scheduler (no LocalCluster then).
            initializer: Called once in every worker (picklable).
            **_: Other engines' options, ignored.
        """
        self.workers = max(1, workers)
        self.retries = retries
        self.scheduler = scheduler
        self.initializer = initializer or _nothing
        self._client: Any = None
        self._cluster: Any = None
        self._scratch: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> DaskEngine:
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler:  # a remote cluster's workers are configured where they start
            self._client = Client(self.scheduler)
            self.workers = max(1, len(self._client.scheduler_info()["workers"]))
        else:
            self._scratch = tempfile.TemporaryDirectory(prefix="alliance-dask-")
            # the workers' statistical profiler samples every 10 ms: pure overhead here
            self._config = dask.config.set({"distributed.worker.profile.enabled": False})
            self._config.__enter__()
            with _SingleThreaded():
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    local_directory=self._scratch.name,
                    memory_limit=0,
                )  # no memory-monitor polling
            self._client = Client(self._cluster)
        self._client.run(self.initializer)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._config.__exit__(None, None, None)

    def imap(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield (item, result or exception) as chunks finish.

        Args:
            fn: The work (picklable).
            items: The chunks (picklable).

        Yields:
            (item, result or exception).
        """
        from distributed import as_completed

        todo = iter(items)
        futures = as_completed()
        owner: dict[str, Any] = {}

        def submit() -> bool:
            item = next(todo, None)
            if item is None:
                return False
            future = self._client.submit(fn, item, retries=self.retries, pure=False)
            owner[future.key] = item
            futures.add(future)
            return True

        for _ in range(2 * self.workers):
            if not submit():
                break
        try:
            for future in futures:
                item = owner.pop(future.key)
                try:
                    yield item, future.result()
                except Exception as exc:
                    yield item, exc
                future.release()
                submit()
        finally:  # abandoned (or done): cancel what is still queued or running
            for future in futures.futures:
                future.cancel()


def make_engine(name: str, **options: Any) -> SerialEngine | ProcessEngine | DaskEngine:
    """Build an engine by name.

    Args:
        name: ``serial``, ``processes`` or ``dask``.
        **options: ``workers``, ``retries``, ``scheduler``, ``initializer``.

    Returns:
        The engine (use it as a context manager).

    Raises:
        ValueError: For an unknown name.
    """
    engines = {"serial": SerialEngine, "processes": ProcessEngine, "dask": DaskEngine}
    if name not in engines:
        raise ValueError(f"--engine {name!r}: unknown; choose one of {', '.join(ENGINES)}")
    return engines[name](**options)
