"""Writing results: every file is written under a temporary name and renamed into place.

A reader never sees a half-written file: a crash leaves at most a stray
``.tmp-*`` file, never a truncated Parquet or JSON file under a real name.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from sim.api import RunResult

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
    return atomic(path, lambda p: p.write_text(json.dumps(data, indent=2, sort_keys=True,
                                                          default=str) + "\n"))


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
            raise FileExistsError(f"--out {folder}: exists and is not empty; "
                                  "choose a new folder so no earlier result is overwritten")
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
    meta = {"scenario": result.scenario.scenario.name, "seed": result.seed,
            "overlays": result.scenario.scenario.overlays}
    return [
        write_json({**meta, "kpis": result.kpis}, folder / "kpis.json"),
        write_parquet(result.timeseries, folder / "timeseries.parquet"),
        write_parquet(result.events, folder / "events.parquet"),
        write_parquet(entries, folder / "ledger.parquet"),
        write_json(result.scenario.model_dump(), folder / "scenario.json"),
    ]
