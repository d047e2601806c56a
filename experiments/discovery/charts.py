"""The chart of a scenario discovery: PRIM's trade-off and the chosen box (matplotlib, PNG)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib.ticker

from experiments.discovery.prim import PrimResult
from experiments.discovery.rules import format_value
from experiments.engine.plots import VERMILION, plt, save_png


def prim_chart(
    result: PrimResult, path: Path, info: Mapping[str, tuple[str, str]], description: str
) -> Path:
    """PRIM's coverage-density trade-off (left) and the chosen box's limits (right).

    Args:
        result: PRIM's result.
        path: PNG to write.
        info: Parameter path -> (unit, description).
        description: What failing means (for the title).

    Returns:
        The path.
    """
    t = result.trajectory
    limits = result.limits
    fig, (ax, bx) = plt.subplots(
        1, 2, figsize=(15, 6.2), constrained_layout=True, gridspec_kw={"width_ratios": [1, 1.25]}
    )
    sc = ax.scatter(t["coverage"], t["density"], c=t["restricted"], cmap="viridis", s=22, zorder=3)
    peel = t[t["kind"] == "peel"]
    ax.plot(peel["coverage"], peel["density"], color="#999999", lw=0.8, zorder=2)
    c = t.iloc[result.chosen]
    ax.scatter(
        [c["coverage"]],
        [c["density"]],
        s=180,
        facecolors="none",
        edgecolors=VERMILION,
        lw=2,
        zorder=4,
        label=f"chosen: coverage {c['coverage']:.0%}, density {c['density']:.0%}",
    )
    ax.set_xlabel("coverage (share of all failures inside the box)")
    ax.set_ylabel("density (share of the box's runs that fail)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=9)
    bar = fig.colorbar(sc, ax=ax, label="parameters restricted")
    bar.locator = matplotlib.ticker.MaxNLocator(integer=True)
    bar.update_ticks()
    ax.set_title("PRIM peeling trajectory", fontsize=10)
    d = len(limits)
    for i, r in enumerate(limits.itertuples()):
        y = d - 1 - i
        unit, doc = info.get(r.parameter, ("", ""))
        bx.barh(y, 1.0, color="#EEEEEE", height=0.5)
        if r.kind == "numeric":
            span = r.data_max - r.data_min or 1.0
            lo = 0.0 if r.lower == -math.inf else (r.lower - r.data_min) / span
            hi = 1.0 if r.upper == math.inf else (r.upper - r.data_min) / span
            bx.barh(y, hi - lo, left=lo, color=VERMILION, alpha=0.75, height=0.5)
            text_lo = "" if r.lower == -math.inf else format_value(r.lower, unit)
            text_hi = "" if r.upper == math.inf else format_value(r.upper, unit)
            bx.text(lo, y + 0.32, text_lo, ha="center", fontsize=8)
            bx.text(hi, y + 0.32, text_hi, ha="center", fontsize=8)
            bx.text(
                0, y - 0.42, format_value(r.data_min, unit), ha="left", fontsize=7, color="#777777"
            )
            bx.text(
                1, y - 0.42, format_value(r.data_max, unit), ha="right", fontsize=7, color="#777777"
            )
        else:
            bx.text(0.5, y, "levels: " + r.levels, ha="center", va="center", fontsize=8)
    names = [
        f"{info[p][1]}\n({p}, quasi-p {q:.1g})"
        if info.get(p, ("", ""))[1]
        else f"{p}\n(quasi-p {q:.1g})"
        for p, q in zip(limits["parameter"], limits["qp"], strict=True)
    ]
    bx.set_yticks(list(range(d - 1, -1, -1)), names, fontsize=8)
    bx.set_xlim(-0.05, 1.05)
    bx.set_ylim(-0.8, max(d, 1) - 0.2)
    bx.set_xticks([0, 1], ["data min", "data max"])
    s = result.stats
    bx.set_title(
        f"chosen box: {int(s['n'])} runs, {int(s['failures'])} failures "
        f"(mass {s['mass']:.0%}); coloured: the box's range",
        fontsize=10,
    )
    fig.suptitle(f"Scenario discovery: failure = {description}", fontsize=11)
    return save_png(fig, path)
