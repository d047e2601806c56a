"""Design points and seeds: what varies between the runs of an experiment.

:func:`design_points` turns a spec's ``[design]`` into a list of parameter
dicts (grid, Latin hypercube, explicit list); :func:`replication_seed` gives
replication ``r`` one seed shared by every scenario and design point (common
random numbers, so comparisons are paired).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from experiments.engine.spec import Design, Parameter


def replication_seed(experiment_seed: int, replication: int) -> int:
    """Seed of replication ``r``: the same for every scenario and design point.

    Replication r of any design point uses the same world random stream in every
    policy (common random numbers), so comparisons across scenarios are paired.

    Args:
        experiment_seed: The spec's seed.
        replication: Replication number.

    Returns:
        A 63-bit integer seed, from ``SeedSequence(seed, spawn_key=(r,))``.
    """
    state = np.random.SeedSequence(experiment_seed, spawn_key=(replication,)).generate_state(
        1, dtype=np.uint64
    )
    return int(state[0] >> np.uint64(1))


def design_points(design: Design, seed: int) -> list[dict[str, Any]]:
    """The design's points as dicts of dotted path -> value.

    Args:
        design: The design.
        seed: Seed of the Latin hypercube.

    Returns:
        Points in a fixed order (``[{}]`` when the design is empty).
    """
    params = design.parameters
    if design.kind == "none":
        return [{}]
    if design.kind == "list":
        return [dict(p) for p in design.points]
    if design.kind == "grid":
        axes = [p.values or _grid_axis(p) for p in params.values()]
        return [dict(zip(params, combo, strict=True)) for combo in itertools.product(*axes)]
    from scipy.stats import qmc  # imported here: every `alliance` command imports this module

    sampler = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(seed))
    unit = sampler.random(design.samples)
    lows = np.array([p.range[0] for p in params.values()])
    highs = np.array([p.range[1] for p in params.values()])
    scaled = qmc.scale(unit, lows, highs)
    points = []
    for row in scaled:
        point = {}
        for (key, p), value in zip(params.items(), row, strict=True):
            point[key] = int(round(value)) if p.integer else float(value)
        points.append(point)
    return points


def _grid_axis(p: Parameter) -> list[float]:
    """A range in a grid without values: its two ends and the middle."""
    lo, hi = p.range
    axis = [lo, (lo + hi) / 2, hi]
    return [int(round(v)) for v in axis] if p.integer else axis
