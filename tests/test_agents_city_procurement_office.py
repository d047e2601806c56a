"""A city's procurement office (``agents.city.procurement_office``): starting and awarding.

Projects are started from a small model's queue and awarded directly; two
models with the same seed isolate a single lever (the market and regulator
streams then draw the same numbers).
"""

import pytest

from agents.city.procurement_office import RETRY_MONTHS
from sim.mechanisms.lifecycle import ACTIVE
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(scenario="traditional", months=120, **overrides):
    return AllianceModel(resolve(scenario, {**SMALL, **overrides}), seed=0, months=months)


def started(m, t=0):
    office = m.cities[0].office
    office.start_projects(t)
    return m.cities[0].projects


# --------------------------------------------------------------------------- starting


def test_projects_start_in_policy_order_up_to_capacity():
    m = model(**{"policy.governance.base_capacity_projects": 2})
    c = m.cities[0]
    projects = started(m, 3)
    assert [p.domain for p in projects] == ["streetlights", "water"]
    assert c.office.queue == ["buildings", "maas", "wifi", "traffic"]
    for pr in projects:
        assert (pr.state, pr.city, pr.started, pr.mode) == ("procuring", "central", 3, "rfp")
        assert pr.units_target == pytest.approx(c.economics.units_for(pr.tech))
        assert pr.next_event >= 4
    assert [p.pid for p in projects] == [1, 2]
    report = c.outbox.drain()
    assert report.projects == projects
    assert [(e.event, e.project, e.info) for e in report.events] == [
        ("procurement_start", 1, {"mode": "rfp"}),
        ("procurement_start", 2, {"mode": "rfp"}),
    ]
    started(m, 4)  # still busy: nothing new
    assert len(projects) == 2


def test_a_finished_project_frees_capacity_for_the_next_domain():
    m = model()
    projects = started(m)
    projects[0].state = "operating"  # no longer an active procurement or roll-out
    assert "operating" not in ACTIVE
    started(m, 5)
    assert [p.domain for p in projects] == ["streetlights", "water", "buildings"]
    assert projects[-1].started == 5


def test_a_pmo_raises_capacity():
    m = model(**{"policy.governance.pmo": True, "policy.governance.pmo_extra_capacity": 3})
    assert [p.domain for p in started(m)] == ["streetlights", "water", "buildings", "maas", "wifi"]
    assert m.cities[0].office.queue == ["traffic"]


def test_a_short_queue_starts_only_its_domains():
    m = model(**{"policy.domains": ["wifi"], "policy.governance.pmo": True})
    assert [p.domain for p in started(m)] == ["wifi"]
    assert m.cities[0].office.queue == []


def test_framework_falls_back_to_rfp_for_unproven_domains():
    m = model(
        **{
            "policy.procurement.mode": "framework",
            "policy.governance.pmo": True,
            "policy.domains": ["maas", "water", "wifi", "streetlights"],
        }
    )
    assert m.consortium.proven == {"streetlights", "water", "buildings"}
    modes = {p.domain: p.mode for p in started(m)}
    assert modes == {
        "maas": "rfp",
        "water": "framework",
        "wifi": "rfp",
        "streetlights": "framework",
    }
    events = [e.info["mode"] for e in m.cities[0].outbox.drain().events]
    assert events == ["rfp", "framework", "rfp", "framework"]


def test_a_domain_proven_later_is_called_off_the_framework():
    m = model(**{"policy.procurement.mode": "framework", "policy.domains": ["maas"]})
    m.consortium.proven.add("maas")
    (pr,) = started(m)
    assert pr.mode == "framework"


def test_a_framework_call_off_is_quicker_than_an_rfp():
    fw = model(**{"policy.procurement.mode": "framework", "policy.domains": ["water"]})
    rfp = model(**{"policy.domains": ["water"]})
    assert started(fw)[0].next_event < started(rfp)[0].next_event


def test_requeue_adds_a_domain_once_and_not_near_the_horizon():
    m = model(months=120, **{"policy.domains": ["water"]})
    office = m.cities[0].office
    started(m)
    assert office.queue == []
    office.requeue("water", 95)
    office.requeue("water", 95)
    assert office.queue == ["water"]
    office.queue.clear()
    office.requeue("water", 96)  # 24 months before the horizon: too late
    assert office.queue == []


# --------------------------------------------------------------------------- award


def test_award_sets_partner_price_prior_and_evidence_key_and_waits_for_approval():
    a, b = model(), model()
    pol = a.scenario.policy
    pr = started(a)[0]
    a.cities[0].office.award(pr, 9)
    delay = b.regulator.approval_delay(pol.governance.sandbox)  # the same regulator draw
    (lead,) = pr.vendors
    assert pr.domain in lead.domains and lead.solvent
    assert pr.claim == lead.claim["streetlights"]
    assert pr.price_per_unit == pytest.approx(lead.price("streetlights"), rel=0.25)  # bid noise
    assert pr.integrator is None and pr.system_factor == 1.0 and pr.overrun == 1.0
    assert pr.mu == pytest.approx(pr.claim * (1 - pol.pilot.optimism_haircut))
    assert pr.sd == pol.pilot.prior_sd
    assert pr.evidence_key == ("central", "streetlights", lead.unique_id)  # no partner city
    assert pr.state == "approval" and pr.next_event == 9 + delay
    events = a.cities[0].outbox.drain().events
    assert events[-1].event == "award"
    assert events[-1].info == {
        "vendors": [lead.name],
        "price": pr.price_per_unit,
        "claim": pr.claim,
    }


def test_award_under_rfi_mou_takes_several_partners_and_an_integrator():
    m = model("alliance")
    pr = started(m)[0]
    m.cities[0].office.award(pr, 0)
    assert len(pr.vendors) == 3
    assert all(pr.domain in v.domains for v in pr.vendors)
    assert pr.integrator is max((v for v in m.vendors if v.solvent), key=lambda v: v.interop)
    assert 0 < pr.system_factor < 1
    # pay for performance: each partner bids a claim between its true and optimistic figure
    true = sum(v.true_perf[pr.domain] for v in pr.vendors) / 3
    assert true - 1e-12 <= pr.claim <= sum(v.claim[pr.domain] for v in pr.vendors) / 3


def test_consortium_members_pool_evidence_by_domain_and_lead():
    m = model(
        "alliance",
        **{
            "world.cities.north": {"population": 200_000, "general_revenue_annual_usd": 3e8},
            "world.region.districts_per_city": 3,
        },
    )
    assert m.consortium.active
    pr = started(m)[0]
    m.cities[0].office.award(pr, 0)
    assert pr.evidence_key == ("streetlights", pr.lead.unique_id)


def two_vendors(m, domain):
    """Every vendor but two leaves; both have the same costs: one honest, one over-claiming."""
    able = [v for v in m.vendors if domain in v.domains]
    honest, boaster = able[:2]
    for v in m.vendors:
        v.solvent = v in (honest, boaster)
        v.units_built = dict.fromkeys(v.units_built, 0.0)
    honest.true_perf[domain] = honest.claim[domain] = 0.8
    boaster.true_perf[domain], boaster.claim[domain] = 0.5, 0.95
    return honest, boaster


@pytest.mark.parametrize(
    "terms",
    [
        {"policy.contracts.energy_contract": "guaranteed_savings"},
        {"policy.contracts.payment": "pay_for_performance"},
    ],
)
def test_risk_bearing_terms_turn_adverse_selection_around(terms):
    """Risk-bearing terms make an over-claimer lose to an honest vendor.

    Fixed price: the over-claimer wins on price per claimed unit. Under a savings
    guarantee or pay for performance, it knows what its claim would cost it: it
    shades the claim and loses to the honest vendor.
    """
    winners = {}
    for name, extra in (("fixed", {}), ("risk", terms)):
        m = model(**{"policy.domains": ["streetlights"], **extra})
        honest, boaster = two_vendors(m, "streetlights")
        pr = started(m)[0]
        m.cities[0].office.award(pr, 0)
        who = "honest" if pr.lead is honest else "boaster" if pr.lead is boaster else "?"
        winners[name] = (who, pr.claim, pr.price_per_unit)
    assert winners["fixed"][:2] == ("boaster", 0.95)
    assert winners["risk"][:2] == ("honest", 0.8)
    assert winners["risk"][2] > winners["fixed"][2] * 0.95  # the honest bid carries a premium


def test_a_vendor_declines_when_the_risk_is_worth_more_than_it_may_load():
    m = model(
        **{
            "policy.domains": ["streetlights"],
            "policy.contracts.payment": "pay_for_performance",
            "world.vendors.max_risk_loading": 0.0,
        }
    )
    pr = started(m)[0]
    m.cities[0].office.award(pr, 0)
    assert pr.state == "procuring" and pr.next_event == RETRY_MONTHS
    assert [e.event for e in m.cities[0].outbox.drain().events][-1] == "no_bidder"


def test_fixed_price_terms_carry_no_premium():
    plain = model(**{"policy.domains": ["streetlights", "maas"]})
    gs = model(
        **{
            "policy.domains": ["streetlights", "maas"],
            "policy.contracts.energy_contract": "guaranteed_savings",
        }
    )
    for m in (plain, gs):
        for pr in started(m):
            m.cities[0].office.award(pr, 0)
    (_, maas_a), (lights_b, maas_b) = plain.cities[0].projects, gs.cities[0].projects
    assert maas_b.price_per_unit == pytest.approx(maas_a.price_per_unit)  # not a savings domain
    assert maas_b.claim == maas_a.claim
    lead = lights_b.lead
    assert lead.true_perf["streetlights"] <= lights_b.claim <= lead.claim["streetlights"]


def test_each_project_draws_its_site():
    m = model(**{"world.vendors.field_performance_sd": 0.3})
    projects = started(m)
    for pr in projects:
        m.cities[0].office.award(pr, 0)
    sites = [pr.site_factor for pr in projects]
    assert len(set(sites)) == len(sites) and all(s > 0 for s in sites)
    flat = model(**{"world.vendors.field_performance_sd": 0.0})
    for pr in started(flat):
        flat.cities[0].office.award(pr, 0)
        assert pr.site_factor == 1.0


def test_cost_overruns_are_drawn_at_award():
    m = model(**{"world.stress.cost_overrun_alpha": 2.0, "policy.governance.pmo": True})
    projects = started(m)
    for pr in projects:
        m.cities[0].office.award(pr, 0)
    assert all(pr.overrun >= 1.0 for pr in projects)
    assert any(pr.overrun > 1.0 for pr in projects)


def test_no_bidder_means_a_retry_after_retry_months():
    m = model(**{"policy.domains": ["traffic"]})
    office = m.cities[0].office
    (pr,) = started(m)
    office.outbox.drain()
    for v in m.vendors:
        if "traffic" in v.domains:
            v.solvent = False
    office.award(pr, 10)
    assert pr.state == "procuring" and pr.next_event == 10 + RETRY_MONTHS
    assert pr.vendors == [] and pr.price_per_unit == 0.0
    (e,) = office.outbox.drain().events
    assert (e.event, e.project, e.domain) == ("no_bidder", pr.pid, "traffic")
    # the portfolio asks again when the wait is over; a live bidder wins it
    m.vendors[-1].solvent = True
    m.cities[0].portfolio.advance(pr, 10 + RETRY_MONTHS - 1)
    assert pr.state == "procuring"
    m.cities[0].portfolio.advance(pr, 10 + RETRY_MONTHS)
    assert pr.state == "approval" and pr.vendors == [m.vendors[-1]]
