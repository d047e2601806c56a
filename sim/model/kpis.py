"""KPIs of a run (MODEL.md, KPIs): money from the ledger, the rest from state and series.

Every money KPI is computed from ledger entries. Project-related flows carry
the project's id (program-level flows, PMO, framework fees and the property
tax uplift that services bring, carry id 0), so the city's fiscal NPV against
a no-project baseline is the discounted net of the city's flows on entries
with a project id, less the PV of general-recourse debt still owed at the
horizon. KPIs that would be undefined are given a stated value instead of NaN
(``time_to_scale_months`` is the horizon when nothing scaled;
``ppp_min_dscr`` is 0 without a PPP), so outputs never hold NaN or inf.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.core.fields import RATINGS

if TYPE_CHECKING:
    from sim.model.model import AllianceModel


def _discount(rate_annual: float, months: np.ndarray) -> np.ndarray:
    return (1 + rate_annual) ** (-months / 12.0)


def fiscal_npv(model: AllianceModel) -> float:
    """City fiscal NPV of the programme against doing nothing (all cities).

    Args:
        model: A finished model.

    Returns:
        USD, discounted at ``world.macro.discount_rate_annual``.
    """
    a = model.ledger.to_arrays()
    city_accounts = set(model.ledger.accounts_where(stakeholder="city").tolist())
    is_city = np.zeros(model.ledger.n_accounts, dtype=bool)
    is_city[list(city_accounts)] = True
    tagged = a["project"] >= 0
    net = np.where(is_city[a["debit"]], a["amount"], 0.0) - np.where(
        is_city[a["credit"]], a["amount"], 0.0)
    rate = model.scenario.world.macro.discount_rate_annual
    pv = float(np.sum(net[tagged] * _discount(rate, a["step"][tagged].astype(float))))
    owed = sum(d.outstanding(model.horizon - 1) for c in model.cities for d in c.debts
               if d.recourse == "general")
    return pv - owed * float(_discount(rate, np.array([model.horizon]))[0])


def _net_of(model: AllianceModel, stakeholder: str) -> float:
    """Undiscounted net cash a stakeholder group gained from the programme (tagged flows)."""
    led = model.ledger
    a = led.to_arrays()
    ids = led.accounts_where(stakeholder=stakeholder)
    member = np.zeros(led.n_accounts, dtype=bool)
    member[ids] = True
    tagged = a["project"] >= 0
    inflow = a["amount"][tagged & member[a["debit"]]].sum()
    outflow = a["amount"][tagged & member[a["credit"]]].sum()
    return float(inflow - outflow)


def stranded_debt(model: AllianceModel) -> float:
    """Debt service still scheduled after its project stopped or ended (USD, undiscounted)."""
    total = 0.0
    by_id = model.project_by_id
    for city in model.cities:
        for d in city.debts:
            pr = by_id.get(d.project)
            if pr is not None and pr.end_month >= 0:
                i = max(0, pr.end_month - d.start + 1)
                total += float(d.payments[i:].sum())
    return total


def kpis(model: AllianceModel) -> dict[str, float]:
    """All KPIs of a finished run as a flat dict of floats.

    Args:
        model: A finished model.

    Returns:
        KPI name -> value (no NaN, no inf).
    """
    s = model.series.data
    w = model.scenario.world
    names = [c.name for c in model.cities]
    ev = [e["event"] for e in model.events]
    projects = model.projects
    scaled = [p.scaled_month - p.pilot_start for p in projects if p.scaled_month >= 0]
    out: dict[str, float] = {
        "fiscal_npv_usd": fiscal_npv(model),
        "min_budget_balance_usd": float(min(s[f"{n}.general_fund"].min() for n in names)),
        "peak_debt_service_ratio": float(max(s[f"{n}.debt_service_ratio"].max() for n in names)),
        "contingent_liabilities_usd": float(sum(c.contingent for c in model.cities)),
        "guarantee_calls_usd": float(sum(c.guarantee_calls for c in model.cities)),
        "final_rating_index": float(max(c.rating_index for c in model.cities)),
        "worst_rating_index": float(max(s[f"{n}.rating"].max() for n in names)),
        "rating_downgrades": float(sum(1 for e in model.events if e["event"] == "rating_change"
                                       and RATINGS.index(e["info"]["rating"])
                                       > RATINGS.index(e["info"]["was"]))),
        "time_to_scale_months": float(np.mean(scaled)) if scaled else float(model.horizon),
        "projects_started": float(len(projects)),
        "pilots_started": float(ev.count("pilot_start")),
        "pilots_scaled": float(ev.count("pilot_scale")),
        "pilots_stopped": float(ev.count("pilot_stopped")),
        "projects_scaled": float(len(scaled)),
        "sunk_cost_stopped_usd": float(sum(p.capex_total for p in projects
                                           if p.state == "stopped")),
        "stranded_debt_usd": stranded_debt(model),
        "savings_usd": float(model.savings_usd),
        "co2_avoided_t": float(model.kwh_saved / 1000 * w.macro.grid_emissions_t_per_mwh),
        "welfare_usd": float(model.welfare_usd),
        "city_net_usd": _net_of(model, "city"),
        "residents_net_usd": _net_of(model, "resident"),
        "vendor_net_usd": _net_of(model, "vendor"),
        "vehicles_net_usd": _net_of(model, "vehicle"),
        "outside_net_usd": _net_of(model, "outside"),
        "investor_net_usd": _net_of(model, "investor"),
        "vendor_exits": float(ev.count("vendor_exit")),
        "defaults": float(ev.count("default")),
        "incidents": float(model.regulator.incidents),
        "financing_failures": float(sum(c.financing_failures for c in model.cities)),
        "ppp_min_dscr": _ppp_min_dscr(model),
        "ppp_value_for_money_usd": float(sum(model.ppp_vfm)),
        "minibond_sold_usd": float(sum(c.minibond_sale.amount_usd for c in model.cities
                                       if c.minibond_sale is not None)),
        "minibond_sellout_hours": _sellout(model),
        "revolving_fund_final_usd": float(sum(model.ledger.balance(c.revolving)
                                              for c in model.cities)),
        "tif_but_for_share": _but_for(model),
        "trust_final": float(s["trust_mean"][-1]),
        "ledger_imbalance_usd": float(abs(model.ledger.balances().sum())),
    }
    for domain in w.technology:
        out[f"coverage.{domain}"] = float(s[f"coverage.{domain}"][-1])
    gaps, quintiles = [], []
    for i, domain in enumerate(model.services):
        by_q = model.population.adoption_by_quintile(i)
        out[f"adoption.{domain}"] = float(model.population.adoption_share(i))
        for q, share in enumerate(by_q, start=1):
            out[f"adoption.{domain}.q{q}"] = float(share)
        if domain in model.scenario.policy.domains:
            gaps.append(float(by_q[-1] - by_q[0]))
            quintiles.append(by_q)
    out["adoption_gap_top_bottom"] = float(np.mean(gaps)) if gaps else 0.0
    mean_q = np.mean(quintiles, axis=0) if quintiles else np.zeros(5)
    for q, share in enumerate(mean_q, start=1):
        out[f"adoption_q{q}"] = float(share)
    return {k: float(np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0)) for k, v in out.items()}


def _ppp_min_dscr(model: AllianceModel) -> float:
    values = [arr.min_dscr for p in model.projects for arr in p.arrangements
              if arr.instrument == "ppp" and np.isfinite(arr.min_dscr)]
    return float(min(values)) if values else 0.0


def _sellout(model: AllianceModel) -> float:
    sales = [c.minibond_sale for c in model.cities if c.minibond_sale is not None]
    return float(min(s.sellout_hours for s in sales)) if sales else 0.0


def _but_for(model: AllianceModel) -> float:
    num = den = 0.0
    for c in model.cities:
        if c.tif_base is None:
            continue
        k = c.tif_base.size
        lo = c.index * model.districts
        num += float(np.sum(model.av_trend[lo:lo + k] - c.tif_base))
        den += float(np.sum(model.av[lo:lo + k] - c.tif_base))
    return float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0
