"""Tests for the revenue bond (``sim.instruments.revenue_bond``, MODEL.md F2).

A revenue bond is sized at the tranche plus a reserve, sold only when the
project's projected cash meets the coverage covenant, and serviced from the
project's own fund by a waterfall that never draws the general fund. The
city's treasury is a small fake desk on a real ledger.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, Tech, annuity, normal_put

from sim.instruments import revenue_bond
from sim.instruments.base import Raised
from sim.instruments.guarantees import Guarantee

TERMS = revenue_bond.RevenueBond(term_years=15, dscr_covenant=1.25, reserve_share=0.1)
NO_GUARANTEE = Guarantee()
YIELD = 0.04 + 0.01  # the fake bond fund's base yield plus its revenue-bond spread


def setup(benefit="energy", general_cash=1e6, **lender):
    desk = Desk(general_cash=general_cash)
    inv = desk.add_lender("bond_fund", base_yield=0.04, revenue_spread=0.01, **lender)
    deal = Project(pid=5, tech=Tech(benefit_type=benefit))
    return desk, inv, deal


def first_payment(amount, terms=TERMS, rate=YIELD):
    return annuity(amount * (1 + terms.reserve_share), rate / 12, terms.term_years * 12)


def issue(
    desk,
    deal,
    amount=1e6,
    t=0,
    cash=1e6,
    terms=TERMS,
    guarantee=NO_GUARANTEE,
    gross=100.0,
    mu=0.9,
    sd=0.2,
    units=100.0,
):
    return revenue_bond.issue(
        desk,
        deal,
        amount,
        units,
        t,
        terms,
        guarantee,
        cash_month=cash,
        gross_per_unit=gross,
        mu=mu,
        sd=sd,
    )


# ---------------------------------------------------------------- issue


def test_issue_sizes_principal_with_the_reserve_and_keeps_it_in_the_project_fund():
    desk, inv, deal = setup()
    raised = issue(desk, deal, amount=1e6, t=3)
    assert deal.account >= 0
    assert raised == Raised(deal.account, 1e6)
    principal = 1e6 * 1.1
    assert desk.balance(deal.account) == pytest.approx(principal)
    assert inv.invested == pytest.approx(principal)
    assert desk.balance(desk.general) == 1e6  # the general fund is not involved
    [d] = desk.debts
    assert (d.instrument, d.recourse, d.payer, d.payee, d.start) == (
        "revenue_bond",
        "project",
        deal.account,
        inv.account,
        4,
    )
    assert d.principal == pytest.approx(principal) and d.rate_annual == pytest.approx(YIELD)
    np.testing.assert_allclose(d.payments, annuity(principal, YIELD / 12, 180), rtol=1e-12)
    arr = deal.arrangements[0]
    assert arr.instrument == "revenue_bond"
    assert arr.reserve_target == pytest.approx(0.1 * 1e6)
    assert desk.contingent == 0.0 and arr.guarantee_floor_month == 0.0
    assert inv.asked == [dict(rating="AA", years=15, revenue=True, covered_share=0.0)]
    desk.ledger.check_balanced()


def test_later_tranches_add_to_the_reserve_target_and_share_the_fund():
    desk, _, deal = setup()
    issue(desk, deal, amount=1e6)
    account = deal.account
    issue(desk, deal, amount=5e5, t=12)
    assert deal.account == account and len(desk.debts) == 2
    assert deal.arrangements[0].reserve_target == pytest.approx(0.1 * 1.5e6)
    assert desk.balance(account) == pytest.approx(1.1 * 1.5e6)


@pytest.mark.parametrize("benefit", ["welfare", "safety", "none", "time"])
def test_a_benefit_without_cash_is_refused_before_asking_a_lender(benefit):
    desk, inv, deal = setup(benefit=benefit)
    assert issue(desk, deal) is None
    assert inv.asked == [] and desk.debts == [] and deal.account == -1


def test_no_bond_fund_means_no_bond():
    desk = Desk()
    desk.add_lender("bank")
    deal = Project(tech=Tech(benefit_type="advertising"))
    assert issue(desk, deal) is None
    assert desk.debts == [] and deal.account == -1 and deal.arrangements == []


def test_cash_below_the_covenant_refuses_and_cash_at_it_issues():
    need = 1.25 * first_payment(1e6)
    desk, inv, deal = setup()
    assert issue(desk, deal, cash=need * 0.999) is None
    assert desk.debts == [] and deal.account == -1 and inv.invested == 0.0
    assert issue(desk, deal, cash=need * 1.000001) is not None


def test_the_covenant_counts_the_projects_earlier_tranches():
    desk, _, deal = setup()
    issue(desk, deal, amount=1e6, cash=1e9)
    first = desk.debts[0].due(1)
    cash = 1.25 * first_payment(1e6) * 1.01  # would cover the new tranche alone
    assert issue(desk, deal, amount=1e6, cash=cash) is None
    assert issue(desk, deal, amount=1e6, cash=1.25 * (first + first_payment(1e6)) * 1.001)
    # another project's revenue bond does not count against this one
    other = Project(pid=6, tech=Tech(benefit_type="energy"))
    assert issue(desk, other, amount=1e6, cash=cash) is not None


@pytest.mark.parametrize(
    "benefit, floor", [("energy", 0.6), ("leakage", 0.6), ("advertising", 0.3), ("user_fees", 0.3)]
)
def test_a_guarantee_floor_lowers_the_yield_and_books_its_expected_cost(benefit, floor):
    g = Guarantee(savings_floor_share=0.6, revenue_floor_share=0.3)
    desk, inv, deal = setup(benefit=benefit, premium=0.02)
    issue(desk, deal, guarantee=g, gross=100.0, mu=0.9, sd=0.2, units=50.0)
    assert inv.asked[-1]["covered_share"] == floor
    [d] = desk.debts
    plain_desk, _, plain_deal = setup(benefit=benefit, premium=0.02)
    issue(plain_desk, plain_deal)
    assert d.rate_annual < plain_desk.debts[0].rate_annual
    assert d.payments[0] < plain_desk.debts[0].payments[0]
    gross_month = 50.0 * 100.0
    arr = deal.arrangements[0]
    assert arr.guarantee_floor_month == pytest.approx(floor * gross_month * 0.9)
    assert arr.base_case_cash_month == pytest.approx(gross_month * 0.9)
    assert desk.contingent == pytest.approx(
        12 * 15 * normal_put(floor * gross_month * 0.9, gross_month * 0.9, gross_month * 0.2)
    )
    assert desk.contingent > 0


# ---------------------------------------------------------------- service


def issued(general_cash=1e6, amount=1e6):
    desk, inv, deal = setup(general_cash=general_cash)
    issue(desk, deal, amount=amount)
    pay_vendor(desk, deal, amount)  # the tranche is spent: the reserve stays in the fund
    return desk, inv, deal


def pay_vendor(desk, deal, amount):
    vendor = desk.add_vendor()
    desk.ledger.transfer(0, deal.account, vendor.account, amount, "capex", deal.pid)


def test_service_pays_the_instalment_and_releases_cash_above_the_reserve():
    desk, inv, deal = issued()
    [d] = desk.debts
    reserve = deal.arrangements[0].reserve_target
    assert desk.balance(deal.account) == pytest.approx(reserve)
    desk.fund(deal.account, 50_000.0, t=1)  # a month of revenue
    general, bonds = desk.balance(desk.general), desk.balance(inv.account)
    assert revenue_bond.service(desk, deal, 1, {}) == []
    due = d.due(1)
    assert desk.balance(inv.account) - bonds == pytest.approx(due)
    assert desk.balance(desk.general) - general == pytest.approx(50_000.0 - due)
    assert desk.balance(deal.account) == pytest.approx(reserve)
    assert d.paid == pytest.approx(due) and not d.defaulted
    desk.ledger.check_balanced()


def test_a_short_fund_draws_the_reserve_then_defaults_without_touching_the_general_fund():
    desk, inv, deal = issued(general_cash=1e9)
    [d] = desk.debts
    reserve = deal.arrangements[0].reserve_target
    due = d.due(1)
    assert reserve > due  # the reserve carries the first months
    general = desk.balance(desk.general)
    months = int(reserve // due)
    for t in range(1, months + 1):
        assert revenue_bond.service(desk, deal, t, {}) == []
    assert desk.balance(deal.account) == pytest.approx(reserve - months * due)
    left = desk.balance(deal.account)
    [(debt, short)] = revenue_bond.service(desk, deal, months + 1, {})
    assert debt is d and short == pytest.approx(due - left)
    assert d.defaulted and d.unpaid == pytest.approx(due - left)
    assert desk.balance(deal.account) == pytest.approx(0.0, abs=1e-6)
    # a later shortfall adds to what is unpaid but is not a new default
    assert revenue_bond.service(desk, deal, months + 2, {}) == []
    assert d.unpaid == pytest.approx(2 * due - left)
    assert desk.balance(desk.general) == general
    assert d.paid + d.unpaid == pytest.approx((months + 2) * due)
    desk.ledger.check_balanced()


def test_a_short_fund_pays_tranches_in_order_and_each_defaults_once():
    desk, inv, deal = setup()
    issue(desk, deal, amount=1e6)
    issue(desk, deal, amount=1e6)
    a, b = desk.debts
    pay_vendor(desk, deal, desk.balance(deal.account))  # nothing left, no reserve
    desk.fund(deal.account, 1.5 * a.due(1), t=1)
    defaults = revenue_bond.service(desk, deal, 1, {})
    assert a.paid == pytest.approx(a.due(1)) and not a.defaulted
    assert b.paid == pytest.approx(0.5 * b.due(1))
    assert defaults == [(b, pytest.approx(0.5 * b.due(1)))]
    assert desk.balance(deal.account) == pytest.approx(0.0, abs=1e-6)
    desk.ledger.check_balanced()


def test_an_overdrawn_fund_pays_nothing_and_releases_nothing():
    desk, inv, deal = issued()
    desk.ledger.transfer(
        1, deal.account, desk.market, 10 * deal.arrangements[0].reserve_target, "opex", deal.pid
    )
    general, fund = desk.balance(desk.general), desk.balance(deal.account)
    [(d, short)] = revenue_bond.service(desk, deal, 1, {})
    assert short == pytest.approx(d.due(1)) and d.paid == 0.0
    assert desk.balance(desk.general) == general and desk.balance(deal.account) == fund


def test_a_redirected_payee_gets_the_instalment():
    desk, inv, deal = issued()
    desk.fund(deal.account, 50_000.0, t=1)
    market, bonds = desk.balance(desk.market), desk.balance(inv.account)
    revenue_bond.service(desk, deal, 1, {inv.account: desk.market})
    assert desk.balance(inv.account) == bonds
    assert desk.balance(desk.market) - market == pytest.approx(desk.debts[0].due(1))


def test_a_month_with_nothing_due_only_releases_the_surplus():
    desk, inv, deal = issued()
    desk.fund(deal.account, 1000.0, t=0)
    general = desk.balance(desk.general)
    assert revenue_bond.service(desk, deal, 0, {}) == []  # issued at 0: first due at 1
    assert desk.balance(desk.general) - general == pytest.approx(1000.0)
    assert desk.debts[0].paid == 0.0


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.0, 30_000.0), min_size=1, max_size=24))
def test_the_waterfall_never_draws_the_general_fund(revenues):
    desk, inv, deal = issued()
    [d] = desk.debts
    for t, cash in enumerate(revenues, start=1):
        desk.fund(deal.account, cash, t=t)
        general = desk.balance(desk.general)
        revenue_bond.service(desk, deal, t, {})
        assert desk.balance(desk.general) >= general - 1e-9
        assert desk.balance(deal.account) >= -1e-6
    assert d.paid + d.unpaid == pytest.approx(sum(d.due(t) for t in range(1, len(revenues) + 1)))
    desk.ledger.check_balanced()
