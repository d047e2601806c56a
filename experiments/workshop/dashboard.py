"""The dashboard of ``alliance run``: six panels a council can read, one colour per scenario."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from experiments.engine.plots import colours, plt

if TYPE_CHECKING:
    from sim.model.api import RunResult


def project_cash(result: RunResult) -> np.ndarray:
    """Cumulative net cash the city's projects brought its funds, by month (USD).

    Args:
        result: A run.

    Returns:
        Cumulative sum over months of the city's net flows on project-tagged entries.
    """
    led = result.ledger
    months = len(result.timeseries)
    a = led.to_arrays()
    city = np.zeros(led.n_accounts, dtype=bool)
    city[led.accounts_where(stakeholder="city")] = True
    tagged = a["project"] >= 0
    net = np.where(city[a["debit"]], a["amount"], 0.0) - np.where(
        city[a["credit"]], a["amount"], 0.0
    )
    by_month = np.bincount(a["step"][tagged], weights=net[tagged], minlength=months)[:months]
    return np.cumsum(by_month)


def dashboard(results: Mapping[str, RunResult], path: Path) -> Path:
    """Six panels a council can read, one colour per scenario.

    City general fund, debt-service ratio against the cap, cumulative net
    cash of the projects, average coverage over time, service delivered by
    domain, and adoption of user-facing services by income quintile.

    Args:
        results: Scenario name -> run result (one or several, on the same seed).
        path: PNG file to write.

    Returns:
        The path written.
    """
    names = list(results)
    col = colours(names)
    fig, axes = plt.subplots(2, 3, figsize=(17, 9), constrained_layout=True)
    ax_bal, ax_dsr, ax_cash, ax_cov, ax_dom, ax_adopt = axes.ravel()
    for name, res in results.items():
        ts = res.timeseries
        years = ts.index.to_numpy() / 12
        cities = list(res.scenario.world.cities)
        fund = sum(ts[f"{c}.general_fund"] for c in cities) / 1e6
        ax_bal.plot(years, fund, color=col[name], lw=2, label=name)
        dsr = np.max([ts[f"{c}.debt_service_ratio"] for c in cities], axis=0) * 100
        ax_dsr.plot(years, dsr, color=col[name], lw=2, label=name)
        ax_cash.plot(years, project_cash(res) / 1e6, color=col[name], lw=2, label=name)
        domains = res.scenario.policy.domains
        mean_cov = np.mean([ts[f"coverage.{d}"] for d in domains], axis=0) * 100
        ax_cov.plot(years, mean_cov, color=col[name], lw=2, label=name)
    cap = max(r.scenario.policy.financing.debt_cap_share for r in results.values()) * 100
    ax_dsr.axhline(cap, color="grey", ls="--", lw=1)
    ax_dsr.text(
        0.01,
        cap,
        " debt-service cap",
        va="bottom",
        color="grey",
        fontsize=9,
        transform=ax_dsr.get_yaxis_transform(),
    )
    ax_cash.axhline(0, color="grey", lw=0.8)
    _domains(ax_dom, results, col)
    _adoption(ax_adopt, results, col)
    ax_bal.set(title="City general fund", xlabel="year", ylabel="balance (USD million)")
    ax_dsr.set(title="Debt service / general revenue", xlabel="year", ylabel="%", ylim=(0, None))
    ax_cash.set(
        title="Projects' cumulative net cash to the city",
        xlabel="year",
        ylabel="USD million (undiscounted)",
    )
    ax_cov.set(
        title="Average coverage of the domains pursued",
        xlabel="year",
        ylabel="% of target units",
        ylim=(-3, 103),
    )
    for ax in (ax_bal, ax_dsr, ax_cash, ax_cov):
        ax.legend(frameon=False)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    seed = next(iter(results.values())).seed
    fig.suptitle(f"alliance-sim: {' vs '.join(names)} (seed {seed})", fontsize=15)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _domains(ax: plt.Axes, results: Mapping[str, RunResult], col: dict[str, str]) -> None:
    """Share of the horizon each domain delivered service (mean coverage over time)."""
    domains: list[str] = []
    for res in results.values():
        domains += [d for d in res.scenario.policy.domains if d not in domains]
    width = 0.8 / max(len(results), 1)
    x = np.arange(len(domains))
    for j, (name, res) in enumerate(results.items()):
        values = [res.timeseries[f"coverage.{d}"].mean() * 100 for d in domains]
        ax.bar(
            x + (j - (len(results) - 1) / 2) * width,
            values,
            width=width,
            color=col[name],
            label=name,
        )
    ax.set(
        title="Service delivered by domain (mean coverage over the run)",
        ylabel="% of target units x time",
        xticks=x,
        ylim=(0, 100),
    )
    ax.set_xticklabels(domains, rotation=20)
    ax.legend(frameon=False)


def _adoption(ax: plt.Axes, results: Mapping[str, RunResult], col: dict[str, str]) -> None:
    """Final adoption of user-facing services by income quintile, bars per scenario."""
    width = 0.8 / max(len(results), 1)
    quintiles = np.arange(1, 6)
    shown = False
    for j, (name, res) in enumerate(results.items()):
        services = [d for d in res.scenario.policy.domains if f"adoption.{d}.q1" in res.timeseries]
        if not services:
            continue
        shares = (
            np.mean(
                [
                    [res.timeseries[f"adoption.{d}.q{q}"].iloc[-1] for q in quintiles]
                    for d in services
                ],
                axis=0,
            )
            * 100
        )
        ax.bar(
            quintiles + (j - (len(results) - 1) / 2) * width,
            shares,
            width=width,
            color=col[name],
            label=name,
        )
        shown = True
    ax.set(
        title="Adoption of user-facing services (final month)",
        xlabel="income quintile (1 = poorest)",
        ylabel="% of residents",
        xticks=quintiles,
    )
    if shown:  # above the bars, so it covers none of them
        top = max((b.get_height() for b in ax.patches), default=1.0)
        ax.set_ylim(0, top * 1.3 + 1e-9)
        ax.legend(frameon=False, loc="upper left", ncols=len(results))
    else:
        ax.text(
            0.5,
            0.5,
            "no user-facing service pursued",
            ha="center",
            transform=ax.transAxes,
            color="grey",
        )
