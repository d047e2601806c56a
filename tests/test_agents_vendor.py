"""Vendors (``agents.vendor``): hidden traits, claims, learning, prices, cash and exit.

A small real model is built (not run); each vendor is then driven directly.
"""

import pytest

from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(scenario="alliance", seed=0, **overrides):
    return AllianceModel(resolve(scenario, {**SMALL, **overrides}), seed=seed, months=12)


def capex_out(m, vendor):
    """Capex entries the vendor paid (vendor -> market)."""
    e = m.ledger.entries()
    return e[(e.kind == "capex") & (e.credit == vendor.account)]


# --------------------------------------------------------------------------- traits


def test_claims_are_true_performance_inflated_by_optimism():
    m = model()
    for v in m.vendors:
        assert v.optimism >= 0
        assert set(v.claim) == set(m.scenario.world.technology)
        for d, theta in v.true_perf.items():
            assert theta >= 0.02
            assert v.claim[d] == pytest.approx(theta * (1 + v.optimism), rel=1e-12)
            assert v.claim[d] >= theta


def test_every_domain_has_at_least_two_vendors():
    m = model()
    domains = list(m.scenario.world.technology)
    for i, v in enumerate(m.vendors):
        assert domains[i % len(domains)] in v.domains
        assert domains[(i + 1) % len(domains)] in v.domains
        assert v.domains == sorted(v.domains, key=domains.index)
    for d in domains:
        assert sum(d in v.domains for v in m.vendors) >= 2


def test_traits_are_drawn_from_the_world_stream_and_do_not_depend_on_the_policy():
    """Same seed, same vendors under two policies; another seed, other vendors."""
    a, b, c = model("alliance"), model("traditional"), model("alliance", seed=1)
    for va, vb in zip(a.vendors, b.vendors, strict=True):
        assert va.domains == vb.domains
        assert va.optimism == vb.optimism
        assert va.true_perf == vb.true_perf
        assert va.claim == vb.claim
        assert (va.interop, va.appetite) == (vb.interop, vb.appetite)
    assert [v.optimism for v in c.vendors] != [v.optimism for v in a.vendors]


def test_traits_follow_the_world_parameters():
    m = model(
        **{
            "world.vendors.optimism_bias_mean": 0.0,
            "world.vendors.optimism_bias_sd": 0.0,
            "world.vendors.interoperability_sd": 0.0,
            "world.vendors.interoperability_mean": 0.42,
        }
    )
    for v in m.vendors:
        assert v.optimism == 0.0
        assert v.claim == v.true_perf
        assert v.interop == pytest.approx(0.42)
        assert 0.0 <= v.appetite <= 1.0


def test_vendor_opens_its_account_with_its_starting_cash():
    m = model(**{"world.vendors.cash_usd": 3e7, "world.vendors.default_hazard_annual": 0.12})
    for v in m.vendors:
        assert v.cash == pytest.approx(3e7)
        assert v.credit_line == pytest.approx(3e7)
        assert v.solvent and v.exit_month == -1
        assert v.hazard_month == pytest.approx(1 - 0.88 ** (1 / 12))
        assert all(u == 0.0 for u in v.units_built.values())


# --------------------------------------------------------------------------- learning and prices


def test_unit_cost_follows_wrights_law():
    m = model()
    v = m.vendors[0]
    t = m.scenario.world.technology["streetlights"]
    assert v.unit_cost("streetlights") == pytest.approx(t.capex_per_unit_usd)
    v.build("streetlights", 1000, project=1, month=0)  # one doubling of the 1000-unit scale
    assert v.unit_cost("streetlights") == pytest.approx(
        t.capex_per_unit_usd * (1 - t.learning_rate)
    )
    v.build("streetlights", 2000, project=1, month=0)  # 3000 built: two doublings
    assert v.unit_cost("streetlights") == pytest.approx(
        t.capex_per_unit_usd * (1 - t.learning_rate) ** 2
    )
    # learning is per domain
    assert v.unit_cost("water") == pytest.approx(
        m.scenario.world.technology["water"].capex_per_unit_usd
    )


def test_price_is_cost_plus_margin_less_discount_and_partnering_trims_the_margin():
    m = model(**{"world.vendors.margin": 0.2})
    v = m.vendors[3]
    cost = v.unit_cost("wifi")
    assert v.price("wifi") == pytest.approx(cost * 1.2)
    assert v.price("wifi", discount=0.08) == pytest.approx(cost * 1.2 * 0.92)
    assert v.price("wifi", partnering=True) == pytest.approx(
        cost * (1 + 0.2 * (1 - 0.5 * v.appetite))
    )
    assert v.price("wifi", 0.1, True) == pytest.approx(
        cost * (1 + 0.2 * (1 - 0.5 * v.appetite)) * 0.9
    )
    v.appetite = 0.0
    assert v.price("wifi", partnering=True) == pytest.approx(v.price("wifi"))
    v.build("wifi", 5000, project=2, month=0)
    assert v.price("wifi") == pytest.approx(v.unit_cost("wifi") * 1.2)
    assert v.price("wifi") < cost * 1.2


# --------------------------------------------------------------------------- cash


def test_can_fund_counts_the_credit_line():
    m = model()
    v = m.vendors[0]
    assert v.can_fund(v.cash)
    assert v.can_fund(v.cash + v.credit_line)
    assert not v.can_fund(v.cash + v.credit_line + 1.0)
    m.ledger.transfer(0, v.account, m.accounts["market"], 1.5 * v.credit_line, "capex")
    assert v.cash == pytest.approx(-0.5 * v.credit_line)
    assert v.can_fund(0.5 * v.credit_line)
    assert not v.can_fund(0.5 * v.credit_line + 1.0)
    v.solvent = False
    assert not v.can_fund(0.0)


def test_build_books_the_capex_to_the_market_and_learns():
    m = model()
    v = m.vendors[1]
    market0 = m.ledger.balance(m.accounts["market"])
    cash0 = v.cash
    unit = v.unit_cost("water")
    cost = v.build("water", 400.0, project=7, month=3, overrun=1.25)
    assert cost == pytest.approx(unit * 400 * 1.25)
    assert v.cash == pytest.approx(cash0 - cost)
    assert m.ledger.balance(m.accounts["market"]) == pytest.approx(market0 + cost)
    out = capex_out(m, v)
    assert len(out) == 1
    row = out.iloc[0]
    assert (row.debit, row.step, row.project) == (m.accounts["market"], 3, 7)
    assert row.amount == pytest.approx(cost)
    assert v.units_built["water"] == 400.0


# --------------------------------------------------------------------------- exit


def test_exit_flips_solvency_and_notes_a_vendor_exit():
    m = model()
    v = m.vendors[2]
    v.exit(17)
    assert not v.solvent and v.exit_month == 17
    report = v.outbox.drain()
    assert len(report.events) == 1
    e = report.events[0]
    assert e.event == "vendor_exit"
    assert (e.city, e.project, e.domain) == ("", -1, "")
    assert e.info == {"vendor": "vendor2", "cash": pytest.approx(v.cash)}


def test_step_exits_when_cash_runs_past_the_credit_line():
    m = model()
    m.month = 5
    v = m.vendors[0]
    v.hazard_month = 0.0  # no background hazard: only insolvency can end it
    m.ledger.transfer(0, v.account, m.accounts["market"], v.cash + v.credit_line, "capex")
    v.step()
    assert v.solvent  # exactly at the end of the credit line
    m.ledger.transfer(0, v.account, m.accounts["market"], 1.0, "capex")
    v.step()
    assert not v.solvent and v.exit_month == 5
    assert [e.event for e in v.outbox.drain().events] == ["vendor_exit"]


def test_step_draws_the_background_hazard_and_an_exited_vendor_stays_out():
    m = model()
    m.month = 2
    sure, never = m.vendors[0], m.vendors[1]
    sure.hazard_month, never.hazard_month = 1.0, 0.0
    sure.step()
    never.step()
    assert not sure.solvent and never.solvent
    assert len(sure.outbox.drain().events) == 1
    state = m.rng_events.bit_generator.state
    sure.step()  # no second exit and no draw
    assert sure.outbox.drain().events == []
    assert m.rng_events.bit_generator.state == state


def test_background_exit_rate_matches_the_hazard():
    m = model(**{"world.vendors.count": 200, "world.vendors.default_hazard_annual": 0.5})
    months = 12
    for t in range(months):
        m.month = t
        for v in m.vendors:
            v.step()
    gone = sum(not v.solvent for v in m.vendors)
    assert gone / 200 == pytest.approx(0.5, abs=0.1)
    assert {v.exit_month for v in m.vendors if not v.solvent} <= set(range(months))
    assert all(v.exit_month == -1 for v in m.vendors if v.solvent)
