"""Which runs fail: a KPI threshold, or worse than another policy on the same world."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from experiments.discovery.prim import DiscoveryError
from experiments.discovery.rules import kpi_value
from experiments.engine.runner import RUN_COLUMNS


@dataclass
class FailureData:
    """Parameters and outcomes of the runs PRIM looks at, and what failing means."""

    x: pd.DataFrame
    y: np.ndarray
    value: np.ndarray
    description: str
    dropped: int


def failure_data(
    runs: pd.DataFrame,
    kpi: str,
    threshold: float | None = None,
    *,
    direction: str = "below",
    scenario: str | None = None,
    compare_to: str | None = None,
) -> FailureData:
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
    scenario = _judged_scenario(ok, kpi, scenario, compare_to)
    mine = ok[ok["scenario"] == scenario]
    params = [c for c in mine.columns if c.startswith("param.")]
    sign = "<" if direction == "below" else ">"
    if compare_to is not None:
        table, value = _paired_differences(ok, mine, kpi, scenario, compare_to)
        thr = 0.0 if threshold is None else threshold
        desc = (
            f"{scenario}'s {kpi} minus {compare_to}'s on the same world {sign} "
            f"{kpi_value(kpi, thr)}"
        )
    else:
        if threshold is None:
            raise DiscoveryError("--threshold is needed (or --compare-to SCENARIO)")
        value = mine[kpi].to_numpy(dtype=float)
        table = mine
        thr = threshold
        desc = f"{scenario}'s {kpi} {sign} {kpi_value(kpi, thr)}"
    keep = ~np.isnan(value)
    table = table[keep]
    value = value[keep]
    x = table[params].reset_index(drop=True)
    x.columns = [c.removeprefix("param.") for c in params]
    varying = [c for c in x.columns if x[c].astype(str).nunique() > 1]
    if not varying:
        raise DiscoveryError(
            "no parameter varies across the runs: scenario discovery needs a "
            "design (lhs, grid or list) over uncertainties"
        )
    y = value < thr if direction == "below" else value > thr
    return FailureData(x[varying], y, value, desc, int((~keep).sum()))


def _judged_scenario(
    ok: pd.DataFrame, kpi: str, scenario: str | None, compare_to: str | None
) -> str:
    """Check the KPI and the scenarios against the runs; the judged scenario."""
    if kpi not in ok.columns:
        known = [c for c in ok.columns if not c.startswith("param.") and c not in RUN_COLUMNS]
        near = difflib.get_close_matches(kpi, known, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise DiscoveryError(
            f"--kpi {kpi}: not in the runs table; {hint}known: {', '.join(known[:15])}"
        )
    labels = sorted(ok["scenario"].unique())
    if scenario is None:
        others = [s for s in labels if s != compare_to]
        if len(others) != 1:
            raise DiscoveryError(
                f"the folder holds scenarios {', '.join(labels)}: name one with --scenario"
            )
        scenario = others[0]
    for name, flag in ((scenario, "--scenario"), (compare_to, "--compare-to")):
        if name is not None and name not in labels:
            raise DiscoveryError(
                f"{flag} {name}: no such scenario in the folder; known: {', '.join(labels)}"
            )
    return scenario


def _paired_differences(
    ok: pd.DataFrame, mine: pd.DataFrame, kpi: str, scenario: str, compare_to: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Each judged run joined with the other scenario's run on the same world: (table, diff)."""
    if compare_to == scenario:
        raise DiscoveryError("--compare-to names the judged scenario itself")
    other = ok[ok["scenario"] == compare_to][["point", "replication", kpi]]
    merged = mine.merge(
        other,
        on=["point", "replication"],
        suffixes=("", "__other"),
        how="inner",
        validate="one_to_one",
    )
    if merged.empty:
        raise DiscoveryError(
            f"no run of {scenario} has a run of {compare_to} on the same "
            "design point and replication"
        )
    return merged, (merged[kpi] - merged[f"{kpi}__other"]).to_numpy(dtype=float)
