"""PRIM on an experiment folder: read the runs, mark failures, find the box, write the files."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from experiments.discovery.failures import FailureData, failure_data
from experiments.discovery.prim import DiscoveryError, PrimResult, prim
from experiments.discovery.rules import rule_lines, schema_info


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


def discover(
    folder: str | Path,
    kpi: str,
    threshold: float | None = None,
    *,
    direction: str = "below",
    scenario: str | None = None,
    compare_to: str | None = None,
    alpha: float = 0.05,
    min_mass: float = 0.05,
    min_density: float | None = None,
    paste: bool = True,
    prune: float | None = 0.05,
    out: str | Path | None = None,
    chart: bool = True,
) -> Discovery:
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
    from experiments.engine.store import load, safe_name, write_csv, write_json

    try:
        runs = load(folder)
    except FileNotFoundError as exc:
        raise DiscoveryError(str(exc)) from None
    data = failure_data(
        runs, kpi, threshold, direction=direction, scenario=scenario, compare_to=compare_to
    )
    if not data.y.any() or data.y.all():
        which = "every" if data.y.all() else "no"
        raise DiscoveryError(
            f"{which} run fails ({data.description}: {int(data.y.sum())} of "
            f"{len(data.y)} runs): nothing to discover; change --threshold"
        )
    res = prim(
        data.x,
        data.y,
        alpha=alpha,
        min_mass=min_mass,
        min_density=min_density,
        paste=paste,
        prune=prune,
    )
    info = schema_info(folder, list(data.x.columns))
    strong = rule_lines(res.limits[res.limits["qp"] < 0.05], info)
    weak = rule_lines(res.limits[res.limits["qp"] >= 0.05], info)
    judged = scenario or runs.loc[runs["scenario"] != compare_to, "scenario"].iloc[0]
    tag = safe_name(kpi + (f"_{judged}_vs_{compare_to}" if compare_to else ""))
    target = Path(out) if out else Path(folder)
    payload = {
        "kpi": kpi,
        "failure": data.description,
        "direction": direction,
        "threshold": threshold,
        "scenario": judged,
        "compare_to": compare_to,
        "runs": len(data.y),
        "failures": int(data.y.sum()),
        "dropped_nan": data.dropped,
        "alpha": alpha,
        "min_mass": min_mass,
        "min_density": min_density,
        "paste": paste,
        "prune": prune,
        "selection": res.selection,
        "chosen_step": int(res.trajectory.loc[res.chosen, "step"]),
        "box": res.stats,
        "limits": res.limits.replace({math.inf: None, -math.inf: None}).to_dict(orient="records"),
        "rules": strong,
        "weak_rules": weak,
        "units": info,
    }
    files = [
        write_json(payload, target / f"discovery_{tag}.json"),
        write_csv(res.trajectory, target / f"discovery_{tag}.csv", index=False),
    ]
    if chart:
        from experiments.discovery.charts import prim_chart

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
        lines.append(
            f"{int(r['step']):5d}  {r['kind']:<5}  {r['coverage']:7.1%}  "
            f"{r['density']:7.1%}  {r['mass']:6.1%}  {int(r['n']):4d}  "
            f"{int(r['restricted']):6d}{mark}"
        )
    return lines
