"""A city's treasury (``agents.city.treasury``): lenders, the cap, the rating, debts.

A small model is built (not run) and a project is set up by hand as an award
would leave it (partner, price, claim, prior); the city's financing funds it
where a test needs debts, and the ledger entries booked are read back.
"""

import numpy as np
import pytest
from city_setup import booked, flow, model, project

from sim.instruments.base import Debt


def test_the_lender_is_the_cheapest_of_its_kind_with_the_capital():
    m = model()
    tr = m.cities[0].treasury
    a, b = m.investors[0], m.investors[3]
    assert (a.kind, b.kind) == ("bond_fund", "bond_fund")
    a.premium = 0.01
    assert tr.lender("bond_fund", 1e6) is b
    b.invested = b.capital
    assert tr.lender("bond_fund", 1e6) is a
    assert tr.lender("bank", 1e6).kind == "bank"


def test_bond_funds_buy_only_investment_grade():
    m = model()
    tr = m.cities[0].treasury
    assert tr.rating_index == 1  # AA
    assert tr.lender("bond_fund", 1e6) is not None
    tr.rating_index = 3  # Baa: still investment grade
    assert tr.lender("bond_fund", 1e6) is not None
    tr.rating_index = 4  # Ba
    assert tr.lender("bond_fund", 1e6) is None and tr.willing_lenders("bond_fund", 1e6) == []
    assert tr.lender("bank", 1e6) is not None  # banks still lend to projects


# --------------------------------------------------------------------------- the cap


def test_under_cap_compares_debt_service_with_the_cap_on_revenue():
    m = model(**{"policy.financing.debt_cap_share": 0.12})
    tr = m.cities[0].treasury
    existing = m.cities[0].spec.existing_debt_service_annual_usd
    assert tr.annual_debt_service(0) == pytest.approx(existing)
    room = 0.12 * tr.budget.annual_revenue - existing
    assert tr.under_cap(room - 1.0, 0)
    assert not tr.under_cap(room + 1.0, 0)
    assert tr.debt_service_ratio(0) == pytest.approx(existing / tr.budget.annual_revenue)


def test_new_debt_uses_up_the_room_under_the_cap():
    m = model()
    tr = m.cities[0].treasury
    pr = project(m, "water")
    before = tr.annual_debt_service(0)
    assert m.cities[0].financing.fund(pr, 2000.0, 0)
    (debt,) = tr.debts
    assert tr.annual_debt_service(0) == pytest.approx(before + debt.payments[:12].sum())


# --------------------------------------------------------------------------- rating


def set_general(m, balance):
    c = m.cities[0]
    gap = balance - m.ledger.balance(c.general)
    if gap > 0:
        m.ledger.transfer(0, m.accounts["market"], c.general, gap, "transfer")
    elif gap < 0:
        m.ledger.transfer(0, c.general, m.accounts["market"], -gap, "transfer")


def test_negative_reserves_cut_the_rating_two_notches_and_note_it():
    m = model()
    tr = m.cities[0].treasury
    assert tr.rating == "AA"
    set_general(m, -1e6)
    tr.review_rating(11)
    assert tr.rating == "Baa" and tr.rating_index == 3
    (e,) = tr.outbox.drain().events
    assert (e.event, e.city, e.project) == ("rating_change", "central", -1)
    assert e.info == {"rating": "Baa", "was": "AA"}


def test_thin_reserves_or_a_broken_cap_cut_a_notch():
    m = model()
    tr = m.cities[0].treasury
    set_general(m, 0.03 * tr.budget.annual_revenue)
    tr.review_rating(11)
    assert tr.rating == "A"
    m2 = model(**{"policy.financing.debt_cap_share": 0.05})  # existing service is ~8 %
    set_general(m2, 0.2 * m2.cities[0].budget.annual_revenue)
    m2.cities[0].treasury.review_rating(11)
    assert m2.cities[0].treasury.rating == "A"


def test_the_rating_recovers_a_notch_a_year_when_healthy_but_not_past_its_start():
    m = model(**{"policy.financing.debt_cap_share": 0.2})
    tr = m.cities[0].treasury
    set_general(m, -1e6)
    tr.review_rating(11)
    assert tr.rating == "Baa"
    set_general(m, 0.15 * tr.budget.annual_revenue)  # reserves > 12 %, service < 60 % of cap
    tr.review_rating(23)
    assert tr.rating == "A"
    tr.review_rating(35)
    assert tr.rating == "AA"
    tr.review_rating(47)
    assert tr.rating == "AA"  # never above where it started
    assert [e.info["rating"] for e in tr.outbox.drain().events] == ["Baa", "A", "AA"]


def test_middling_finances_hold_the_rating():
    m = model(**{"policy.financing.debt_cap_share": 0.2})
    tr = m.cities[0].treasury
    tr.rating_index = 3
    set_general(m, 0.08 * tr.budget.annual_revenue)  # not thin, not healthy enough to recover
    tr.review_rating(11)
    assert tr.rating == "Baa"
    assert tr.outbox.drain().events == []


def test_the_rating_stays_on_the_scale():
    m = model()
    tr = m.cities[0].treasury
    tr.rating_index = 5
    set_general(m, -1e6)
    tr.review_rating(11)
    assert tr.rating == "B"


# --------------------------------------------------------------------------- debts


def test_pay_debts_notes_a_default_once_and_investors_observe_it():
    m = model()
    c, tr = m.cities[0], m.cities[0].treasury
    pr = project(m, "water")
    bank = m.investors[1]
    tr.add_debt(
        Debt(pr.pid, "tif", c.funds.tif, bank.account, 1, np.full(24, 1e4), 2.4e5, 0.05, "tif")
    )
    m.ledger.transfer(0, m.accounts["market"], c.funds.tif, 4e3, "transfer")
    tr.pay_debts(1)
    (e,) = tr.outbox.drain().events
    assert (e.event, e.project, e.domain) == ("default", pr.pid, "water")
    assert e.info == {"instrument": "tif", "shortfall": pytest.approx(6e3)}
    per = m.scenario.world.investors.risk_premium_per_default
    assert all(i.defaults_seen == 1 and i.premium == pytest.approx(per) for i in m.investors)
    assert m.ledger.balance(c.funds.tif) == 0.0
    tr.pay_debts(2)  # short again: not news any more
    assert tr.outbox.drain().events == []
    assert all(i.defaults_seen == 1 for i in m.investors)


def test_a_gone_vendors_instalments_go_to_the_market():
    m = model(**{"policy.financing.preference": ["vendor_loan"]})
    c, tr = m.cities[0], m.cities[0].treasury
    pr = project(m, "water")
    assert m.cities[0].financing.fund(pr, 1000.0, 0)
    (loan,) = tr.debts
    v = pr.lead
    assert loan.payee == v.account
    cash = v.cash
    tr.pay_debts(1)
    assert v.cash == pytest.approx(cash + loan.due(1))
    v.solvent = False
    n0 = len(m.ledger)
    tr.pay_debts(2)
    e = booked(m, n0)
    assert v.cash == pytest.approx(cash + loan.due(1))
    assert flow(e, c.general, m.accounts["market"]) == pytest.approx(loan.due(2))
    assert tr.outbox.drain().events == []  # general recourse: never a default


def test_a_revenue_bond_project_defaults_when_its_fund_runs_dry():
    m = model(**{"policy.financing.preference": ["revenue_bond"]})
    tr = m.cities[0].treasury
    pr = project(m, "water")
    assert m.cities[0].financing.fund(pr, 2000.0, 0)
    (bond,) = tr.debts
    reserve = pr.arrangements[0].reserve_target
    assert m.ledger.balance(pr.account) == pytest.approx(reserve)  # left once the vendor is paid
    t = 1
    while not tr.outbox.report.events and t < 60:
        tr.pay_debts(t)
        t += 1
    (e,) = tr.outbox.drain().events
    assert (e.event, e.project, e.info["instrument"]) == ("default", pr.pid, "revenue_bond")
    assert bond.defaulted and bond.unpaid > 0
    assert t - 1 == int(reserve // bond.due(1)) + 1  # the reserve paid the instalments it could
