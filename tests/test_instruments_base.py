"""Tests for what every instrument shares (``sim.instruments.base``) and the catalogue.

Debts are built by hand on a real ledger; expected schedules, present values
and payments are written out in the tests (annuity formula, hand discounting),
never taken from the function under test. The real treasury is checked to
offer every member of the ``Desk`` protocol the instruments use.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, annuity, monthly

from sim.core.ledger import Ledger
from sim.instruments import (
    base,
    catalogue,
    go_bond,
    mini_bonds,
    performance,
    ppp,
    revenue_bond,
    revolving_fund,
    tif,
    vendor_finance,
)
from sim.instruments.base import GENERAL, NO_TERM, Arrangement, Debt


def two_accounts():
    led = Ledger(capacity=64)
    payer = led.open_account("payer", "city")
    payee = led.open_account("payee", "investor")
    general = led.open_account("general", "city")
    return led, payer, payee, general


def debt(payments, start=5, recourse=GENERAL, payer=0, payee=1, rate=0.06):
    return Debt(
        3, "x", payer, payee, start, np.asarray(payments, dtype=float), 100.0, rate, recourse
    )


# ---------------------------------------------------------------- Debt: schedule queries


def test_due_inside_and_outside_the_schedule():
    d = debt([10.0, 20.0, 30.0], start=5)
    assert [d.due(m) for m in range(3, 10)] == [0.0, 0.0, 10.0, 20.0, 30.0, 0.0, 0.0]


def test_outstanding_is_pv_of_payments_after_the_month_at_the_schedules_monthly_rate():
    pays = [100.0, 100.0, 100.0, 500.0]
    d = debt(pays, start=10, rate=0.12)
    r = 0.12 / 12  # the nominal convention of the schedules
    # after month 11 (the second payment) two remain, at one and two months ahead
    assert d.outstanding(11) == pytest.approx(100 / (1 + r) + 500 / (1 + r) ** 2, rel=1e-12)
    # before the first payment every payment is still to come
    whole = sum(p / (1 + r) ** (k + 1) for k, p in enumerate(pays))
    assert d.outstanding(9) == pytest.approx(whole, rel=1e-12)
    assert d.outstanding(0) == pytest.approx(whole, rel=1e-12)
    assert d.outstanding(13) == 0.0
    assert d.outstanding(40) == 0.0


def test_annual_service_sums_the_next_twelve_months_and_cap_service_equals_it():
    pays = np.arange(1.0, 31.0)  # 1..30
    d = debt(pays, start=10)
    assert d.annual_service(10) == pytest.approx(sum(range(1, 13)))
    assert d.annual_service(0) == pytest.approx(sum(range(1, 13)))  # before the start
    assert d.annual_service(25) == pytest.approx(sum(range(16, 28)))
    assert d.annual_service(35) == pytest.approx(sum(range(26, 31)))  # only 5 left
    assert d.annual_service(40) == 0.0
    for m in (0, 10, 25, 40):
        assert d.cap_service(m) == d.annual_service(m)


# ---------------------------------------------------------------- Debt.pay by recourse


def test_general_recourse_pays_in_full_even_into_a_negative_balance():
    led, payer, payee, _ = two_accounts()
    d = debt([250.0], start=2, payer=payer, payee=payee)
    assert d.pay(led, 2, payee) == 0.0
    assert led.balance(payer) == -250.0
    assert led.balance(payee) == 250.0
    assert d.paid == 250.0 and d.unpaid == 0.0
    led.check_balanced()


@pytest.mark.parametrize("recourse", ["project", "tif", "vehicle"])
def test_own_account_recourse_pays_what_the_account_holds_and_never_the_general_fund(recourse):
    led, payer, payee, general = two_accounts()
    led.transfer(0, general, payer, 30.0, "transfer")
    led.transfer(0, payee, general, 1000.0, "transfer")  # a rich general fund nearby
    d = debt([100.0, 100.0], start=1, recourse=recourse, payer=payer, payee=payee)
    assert d.pay(led, 1, payee) == pytest.approx(70.0)
    assert led.balance(payer) == 0.0  # drained, not driven negative
    assert led.balance(general) == 970.0  # untouched by the debt
    assert d.paid == 30.0 and d.unpaid == pytest.approx(70.0)
    n = len(led)
    assert d.pay(led, 2, payee) == pytest.approx(100.0)  # nothing left: no entry at all
    assert len(led) == n
    assert d.unpaid == pytest.approx(170.0)
    led.check_balanced()


def test_own_account_recourse_with_a_negative_balance_pays_nothing():
    led, payer, payee, general = two_accounts()
    led.transfer(0, payer, general, 40.0, "opex")  # the fund is overdrawn
    d = debt([10.0], start=0, recourse="project", payer=payer, payee=payee)
    assert d.pay(led, 0, payee) == 10.0
    assert led.balance(payer) == -40.0
    assert d.paid == 0.0


def test_pay_outside_the_schedule_records_nothing_and_payee_can_be_redirected():
    led, payer, payee, general = two_accounts()
    d = debt([60.0], start=4, payer=payer, payee=payee)
    assert d.pay(led, 3, payee) == 0.0
    assert len(led) == 0
    d.pay(led, 4, general)  # the claim goes elsewhere (an exited vendor's to the market)
    assert led.balance(general) == 60.0 and led.balance(payee) == 0.0


def test_full_recourse_shortfall_is_exact_to_the_cent():
    led, payer, payee, general = two_accounts()
    led.transfer(0, general, payer, 100.0, "transfer")
    d = debt([100.0], start=0, recourse="project", payer=payer, payee=payee)
    assert d.pay(led, 0, payee) == 0.0
    assert d.unpaid == 0.0


# ---------------------------------------------------------------- new_debt, schedules


def test_new_debt_starts_the_month_after_issue():
    deal = Project(pid=11)
    pays = np.full(60, 1.0)
    d = base.new_debt(deal, "go_bond", 0, 1, 7, pays, 50_000.0, 0.06, GENERAL)
    assert (d.project, d.instrument, d.payer, d.payee, d.start) == (11, "go_bond", 0, 1, 8)
    assert d.kind == "debt_service" and d.recourse == GENERAL
    assert not d.defaulted and d.paid == 0.0
    d2 = base.new_debt(Project(), "x", 0, 1, 0, np.full(5, 1.0), 1200.0, 0.0, "project", "loan")
    assert d2.kind == "loan" and d2.recourse == "project"


def test_a_new_level_debt_is_worth_its_principal_at_issue():
    """Valued at the schedule's own rate, a bond is worth what was borrowed."""
    pays = base.level_payments(1e6, 0.05, 20)
    d = base.new_debt(Project(), "go_bond", 0, 1, 0, pays, 1e6, 0.05, GENERAL)
    assert d.outstanding(0) == pytest.approx(1e6, rel=1e-12)
    serial = base.level_payments(1e6, 0.05, 20, serial=True)
    d = base.new_debt(Project(), "go_bond", 0, 1, 0, serial, 1e6, 0.05, GENERAL)
    assert d.outstanding(0) == pytest.approx(1e6, rel=1e-12)
    assert d.outstanding(120) == pytest.approx(0.5e6, rel=1e-9)  # half repaid after 10 years


def test_level_payments_follow_the_annuity_formula_at_the_nominal_monthly_rate():
    pay = base.level_payments(1_000_000.0, 0.05, 10)
    assert pay.shape == (120,)
    np.testing.assert_allclose(pay, annuity(1_000_000.0, 0.05 / 12, 120), rtol=1e-12)
    assert pay[0] == pytest.approx(10_606.55, abs=0.01)  # textbook value


def test_serial_payments_repay_level_principal_with_interest_on_the_balance():
    p, r, years = 120_000.0, 0.06, 10
    pay = base.level_payments(p, r, years, serial=True)
    n = years * 12
    by_hand = [p / n + (p - k * p / n) * r / 12 for k in range(n)]
    np.testing.assert_allclose(pay, by_hand, rtol=1e-12)
    assert np.all(np.diff(pay) < 0)


@settings(max_examples=25, deadline=None)
@given(st.floats(1e3, 1e9), st.floats(0.0, 0.15), st.integers(1, 40), st.booleans())
def test_schedules_repay_the_principal_at_their_coupon(principal, rate, years, serial):
    pay = base.level_payments(principal, rate, years, serial)
    r = rate / 12
    pv = sum(x / (1 + r) ** (k + 1) for k, x in enumerate(pay))
    assert pv == pytest.approx(principal, rel=1e-9)
    assert np.all(pay >= 0)


def test_pv_monthly_by_hand():
    r = monthly(0.08)
    assert base.pv_monthly(250.0, 0.08, 36) == pytest.approx(
        sum(250.0 / (1 + r) ** k for k in range(1, 37)), rel=1e-12
    )
    assert base.pv_monthly(250.0, 0.0, 36) == pytest.approx(9000.0)


# ---------------------------------------------------------------- Arrangement


def test_to_city_hands_ownership_back_and_clears_the_partner_terms():
    arr = Arrangement(
        "as_a_service",
        owner="vendor",
        term_end=120,
        vendor_share=0.4,
        fee_per_unit_month=12.5,
        reserve_target=3.0,
    )
    arr.to_city()
    assert (arr.owner, arr.vendor_share, arr.fee_per_unit_month, arr.term_end) == (
        "city",
        0.0,
        0.0,
        NO_TERM,
    )
    assert arr.instrument == "as_a_service" and arr.reserve_target == 3.0


def test_arrangements_do_not_share_their_series():
    a, b = Arrangement("ppp"), Arrangement("ppp")
    a.cfads.append(1.0)
    a.debt_service.append(2.0)
    assert b.cfads == [] and b.debt_service == []


# ---------------------------------------------------------------- catalogue


def test_catalogue_lists_each_instrument_once_and_its_kinds_are_subsets():
    names = set(catalogue.INSTRUMENTS)
    assert len(names) == len(catalogue.INSTRUMENTS) == 10
    for group in (catalogue.PARTNER_FUNDED, catalogue.REVENUE_BACKED, catalogue.SAVINGS_BACKED):
        assert group <= names
    assert catalogue.SAVINGS_BACKED <= catalogue.REVENUE_BACKED
    assert catalogue.SAVINGS_BACKED <= catalogue.PARTNER_FUNDED


def test_every_instrument_module_name_is_in_the_catalogue():
    module_names = {
        go_bond.NAME,
        revenue_bond.NAME,
        vendor_finance.LOAN,
        vendor_finance.SERVICE,
        vendor_finance.SHARE,
        revolving_fund.NAME,
        mini_bonds.NAME,
        ppp.NAME,
        tif.NAME,
        performance.NAME,
    }
    assert module_names == set(catalogue.INSTRUMENTS)
    city_funded = set(catalogue.INSTRUMENTS) - catalogue.PARTNER_FUNDED
    assert city_funded == {
        "go_bond",
        "revenue_bond",
        "vendor_loan",
        "revolving_fund",
        "mini_bonds",
        "tif",
    }


# ---------------------------------------------------------------- the Desk protocol


def desk_members():
    names = set(base.Desk.__annotations__)
    names |= {
        n
        for n, v in vars(base.Desk).items()
        if not n.startswith("_") and (inspect.isfunction(v) or isinstance(v, property))
    }
    return names


def test_the_fake_desk_offers_every_desk_member():
    members = desk_members()
    assert {"ledger", "general", "debts", "lender", "under_cap", "add_contingent"} <= members
    fake = Desk()
    assert all(hasattr(fake, n) for n in members)


def test_the_real_treasury_is_a_desk_that_issues_a_go_bond():
    from sim.model.api import resolve
    from sim.model.model import AllianceModel

    m = AllianceModel(
        resolve("alliance", {"world.residents.simulated_agents": 2000}), seed=0, months=1
    )
    tr = m.cities[0].treasury
    assert all(hasattr(tr, n) for n in desk_members())
    deal = Project(pid=999)
    before = tr.ledger.balance(tr.general)
    n_debts = len(tr.debts)
    raised = go_bond.issue(tr, deal, 1_000_000.0, 0, go_bond.GOBond(term_years=10))
    assert raised == base.Raised(tr.general, 1_000_000.0)
    assert tr.ledger.balance(tr.general) - before == pytest.approx(1_000_000.0)
    d = tr.debts[-1]
    assert len(tr.debts) == n_debts + 1
    assert d.payments[0] == pytest.approx(annuity(1_000_000.0, d.rate_annual / 12, 120))
    assert 0.0 < d.rate_annual < 0.15
    tr.ledger.check_balanced()
