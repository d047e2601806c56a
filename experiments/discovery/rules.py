"""The box as plain-language rules: parameter values and KPIs with their units.

:func:`rule_lines` turns a box's limits into sentences such as ``realised
performance multiplier (world.stress.performance_factor) < 55 %``, with the
units and short descriptions :func:`schema_info` reads from the experiment's model.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.engine.spec import Spec, bind_models
from sim.config import ScenarioError


def format_value(value: float, unit: str) -> str:
    """A parameter value with its unit, readably (fractions as percentages).

    Args:
        value: The value.
        unit: The schema's unit (``fraction``, ``fraction/yr``, ``bp``, ``USD``, ...).

    Returns:
        e.g. ``55 %``, ``5.1 %/yr``, ``151 bp``, ``$20.0M``.
    """
    if unit.startswith("fraction") or unit == "probability":
        rest = unit[len("fraction") :] if unit.startswith("fraction") else ""
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
    """A KPI value with its unit from :data:`sim.model.outputs.KPI_INFO` (``-$30.0M``, ``12 %``).

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


def rule_lines(
    limits: pd.DataFrame,
    info: Mapping[str, tuple[str, str]] | None = None,
    significance: float | None = None,
) -> list[str]:
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
            out.append(
                f"{name} between {format_value(row.lower, unit)} and "
                f"{format_value(row.upper, unit)}"
            )
        elif row.lower > -math.inf:
            out.append(f"{name} > {format_value(row.lower, unit)}")
        else:
            out.append(f"{name} < {format_value(row.upper, unit)}")
    return out


def schema_info(folder: str | Path | None, paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Unit and a short description of each parameter path, from the experiment's model.

    Args:
        folder: The experiment folder (its manifest names the model), or None (then the
            built-in model on the ``alliance`` scenario describes the paths).
        paths: Dotted paths.

    Returns:
        Path -> (unit, description); paths the model does not describe are left out.
    """
    leaves = _declared_parameters(folder)
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


def _declared_parameters(folder: str | Path | None) -> list[Any]:
    """The parameters the experiment's first model declares (none for a plain function)."""
    data: dict[str, Any] = {}
    manifest = Path(folder) / "manifest.json" if folder is not None else None
    if manifest is not None and manifest.is_file():
        data = json.loads(manifest.read_text()).get("spec", {})
    try:
        spec = Spec.model_validate(data or {"scenarios": [{"file": "alliance"}]}, strict=False)
        declared = getattr(
            bind_models(spec.experiment, spec.scenarios)[0].model, "parameters", None
        )
        return list(declared()) if declared is not None else []
    except (ScenarioError, ValueError):  # an unknown model or scenario: nothing to describe
        return []
