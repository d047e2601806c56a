"""PRIM (Friedman and Fisher 1999): peel, select, paste and prune a box of parameter space.

See :mod:`experiments.discovery` for the method. :func:`prim` takes a parameter
table and a failure flag per run; :func:`box_limits` lists the chosen box's
limits with their quasi-p-values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats


class DiscoveryError(Exception):
    """Bad input for scenario discovery (unknown KPI or scenario, nothing fails, ...)."""


@dataclass(frozen=True)
class Box:
    """A box: open numeric limits (``-inf`` / ``inf`` = unrestricted) and categorical levels."""

    lower: Mapping[str, float]
    upper: Mapping[str, float]
    levels: Mapping[str, frozenset] = field(default_factory=dict)

    def contains(self, x: pd.DataFrame) -> np.ndarray:
        """Which rows lie inside the box.

        Args:
            x: The parameter table.

        Returns:
            A boolean mask.
        """
        mask = np.ones(len(x), dtype=bool)
        for k, lo in self.lower.items():
            v = x[k].to_numpy(dtype=float)
            mask &= (v > lo) & (v < self.upper[k])
        for k, allowed in self.levels.items():
            mask &= x[k].isin(list(allowed)).to_numpy()
        return mask

    def without(self, name: str) -> Box:
        """The same box with one parameter unrestricted.

        Args:
            name: The parameter.

        Returns:
            A new box.
        """
        lower, upper, levels = dict(self.lower), dict(self.upper), dict(self.levels)
        if name in lower:
            lower[name], upper[name] = -math.inf, math.inf
        if name in levels:
            levels.pop(name)
        return Box(lower, upper, levels)


@dataclass
class PrimResult:
    """PRIM's peeling trajectory, its boxes, the chosen box and its statistics."""

    x: pd.DataFrame
    y: np.ndarray
    trajectory: pd.DataFrame
    boxes: list[Box]
    chosen: int
    box: Box
    stats: dict[str, float]
    limits: pd.DataFrame
    selection: str
    selected: int = 0  # the trajectory step selected before pasting and pruning


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)


def _stats(mask: np.ndarray, y: np.ndarray) -> dict[str, float]:
    n_in, total_fail = int(mask.sum()), int(y.sum())
    fails = int(y[mask].sum())
    return {
        "coverage": fails / total_fail if total_fail else 0.0,
        "density": fails / n_in if n_in else 0.0,
        "mass": n_in / len(y),
        "n": n_in,
        "failures": fails,
    }


def _numeric_peels(
    v: np.ndarray, inside: np.ndarray, alpha: float
) -> list[tuple[str, float, np.ndarray]]:
    """Bottom and top peels of one numeric parameter: (side, new limit, removed rows)."""
    x = v[inside]
    n_in = len(x)
    if n_in < 2:
        return []
    xs = np.sort(x)
    k = max(1, math.ceil(alpha * n_in))
    out = []
    cut = xs[k - 1]
    above = xs[xs > cut]
    if len(above):
        out.append(("lower", (cut + above[0]) / 2, inside & (v <= cut)))
    cut = xs[n_in - k]
    below = xs[xs < cut]
    if len(below):
        out.append(("upper", (cut + below[-1]) / 2, inside & (v >= cut)))
    return out


def _apply(box: Box, name: str, side: str, value: Any) -> Box:
    lower, upper, levels = dict(box.lower), dict(box.upper), dict(box.levels)
    if side == "lower":
        lower[name] = value
    elif side == "upper":
        upper[name] = value
    else:
        levels[name] = value
    return Box(lower, upper, levels)


def _full_box(x: pd.DataFrame) -> Box:
    numeric = [c for c in x.columns if _is_numeric(x[c])]
    return Box(
        {c: -math.inf for c in numeric},
        {c: math.inf for c in numeric},
        {c: frozenset(x[c].unique()) for c in x.columns if c not in numeric},
    )


def prim(
    x: pd.DataFrame,
    y: Sequence[bool] | np.ndarray,
    *,
    alpha: float = 0.05,
    min_mass: float = 0.05,
    min_density: float | None = None,
    paste: bool = True,
    prune: float | None = 0.05,
) -> PrimResult:
    """Patient rule induction: peel, select a box, paste, prune weak limits.

    Args:
        x: Parameters, one row per run (numeric, boolean or categorical columns).
        y: True where the run fails.
        alpha: Share of the box's runs removed by one peel (0.01-0.2 typical).
        min_mass: Stop peeling before the box holds less than this share of all runs.
        min_density: Choose the highest-coverage box with at least this density
            (default: the knee, the box closest to coverage = density = 1).
        paste: Widen the chosen box while that raises its density.
        prune: Then drop, weakest first, every limit whose quasi-p-value is at
            least this (None keeps them all): peeling also trims parameters that
            do not matter, by chance.

    Returns:
        The result.

    Raises:
        DiscoveryError: When there is nothing to discover (no failure, or only failures).
    """
    y = np.asarray(y, dtype=bool)
    if len(y) != len(x):
        raise DiscoveryError(f"{len(x)} rows of parameters but {len(y)} outcomes")
    if not 0 < alpha < 0.5:
        raise DiscoveryError(f"--peel-alpha {alpha}: expected 0 < alpha < 0.5")
    if not 0 < min_mass < 1:
        raise DiscoveryError(f"--min-mass {min_mass}: expected 0 < mass < 1")
    if not y.any() or y.all():
        share = "every" if y.all() else "no"
        raise DiscoveryError(
            f"{share} run fails ({int(y.sum())} of {len(y)}): nothing to "
            "discover; change --threshold"
        )
    x = x.reset_index(drop=True)
    values = {c: x[c].to_numpy(dtype=float) for c in x.columns if _is_numeric(x[c])}
    boxes, rows = _peel(x, y, values, alpha, min_mass)
    trajectory = pd.DataFrame(rows)
    chosen, how = _select(trajectory, min_density)
    selected = chosen
    final = boxes[chosen]
    changes = []
    if paste:
        changes.append((_paste(final, x, y, values, alpha), "paste", ", then pasted"))
        final = changes[-1][0]
    if prune is not None:
        changes.append(
            (_prune(final, x, y, prune), "prune", f", weak limits (quasi-p >= {prune:g}) dropped")
        )
        final = changes[-1][0]
    previous = boxes[chosen]
    for box, kind, note in changes:
        if box is previous:  # pasting or pruning changed nothing
            continue
        boxes.append(box)
        trajectory = pd.concat(
            [
                trajectory,
                pd.DataFrame(
                    [
                        {
                            "step": len(trajectory),
                            "kind": kind,
                            **_stats(box.contains(x), y),
                            "restricted": len(_restricted(box, x)),
                        }
                    ]
                ),
            ],
            ignore_index=True,
        )
        chosen = len(boxes) - 1
        how += note
        previous = box
    mask = final.contains(x)
    return PrimResult(
        x,
        y,
        trajectory,
        boxes,
        chosen,
        final,
        _stats(mask, y),
        box_limits(final, x, y),
        how,
        selected,
    )


def _peel(
    x: pd.DataFrame, y: np.ndarray, values: Mapping[str, np.ndarray], alpha: float, min_mass: float
) -> tuple[list[Box], list[dict[str, Any]]]:
    """Peel from the full box while the box keeps ``min_mass``: (boxes, trajectory rows)."""
    box = _full_box(x)
    inside = np.ones(len(y), dtype=bool)
    boxes, rows = [box], [{"step": 0, "kind": "peel", **_stats(inside, y), "restricted": 0}]
    while True:
        best = None
        for name, v in values.items():
            for side, limit, removed in _numeric_peels(v, inside, alpha):
                keep = inside & ~removed
                cand = (y[keep].mean() if keep.any() else -1.0, keep.sum(), name, side, limit)
                if best is None or cand[:2] > best[0][:2]:
                    best = (cand, keep)
        for name, allowed in box.levels.items():
            if len(allowed) < 2:
                continue
            col = x[name].to_numpy()
            for level in allowed:
                keep = inside & (col != level)
                if not keep.any():
                    continue
                cand = (y[keep].mean(), keep.sum(), name, "levels", allowed - {level})
                if best is None or cand[:2] > best[0][:2]:
                    best = (cand, keep)
        if best is None:
            break
        (_, _, name, side, limit), keep = best
        if keep.sum() / len(y) < min_mass:
            break
        box = _apply(box, name, side, limit)
        inside = keep
        boxes.append(box)
        rows.append(
            {
                "step": len(rows),
                "kind": "peel",
                **_stats(inside, y),
                "restricted": len(_restricted(box, x)),
            }
        )
    return boxes, rows


def _prune(box: Box, x: pd.DataFrame, y: np.ndarray, prune: float) -> Box:
    """Drop, weakest first, every limit whose quasi-p-value is at least ``prune``."""
    pruned = box
    while True:
        limits = box_limits(pruned, x, y)
        if limits.empty or limits["qp"].iloc[-1] < prune:
            return pruned
        pruned = pruned.without(limits["parameter"].iloc[-1])


def _select(trajectory: pd.DataFrame, min_density: float | None) -> tuple[int, str]:
    t = trajectory
    if min_density is not None:
        ok = t[t["density"] >= min_density]
        if len(ok):
            return int(ok["coverage"].idxmax()), f"highest coverage with density >= {min_density:g}"
        return int(t["density"].idxmax()), f"densest (none reaches density {min_density:g})"
    dist = np.hypot(1 - t["coverage"], 1 - t["density"])
    return int(dist.idxmin()), "knee: closest to coverage = density = 1"


def _paste(
    box: Box, x: pd.DataFrame, y: np.ndarray, values: Mapping[str, np.ndarray], alpha: float
) -> Box:
    """Widen the box one alpha-slice at a time while its density rises."""
    current = box
    mask = current.contains(x)
    density = y[mask].mean()
    while True:
        n_in = int(mask.sum())
        k = max(1, math.ceil(alpha * n_in))
        best = None
        for name in _restricted(current, x):
            if name in values:
                v = values[name]
                others = current.without(name).contains(x)
                lo, hi = current.lower[name], current.upper[name]
                below = np.sort(v[others & (v <= lo)])[::-1]
                above = np.sort(v[others & (v >= hi)])
                for side, seq in (("lower", below), ("upper", above)):
                    if not len(seq):
                        continue
                    taken = seq[:k]
                    rest = seq[k:]
                    edge = taken[-1]
                    rest = rest[rest != edge]
                    limit = (
                        (edge + rest[0]) / 2
                        if len(rest)
                        else (-math.inf if side == "lower" else math.inf)
                    )
                    cand_box = _apply(current, name, side, limit)
                    cand_mask = cand_box.contains(x)
                    d = y[cand_mask].mean()
                    if best is None or d > best[0]:
                        best = (d, cand_box, cand_mask)
            else:
                full = set(x[name].unique())
                for level in full - set(current.levels[name]):
                    cand_box = _apply(current, name, "levels", current.levels[name] | {level})
                    cand_mask = cand_box.contains(x)
                    d = y[cand_mask].mean()
                    if best is None or d > best[0]:
                        best = (d, cand_box, cand_mask)
        if best is None or best[0] <= density:
            return current
        density, current, mask = best


def _restricted(box: Box, x: pd.DataFrame) -> list[str]:
    out = []
    for k, lo in box.lower.items():
        v = x[k]
        if lo > v.min() or box.upper[k] < v.max():
            out.append(k)
    for k, allowed in box.levels.items():
        if set(x[k].unique()) - set(allowed):
            out.append(k)
    return out


def box_limits(box: Box, x: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """The box's restricted parameters with their limits and quasi-p-values.

    The quasi-p-value of a limit is a one-sided binomial test: the chance of at
    least the box's failures among its runs if their failure rate were that of
    the box without this parameter's limits (EMA Workbench's convention).

    Args:
        box: The box.
        x: The parameters.
        y: Failures.

    Returns:
        parameter, kind (numeric / categorical), lower, upper, levels, data_min,
        data_max, qp (sorted by qp).
    """
    mask = box.contains(x)
    n, k = int(mask.sum()), int(y[mask].sum())
    rows = []
    for name in _restricted(box, x):
        wider = box.without(name).contains(x)
        p0 = y[wider].mean() if wider.any() else 0.0
        qp = float(stats.binomtest(k, n, p0, alternative="greater").pvalue) if n else 1.0
        if name in box.lower:
            v = x[name].to_numpy(dtype=float)
            lo = box.lower[name] if box.lower[name] > v.min() else -math.inf
            hi = box.upper[name] if box.upper[name] < v.max() else math.inf
            rows.append(
                {
                    "parameter": name,
                    "kind": "numeric",
                    "lower": lo,
                    "upper": hi,
                    "levels": "",
                    "data_min": float(v.min()),
                    "data_max": float(v.max()),
                    "qp": qp,
                }
            )
        else:
            levels = sorted(
                (v.item() if isinstance(v, np.generic) else v for v in box.levels[name]), key=str
            )
            rows.append(
                {
                    "parameter": name,
                    "kind": "categorical",
                    "lower": np.nan,
                    "upper": np.nan,
                    "levels": json.dumps(levels, default=str),
                    "data_min": np.nan,
                    "data_max": np.nan,
                    "qp": qp,
                }
            )
    cols = ["parameter", "kind", "lower", "upper", "levels", "data_min", "data_max", "qp"]
    return pd.DataFrame(rows, columns=cols).sort_values("qp", kind="stable").reset_index(drop=True)
