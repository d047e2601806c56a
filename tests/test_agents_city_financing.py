"""How a city finances a tranche (``agents.city.financing``): the preference walk.

A small model is built (not run) and a project is set up by hand as an award
would leave it (partner, price, claim, prior); the city's financing then funds
it and the ledger entries it booked are read back.
"""

import pytest
from city_setup import booked, flow, model, project

from sim.instruments.base import GENERAL

# --------------------------------------------------------------------------- fund


def test_a_go_bond_tranche_pays_the_vendor_who_builds():
    m = model()
    c, tr = m.cities[0], m.cities[0].treasury
    pr = project(m, "water", overrun=1.1)
    v = pr.lead
    amount = 1000 * pr.price_per_unit * 1.1
    general, n0 = m.ledger.balance(c.general), len(m.ledger)
    assert c.financing.fund(pr, 1000.0, 2)
    e = booked(m, n0)
    (debt,) = tr.debts
    assert (debt.instrument, debt.recourse, debt.project, debt.start) == (
        "go_bond",
        GENERAL,
        pr.pid,
        3,
    )
    assert debt.principal == pytest.approx(amount)
    bond_fund = next(i for i in m.investors if i.account == debt.payee)
    assert bond_fund.kind == "bond_fund" and bond_fund.invested == pytest.approx(amount)
    assert flow(e, bond_fund.account, c.general) == pytest.approx(amount)
    assert flow(e, c.general, v.account) == pytest.approx(amount)
    assert flow(e, v.account, m.accounts["market"]) == pytest.approx(
        1000 * m.scenario.world.technology["water"].capex_per_unit_usd * 1.1
    )
    assert m.ledger.balance(c.general) == pytest.approx(general)  # proceeds in, capex out
    assert (e.project == pr.pid).all() and (e.step == 2).all()
    assert pr.units == 1000.0 and pr.capex_total == pytest.approx(amount)
    assert pr.instrument == "go_bond"
    assert [(a.instrument, a.owner) for a in pr.arrangements] == [("go_bond", "city")]
    assert v.units_built["water"] == 1000.0


def test_fund_walks_the_preference_list_to_the_first_instrument_that_fits():
    """A revenue bond needs cash: traffic (time saved) falls through to GO bonds."""
    m = model(**{"policy.financing.preference": ["revenue_bond", "go_bond"]})
    c = m.cities[0]
    tr = c.treasury
    traffic, water = project(m, "traffic"), project(m, "water")
    assert c.financing.fund(traffic, 10.0, 0)
    assert traffic.instrument == "go_bond" and traffic.account == -1
    assert c.financing.fund(water, 1000.0, 0)
    assert water.instrument == "revenue_bond"
    assert water.account >= 0  # the project's own fund
    assert [d.recourse for d in tr.book.of_project(water.pid, "revenue_bond")] == ["project"]


def test_by_domain_preference_overrides_the_default():
    m = model(
        **{
            "policy.financing.preference": ["go_bond"],
            "policy.financing.by_domain.water": ["vendor_loan"],
        }
    )
    c = m.cities[0]
    water, lights = project(m, "water"), project(m, "streetlights")
    assert c.financing.fund(water, 100.0, 0) and c.financing.fund(lights, 100.0, 0)
    assert (water.instrument, lights.instrument) == ("vendor_loan", "go_bond")


def test_a_partial_instrument_is_topped_up_by_the_next():
    m = model(
        **{
            "policy.financing.preference": ["mini_bonds", "go_bond"],
            "policy.financing.mini_bonds.issue_size_usd": 1e6,
        }
    )
    c, tr = m.cities[0], m.cities[0].treasury
    pr = project(m, "water")
    n0 = len(m.ledger)
    assert c.financing.fund(pr, 10_000.0, 0)
    amount = 10_000 * pr.price_per_unit
    mini, go = tr.debts
    assert (mini.instrument, go.instrument) == ("mini_bonds", "go_bond")
    assert 0 < mini.principal <= 1e6
    assert mini.principal + go.principal == pytest.approx(amount)
    assert pr.instrument == "mini_bonds+go_bond"
    assert pr.arrangements[0].instrument == "mini_bonds"
    assert flow(booked(m, n0), c.general, pr.lead.account) == pytest.approx(amount)
    assert tr.minibond_issued and tr.minibond_sale.amount_usd == pytest.approx(mini.principal)


def test_pay_for_performance_holds_back_a_retention():
    m = model(
        **{
            "policy.contracts.payment": "pay_for_performance",
            "policy.contracts.retention_share": 0.3,
            "policy.contracts.retention_years": 5,
        }
    )
    c = m.cities[0]
    tr = c.treasury
    pr = project(m, "water")
    n0 = len(m.ledger)
    assert c.financing.fund(pr, 1000.0, 3)
    amount = 1000 * pr.price_per_unit
    (debt,) = tr.debts
    assert debt.principal == pytest.approx(0.7 * amount)  # only the up-front part is raised
    assert flow(booked(m, n0), m.cities[0].general, pr.lead.account) == pytest.approx(0.7 * amount)
    ((pid, start, end, monthly),) = tr.retentions
    assert (pid, start, end) == (pr.pid, 4, 64)
    assert monthly == pytest.approx(0.3 * amount / 60)
    assert pr.capex_total == pytest.approx(amount)


def test_a_partner_funds_the_first_tranche_and_the_later_ones():
    m = model(**{"policy.financing.preference": ["as_a_service"]})
    c, tr = m.cities[0], m.cities[0].treasury
    pr = project(m, "water", overrun=1.2)
    v = pr.lead
    general, cash, n0 = m.ledger.balance(c.general), v.cash, len(m.ledger)
    assert c.financing.fund(pr, 500.0, 0)
    (arr,) = pr.arrangements
    assert (arr.instrument, arr.owner, arr.term_end) == ("as_a_service", "vendor", 120)
    assert arr.fee_per_unit_month > 0
    assert tr.debts == []
    assert m.ledger.balance(c.general) == general  # the city pays nothing up front
    cost = 500 * m.scenario.world.technology["water"].capex_per_unit_usd * 1.2
    assert v.cash == pytest.approx(cash - cost)  # the partner bears the overrun
    assert pr.units == 500.0 and pr.capex_total == pytest.approx(500 * pr.price_per_unit)
    assert set(booked(m, n0).kind) == {"capex"}
    assert c.financing.fund(pr, 700.0, 6)  # a later tranche: the partner funds again
    assert pr.units == 1200.0 and len(pr.arrangements) == 1
    assert m.ledger.balance(c.general) == general and tr.debts == []
    assert v.units_built["water"] == 1200.0


def test_partner_funding_is_only_for_a_first_tranche():
    m = model(**{"policy.financing.preference": ["as_a_service", "go_bond"]})
    c = m.cities[0]
    tr = c.treasury
    pr = project(m, "water")
    v = pr.lead
    m.ledger.transfer(0, v.account, m.accounts["market"], v.cash + v.credit_line, "capex")
    assert c.financing.fund(pr, 100.0, 0)  # the partner cannot fund: the city borrows
    assert pr.instrument == "go_bond" and pr.owned_by_city()
    m.ledger.transfer(0, m.accounts["market"], v.account, 1e9, "equity")
    assert c.financing.fund(pr, 100.0, 1)  # a funded partner is not asked once the city owns it
    assert pr.instrument == "go_bond" and [d.instrument for d in tr.debts] == ["go_bond"] * 2


def test_a_failed_tranche_returns_false_and_books_nothing():
    m = model(**{"policy.financing.debt_cap_share": 0.0})
    c = m.cities[0]
    tr = c.treasury
    pr = project(m, "water")
    n0 = len(m.ledger)
    assert not c.financing.fund(pr, 1000.0, 0)
    assert len(m.ledger) == n0
    assert tr.debts == [] and pr.units == 0.0 and pr.arrangements == [] and pr.instrument == ""
    assert not c.financing.fund(pr, 0.0, 0)


def test_no_live_partner_means_no_partner_funded_tranche():
    m = model(**{"policy.financing.preference": ["as_a_service"]})
    c = m.cities[0]
    pr = project(m, "water")
    pr.lead.solvent = False
    n0 = len(m.ledger)
    assert not c.financing.fund(pr, 100.0, 0)
    assert len(m.ledger) == n0 and pr.units == 0.0 and pr.arrangements == []


def test_no_lender_with_the_capital_means_no_bond():
    m = model(**{"world.investors.capital_usd": 1e5})
    pr = project(m, "water")
    assert not m.cities[0].financing.fund(pr, 1000.0, 0)
    assert m.cities[0].treasury.lender("bond_fund", 1e5 + 1) is None


def test_without_a_live_partner_nothing_is_raised():
    """A tranche with no partner to pay books no debt, however often it is retried."""
    m = model()
    c = m.cities[0]
    pr = project(m, "water")
    pr.lead.solvent = False
    n0 = len(m.ledger)
    for t in range(3):
        assert not c.financing.fund(pr, 1000.0, t)
    assert c.treasury.debts == [] and len(m.ledger) == n0
    assert pr.arrangements == [] and pr.units == 0.0


# --------------------------------------------------------------------------- scaling terms


def test_the_citys_break_even_depends_on_the_deal():
    """Borrowing above the discount rate or sharing the cash moves the break-even."""

    def break_even(**overrides):
        m = model("alliance", **overrides)
        c = m.cities[0]
        pr = project(m, "wifi")
        return c.economics.break_even(pr, c.financing.scaling_terms(pr)), c.economics.break_even(pr)

    own, plain = break_even(**{"policy.financing.by_domain.wifi": ["revolving_fund"]})
    assert own == pytest.approx(plain, rel=1e-9)  # no interest, all the cash: the plain view
    go, _ = break_even(**{"policy.financing.by_domain.wifi": ["go_bond"]})
    assert go > own  # the bond's yield is above the city's discount rate
    share, _ = break_even(**{"policy.financing.by_domain.wifi": ["revenue_share"]})
    service, _ = break_even(**{"policy.financing.by_domain.wifi": ["as_a_service"]})
    assert share != own and service != own


def test_a_revenue_share_leaves_the_city_its_share_of_the_cash():
    m = model("alliance", **{"policy.financing.by_domain.wifi": ["revenue_share"]})
    c = m.cities[0]
    pr = project(m, "wifi")
    terms = c.financing.scaling_terms(pr)
    fin = m.scenario.policy.financing.vendor
    assert terms.cash_share == pytest.approx(1 - fin.revenue_share)
    assert terms.share_months == min(fin.revenue_share_years * 12, int(pr.tech.lifetime_years * 12))


def test_a_demand_risk_ppp_leaves_the_city_only_public_value_for_the_term():
    m = model(
        "alliance",
        **{"policy.financing.by_domain.maas": ["ppp"], "policy.financing.ppp.payment": "user_fees"},
    )
    c = m.cities[0]
    pr = project(m, "maas")
    terms = c.financing.scaling_terms(pr)
    assert terms.cash_share == 0.0
    assert terms.share_months == min(
        m.scenario.policy.financing.ppp.term_years * 12, int(pr.tech.lifetime_years * 12)
    )
