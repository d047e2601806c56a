"""Charts of a sensitivity analysis (matplotlib, Agg, PNG).

- :func:`index_bars`: first-order vs total indices (or the method's indices)
  per parameter with confidence intervals, one chart per KPI;
- :func:`s2_heatmap`: Sobol second-order indices;
- :func:`morris_scatter`: Morris mu* against sigma with the usual
  sigma / mu* lines;
- :func:`convergence_chart`: indices at N/2 and at N side by side;
- :func:`draw_all`: every chart of an analysis.

Colours follow :mod:`experiments.engine.plots` (Okabe-Ito, colour-blind safe).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.engine.plots import BLUE, GREEN, PURPLE, SKY, VERMILION, plt
from experiments.engine.plots import save_png as _save
from experiments.engine.store import safe_name

#: Colours of the indices, the same in every chart.
INDEX_COLOURS = {
    "S1": BLUE,
    "ST": VERMILION,
    "delta": GREEN,
    "delta_balanced": SKY,
    "PAWN_median": PURPLE,
    "mu_star": BLUE,
}
INDEX_NAMES = {
    "S1": "first order S1",
    "ST": "total ST",
    "delta": "delta (Borgonovo)",
    "delta_balanced": "delta, balanced bootstrap",
    "PAWN_median": "PAWN (median KS)",
    "mu_star": "mu*",
}
BARS = {
    "sobol": ("S1", "ST"),
    "fast": ("S1", "ST"),
    "rbd_fast": ("S1",),
    "delta": ("delta", "S1"),
    "pawn": ("PAWN_median",),
    "emulator": ("S1", "ST"),
}
METHOD_TITLES = {
    "sobol": "Sobol",
    "morris": "Morris",
    "fast": "eFAST",
    "rbd_fast": "RBD-FAST",
    "delta": "delta moment-independent",
    "pawn": "PAWN",
    "emulator": "emulator",
}


def _title(kpi: str, units: Mapping[str, tuple[str, str]]) -> str:
    label, unit = units.get(kpi, (kpi, ""))
    if label == kpi:
        return f"{kpi}{' (' + unit + ')' if unit else ''}"
    return f"{label} ({kpi}{', ' + unit if unit else ''})"


def _scale(unit: str) -> tuple[float, str]:
    return (1e6, "$M") if unit == "USD" else (1.0, unit)


def index_bars(
    indices: pd.DataFrame,
    kpi: str,
    method: str,
    path: Path,
    labels: Mapping[str, str],
    units: Mapping[str, tuple[str, str]],
    title: str | None = None,
) -> Path:
    """Horizontal bars of the method's indices per parameter, with CI error bars.

    Args:
        indices: The tidy indices table.
        kpi: The KPI drawn.
        method: The method (sobol: S1 and ST side by side).
        path: PNG to write.
        labels: Parameter path -> short label.
        units: KPI -> (label, unit).
        title: The method's name in the title (default: :data:`METHOD_TITLES`'s).

    Returns:
        The path.
    """
    kinds = BARS[method]
    t = indices[(indices["kpi"] == kpi) & indices["index"].isin(kinds)]
    main = "ST" if "ST" in kinds else kinds[0]
    order = t[t["index"] == main].sort_values("value")["parameter"].tolist()
    d = len(order)
    fig, ax = plt.subplots(
        figsize=(9.5, 1.6 + 0.42 * d * max(1, len(kinds) * 0.7)), constrained_layout=True
    )
    height = 0.8 / len(kinds)
    ypos = np.arange(d)
    for i, kind in enumerate(kinds):
        sub = t[t["index"] == kind].set_index("parameter").reindex(order)
        offset = (i - (len(kinds) - 1) / 2) * height
        ax.barh(
            ypos + offset,
            sub["value"],
            height=height * 0.92,
            xerr=sub["ci"].fillna(0).to_numpy(),
            color=INDEX_COLOURS.get(kind, BLUE),
            ecolor="#333333",
            capsize=2.5,
            label=INDEX_NAMES.get(kind, kind),
        )
    ax.set_yticks(ypos, [labels.get(p, p) for p in order], fontsize=9)
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_xlabel(
        "index (share of the output's variance)"
        if method in ("sobol", "fast", "rbd_fast", "emulator")
        else "index (0 = no influence)"
    )
    n = int(t["n"].max()) if len(t) else 0
    conf = indices["conf_level"].iloc[0] if "conf_level" in indices and len(indices) else 0.95
    ax.set_title(
        f"{_title(kpi, units)}\n{title or METHOD_TITLES[method]} indices, N = {n}, "
        + (
            f"bars: {conf:.0%} bootstrap CI"
            if method != "emulator"
            else f"bars: {conf:.0%} CI (the fit's error and its lack of fit)"
        ),
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    return _save(fig, path)


def s2_heatmap(
    indices: pd.DataFrame,
    kpi: str,
    path: Path,
    labels: Mapping[str, str],
    units: Mapping[str, tuple[str, str]],
) -> Path:
    """Heatmap of Sobol second-order indices S2 (symmetric; CIs in ``indices.csv``).

    Args:
        indices: The tidy indices table.
        kpi: The KPI drawn.
        path: PNG to write.
        labels: Parameter path -> short label.
        units: KPI -> (label, unit).

    Returns:
        The path.
    """
    t = indices[(indices["kpi"] == kpi) & (indices["index"] == "S2")]
    names = list(
        dict.fromkeys(indices[(indices["kpi"] == kpi) & (indices["index"] == "ST")]["parameter"])
    )
    d = len(names)
    pos = {n: i for i, n in enumerate(names)}
    mat = np.full((d, d), np.nan)
    for r in t.itertuples():
        i, j = pos[r.parameter], pos[r.parameter2]
        mat[i, j] = mat[j, i] = r.value
    lim = max(0.05, float(np.nanmax(np.abs(mat))) if np.isfinite(mat).any() else 0.05)
    size = 2.5 + 0.5 * d
    fig, ax = plt.subplots(figsize=(size + 1.5, size), constrained_layout=True)
    im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
    short = [labels.get(n, n) for n in names]
    ax.set_xticks(range(d), short, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(d), short, fontsize=8)
    if d <= 16:
        for i in range(d):
            for j in range(d):
                if i != j and np.isfinite(mat[i, j]):
                    ax.text(
                        j,
                        i,
                        f"{mat[i, j]:.2f}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if abs(mat[i, j]) > 0.6 * lim else "black",
                    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="S2 (interaction share of variance)")
    n = int(t["n"].max()) if len(t) else 0
    ax.set_title(
        f"{_title(kpi, units)}\nSobol second-order indices, N = {n} (negative = estimation noise)",
        fontsize=10,
    )
    return _save(fig, path)


def morris_scatter(
    indices: pd.DataFrame,
    kpi: str,
    path: Path,
    labels: Mapping[str, str],
    units: Mapping[str, tuple[str, str]],
) -> Path:
    """Morris mu* (mean absolute elementary effect) against sigma, labelled.

    Lines sigma / mu* = 0.1, 0.5 and 1 separate linear, monotonic, almost
    monotonic and non-linear or interacting effects (Garcia Sanchez et al. 2014).

    Args:
        indices: The tidy indices table.
        kpi: The KPI drawn.
        path: PNG to write.
        labels: Parameter path -> short label.
        units: KPI -> (label, unit).

    Returns:
        The path.
    """
    t = indices[indices["kpi"] == kpi]
    mu = t[t["index"] == "mu_star"].set_index("parameter")
    sg = t[t["index"] == "sigma"].set_index("parameter").reindex(mu.index)
    factor, unit = _scale(units.get(kpi, (kpi, ""))[1])
    x, y = mu["value"] / factor, sg["value"] / factor
    fig, (ax, lx) = plt.subplots(
        1, 2, figsize=(13, 7), constrained_layout=True, gridspec_kw={"width_ratios": [2.2, 1]}
    )
    ax.errorbar(
        x,
        y,
        xerr=mu["ci"].fillna(0) / factor,
        fmt="o",
        color=BLUE,
        ecolor="#999999",
        capsize=2.5,
        ms=6,
    )
    top = (
        max(float(np.nanmax(x)) if len(x) else 1.0, float(np.nanmax(y)) if len(y) else 1.0, 1e-12)
        * 1.1
    )
    for ratio, style in ((0.1, ":"), (0.5, "--"), (1.0, "-")):
        ax.plot([0, top], [0, top * ratio], color="#777777", lw=0.8, ls=style)
        ax.annotate(
            f"sigma/mu* = {ratio:g}",
            (top, min(top * ratio, top)),
            fontsize=7,
            color="#555555",
            ha="right",
            va="bottom",
        )
    ranked = list(x.sort_values(ascending=False).index)
    lines = []
    for rank, p in enumerate(ranked, 1):  # numbers on the chart, names in the list beside it
        ax.annotate(
            str(rank),
            (x[p], y[p]),
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold" if rank <= 3 else "normal",
        )
        lines.append(f"{rank:>2}. {labels.get(p, p)[:34]:<34} {x[p]:>8.3g} {y[p]:>8.3g}")
    u = f" ({unit})" if unit else ""
    lx.axis("off")
    lx.text(
        0,
        1,
        f"{'':>4}{'parameter':<34} {'mu*':>8} {'sigma':>8}\n" + "\n".join(lines),
        va="top",
        ha="left",
        family="monospace",
        fontsize=7.5,
        transform=lx.transAxes,
    )
    lx.set_title(f"ranked by mu*{u}", fontsize=9)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(f"mu*: mean |elementary effect| over a step of the range{u}")
    ax.set_ylabel(f"sigma: spread of the elementary effects{u}")
    n = int(mu["n"].max()) if len(mu) else 0
    ax.set_title(
        f"{_title(kpi, units)}\nMorris screening, {n} trajectories; bars: mu* CI", fontsize=10
    )
    ax.grid(alpha=0.3)
    return _save(fig, path)


def convergence_chart(
    conv: pd.DataFrame,
    kpi: str,
    method: str,
    path: Path,
    labels: Mapping[str, str],
    units: Mapping[str, tuple[str, str]],
) -> Path:
    """Each index at N/2 and at N with its CI, side by side; unsettled ones marked.

    Args:
        conv: The convergence table.
        kpi: The KPI drawn.
        method: The method.
        path: PNG to write.
        labels: Parameter path -> short label.
        units: KPI -> (label, unit).

    Returns:
        The path.
    """
    t = conv[conv["kpi"] == kpi]
    kinds = list(dict.fromkeys(t["index"]))
    main = kinds[-1] if "ST" in kinds else kinds[0]
    order = t[t["index"] == main].sort_values("value")["parameter"].tolist()
    d = len(order)
    factor, unit = _scale(units.get(kpi, (kpi, ""))[1]) if method == "morris" else (1.0, "")
    fig, axes = plt.subplots(
        1,
        len(kinds),
        figsize=(5.2 * len(kinds) + 2.5, 1.6 + 0.42 * d),
        constrained_layout=True,
        sharey=True,
        squeeze=False,
    )
    ypos = np.arange(d)
    for ax, kind in zip(axes[0], kinds, strict=True):
        sub = t[t["index"] == kind].set_index("parameter").reindex(order)
        n_half, n = int(sub["n_half"].max()), int(sub["n"].max())
        ax.errorbar(
            sub["value_half"] / factor,
            ypos + 0.15,
            xerr=sub["ci_half"].fillna(0) / factor,
            fmt="o",
            color=SKY,
            ecolor=SKY,
            capsize=2,
            label=f"N/2 = {n_half}",
        )
        ax.errorbar(
            sub["value"] / factor,
            ypos - 0.15,
            xerr=sub["ci"].fillna(0) / factor,
            fmt="s",
            color=BLUE,
            ecolor=BLUE,
            capsize=2,
            label=f"N = {n}",
        )
        bad = ~sub["settled"].astype(bool).to_numpy()
        if bad.any():
            ax.scatter(
                (sub["value"] / factor).to_numpy()[bad],
                ypos[bad] - 0.15,
                s=120,
                facecolors="none",
                edgecolors=VERMILION,
                lw=1.5,
                label="moved more than its CI",
            )
        ax.axvline(0, color="#555555", lw=0.8)
        ax.set_title(INDEX_NAMES.get(kind, kind) + (f" ({unit})" if unit else ""), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_yticks(ypos, [labels.get(p, p) for p in order], fontsize=9)
    fig.suptitle(
        f"Convergence: {_title(kpi, units)}, {METHOD_TITLES[method]} indices at N/2 "
        "and N (bars: CI)",
        fontsize=10,
    )
    return _save(fig, path)


def draw_all(
    folder: Path,
    method: str,
    t: pd.DataFrame,
    conv: pd.DataFrame,
    labels: Mapping[str, str],
    units: Mapping[str, tuple[str, str]],
    titles: Mapping[str, str] | None = None,
) -> list[Path]:
    """Every chart of a sensitivity analysis, one set per KPI, into its folder.

    Args:
        folder: The study folder.
        method: The method.
        t: The tidy indices table.
        conv: The convergence table.
        labels: Parameter path -> short label.
        units: KPI -> (label, unit).
        titles: KPI -> the method's name in its bar chart's title (the emulator's kind).

    Returns:
        The PNG files written.
    """
    out = []
    for kpi in dict.fromkeys(t["kpi"]):
        k = safe_name(kpi)
        if method == "morris":
            out.append(morris_scatter(t, kpi, folder / f"morris_{k}.png", labels, units))
        else:
            title = (titles or {}).get(kpi)
            path = folder / f"{method}_{k}.png"
            out.append(index_bars(t, kpi, method, path, labels, units, title))
        if method in ("sobol", "emulator") and ((t["kpi"] == kpi) & (t["index"] == "S2")).any():
            out.append(s2_heatmap(t, kpi, folder / f"s2_{k}.png", labels, units))
        if len(conv) and (conv["kpi"] == kpi).any():
            out.append(
                convergence_chart(conv, kpi, method, folder / f"convergence_{k}.png", labels, units)
            )
    return out
