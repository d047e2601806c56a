"""What every chart shares: the Agg backend, the colours and saving figures atomically.

The layers above (sensitivity, discovery, workshop) draw their own charts; they
share only this module. Colours are Okabe-Ito (colour-blind safe): one per
scenario, stable across charts (:func:`colours`), and the same named colours
everywhere.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments.engine.store import atomic  # noqa: E402

#: A colour per scenario, stable across charts (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
BLUE, VERMILION, GREEN, PURPLE, ORANGE, SKY = PALETTE[:6]
#: PNG for screens, SVG for slides, PDF for print.
FORMATS = ("png", "svg", "pdf")


def colours(names: list[str]) -> dict[str, str]:
    """Assign each scenario its colour, in order.

    Args:
        names: Scenario names.

    Returns:
        Name -> hex colour.
    """
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def save(fig: plt.Figure, base: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Save a figure as PNG (screens), SVG (slides) and PDF (print), then close it.

    Args:
        fig: The figure.
        base: Path without suffix.
        formats: Formats to write.

    Returns:
        The files written.
    """
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = base.with_suffix(f".{fmt}")
        atomic(path, lambda p, fmt=fmt: fig.savefig(p, format=fmt, dpi=110))
        paths.append(path)
    plt.close(fig)
    return paths


def save_png(fig: plt.Figure, path: Path) -> Path:
    """Write a figure as one PNG atomically and close it.

    Args:
        fig: The figure.
        path: The PNG.

    Returns:
        The path.
    """
    return save(fig, Path(path).with_suffix(""), ("png",))[0]
