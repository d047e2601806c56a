"""Writing results: every file is written under a temporary name and renamed into place.

A reader never sees a half-written file: a crash leaves at most a stray
``.tmp-*`` file, never a truncated Parquet or JSON file under a real name.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from sim.model.api import RunResult

RESULTS = Path("results")


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
    base = RESULTS / "runs" / f"{stamp}-{label}"
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
        write_parquet(result.timeseries, folder / "timeseries.parquet"),
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
        self, folder: str | Path, batch_rows: int = 256, flush_seconds: float = 10.0
    ) -> None:
        """Open (or create) the folder.

        Args:
            folder: The experiment folder.
            batch_rows: Rows buffered before a part is written.
            flush_seconds: Buffered rows are written at least this often.
        """
        self.folder = Path(folder)
        self.runs = self.folder / "runs"
        self.series = self.folder / "timeseries"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self._last_flush = time.monotonic()
        self._rows: list[dict] = []
        self._frames: list[pd.DataFrame] = []
        self._part = 1 + max(
            (int(p.stem.split("-")[1]) for p in self.runs.glob("part-*.parquet")), default=0
        )
        for orphan in self.series.glob("scenario=*/part-*.parquet"):  # series of a lost part
            if int(orphan.stem.split("-")[1]) >= self._part:
                orphan.unlink()

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

    def recorded(self) -> pd.DataFrame:
        """run_id and status of every run already stored."""
        parts = sorted(self.runs.glob("part-*.parquet"))
        if not parts:
            return pd.DataFrame({"run_id": [], "status": []})
        return pd.concat(
            [pd.read_parquet(p, columns=["run_id", "status"]) for p in parts], ignore_index=True
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
        name = f"part-{self._part:05d}.parquet"
        if self._frames:  # series first: a part in runs/ promises its series are stored
            series = pd.concat(self._frames, ignore_index=True)
            for label, frame in series.groupby("scenario", sort=True):
                write_parquet(
                    frame.drop(columns="scenario"), self.series / f"scenario={label}" / name
                )
        write_parquet(pd.DataFrame(self._rows), self.runs / name)
        self._last_flush = time.monotonic()
        self._part += 1
        self._rows, self._frames = [], []


def load(folder: str | Path, *, timeseries: bool = False) -> pd.DataFrame:
    """Load an experiment's runs table (or its time series) into pandas.

    Args:
        folder: The experiment folder.
        timeseries: Load the monthly series instead of the runs table.

    Returns:
        One row per run, sorted by run index (or the series with ``run_id`` and ``scenario``).

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
            frame = pd.read_parquet(p)
            frame.insert(1, "scenario", p.parent.name.split("=", 1)[1])
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)
    parts = sorted((folder / "runs").glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{folder}: no runs stored")
    table = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    return table.sort_values("index", kind="stable").reset_index(drop=True)
