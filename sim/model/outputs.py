"""The model's declared outputs: every KPI's name, label, unit and direction.

:func:`kpi_names` lists the KPIs a run of a scenario returns without running it
(the experiment engine checks specs against it); :data:`KPI_INFO` and
:data:`STAKEHOLDERS` describe them for tables and charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.model.fiscal import COMPONENTS

if TYPE_CHECKING:
    from sim.config.schema import Scenario

#: KPIs every run returns, in order (per-domain and per-service KPIs follow).
FIXED_KPIS = (
    "fiscal_npv_usd",
    "min_budget_balance_usd",
    "peak_debt_service_ratio",
    "contingent_liabilities_usd",
    "guarantee_calls_usd",
    "final_rating_index",
    "worst_rating_index",
    "rating_downgrades",
    "time_to_scale_months",
    "projects_started",
    "pilots_started",
    "pilots_scaled",
    "pilots_stopped",
    "projects_scaled",
    "sunk_cost_stopped_usd",
    "stranded_debt_usd",
    "savings_usd",
    "co2_avoided_t",
    "welfare_usd",
    "service_cuts_usd",
    "reserve_breach_months",
    "distress_months",
    "city_net_usd",
    "residents_net_usd",
    "vendor_net_usd",
    "vehicles_net_usd",
    "outside_net_usd",
    "investor_net_usd",
    "vendor_exits",
    "defaults",
    "incidents",
    "financing_failures",
    "ppp_min_dscr",
    "ppp_value_for_money_usd",
    "minibond_sold_usd",
    "minibond_sellout_hours",
    "revolving_fund_final_usd",
    "tif_but_for_share",
    "trust_final",
    "ledger_imbalance_usd",
    "fiscal_cash_to_horizon_usd",
    "commitments_after_horizon_usd",
    "benefits_after_horizon_usd",
    "land_value_pv_usd",
    "contingent_exposure_usd",
    "debt_outstanding_usd",
    *(f"npv.{c}" for c in COMPONENTS),
)
N_QUINTILES = 5


def kpi_names(scenario: Scenario) -> list[str]:
    """Names of the KPIs a run of ``scenario`` returns, in order, without running it.

    Args:
        scenario: A validated scenario.

    Returns:
        The fixed KPIs, ``coverage.<domain>`` for every domain of the catalogue,
        ``adoption.<service>`` and its quintiles for every user-facing service,
        the adoption gap and the mean adoption per quintile.
    """
    tech = scenario.world.technology
    names = list(FIXED_KPIS) + [f"coverage.{d}" for d in tech]
    for d, t in tech.items():
        if t.user_facing:
            names += [f"adoption.{d}"] + [f"adoption.{d}.q{q}" for q in range(1, 6)]
    names.append("adoption_gap_top_bottom")
    names += [f"adoption_q{q}" for q in range(1, N_QUINTILES + 1)]
    return names


#: Plain words for the fiscal NPV's components (:data:`sim.model.fiscal.COMPONENTS`).
COMPONENT_LABELS = {
    "savings": "energy and water savings",
    "revenue": "user fees and advertising",
    "land_value": "land-value uplift (property tax)",
    "capex": "equipment (capex)",
    "operations": "operation and maintenance",
    "service_fees": "service fees and availability payments",
    "financing": "borrowing and debt service",
    "guarantees": "guarantee calls",
    "pilots": "pilots",
    "procurement": "procurement (framework fees)",
    "governance": "governance (PMO)",
    "other": "other programme flows",
    "commitments_after_horizon": "commitments after the horizon",
    "benefits_after_horizon": "benefits after the horizon",
}

#: KPI -> (label, unit, direction): +1 when more is better, -1 when less is, 0 neutral.
KPI_INFO: dict[str, tuple[str, str, int]] = {
    "fiscal_npv_usd": ("City fiscal NPV vs no projects", "USD", 1),
    "min_budget_balance_usd": ("Lowest general-fund balance", "USD", 1),
    "peak_debt_service_ratio": ("Peak debt service / revenue", "fraction", -1),
    "contingent_liabilities_usd": ("Guarantees: expected cost", "USD", -1),
    "guarantee_calls_usd": ("Guarantee calls paid", "USD", -1),
    "final_rating_index": ("Final rating (0 = AAA)", "notch", -1),
    "worst_rating_index": ("Worst rating (0 = AAA)", "notch", -1),
    "rating_downgrades": ("Rating downgrades", "count", -1),
    "time_to_scale_months": ("Time to scale (pilot start to 50 %)", "months", -1),
    "projects_started": ("Projects started", "count", 0),
    "pilots_started": ("Pilots started", "count", 0),
    "pilots_scaled": ("Pilots scaled", "count", 0),
    "pilots_stopped": ("Pilots stopped", "count", 0),
    "projects_scaled": ("Projects scaled", "count", 1),
    "sunk_cost_stopped_usd": ("Sunk cost of stopped pilots", "USD", -1),
    "stranded_debt_usd": ("Stranded debt (after equipment stops)", "USD", -1),
    "savings_usd": ("Energy and water savings", "USD", 1),
    "co2_avoided_t": ("CO2 avoided", "t", 1),
    "welfare_usd": ("Resident welfare (time saved, service value)", "USD", 1),
    "service_cuts_usd": ("Services cut under the budget rule's reserve floor", "USD", -1),
    "reserve_breach_months": ("City-months below the reserve floor", "months", -1),
    "distress_months": ("City-months in distress (general fund below 0)", "months", -1),
    "city_net_usd": ("City's net cash from the programme (undiscounted)", "USD", 1),
    "residents_net_usd": ("Residents' net cash (fees, taxes on uplift, bonds)", "USD", 0),
    "vendor_net_usd": ("Vendors' net cash from projects", "USD", 0),
    "vehicles_net_usd": ("PPP vehicles' net cash", "USD", 0),
    "outside_net_usd": ("Outside world's net cash (utility, market, ...)", "USD", 0),
    "investor_net_usd": ("Investors' net cash from projects", "USD", 0),
    "vendor_exits": ("Vendor exits", "count", -1),
    "defaults": ("Defaults (revenue-backed debt)", "count", -1),
    "incidents": ("Public incidents", "count", -1),
    "financing_failures": ("Tranches that found no finance", "count", -1),
    "ppp_min_dscr": ("Lowest PPP DSCR (0 = no PPP)", "x", 1),
    "ppp_value_for_money_usd": ("PPP value for money", "USD", 1),
    "minibond_sold_usd": ("Mini-bonds sold", "USD", 0),
    "minibond_sellout_hours": ("Mini-bond sell-out time (0 = none)", "hours", -1),
    "revolving_fund_final_usd": ("Revolving fund at the end", "USD", 1),
    "tif_but_for_share": ("TIF but-for share", "fraction", 0),
    "trust_final": ("Resident trust (final)", "fraction", 1),
    "ledger_imbalance_usd": ("Ledger imbalance (a check: balances' sum, ~0)", "USD", 0),
    "fiscal_cash_to_horizon_usd": ("Fiscal NPV: cash to the horizon", "USD", 1),
    "commitments_after_horizon_usd": ("Commitments after the horizon (PV)", "USD", -1),
    "benefits_after_horizon_usd": (
        "Benefits of assets in service after the horizon (PV)",
        "USD",
        1,
    ),
    "land_value_pv_usd": ("Fiscal NPV resting on land-value uplift", "USD", 0),
    "contingent_exposure_usd": ("Guarantees: most the city can be called for", "USD", -1),
    "debt_outstanding_usd": ("City funds' debt still owed at the horizon", "USD", -1),
    **{f"npv.{c}": (f"NPV part: {COMPONENT_LABELS[c]}", "USD", 1) for c in COMPONENTS},
    "adoption_gap_top_bottom": ("Adoption gap, top - bottom quintile", "fraction", -1),
    **{f"adoption_q{q}": (f"Adoption, income quintile {q}", "fraction", 1) for q in range(1, 6)},
}

#: Whose outcome a KPI measures, for stakeholder tables.
STAKEHOLDERS: dict[str, tuple[str, ...]] = {
    "city": (
        "fiscal_npv_usd",
        "fiscal_cash_to_horizon_usd",
        "commitments_after_horizon_usd",
        "benefits_after_horizon_usd",
        "land_value_pv_usd",
        "city_net_usd",
        "min_budget_balance_usd",
        "reserve_breach_months",
        "distress_months",
        "peak_debt_service_ratio",
        "contingent_liabilities_usd",
        "contingent_exposure_usd",
        "debt_outstanding_usd",
        "guarantee_calls_usd",
        "worst_rating_index",
        "rating_downgrades",
        "stranded_debt_usd",
        "sunk_cost_stopped_usd",
        "savings_usd",
        "co2_avoided_t",
        "time_to_scale_months",
        "projects_scaled",
        "financing_failures",
    ),
    "residents": (
        "welfare_usd",
        "service_cuts_usd",
        "residents_net_usd",
        "trust_final",
        "adoption_gap_top_bottom",
        *(f"adoption_q{q}" for q in range(1, 6)),
    ),
    "vendors": ("vendor_net_usd", "vendor_exits"),
    "investors": ("investor_net_usd", "defaults", "ppp_min_dscr"),
    "regulator": ("incidents",),
}


#: The KPIs a workshop decides on: the short scorecard (tables, charts, terminal).
SCORECARD = (
    "fiscal_npv_usd",
    "min_budget_balance_usd",
    "debt_outstanding_usd",
    "stranded_debt_usd",
    "savings_usd",
    "time_to_scale_months",
    "welfare_usd",
    "adoption_gap_top_bottom",
    "vendor_net_usd",
    "investor_net_usd",
)

#: Stakeholder groups of the money-flow KPIs, as people read them.
GROUP_LABELS = {
    "city": "city",
    "residents": "residents",
    "vendors": "vendors",
    "investors": "investors",
    "vehicles": "PPP vehicles",
    "outside": "outside world",
    "regulator": "regulator",
}

#: How a unit is shown: (multiplier, display unit, decimals, prefix).
_DISPLAY: dict[str, tuple[float, str, int, str]] = {
    "USD": (1e-6, "$M", 1, "$"),
    "fraction": (100.0, "%", 1, ""),
    "count": (1.0, "", 0, ""),
    "notch": (1.0, "", 0, ""),  # the label says what a notch is ("0 = AAA")
    "months": (1.0, "months", 1, ""),
    "hours": (1.0, "hours", 1, ""),
    "t": (1.0, "t", 0, ""),
    "x": (1.0, "x", 2, ""),
}


@dataclass(frozen=True)
class KPI:
    """A KPI as tables and charts show it: label, unit, direction, scale and format.

    The one place that says how a KPI's number reads: ``format`` for text,
    ``scale`` and ``display_unit`` (``axis_label``) for chart axes, so a chart
    and a table can never show the same number in two units.
    """

    name: str
    label: str
    unit: str
    direction: int  # +1 more is better, -1 less is better, 0 neither

    @property
    def scale(self) -> float:
        """Multiply a value by this to get it in :attr:`display_unit` (USD -> $M: 1e-6)."""
        return _DISPLAY.get(self.unit, (1.0, self.unit, 2, ""))[0]

    @property
    def display_unit(self) -> str:
        """The unit numbers are shown in (``$M``, ``%``, ``months``; empty for counts)."""
        return _DISPLAY.get(self.unit, (1.0, self.unit, 2, ""))[1]

    @property
    def axis_label(self) -> str:
        """``label (unit)`` for a chart axis."""
        return f"{self.label} ({self.display_unit})" if self.display_unit else self.label

    def format(
        self, value: float, *, signed: bool = False, change: bool = False, bare: bool = False
    ) -> str:
        """The value as text in its display unit.

        Args:
            value: In the KPI's own unit (USD, fraction, ...).
            signed: Always show the sign (a change).
            change: A difference of two values: fractions read as percentage points.
            bare: The number alone, in the display unit (``-84.7`` for -$84.7M), for a
                table whose heading names the unit.

        Returns:
            ``-$84.7M``, ``+$2.0M``, ``49.1 %``, ``+1.3 pts``, ``5.4 months``, ``12``, ``1.23x``.
        """
        if value != value:  # NaN
            return "n/a"
        factor, unit, digits, prefix = _DISPLAY.get(self.unit, (1.0, self.unit, 2, ""))
        number = value * factor
        if self.unit in ("count", "notch") and abs(number) < 100 and number != round(number):
            digits = 1  # a mean of a few counts: 0.4 is not 0
        text = f"{abs(number):,.{digits}f}"
        if float(text.replace(",", "")) == 0:
            sign = "+" if signed else ""  # never "-0"
        else:
            sign = "-" if number < 0 else ("+" if signed else "")
        if bare:
            return f"{sign}{text}"
        if self.unit == "fraction":
            return f"{sign}{text} {'pts' if change else '%'}"
        if self.unit == "x":
            return f"{sign}{text}x"
        if unit and not prefix:
            return f"{sign}{text} {unit}"
        return f"{sign}{prefix}{text}{'M' if prefix else ''}"

    def format_range(
        self, low: float, high: float, *, change: bool = False, bare: bool = False
    ) -> str:
        """An interval: ``-$188.5M .. -$2.0M`` (signed when ``change``)."""
        return (
            f"{self.format(low, signed=change, change=change, bare=bare)} .. "
            f"{self.format(high, signed=change, change=change, bare=bare)}"
        )


def kpi(name: str) -> KPI:
    """The catalogue entry of a KPI (an unknown name reads as itself, without a unit).

    Args:
        name: The KPI's column name.

    Returns:
        Its :class:`KPI`.
    """
    label, unit, sign = KPI_INFO.get(name, (name, "", 0))
    return KPI(name, label, unit, sign)


def format_value(value: float, unit: str) -> str:
    """Format a KPI value for a terminal table (kept for callers without a KPI name).

    Args:
        value: The value.
        unit: Its unit from :data:`KPI_INFO`.

    Returns:
        A short string such as ``$12.3M``, ``8.1 %`` or ``14``.
    """
    return KPI("", "", unit, 0).format(value)
