"""Scenario discovery: PRIM finds the boxes of parameter space where a design fails.

``alliance discover DIR --kpi K --threshold T`` reads an experiment folder's runs
table (parameters are its ``param.<path>`` columns), marks each run as failing
when its KPI is below (or above) the threshold, or, with ``--compare-to OTHER``,
when the scenario's KPI is below the other scenario's on the same world (the
same design point and replication), and runs PRIM (Friedman and Fisher 1999):

- **peeling**: from the box holding every run, repeatedly remove the slice
  (``alpha`` of the runs in the box, at the low or the high end of one
  parameter, or one level of a categorical parameter) whose removal leaves the
  highest share of failures in the box, until the box holds less than
  ``min_mass`` of the runs; every box on the way is a step of the *peeling
  trajectory* with its coverage (failures in the box / all failures), density
  (failures in the box / runs in the box) and mass (runs in the box / all runs);
- **selection**: the box with the highest coverage whose density reaches
  ``min_density`` if given, else the *knee*, the box closest to the ideal
  corner (coverage 1, density 1);
- **pasting**: the chosen box's limits are widened again, one ``alpha`` slice at a
  time, while that raises its density.

The box is printed as plain-language rules with the schema's units and a
quasi-p-value per limit (a one-sided binomial test of the box's failures
against the box without that limit, as in the EMA Workbench), and written to
``discovery_<kpi>.json/.csv/.png``. The ``prim`` package on PyPI (1.0.0) is not
used: it is GPL-3 (this project is MIT), needs ``mplcursors`` and still calls
pandas' ``.ix``, removed in pandas 1.0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import ScenarioError

EXIT_INVALID = 2


class DiscoveryError(Exception):
    """Bad input for scenario discovery (unknown KPI or scenario, nothing fails, ...)."""


# --------------------------------------------------------------------------- PRIM


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
    return {"coverage": fails / total_fail if total_fail else 0.0,
            "density": fails / n_in if n_in else 0.0, "mass": n_in / len(y), "n": n_in,
            "failures": fails}


def _numeric_peels(v: np.ndarray, inside: np.ndarray, alpha: float
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
    return Box({c: -math.inf for c in numeric}, {c: math.inf for c in numeric},
               {c: frozenset(x[c].unique()) for c in x.columns if c not in numeric})


def prim(x: pd.DataFrame, y: Sequence[bool] | np.ndarray, *, alpha: float = 0.05,
         min_mass: float = 0.05, min_density: float | None = None, paste: bool = True,
         prune: float | None = 0.05) -> PrimResult:
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
        raise DiscoveryError(f"{share} run fails ({int(y.sum())} of {len(y)}): nothing to "
                             "discover; change --threshold")
    x = x.reset_index(drop=True)
    values = {c: x[c].to_numpy(dtype=float) for c in x.columns if _is_numeric(x[c])}
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
        rows.append({"step": len(rows), "kind": "peel", **_stats(inside, y),
                     "restricted": len(_restricted(box, x))})
    trajectory = pd.DataFrame(rows)
    chosen, how = _select(trajectory, min_density)
    selected = chosen
    final = boxes[chosen]
    if paste:
        pasted = _paste(final, x, y, values, alpha)
        if pasted is not final:
            final = pasted
            boxes.append(final)
            mask = final.contains(x)
            trajectory = pd.concat([trajectory, pd.DataFrame([{
                "step": len(trajectory), "kind": "paste", **_stats(mask, y),
                "restricted": len(_restricted(final, x))}])], ignore_index=True)
            chosen = len(boxes) - 1
            how += ", then pasted"
    if prune is not None:
        pruned = final
        while True:
            limits = box_limits(pruned, x, y)
            if limits.empty or limits["qp"].iloc[-1] < prune:
                break
            pruned = pruned.without(limits["parameter"].iloc[-1])
        if pruned is not final:
            final = pruned
            boxes.append(final)
            mask = final.contains(x)
            trajectory = pd.concat([trajectory, pd.DataFrame([{
                "step": len(trajectory), "kind": "prune", **_stats(mask, y),
                "restricted": len(_restricted(final, x))}])], ignore_index=True)
            chosen = len(boxes) - 1
            how += f", weak limits (quasi-p >= {prune:g}) dropped"
    mask = final.contains(x)
    return PrimResult(x, y, trajectory, boxes, chosen, final, _stats(mask, y),
                      box_limits(final, x, y), how, selected)


def _select(trajectory: pd.DataFrame, min_density: float | None) -> tuple[int, str]:
    t = trajectory
    if min_density is not None:
        ok = t[t["density"] >= min_density]
        if len(ok):
            return int(ok["coverage"].idxmax()), f"highest coverage with density >= {min_density:g}"
        return int(t["density"].idxmax()), f"densest (none reaches density {min_density:g})"
    dist = np.hypot(1 - t["coverage"], 1 - t["density"])
    return int(dist.idxmin()), "knee: closest to coverage = density = 1"


def _paste(box: Box, x: pd.DataFrame, y: np.ndarray, values: Mapping[str, np.ndarray],
           alpha: float) -> Box:
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
                    limit = ((edge + rest[0]) / 2 if len(rest)
                             else (-math.inf if side == "lower" else math.inf))
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
            rows.append({"parameter": name, "kind": "numeric", "lower": lo, "upper": hi,
                         "levels": "", "data_min": float(v.min()), "data_max": float(v.max()),
                         "qp": qp})
        else:
            levels = sorted((v.item() if isinstance(v, np.generic) else v
                             for v in box.levels[name]), key=str)
            rows.append({"parameter": name, "kind": "categorical", "lower": np.nan,
                         "upper": np.nan, "levels": json.dumps(levels, default=str),
                         "data_min": np.nan, "data_max": np.nan, "qp": qp})
    cols = ["parameter", "kind", "lower", "upper", "levels", "data_min", "data_max", "qp"]
    return pd.DataFrame(rows, columns=cols).sort_values("qp", kind="stable").reset_index(
        drop=True)


# --------------------------------------------------------------------------- rules


def format_value(value: float, unit: str) -> str:
    """A parameter value with its unit, readably (fractions as percentages).

    Args:
        value: The value.
        unit: The schema's unit (``fraction``, ``fraction/yr``, ``bp``, ``USD``, ...).

    Returns:
        e.g. ``55 %``, ``5.1 %/yr``, ``151 bp``, ``$20.0M``.
    """
    if unit.startswith("fraction") or unit == "probability":
        rest = unit[len("fraction"):] if unit.startswith("fraction") else ""
        return f"{value * 100:.3g} %{rest}".rstrip()
    if unit.startswith("USD"):
        rest = unit[3:]
        if abs(value) >= 1e6:
            return f"${value / 1e6:,.1f}M{rest}"
        return f"${value:,.0f}{rest}"
    if unit == "bp":
        return f"{value:.0f} bp"
    return f"{value:.3g} {unit}".rstrip()


def kpi_value(kpi: str, value: float) -> str:
    """A KPI value with its unit from :data:`sim.model.kpis.KPI_INFO` (``-$30.0M``, ``12 %``).

    Args:
        kpi: The KPI.
        value: The value.

    Returns:
        The text.
    """
    from sim.model.outputs import KPI_INFO

    unit = KPI_INFO.get(kpi, ("", "", 0))[1]
    if unit == "USD":
        return f"{'-' if value < 0 else ''}${abs(value) / 1e6:,.1f}M"
    if unit == "fraction":
        return f"{value * 100:.3g} %"
    return f"{value:g}"


def rule_lines(limits: pd.DataFrame, info: Mapping[str, tuple[str, str]] | None = None,
               significance: float | None = None) -> list[str]:
    """Plain-language rules, one per restricted parameter.

    Args:
        limits: From :func:`box_limits`.
        info: Parameter path -> (unit, description) from the schema.
        significance: Keep only limits with a quasi-p-value below this (None: all).

    Returns:
        e.g. ``["realised performance multiplier (world.stress.performance_factor) < 55 %"]``.
    """
    info = info or {}
    out = []
    for row in limits.itertuples():
        if significance is not None and row.qp >= significance:
            continue
        path = row.parameter
        unit, doc = info.get(path, ("", ""))
        name = f"{doc} ({path})" if doc else path
        if row.kind == "categorical":
            levels = json.loads(row.levels)
            text = " or ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in levels)
            out.append(f"{name} is {text}")
        elif row.lower > -math.inf and row.upper < math.inf:
            out.append(f"{name} between {format_value(row.lower, unit)} and "
                       f"{format_value(row.upper, unit)}")
        elif row.lower > -math.inf:
            out.append(f"{name} > {format_value(row.lower, unit)}")
        else:
            out.append(f"{name} < {format_value(row.upper, unit)}")
    return out


def schema_info(folder: str | Path | None, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Unit and a short description of each parameter path, from the experiment's scenario.

    Args:
        folder: The experiment folder (its manifest names the scenario), or None.
        paths: Dotted paths.

    Returns:
        Path -> (unit, description); paths without schema information are left out.
    """
    from sim.config import load_scenario, parameters

    scenario, overlays = None, []
    if folder is not None:
        manifest = Path(folder) / "manifest.json"
        if manifest.is_file():
            spec = json.loads(manifest.read_text()).get("spec", {})
            if spec.get("experiment", {}).get("model", "alliance") != "alliance":
                return {}
            refs = spec.get("scenarios") or []
            if refs:
                scenario, overlays = refs[0]["file"], refs[0].get("overlays", [])
    try:
        leaves = parameters(load_scenario(scenario or "alliance", overlays=overlays))
    except ScenarioError:
        return {}
    out = {}
    for path in paths:
        for leaf in leaves:
            if leaf.path == path or ("*" in path and fnmatch.fnmatchcase(leaf.path, path)):
                doc = leaf.doc.split(" (")[0].split(";")[0].strip()
                if not doc or any(c in doc for c in "/=*+"):  # a formula: name it instead
                    doc = " ".join(path.split(".")[-2:]).replace("_", " ")
                out[path] = (leaf.unit, doc)
                break
    return out


# --------------------------------------------------------------------------- the runs table


@dataclass
class FailureData:
    """Parameters and outcomes of the runs PRIM looks at, and what failing means."""

    x: pd.DataFrame
    y: np.ndarray
    value: np.ndarray
    description: str
    dropped: int


def failure_data(runs: pd.DataFrame, kpi: str, threshold: float | None = None, *,
                 direction: str = "below", scenario: str | None = None,
                 compare_to: str | None = None) -> FailureData:
    """Mark each run as failing a KPI threshold, or as worse than another policy.

    Args:
        runs: An experiment's runs table (``experiments.load``).
        kpi: The KPI column.
        threshold: Failing means KPI below (``direction="below"``) or above it;
            with ``compare_to``, the difference scenario - other is compared with
            it (default 0).
        direction: ``below`` or ``above``.
        scenario: The scenario whose runs are judged (needed when there are several).
        compare_to: Pair each run with this scenario's run on the same design point
            and replication (the same world).

    Returns:
        The parameters that vary (without the ``param.`` prefix), the failures,
        the judged values and a description.

    Raises:
        DiscoveryError: For an unknown KPI or scenario, or missing pairs.
    """
    if direction not in ("below", "above"):
        raise DiscoveryError(f"direction {direction!r}: expected 'below' or 'above'")
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    if kpi not in ok.columns:
        known = [c for c in ok.columns if not c.startswith("param.") and c not in (
            "run_id", "index", "scenario", "point", "replication", "seed", "status", "error",
            "duration_s", "worker")]
        import difflib

        near = difflib.get_close_matches(kpi, known, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise DiscoveryError(f"--kpi {kpi}: not in the runs table; {hint}"
                             f"known: {', '.join(known[:15])}")
    labels = sorted(ok["scenario"].unique())
    if scenario is None:
        others = [s for s in labels if s != compare_to]
        if len(others) != 1:
            raise DiscoveryError(f"the folder holds scenarios {', '.join(labels)}: "
                                 "name one with --scenario")
        scenario = others[0]
    for name, flag in ((scenario, "--scenario"), (compare_to, "--compare-to")):
        if name is not None and name not in labels:
            raise DiscoveryError(f"{flag} {name}: no such scenario in the folder; "
                                 f"known: {', '.join(labels)}")
    mine = ok[ok["scenario"] == scenario]
    params = [c for c in mine.columns if c.startswith("param.")]
    if compare_to is not None:
        if compare_to == scenario:
            raise DiscoveryError("--compare-to names the judged scenario itself")
        other = ok[ok["scenario"] == compare_to][["point", "replication", kpi]]
        merged = mine.merge(other, on=["point", "replication"], suffixes=("", "__other"),
                            how="inner", validate="one_to_one")
        if merged.empty:
            raise DiscoveryError(f"no run of {scenario} has a run of {compare_to} on the same "
                                 "design point and replication")
        value = (merged[kpi] - merged[f"{kpi}__other"]).to_numpy(dtype=float)
        table = merged
        thr = 0.0 if threshold is None else threshold
        sign = "<" if direction == "below" else ">"
        desc = (f"{scenario}'s {kpi} minus {compare_to}'s on the same world {sign} "
                f"{kpi_value(kpi, thr)}")
    else:
        if threshold is None:
            raise DiscoveryError("--threshold is needed (or --compare-to SCENARIO)")
        value = mine[kpi].to_numpy(dtype=float)
        table = mine
        thr = threshold
        desc = f"{scenario}'s {kpi} {'<' if direction == 'below' else '>'} {kpi_value(kpi, thr)}"
    keep = ~np.isnan(value)
    table = table[keep]
    value = value[keep]
    x = table[params].reset_index(drop=True)
    x.columns = [c.removeprefix("param.") for c in params]
    varying = [c for c in x.columns if x[c].astype(str).nunique() > 1]
    if not varying:
        raise DiscoveryError("no parameter varies across the runs: scenario discovery needs a "
                             "design (lhs, grid or list) over uncertainties")
    y = value < thr if direction == "below" else value > thr
    return FailureData(x[varying], y, value, desc, int((~keep).sum()))


# --------------------------------------------------------------------------- the command


@dataclass
class Discovery:
    """A discovery result with the files written."""

    data: FailureData
    result: PrimResult
    rules: list[str]
    weak_rules: list[str]
    files: list[Path]
    tag: str
    info: dict[str, tuple[str, str]] = field(default_factory=dict)


def discover(folder: str | Path, kpi: str, threshold: float | None = None, *,
             direction: str = "below", scenario: str | None = None,
             compare_to: str | None = None, alpha: float = 0.05, min_mass: float = 0.05,
             min_density: float | None = None, paste: bool = True,
             prune: float | None = 0.05, out: str | Path | None = None,
             chart: bool = True) -> Discovery:
    """Run PRIM on an experiment folder and write ``discovery_<tag>.json/.csv/.png``.

    Args:
        folder: The experiment folder.
        kpi: The KPI.
        threshold: See :func:`failure_data`.
        direction: ``below`` or ``above``.
        scenario: The judged scenario.
        compare_to: The reference scenario on the same worlds.
        alpha: Peeling fraction.
        min_mass: Smallest box mass.
        min_density: Selection by density (default: the knee).
        paste: Paste the chosen box.
        prune: Drop limits with a quasi-p-value at least this (None: keep all).
        out: Where to write (default: the folder).
        chart: Draw the PNG.

    Returns:
        The discovery.

    Raises:
        DiscoveryError: For bad input.
    """
    from experiments.engine.store import load, write_csv, write_json

    try:
        runs = load(folder)
    except FileNotFoundError as exc:
        raise DiscoveryError(str(exc)) from None
    data = failure_data(runs, kpi, threshold, direction=direction, scenario=scenario,
                        compare_to=compare_to)
    if not data.y.any() or data.y.all():
        which = "every" if data.y.all() else "no"
        raise DiscoveryError(f"{which} run fails ({data.description}: {int(data.y.sum())} of "
                             f"{len(data.y)} runs): nothing to discover; change --threshold")
    res = prim(data.x, data.y, alpha=alpha, min_mass=min_mass, min_density=min_density,
               paste=paste, prune=prune)
    info = schema_info(folder, list(data.x.columns))
    strong = rule_lines(res.limits[res.limits["qp"] < 0.05], info)
    weak = rule_lines(res.limits[res.limits["qp"] >= 0.05], info)
    judged = scenario or runs.loc[runs["scenario"] != compare_to, "scenario"].iloc[0]
    tag = kpi + (f"_{judged}_vs_{compare_to}" if compare_to else "")
    target = Path(out) if out else Path(folder)
    payload = {
        "kpi": kpi, "failure": data.description, "direction": direction,
        "threshold": threshold, "scenario": judged, "compare_to": compare_to,
        "runs": len(data.y), "failures": int(data.y.sum()), "dropped_nan": data.dropped,
        "alpha": alpha, "min_mass": min_mass, "min_density": min_density, "paste": paste,
        "prune": prune,
        "selection": res.selection, "chosen_step": int(res.trajectory.loc[res.chosen, "step"]),
        "box": res.stats, "limits": res.limits.replace({math.inf: None, -math.inf: None})
        .to_dict(orient="records"),
        "rules": strong, "weak_rules": weak, "units": info,
    }
    files = [write_json(payload, target / f"discovery_{tag}.json"),
             write_csv(res.trajectory, target / f"discovery_{tag}.csv", index=False)]
    if chart:
        from experiments.sa_charts import prim_chart

        files.append(prim_chart(res, target / f"discovery_{tag}.png", info, data.description))
    return Discovery(data, res, strong, weak, files, tag, info)


def trajectory_lines(result: PrimResult, max_rows: int = 20) -> list[str]:
    """The peeling trajectory as a short table (every k-th step, the chosen one marked).

    Args:
        result: PRIM's result.
        max_rows: Rows to show at most (plus the chosen and the last).

    Returns:
        Printable lines.
    """
    t = result.trajectory
    every = max(1, math.ceil(len(t) / max_rows))
    show = sorted(set(range(0, len(t), every)) | {len(t) - 1, result.chosen, result.selected})
    lines = [" step  kind   coverage  density    mass  runs  limits"]
    for i in show:
        r = t.iloc[i]
        mark = "  <- chosen" if i == result.chosen else ""
        if i == result.selected and i != result.chosen:
            mark = "  <- selected (then pasted / pruned)"
        lines.append(f"{int(r['step']):5d}  {r['kind']:<5}  {r['coverage']:7.1%}  "
                     f"{r['density']:7.1%}  {r['mass']:6.1%}  {int(r['n']):4d}  "
                     f"{int(r['restricted']):6d}{mark}")
    return lines


def cmd_discover(args: argparse.Namespace) -> int:
    """Run PRIM on an experiment folder; print the trajectory and the box as rules.

    Args:
        args: Parsed arguments.

    Returns:
        The exit status (2 for invalid input).
    """
    try:
        d = discover(args.folder, args.kpi, args.threshold, direction=args.direction,
                     scenario=args.scenario, compare_to=args.compare_to, alpha=args.peel_alpha,
                     min_mass=args.min_mass, min_density=args.min_density,
                     paste=not args.no_paste, prune=None if args.keep_weak else 0.05,
                     out=args.out, chart=not args.no_chart)
    except DiscoveryError as exc:
        print(f"alliance discover: {exc}", file=sys.stderr)
        return EXIT_INVALID
    r = d.result
    n, fails = len(d.data.y), int(d.data.y.sum())
    print(f"Scenario discovery: failure = {d.data.description}")
    print(f"{n} runs, {fails} fail ({fails / n:.1%}); PRIM: peel alpha {args.peel_alpha:g}, "
          f"min mass {args.min_mass:g}; {len(d.data.x.columns)} parameters vary"
          + (f"; {d.data.dropped} runs without a value dropped" if d.data.dropped else ""))
    print()
    for line in trajectory_lines(r):
        print(line)
    s = r.stats
    print(f"\nchosen box ({r.selection}): coverage {s['coverage']:.1%}, density "
          f"{s['density']:.1%}, mass {s['mass']:.1%} ({int(s['n'])} runs, "
          f"{int(s['failures'])} failures; base rate {fails / n:.1%})")
    if d.rules:
        print("fails when " + " and ".join(d.rules))
    else:
        print("no limit of the box is significant (quasi-p < 0.05): failures look "
              "spread over the space")
    for row, text in zip(r.limits.itertuples(), rule_lines(r.limits, d.info), strict=True):
        weak = "; weak" if row.qp >= 0.05 else ""
        print(f"  - {text}   (quasi-p {row.qp:.2g}{weak})")
    print(f"wrote {', '.join(str(f) for f in d.files)}")
    return 0
