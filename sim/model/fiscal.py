"""The city's fiscal NPV, horizon-consistent and instrument-neutral, taken apart by component.

In the spirit of the IMF/World Bank PFRAM (long-term commitments are fiscal
liabilities, whatever the instrument), the fiscal NPV against a no-project
baseline is

    PV(programme cash to the horizon)
    - PV(obligations the city still carries after the horizon)
    + PV(net benefits of assets still in service, to their end of life)

with one rule for every design, all discounted at the city's discount rate
(``world.macro.discount_rate_annual``) to month 0. The parts:

- *Cash to the horizon*: every ledger entry with a project id (programme-level
  flows carry id 0) that moves money in or out of a city account (general,
  revolving, TIF and project funds), by flow kind: savings (and savings
  penalties), revenue (user fees, advertising), land value (the property-tax
  uplift services bring), capex, operations (O&M), service fees (as-a-service
  fees, PPP availability payments), financing (proceeds, debt service, loans,
  mini-bonds), guarantee calls, procurement (framework fees), governance (the
  PMO); flows of a project during its pilot form their own component, pilots.
- *Commitments after the horizon*: scheduled payments of every debt the city's
  funds owe (general, project and TIF recourse: the pledged revenues that pay
  the last two are city money too), as-a-service fees and an end-of-term
  purchase, PPP availability payments to the end of their terms, capex
  retentions still due, and the expected calls of guarantees still running.
- *Benefits after the horizon*: for each project still deployed, the city's
  monthly cash benefits less the O&M it pays, as observed over the last twelve
  months, until the equipment's end of life; when a partner's term ends first,
  the city takes the whole cash and pays the O&M from then on.

The components add up to the fiscal NPV exactly, so any difference between two
designs can be taken apart into the flows that make it.
"""

from __future__ import annotations

import numpy as np

from sim.instruments import guarantees, ppp, vendor_finance
from sim.instruments.base import NO_TERM, PROGRAM
from sim.mechanisms.lifecycle import DEPLOYED, Project
from sim.model.record import RunRecord

#: Flow kind -> component (programme-level O&M, the PMO, is governance).
KIND_COMPONENT = {
    "savings": "savings",
    "penalty": "savings",
    "user_fee": "revenue",
    "concession_fee": "revenue",
    "advertising": "revenue",
    "tax_uplift": "land_value",
    "tif_uplift": "land_value",
    "capex": "capex",
    "opex": "operations",
    "service_fee": "service_fees",
    "availability_payment": "service_fees",
    "bond_proceeds": "financing",
    "debt_service": "financing",
    "loan": "financing",
    "loan_repayment": "financing",
    "mini_bond_sale": "financing",
    "mini_bond_redemption": "financing",
    "guarantee_call": "guarantees",
    "transition": "operations",
    "member_fee": "procurement",
}
CASH_TO_HORIZON = (
    "savings",
    "revenue",
    "land_value",
    "capex",
    "operations",
    "service_fees",
    "financing",
    "guarantees",
    "pilots",
    "procurement",
    "governance",
    "other",
)
AFTER_HORIZON = ("commitments_after_horizon", "benefits_after_horizon")
#: Every component, in report order; they sum to the fiscal NPV.
COMPONENTS = CASH_TO_HORIZON + AFTER_HORIZON
BENEFIT_KINDS = ("savings", "user_fee", "advertising")
#: Months of recent operation the after-horizon benefits are extrapolated from.
RECENT_MONTHS = 12


def components(rec: RunRecord) -> dict[str, float]:
    """The fiscal NPV by component (USD, PV at month 0); the values sum to the NPV.

    Args:
        rec: The run's record.

    Returns:
        Component -> PV, for every name in :data:`COMPONENTS`.
    """
    ledger = _Flows(rec)
    out = dict.fromkeys(COMPONENTS, 0.0)
    out.update(ledger.cash_by_component(rec.projects))
    out["commitments_after_horizon"] = -commitments_after_horizon(rec, ledger)
    out["benefits_after_horizon"] = benefits_after_horizon(rec, ledger)
    return out


class _Flows:
    """The tagged entries that touch the city's accounts, as arrays (kinds as ledger codes)."""

    def __init__(self, rec: RunRecord) -> None:
        led = rec.ledger
        a = led.to_arrays()
        is_city = np.zeros(led.n_accounts, dtype=bool)
        is_city[led.accounts_where(stakeholder="city")] = True
        tagged = a["project"] >= 0
        into, out_of = is_city[a["debit"]], is_city[a["credit"]]
        keep = tagged & (into != out_of)
        self.step = a["step"][keep]
        self.project = a["project"][keep]
        self.kind = a["kind"][keep]
        code = {name: i for i, name in enumerate(led.kinds)}
        self.opex = code.get("opex", -1)
        self.city_kinds = [
            code[k] for k in (*BENEFIT_KINDS, "penalty", "concession_fee") if k in code
        ]
        # component of each kind code, as a position in CASH_TO_HORIZON
        self.component = np.array(
            [CASH_TO_HORIZON.index(KIND_COMPONENT.get(k, "other")) for k in led.kinds]
        )
        self.net = np.where(into[keep], a["amount"][keep], -a["amount"][keep])
        # gross cash benefits of each project, whoever received them
        gross = tagged & np.isin(a["kind"], [led.kind_id(k) for k in BENEFIT_KINDS])
        self.gross_step, self.gross_project = a["step"][gross], a["project"][gross]
        self.gross_amount = a["amount"][gross]
        self.rate = rec.scenario.world.macro.discount_rate_annual
        self.last = rec.horizon - 1

    def discount(self, months: np.ndarray) -> np.ndarray:
        return (1 + self.rate) ** (-np.asarray(months, dtype=float) / 12.0)

    def cash_by_component(self, projects: list[Project]) -> dict[str, float]:
        """PV of the city's tagged cash to the horizon, by component."""
        comp = self.component[self.kind]
        comp[(self.kind == self.opex) & (self.project == PROGRAM)] = CASH_TO_HORIZON.index(
            "governance"
        )
        for pr in projects:
            if pr.pilot_start >= 0 and pr.pilot_end > pr.pilot_start:
                inside = (self.project == pr.pid) & (self.step >= pr.pilot_start)
                comp[inside & (self.step < pr.pilot_end)] = CASH_TO_HORIZON.index("pilots")
        pv = self.net * self.discount(self.step)
        return {c: float(pv[comp == i].sum()) for i, c in enumerate(CASH_TO_HORIZON)}

    def recent(self, pr: Project) -> tuple[float, float, float]:
        """Monthly means over the recent months: city benefits, city O&M, gross cash."""
        first = max(self.last - RECENT_MONTHS + 1, pr.deploy_start, 0)
        months = self.last - first + 1
        if months <= 0:
            return 0.0, 0.0, 0.0
        mine = (self.project == pr.pid) & (self.step >= first)
        benefits = self.net[mine & np.isin(self.kind, self.city_kinds)].sum()
        om = -self.net[mine & (self.kind == self.opex)].sum()
        gross = self.gross_amount[(self.gross_project == pr.pid) & (self.gross_step >= first)].sum()
        return benefits / months, om / months, gross / months


def _pv_after(rate: float, last: int, months: np.ndarray, amounts: np.ndarray) -> float:
    """PV at month 0 of amounts falling in months after ``last``."""
    later = months > last
    return float(np.sum(amounts[later] * (1 + rate) ** (-months[later] / 12.0)))


def commitments_after_horizon(rec: RunRecord, flows: _Flows | None = None) -> float:
    """PV of what the city's funds still owe after the last simulated month.

    Args:
        rec: The run's record.
        flows: The run's city flows (built from the record when not given).

    Returns:
        USD (positive: an obligation).
    """
    rate = rec.scenario.world.macro.discount_rate_annual
    last = rec.horizon - 1
    total = 0.0
    for city in rec.cities:
        for d in city.debts:  # every recourse the city's funds carry (a vehicle's is not)
            if d.recourse != ppp.RECOURSE:
                months = d.start + np.arange(len(d.payments))
                total += _pv_after(rate, last, months, d.payments)
        for _, start, end, monthly in city.retentions:
            months = np.arange(max(start, last + 1), end)
            total += _pv_after(rate, last, months, np.full(months.size, monthly))
    flows = flows or _Flows(rec)
    for pr in rec.projects:
        total += _contract_payments(rec, pr, flows)
    return total


def _contract_payments(rec: RunRecord, pr: Project, flows: _Flows) -> float:
    """PV of a project's fees, availability payments and guarantee calls after the horizon."""
    if not pr.arrangements or pr.state not in DEPLOYED or pr.units <= 0:
        return 0.0
    arr, rate, last = pr.arrangements[0], flows.rate, flows.last
    total = 0.0
    life_end = pr.deploy_start + int(pr.tech.lifetime_years * 12)
    months = np.arange(last + 1, max(min(arr.term_end, life_end), last + 1))
    paid_to_vehicle = arr.owner == "vehicle"  # availability: the vehicle, whoever runs it
    if arr.fee_per_unit_month > 0 and (paid_to_vehicle or pr.live_vendors()):
        fee = np.full(months.size, arr.fee_per_unit_month * pr.units)
        total += _pv_after(rate, last, months, fee)  # as-a-service fee or availability
    terms = rec.scenario.policy.financing.vendor
    if (
        arr.instrument == vendor_finance.SERVICE
        and arr.owner == "vendor"
        and terms.end_of_term == "purchase"
        and last < arr.term_end < NO_TERM
        and pr.live_vendors()
    ):
        price = vendor_finance.purchase_price(pr, arr.term_end, pr.deploy_start)
        total += _pv_after(rate, last, np.array([arr.term_end]), np.array([price]))
    if arr.guarantee_floor_month > 0 and arr.guarantee_end > last + 1:
        held = np.arange(last + 1, min(arr.guarantee_end, life_end))
        call = guarantees.expected_call(arr.guarantee_floor_month, flows.recent(pr)[2])
        total += _pv_after(rate, last, held, np.full(held.size, call))
    return total


def benefits_after_horizon(rec: RunRecord, flows: _Flows | None = None) -> float:
    """PV of the city's net benefits from assets still in service, to their end of life.

    Args:
        rec: The run's record.
        flows: The run's city flows (built from the record when not given).

    Returns:
        USD.
    """
    flows = flows or _Flows(rec)
    margin = rec.scenario.world.vendors.margin
    last = rec.horizon - 1
    total = 0.0
    for pr in rec.projects:
        if pr.state not in DEPLOYED or pr.units <= 0 or pr.deploy_start < 0:
            continue
        life_end = pr.deploy_start + int(pr.tech.lifetime_years * 12)
        months = np.arange(last + 1, max(life_end, last + 1))
        if months.size == 0:
            continue
        benefits, om, gross = flows.recent(pr)
        term_end = pr.arrangements[0].term_end if pr.arrangements else NO_TERM
        own_om = pr.units * pr.tech.opex_per_unit_month_usd * (1 + margin)
        net = np.where(months < term_end, benefits - om, gross - own_om)
        total += _pv_after(flows.rate, last, months, net)
    return total
