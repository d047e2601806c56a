"""Robustness metrics: one number per design from its KPI in every world.

Each metric reads a matrix of one KPI, designs by worlds (the same worlds for every
design: common random numbers), and gives each design one value in plain reading
order, with the direction in which it is better:

- ``mean``: the average over the worlds (better as the KPI is better).
- ``percentile`` (worst ``p`` %): the value the design reaches or beats in all but the
  worst ``p`` % of worlds: the 10th percentile of a KPI where more is better, the
  90th where less is better (``p = 10`` by default). A cautious city's view.
- ``regret`` (``p = 0``: the largest): in each world, how far the design falls short
  of the best *reference design* there (the shipped designs, named in
  ``search.compare``), in the KPI's unit; then the largest over the worlds (or the
  value exceeded in only the worst ``p`` % of them). Negative regret: the design
  beats every reference design even in its worst world. The reference is fixed, so
  the objective does not move while the search runs; :func:`regret_to_best` gives
  Savage's regret against the best of any set (used on the re-evaluated front).
- ``satisficing``: the share of worlds in which a condition holds (``min budget
  balance >= 0``: "the budget never goes negative"); better higher.

:func:`minimised` turns a metric into what the optimiser minimises.
"""

from __future__ import annotations

import operator

import numpy as np

from experiments.search.spec import Objective

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def kpi_direction(kpi_name: str) -> int:
    """+1 when more of the KPI is better, -1 when less is (the KPI catalogue's direction)."""
    from sim.model.outputs import kpi

    return kpi(kpi_name).direction or 1


def better(objective: Objective) -> int:
    """The metric's better direction: +1 higher, -1 lower.

    Args:
        objective: The objective.

    Returns:
        +1 or -1.
    """
    if objective.robustness == "regret":
        return -1
    if objective.robustness == "satisficing":
        return 1
    return kpi_direction(objective.kpi)


def metric(
    values: np.ndarray, objective: Objective, reference: np.ndarray | None = None
) -> np.ndarray:
    """The robustness metric of each design.

    Args:
        values: The KPI, shape (designs, worlds); NaN where a run failed.
        objective: The objective (KPI, metric, percentile, condition).
        reference: The KPI of the reference designs on the same worlds, shape
            (references, worlds); needed for ``regret``.

    Returns:
        One value per design (NaN when any of its runs failed).
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    sign = kpi_direction(objective.kpi)
    p = objective.worst_percent
    bad = np.isnan(x).any(axis=1)
    if objective.robustness == "mean":
        out = x.mean(axis=1)
    elif objective.robustness == "percentile":
        out = np.percentile(x, p if sign > 0 else 100 - p, axis=1)
    elif objective.robustness == "regret":
        if reference is None or not len(reference):
            raise ValueError(f"{objective.name}: regret needs reference designs")
        ref = np.atleast_2d(np.asarray(reference, dtype=float))
        best = np.nanmax(ref * sign, axis=0) * sign
        out = np.percentile((best - x) * sign, 100 - p, axis=1)
    else:
        op, threshold = objective.threshold
        out = _OPS[op](x, threshold).mean(axis=1)
    return np.where(bad, np.nan, out)


def minimised(value: np.ndarray, objective: Objective) -> np.ndarray:
    """What the optimiser minimises: the metric, negated where higher is better."""
    return -better(objective) * np.asarray(value, dtype=float)


def regret_to_best(values: np.ndarray, kpi_name: str) -> np.ndarray:
    """Savage's regret: per world, the shortfall against the best design of the set.

    Args:
        values: The KPI, shape (designs, worlds), for a set of designs on the same worlds.
        kpi_name: The KPI (for its direction).

    Returns:
        Shape (designs, worlds), >= 0 (0: the best design in that world).
    """
    sign = kpi_direction(kpi_name)
    x = np.asarray(values, dtype=float) * sign
    return np.nanmax(x, axis=0) - x
