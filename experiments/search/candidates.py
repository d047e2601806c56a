"""The shortlist: the front in a reading order, and candidate designs as scenario files.

:func:`order_front` puts first the designs that dominate every shipped design (at least
as good on every objective and better on one), then those that dominate fewer, then
the rest; within each group it starts with the best compromise (the smallest sum of the objectives
scaled to [0, 1]) and adds, one at a time, the design farthest from those already
chosen, so the first few rows of the front are a short, varied list.
:func:`write_candidates` writes the first ``search.candidates`` of them as scenario
files extending the base scenario with the design's lever values, and loads each back
to check it: ``alliance compare FOLDER/candidates/c1.toml alliance`` takes one as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine.store import atomic
from experiments.search.optimiser import dominates
from experiments.search.robustness import minimised
from experiments.search.spec import SearchSpec


def _scaled(spec: SearchSpec, table: pd.DataFrame, bounds: pd.DataFrame) -> np.ndarray:
    """Minimised objectives scaled to [0, 1] over ``bounds``'s rows."""
    names = [o.name for o in spec.objectives]

    def f(frame: pd.DataFrame) -> np.ndarray:
        x = frame[names].to_numpy(dtype=float)
        return np.column_stack([minimised(x[:, i], o) for i, o in enumerate(spec.objectives)])

    both = f(bounds)
    lo, hi = both.min(axis=0), both.max(axis=0)
    return (f(table) - lo) / np.where(hi > lo, hi - lo, 1.0)


def dominated_shipped(spec: SearchSpec, table: pd.DataFrame, shipped: pd.DataFrame) -> list[str]:
    """Per design, the shipped designs it dominates (comma-separated; empty: none)."""
    names = [o.name for o in spec.objectives]

    def f(frame: pd.DataFrame) -> np.ndarray:
        x = frame[names].to_numpy(dtype=float)
        return np.column_stack([minimised(x[:, i], o) for i, o in enumerate(spec.objectives)])

    a, b = f(table), f(shipped)
    return [
        ", ".join(d for j, d in enumerate(shipped.index) if dominates(a[i], b[j]))
        for i in range(len(table))
    ]


def order_front(spec: SearchSpec, front: pd.DataFrame, shipped: pd.DataFrame) -> pd.DataFrame:
    """The front in shortlist order, with ``dominates`` (the shipped designs it beats).

    Args:
        spec: The spec.
        front: The front's designs (metrics in plain reading).
        shipped: The shipped designs' metrics on the same worlds (index: design).

    Returns:
        The front, reordered, with a ``dominates`` column and ``rank`` from 1.
    """
    front = front.copy()
    front["dominates"] = dominated_shipped(spec, front, shipped) if len(shipped) else ""
    x = _scaled(spec, front, pd.concat([front, shipped]) if len(shipped) else front)
    order: list[int] = []
    beaten = np.array([len(d.split(", ")) if d else 0 for d in front["dominates"]])
    for count in sorted(set(beaten), reverse=True):  # most shipped designs dominated first
        group = np.flatnonzero(beaten == count)
        left = list(group)
        if not left:
            continue
        first = min(left, key=lambda i: (x[i].sum(), i))
        order.append(first)
        left.remove(first)
        while left:
            far = max(left, key=lambda i: (min(np.linalg.norm(x[i] - x[j]) for j in order), -i))
            order.append(far)
            left.remove(far)
    out = front.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


def toml_value(value: Any) -> str:
    """A value as TOML text (strings, numbers, booleans, lists and tables of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


def scenario_text(
    name: str, description: str, extends: str, levers: Mapping[str, Any], comment: Sequence[str]
) -> str:
    """A scenario file: ``extends`` the base, then each lever's value in its table."""
    tables: dict[str, list[str]] = {}
    for path, value in levers.items():
        table, _, key = path.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {toml_value(value)}")
    lines = [f"# {c}" for c in comment]
    lines += [
        "",
        "[scenario]",
        f"name = {json.dumps(name)}",
        f"description = {json.dumps(description)}",
        f"extends = {json.dumps(extends)}",
    ]
    for table, items in sorted(tables.items()):  # a table before its sub-tables
        lines += ["", f"[{table}]", *items]
    return "\n".join(lines) + "\n"


def _extends(base: str, folder: Path) -> str:
    """The base scenario as ``extends`` reads it from ``folder``: a library name or a path."""
    from sim.config.loader import LIBRARY

    path = Path(base)
    if not path.is_file() and (LIBRARY / f"{path.stem}.toml").is_file():
        return path.stem
    return str(path.resolve())


def write_candidates(spec: SearchSpec, front: pd.DataFrame, folder: Path) -> list[Path]:
    """The front's first designs as scenario files ``c1.toml``, ``c2.toml``, ...

    Each extends the base scenario and sets the levers (not ``search.fixed``: the
    resolution the search ran at is not part of a design). Each file is loaded back.

    Args:
        spec: The spec.
        front: The front in shortlist order.
        folder: Where to write.

    Returns:
        The files.

    Raises:
        ScenarioError: When a file does not load back (a bug: the levers were checked).
    """
    from sim.config import load_scenario

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("c*.toml"):
        old.unlink()
    extends = _extends(spec.search.scenario, folder)
    out = []
    for i, (_, row) in enumerate(front.head(spec.search.candidates).iterrows(), 1):
        metrics = "; ".join(f"{o.name} = {row[o.name]:.6g}" for o in spec.objectives)
        beats = f"; dominates {row['dominates']}" if row.get("dominates") else ""
        text = scenario_text(
            f"c{i}",
            f"search {spec.search.name}: design {row['design']} (front rank {i})",
            extends,
            {k: _plain(row[k]) for k in spec.levers},
            [
                f"Candidate design c{i} of the search '{spec.search.name}' (design "
                f"{row['design']}).",
                f"On the search worlds: {metrics}{beats}.",
                f"alliance compare {folder / f'c{i}.toml'} alliance",
            ],
        )
        path = atomic(folder / f"c{i}.toml", lambda p, t=text: p.write_text(t, encoding="utf-8"))
        load_scenario(path)
        out.append(path)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def scenario_levers(file: str, paths: Sequence[str]) -> dict[str, Any]:
    """The values a scenario file gives the levers (path -> value; None when absent).

    Args:
        file: A scenario file or library name.
        paths: Lever paths.

    Returns:
        Path -> value.
    """
    from sim.config import load_scenario

    data = load_scenario(file).model_dump()
    out = {}
    for path in paths:
        node: Any = data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        out[path] = node
    return out
