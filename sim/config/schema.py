"""The scenario schema: every parameter of a world, a policy and the stress overlays.

A scenario is the XLRM split of exploratory modelling (MODEL.md): the *world*
holds the exogenous uncertainties and the relations' constants, the *policy*
holds the levers. Every field is declared once here, with its type, its unit
(in the name and in ``unit``) and its allowed range; :mod:`sim.config` loads
TOML files into these models and turns validation failures into one line per
problem.

A parameter that acts only under some condition declares it (``applies=``, the
named conditions of :mod:`sim.config.applicability`; a block's condition holds
for every field in it): :func:`sim.config.parameters` reports whether each
parameter is active in a scenario and when it applies.

Defaults describe a mid-size US city of about 700,000 people (Denver-like) with
the municipal yield curve of May 2025; sources are cited field by field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sim.config import applicability as ap
from sim.core.fields import BenefitType, Rating, Strict, block, field
from sim.instruments.catalogue import Instrument
from sim.instruments.go_bond import GOBond
from sim.instruments.guarantees import Guarantee
from sim.instruments.mini_bonds import MiniBonds
from sim.instruments.ppp import PPP
from sim.instruments.revenue_bond import RevenueBond
from sim.instruments.revolving_fund import RevolvingFund
from sim.instruments.tif import TIF
from sim.instruments.vendor_finance import VendorFinance

ProcurementMode = Literal["rfp", "rfi_mou", "framework"]
PaymentMode = Literal["fixed_price", "pay_for_performance", "value_based"]

# --------------------------------------------------------------------------- world


class Region(Strict):
    """The region: one or more cities sharing districts' layout."""

    name: str = "Metro region"
    districts_per_city: int = field(10, "districts", 1, 100, "districts per city")


class City(Strict):
    """A municipality's finances at the start of the run."""

    population: int = field(700_000, "people", 1_000, 20_000_000, "residents")
    general_revenue_annual_usd: float = field(
        1.4e9, "USD/yr", 1e6, 1e12, "general-fund revenue (Denver ~1.6e9, 2024 budget)"
    )
    property_tax_share: float = field(
        0.25, "fraction", 0.0, 1.0, "share of general revenue from property tax", ap.PROPERTY_SPLIT
    )
    property_tax_rate: float = field(
        0.01,
        "fraction/yr",
        0.0,
        0.1,
        "effective property tax rate on assessed value; recorded, not read: the model keeps "
        "property tax in tax terms (property_tax_share x revenue), so the rate cancels",
        ap.NEVER,
    )
    reserves_usd: float = field(
        2.1e8, "USD", 0.0, 1e12, "unrestricted general-fund reserves (~15 % of revenue)"
    )
    existing_debt_service_annual_usd: float = field(
        1.1e8,
        "USD/yr",
        0.0,
        1e12,
        "debt service on the existing debt book (~8 % of revenue), rolled over with the budget",
    )
    rating: Rating = "AA"
    consortium_member: bool = True


class Residents(Strict):
    """The simulated resident population (arrays, see ``agents.residents``)."""

    simulated_agents: int = field(
        20_000,
        "agents",
        100,
        5_000_000,
        "simulated residents; each carries weight population / simulated_agents",
    )
    income_median_annual_usd: float = field(
        72_000.0,
        "USD/yr",
        1_000.0,
        1e6,
        "median household income (US 2023 ~ 77k)",
        ap.INCOME_LEVEL,
    )
    income_log_sd: float = field(
        0.7, "log-USD", 0.05, 2.0, "sd of log income (lognormal)", ap.INCOME_SPREAD
    )
    savings_months_of_income: float = field(
        3.0, "months", 0.0, 60.0, "mean liquid savings as months of income", ap.MINI_BONDS
    )
    trust_mean: float = field(0.55, "fraction", 0.0, 1.0, "mean trust in the city")
    trust_sd: float = field(0.15, "fraction", 0.0, 0.5, "sd of trust across residents")
    price_sensitivity: float = field(
        1.0, "1", 0.0, 10.0, "elasticity of adoption to fee as a share of income", ap.ANY_FEE
    )
    district_income_spread: float = field(
        0.3,
        "log-USD",
        0.0,
        2.0,
        "sd of district mean log income (segregation)",
        ap.INCOME_SPREAD,
    )
    network_weight_district: float = field(
        0.5,
        "fraction",
        0.0,
        1.0,
        "weight of the own district (vs the city) in network effects",
        ap.ANY_USER_FACING,
    )
    satisfaction_rate: float = field(
        0.1,
        "1/month",
        0.0,
        1.0,
        "how fast satisfaction follows service quality (neutral 0.5 for non-users)",
        ap.ANY_USER_FACING,
    )
    trust_response: float = field(0.05, "1/month", 0.0, 1.0, "how fast trust follows satisfaction")
    incident_trust_loss: float = field(
        0.1, "fraction", 0.0, 1.0, "trust lost in a district after a public incident", ap.INCIDENTS
    )
    savings_rate_annual: float = field(
        0.005,
        "fraction/yr",
        0.0,
        0.2,
        "what residents' savings earn elsewhere (2014 ~0.5 %)",
        ap.MINI_BONDS,
    )
    minibond_interest_share: float = field(
        0.03,
        "fraction",
        0.0,
        1.0,
        "share of residents who consider buying mini-bonds",
        ap.MINI_BONDS,
    )
    minibond_arrival_hours: float = field(
        8.0,
        "hours",
        0.01,
        10_000.0,
        "mean time for an interested resident to order at no premium",
        ap.MINI_BONDS,
    )
    minibond_premium_response: float = field(
        100.0,
        "1/(fraction/yr)",
        0.0,
        10_000.0,
        "interest and speed rise by this factor per unit of yield premium over savings",
        ap.MINI_BONDS,
    )


class Macro(Strict):
    """Background economy."""

    property_growth_annual: float = field(0.025, "fraction/yr", -0.2, 0.3, "assessed value growth")
    income_growth_annual: float = field(
        0.02, "fraction/yr", -0.2, 0.3, "household income growth", ap.ANY_FEE
    )
    revenue_growth_annual: float = field(0.025, "fraction/yr", -0.2, 0.3, "other revenue growth")
    land_value_uplift_per_coverage: float = field(
        0.01,
        "fraction per service",
        0.0,
        0.5,
        "hedonic land-value rise in a district per user-facing service covering it fully at "
        "the claimed quality (an assumption: MODEL.md's range is 0 to 0.02; vary it in SA)",
        ap.ANY_USER_FACING,
    )
    land_value_lag_months: float = field(
        24.0,
        "months",
        1.0,
        240.0,
        "capitalisation lag: assessed values close 1/lag of the gap to the services' "
        "uplift each month",
        ap.LAND_UPLIFT,
    )
    grid_emissions_t_per_mwh: float = field(
        0.37, "t CO2/MWh", 0.0, 2.0, "grid factor (US average ~0.37)", ap.ANY_KWH
    )
    discount_rate_annual: float = field(
        0.03, "fraction/yr", 0.0, 0.2, "social discount rate for the city's fiscal NPV"
    )


#: A yield by rating: -2 % (some European issuers' negative yields) to 30 %.
Yield = Annotated[float, Field(ge=-0.02, le=0.3, json_schema_extra={"unit": "fraction/yr"})]


class Rates(Strict):
    """Capital markets: the municipal curve and private costs of capital."""

    yields_10y: dict[Rating, Yield] = Field(
        default_factory=lambda: {
            "AAA": 0.0333,
            "AA": 0.0344,
            "A": 0.0368,
            "Baa": 0.0416,
            "Ba": 0.0516,
            "B": 0.0666,
        },
        description="10-year municipal yields by rating (May 2025; Ba, B extrapolated)",
        json_schema_extra={"unit": "fraction/yr", "applies": ap.YIELDS_10Y},
    )
    yields_20y: dict[Rating, Yield] = Field(
        default_factory=lambda: {
            "AAA": 0.0417,
            "AA": 0.0438,
            "A": 0.0461,
            "Baa": 0.0505,
            "Ba": 0.0605,
            "B": 0.0755,
        },
        description="20-year municipal yields by rating (May 2025; Ba, B extrapolated)",
        json_schema_extra={"unit": "fraction/yr", "applies": ap.YIELDS_20Y},
    )
    shift_bp: float = field(
        0.0, "bp", -300.0, 1000.0, "parallel shift of the whole curve", ap.LENDERS
    )
    revenue_bond_spread_bp: float = field(
        60.0,
        "bp",
        0.0,
        1000.0,
        "revenue (and TIF) bonds over GO of the same rating",
        ap.REVENUE_SPREAD,
    )
    bank_rate_annual: float = field(
        0.065, "fraction/yr", 0.0, 0.3, "senior project debt rate", ap.USES_PPP
    )
    equity_irr_required: float = field(
        0.12, "fraction/yr", 0.0, 0.5, "infrastructure equity target IRR (10-15 %)", ap.USES_PPP
    )
    revolving_fund_deposit_rate_annual: float = field(
        0.02, "fraction/yr", 0.0, 0.2, "interest earned on idle revolving-fund cash", ap.FUND_SEEDED
    )


class Technology(Strict):
    """One technology domain of the catalogue (per-unit economics and behaviour)."""

    description: str = ""
    units_per_1000_residents: float = field(10.0, "units/1000 people", 0.001, 10_000.0)
    capex_per_unit_usd: float = field(1_000.0, "USD", 0.0, 1e9)
    opex_per_unit_month_usd: float = field(5.0, "USD/month", 0.0, 1e7)
    benefit_type: BenefitType = "energy"
    benefit_per_unit_month_usd: float = field(
        10.0,
        "USD/month",
        0.0,
        1e7,
        "nominal cash or welfare benefit per unit; realised = nominal x performance",
        ap.NOT_USER_FEES,
    )
    kwh_saved_per_unit_month: float = field(
        0.0, "kWh/month", 0.0, 1e8, "energy saved (for CO2 avoided)", ap.SAVES_KWH
    )
    true_performance_mean: float = field(
        0.8,
        "fraction of nominal",
        0.0,
        3.0,
        "mean of vendors' true performance; each claims it x (1 + its optimism)",
    )
    true_performance_sd: float = field(0.15, "fraction of nominal", 0.0, 2.0)
    measurement_noise_sd: float = field(
        0.25,
        "fraction of nominal",
        0.0,
        3.0,
        "noise of one pilot unit's monthly measurement",
        ap.PILOTS,
    )
    learning_rate: float = field(
        0.1, "fraction", 0.0, 0.5, "cost drop per doubling of cumulative units (Wright)"
    )
    lifetime_years: float = field(12.0, "years", 1.0, 60.0)
    incident_hazard_monthly: float = field(
        0.002,
        "1/month",
        0.0,
        0.5,
        "chance a deployment causes a public incident",
        ap.HAZARD_SCALED,
    )
    privacy_sensitivity: float = field(
        0.0,
        "score 0-1",
        0.0,
        1.0,
        "how much personal data or surveillance the service involves: scales the "
        "regulator's chance of refusing an approval",
        ap.REJECTIONS_POSSIBLE,
    )
    user_facing: bool = False
    fee_per_user_month_usd: float = field(
        0.0, "USD/month", 0.0, 10_000.0, "fee a user pays", ap.USER_FACING
    )
    bass_p_annual: float = field(
        0.03,
        "1/yr",
        0.0,
        12.0,
        "Bass innovation coefficient, annual as in the literature (0.01-0.03); the model "
        "uses p / 12 a month",
        ap.USER_FACING,
    )
    bass_q_annual: float = field(
        0.38,
        "1/yr",
        0.0,
        60.0,
        "Bass imitation coefficient on the adopters' share, annual as in the literature "
        "(0.3-0.5); the model uses q / 12 a month",
        ap.USER_FACING,
    )
    churn_monthly: float = field(
        0.02, "1/month", 0.0, 1.0, "users who stop each month", ap.USER_FACING
    )
    market_potential: float = field(
        1.0,
        "fraction",
        0.0,
        1.0,
        "share of residents for whom the service is relevant",
        ap.USER_FACING,
    )
    orphan_factor: float = field(
        0.5,
        "fraction",
        0.0,
        1.0,
        "share of the benefit a city-owned system keeps when its vendors are gone "
        "(0 = the platform dies with its vendor)",
    )
    welfare_per_user_month_usd: float = field(
        0.0, "USD/month", 0.0, 10_000.0, "value of the service to a user", ap.USER_FACING
    )


def _default_catalogue() -> dict[str, Technology]:
    return {
        "streetlights": Technology(
            description="LED streetlights with sensors (San Diego: 60 % less energy claimed)",
            units_per_1000_residents=57.0,
            capex_per_unit_usd=900.0,
            opex_per_unit_month_usd=1.5,
            benefit_type="energy",
            benefit_per_unit_month_usd=14.0,
            kwh_saved_per_unit_month=31.0,
            true_performance_mean=0.7,
            true_performance_sd=0.15,
            lifetime_years=15.0,
            learning_rate=0.12,
            incident_hazard_monthly=0.003,
            privacy_sensitivity=0.3,
        ),
        "water": Technology(
            description="smart metering and leak detection",
            units_per_1000_residents=300.0,
            capex_per_unit_usd=320.0,
            opex_per_unit_month_usd=0.6,
            benefit_type="leakage",
            benefit_per_unit_month_usd=4.5,
            true_performance_mean=0.85,
            lifetime_years=15.0,
            incident_hazard_monthly=0.001,
        ),
        "buildings": Technology(
            description="smart HVAC in municipal buildings",
            units_per_1000_residents=0.6,
            capex_per_unit_usd=250_000.0,
            opex_per_unit_month_usd=400.0,
            benefit_type="energy",
            benefit_per_unit_month_usd=3_600.0,
            kwh_saved_per_unit_month=20_000.0,
            true_performance_mean=0.85,
            lifetime_years=20.0,
            incident_hazard_monthly=0.0005,
        ),
        "maas": Technology(
            description="mobility-as-a-service platform (Helsinki Whim)",
            units_per_1000_residents=0.2,
            capex_per_unit_usd=120_000.0,
            opex_per_unit_month_usd=6_000.0,
            benefit_type="user_fees",
            benefit_per_unit_month_usd=0.0,
            true_performance_mean=0.75,
            user_facing=True,
            fee_per_user_month_usd=30.0,
            bass_p_annual=0.03,
            bass_q_annual=0.38,
            churn_monthly=0.03,
            market_potential=0.12,
            welfare_per_user_month_usd=25.0,
            lifetime_years=8.0,
            learning_rate=0.05,
            incident_hazard_monthly=0.002,
            privacy_sensitivity=0.3,
        ),
        "wifi": Technology(
            description="public wi-fi with advertising and data revenue",
            units_per_1000_residents=2.0,
            capex_per_unit_usd=8_000.0,
            opex_per_unit_month_usd=60.0,
            benefit_type="advertising",
            benefit_per_unit_month_usd=140.0,
            true_performance_mean=0.7,
            user_facing=True,
            fee_per_user_month_usd=0.0,
            bass_p_annual=0.01,
            bass_q_annual=0.3,
            churn_monthly=0.01,
            market_potential=0.5,
            welfare_per_user_month_usd=4.0,
            lifetime_years=8.0,
            incident_hazard_monthly=0.003,
            privacy_sensitivity=0.4,
        ),
        "traffic": Technology(
            description="adaptive traffic management",
            units_per_1000_residents=1.5,
            capex_per_unit_usd=45_000.0,
            opex_per_unit_month_usd=120.0,
            benefit_type="time_saved",
            benefit_per_unit_month_usd=900.0,
            true_performance_mean=0.8,
            lifetime_years=12.0,
            incident_hazard_monthly=0.001,
            privacy_sensitivity=0.5,
        ),
    }


INTEROP = ap.MANY_VENDORS & (ap.RFI_MOU | ap.CALL_OFFS)


class Vendors(Strict):
    """The vendor market: how many, how optimistic, how solid."""

    count: int = field(12, "vendors", 1, 200)
    optimism_bias_mean: float = field(
        0.25, "fraction", 0.0, 3.0, "claim / true performance - 1, on average", ap.CLAIMS_READ
    )
    optimism_bias_sd: float = field(
        0.1, "fraction", 0.0, 2.0, "spread of optimism across vendors", ap.CLAIMS_READ
    )
    cash_usd: float = field(5e7, "USD", 0.0, 1e12, "starting cash per vendor")
    cost_of_capital_annual: float = field(
        0.08, "fraction/yr", 0.0, 0.5, "what financing a city costs a vendor", ap.VENDOR_CAPITAL
    )
    margin: float = field(0.15, "fraction", 0.0, 2.0, "price over cost")
    interoperability_mean: float = field(
        0.6, "score 0-1", 0.0, 1.0, "read by the rfi_mou demo and framework call-offs", INTEROP
    )
    interoperability_sd: float = field(0.15, "score 0-1", 0.0, 0.5, applies=INTEROP)
    default_hazard_annual: float = field(0.02, "1/yr", 0.0, 1.0, "background insolvency hazard")
    partnership_appetite_mean: float = field(
        0.6, "fraction", 0.0, 1.0, "trims partners' margins under rfi_mou", ap.RFI_MOU
    )
    field_performance_sd: float = field(
        0.15,
        "log-sd",
        0.0,
        1.0,
        "a project's realised performance is lognormal around its vendors' true one "
        "(site conditions, unknown to vendor and city until it runs)",
    )
    risk_aversion: float = field(
        0.5,
        "fraction",
        0.0,
        5.0,
        "vendors ask (1 + this) x the expected cost of the performance risk a contract "
        "makes them bear",
        ap.RISK_PRICED,
    )
    max_risk_loading: float = field(
        0.5,
        "fraction",
        0.0,
        5.0,
        "a vendor whose risk premium exceeds this share of the contract's value to it "
        "(price and O&M fees) declines to bid",
        ap.RISK_PRICED,
    )
    exit_transition_share: float = field(
        0.2,
        "fraction",
        0.0,
        1.0,
        "a partner's exit from a multi-partner project costs the city this share of the "
        "contract's remaining value (MODEL.md: 10-30 %)",
        ap.MULTI_PARTNER,
    )


class Investors(Strict):
    """Investors: bond funds, banks and infrastructure equity."""

    count: int = field(6, "investors", 1, 100, "bond funds, banks, equity in turn", ap.LENDERS)
    capital_usd: float = field(5e9, "USD", 0.0, 1e13, "capital per investor", ap.LENDERS)
    risk_premium_per_default: float = field(
        0.005, "fraction/yr", 0.0, 0.2, "added required return per observed default", ap.LENDERS
    )
    risk_premium_demand: float = field(
        0.03,
        "fraction/yr",
        0.0,
        0.3,
        "premium for taking demand (traffic/usage) risk",
        ap.DEMAND_PPP,
    )
    premium_decay_annual: float = field(
        0.3, "fraction/yr", 0.0, 1.0, "memory of past defaults", ap.LENDERS
    )
    min_bond_rating: Rating = field(
        "Baa",
        doc="bond funds buy only bonds of issuers rated this or better (investment grade)",
        applies=ap.BOND_ISSUER,
    )


class Regulator(Strict):
    """Regulatory approvals and social licence."""

    approval_months_mean: float = field(4.0, "months", 0.0, 60.0, "mean approval delay")
    sandbox_factor: float = field(
        0.4,
        "fraction",
        0.0,
        1.0,
        "approval delay and incident halt multiplier in a sandbox",
        ap.SANDBOX,
    )
    halt_months: float = field(
        12.0, "months", 0.0, 120.0, "deployment halt after an incident", ap.INCIDENTS
    )
    rejection_rate: float = field(
        0.3,
        "1",
        0.0,
        10.0,
        "refusal intensity: an approval is refused with probability "
        "1 - exp(-rate x privacy_sensitivity x (1 + incidents seen in the domain))",
        ap.SENSITIVE,
    )


class ProcurementDurations(Strict):
    """How long each procurement mode takes (MODEL.md, Procurement modes)."""

    rfp_prep_months: float = field(
        6.0, "months", 0.0, 60.0, "specification and preparation", ap.RFP
    )
    rfp_award_months: float = field(2.5, "months", 0.0, 24.0, "posting to award (2-3)", ap.RFP)
    rfp_tail_alpha: float = field(
        2.0,
        "1",
        1.01,
        20.0,
        "Pareto shape of the heavy tail of RFP delays (lower = heavier)",
        ap.RFP,
    )
    rfi_mou_months: float = field(
        4.0, "months", 0.0, 36.0, "RFI, MOUs and interop demo", ap.RFI_MOU
    )
    framework_months: float = field(
        1.5, "months", 0.0, 12.0, "call-off from a framework", ap.CALL_OFFS
    )
    framework_discount: float = field(0.08, "fraction", 0.0, 0.5, "volume discount", ap.CALL_OFFS)
    framework_member_fee_annual_usd: float = field(
        10_000.0,
        "USD/yr",
        0.0,
        1e7,
        "consortium membership fee (Greater Phoenix ~10k)",
        ap.FRAMEWORK,
    )
    framework_domains: list[str] = Field(
        default_factory=lambda: ["streetlights", "water", "buildings"],
        description="domains already proven on the regional purchasing framework",
        json_schema_extra={"applies": ap.FRAMEWORK},
    )
    silo_delay_months: float = field(
        3.0, "months", 0.0, 36.0, "added decision delay without champion or PMO", ap.SILOS
    )


class Stress(Strict):
    """Stress overlays' parameters; the defaults are the unstressed world."""

    rate_shock_bp: float = field(0.0, "bp", 0.0, 2000.0, "rise in all yields", ap.RATE_SHOCK_SIZE)
    rate_shock_month: int = field(
        24, "month", 0, 1200, "month the rate shock starts", ap.RATE_SHOCK_MONTH
    )
    spread_widening_bp: float = field(
        0.0,
        "bp",
        0.0,
        2000.0,
        "extra spread per notch below AA (2008: A-Baa > 100 bp)",
        ap.SPREAD_WIDENING,
    )
    recession_month: int = field(
        -1, "month", -1, 1200, "start of a recession; -1 = none", ap.RECESSION_HAS_DROP
    )
    recession_months: int = field(
        24, "months", 1, 240, "length of the trough (recovery takes as long)", ap.RECESSION_ON
    )
    recession_property_drop: float = field(
        0.0, "fraction", 0.0, 0.9, "assessed value fall", ap.RECESSION_SCHEDULED
    )
    recession_income_drop: float = field(
        0.0, "fraction", 0.0, 0.9, "income and revenue fall", ap.RECESSION_SCHEDULED
    )
    vendor_default_month: int = field(-1, "month", -1, 1200, "a key vendor exits; -1 = none")
    performance_factor: float = field(
        1.0, "fraction", 0.0, 2.0, "realised performance multiplier (underperformance ~0.4)"
    )
    approval_delay_factor: float = field(
        1.0, "x", 0.1, 20.0, "regulatory approvals x factor", ap.APPROVALS
    )
    incident_hazard_factor: float = field(
        1.0, "x", 0.0, 50.0, "incident hazard x factor", ap.ANY_HAZARD
    )
    cost_overrun_alpha: float = field(
        0.0, "1", 0.0, 20.0, "Pareto shape of capex overruns; 0 = no overrun"
    )


class PilotEvidence(Strict):
    """How pilots mislead: a bias per pilot that does not average away (MODEL.md)."""

    bias_mean: float = field(
        0.05,
        "fraction of nominal",
        -0.5,
        0.5,
        "mean bias of a pilot's measurements: pilots look better than roll-outs (0 to 0.1)",
        ap.PILOTS,
    )
    bias_sd: float = field(
        0.1, "fraction of nominal", 0.0, 1.0, "spread of pilots' biases (0.05 to 0.2)", ap.PILOTS
    )


class World(Strict):
    """Everything the policy cannot choose (XLRM: X and R)."""

    horizon_months: int = field(240, "months", 1, 1200, "simulated months")
    region: Region = Field(default_factory=Region)
    cities: dict[str, City] = Field(default_factory=lambda: {"city": City()})
    residents: Residents = Field(default_factory=Residents)
    macro: Macro = Field(default_factory=Macro)
    rates: Rates = Field(default_factory=Rates)
    technology: dict[str, Technology] = block(
        _default_catalogue, "the technology catalogue, by domain", ap.PURSUED
    )
    vendors: Vendors = Field(default_factory=Vendors)
    investors: Investors = Field(default_factory=Investors)
    regulator: Regulator = Field(default_factory=Regulator)
    procurement: ProcurementDurations = Field(default_factory=ProcurementDurations)
    pilots: PilotEvidence = Field(default_factory=PilotEvidence)
    stress: Stress = Field(default_factory=Stress)


# --------------------------------------------------------------------------- policy


class Procurement(Strict):
    """How the city buys (XLRM lever)."""

    mode: ProcurementMode = "rfp"
    interoperability_min: float = field(
        0.0, "score 0-1", 0.0, 1.0, "screen in the rfi_mou interoperability demo", ap.RFI_MOU_CHOICE
    )
    technology_partners: int = field(
        1, "vendors", 1, 10, "partners per project (rfi_mou)", ap.RFI_MOU_CHOICE
    )
    integrator: bool = field(
        False,
        doc="appoint the most interoperable vendor as integrator (rfi_mou)",
        applies=ap.RFI_MOU_CHOICE,
    )
    renewal_lead_months: int = field(
        24,
        "months",
        0,
        120,
        "re-procure equipment this long before its end of life when its partner is gone",
    )


class Governance(Strict):
    """Champion, PMO and regulatory sandbox."""

    champion: bool = False
    pmo: bool = False
    sandbox: bool = False
    base_capacity_projects: int = field(
        2, "projects", 1, 50, "projects run at once, no PMO", ap.BASE_CAPACITY_BINDS
    )
    pmo_extra_capacity: int = field(
        3, "projects", 0, 50, "projects a PMO adds to the capacity", ap.PMO_CAPACITY_BINDS
    )
    champion_delay_factor: float = field(
        0.5,
        "x",
        0.05,
        1.0,
        "procurement and decision delays x factor with a champion",
        ap.CHAMPION,
    )
    pmo_cost_annual_usd: float = field(1.5e6, "USD/yr", 0.0, 1e9, "what the PMO costs", ap.PMO)


class Pilot(Strict):
    """Start small and scale what works: pilots and Bayesian evaluation."""

    enabled: bool = False
    share_of_units: float = field(0.03, "fraction", 0.001, 0.5, "pilot size", ap.PILOTS)
    months: int = field(12, "months", 1, 60, "measurement period", ap.PILOTS)
    max_extensions: int = field(
        1, "pilots", 0, 5, "extensions before an undecided pilot stops", ap.PILOTS
    )
    scale_probability: float = field(
        0.7,
        "probability",
        0.5,
        0.999,
        "scale when P(NPV of scaling > 0 | data) >= this",
        ap.PILOTS,
    )
    stop_probability: float = field(
        0.35, "probability", 0.0, 0.5, "stop when P(NPV > 0 | data) < this", ap.PILOTS
    )
    optimism_haircut: float = field(
        0.2,
        "fraction",
        0.0,
        0.9,
        "prior mean = claim x (1 - haircut)",
        ap.PILOTS_OR_PROJECTIONS,
    )
    prior_sd: float = field(
        0.25, "fraction of claim", 0.01, 2.0, "sd of the prior", ap.PILOTS_OR_GUARANTEED_BOND
    )
    tranches: int = field(4, "tranches", 1, 20, "scale-up tranches")
    tranche_months: int = field(6, "months", 1, 60, "months between tranches")


class Financing(Strict):
    """Which instruments the city uses, in order of preference, and their terms."""

    preference: list[Instrument] = Field(
        default_factory=lambda: ["go_bond"],
        description="instruments tried in order until one fits the constraints",
    )
    by_domain: dict[str, list[Instrument]] = Field(
        default_factory=dict, description="per-domain preference overriding the default"
    )
    debt_cap_share: float = field(
        0.12, "fraction", 0.0, 0.5, "city's cap on debt service / general revenue (8-20 %)"
    )
    go_bond: GOBond = Field(default_factory=GOBond)
    revenue_bond: RevenueBond = Field(default_factory=RevenueBond)
    vendor: VendorFinance = Field(default_factory=VendorFinance)
    revolving_fund: RevolvingFund = Field(default_factory=RevolvingFund)
    mini_bonds: MiniBonds = Field(default_factory=MiniBonds)
    ppp: PPP = Field(default_factory=PPP)
    tif: TIF = Field(default_factory=TIF)
    guarantee: Guarantee = Field(default_factory=Guarantee)


class Contracts(Strict):
    """Partnership and risk-sharing terms."""

    payment: PaymentMode = "fixed_price"
    retention_share: float = field(
        0.3,
        "fraction",
        0.0,
        1.0,
        "pay for performance: capex share paid later against KPIs",
        ap.P4P_CITY_FUNDED,
    )
    retention_years: int = field(
        5, "years", 1, 20, "over which the retention is paid", ap.P4P_CITY_FUNDED
    )
    energy_contract: Literal["none", "guaranteed_savings"] = field(
        "none",
        doc="city-financed energy projects: the vendor guarantees savings",
        applies=ap.ANY_SAVINGS,
    )
    guaranteed_share: float = field(
        0.8,
        "fraction",
        0.0,
        1.0,
        "guaranteed savings: share of the claimed savings the vendor guarantees",
        ap.GUARANTEED_SAVINGS,
    )
    guarantee_years: int = field(
        10,
        "years",
        1,
        30,
        "guaranteed savings: years the guarantee runs from deployment",
        ap.GUARANTEED_SAVINGS,
    )
    vendor_savings_share: float = field(
        0.7,
        "fraction",
        0.0,
        1.0,
        "vendor's share under shared savings (50-90 %)",
        ap.SHARED_SAVINGS,
    )
    savings_term_years: int = field(
        10, "years", 1, 30, "shared-savings term (5-20)", ap.SHARED_SAVINGS
    )
    gain_share_city: float = field(
        0.5,
        "fraction",
        0.0,
        1.0,
        "gain sharing: city's share of advertising and fee revenue a vendor's service earns",
        ap.GAIN_SHARING,
    )
    kpi_threshold: float = field(
        0.8,
        "fraction of target",
        0.0,
        1.0,
        "pay for performance: nothing below this",
        ap.PAY_FOR_PERFORMANCE,
    )
    measurement_lag_months: int = field(
        3, "months", 0, 24, "lag of the KPI a payment rests on", ap.KPI_PAID
    )


class BudgetRule(Strict):
    """The city's budget rule: the reserves it keeps and what it does below them."""

    reserve_floor_share: float = field(
        0.08,
        "fraction of revenue",
        0.0,
        0.5,
        "general-fund reserves the city keeps (GFOA: at least two months, ~17 %); below it "
        "the city starts no procurement, defers scale-up tranches and cuts services spending",
    )
    cut_share: float = field(
        0.03,
        "fraction",
        0.0,
        0.5,
        "share of services spending cut each month while reserves are below the floor",
    )


class Policy(Strict):
    """The alliance design the city chooses (XLRM: L)."""

    domains: list[str] = Field(
        default_factory=lambda: ["streetlights", "water", "buildings", "maas", "wifi", "traffic"],
        description="technology domains the city pursues, in priority order",
    )
    procurement: Procurement = Field(default_factory=Procurement)
    governance: Governance = Field(default_factory=Governance)
    pilot: Pilot = Field(default_factory=Pilot)
    financing: Financing = Field(default_factory=Financing)
    contracts: Contracts = Field(default_factory=Contracts)
    budget: BudgetRule = Field(default_factory=BudgetRule)


class Meta(Strict):
    """What the scenario file is."""

    name: str = "unnamed"
    description: str = ""
    extends: str | None = None
    overlays: list[str] = Field(default_factory=list)


class Scenario(Strict):
    """A world, a policy and the overlays already applied to them."""

    scenario: Meta = Field(default_factory=Meta)
    world: World = Field(default_factory=World)
    policy: Policy = Field(default_factory=Policy)
