"""The model's mechanisms, each shown to move its outcome in the documented direction.

Every comparison runs the same world (same seed, so the same vendors, residents
and draws of the world stream) under two settings of one lever or uncertainty.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.model import AllianceModel
from sim.model.api import resolve

#: Mechanism tests run where the regulator refuses nothing unless a test says otherwise.
SMALL = {"world.residents.simulated_agents": 4000, "world.regulator.rejection_rate": 0.0}


def run(scenario="alliance", seed=0, months=120, overlays=(), **overrides):
    return sim.run(
        scenario,
        seed=seed,
        months=months,
        overlays=overlays,
        overrides={**SMALL, **{k.replace("__", "."): v for k, v in overrides.items()}},
    )


def model(scenario="alliance", seed=0, months=120, overlays=(), **overrides):
    scn = resolve(
        scenario, {**SMALL, **{k.replace("__", "."): v for k, v in overrides.items()}}, overlays
    )
    m = AllianceModel(scn, seed=seed, months=months)
    m.run()
    return m


def mean_kpi(key, seeds=range(4), **kwargs):
    return float(np.mean([run(seed=s, **kwargs).kpis[key] for s in seeds]))


def events(result, name):
    return result.events[result.events.event == name]


# --------------------------------------------------------------------------- invariants


def test_same_seed_same_numbers_to_the_bit():
    """Two runs with one seed give identical KPIs, series and ledgers."""
    a, b = run(seed=7), run(seed=7)
    assert a.kpis == b.kpis
    assert a.timeseries.equals(b.timeseries)
    assert np.array_equal(a.ledger.to_arrays()["amount"], b.ledger.to_arrays()["amount"])
    assert run(seed=8).kpis != a.kpis


def test_no_nan_or_inf_in_any_output():
    """KPIs and every series are finite, for both shipped policies under stress."""
    for scenario in ("traditional", "alliance"):
        r = run(scenario, overlays=("recession", "rate_shock", "vendor_default"))
        assert all(math.isfinite(v) for v in r.kpis.values())
        assert np.isfinite(r.timeseries.to_numpy()).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    shift=st.floats(-100, 400),
    pilot=st.booleans(),
    mode=st.sampled_from(["rfp", "rfi_mou", "framework"]),
    perf=st.floats(0.2, 1.5),
)
def test_ledger_balances_over_random_worlds(seed, shift, pilot, mode, perf):
    """Debits equal credits and balances sum to zero whatever the parameters."""
    r = run(
        seed=seed,
        months=60,
        world__rates__shift_bp=shift,
        policy__pilot__enabled=pilot,
        policy__procurement__mode=mode,
        world__stress__performance_factor=perf,
    )
    r.ledger.check_balanced()
    assert r.kpis["ledger_imbalance_usd"] < 1e-3


def test_every_money_kpi_comes_from_the_ledger():
    """Savings booked in the ledger equal the savings KPI."""
    r = run()
    flows = r.ledger.flows_by_kind()
    assert flows.loc["savings", "inflow"] == pytest.approx(r.kpis["savings_usd"], rel=1e-9)


# --------------------------------------------------------------------------- governance


def test_champion_shortens_time_to_scale():
    """A champion cuts procurement and decision delays: projects scale sooner."""

    def months_to_scale(champion):
        out = []
        for s in range(3):
            r = run("traditional", seed=s, policy__governance__champion=champion)
            ev = r.events
            start = ev[ev.event == "procurement_start"].groupby("project").month.min()
            scaled = ev[ev.event == "scaled"].groupby("project").month.min()
            out += list((scaled - start).dropna())
        return np.mean(out)

    assert months_to_scale(True) < months_to_scale(False) - 2


def test_pmo_runs_more_projects_at_once():
    """A PMO raises capacity, so more domains are under way early."""
    with_pmo = run("traditional", months=24, policy__governance__pmo=True)
    without = run("traditional", months=24)
    assert with_pmo.kpis["projects_started"] > without.kpis["projects_started"]


def test_framework_is_faster_than_rfp():
    """Framework call-off awards in weeks; an RFP takes most of a year."""

    def months_to_award(mode):
        out = []
        for s in range(3):
            ev = run(
                "traditional",
                seed=s,
                months=48,
                policy__procurement__mode=mode,
                policy__domains=["streetlights", "water"],
            ).events
            start = ev[ev.event == "procurement_start"].set_index("project").month
            award = ev[ev.event == "award"].set_index("project").month
            out += list((award - start).dropna())
        return np.mean(out)

    framework, rfp = months_to_award("framework"), months_to_award("rfp")
    assert rfp > 9  # 9-12 months for a competitive contract end to end (with silo delay)
    assert framework < rfp - 5  # weeks of call-off plus the same silo delay


def test_sandbox_shortens_regulatory_approval():
    """A regulatory sandbox multiplies approval delays by its factor."""

    def approval_wait(sandbox):
        waits = []
        for s in range(4):
            ev = run("traditional", seed=s, months=60, policy__governance__sandbox=sandbox).events
            award = ev[ev.event == "award"].groupby("project").month.min()
            first = ev[ev.event == "tranche"].groupby("project").month.min()
            waits += list((first - award).dropna())
        return np.mean(waits)

    assert approval_wait(True) < approval_wait(False)


def test_incidents_halt_deployments_and_cost_trust():
    """More incidents (loss of social licence) mean halts and lower resident trust."""
    calm = run(seed=3, world__stress__incident_hazard_factor=0.0)
    angry = run(seed=3, world__stress__incident_hazard_factor=20.0)
    assert calm.kpis["incidents"] == 0
    assert angry.kpis["incidents"] > 3
    assert len(events(angry, "incident_halt")) == angry.kpis["incidents"]
    assert angry.kpis["trust_final"] < calm.kpis["trust_final"]


# --------------------------------------------------------------------------- pilots


def test_underperformance_is_stopped_more_often_with_larger_pilots():
    """Larger pilots measure more precisely, so a technology 10 % short is caught more often.

    (The underperformance overlay's 40 % of the claim is caught by pilots of any size.)
    """

    def stop_share(share):
        stopped = started = 0
        for s in range(6):
            r = run(
                seed=s,
                months=36,
                world__stress__performance_factor=0.9,
                policy__pilot__share_of_units=share,
                policy__pilot__max_extensions=0,
                policy__pilot__months=4,
            )
            stopped += r.kpis["pilots_stopped"]
            started += r.kpis["pilots_started"]
        return stopped / started

    assert stop_share(0.2) > stop_share(0.002)


def test_pilots_stop_bad_technology_that_traditional_rollout_keeps():
    """Under underperformance, pilots cut sunk cost exposure versus full roll-out."""
    alliance = run(overlays=("underperformance",))
    assert alliance.kpis["pilots_stopped"] >= 1
    trad = run("traditional", overlays=("underperformance",))
    assert trad.kpis["pilots_stopped"] == 0
    assert alliance.kpis["fiscal_npv_usd"] > trad.kpis["fiscal_npv_usd"]


def test_consortium_shares_pilot_evidence():
    """In a consortium a pilot's measurements reach every member city's evaluation."""
    cities = {
        f"world.cities.c{i}": {
            "population": 150_000,
            "general_revenue_annual_usd": 3e8,
            "reserves_usd": 4.5e7,
            "existing_debt_service_annual_usd": 2.4e7,
        }
        for i in range(3)
    }
    scn = resolve("alliance", {**SMALL, "world.residents.simulated_agents": 3000})
    data = scn.model_dump()
    data["world"]["cities"] = {k.split(".")[-1]: v for k, v in cities.items()}
    shared = AllianceModel(resolve(data), seed=1, months=30)
    shared.run()
    domains = shared.scenario.world.technology
    keys = {k for k in shared.consortium.evidence.keys() if k[0] in domains}
    assert keys, "consortium evidence is keyed by domain, not by city"
    data["world"]["cities"] = {
        k: {**v, "consortium_member": False} for k, v in data["world"]["cities"].items()
    }
    alone = AllianceModel(resolve(data), seed=1, months=30)
    alone.run()
    assert all(k[0] in alone.scenario.world.cities for k in alone.consortium.evidence.keys())


# --------------------------------------------------------------------------- finance


def test_guarantee_lowers_investors_required_return():
    """A city guarantee removes part of the risk premium investors ask for."""
    m = model(months=1)
    inv = m.investors[0]
    inv.observe_default("revenue_bond")
    plain = inv.bond_yield("AA", 15, revenue=True)
    guaranteed = inv.bond_yield("AA", 15, revenue=True, covered_share=0.8)
    assert guaranteed < plain
    assert m.investors[2].equity_return(demand_risk=True, covered_share=0.9) < m.investors[
        2
    ].equity_return(demand_risk=True)


def test_guarantee_is_a_contingent_liability_that_gets_called():
    """Guaranteeing a revenue bond's savings books a contingent liability and calls on it."""
    kw = dict(
        overlays=("underperformance",),
        policy__pilot__enabled=False,
        policy__financing__by_domain={"water": ["revenue_bond"]},
        policy__domains=["water"],
        world__technology__water__benefit_per_unit_month_usd=9.0,
    )
    plain = run(**kw)
    guaranteed = run(**kw, policy__financing__guarantee__savings_floor_share=0.9)
    assert plain.kpis["contingent_liabilities_usd"] == 0
    assert guaranteed.kpis["contingent_liabilities_usd"] > 0
    assert guaranteed.kpis["guarantee_calls_usd"] > 0


def test_revenue_bond_defaults_without_touching_the_general_fund():
    """A revenue bond whose project underdelivers defaults; no debt service from the city."""
    r = run(
        seed=2,
        months=120,
        policy__pilot__enabled=False,
        world__stress__performance_factor=0.25,
        policy__domains=["water"],
        policy__financing__by_domain={"water": ["revenue_bond"]},
        policy__contracts__energy_contract="none",
        world__technology__water__benefit_per_unit_month_usd=6.0,
    )
    assert r.kpis["defaults"] >= 1
    e = r.ledger.entries()
    ds = e[e.kind == "debt_service"]
    project_ds = ds[ds.project > 0]
    assert len(project_ds) > 0
    assert not project_ds.credit_name.str.endswith(":general").any()
    assert (project_ds.credit_name.str.contains(":project")).all()


def test_revenue_bond_needs_coverage():
    """A revenue bond is only issued when projected cash covers debt service by the covenant."""
    r = run(
        policy__pilot__enabled=False,
        policy__domains=["water"],
        policy__financing__by_domain={"water": ["revenue_bond"]},
        policy__financing__revenue_bond__dscr_covenant=5.0,
    )
    assert r.kpis["projects_scaled"] == 0
    assert r.kpis["financing_failures"] > 0


def test_debt_cap_limits_go_borrowing():
    """A tight debt-service cap makes GO bonds unavailable."""
    loose = run("traditional", policy__financing__debt_cap_share=0.3)
    tight = run("traditional", policy__financing__debt_cap_share=0.07)
    assert tight.kpis["financing_failures"] > loose.kpis["financing_failures"]
    assert tight.kpis["peak_debt_service_ratio"] <= loose.kpis["peak_debt_service_ratio"]


def test_rate_shock_raises_borrowing_costs():
    """+200 bp makes the same GO-financed programme cost the city more."""
    base = mean_kpi("fiscal_npv_usd", scenario="traditional", seeds=range(2), months=240)
    shocked = mean_kpi(
        "fiscal_npv_usd",
        scenario="traditional",
        seeds=range(2),
        months=240,
        overlays=("rate_shock",),
    )
    assert shocked < base


def test_recession_lowers_the_budget_low_point():
    """A recession cuts revenue below the trend budget: the general fund dips."""
    base = run("traditional")
    hit = run("traditional", overlays=("recession",))
    assert hit.kpis["min_budget_balance_usd"] < base.kpis["min_budget_balance_usd"] - 1e7


def test_ppp_user_fees_put_demand_risk_on_the_investor():
    """Under user fees a demand shortfall hurts the vehicle; under availability, the city."""

    def ppp(payment, demand):
        return run(
            seed=4,
            months=120,
            policy__pilot__enabled=False,
            policy__domains=["maas"],
            policy__financing__by_domain={"maas": ["ppp"]},
            policy__financing__ppp__payment=payment,
            policy__financing__ppp__dscr_target=1.5 if payment == "user_fees" else 1.2,
            world__technology__maas__market_potential=demand,
            # app-like adoption (Helsinki's fitted speed), so fees respond within the horizon
            world__technology__maas__bass_p_annual=0.36,
            world__technology__maas__bass_q_annual=4.56,
        )

    fees_hi, fees_lo = ppp("user_fees", 1.0), ppp("user_fees", 0.6)
    avail_hi, avail_lo = ppp("availability", 1.0), ppp("availability", 0.6)
    # the investor's take moves with demand under user fees...
    assert fees_lo.kpis["investor_net_usd"] < fees_hi.kpis["investor_net_usd"]
    # ...but not under availability payments, where the city's cash takes the hit
    assert avail_lo.kpis["investor_net_usd"] == pytest.approx(
        avail_hi.kpis["investor_net_usd"], rel=0.02
    )
    assert avail_lo.kpis["fiscal_npv_usd"] < avail_hi.kpis["fiscal_npv_usd"]


def test_minibonds_sell_faster_with_a_higher_yield_premium():
    """A richer mini-bond (higher maturity value) sells out sooner."""

    def sellout(maturity):
        return run(
            months=24,
            policy__domains=["buildings"],
            policy__pilot__enabled=False,
            policy__financing__by_domain={"buildings": ["mini_bonds", "go_bond"]},
            policy__financing__mini_bonds__maturity_value_usd=maturity,
        ).kpis["minibond_sellout_hours"]

    assert 0 < sellout(800.0) < sellout(560.0)


def test_vendor_exit_disrupts_as_a_service():
    """When the as-a-service vendor exits, the service stops."""
    kw = dict(
        policy__pilot__enabled=False,
        policy__domains=["wifi"],
        policy__financing__by_domain={"wifi": ["as_a_service"]},
        policy__procurement__technology_partners=1,
        policy__procurement__mode="rfp",
    )
    calm = run(**kw, world__vendors__default_hazard_annual=0.0)
    hit = run(
        **kw, world__vendors__default_hazard_annual=0.0, world__stress__vendor_default_month=30
    )
    lead = events(hit, "award")["info"].iloc[0].split("'")[1]
    exits = events(hit, "vendor_exit")
    assert len(exits) == 1 and lead in exits["info"].iloc[0] and exits.month.iloc[0] == 30
    assert len(events(hit, "service_disrupted")) == 1
    assert len(events(calm, "service_disrupted")) == 0
    assert hit.kpis["welfare_usd"] < calm.kpis["welfare_usd"]


def test_pay_for_performance_cuts_payments_for_underperformance():
    """Under pay for performance an underperforming vendor is paid less than at fixed price."""
    kw = dict(overlays=("underperformance",), policy__pilot__enabled=False)
    fixed = run(**kw, policy__contracts__payment="fixed_price")
    p4p = run(**kw, policy__contracts__payment="pay_for_performance")
    value = run(**kw, policy__contracts__payment="value_based")
    assert p4p.kpis["vendor_net_usd"] < fixed.kpis["vendor_net_usd"]
    assert value.kpis["vendor_net_usd"] < fixed.kpis["vendor_net_usd"]


def test_cost_overruns_fall_on_the_owner():
    """City-owned projects pay overruns; vendor-financed ones leave them with the vendor."""
    kw = dict(policy__pilot__enabled=False, policy__domains=["wifi"])
    city = dict(policy__financing__by_domain={"wifi": ["go_bond"]})
    vendor = dict(policy__financing__by_domain={"wifi": ["as_a_service"]})
    d_city = (
        run(**kw, **city, overlays=("cost_overrun",)).kpis["fiscal_npv_usd"]
        - run(**kw, **city).kpis["fiscal_npv_usd"]
    )
    d_vendor = (
        run(**kw, **vendor, overlays=("cost_overrun",)).kpis["fiscal_npv_usd"]
        - run(**kw, **vendor).kpis["fiscal_npv_usd"]
    )
    assert d_city < -1e5
    assert abs(d_vendor) < abs(d_city) / 10


def test_integrator_improves_multi_vendor_performance():
    """An integrator partner raises the multi-vendor system's performance factor."""
    m_with = model(months=12, policy__procurement__integrator=True)
    m_without = model(
        months=12,
        policy__procurement__integrator=False,
        policy__procurement__interoperability_min=0.0,
    )
    with_f = [p.system_factor for p in m_with.projects if len(p.vendors) > 1]
    without_f = [p.system_factor for p in m_without.projects if len(p.vendors) > 1]
    assert np.mean(with_f) > np.mean(without_f)


def test_revolving_fund_recycles_savings():
    """Loans from the revolving fund are repaid from verified savings."""
    r = run(
        months=240,
        policy__domains=["buildings"],
        policy__financing__by_domain={"buildings": ["revolving_fund", "go_bond"]},
    )
    flows = r.ledger.flows_by_kind(account="central:revolving")
    assert flows.loc["loan_repayment", "inflow"] > 0
    assert flows.loc["capex", "outflow"] > 0


def test_tif_increment_pays_the_tif_bond():
    """A TIF bond is serviced from the district increment, not the general fund."""
    r = run(
        months=120,
        policy__pilot__enabled=False,
        policy__domains=["wifi"],
        policy__financing__by_domain={"wifi": ["tif", "go_bond"]},
    )
    e = r.ledger.entries()
    assert (e.kind == "tif_increment").any()
    tif_ds = e[(e.kind == "debt_service") & (e.credit_name == "central:tif")]
    assert len(tif_ds) > 0
    assert 0 <= r.kpis["tif_but_for_share"] <= 1


def test_revenue_share_and_gain_sharing_split_revenue_with_the_vendor():
    """Revenue shares and gain sharing give the vendor its share of advertising revenue."""
    kw = dict(policy__pilot__enabled=False, policy__domains=["wifi"])

    def vendor_share_of_ads(**more):
        # a partner signs a revenue share on what it knows it delivers
        more = {"world__technology__wifi__true_performance_mean": 1.0, **more}
        e = run(**kw, **more).ledger.entries()
        ads = e[e.kind == "advertising"]
        return ads[ads.debit_name.str.startswith("vendor")].amount.sum() / ads.amount.sum()

    assert vendor_share_of_ads(
        policy__financing__by_domain={"wifi": ["revenue_share"]},
        policy__financing__vendor__revenue_share=0.8,
    ) == pytest.approx(0.8)
    service = {"policy__financing__by_domain": {"wifi": ["as_a_service"]}}
    assert vendor_share_of_ads(**service, policy__contracts__gain_share_city=0.3) == pytest.approx(
        0.7
    )
    assert vendor_share_of_ads(**service, policy__contracts__gain_share_city=1.0) == 0


def test_services_raise_land_values_and_property_tax():
    """Coverage lifts district land values: the tax uplift flows only when the effect is on."""

    def uplift(effect):
        r = run(world__macro__land_value_uplift_per_coverage=effect)
        e = r.ledger.entries()
        return e[e.kind == "tax_uplift"].amount.sum()

    assert uplift(0.0) == 0
    assert uplift(0.1) > uplift(0.02) > 0


def test_deficits_downgrade_the_rating():
    """A deep recession that drains reserves costs the city its rating."""
    calm = run("traditional", months=120)
    hit = run(
        "traditional",
        months=120,
        overlays=("recession",),
        world__stress__recession_income_drop=0.5,
        world__stress__recession_month=6,
    )
    assert calm.kpis["rating_downgrades"] == 0
    assert hit.kpis["rating_downgrades"] >= 1
    assert hit.kpis["worst_rating_index"] > calm.kpis["worst_rating_index"]


def test_vendors_learn_by_building():
    """Unit cost falls with cumulative units built (Wright's law)."""
    m = model(months=1)
    vendor = m.vendors[0]
    domain = vendor.domains[0]
    before = vendor.unit_cost(domain)
    vendor.units_built[domain] += 10_000
    assert vendor.unit_cost(domain) < before


def test_ppp_equity_pricing_decides_what_the_city_gets():
    """Demand-risk PPP: a dearer equity or a higher demand premium leaves the city less.

    Competing bidders hand the city the rent above equity's required return.
    """

    def concession(**kw):
        r = sim.run(
            "helsinki_maas",
            seed=0,
            months=72,
            overrides={"world.residents.simulated_agents": 2000, **kw},
        )
        e = r.ledger.entries()
        return e[e.kind == "concession_fee"].amount.sum(), r.kpis["fiscal_npv_usd"]

    base = concession()
    dear = concession(**{"world.rates.equity_irr_required": 0.3})
    risky = concession(**{"world.investors.risk_premium_demand": 0.2})
    lone = concession(**{"world.investors.count": 3})  # one equity investor: no competition
    assert base[0] > 0
    assert dear[0] < base[0] and dear[1] < base[1]
    assert risky[0] < base[0]
    assert lone[0] == 0.0


def test_a_strict_regulator_keeps_surveillance_heavy_services_out():
    """A strict regulator refuses the sensitive services, never water and buildings.

    Traffic cameras, wi-fi, MaaS and sensor lights carry privacy concerns; a
    sandbox shortens the wait but does not waive the decision.
    """

    def refused(**kw):
        r = run(seed=0, months=120, world__regulator__rejection_rate=10.0, **kw)
        ev = r.events
        gone = set(ev[ev.event == "approval_refused"].domain)
        scaled = set(ev[ev.event == "scaled"].domain)
        return gone, scaled

    gone, scaled = refused()
    assert {"traffic", "wifi"} <= gone
    assert not gone & {"water", "buildings"} and not gone & scaled
    assert refused(policy__governance__sandbox=True)[0] >= {"traffic", "wifi"}
    assert (run(seed=0, months=120).events.event == "approval_refused").sum() < len(gone)


def test_the_budget_rule_keeps_an_oversized_fund_seed_from_sinking_the_city():
    """An oversized fund seed takes only the reserves above the floor.

    A $1e11 revolving-fund seed once ran the general fund to -$99.8B.
    """
    r = run(seed=0, months=120, policy__financing__revolving_fund__initial_usd=1e11)
    assert (r.events.event == "fund_seed_capped").sum() == 1
    assert r.kpis["min_budget_balance_usd"] > 0
    assert r.kpis["distress_months"] == 0


def test_a_recession_breaches_the_floor_and_the_city_cuts_and_defers():
    base = run(seed=0, months=120)
    hit = run(seed=0, months=120, overlays=("recession",))
    assert hit.kpis["reserve_breach_months"] > base.kpis["reserve_breach_months"]
    assert hit.kpis["service_cuts_usd"] > base.kpis["service_cuts_usd"]


def test_running_turns_false_at_the_horizon_and_stepping_past_it_is_refused():
    """Mesa's loops stop at the horizon: ``while model.running: model.step()``."""
    scn = resolve("alliance", SMALL)
    stepped = AllianceModel(scn, seed=3, months=24)
    months = 0
    while stepped.running:
        assert months < 24, "running stayed True past the horizon"
        stepped.step()
        months += 1
    assert months == 24
    with pytest.raises(RuntimeError, match="horizon of 24 months is reached"):
        stepped.step()
    whole = AllianceModel(scn, seed=3, months=24)
    whole.run()
    assert not whole.running
    for name, values in whole.series.data.items():  # stepping by hand is the same run
        np.testing.assert_array_equal(stepped.series.data[name], values, err_msg=name)


def test_a_finished_model_is_freed():
    """Nothing keeps a model alive after its run (Mesa's agent-id counter held every one)."""
    import gc
    import weakref

    from sim.config import load_scenario

    scn = load_scenario("alliance", overrides={"world.residents.simulated_agents": 1000})
    model = AllianceModel(scn, seed=1, months=3)
    model.run()
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
