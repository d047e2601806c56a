"""Every active numeric parameter of every shipped scenario moves a KPI.

For each shipped scenario (``scenarios/*.toml``, not the overlays) every numeric
parameter (int or float, not bool) that :func:`sim.config.parameters` reports as
``active`` is perturbed and the model run with fewer simulated residents
(:data:`AGENTS`). The perturbation is x1.5, then x0.6 (a direction x1.5 can miss:
a cap that binds only lower, a lifetime that ends only sooner); a value at 0 or
below moves into its range by a tenth of the range; the schema's bounds are
respected (halfway to the bound when the factor leaves the range), integers move
by at least 1 and month indices stay inside the horizon. The runs, in order,
until a KPI moves: x1.5 over half the horizon on the first seed (cheap: most
parameters act early), x1.5 over the whole horizon on every seed of
:data:`SEEDS`, x0.6 over the whole horizon on the first seed. A parameter that
moves no KPI in any of them fails the test, unless it is in :data:`KNOWN_INERT`
with the reason found. The list can only shrink: an entry that moves a KPI, or
that is no longer an active numeric parameter, fails the test too (remove it).

"Moves a KPI" means some KPI differs by more than a relative 1e-9
(``ledger_imbalance_usd``, a check, is ignored): a parameter that only moves
rounding noise is inert.

The runs go to a pool of two processes (spawn). The test takes about 2.5 minutes
on two idle cores, half of it for ``phoenix_consortium`` (twelve cities, run over
120 of its 240 months) and much of the rest for the allow-listed parameters, which
need every run. ``python tests/test_active_parameters.py [SCENARIO ...]`` prints
every inert active parameter with its allowance and every problem, without
failing; ``--inactive`` checks the other way round, that no parameter reported as
inactive moves a KPI (the same runs; about 5 minutes for every scenario).
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from typing import Any

import pytest

from sim.config import LIBRARY, ScenarioError, load_scenario, parameters
from sim.config.applicability import ANY_USER_FACING, MINI_BONDS

#: Seeds each perturbation is run on (until one shows a change).
SEEDS = (1, 2)
#: Simulated residents: enough for a pilot's handful of users to move adoption (and for
#: a mini-bond offering's first buyers to vary); fewer where residents only pay taxes.
AGENTS = {"residents_act": 5000, "other": 1000}
#: Scenarios run over a shorter horizon to keep the test fast (twelve cities cost).
HORIZON = {"phoenix_consortium": 120}
#: A KPI moved when it differs by more than this, relatively.
RTOL = 1e-9
#: KPIs that are checks, not outcomes.
IGNORED = frozenset({"ledger_imbalance_usd"})
WORKERS = 2

# ------------------------------------------------------------------ the allow-list
# Why an active parameter moves no KPI. Two kinds (the one dead code path found, the
# property tax rate, is now declared as never applying): a condition of the run, not of
# the scenario, that never occurs on these seeds (a downgrade, an exit, an incident, a
# pilot near its threshold); or a condition the model has that the schema does not
# declare (too fine to state in advance).

NO_DOWNGRADE = (
    "read only once a city is downgraded to this rating, a run-time event: no run of this "
    "scenario is downgraded (reserves and debt service stay inside the review's bounds)"
)
CAPITAL_AMPLE = (
    "investors' capital (5e9 each) never binds against issues of 1e6-1e8: the count and "
    "the capital act only when an issue exceeds every lender's free capital"
)
CASH_AMPLE = (
    "vendors' cash (5e7, plus an equal credit line) never binds: no vendor goes "
    "insolvent and every partner can fund its tranches"
)
RARE_INCIDENTS = (
    "incidents are rare (0-1 a run at these hazards): x1.5 or x0.6 adds or removes none on "
    "these seeds, and the halt and the trust lost act only after one"
)
ORPHANS = (
    "acts only when every partner of a city-owned project has exited, a run-time event "
    "that does not happen to such a project in these runs"
)
PILOTS_DECIDED = (
    "every pilot ends with P(NPV of scaling > 0) near 0 or 1, far from the thresholds, so "
    "no decision (scale, extend, stop) moves (experiments/specs/sobol_alliance.toml)"
)
POOLED_PILOTS = (
    "the members' pilots pool their evidence: all 36 end with P(NPV > 0) = 1, so the "
    "prior, the noise, the thresholds and the extensions move no decision"
)
MAAS_STOPPED = (
    "the MaaS pilot (4 units) is always stopped: its break-even performance is above its "
    "claim (O&M ~6,900 a unit-month against ~5,400 of fees and ~4,500 of welfare), so "
    "what acts after, or through, a scaled MaaS does not"
)
ONE_APPROVAL = (
    "few approvals, each an exponential draw rounded up to whole months (mean 1.6 months "
    "in a sandbox): the same months on these seeds at any of these means"
)

RARE_REFUSALS = (
    "refusals are draws of 0-14 % per decision (rejection_rate x privacy_sensitivity): "
    "x1.5 or x0.6 flips none on these seeds, and a domain at sensitivity 0 moves only to "
    "0.1 (3 % a decision); tests/test_model.py shows a strict regulator at work"
)
FLOOR_NOT_REACHED = (
    "the general fund never opens a month below the reserve floor in these runs (nor at "
    "x1.5 of the floor, where listed), so the cut acts only in worse worlds (a "
    "recession, overruns: tests/test_model.py)"
)
HONEST_UNDER_P4P = (
    "under pay for performance every bidder's best bid claims its true performance (an "
    "over-claim costs more in premium than it wins), so the optimism bias never reaches "
    "a claim (docs/model.md 3.3.9)"
)
RENEWAL_ORPHANS = (
    "re-procurement ahead of end of life applies only to city-owned equipment whose "
    "partners have all left, a run-time event: no such project reaches its end of life "
    "in these runs"
)
PILOT_BIAS_DOMINATES = (
    "the pilot's persistent bias (bias_sd 0.1) bounds what its monthly measurements add, "
    "and no pilot ends near a threshold on these seeds"
)
NO_LATER_AWARD = (
    "learning lowers a vendor's later bids only: no later award in this domain on these "
    "seeds (a renewal keeps the contract's price)"
)
FUND_SHARE = (
    "at x0.6 and x1.5 of the share the same tranches fit in the revolving fund on these "
    "seeds: each is either well inside the share of the fund's balance or well beyond it"
)
NO_DECLINES = (
    "no vendor's risk premium comes near the limit (half the contract's value to it), so "
    "no vendor declines at x0.6 or x1.5 of it"
)


def _each(paths: list[str], reason: str) -> dict[str, str]:
    return dict.fromkeys(paths, reason)


def _paths(prefix: str, names: list[str], suffix: str = "") -> list[str]:
    return [f"{prefix}{n}{suffix}" for n in names]


BELOW_AA = ["A", "Baa", "Ba", "B"]
DOMAINS = ["streetlights", "water", "buildings", "maas", "wifi", "traffic"]
PHOENIX = [
    "phoenix", "mesa", "chandler", "gilbert", "glendale", "scottsdale",
    "peoria", "tempe", "surprise", "goodyear", "buckeye", "avondale",
]  # fmt: skip
PILOT_THRESHOLDS = [
    "policy.pilot.max_extensions",
    "policy.pilot.scale_probability",
    "policy.pilot.stop_probability",
]
LENDERS = ["world.investors.count", "world.investors.capital_usd"]

#: Active numeric parameters that move no KPI, per scenario: path -> the reason found.
KNOWN_INERT: dict[str, dict[str, str]] = {
    "alliance": {
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_10y.", BELOW_AA), NO_DOWNGRADE),
        **_each(_paths("world.rates.yields_20y.", BELOW_AA), NO_DOWNGRADE),
        "world.stress.incident_hazard_factor": RARE_INCIDENTS,
        **_each(_paths("world.technology.", DOMAINS, ".incident_hazard_monthly"), RARE_INCIDENTS),
        **_each(
            ["world.regulator.halt_months", "world.residents.incident_trust_loss"], RARE_INCIDENTS
        ),
        **_each(_paths("world.technology.", DOMAINS, ".orphan_factor"), ORPHANS),
        **_each(
            _paths(
                "world.technology.maas.",
                ["learning_rate", "measurement_noise_sd", "bass_p_annual", "bass_q_annual"]
                + ["churn_monthly"],
            )
            + ["world.macro.income_growth_annual"],  # incomes act through MaaS's fee
            MAAS_STOPPED,
        ),
        **_each(
            [
                "world.regulator.rejection_rate",
                *_paths("world.technology.", DOMAINS, ".privacy_sensitivity"),
            ],
            RARE_REFUSALS,
        ),
        **_each(
            _paths("world.technology.", ["streetlights", "traffic"], ".learning_rate"),
            NO_LATER_AWARD,
        ),
        **_each(
            _paths("world.technology.", ["streetlights", "traffic"], ".measurement_noise_sd"),
            PILOT_BIAS_DOMINATES,
        ),
        "policy.budget.cut_share": FLOOR_NOT_REACHED,
        "policy.financing.revolving_fund.max_loan_share": FUND_SHARE,
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        "world.vendors.cash_usd": CASH_AMPLE,
        **_each(
            ["world.vendors.optimism_bias_mean", "world.vendors.optimism_bias_sd"], HONEST_UNDER_P4P
        ),
    },
    "denver_minibonds": {
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_20y.", ["AA", *BELOW_AA]), NO_DOWNGRADE),
        "world.vendors.cash_usd": CASH_AMPLE,
        **_each(
            [
                "world.regulator.halt_months",
                "world.residents.incident_trust_loss",
                "world.stress.incident_hazard_factor",
                "world.technology.buildings.incident_hazard_monthly",
            ],
            RARE_INCIDENTS,
        ),
        "world.technology.buildings.orphan_factor": ORPHANS,
        **_each(
            ["world.vendors.optimism_bias_mean", "world.vendors.optimism_bias_sd"],
            "claims are read only to rank the RFP's bidders here (no pilot, fixed price, "
            "GO bonds and mini-bonds, no user-facing domain): the winner does not change",
        ),
        "world.residents.district_income_spread": (
            "the issue sells out to its first buyers, who buy the cap whatever their "
            "district; the spread acts on adoption and TIF, which this scenario has not"
        ),
        "policy.financing.mini_bonds.offering_days": (
            "the issue sells out within minutes (0.02 h of a 30-day offering): the "
            "offering's length binds only below that"
        ),
        **_each(
            ["policy.budget.cut_share", "policy.budget.reserve_floor_share"], FLOOR_NOT_REACHED
        ),
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        "world.technology.buildings.privacy_sensitivity": RARE_REFUSALS,
    },
    "helsinki_maas": {
        "world.investors.capital_usd": CAPITAL_AMPLE,
        "policy.budget.cut_share": FLOOR_NOT_REACHED,
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        "world.technology.maas.privacy_sensitivity": RARE_REFUSALS,
        "world.vendors.cash_usd": CASH_AMPLE,
        **_each(
            [
                "world.regulator.approval_months_mean",
                "world.regulator.sandbox_factor",
                "world.stress.approval_delay_factor",
            ],
            ONE_APPROVAL,
        ),
        "policy.financing.debt_cap_share": (
            "no debt counts against the cap (the PPP's debt is the vehicle's) and the "
            "existing service (5 % of revenue) stays under caps of 7.2-18 %, so neither "
            "the cap test nor the rating review moves"
        ),
        "world.stress.rate_shock_bp": (
            "the shock starts at month 24, after the PPP's last tranche (month 21); "
            "nothing else reads a yield"
        ),
        "world.technology.maas.orphan_factor": (
            "the PPP vehicle still owns the platform when the operator exits (month 96, "
            "inside its 10-year term), and a partner-owned project ends with its vendor: "
            "the orphan factor acts only on city-owned equipment"
        ),
    },
    "phoenix_consortium": {
        **_each(
            _paths(
                "world.cities.",
                ["phoenix", "mesa", "chandler", "gilbert", "glendale", "scottsdale"]
                + ["peoria", "tempe"],
                ".reserves_usd",
            ),
            "reserves act on the rating only below 5 % of revenue (x0.6 leaves 9 %) and "
            "on the budget-floor KPI only for the member with the lowest general fund",
        ),
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_20y.", ["Baa", "Ba", "B"]), NO_DOWNGRADE),
        "world.vendors.cash_usd": CASH_AMPLE,
        "world.technology.buildings.incident_hazard_monthly": RARE_INCIDENTS,
        **_each(_paths("world.technology.", ["buildings", "water"], ".orphan_factor"), ORPHANS),
        **_each(
            [
                *PILOT_THRESHOLDS,
                "policy.pilot.optimism_haircut",
                "policy.pilot.prior_sd",
                *_paths(
                    "world.technology.",
                    ["streetlights", "water", "buildings"],
                    ".measurement_noise_sd",
                ),
            ],
            POOLED_PILOTS,
        ),
        "world.vendors.optimism_bias_mean": (
            "claims rank the framework's call-offs (claim x interoperability) and set the "
            "pilots' prior, but pooled evidence decides every pilot and the ranking holds"
        ),
        **_each(
            ["policy.budget.cut_share", "policy.budget.reserve_floor_share"], FLOOR_NOT_REACHED
        ),
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        **_each(["world.pilots.bias_mean", "world.pilots.bias_sd"], POOLED_PILOTS),
    },
    "revolving_fund": {
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_20y.", BELOW_AA), NO_DOWNGRADE),
        "world.vendors.cash_usd": CASH_AMPLE,
        **_each(
            [
                "world.regulator.halt_months",
                "world.residents.incident_trust_loss",
                "world.stress.incident_hazard_factor",
                "world.technology.streetlights.incident_hazard_monthly",
                "world.technology.buildings.incident_hazard_monthly",
            ],
            RARE_INCIDENTS,
        ),
        **_each(
            _paths("world.technology.", ["streetlights", "buildings"], ".orphan_factor"), ORPHANS
        ),
        **_each(["policy.pilot.max_extensions", "policy.pilot.stop_probability"], PILOTS_DECIDED),
        "policy.budget.cut_share": FLOOR_NOT_REACHED,
        "policy.financing.revolving_fund.max_loan_share": FUND_SHARE,
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        "world.technology.buildings.privacy_sensitivity": RARE_REFUSALS,
        "world.technology.streetlights.learning_rate": NO_LATER_AWARD,
        "world.technology.streetlights.measurement_noise_sd": PILOT_BIAS_DOMINATES,
        "world.vendors.max_risk_loading": NO_DECLINES,
        **_each(
            ["world.vendors.optimism_bias_mean", "world.vendors.optimism_bias_sd"], HONEST_UNDER_P4P
        ),
    },
    "san_diego_streetlights": {
        "world.vendors.cash_usd": CASH_AMPLE,
        "world.technology.streetlights.incident_hazard_monthly": RARE_INCIDENTS,
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        **_each(
            _paths("world.technology.", ["streetlights", "sensors"], ".privacy_sensitivity"),
            RARE_REFUSALS,
        ),
        **_each(
            _paths("world.technology.", ["streetlights", "sensors"], ".orphan_factor"),
            ORPHANS + " (GE exits only with the vendor_default overlay)",
        ),
        "policy.financing.debt_cap_share": (
            "the vendor loan's service (~2.5M a year) and the existing service (5.2 % of "
            "revenue) stay under caps of 7.2-18 %"
        ),
    },
    "tif_district": {
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_20y.", BELOW_AA), NO_DOWNGRADE),
        "world.vendors.cash_usd": CASH_AMPLE,
        **_each(
            [
                "world.stress.incident_hazard_factor",
                "world.technology.wifi.incident_hazard_monthly",
            ],
            RARE_INCIDENTS,
        ),
        "world.technology.wifi.orphan_factor": ORPHANS,
        **_each(["policy.pilot.max_extensions", "policy.pilot.stop_probability"], PILOTS_DECIDED),
        "policy.procurement.renewal_lead_months": RENEWAL_ORPHANS,
        **_each(
            ["world.regulator.rejection_rate", "world.technology.wifi.privacy_sensitivity"],
            RARE_REFUSALS,
        ),
        "world.vendors.max_risk_loading": NO_DECLINES,
        **_each(
            ["world.vendors.optimism_bias_mean", "world.vendors.optimism_bias_sd"], HONEST_UNDER_P4P
        ),
        "policy.financing.go_bond.term_years": (
            "the TIF bond always covers wi-fi's tranches, so the GO bond behind it in the "
            "preference list is never issued"
        ),
    },
    "traditional": {
        **_each(LENDERS, CAPITAL_AMPLE),
        **_each(_paths("world.rates.yields_20y.", BELOW_AA), NO_DOWNGRADE),
        "world.vendors.cash_usd": CASH_AMPLE,
        "world.stress.incident_hazard_factor": RARE_INCIDENTS,
        **_each(
            _paths(
                "world.technology.",
                ["streetlights", "water", "buildings", "maas", "wifi", "traffic"],
                ".incident_hazard_monthly",
            ),
            RARE_INCIDENTS,
        ),
        **_each(
            _paths("world.technology.", ["buildings", "wifi"], ".orphan_factor"),
            ORPHANS,
        ),
        "policy.budget.cut_share": FLOOR_NOT_REACHED,
        **_each(
            [
                "world.regulator.rejection_rate",
                *_paths("world.technology.", DOMAINS, ".privacy_sensitivity"),
            ],
            RARE_REFUSALS,
        ),
    },
}

# ------------------------------------------------------------------ the machinery


def shipped() -> list[str]:
    """The shipped scenarios (not the overlays)."""
    return sorted(p.stem for p in LIBRARY.glob("*.toml"))


def settings(name: str) -> dict[str, Any]:
    """Overrides every run of a scenario gets: fewer residents, maybe a shorter horizon."""
    scn = load_scenario(name)
    act = ANY_USER_FACING.holds(scn) or MINI_BONDS.holds(scn)
    out: dict[str, Any] = {
        "world.residents.simulated_agents": AGENTS["residents_act" if act else "other"]
    }
    if name in HORIZON:
        out["world.horizon_months"] = HORIZON[name]
    return out


@cache
def scenario(name: str) -> Any:
    """The scenario as the test runs it."""
    return load_scenario(name, overrides=settings(name))


def _bounds(allowed: str) -> tuple[float, float]:
    if ".." not in allowed:
        return -math.inf, math.inf
    lo, hi = (t.strip() for t in allowed.split("..", 1))
    return (float(lo) if lo else -math.inf, float(hi) if hi else math.inf)


def perturbations(value: float, unit: str, allowed: str, horizon: int) -> list[float]:
    """Values to try, in order: up (x1.5) then down (x0.6), or into range from 0 or below.

    Each direction falls back to halfway to the bound when the factor leaves the range.

    Args:
        value: The parameter's value.
        unit: Its unit (a ``month`` is an index: kept inside the horizon).
        allowed: Its range, ``"lo .. hi"`` or empty.
        horizon: The run's horizon (months).

    Returns:
        Distinct values inside the range (integers for an integer parameter).
    """
    lo, hi = _bounds(allowed)
    if unit == "month":
        hi = min(hi, horizon - 1)
    if value > 0:
        ups = [value * 1.5] + ([(value + hi) / 2] if math.isfinite(hi) else [])
        downs = [value * 0.6] + ([(value + lo) / 2] if math.isfinite(lo) else [])
    else:
        ups = [value + (min(0.1 * (hi - value), 1000.0) if math.isfinite(hi) else 1.0)]
        downs = []
    out: list[float] = []
    for options in (ups, downs):
        for x in options:
            if isinstance(value, int):
                x = int(round(x))
                if x == value:
                    x = value + (1 if options is ups else -1)
            if lo <= x <= hi and x != value and x not in out:
                out.append(x)
                break
    return out


def candidates(name: str, active: bool = True) -> list[tuple[str, str, list[float]]]:
    """(scenario, path, values to try) of every active (or inactive) numeric parameter."""
    scn = scenario(name)
    out = []
    for p in parameters(scn):
        v = p.value
        if p.active == active and isinstance(v, (int, float)) and not isinstance(v, bool):
            tries = perturbations(v, p.unit, p.allowed, scn.world.horizon_months)
            out.append((name, p.path, tries))
    return out


def moved(a: dict[str, float], b: dict[str, float]) -> list[str]:
    """KPIs that differ by more than :data:`RTOL`."""
    return [
        k
        for k in a
        if k not in IGNORED and not math.isclose(a[k], b.get(k, math.nan), rel_tol=RTOL)
    ]


@cache
def _base(name: str, seed: int, months: int | None) -> dict[str, float]:
    import sim

    return sim.evaluate(None, scenario(name), seed=seed, months=months)


def stages(name: str, values: list[float]) -> list[tuple[float, int, int | None]]:
    """The runs of one parameter's probe, in order: (value, seed, months or None = full).

    First a cheap run over half the horizon (most parameters act early), then the first
    value (x1.5) over the full horizon on every seed, then the second (x0.6, a direction
    x1.5 can miss: a cap that binds only lower, a lifetime that ends only sooner) on the
    first seed.
    """
    if not values:
        return []
    short = scenario(name).world.horizon_months // 2
    return [
        (values[0], SEEDS[0], short),
        *((values[0], seed, None) for seed in SEEDS),
        *((value, SEEDS[0], None) for value in values[1:]),
    ]


def probe(job: tuple[str, str, list[float]]) -> tuple[str, str, str | None]:
    """Run one parameter's perturbations until a KPI moves (in a worker process).

    Args:
        job: (scenario, path, values to try).

    Returns:
        (scenario, path, None when inert, else what moved: "value v, seed s: kpi, ...").
    """
    import sim

    name, path, values = job
    bad: set[float] = set()
    for value, seed, months in stages(name, values):
        if value in bad:
            continue
        try:
            kpis = sim.evaluate({path: value}, scenario(name), seed=seed, months=months)
        except ScenarioError:  # inconsistent with another parameter: try the next value
            bad.add(value)
            continue
        hit = moved(_base(name, seed, months), kpis)
        if hit:
            span = f"{months} months" if months else "full horizon"
            return name, path, f"{value!r}, seed {seed}, {span}: {', '.join(hit[:3])}"
    return name, path, None


def survey(
    names: list[str] | None = None, active: bool = True
) -> dict[tuple[str, str], str | None]:
    """Probe every active (or inactive) numeric parameter of the scenarios on a process pool.

    Args:
        names: Scenarios (default: every shipped one).
        active: Probe the active parameters (else the inactive ones).

    Returns:
        (scenario, path) -> what moved, or None when nothing did.
    """
    jobs = [job for name in (names or shipped()) for job in candidates(name, active)]
    jobs.sort(key=lambda j: j[0] != "phoenix_consortium")  # the slowest first
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(WORKERS, mp_context=ctx) as pool:
        return {(n, p): hit for n, p, hit in pool.map(probe, jobs, chunksize=2)}


def verdict(result: dict[tuple[str, str], str | None]) -> list[str]:
    """One line per problem: an inert active parameter not allowed, or a stale allowance."""
    lines = []
    for (name, path), hit in sorted(result.items()):
        allowed = KNOWN_INERT.get(name, {}).get(path)
        if hit is None and allowed is None:
            lines.append(
                f"{name}: {path} is active but moves no KPI on seeds {SEEDS}: declare when "
                "it applies (sim/config/applicability.py) or list it in KNOWN_INERT with why"
            )
        elif hit is not None and allowed is not None:
            lines.append(f"{name}: {path} moves a KPI now ({hit}): remove it from KNOWN_INERT")
    for name, entries in sorted(KNOWN_INERT.items()):
        for path in sorted(entries):
            if (name, path) not in result:
                lines.append(
                    f"{name}: {path} is no longer an active numeric parameter: "
                    "remove it from KNOWN_INERT"
                )
    return lines


def test_every_active_parameter_moves_a_kpi():
    problems = verdict(survey())
    assert not problems, "\n".join(problems)


def test_the_allow_list_names_shipped_scenarios_with_reasons():
    assert set(KNOWN_INERT) <= set(shipped())
    for entries in KNOWN_INERT.values():
        assert all(reason.strip() for reason in entries.values())


def test_perturbations_respect_ranges_integers_and_the_horizon():
    assert perturbations(0.7, "probability", "0.5 .. 0.999", 240) == pytest.approx([0.8495, 0.6])
    assert perturbations(2, "districts", "1 .. 100", 240) == [3, 1]
    assert perturbations(1, "pilots", "0 .. 5", 240) == [2, 0]  # 0.6 rounds to 1: then 1 - 1
    assert perturbations(0.0, "bp", "0 .. 2000", 240) == [200.0]
    assert perturbations(-1, "month", "-1 .. 1200", 240) == [23]
    assert perturbations(96, "month", "-1 .. 1200", 120) == [108, 58]


if __name__ == "__main__":
    inactive = "--inactive" in sys.argv
    chosen = [a for a in sys.argv[1:] if a != "--inactive"] or None
    res = survey(chosen, active=not inactive)
    if inactive:
        for (name, path), hit in sorted(res.items()):
            if hit is not None:
                print(f"{name}\t{path}\tINACTIVE BUT MOVES A KPI: {hit}")
        sys.exit(0)
    inert = sorted(k for k, v in res.items() if v is None)
    for name, path in inert:
        why = KNOWN_INERT.get(name, {}).get(path, "-- NOT LISTED --")
        print(f"{name}\t{path}\t{why}")
    print("\n".join(verdict(res)), file=sys.stderr)
