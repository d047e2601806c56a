"""Writing results: every file is written under a temporary name and renamed into place.

A reader never sees a half-written file: a crash leaves at most a stray
``.tmp-*`` file, never a truncated Parquet or JSON file under a real name.

A run store has one writer at a time: the writer holds an advisory lock on
``<folder>/.writer.lock`` (``fcntl.flock``, released by the kernel when the
process dies, however it dies) and records who it is (host, pid, start time)
in the file; a second writer gets :class:`StoreLocked` naming the holder, or
waits for it. Readers (``status``, ``load``, ``report``) open the store
read-only: they take no lock and create, move or delete nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from sim.model.api import RunResult

RESULTS = Path("results")
#: The writer's lock file inside a store.
LOCK_NAME = ".writer.lock"
#: Where a writer moves files it cannot account for (never deleted).
QUARANTINE = "quarantine"


class StoreLocked(RuntimeError):
    """Another process is writing to this run store."""


class StoreCorrupt(RuntimeError):
    """A part file of a run store cannot be read or does not match its checksum."""


def checksum(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Characters a file or folder name made from a user's name may keep.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
#: Longest slug kept from a name (the hash keeps it unique).
SLUG_CHARS = 48


def safe_name(name: str) -> str:
    """A file or folder name for a user-given name (scenario, experiment, design, KPI).

    Names are never paths: the name's letters, digits, ``_``, ``.`` and ``-``
    are kept (runs of anything else become ``-``; leading and trailing dots and
    dashes go, so ``..`` cannot survive as a component), cut to
    :data:`SLUG_CHARS`; whenever that changed the name, an 8-character hash of
    the full name follows, so two names never share a file.

    Args:
        name: Any string.

    Returns:
        The name itself when it was already safe, else ``<slug>-<hash>``.
    """
    slug = _UNSAFE.sub("-", name).strip(".-")[:SLUG_CHARS].strip(".-")
    if slug == name and slug:
        return slug
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else digest


def atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    Args:
        path: Final file.
        write: Writes the whole file to the path it is given.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        # pyarrow's I/O errors carry the errno only in their text ("[errno 28] ...")
        found = re.search(r"\[errno (\d+)\]", str(exc))
        code = exc.errno or (int(found.group(1)) if found else None)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(data: Any, path: Path) -> Path:
    """Write JSON atomically (sorted keys, indented)."""
    return atomic(
        path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    )


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame to Parquet atomically."""
    return atomic(path, lambda p: frame.to_parquet(p, index=False))


def write_csv(frame: pd.DataFrame, path: Path, **kwargs: Any) -> Path:
    """Write a DataFrame to CSV atomically."""
    return atomic(path, lambda p: frame.to_csv(p, **kwargs))


def new_folder(out: str | Path | None, label: str) -> Path:
    """A fresh output folder: ``out`` if given (it must be empty or absent), else a new one.

    Args:
        out: The folder the user asked for, or None.
        label: Used in the default name ``results/runs/<time>-<label>``.

    Returns:
        The folder (created).

    Raises:
        FileExistsError: When ``out`` exists and is not empty.
    """
    if out is not None:
        folder = Path(out)
        if folder.exists() and any(folder.iterdir()):
            raise FileExistsError(
                f"--out {folder}: exists and is not empty; "
                "choose a new folder so no earlier result is overwritten"
            )
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    stamp = pd.Timestamp.now().strftime("%Y%m%d-%H%M%S")
    base = RESULTS / "runs" / f"{stamp}-{safe_name(label)}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


def write_run(result: RunResult, folder: Path) -> list[Path]:
    """Write one run: KPIs (JSON), time series, events and ledger (Parquet), scenario.

    Args:
        result: The run.
        folder: Where to write (created if needed).

    Returns:
        The files written.
    """
    entries = result.ledger.entries()
    for col in entries.columns:
        if isinstance(entries[col].dtype, pd.CategoricalDtype):
            entries[col] = entries[col].astype(str)
    meta = {
        "scenario": result.scenario.scenario.name,
        "seed": result.seed,
        "overlays": result.scenario.scenario.overlays,
    }
    return [
        write_json({**meta, "kpis": result.kpis}, folder / "kpis.json"),
        write_parquet(result.timeseries.reset_index(), folder / "timeseries.parquet"),
        write_parquet(result.events, folder / "events.parquet"),
        write_parquet(entries, folder / "ledger.parquet"),
        write_json(result.scenario.model_dump(), folder / "scenario.json"),
    ]


class RunStore:
    """An experiment folder: ``runs/`` and ``timeseries/`` Parquet parts and ``manifest.json``.

    Rows are buffered and written as numbered part files, each written under a
    temporary name and renamed, so a killed experiment leaves only complete
    parts; the runs they hold are skipped on resume. ``runs/`` is one Parquet
    dataset (one row per run); ``timeseries/scenario=<label>/`` is partitioned
    by scenario (hive style), each row tagged with its ``run_id``.
    """

    def __init__(
        self,
        folder: str | Path,
        batch_rows: int = 256,
        flush_seconds: float = 10.0,
        *,
        write: bool = True,
        wait: bool = False,
    ) -> None:
        """Open the folder: as its one writer (creating it), or read-only.

        Args:
            folder: The experiment folder.
            batch_rows: Rows buffered before a part is written.
            flush_seconds: Buffered rows are written at least this often.
            write: Open as the writer: take the lock, create the folder, set aside
                time-series parts whose runs part was never written. A reader
                (False) changes nothing on disk.
            wait: A writer waits for another writer to finish instead of failing.

        Raises:
            StoreLocked: When another process is writing (and ``wait`` is False).
        """
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.series = self.folder / "timeseries"
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._last_flush = time.monotonic()
        self._rows: list[dict] = []
        self._frames: list[pd.DataFrame] = []
        self._lock: int | None = None
        self.writable = write
        if write:
            self.runs.mkdir(parents=True, exist_ok=True)
            self._lock = _acquire(self.folder / LOCK_NAME, wait)
        self._part = 1 + max(
            (int(p.stem.split("-")[1]) for p in self.runs.glob("part-*.parquet")), default=0
        )
        if write:
            for orphan in self.orphans():  # series of a part that was never written
                self._set_aside(orphan)
            self._set_aside_corrupt()

    def _set_aside(self, path: Path) -> None:
        """Move a file to ``quarantine/`` (same relative path); nothing is deleted."""
        dest = self.folder / QUARANTINE / path.relative_to(self.folder)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)

    def _set_aside_corrupt(self) -> None:
        """Set aside every corrupt runs part with its series: their runs run again."""
        report = verify(self.folder)
        bad = {Path(p).name for p in report["corrupt"] if p.startswith("runs/")}
        bad |= {Path(p).name for p in report["corrupt"] if p.startswith("timeseries/")}
        if not bad:
            return
        manifest = self.manifest()
        for name in sorted(bad):
            for path in [self.runs / name, *self.series.glob(f"scenario=*/{name}")]:
                if path.is_file():
                    self._set_aside(path)
                    manifest.get("parts", {}).pop(str(path.relative_to(self.folder)), None)
        self.write_manifest(manifest)

    def orphans(self) -> list[Path]:
        """Time-series parts with no runs part of their number (a writer died between them)."""
        return sorted(
            p
            for p in self.series.glob("scenario=*/part-*.parquet")
            if int(p.stem.split("-")[1]) >= self._part
        )

    def close(self) -> None:
        """Write what is buffered and release the writer's lock."""
        if self._lock is None:
            return
        try:
            self.flush()
        finally:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def discard(self) -> None:
        """Drop what is buffered (it cannot be written) and release the writer's lock."""
        self._rows, self._frames = [], []
        self.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def manifest_path(self) -> Path:
        """Where the manifest lives."""
        return self.folder / "manifest.json"

    def manifest(self) -> dict:
        """The manifest, or an empty dict."""
        if not self.manifest_path.is_file():
            return {}
        return json.loads(self.manifest_path.read_text())

    def write_manifest(self, data: dict) -> None:
        """Write the manifest atomically."""
        write_json(data, self.manifest_path)

    def recorded(self, skip: frozenset[str] | set[str] = frozenset()) -> pd.DataFrame:
        """run_id and status of every run stored (its latest row: :func:`latest`).

        Args:
            skip: Runs parts to leave out, by name relative to the folder (``runs/...``).
        """
        parts = [
            p for p in sorted(self.runs.glob("part-*.parquet")) if f"runs/{p.name}" not in skip
        ]
        if not parts:
            return pd.DataFrame({"run_id": [], "status": []})
        return latest(
            pd.concat([_read(p, columns=["run_id", "status"]) for p in parts], ignore_index=True)
        )

    def add(self, rows: list[dict], frames: list[pd.DataFrame]) -> None:
        """Buffer finished runs; write a part when the buffer is full."""
        self._rows += rows
        self._frames += frames
        if (
            len(self._rows) >= self.batch_rows
            or time.monotonic() - self._last_flush >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        """Write buffered rows (and their series) as new part files."""
        if not self._rows:
            return
        if not self.writable:
            raise RuntimeError(f"{self.folder}: opened read-only")
        name = f"part-{self._part:05d}.parquet"
        written = []
        if self._frames:  # series first: a part in runs/ promises its series are stored
            series = pd.concat(self._frames, ignore_index=True)
            for label, frame in series.groupby("scenario", sort=True):
                # the folder is a safe name; the label itself stays in the rows
                written.append(
                    write_parquet(
                        frame.rename(columns={"scenario": "scenario_label"}),
                        self.series / f"scenario={safe_name(label)}" / name,
                    )
                )
        written.append(write_parquet(pd.DataFrame(self._rows), self.runs / name))
        manifest = self.manifest()  # every part's checksum, for verify and resume
        sums = manifest.setdefault("parts", {})
        for path in written:
            sums[str(path.relative_to(self.folder))] = checksum(path)
        self.write_manifest(manifest)
        self._last_flush = time.monotonic()
        self._part += 1
        self._rows, self._frames = [], []


def latest(rows: pd.DataFrame) -> pd.DataFrame:
    """Each run's latest row, from rows read part by part in part order.

    A run stored as failed and run again (``--retry-failed``) has its failed row
    in an earlier part and the new row in a later one; the failed row stays on
    disk (nothing is deleted) and the later row is the run's.

    Args:
        rows: Runs rows in part order (``run_id`` column).

    Returns:
        One row per run id, in the order of first appearance, index reset.
    """
    last = rows.drop_duplicates("run_id", keep="last")
    return last.reset_index(drop=True)


def _read(path: Path, **kwargs: Any) -> pd.DataFrame:
    """Read a part file, or raise :class:`StoreCorrupt` naming it."""
    try:
        return pd.read_parquet(path, **kwargs)
    except Exception as exc:  # pyarrow's errors for truncated or garbled files vary
        raise StoreCorrupt(
            f"{path}: cannot be read ({type(exc).__name__}): 'alliance verify' lists every "
            "damaged part; resuming the experiment sets them aside and runs their runs again"
        ) from None


def verify(folder: str | Path) -> dict[str, Any]:
    """Check a run store end to end without changing it.

    Every part file is read; its SHA-256 is compared with the manifest's; run
    ids must be unique across parts.

    Args:
        folder: The experiment folder.

    Returns:
        ``{"parts": n, "runs": n, "missing": [...], "corrupt": [...],
        "orphaned": [...], "unchecked": [...], "duplicate_runs": n}`` with
        paths relative to the folder: missing (in the manifest, not on disk),
        corrupt (unreadable or not matching its checksum), orphaned (a series
        part without its runs part), unchecked (on disk, no checksum recorded).
    """
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    sums: dict[str, str] = manifest.get("parts", {})
    on_disk = sorted(
        [*folder.glob("runs/part-*.parquet"), *folder.glob("timeseries/scenario=*/part-*.parquet")]
    )
    rel = {str(p.relative_to(folder)): p for p in on_disk}
    runs_parts = {p.name for p in folder.glob("runs/part-*.parquet")}
    out: dict[str, Any] = {
        "parts": len(on_disk),
        "runs": 0,
        "missing": sorted(set(sums) - set(rel)),
        "corrupt": [],
        "orphaned": [],
        "unchecked": [],
        "duplicate_runs": 0,
    }
    ids, ok = [], []
    for name, path in rel.items():
        if name.startswith("timeseries/") and path.name not in runs_parts:
            out["orphaned"].append(name)
        matches = name in sums and checksum(path) == sums[name]
        if name in sums and not matches:
            out["corrupt"].append(name)
            continue
        if name not in sums:
            out["unchecked"].append(name)
        is_runs = name.startswith("runs/")
        if matches and not is_runs:
            continue  # written by the store and unchanged since: readable
        try:  # a runs part's ids (for duplicates); an unchecked part must at least parse
            frame = pd.read_parquet(path, columns=["run_id", "status"] if is_runs else None)
        except Exception:  # unreadable
            out["corrupt"].append(name)
            continue
        if is_runs:
            ids.extend(frame["run_id"].tolist())
            ok.extend(frame.loc[frame["status"] == "ok", "run_id"].tolist())
    out["runs"] = len(set(ids))
    # a failed row superseded by a retry is history, not a duplicate; two successful rows are
    out["duplicate_runs"] = len(ok) - len(set(ok))
    return out


def _acquire(path: Path, wait: bool) -> int:
    """Take the store's writer lock; record the holder in the lock file.

    Args:
        path: The lock file.
        wait: Block until the lock is free instead of failing.

    Returns:
        The open descriptor that holds the lock.

    Raises:
        StoreLocked: When another process holds the lock and ``wait`` is False.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "unknown"
        os.close(fd)
        raise StoreLocked(
            f"{path.parent}: another process is writing to this store ({holder}); "
            "wait for it to finish (--wait) or choose another --out"
        ) from None
    me = f"host {platform.node()}, pid {os.getpid()}, since {time.strftime('%Y-%m-%dT%H:%M:%S%z')}"
    os.ftruncate(fd, 0)
    os.pwrite(fd, me.encode(), 0)
    return fd


def writer_gone(folder: str | Path) -> bool:
    """Whether the store's last writer was a process of this host that no longer exists.

    Read from the lock file's record of its holder, without taking the lock (a
    reader never does). A writer on another host cannot be checked: False.

    Args:
        folder: The experiment folder.

    Returns:
        True when the recorded writer ran here and is gone.
    """
    record = writer_record(folder)
    return record is not None and record["alive"] is False


def writer_record(folder: str | Path) -> dict[str, Any] | None:
    """The store's last writer as its lock file records it, read without taking the lock.

    Args:
        folder: The experiment folder.

    Returns:
        ``host``, ``pid``, ``since`` (None if not recorded) and ``alive``
        (whether that process still exists; None for a writer on another host,
        which cannot be checked), or None when no writer is recorded.
    """
    try:
        holder = (Path(folder) / LOCK_NAME).read_text(errors="replace")
    except OSError:
        return None
    found = re.match(r"host (.*), pid (\d+)(?:, since (.*))?", holder.strip())
    if found is None:
        return None
    host, pid = found.group(1), int(found.group(2))
    alive = None
    if host == platform.node():
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        except PermissionError:  # alive, someone else's
            alive = True
    return {"host": host, "pid": pid, "since": found.group(3), "alive": alive}


def load(folder: str | Path, *, timeseries: bool = False, tidy: bool = False) -> pd.DataFrame:
    """Load an experiment's runs table (or its time series) into pandas.

    Args:
        folder: The experiment folder.
        timeseries: Load the monthly series instead of the runs table.
        tidy: Long form, one value per row: ``design`` and ``overlay`` (from the
            spec, no longer fused in ``scenario``), ``point``, ``replication``,
            ``seed``, the design point's parameters (one column each, by dotted
            path), then ``kpi`` and ``value`` (or ``month``, ``series`` and
            ``value`` with ``timeseries``).

    Returns:
        One row per run, sorted by run index (or the series with ``run_id`` and
        ``scenario``); in long form with ``tidy``.

    Raises:
        FileNotFoundError: When the folder holds no results.
    """
    folder = Path(folder)
    if timeseries:
        parts = sorted((folder / "timeseries").glob("scenario=*/part-*.parquet"))
        if not parts:
            raise FileNotFoundError(f"{folder}: no time series stored")
        frames = []
        for p in parts:
            frame = _read(p)
            if "scenario_label" in frame:  # the label as given (the folder has a safe name)
                frame.insert(1, "scenario", frame.pop("scenario_label"))
            else:  # stores written before labels were kept in the rows
                frame.insert(1, "scenario", p.parent.name.split("=", 1)[1])
            frames.append(frame)
        series = pd.concat(frames, ignore_index=True)
        return _tidy_series(folder, series) if tidy else series
    parts = sorted((folder / "runs").glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{folder}: no runs stored")
    table = latest(pd.concat([_read(p) for p in parts], ignore_index=True))
    table = table.sort_values("index", kind="stable").reset_index(drop=True)
    return _tidy_runs(folder, table) if tidy else table


#: Columns of a runs table that describe the run, not a KPI.
_RUN_KEYS = ("run_id", "index", "scenario", "point", "replication", "seed")
_RUN_INFO = ("status", "error", "duration_s", "worker")


def _designs(folder: Path, labels: list[str]) -> pd.DataFrame:
    """Each scenario label's design (its file's stem) and overlays, from the spec."""
    path = folder / "manifest.json"  # read directly: a reader never takes the writer's lock
    spec = json.loads(path.read_text()).get("spec", {}) if path.is_file() else {}
    known = {}
    for ref in spec.get("scenarios", []):
        design = Path(ref.get("file", "")).stem
        overlays = list(ref.get("overlays", []))
        label = ref.get("label") or "+".join([design, *overlays])
        known[label] = (design, "+".join(overlays) or "none")
    rows = [(label, *known.get(label, (label, "none"))) for label in labels]
    return pd.DataFrame(rows, columns=["scenario", "design", "overlay"])


def _tidy_runs(folder: Path, table: pd.DataFrame) -> pd.DataFrame:
    params = [c for c in table.columns if c.startswith("param.")]
    info = [c for c in _RUN_INFO if c in table.columns]
    kpis = [c for c in table.columns if c not in (*_RUN_KEYS, *info, *params)]
    designs = _designs(folder, list(dict.fromkeys(table["scenario"])))
    ids = ["run_id", "design", "overlay", "scenario", "point", "replication", "seed", *params]
    long = table.merge(designs, on="scenario", how="left").melt(
        id_vars=[*ids, "status"], value_vars=kpis, var_name="kpi", value_name="value"
    )
    long = long.rename(columns={p: p.removeprefix("param.") for p in params})
    return long.reset_index(drop=True)


def _tidy_series(folder: Path, series: pd.DataFrame) -> pd.DataFrame:
    runs = load(folder)
    params = [c for c in runs.columns if c.startswith("param.")]
    keys = runs[["run_id", "point", "replication", "seed", *params]]
    designs = _designs(folder, list(dict.fromkeys(series["scenario"])))
    values = [c for c in series.columns if c not in ("run_id", "scenario", "month")]
    frame = series.merge(designs, on="scenario", how="left").merge(keys, on="run_id", how="left")
    ids = ["run_id", "design", "overlay", "scenario", "point", "replication", "seed", *params]
    long = frame.melt(
        id_vars=[*ids, "month"], value_vars=values, var_name="series", value_name="value"
    ).dropna(subset=["value"])  # a column another scenario has (its own city) is not this run's
    long["month"] = long["month"].astype("int64")
    long = long.rename(columns={p: p.removeprefix("param.") for p in params})
    return long.sort_values(["run_id", "series", "month"], kind="stable").reset_index(drop=True)
