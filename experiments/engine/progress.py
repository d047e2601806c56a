"""A progress bar for the experiment engine's callbacks (runs done, runs/s, ETA)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any


def progress_bar(
    header: Callable[[dict], str], *, quiet: bool = False, verbose: bool = False
) -> tuple[Callable[[str, dict], None], Callable[[], None]]:
    """A callback for :func:`experiments.engine.batch.run_experiment` that drives a tqdm bar.

    Everything goes to stderr; the bar is drawn only on a terminal.

    Args:
        header: Makes the line printed at the start from ``{"planned", "skipped"}``.
        quiet: Print nothing: no header, no bar.
        verbose: Print a line per chunk of runs stored too (runs done, failed, runs/s).

    Returns:
        (progress callback, close function).
    """
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def progress(event: str, info: dict) -> None:
        if quiet:
            return
        if event == "start":
            if "bar" in state:  # a new round on the same callback (--until-converged)
                state["bar"].close()
            print(header(info), file=sys.stderr, flush=True)
            state.update(total=info["planned"] - info["skipped"], done=0, failed=0)
            state["t0"] = time.perf_counter()
            state["bar"] = tqdm(
                total=state["total"], unit="run", smoothing=0.1, disable=None, leave=False
            )
        elif "bar" in state:
            state["bar"].update(info["runs"])
            state["done"] += info["runs"]
            state["failed"] += info.get("failed", 0)
            if verbose:
                rate = state["done"] / max(time.perf_counter() - state["t0"], 1e-9)
                state["bar"].write(
                    f"{state['done']} of {state['total']} runs stored, {state['failed']} "
                    f"failed ({rate:.2f} runs/s)",
                    file=sys.stderr,
                )

    def close() -> None:
        if "bar" in state:
            state["bar"].close()

    return progress, close
