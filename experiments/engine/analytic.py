"""Small analytic models with the experiment engine's model signature.

``f(params: dict, seed: int) -> dict[str, float]``, each declaring its
``outputs`` (the KPI names it returns), as any model may
(:mod:`experiments.engine.model`). They validate the pipeline on known answers
(the Ishigami function's Sobol indices are known in closed form) and exercise
the engine (a model that raises for some inputs, one that kills its worker
process once, one that hangs, one that returns NaN). Use them in a spec with
``model = "experiments.engine.analytic:ishigami"``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Ishigami function of x1, x2, x3 in [-pi, pi]; ``noise_sd`` and ``scatter_sd`` add noise.

    y = sin x1 + a sin^2 x2 + b x3^4 sin x1, a = 7, b = 0.1 (Ishigami and Homma 1990).
    A fourth input ``x4``, if given, is ignored (its indices must come out near 0).
    ``noise_sd`` adds a normal draw of the seed alone: under common random numbers
    the same shift at every point (a world effect). ``scatter_sd`` adds one of the
    seed and the point together: noise that differs from point to point, as a
    simulation's does when a parameter changes which events happen.

    Args:
        params: x1, x2, x3 (and optionally x4, noise_sd, scatter_sd).
        seed: Seed of the optional noise.

    Returns:
        ``{"y": value}``.
    """
    x1, x2, x3 = (float(params.get(k, 0.0)) for k in ("x1", "x2", "x3"))
    y = math.sin(x1) + ISHIGAMI_A * math.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * math.sin(x1)
    noise = float(params.get("noise_sd", 0.0))
    if noise > 0:
        y += noise * np.random.default_rng(seed).standard_normal()
    scatter = float(params.get("scatter_sd", 0.0))
    if scatter > 0:
        bits = np.array([x1, x2, x3]).view(np.uint64)
        y += scatter * np.random.default_rng([seed, *bits.tolist()]).standard_normal()
    return {"y": y}


ishigami.outputs = ("y",)


def ishigami_pair(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Ishigami twice: ``y`` with ``scatter_sd`` of point-to-point noise, ``loud`` with 3x it.

    Two KPIs of one design whose replication needs differ by about nine times (tests
    of ``--until-converged``, which brings in the cheaper one first).

    Args:
        params: x1, x2, x3 and scatter_sd.
        seed: Seed of the noise.

    Returns:
        ``{"y": ..., "loud": ...}``.
    """
    y = ishigami({k: v for k, v in params.items() if k != "scatter_sd"}, seed)["y"]
    x = np.array([float(params.get(k, 0.0)) for k in ("x1", "x2", "x3")])
    z = np.random.default_rng([seed, *x.view(np.uint64).tolist()]).standard_normal(2)
    sd = float(params.get("scatter_sd", 0.0))
    return {"y": y + sd * z[0], "loud": y + 3 * sd * z[1]}


ishigami_pair.outputs = ("y", "loud")


def ishigami_indices() -> dict[str, dict[str, float]]:
    """Analytical first-order and total Sobol indices of the Ishigami function.

    Returns:
        ``{"S1": {...}, "ST": {...}}`` for x1, x2, x3.
    """
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return {
        "S1": {"x1": v1 / var, "x2": v2 / var, "x3": 0.0},
        "ST": {"x1": (v1 + v13) / var, "x2": v2 / var, "x3": v13 / var},
    }


def linear(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Y = sum of a_i x_i plus seeded noise; a tiny, fast model for engine tests.

    Args:
        params: Any numeric inputs (``sleep_s`` waits that long first).
        seed: Seed of the noise.

    Returns:
        ``{"y": ..., "noise": ...}``.
    """
    pause = float(params.get("sleep_s", 0.0))
    if pause > 0:
        time.sleep(pause)
    noise = float(np.random.default_rng(seed).standard_normal())
    y = sum((i + 1) * float(v) for i, (k, v) in enumerate(sorted(params.items())) if k != "sleep_s")
    return {"y": y + 0.1 * noise, "noise": noise}


linear.outputs = ("y", "noise")


def flaky(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Like :func:`linear`, but raises when ``x`` is negative.

    Args:
        params: Inputs; ``x < 0`` raises ValueError.
        seed: Seed.

    Returns:
        As :func:`linear`.
    """
    if float(params.get("x", 0.0)) < 0:
        raise ValueError(f"x = {params['x']} is negative")
    return linear(params, seed)


flaky.outputs = linear.outputs


def exits(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Like :func:`linear`, but calls ``sys.exit(3)`` when ``x`` is negative.

    Args:
        params: Inputs; ``x < 0`` exits.
        seed: Seed.

    Returns:
        As :func:`linear`.
    """
    if float(params.get("x", 0.0)) < 0:
        sys.exit(3)
    return linear(params, seed)


exits.outputs = linear.outputs


def crash_once(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Kill the worker process the first time ``x == 3`` (a marker file remembers).

    Args:
        params: Inputs; ``marker`` names the file that records the crash.
        seed: Seed.

    Returns:
        As :func:`linear` (after the crash, on the retry).
    """
    marker = Path(str(params.get("marker", "")))
    if float(params.get("x", 0.0)) == 3 and marker.name and not marker.exists():
        marker.write_text("crashed")
        os._exit(17)
    return linear({k: v for k, v in params.items() if k != "marker"}, seed)


crash_once.outputs = linear.outputs


def hangs(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Like :func:`linear`, but never returns when ``x`` is negative (a hanging run).

    Args:
        params: Inputs; ``x < 0`` loops forever (in Python, sleeping 10 ms at a time).
        seed: Seed.

    Returns:
        As :func:`linear`.
    """
    while float(params.get("x", 0.0)) < 0:
        time.sleep(0.01)
    return linear(params, seed)


hangs.outputs = linear.outputs


def nonfinite(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Like :func:`linear`, but ``y`` is NaN when ``x`` is negative.

    Args:
        params: Inputs; ``x < 0`` gives ``y = nan``.
        seed: Seed.

    Returns:
        As :func:`linear`.
    """
    out = linear(params, seed)
    if float(params.get("x", 0.0)) < 0:
        out["y"] = math.nan
    return out


nonfinite.outputs = linear.outputs


def walk(params: dict[str, Any], seed: int) -> Any:
    """A seeded random walk with a monthly series: exercises the store's time series.

    Args:
        params: ``months`` (default 24), ``drift``, ``sleep_s`` (waits that long first).
        seed: Seed of the steps.

    Returns:
        An :class:`~experiments.engine.model.Outcome`: KPIs ``end`` and ``peak``, and the
        series (``month``, ``level``).
    """
    import pandas as pd

    from experiments.engine.model import Outcome

    pause = float(params.get("sleep_s", 0.0))
    if pause > 0:
        time.sleep(pause)
    months = int(params.get("months", 24))
    steps = np.random.default_rng(seed).standard_normal(months) + float(params.get("drift", 0.0))
    level = np.cumsum(steps)
    series = pd.DataFrame({"month": np.arange(1, months + 1), "level": level})
    return Outcome({"end": float(level[-1]), "peak": float(level.max())}, series)


walk.outputs = ("end", "peak")


def fails_once(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Raise the first time ``x == 3`` (a marker file remembers); later runs succeed.

    Args:
        params: Inputs; ``marker`` names the file that records the failure.
        seed: Seed.

    Returns:
        As :func:`linear` (of the inputs other than ``marker``).
    """
    marker = Path(str(params.get("marker", "")))
    if float(params.get("x", 0.0)) == 3 and marker.name and not marker.exists():
        marker.write_text("failed")
        raise RuntimeError("a transient failure (the marker file was absent)")
    return linear({k: v for k, v in params.items() if k != "marker"}, seed)


fails_once.outputs = linear.outputs


#: Sobol' G function coefficients (Saltelli et al. 2008, p. 123): x1 and x2 matter, x5-x8 barely.
G_A = (0.0, 1.0, 4.5, 9.0, 99.0, 99.0, 99.0, 99.0)


def g_function(params: dict[str, Any], seed: int) -> dict[str, float]:
    """Sobol's G function of x1..x8 in [0, 1]: prod (|4 x_i - 2| + a_i) / (1 + a_i).

    Each factor has mean 1 and a kink at 0.5, so a smooth emulator has to work
    for it; the interactions of every order are known in closed form
    (:func:`g_function_indices`).

    Args:
        params: x1..x8 (a missing input counts as 0.25).
        seed: Unused (deterministic).

    Returns:
        ``{"y": value}``.
    """
    y = 1.0
    for i, a in enumerate(G_A, 1):
        x = float(params.get(f"x{i}", 0.25))
        y *= (abs(4 * x - 2) + a) / (1 + a)
    return {"y": y}


g_function.outputs = ("y",)


def g_function_indices() -> dict[str, dict[str, float]]:
    """Analytical first-order and total Sobol indices of :func:`g_function`.

    With V_i = 1 / (3 (1 + a_i)^2), the variance is prod (1 + V_i) - 1, S1_i =
    V_i / V and ST_i = V_i prod_{j != i} (1 + V_j) / V.

    Returns:
        ``{"S1": {...}, "ST": {...}}`` for x1..x8.
    """
    v = [1 / (3 * (1 + a) ** 2) for a in G_A]
    total = math.prod(1 + vi for vi in v) - 1
    names = [f"x{i}" for i in range(1, len(v) + 1)]
    return {
        "S1": {k: vi / total for k, vi in zip(names, v, strict=True)},
        "ST": {
            k: vi * math.prod(1 + vj for j, vj in enumerate(v) if j != i) / total
            for i, (k, vi) in enumerate(zip(names, v, strict=True))
        },
    }
