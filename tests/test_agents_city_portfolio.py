"""A city's portfolio (``agents.city.portfolio``): each lifecycle transition in turn.

Projects are set up by hand in the state under test (as an award or an earlier
stage would leave them) and advanced month by month with
:meth:`Portfolio.advance`; the city's outbox tells what happened.
"""

import pytest

from agents.city.portfolio import FINANCING_PATIENCE
from sim.mechanisms import pilots
from sim.mechanisms.lifecycle import Project
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}
PILOTS = {
    "policy.pilot.enabled": True,
    "policy.pilot.share_of_units": 0.03,
    "policy.pilot.months": 12,
    "policy.pilot.tranches": 4,
    "policy.pilot.tranche_months": 6,
}


def model(months=240, **overrides):
    return AllianceModel(resolve("traditional", {**SMALL, **overrides}), seed=0, months=months)


def project(m, domain="streetlights", state="approval", next_event=0):
    """A project as an award leaves it: one partner, its price and claim, the city's prior."""
    c = m.cities[0]
    tech = m.scenario.world.technology[domain]
    pr = Project(
        m.new_project_id(),
        c.name,
        domain,
        tech,
        c.economics.units_for(tech),
        state=state,
        next_event=next_event,
    )
    vendor = next(v for v in m.vendors if domain in v.domains)
    pr.vendors, pr.price_per_unit, pr.claim = [vendor], vendor.price(domain), vendor.claim[domain]
    pr.mu, pr.sd = 0.8 * pr.claim, 0.25
    pr.evidence_key = (c.name, domain, vendor.unique_id)
    c.projects.append(pr)
    return pr


def operating(m, domain="streetlights", deploy_start=0, units=None):
    """A fully deployed project, funded under the policy's preference."""
    pr = project(m, domain, state="operating")
    units = pr.units_target if units is None else units
    assert m.cities[0].financing.fund(pr, units, deploy_start)
    pr.deploy_start = deploy_start
    return pr


def events(m):
    return [(e.event, e.project) for e in m.cities[0].outbox.drain().events]


def no_bond_capital(m):
    for inv in m.investors:
        inv.invested = inv.capital


# --------------------------------------------------------------------------- approval


def test_approval_starts_a_pilot_of_the_policy_size():
    m = model(**PILOTS)
    pr = project(m)
    m.cities[0].portfolio.advance(pr, 5)
    units = round(0.03 * pr.units_target)
    assert (pr.state, pr.units, pr.pilot_units) == ("pilot", units, units)
    assert (pr.pilot_start, pr.deploy_start, pr.next_event) == (5, 5, 17)
    (e,) = m.cities[0].outbox.drain().events
    assert (e.event, e.project) == ("pilot_start", pr.pid)
    assert e.info == {"units": units, "instrument": "go_bond"}


def test_a_tiny_pilot_has_at_least_one_unit():
    m = model(**PILOTS)
    pr = project(m, "maas")  # 140 units: 3 % rounds to 4
    m.cities[0].portfolio.advance(pr, 0)
    assert pr.pilot_units == 4
    m2 = model(**{**PILOTS, "policy.pilot.share_of_units": 0.001})
    pr = project(m2, "maas")
    m2.cities[0].portfolio.advance(pr, 0)
    assert pr.pilot_units == 1


def test_without_pilots_approval_goes_straight_to_scaling():
    m = model(
        **{
            "policy.pilot.enabled": False,
            "policy.pilot.tranches": 4,
            "policy.pilot.tranche_months": 6,
        }
    )
    pr = project(m)
    m.cities[0].portfolio.advance(pr, 2)
    assert pr.state == "scaling" and pr.pilot_units == 0
    assert pr.units == pytest.approx(pr.units_target / 4)
    assert (pr.tranches_left, pr.next_event, pr.pilot_start, pr.deploy_start) == (3, 8, 2, 2)
    assert events(m) == [("tranche", pr.pid)]


def test_a_project_waits_for_its_event_month():
    m = model(**PILOTS)
    pr = project(m, next_event=7)
    for t in range(7):
        m.cities[0].portfolio.advance(pr, t)
    assert pr.state == "approval" and events(m) == []
    m.cities[0].portfolio.advance(pr, 7)
    assert pr.state == "pilot"


def test_an_unfunded_pilot_is_retried_next_month():
    m = model(**PILOTS)
    no_bond_capital(m)
    pr = project(m)
    m.cities[0].portfolio.advance(pr, 3)
    assert pr.state == "approval" and pr.next_event == 4 and pr.units == 0
    assert m.cities[0].treasury.financing_failures == 1
    (e,) = m.cities[0].outbox.drain().events
    assert e.event == "financing_failed" and e.info == {"units": round(0.03 * pr.units_target)}


# --------------------------------------------------------------------------- pilots


def test_a_running_pilot_is_measured_every_month_unless_halted():
    m = model(**PILOTS)
    pr = project(m)
    port = m.cities[0].portfolio
    port.advance(pr, 0)
    prior = port.belief(pr)
    assert prior == (pr.mu, pr.sd)
    port.advance(pr, 1)
    mu1, sd1 = port.belief(pr)
    assert sd1 < pr.sd
    pr.halted_until = 5
    port.advance(pr, 2)
    assert port.belief(pr) == (mu1, sd1)  # halted: nothing to measure
    port.advance(pr, 5)
    assert port.belief(pr)[1] < sd1


def evaluate(m, pr, mu, sd, t=12):
    pr.state, pr.units, pr.pilot_start, pr.next_event = "pilot", 0.0, 0, t
    pr.mu, pr.sd = mu, sd
    m.cities[0].portfolio.advance(pr, t)
    return m.cities[0].outbox.drain().events


def test_a_convincing_pilot_is_scaled_after_governance_and_approval_delays():
    m = model(**PILOTS)
    pr = project(m)
    be = m.cities[0].economics.break_even(pr)
    (e,) = evaluate(m, pr, be + 0.2, 0.05)
    assert e.event == "pilot_scale" and e.info["p"] >= 0.7
    assert pr.state == "scale_approval"
    assert pr.kpi_target == pytest.approx(be + 0.2)  # the evidence sets the contract's target
    assert pr.next_event >= 12 + 4  # a month's decision plus the silo delay, then approval


def test_a_disappointing_pilot_is_stopped_and_not_procured_again():
    m = model(**PILOTS)
    pr = project(m)
    office = m.cities[0].office
    queue = list(office.queue)
    be = m.cities[0].economics.break_even(pr)
    (e,) = evaluate(m, pr, be - 0.2, 0.05)
    assert e.event == "pilot_stopped" and e.info["p"] < 0.35
    assert (pr.state, pr.units, pr.end_month) == ("stopped", 0.0, 12)
    assert office.queue == queue
    m.cities[0].portfolio.advance(pr, 13)  # stopped projects stay stopped
    assert pr.state == "stopped" and events(m) == []


class Refuse:
    """A regulator stand-in that refuses every decision."""

    def __init__(self, regulator):
        self.regulator = regulator

    def decide(self, project):
        return False

    def __getattr__(self, name):
        return getattr(self.regulator, name)


@pytest.mark.parametrize("state", ["approval", "scale_approval"])
def test_a_refused_project_ends_and_its_domain_is_not_procured_again(state):
    m = model(**PILOTS)
    m.regulator = Refuse(m.regulator)
    pr = project(m, state=state)
    queue = list(m.cities[0].office.queue)
    m.cities[0].portfolio.advance(pr, 5)
    assert (pr.state, pr.units, pr.end_month) == ("ended", 0.0, 5)
    assert m.cities[0].office.queue == queue
    assert events(m) == []  # the regulator notes the refusal


def test_an_inconclusive_pilot_is_extended_then_stopped():
    m = model(**{**PILOTS, "policy.pilot.max_extensions": 1})
    pr = project(m)
    be = m.cities[0].economics.break_even(pr)
    (e,) = evaluate(m, pr, be, 0.2)
    assert e.event == "pilot_extended" and 0.35 <= e.info["p"] < 0.7
    assert (pr.state, pr.extensions, pr.next_event) == ("pilot", 1, 24)
    (e,) = evaluate(m, pr, be, 0.2, t=24)
    assert e.event == "pilot_stopped" and pr.state == "stopped"


def test_the_evaluation_uses_the_citys_posterior():
    m = model(**PILOTS)
    pr = project(m)
    port = m.cities[0].portfolio
    for _ in range(30):  # strong evidence that the technology performs well
        m.consortium.evidence.measure(pr.evidence_key, pr.pid, 5.0, 0.25, 1000, m.rng_measure)
    be = m.cities[0].economics.break_even(pr)
    (e,) = evaluate(m, pr, be - 0.3, 0.25)
    mu, sd = port.belief(pr)
    assert e.event == "pilot_scale"
    assert e.info["mu"] == pytest.approx(mu) and mu > 4
    assert e.info["p"] == pytest.approx(pilots.prob_above(mu, sd, be))


# --------------------------------------------------------------------------- scaling


def test_scale_approval_starts_the_tranches_at_once():
    m = model(**PILOTS)
    pr = project(m, state="scale_approval", next_event=20)
    m.cities[0].portfolio.advance(pr, 20)
    assert pr.state == "scaling" and pr.tranches_left == 3
    assert pr.units == pytest.approx(pr.units_target / 4)
    assert pr.deploy_start == 20 and pr.next_event == 26


def test_tranches_run_to_operating_and_the_project_scales():
    m = model(
        **{
            **PILOTS,
            "world.cities.north": {"population": 200_000, "general_revenue_annual_usd": 3e8},
            "world.region.districts_per_city": 3,
        }
    )
    m.consortium.proven.discard("water")
    pr = project(m, "water", state="scale_approval")
    port = m.cities[0].portfolio
    for t in range(40):
        port.advance(pr, t)
    names = [e.event for e in m.cities[0].outbox.drain().events]
    assert names == ["tranche", "tranche", "scaled", "tranche", "tranche", "operating"]
    assert pr.state == "operating"
    assert pr.units == pytest.approx(pr.units_target) and pr.coverage == pytest.approx(1.0)
    assert pr.scaled_month == 6
    assert "water" in m.consortium.proven  # a member's scale-up proves the domain


def test_stalled_finance_settles_the_project_after_financing_patience():
    m = model(**PILOTS)
    pr = project(m, state="scale_approval")
    port = m.cities[0].portfolio
    port.advance(pr, 0)
    units = pr.units
    no_bond_capital(m)
    t = 6
    while pr.state == "scaling":
        port.advance(pr, t)
        t += 1
    names = [e.event for e in m.cities[0].outbox.drain().events]
    assert names.count("financing_failed") == FINANCING_PATIENCE + 1
    assert names[-1] == "financing_exhausted"
    assert pr.state == "operating" and pr.stalled_months == FINANCING_PATIENCE + 1
    assert pr.units == units  # settled where it was
    assert m.cities[0].treasury.financing_failures == FINANCING_PATIENCE + 1


# --------------------------------------------------------------------------- end of life, term


def test_end_of_life_renews_in_place_with_a_live_partner():
    m = model()
    pr = operating(m, "water", deploy_start=0, units=5000.0)
    life = int(pr.tech.lifetime_years * 12)
    port = m.cities[0].portfolio
    port.advance(pr, life - 1)
    assert events(m) == []
    port.advance(pr, life)
    (e,) = m.cities[0].outbox.drain().events
    assert e.event == "renewed" and e.info == {"units": 5000.0, "instrument": "go_bond"}
    assert (pr.state, pr.units, pr.deploy_start) == ("operating", 5000.0, life)
    assert len(m.cities[0].treasury.debts) == 2
    assert pr.lead.units_built["water"] == 10_000.0


def test_end_of_life_without_finance_ends_the_project_and_requeues_the_domain():
    m = model(**{"policy.domains": ["streetlights"]})
    pr = operating(m, "water", deploy_start=0, units=5000.0)
    no_bond_capital(m)
    life = int(pr.tech.lifetime_years * 12)
    m.cities[0].portfolio.advance(pr, life)
    assert (pr.state, pr.units, pr.end_month) == ("ended", 0.0, life)
    assert [e.event for e in m.cities[0].outbox.drain().events] == ["end_of_life"]
    assert m.cities[0].office.queue[-1] == "water"
    assert pr.arrangements[0].term_end == life


def test_the_end_of_an_as_a_service_term_buys_the_equipment_back():
    m = model(
        **{
            "policy.financing.preference": ["as_a_service"],
            "policy.financing.vendor.term_years": 10,
            "policy.financing.vendor.end_of_term": "purchase",
        }
    )
    c = m.cities[0]
    pr = operating(m, "water", units=5000.0)
    arr = pr.arrangements[0]
    assert (arr.owner, arr.term_end) == ("vendor", 120)
    n0 = len(m.ledger)
    c.portfolio.advance(pr, 120)
    e = m.ledger.entries().iloc[n0:]
    residual = pr.price_per_unit * 5000 * (1 - 120 / (15 * 12))
    paid = e[(e.kind == "capex") & (e.credit == c.general) & (e.debit == pr.lead.account)]
    assert paid.amount.sum() == pytest.approx(residual)
    assert (arr.owner, arr.fee_per_unit_month, arr.term_end) == ("city", 0.0, 10**9)
    (ev,) = c.outbox.drain().events
    assert ev.event == "hand_back" and ev.info == {"instrument": "as_a_service"}
    assert pr.state == "operating" and pr.owned_by_city()


def test_the_end_of_a_term_may_return_or_upgrade_the_equipment():
    ret = model(
        **{
            "policy.financing.preference": ["as_a_service"],
            "policy.financing.vendor.end_of_term": "return",
        }
    )
    pr = operating(ret, "water", units=5000.0)
    ret.cities[0].portfolio.advance(pr, 120)
    assert (pr.state, pr.units) == ("ended", 0.0)
    assert [e.event for e in ret.cities[0].outbox.drain().events] == ["returned"]
    up = model(
        **{
            "policy.financing.preference": ["as_a_service"],
            "policy.financing.vendor.end_of_term": "upgrade",
        }
    )
    pr = operating(up, "water", units=5000.0)
    up.cities[0].portfolio.advance(pr, 120)
    assert pr.state == "operating" and pr.arrangements[0].term_end == 240
    assert pr.arrangements[0].owner == "vendor"
    assert [e.event for e in up.cities[0].outbox.drain().events] == ["upgraded"]


def test_a_ppp_hands_back_with_the_vehicles_cash_to_equity():
    m = model(**{"policy.financing.preference": ["ppp"], "policy.financing.ppp.term_years": 5})
    pr = operating(m, "traffic", units=30.0)
    arr = pr.arrangements[0]
    m.ledger.transfer(59, m.accounts["market"], arr.vehicle, 1e5, "transfer")
    equity = m.ledger.balance(arr.equity_investor)
    m.cities[0].portfolio.advance(pr, 60)
    assert m.ledger.balance(arr.vehicle) == 0.0
    assert m.ledger.balance(arr.equity_investor) == pytest.approx(equity + 1e5)
    assert arr.owner == "city"
    assert [e.event for e in m.cities[0].outbox.drain().events] == ["hand_back"]


# --------------------------------------------------------------------------- orphaned projects


def test_a_partner_owned_project_whose_vendors_are_gone_is_disrupted():
    m = model(
        **{"policy.financing.preference": ["as_a_service"], "policy.domains": ["streetlights"]}
    )
    pr = operating(m, "water", units=5000.0)
    pr.lead.exit(30)
    m.cities[0].portfolio.advance(pr, 31)
    assert (pr.state, pr.units, pr.end_month) == ("ended", 0.0, 31)
    assert events(m) == [("service_disrupted", pr.pid)]
    assert pr.arrangements[0].term_end == 31
    assert m.cities[0].office.queue[-1] == "water"


def test_a_city_owned_system_outlives_its_vendor_unless_it_dies_with_it():
    m = model()
    pr = operating(m, "water", units=5000.0)
    pr.lead.exit(30)
    m.cities[0].portfolio.advance(pr, 31)
    assert pr.state == "operating" and events(m) == []
    dies = model(**{"world.technology.water.orphan_factor": 0.0})
    pr = operating(dies, "water", units=5000.0)
    pr.lead.exit(30)
    dies.cities[0].portfolio.advance(pr, 31)
    assert pr.state == "ended"
    assert events(dies) == [("service_disrupted", pr.pid)]


def test_advance_all_moves_every_project():
    m = model(**PILOTS)
    a, b = project(m, "streetlights"), project(m, "water", next_event=4)
    m.cities[0].portfolio.advance_all(0)
    assert (a.state, b.state) == ("pilot", "approval")


# --------------------------------------------------------------------------- renewal ahead


def test_a_proven_domain_is_not_piloted_again():
    m = model(**PILOTS)
    m.cities[0].office.proven.add("streetlights")
    fresh = m.cities[0].office._procure("streetlights", 3)
    assert fresh.proven
    fresh.vendors = project(m).vendors  # as the award would leave it
    fresh.price_per_unit, fresh.claim, fresh.state = 900.0, 1.0, "approval"
    m.cities[0].portfolio.advance(fresh, fresh.next_event)
    assert fresh.state in ("scaling", "operating") and fresh.pilot_units == 0.0


def test_without_a_partner_the_equipment_is_re_procured_ahead_and_replaced_on_time():
    """Users carry over: the replacement deploys all units the month the old one ends."""
    m = model()
    c = m.cities[0]
    c.office.queue.clear()
    pr = operating(m, deploy_start=0)
    life_end = int(pr.tech.lifetime_years * 12)
    lead = m.scenario.policy.procurement.renewal_lead_months
    pr.lead.solvent = False
    pr.tech = pr.tech.model_copy(update={"orphan_factor": 0.5})  # the city runs it meanwhile
    c.portfolio.advance(pr, life_end - lead - 1)
    assert pr.successor < 0  # too early
    c.portfolio.advance(pr, life_end - lead)
    new = next(p for p in c.projects if p.pid == pr.successor)
    assert (new.replaces, new.start_after, new.proven) == (pr.pid, life_end, True)
    new.vendors = [next(v for v in m.vendors if v.solvent and "streetlights" in v.domains)]
    new.price_per_unit, new.claim, new.state = 900.0, 1.0, "approval"
    new.next_event = life_end - 3
    c.portfolio.advance(new, life_end - 3)  # approved early: waits for the old equipment
    assert new.state == "approval" and new.units == 0.0
    c.portfolio.advance(pr, life_end)
    c.portfolio.advance(new, life_end)
    assert pr.state == "ended" and new.units == pytest.approx(new.units_target)
    assert c.office.queue == []  # no re-procurement from scratch


def test_a_partner_contract_that_ended_is_renewed_as_a_new_contract():
    m = AllianceModel(
        resolve(
            "alliance",
            {
                **SMALL,
                "policy.financing.by_domain.wifi": ["as_a_service"],
                "policy.domains": ["wifi"],
            },
        ),
        seed=0,
        months=240,
    )
    c = m.cities[0]
    pr = project(m, "wifi", state="operating")
    assert c.financing.fund(pr, pr.units_target, 0)
    pr.deploy_start = 0
    pr.arrangements[0].to_city()  # bought back at the end of the term
    life_end = int(pr.tech.lifetime_years * 12)
    c.portfolio.advance(pr, life_end)
    assert pr.state == "operating" and pr.deploy_start == life_end
    assert pr.arrangements[0].instrument == "as_a_service"  # a new service contract


# --------------------------------------------------------------------------- partner exits


def test_a_partners_exit_costs_a_transition_and_a_disruption_once():
    m = model(**{"policy.procurement.mode": "rfi_mou"})
    c = m.cities[0]
    pr = operating(m, deploy_start=0)
    others = [v for v in m.vendors if v is not pr.lead and "streetlights" in v.domains][:1]
    pr.vendors = [pr.lead, *others]
    n0 = len(m.ledger)
    c.portfolio.advance(pr, 30)
    assert len(m.ledger) == n0  # nobody left yet
    others[0].solvent = False
    c.portfolio.advance(pr, 31)
    e = m.ledger.entries().iloc[n0:]
    cost = e[e.kind == "transition"]
    months_left = int(pr.tech.lifetime_years * 12) - 31
    om = c.economics.om_per_unit(pr.tech) * pr.units * months_left
    share = m.scenario.world.vendors.exit_transition_share
    assert cost.amount.sum() == pytest.approx(share * om)
    assert (cost.credit == c.general).all()
    assert pr.disrupted_until > 31 and pr.partners_lost == 1
    before = len(m.ledger)
    c.portfolio.advance(pr, 32)
    assert not (m.ledger.entries().iloc[before:].kind == "transition").any()  # once
