"""The search's charts: the front in parallel coordinates, and convergence (PNG)."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.engine.plots import BLUE, PALETTE, VERMILION, plt, save_png
from experiments.search.robustness import better
from experiments.search.spec import Lever, Objective, SearchSpec

#: Behind an axis's value labels, so lines crossing them do not hide them.
_BOX = {"facecolor": "white", "alpha": 0.8, "linewidth": 0, "pad": 0.6}
#: The shipped designs' line colours (the front is drawn in a blue-to-yellow scale).
SHIPPED = (VERMILION, PALETTE[7], PALETTE[3], PALETTE[4])


def choice_text(value: Any, width: int = 24) -> str:
    """A choice as a short label (a financing list as ``a > b > c``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = " > ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return textwrap.shorten(text.replace("_", " "), width, placeholder="...")


#: Least vertical distance between two candidates' labels (axis units, 0..1).
LABEL_GAP = 0.04


def _spread(values: np.ndarray, gap: float) -> np.ndarray:
    """Label positions near ``values`` with at least ``gap`` between any two (order kept)."""
    order = np.argsort(values, kind="stable")
    placed = np.asarray(values, dtype=float)[order].copy()
    for k in range(1, len(placed)):
        placed[k] = max(placed[k], placed[k - 1] + gap)
    shift = max(0.0, placed[-1] - 1.02) if len(placed) else 0.0  # keep them in the plot
    placed -= shift
    out = np.empty_like(placed)
    out[order] = placed
    return out


def _lever_position(lever: Lever, value: Any) -> float:
    """Where a value sits on its lever's axis (0-1); NaN when it is not one of its values."""
    if value is None:
        return math.nan
    if lever.values:
        for i, v in enumerate(lever.values):
            if v == value:
                return i / (len(lever.values) - 1)
        return math.nan
    lo, hi = lever.range
    x = (float(value) - lo) / (hi - lo)
    return x if 0.0 <= x <= 1.0 else math.nan


def metric_text(o: Objective, value: float) -> str:
    """A metric's value in its KPI's display unit (shares in %)."""
    from sim.model.outputs import kpi

    if o.robustness == "satisficing":
        return f"{value:.0%}"
    regret = o.robustness == "regret"
    return kpi(o.kpi).format(value, signed=regret, change=regret)


def objective_label(o: Objective, width: int = 22) -> str:
    """``mean of Fiscal NPV``, ``worst 10 % of ...``, ``max regret ...``, ``share ...``."""
    from sim.model.outputs import kpi

    label = kpi(o.kpi).label
    if o.robustness == "mean":
        head = "mean"
    elif o.robustness == "percentile":
        head = f"worst {o.worst_percent:g} % of worlds"
    elif o.robustness == "regret":
        head = "max regret" if o.worst_percent == 0 else f"regret, worst {o.worst_percent:g} %"
    else:
        op, x = o.threshold
        return "\n".join(textwrap.wrap(f"share of worlds with {label} {op} {x:g}", width))
    return "\n".join(textwrap.wrap(f"{head}: {label}", width))


def parallel_coordinates(
    spec: SearchSpec, front: pd.DataFrame, shipped: pd.DataFrame, path: Path
) -> Path:
    """The front's designs as lines across the levers and the objectives.

    Levers on the left (each from its low to its high end, or its choices in order),
    objectives on the right (better up, from the worst to the best value among the
    front and the shipped designs). The shipped designs are drawn as thick dashed
    lines; where a shipped design's lever value lies off the lever's range or
    choices, its line has a gap.

    Args:
        spec: The spec.
        front: The front (shortlist order: the top candidates are labelled).
        shipped: The shipped designs' metrics (index: design).
        path: PNG to write.

    Returns:
        The path.
    """
    from experiments.search.candidates import scenario_levers

    levers = list(spec.levers.items())
    objectives = spec.objectives
    n_axes = len(levers) + len(objectives)
    fig, ax = plt.subplots(figsize=(max(10.0, 1.25 * n_axes + 1.5), 6.6), constrained_layout=True)
    xs = np.arange(n_axes)
    both = pd.concat([front[[o.name for o in objectives]], shipped]) if len(shipped) else front

    def obj_pos(o: Objective, values: np.ndarray) -> np.ndarray:
        col = both[o.name].to_numpy(dtype=float)
        lo, hi = np.nanmin(col), np.nanmax(col)
        scaled = (values - lo) / (hi - lo) if hi > lo else np.full(len(values), 0.5)
        return scaled if better(o) > 0 else 1 - scaled

    def rows(frame: pd.DataFrame, lever_values: list[dict[str, Any]]) -> np.ndarray:
        out = np.full((len(frame), n_axes), np.nan)
        for j, (p, lever) in enumerate(levers):
            out[:, j] = [_lever_position(lever, lv[p]) for lv in lever_values]
        for k, o in enumerate(objectives):
            out[:, len(levers) + k] = obj_pos(o, frame[o.name].to_numpy(dtype=float))
        return out

    if len(front):
        y = rows(front, [{p: r[p] for p, _ in levers} for _, r in front.iterrows()])
        first = objectives[0]
        shade = obj_pos(first, front[first.name].to_numpy(dtype=float))
        cmap = plt.get_cmap("viridis")
        for i in range(len(front) - 1, -1, -1):
            top = i < spec.search.candidates
            ax.plot(
                xs, y[i], color=cmap(shade[i]), lw=1.8 if top else 0.9, alpha=0.9 if top else 0.45
            )
        tops = min(spec.search.candidates, len(front))
        for i, at in enumerate(_spread(y[:tops, -1], LABEL_GAP)):
            ax.annotate(
                f"c{i + 1}",
                (xs[-1], y[i, -1]),
                xytext=(xs[-1] + 0.12, at),
                textcoords="data",
                fontsize=8,
                va="center",
                color=cmap(shade[i]),
                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.5"}
                if abs(at - y[i, -1]) > 1e-9
                else None,
            )
    for n, design in enumerate(shipped.index):
        values = scenario_levers(design, [p for p, _ in levers])
        y = rows(shipped.loc[[design]], [values])[0]
        colour = SHIPPED[n % len(SHIPPED)]
        ax.plot(xs, y, color=colour, lw=3.0, ls="--", label=f"shipped: {design}", zorder=5)
        ax.scatter(xs, y, color=colour, s=28, zorder=6)
    for j, (_, lever) in enumerate(levers):
        ax.axvline(j, color="#777777", lw=0.8, zorder=0)
        if lever.values:
            k = len(lever.values)
            for i, v in enumerate(lever.values):
                ax.text(
                    j + 0.07, i / (k - 1), choice_text(v, 18), fontsize=7, va="center", bbox=_BOX
                )
        else:
            lo, hi = lever.range
            fmt = "{:g}" if lever.integer else "{:.3g}"
            ax.text(j + 0.04, 0.0, fmt.format(lo), fontsize=7, va="top", bbox=_BOX)
            ax.text(j + 0.04, 1.0, fmt.format(hi), fontsize=7, va="bottom", bbox=_BOX)
    for k, o in enumerate(objectives):
        j = len(levers) + k
        ax.axvline(j, color="#333333", lw=1.2, zorder=0)
        col = both[o.name].to_numpy(dtype=float)
        lo, hi = np.nanmin(col), np.nanmax(col)
        best, worst = (hi, lo) if better(o) > 0 else (lo, hi)
        # values on the axis's left: the candidates' labels sit on the right of the last
        ax.text(j - 0.04, 1.0, metric_text(o, best), fontsize=7, va="bottom", ha="right", bbox=_BOX)
        ax.text(j - 0.04, 0.0, metric_text(o, worst), fontsize=7, va="top", ha="right", bbox=_BOX)
    if len(levers):
        ax.axvspan(len(levers) - 0.5, n_axes - 0.5, color="#eef4fa", zorder=-1)
    labels = [_lever_label(p) for p, _ in levers] + [objective_label(o) for o in objectives]
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.3, n_axes - 0.3)
    ax.set_ylim(-0.08, 1.08)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    colour_by = objective_label(objectives[0], width=200)
    ax.set_title(
        f"Search '{spec.search.name}': the {len(front)} designs of the Pareto front "
        f"(levers left, objectives right with better up; colour: {colour_by}); "
        f"c1-c{min(spec.search.candidates, len(front))}: the candidates",
        fontsize=9,
    )
    if len(shipped):
        ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=4, fontsize=8, frameon=False)
    return save_png(fig, path)


def _lever_label(path: str, width: int = 16) -> str:
    """The lever's last two path parts, one per line (``by domain`` / ``streetlights``)."""
    parts = [p.replace("_", " ") for p in path.split(".")[-2:]]
    return "\n".join(
        line for part in parts for line in textwrap.wrap(part, width, break_long_words=False)
    )


def convergence_chart(conv: pd.DataFrame, path: Path) -> Path:
    """Hypervolume (left) and epsilon progress (right) by generation.

    Args:
        conv: :func:`experiments.search.study.convergence`'s table.
        path: PNG to write.

    Returns:
        The path.
    """
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    if len(conv):
        ax.plot(conv["generation"], conv["hypervolume"], marker="o", color=BLUE)
        bx.plot(conv["generation"], conv["epsilon_progress"], marker="o", color=VERMILION)
        top = conv["evaluations"].iloc[-1]
        ax.set_title(f"Hypervolume of the front found so far ({top} designs evaluated)", fontsize=9)
    ax.set_xlabel("generation")
    ax.set_ylabel("hypervolume (share of the scaled objective box)")
    ax.set_ylim(bottom=0)
    bx.set_xlabel("generation")
    bx.set_ylabel("epsilon progress (new epsilon boxes, cumulative)")
    bx.set_ylim(bottom=0)
    bx.set_title("Epsilon progress: improvements by at least epsilon", fontsize=9)
    for a in (ax, bx):
        a.grid(alpha=0.3)
        a.xaxis.get_major_locator().set_params(integer=True)
    return save_png(fig, path)
