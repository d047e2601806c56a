"""The city agent (``agents.city.city``): its funds, its parts and its monthly step."""

import numpy as np
import pytest

from agents.city import City
from agents.outbox import Report
from sim.mechanisms.lifecycle import Project
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(scenario="traditional", months=36, **overrides):
    return AllianceModel(resolve(scenario, {**SMALL, **overrides}), seed=0, months=months)


def step_city(m, t):
    """One month of the city alone (the market moved first, as the model does)."""
    m.month = t
    m.market.advance(t)
    return m.cities[0].step()


def test_the_city_opens_its_funds_with_its_reserves_and_seeds_the_revolving_fund():
    m = model("alliance", **{"policy.financing.revolving_fund.initial_usd": 3e7})
    c = m.cities[0]
    assert isinstance(c, City) and (c.index, c.name) == (0, "central")
    assert m.ledger.balance(c.general) == pytest.approx(c.spec.reserves_usd - 3e7)
    assert m.ledger.balance(c.funds.revolving) == pytest.approx(3e7)
    assert m.ledger.balance(c.funds.tif) == 0.0
    assert m.ledger.account("central:general") == c.general


def test_the_parts_share_the_citys_projects_outbox_and_funds():
    m = model()
    c = m.cities[0]
    assert c.office.projects is c.projects is c.treasury.projects is c.portfolio.projects
    assert c.office.outbox is c.outbox is c.treasury.outbox is c.operations.outbox
    assert c.treasury.funds is c.budget.funds is c.funds
    assert c.treasury.book is c.budget.debts
    assert c.economics.population == c.spec.population
    assert c.financing.economics is c.operations.economics is c.economics
    assert c.financing.treasury is c.treasury


def test_what_others_read_comes_from_the_parts():
    m = model()
    c = m.cities[0]
    step_city(m, 0)
    assert c.general == c.funds.general
    assert c.rating_index == c.treasury.rating_index == 1
    assert c.revenue_month == c.budget.revenue_month > 0
    assert c.debt_service_ratio(0) == pytest.approx(c.treasury.debt_service_ratio(0))


def test_step_returns_the_months_report_and_starts_empty_next_month():
    m = model()
    c = m.cities[0]
    report = step_city(m, 0)
    assert isinstance(report, Report)
    assert [p.domain for p in report.projects] == ["streetlights", "water"]
    assert all(isinstance(p, Project) for p in report.projects)
    assert [e.event for e in report.events] == ["procurement_start"] * 2
    assert c.outbox.report.events == [] and c.outbox.report.projects == []
    assert step_city(m, 1).events == []


def test_the_city_awards_and_builds_over_the_months():
    m = model()
    c = m.cities[0]
    seen = []
    for t in range(30):
        seen += [(t, e.event, e.domain) for e in step_city(m, t).events]
    names = [e for _, e, _ in seen]
    assert {"procurement_start", "award", "tranche"} <= set(names)
    award = min(t for t, e, d in seen if e == "award" and d == "water")
    tranche = min(t for t, e, d in seen if e == "tranche" and d == "water")
    assert tranche > award
    water = next(p for p in c.projects if p.domain == "water")
    assert water.units > 0 and water.instrument == "go_bond"
    savings = m.ledger.entries()
    savings = savings[(savings.kind == "savings") & (savings.project == water.pid)]
    assert sorted(set(savings.step)) == list(range(tranche + 1, 30))  # operated every month


def test_the_rating_is_reviewed_only_at_the_end_of_each_year():
    m = model()
    c = m.cities[0]
    m.ledger.transfer(0, c.general, m.accounts["market"], c.spec.reserves_usd + 1e8, "transfer")
    for t in range(11):
        assert "rating_change" not in [e.event for e in step_city(m, t).events]
    assert c.treasury.rating == "AA"
    report = step_city(m, 11)
    (e,) = [e for e in report.events if e.event == "rating_change"]
    assert (e.city, e.info["rating"]) == ("central", "Baa")
    assert c.rating_index == 3


def test_the_model_steps_every_city_and_books_their_reports():
    m = model(
        "alliance",
        months=24,
        **{
            "world.cities.north": {"population": 200_000, "general_revenue_annual_usd": 3e8},
            "world.region.districts_per_city": 3,
        },
    )
    m.run()
    assert [c.name for c in m.cities] == ["central", "north"]
    mine = {c.name: {p.pid for p in c.projects} for c in m.cities}
    assert mine["central"] and mine["north"] and not mine["central"] & mine["north"]
    assert {p.pid for p in m.projects} == mine["central"] | mine["north"]
    for e in m.events:
        if e["project"] > 0:
            assert e["project"] in mine[e["city"]]
    starts = [e for e in m.events if e["event"] == "procurement_start"]
    assert {e["city"] for e in starts} == {"central", "north"}
    assert np.isfinite(m.ledger.snapshot_balances()).all()
    m.ledger.check_balanced()
