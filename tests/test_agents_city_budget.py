"""A city's budget (``agents.city.budget``): revenue in, spending and existing debt out.

Each test builds a small model (not run), moves the market to a month and runs
the budget's month alone, then reads the ledger entries that month produced.
"""

import numpy as np
import pytest

from sim.instruments import tif
from sim.instruments.base import PROGRAM
from sim.mechanisms.land import N_QUINTILES
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(scenario="alliance", **overrides):
    return AllianceModel(resolve(scenario, {**SMALL, **overrides}), seed=0, months=60)


def run_month(m, t, city=0):
    """Run one month of the budget; the entries it booked."""
    n0 = len(m.ledger)
    m.market.advance(t)
    m.cities[city].budget.run_month(t)
    return m.ledger.entries().iloc[n0:]


def paid(entries, kind, src=None, dst=None):
    sel = entries.kind == kind
    if src is not None:
        sel &= entries.credit == src
    if dst is not None:
        sel &= entries.debit == dst
    return float(entries[sel].amount.sum())


def tax_by_group(m, entries, kind, city=0):
    groups = m.layout.city_groups(city)
    accounts = m.layout.group_accounts[groups]
    e = entries[(entries.kind == kind) & (entries.debit == m.cities[city].general)]
    amount = e.groupby("credit").amount.sum()
    return np.array([amount.get(a, 0.0) for a in accounts])


def test_property_tax_is_split_by_district_and_by_each_groups_share():
    m = model()
    c = m.cities[0]
    e = run_month(m, 0)
    rate = c.spec.property_tax_rate / 12
    sl = m.layout.district_slice(0)
    expected = (
        np.repeat(m.land.trend[sl] * rate, N_QUINTILES)
        * m.layout.group_tax_share[m.layout.city_groups(0)]
    )
    np.testing.assert_allclose(tax_by_group(m, e, "tax"), expected, rtol=1e-12)
    # at month 0 the city collects its property-tax share of revenue
    assert expected.sum() == pytest.approx(c.budget.property_base0 / 12)
    shares = m.layout.group_tax_share[m.layout.city_groups(0)].reshape(-1, N_QUINTILES)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert paid(e, "tax_uplift") == 0.0  # no services yet: no uplift


def test_other_revenue_follows_the_economy_and_spending_the_trend():
    m = model(**{"world.stress.recession_month": 0, "world.stress.recession_income_drop": 0.2})
    c = m.cities[0]
    e = run_month(m, 12)
    other0 = (c.budget.revenue_annual0 - c.budget.property_base0) / 12
    trend = 1.025  # a year of revenue growth
    other = paid(e, "tax", src=m.accounts["economy"], dst=c.general)
    assert other == pytest.approx(other0 * trend * 0.8)
    existing = c.spec.existing_debt_service_annual_usd / 12 * trend
    property_trend = float(
        (m.land.trend[m.layout.district_slice(0)] * c.spec.property_tax_rate / 12).sum()
    )
    spending = paid(e, "spending", src=c.general, dst=m.accounts["services"])
    assert spending == pytest.approx(other0 * trend + property_trend - existing)
    assert c.budget.revenue_month == pytest.approx(paid(e, "tax", dst=c.general))
    assert c.budget.revenue_month < spending + existing  # the recession opens a gap
    assert c.budget.annual_revenue == pytest.approx(12 * c.budget.revenue_month)


def test_existing_debt_service_goes_to_the_bondholder_with_the_budget():
    m = model()
    c = m.cities[0]
    e0 = run_month(m, 0)
    assert paid(e0, "debt_service", c.general, m.investors[0].account) == pytest.approx(
        c.spec.existing_debt_service_annual_usd / 12
    )
    e24 = run_month(m, 24)
    assert paid(e24, "debt_service", c.general, m.investors[0].account) == pytest.approx(
        c.spec.existing_debt_service_annual_usd / 12 * 1.025**2
    )


def test_the_budget_balances_at_trend_without_projects():
    """Revenue at trend pays spending plus the existing debt service exactly."""
    m = model()
    c = m.cities[0]
    before = m.ledger.balance(c.general)
    e = run_month(m, 5)
    assert paid(e, "member_fee") == paid(e, "opex") == 0.0  # fees are billed in month 0, 12, ...
    assert m.ledger.balance(c.general) == pytest.approx(before)
    assert c.budget.revenue_month == pytest.approx(paid(e, "tax", dst=c.general))


def test_service_uplift_is_taxed_as_a_programme_flow():
    m = model()
    c = m.cities[0]
    sl = m.layout.district_slice(0)
    m.market.advance(3)
    m.land.update(m.market.property_index, np.full(m.population.n_districts, 0.5), 0.04, 1.0)
    n0 = len(m.ledger)
    c.budget.run_month(3)
    e = m.ledger.entries().iloc[n0:]
    rate = c.spec.property_tax_rate / 12
    uplift = e[e.kind == "tax_uplift"]
    assert (uplift.project == PROGRAM).all() and (uplift.debit == c.general).all()
    assert uplift.amount.sum() == pytest.approx(float((m.land.trend[sl] * 0.02 * rate).sum()))
    assert c.budget.revenue_month == pytest.approx(
        paid(e, "tax", dst=c.general) + uplift.amount.sum()
    )


def test_a_tif_area_diverts_the_increment_during_its_term():
    m = model(**{"policy.financing.tif.districts": 2, "policy.financing.tif.term_years": 1})
    c = m.cities[0]
    sl = m.layout.district_slice(0)
    c.funds.tif_area = tif.freeze(m.land.av[sl], 0, m.scenario.policy.financing.tif)
    assert c.funds.tif_area.until == 12
    rate = c.spec.property_tax_rate / 12
    m.market.advance(6)
    m.land.update(m.market.property_index, np.full(m.population.n_districts, 0.5), 0.1, 1.0)
    total = float((m.land.av[sl] * rate).sum())
    increment = (m.land.av[sl][:2] - c.funds.tif_area.base) * rate
    assert (increment > 0).all()
    n0 = len(m.ledger)
    c.budget.run_month(6)
    e = m.ledger.entries().iloc[n0:]
    captured = e[e.kind.isin(["tif_increment", "tif_uplift"])]
    assert (captured.debit == c.funds.tif).all()
    assert captured.amount.sum() == pytest.approx(increment.sum())
    # the services' part of the increment is the programme's, the trend's is not
    driven = e[e.kind == "tif_uplift"]
    assert (driven.project == PROGRAM).all() and (e[e.kind == "tif_increment"].project == -1).all()
    av, trend = m.land.av[sl][:2], m.land.trend[sl][:2]
    assert driven.amount.sum() == pytest.approx(float((increment * (av - trend) / av).sum()))
    assert 0 < driven.amount.sum() < captured.amount.sum()
    # districts 0 and 1 pay their increment to the TIF fund and the rest to the general fund
    groups = m.layout.group_accounts[m.layout.city_groups(0)]
    by_group = captured.groupby("credit").amount.sum()
    shares = m.layout.group_tax_share[m.layout.city_groups(0)]
    np.testing.assert_allclose(
        [by_group.get(a, 0.0) for a in groups[:10]], np.repeat(increment, N_QUINTILES) * shares[:10]
    )
    assert set(by_group.index) == set(groups[:10])
    general = (
        paid(e, "tax", dst=c.general)
        + paid(e, "tax_uplift", dst=c.general)
        - paid(e, "tax", src=m.accounts["economy"])
    )
    assert general == pytest.approx(total - increment.sum())
    assert c.budget.revenue_month == pytest.approx(
        paid(e, "tax", dst=c.general) + paid(e, "tax_uplift") + captured.amount.sum()
    )
    # after the term the increment returns to the general fund
    m.market.advance(12)
    n1 = len(m.ledger)
    c.budget.run_month(12)
    after = m.ledger.entries().iloc[n1:]
    assert paid(after, "tif_increment") == 0.0


def test_pmo_and_framework_fees_are_billed_once_a_year():
    m = model(
        **{
            "policy.procurement.mode": "framework",
            "policy.governance.pmo": True,
            "policy.governance.pmo_cost_annual_usd": 2e6,
        }
    )
    c = m.cities[0]
    fee = m.scenario.world.procurement.framework_member_fee_annual_usd
    for t, billed in ((0, True), (1, False), (11, False), (12, True)):
        e = run_month(m, t)
        assert paid(e, "member_fee", c.general, m.accounts["framework"]) == (fee if billed else 0)
        assert paid(e, "opex", c.general, m.accounts["services"]) == (2e6 if billed else 0)
    none = model("traditional")
    e = run_month(none, 0)
    assert paid(e, "member_fee") == paid(e, "opex") == 0.0


def test_the_revolving_funds_idle_cash_earns_the_deposit_rate():
    m = model(**{"world.rates.revolving_fund_deposit_rate_annual": 0.03})
    c = m.cities[0]
    balance = m.ledger.balance(c.funds.revolving)
    assert balance == pytest.approx(m.scenario.policy.financing.revolving_fund.initial_usd)
    e = run_month(m, 0)
    assert paid(e, "interest", m.accounts["market"], c.funds.revolving) == pytest.approx(
        balance * (1.03 ** (1 / 12) - 1)
    )


# --------------------------------------------------------------------------- the budget rule


def set_general(m, balance, city=0):
    c = m.cities[city]
    gap = balance - m.ledger.balance(c.general)
    src, dst = (m.accounts["opening"], c.general) if gap > 0 else (c.general, m.accounts["opening"])
    m.ledger.transfer(0, src, dst, abs(gap), "transfer")


def test_below_the_reserve_floor_the_city_cuts_services_and_says_so():
    m = model(**{"policy.budget.reserve_floor_share": 0.1, "policy.budget.cut_share": 0.05})
    c = m.cities[0]
    floor = 0.1 * c.budget.annual_revenue
    set_general(m, floor * 1.01)
    run_month(m, 5)
    assert not c.budget.below_floor() and c.outbox.drain().tallies == []
    set_general(m, floor * 0.99)
    e = run_month(m, 6)
    assert c.budget.below_floor()
    tallies = dict(c.outbox.drain().tallies)
    assert tallies["reserve_breach_months"] == 1.0
    cut, spent = tallies["service_cuts_usd"], paid(e, "spending")
    assert cut == pytest.approx(0.05 * (spent + cut))


def test_a_negative_general_fund_is_distress_noted_on_entry_and_exit():
    m = model()
    c = m.cities[0]
    set_general(m, -1e8)
    run_month(m, 5)
    run_month(m, 6)
    set_general(m, 1e9)
    run_month(m, 7)
    report = c.outbox.drain()
    assert [e.event for e in report.events] == ["distress", "distress_over"]
    assert sum(v for k, v in report.tallies if k == "distress_months") == 2.0


def test_the_revolving_fund_seed_is_capped_at_the_reserves_above_the_floor():
    m = model(**{"policy.financing.revolving_fund.initial_usd": 1e11})
    c = m.cities[0]
    floor = 0.08 * c.spec.general_revenue_annual_usd
    assert m.ledger.balance(c.funds.revolving) == pytest.approx(c.spec.reserves_usd - floor)
    assert m.ledger.balance(c.general) == pytest.approx(floor)
    (e,) = [e for e in c.outbox.drain().events if e.event == "fund_seed_capped"]
    assert e.info["asked"] == 1e11


def test_below_the_floor_no_procurement_starts_and_no_tranche_is_funded():
    m = model()
    c = m.cities[0]
    set_general(m, 0.0)
    m.step()
    assert c.budget.below_floor()
    assert c.projects == []  # procurement deferred
    assert m.ledger.balance(c.general) >= 0.0 or c.budget.distressed


# --------------------------------------------------------------------------- households


def test_residents_live_on_their_incomes_and_spend_what_is_left():
    m = model()
    c = m.cities[0]
    groups = m.layout.group_accounts[c.budget.groups]
    e = run_month(m, 1)
    income = m.residents.income_of(c.budget.groups)
    got = e[e.kind == "income"].groupby("debit").amount.sum()
    assert np.allclose(got.reindex(groups).to_numpy(), income)
    taxes = e[(e.kind.isin(["tax", "tax_uplift"])) & e.credit.isin(groups)].amount.sum()
    assert taxes > 0
    left = m.ledger.snapshot_balances()[groups]
    e2 = run_month(m, 2)
    spent = e2[e2.kind == "consumption"].groupby("credit").amount.sum()
    assert np.allclose(spent.reindex(groups).to_numpy(), left)  # last month's remainder
    assert income.sum() > 50 * taxes  # property tax is a small part of income


def test_no_resident_group_ends_in_arrears_in_the_base_run():
    import sim

    r = sim.run("alliance", seed=0, months=60, overrides=SMALL)
    acc = r.ledger.accounts_frame()
    assert (acc[acc.stakeholder == "resident"].balance >= 0).all()
