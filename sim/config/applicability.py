"""When a parameter applies: the named conditions the scenario schema declares.

A parameter *applies* (is *active*) in a scenario when the code that reads it
can run: a domain's Bass coefficients only if the domain is user-facing, the
pilot's thresholds only if pilots are enabled, the recession's depth only if a
recession starts, an instrument's terms only if a city can use the instrument.
Each condition below was derived from the code that reads the parameter
(``agents/``, ``sim/mechanisms``, ``sim/instruments``); a field without one
always applies. :func:`sim.config.parameters` evaluates them for a validated
scenario (``active``, ``applies_when``).

"Active" means the parameter *can* act in this scenario, not that it moves a
KPI on every seed: a parameter may act only after a run-time event (a
downgrade, a vendor exit, a pilot that scales). ``tests/test_active_parameters.py``
runs the model and lists the active parameters that move no KPI, with why.

Every condition is a :class:`~sim.core.fields.Condition`: a one-line text and a
test ``f(scenario, path)``. Per-domain conditions find their domain in the
path (``world.technology.<domain>.<field>``), per-rating ones their rating
(``world.rates.yields_10y.<rating>``). The instruments' conditions live with
the instruments (:mod:`sim.instruments.applicability`, the layer below) and are
re-exported here.
"""

from __future__ import annotations

from typing import Any

from sim.core.fields import RATINGS, SAVINGS_BENEFITS, Condition
from sim.instruments.applicability import (
    AS_A_SERVICE,
    AVAILABILITY_PPP,
    BONDS,
    CITY_FUNDING,
    DEMAND_PPP,
    GO_BOND,
    MINI_BONDS,
    REVENUE_BOND,
    REVENUE_FLOOR,
    REVENUE_SHARE,
    REVOLVING_FUND,
    SAVINGS_FLOOR,
    SHARED_SAVINGS,
    USES_PPP,
    USES_TIF,
    VENDOR_LOAN,
    VENDOR_LOAN_OR_SERVICE,
    used,
    uses,
)

__all__ = [
    "ALWAYS_TEXT",
    "ANY_FEE",
    "ANY_HAZARD",
    "ANY_KWH",
    "ANY_SAVINGS",
    "ANY_USER_FACING",
    "BASE_CAPACITY_BINDS",
    "CLAIMS_READ",
    "GUARANTEED_SAVINGS",
    "MANY_VENDORS",
    "PMO_CAPACITY_BINDS",
    "PROPERTY_SPLIT",
    "RFI_MOU_CHOICE",
    "APPROVALS",
    "AS_A_SERVICE",
    "AVAILABILITY_PPP",
    "CALL_OFFS",
    "CHAMPION",
    "CITY_FUNDING",
    "DEMAND_PPP",
    "FRAMEWORK",
    "FUND_SEEDED",
    "GAIN_SHARING",
    "GO_BOND",
    "HAZARD_SCALED",
    "INCIDENTS",
    "INCOME_LEVEL",
    "INCOME_SPREAD",
    "KPI_PAID",
    "LENDERS",
    "MINI_BONDS",
    "NOT_USER_FEES",
    "P4P_CITY_FUNDED",
    "PAY_FOR_PERFORMANCE",
    "PILOTS",
    "PILOTS_OR_PROJECTIONS",
    "PILOTS_OR_GUARANTEED_BOND",
    "PMO",
    "PURSUED",
    "RATE_SHOCK_MONTH",
    "RATE_SHOCK_SIZE",
    "RECESSION_HAS_DROP",
    "RECESSION_ON",
    "RECESSION_SCHEDULED",
    "REVENUE_BOND",
    "REVENUE_FLOOR",
    "REVENUE_SHARE",
    "REVENUE_SPREAD",
    "REVOLVING_FUND",
    "RFI_MOU",
    "RFP",
    "SANDBOX",
    "SAVES_KWH",
    "SAVINGS_FLOOR",
    "SHARED_SAVINGS",
    "SILOS",
    "SPREAD_WIDENING",
    "USER_FACING",
    "USES_PPP",
    "USES_TIF",
    "VENDOR_CAPITAL",
    "VENDOR_LOAN",
    "VENDOR_LOAN_OR_SERVICE",
    "YIELDS_10Y",
    "YIELDS_20Y",
    "applies_when",
    "is_active",
    "uses",
]

#: ``applies_when`` of a parameter without a condition.
ALWAYS_TEXT = "always"


def applies_when(conditions: list[Condition]) -> str:
    """The one-line text of a parameter's conditions ("always" with none).

    Args:
        conditions: The conditions on the parameter's path (block and field).

    Returns:
        The text.
    """
    return "; and ".join(conditions) if conditions else ALWAYS_TEXT


def is_active(conditions: list[Condition], scenario: Any, path: tuple[str, ...]) -> bool:
    """Whether every condition on a parameter's path holds.

    Args:
        conditions: The conditions (block and field).
        scenario: A validated scenario.
        path: The parameter's path.

    Returns:
        True when the parameter applies.
    """
    return all(c.holds(scenario, path) for c in conditions)


# --------------------------------------------------------------------------- helpers


def _domain(path: tuple[str, ...]) -> str:
    """The domain of a ``world.technology.<domain>.<field>`` path."""
    return path[path.index("technology") + 1]


def _tech(scn: Any, path: tuple[str, ...]) -> Any:
    return scn.world.technology[_domain(path)]


def _pursued(scn: Any) -> list[Any]:
    """Technology blocks of the domains the policy pursues."""
    return [scn.world.technology[d] for d in scn.policy.domains if d in scn.world.technology]


def _on(text: str, test: Any) -> Condition:
    """A condition on the scenario alone (the path is not needed)."""
    return Condition(text, lambda s, p: test(s))


# --------------------------------------------------------------------------- technology

#: A domain's parameters act only for a domain the policy pursues (block condition).
PURSUED = Condition("the domain is in policy.domains", lambda s, p: _domain(p) in s.policy.domains)
USER_FACING = Condition("the domain is user-facing", lambda s, p: _tech(s, p).user_facing)
NOT_USER_FEES = Condition(
    "the domain's benefit is not user fees (a user-fee domain earns fees per user)",
    lambda s, p: _tech(s, p).benefit_type != "user_fees",
)
HAZARD_SCALED = _on(
    "world.stress.incident_hazard_factor > 0", lambda s: s.world.stress.incident_hazard_factor > 0
)
SAVES_KWH = Condition(
    "the domain's benefit is energy or leakage (it tallies kWh); and "
    "world.macro.grid_emissions_t_per_mwh > 0",
    lambda s, p: (
        _tech(s, p).benefit_type in SAVINGS_BENEFITS and s.world.macro.grid_emissions_t_per_mwh > 0
    ),
)

# --------------------------------------------------------------------------- the pursued domains

ANY_USER_FACING = _on(
    "a pursued domain is user-facing", lambda s: any(t.user_facing for t in _pursued(s))
)
#: Services raise land values: a user-facing domain is pursued and the uplift is above 0.
LAND_UPLIFT = ANY_USER_FACING & _on(
    "world.macro.land_value_uplift_per_coverage > 0",
    lambda s: s.world.macro.land_value_uplift_per_coverage > 0,
)
ANY_FEE = _on(
    "a pursued user-facing domain charges a fee (fee_per_user_month_usd > 0)",
    lambda s: any(t.user_facing and t.fee_per_user_month_usd > 0 for t in _pursued(s)),
)
ANY_SAVINGS = _on(
    "a pursued domain's benefit is energy or leakage",
    lambda s: any(t.benefit_type in SAVINGS_BENEFITS for t in _pursued(s)),
)
ANY_KWH = _on(
    "a pursued domain's benefit is energy or leakage with kwh_saved_per_unit_month > 0",
    lambda s: any(
        t.benefit_type in SAVINGS_BENEFITS and t.kwh_saved_per_unit_month > 0 for t in _pursued(s)
    ),
)
ANY_HAZARD = _on(
    "a pursued domain has incident_hazard_monthly > 0",
    lambda s: any(t.incident_hazard_monthly > 0 for t in _pursued(s)),
)
#: Incidents can happen: a hazard, not scaled to nothing.
INCIDENTS = ANY_HAZARD & HAZARD_SCALED

# --------------------------------------------------------------------------- residents

#: The median only rescales incomes: it acts through a fee's affordability and savings.
INCOME_LEVEL = ANY_FEE | MINI_BONDS
#: The spread of incomes splits the tax base across districts (land uplift, TIF) and
#: sorts residents into quintiles (adoption by quintile) and savers (mini-bonds).
INCOME_SPREAD = ANY_USER_FACING | uses(
    "mini_bonds", "tif", text="mini_bonds or tif is in the financing preference of a pursued domain"
)


def _property_split(s: Any) -> bool:
    """The property tax base and the rest of revenue can move apart."""
    w = s.world
    st = w.stress
    recession = 0 <= st.recession_month < w.horizon_months and (
        st.recession_property_drop != st.recession_income_drop
    )
    uplift = w.macro.land_value_uplift_per_coverage > 0 and any(t.user_facing for t in _pursued(s))
    tif = any(inst == "tif" for inst, _ in used(s))
    return (
        w.macro.property_growth_annual != w.macro.revenue_growth_annual
        or recession
        or uplift
        or tif
    )


#: The split of revenue between property tax and the rest matters only when the two parts
#: can grow apart (spending follows the trend budget, so equal parts cancel).
PROPERTY_SPLIT = _on(
    "property tax and other revenue can move apart: world.macro.property_growth_annual != "
    "revenue_growth_annual, a recession with different property and income drops, "
    "land-value uplift from a pursued user-facing domain, or tif is used",
    _property_split,
)

# --------------------------------------------------------------------------- vendors

MANY_VENDORS = _on("world.vendors.count > 1 (bidders compete)", lambda s: s.world.vendors.count > 1)

# --------------------------------------------------------------------------- policy levers

#: A field a scenario records but the model does not read (it cancels out).
NEVER = _on("never: the value cancels out of every computation", lambda s: False)
PILOTS = _on("pilots are enabled (policy.pilot.enabled)", lambda s: s.policy.pilot.enabled)
#: The prior mean (claim less the haircut) is also the city's projection for a revenue
#: bond's coverage test and a PPP's base case.
PILOTS_OR_PROJECTIONS = PILOTS | uses(
    "revenue_bond",
    "ppp",
    text="revenue_bond or ppp is in the financing preference of a pursued domain",
)


def _guaranteed_bond(s: Any) -> bool:
    g = s.policy.financing.guarantee
    tech = s.world.technology
    return any(
        inst == "revenue_bond"
        and (
            g.savings_floor_share
            if tech[d].benefit_type in SAVINGS_BENEFITS
            else g.revenue_floor_share
        )
        > 0
        for inst, d in used(s)
    )


#: The prior sd is the pilot's prior, and prices a revenue bond's guarantee.
PILOTS_OR_GUARANTEED_BOND = PILOTS | _on(
    "revenue_bond is used with a guarantee floor above 0", _guaranteed_bond
)
RFP = _on(
    "procurement is by RFP (mode rfp, or framework for a domain not on the framework)",
    lambda s: (
        s.policy.procurement.mode == "rfp"
        or (
            s.policy.procurement.mode == "framework"
            and any(d not in s.world.procurement.framework_domains for d in s.policy.domains)
        )
    ),
)
RFI_MOU = _on("procurement mode is rfi_mou", lambda s: s.policy.procurement.mode == "rfi_mou")
#: The demo's screen and the number of partners choose among several bidders.
RFI_MOU_CHOICE = RFI_MOU & MANY_VENDORS
#: Projects with two or more partners, whose exits cost a transition.
MULTI_PARTNER = RFI_MOU_CHOICE & _on(
    "policy.procurement.technology_partners > 1",
    lambda s: s.policy.procurement.technology_partners > 1,
)
FRAMEWORK = _on("procurement mode is framework", lambda s: s.policy.procurement.mode == "framework")


def _call_offs(s: Any) -> bool:
    members = sum(1 for c in s.world.cities.values() if c.consortium_member)
    listed = any(d in s.world.procurement.framework_domains for d in s.policy.domains)
    return s.policy.procurement.mode == "framework" and (listed or members > 1)


#: A domain is called off the framework: listed, or proven later by a member (consortium).
CALL_OFFS = _on(
    "procurement mode is framework and a pursued domain is on the framework "
    "(or can join it: two or more member cities)",
    _call_offs,
)


def _pmo_extra(s: Any) -> int:
    gov = s.policy.governance
    return gov.pmo_extra_capacity if gov.pmo else 0


#: A domain has at most one project running, so capacity binds only below the domains.
BASE_CAPACITY_BINDS = _on(
    "the pursued domains outnumber the smallest capacity (1 + the PMO's extra capacity)",
    lambda s: len(s.policy.domains) > 1 + _pmo_extra(s),
)
PMO_CAPACITY_BINDS = _on(
    "governance.pmo is on; and the pursued domains outnumber governance.base_capacity_projects",
    lambda s: (
        s.policy.governance.pmo
        and len(s.policy.domains) > s.policy.governance.base_capacity_projects
    ),
)
CHAMPION = _on("governance.champion is on", lambda s: s.policy.governance.champion)
PMO = _on("governance.pmo is on", lambda s: s.policy.governance.pmo)
SILOS = _on(
    "neither governance.champion nor governance.pmo is on (silos)",
    lambda s: not s.policy.governance.champion and not s.policy.governance.pmo,
)
SANDBOX = _on("governance.sandbox is on", lambda s: s.policy.governance.sandbox)
PAY_FOR_PERFORMANCE = _on(
    "contracts.payment is pay_for_performance",
    lambda s: s.policy.contracts.payment == "pay_for_performance",
)
#: A retention is held back from what the city pays its vendor for a city-funded tranche.
P4P_CITY_FUNDED = PAY_FOR_PERFORMANCE & CITY_FUNDING
#: The measured KPI moves a payment: pay for performance, value-based billing, or an
#: availability PPP's deductions.
KPI_PAID = (
    _on(
        "contracts.payment is pay_for_performance or value_based",
        lambda s: s.policy.contracts.payment != "fixed_price",
    )
    | AVAILABILITY_PPP
)
GUARANTEED_SAVINGS = _on(
    "contracts.energy_contract is guaranteed_savings for a pursued energy or leakage domain",
    lambda s: (
        s.policy.contracts.energy_contract == "guaranteed_savings"
        and any(t.benefit_type in SAVINGS_BENEFITS for t in _pursued(s))
    ),
)
#: A pursued domain carries privacy or surveillance concerns the regulator weighs.
SENSITIVE = _on(
    "a pursued domain has privacy_sensitivity > 0",
    lambda s: any(t.privacy_sensitivity > 0 for t in _pursued(s)),
)
#: The regulator can refuse: its refusal intensity is above 0.
REJECTIONS_POSSIBLE = PURSUED & _on(
    "world.regulator.rejection_rate > 0", lambda s: s.world.regulator.rejection_rate > 0
)
#: A bid carries performance risk the vendor prices: a savings guarantee, or payments
#: that move with the measured KPI.
RISK_PRICED = GUARANTEED_SAVINGS | _on(
    "contracts.payment is pay_for_performance or value_based",
    lambda s: s.policy.contracts.payment != "fixed_price",
)
#: Where a vendor's claim is read: ranking bidders, the prior, a KPI target, service
#: quality (delivered / claimed), a savings guarantee, a partner's offer, projections.
CLAIMS_READ = (
    MANY_VENDORS
    | PILOTS
    | KPI_PAID
    | ANY_USER_FACING
    | GUARANTEED_SAVINGS
    | uses(
        "revenue_share",
        "shared_savings",
        "revenue_bond",
        "ppp",
        text="a revenue share, shared savings, revenue bond or ppp is in the financing "
        "preference of a pursued domain",
    )
)
GAIN_SHARING = uses("as_a_service", benefits=("advertising", "user_fees"))
VENDOR_CAPITAL = uses(
    "vendor_loan",
    "as_a_service",
    "revenue_share",
    "shared_savings",
    text="a vendor-financed instrument (vendor_loan, as_a_service, revenue_share, "
    "shared_savings) is in the financing preference of a pursued domain",
)

# --------------------------------------------------------------------------- markets

#: Lenders are asked (and yields read) for bonds and PPPs.
LENDERS = uses(
    *BONDS,
    "ppp",
    text="a bond (go_bond, revenue_bond, tif) or ppp is in the financing preference "
    "of a pursued domain",
)
REVENUE_SPREAD = uses("revenue_bond", "tif")
#: The city sells bonds (GO, revenue or TIF), so bond funds' rating floor can bind.
BOND_ISSUER = uses(*BONDS)
FUND_SEEDED = _on(
    "policy.financing.revolving_fund.initial_usd > 0",
    lambda s: s.policy.financing.revolving_fund.initial_usd > 0,
)


def _bond_terms(s: Any) -> list[int]:
    fin = s.policy.financing
    terms = {"go_bond": fin.go_bond.term_years, "revenue_bond": fin.revenue_bond.term_years}
    terms["tif"] = fin.tif.term_years
    names = {inst for inst, _ in used(s)}
    return [years for inst, years in terms.items() if inst in names]


def _reachable(s: Any, rating: str) -> bool:
    """A city starts at this rating or can be downgraded to it."""
    best = min(RATINGS.index(c.rating) for c in s.world.cities.values())
    return RATINGS.index(rating) >= best


#: The 10-year point is read for bonds shorter than 20 years (flat beyond the tenors).
YIELDS_10Y = Condition(
    "a bond (go_bond, revenue_bond, tif) of under 20 years is used; and the rating is a "
    "city's starting rating or below it (downgrades)",
    lambda s, p: any(y < 20 for y in _bond_terms(s)) and _reachable(s, p[-1]),
)
#: The 20-year point is read for bonds longer than 10 years.
YIELDS_20Y = Condition(
    "a bond (go_bond, revenue_bond, tif) of over 10 years is used; and the rating is a "
    "city's starting rating or below it (downgrades)",
    lambda s, p: any(y > 10 for y in _bond_terms(s)) and _reachable(s, p[-1]),
)
RATE_SHOCK_SIZE = LENDERS & _on(
    "world.stress.rate_shock_month is before the horizon",
    lambda s: s.world.stress.rate_shock_month < s.world.horizon_months,
)
RATE_SHOCK_MONTH = LENDERS & _on(
    "world.stress.rate_shock_bp > 0", lambda s: s.world.stress.rate_shock_bp > 0
)
SPREAD_WIDENING = LENDERS & _on(
    "a rate shock is on (rate_shock_bp > 0 from a month before the horizon)",
    lambda s: (
        s.world.stress.rate_shock_bp > 0
        and s.world.stress.rate_shock_month < s.world.horizon_months
    ),
)
RECESSION_SCHEDULED = _on(
    "world.stress.recession_month is within the horizon (>= 0)",
    lambda s: 0 <= s.world.stress.recession_month < s.world.horizon_months,
)


def _drop(s: Any) -> bool:
    st = s.world.stress
    return st.recession_property_drop > 0 or st.recession_income_drop > 0


RECESSION_HAS_DROP = _on("a recession drop (property or income) is above 0", _drop)
RECESSION_ON = RECESSION_SCHEDULED & RECESSION_HAS_DROP
APPROVALS = _on(
    "world.regulator.approval_months_mean > 0",
    lambda s: s.world.regulator.approval_months_mean > 0,
)
