"""A progress bar for the experiment engine's callbacks (runs done, runs/s, ETA)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def progress_bar(
    header: Callable[[dict], str],
) -> tuple[Callable[[str, dict], None], Callable[[], None]]:
    """A callback for :func:`experiments.engine.batch.run_experiment` that drives a tqdm bar.

    Args:
        header: Makes the line printed at the start from ``{"planned", "skipped"}``.

    Returns:
        (progress callback, close function).
    """
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def progress(event: str, info: dict) -> None:
        if event == "start":
            print(header(info), file=sys.stderr)
            state["bar"] = tqdm(
                total=info["planned"] - info["skipped"],
                unit="run",
                smoothing=0.1,
                disable=None,
                leave=False,
            )
        elif "bar" in state:
            state["bar"].update(info["runs"])

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return progress, close
