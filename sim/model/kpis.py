"""KPIs of a run (MODEL.md, KPIs): money from the ledger, the rest from state and series.

Every money KPI is computed from ledger entries. Project-related flows carry
the project's id (program-level flows, PMO, framework fees and the property
tax uplift that services bring, carry id 0), so the city's fiscal NPV against
a no-project baseline is the discounted net of the city's flows on entries
with a project id, less the PV of general-recourse debt still owed at the
horizon. KPIs that are undefined by construction are given a stated value
(``time_to_scale_months`` is the horizon when nothing scaled;
``ppp_min_dscr`` is 0 without a PPP); any other non-finite KPI fails the run
(:class:`NonFiniteKPI`) rather than being hidden.

Every function here reads a :class:`~sim.model.record.RunRecord`, plain data
the model hands over at the end of a run, never the model itself.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.fields import RATINGS
from sim.instruments import ppp, tif
from sim.model import fiscal
from sim.model.record import RunRecord


class NonFiniteKPI(ValueError):
    """A KPI came out NaN or infinite: the run failed (the message names the KPIs)."""


def _discount(rate_annual: float, months: np.ndarray) -> np.ndarray:
    return (1 + rate_annual) ** (-months / 12.0)


def fiscal_npv(rec: RunRecord) -> float:
    """City fiscal NPV of the programme against doing nothing (all cities).

    The sum of :func:`sim.model.fiscal.components`: cash to the horizon, less
    the commitments after it, plus the benefits of assets still in service.

    Args:
        rec: The run's record.

    Returns:
        USD, discounted at ``world.macro.discount_rate_annual``.
    """
    return float(sum(fiscal.components(rec).values()))


def net_of(rec: RunRecord, stakeholder: str) -> float:
    """Undiscounted net cash a stakeholder group gained from the programme (tagged flows).

    Args:
        rec: The run's record.
        stakeholder: A ledger stakeholder label (``city``, ``vendor``, ...).

    Returns:
        USD.
    """
    return _nets(rec, (stakeholder,))[stakeholder]


def _nets(rec: RunRecord, stakeholders: tuple[str, ...]) -> dict[str, float]:
    """:func:`net_of` for several stakeholder groups, reading the ledger once."""
    led = rec.ledger
    a = led.to_arrays()
    tagged = a["project"] >= 0
    out = {}
    for stakeholder in stakeholders:
        member = np.zeros(led.n_accounts, dtype=bool)
        member[led.accounts_where(stakeholder=stakeholder)] = True
        inflow = a["amount"][tagged & member[a["debit"]]].sum()
        outflow = a["amount"][tagged & member[a["credit"]]].sum()
        out[stakeholder] = float(inflow - outflow)
    return out


def stranded_debt(rec: RunRecord) -> float:
    """Debt service still scheduled after its project stopped or ended (USD, undiscounted).

    Args:
        rec: The run's record.

    Returns:
        USD.
    """
    total = 0.0
    by_id = {p.pid: p for p in rec.projects}
    for city in rec.cities:
        for d in city.debts:
            pr = by_id.get(d.project)
            if pr is not None and pr.end_month >= 0:
                i = max(0, pr.end_month - d.start + 1)
                total += float(d.payments[i:].sum())
    return total


def kpis(rec: RunRecord) -> dict[str, float]:
    """All KPIs of a finished run as a flat dict of floats.

    Args:
        rec: The run's record.

    Returns:
        KPI name -> value, in the order of :func:`sim.model.outputs.kpi_names`.

    Raises:
        NonFiniteKPI: When a KPI is NaN or infinite (the run failed).
    """
    parts = fiscal.components(rec)
    out = {
        **_budget(rec, parts),
        **_lifecycle(rec),
        **_flows(rec),
        **_instruments(rec),
        "trust_final": float(rec.series["trust_mean"][-1]),
        "ledger_imbalance_usd": float(abs(rec.ledger.balances().sum())),
        **_fiscal_parts(rec, parts),
        **_services(rec),
    }
    bad = sorted(k for k, v in out.items() if not math.isfinite(v))
    if bad:
        raise NonFiniteKPI(f"non-finite KPI(s): {', '.join(f'{k} = {out[k]}' for k in bad)}")
    return out


def _budget(rec: RunRecord, parts: dict[str, float]) -> dict[str, float]:
    """The city's finances: NPV, budget floor, debt burden, guarantees, rating."""
    s = rec.series
    names = [c.name for c in rec.cities]
    return {
        "fiscal_npv_usd": float(sum(parts.values())),
        "min_budget_balance_usd": float(min(s[f"{n}.general_fund"].min() for n in names)),
        "peak_debt_service_ratio": float(max(s[f"{n}.debt_service_ratio"].max() for n in names)),
        "contingent_liabilities_usd": float(sum(c.contingent for c in rec.cities)),
        "guarantee_calls_usd": float(sum(c.guarantee_calls for c in rec.cities)),
        "final_rating_index": float(max(c.rating_index for c in rec.cities)),
        "worst_rating_index": float(max(s[f"{n}.rating"].max() for n in names)),
        "rating_downgrades": float(
            sum(
                1
                for e in rec.events
                if e["event"] == "rating_change"
                and RATINGS.index(e["info"]["rating"]) > RATINGS.index(e["info"]["was"])
            )
        ),
    }


def _fiscal_parts(rec: RunRecord, parts: dict[str, float]) -> dict[str, float]:
    """The fiscal NPV's parts: cash to the horizon, after it, land value, exposure."""
    return {
        "fiscal_cash_to_horizon_usd": float(sum(parts[c] for c in fiscal.CASH_TO_HORIZON)),
        "commitments_after_horizon_usd": -parts["commitments_after_horizon"],
        "benefits_after_horizon_usd": parts["benefits_after_horizon"],
        "land_value_pv_usd": parts["land_value"],
        "contingent_exposure_usd": float(sum(c.exposure for c in rec.cities)),
        "debt_outstanding_usd": float(
            sum(
                d.outstanding(rec.horizon - 1)
                for c in rec.cities
                for d in c.debts
                if d.recourse != ppp.RECOURSE
            )
        ),
        **{f"npv.{c}": float(v) for c, v in parts.items()},
    }


def _lifecycle(rec: RunRecord) -> dict[str, float]:
    """Projects and pilots: how many, how fast, what stopping them cost."""
    ev = [e["event"] for e in rec.events]
    projects = rec.projects
    scaled = [p.scaled_month - p.pilot_start for p in projects if p.scaled_month >= 0]
    return {
        "time_to_scale_months": float(np.mean(scaled)) if scaled else float(rec.horizon),
        "projects_started": float(len(projects)),
        "pilots_started": float(ev.count("pilot_start")),
        "pilots_scaled": float(ev.count("pilot_scale")),
        "pilots_stopped": float(ev.count("pilot_stopped")),
        "projects_scaled": float(len(scaled)),
        "sunk_cost_stopped_usd": float(
            sum(p.capex_total for p in projects if p.state == "stopped")
        ),
        "stranded_debt_usd": stranded_debt(rec),
    }


def _flows(rec: RunRecord) -> dict[str, float]:
    """Outcomes and every stakeholder's net cash; exits, defaults, incidents, failures."""
    w = rec.scenario.world
    ev = [e["event"] for e in rec.events]
    net = _nets(rec, ("city", "resident", "vendor", "vehicle", "outside", "investor"))
    return {
        "savings_usd": float(rec.totals["savings_usd"]),
        "co2_avoided_t": float(rec.totals["kwh_saved"] / 1000 * w.macro.grid_emissions_t_per_mwh),
        "welfare_usd": float(rec.totals["welfare_usd"]),
        "service_cuts_usd": float(rec.totals["service_cuts_usd"]),
        "reserve_breach_months": float(rec.totals["reserve_breach_months"]),
        "distress_months": float(rec.totals["distress_months"]),
        "city_net_usd": net["city"],
        "residents_net_usd": net["resident"],
        "vendor_net_usd": net["vendor"],
        "vehicles_net_usd": net["vehicle"],
        "outside_net_usd": net["outside"],
        "investor_net_usd": net["investor"],
        "vendor_exits": float(ev.count("vendor_exit")),
        "defaults": float(ev.count("default")),
        "incidents": float(rec.incidents),
        "financing_failures": float(sum(c.financing_failures for c in rec.cities)),
    }


def _instruments(rec: RunRecord) -> dict[str, float]:
    """PPP cover and value for money, mini-bonds, the revolving fund, TIF."""
    dscr = [
        v
        for p in rec.projects
        for arr in p.arrangements
        if arr.instrument == ppp.NAME
        for v in [ppp.min_dscr(arr)]
        if np.isfinite(v)
    ]
    sales = [c.minibond_sale for c in rec.cities if c.minibond_sale is not None]
    d = rec.districts
    areas = [
        (
            c.tif_area,
            rec.av[c.index * d : (c.index + 1) * d],
            rec.av_trend[c.index * d : (c.index + 1) * d],
        )
        for c in rec.cities
        if c.tif_area is not None
    ]
    return {
        "ppp_min_dscr": float(min(dscr)) if dscr else 0.0,
        "ppp_value_for_money_usd": float(sum(rec.ppp_vfm)),
        "minibond_sold_usd": float(sum(s.amount_usd for s in sales)),
        "minibond_sellout_hours": float(min(s.sellout_hours for s in sales)) if sales else 0.0,
        "revolving_fund_final_usd": float(sum(c.revolving_balance for c in rec.cities)),
        "tif_but_for_share": tif.but_for(areas),
    }


def _services(rec: RunRecord) -> dict[str, float]:
    """Coverage by domain, adoption by service and income quintile, the adoption gap."""
    out: dict[str, float] = {}
    for domain in rec.scenario.world.technology:
        out[f"coverage.{domain}"] = float(rec.series[f"coverage.{domain}"][-1])
    gaps, quintiles = [], []
    for domain, (share, by_q) in rec.adoption.items():
        out[f"adoption.{domain}"] = float(share)
        for q, value in enumerate(by_q, start=1):
            out[f"adoption.{domain}.q{q}"] = float(value)
        if domain in rec.scenario.policy.domains:
            gaps.append(float(by_q[-1] - by_q[0]))
            quintiles.append(by_q)
    out["adoption_gap_top_bottom"] = float(np.mean(gaps)) if gaps else 0.0
    mean_q = np.mean(quintiles, axis=0) if quintiles else np.zeros(5)
    for q, share in enumerate(mean_q, start=1):
        out[f"adoption_q{q}"] = float(share)
    return out
