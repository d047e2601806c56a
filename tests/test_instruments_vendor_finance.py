"""Tests for vendor financing (``sim.instruments.vendor_finance``, MODEL.md F3).

A vendor loan, equipment as a service and a revenue share, each against a
small fake desk and vendor on a real ledger. Fees, schedules, payback tests
and residual prices are computed by hand in the tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from instrument_fakes import Desk, Project, Tech, annuity, monthly

from sim.instruments import vendor_finance as vf
from sim.instruments.base import GENERAL, Arrangement, Raised

COC = 0.08  # the vendors' cost of capital


def setup(benefit="energy", general_cash=1e6, **vendor):
    desk = Desk(general_cash=general_cash)
    v = desk.add_vendor(**vendor)
    deal = Project(
        pid=3,
        tech=Tech(benefit_type=benefit, opex_per_unit_month_usd=2.0, lifetime_years=10.0),
        units=100.0,
        price_per_unit=1000.0,
    )
    return desk, v, deal


# ---------------------------------------------------------------- vendor loan


def test_vendor_loan_lends_at_cost_of_capital_plus_margin_with_general_recourse():
    desk, v, deal = setup()
    terms = vf.VendorFinance(loan_margin=0.02, term_years=10)
    raised = vf.issue_loan(desk, deal, 300_000.0, 5, terms, COC)
    assert raised == Raised(desk.general, 300_000.0)
    assert desk.balance(v.account) == -300_000.0
    assert desk.balance(desk.general) == 1e6 + 300_000.0
    [d] = desk.debts
    assert (d.instrument, d.kind, d.recourse, d.payer, d.payee, d.start) == (
        "vendor_loan",
        "loan_repayment",
        GENERAL,
        desk.general,
        v.account,
        6,
    )
    assert d.rate_annual == pytest.approx(0.10)
    np.testing.assert_allclose(d.payments, annuity(300_000.0, 0.10 / 12, 120), rtol=1e-12)
    assert desk.cap_asks[0][0] == pytest.approx(12 * annuity(300_000.0, 0.10 / 12, 120))
    desk.ledger.check_balanced()


def test_vendor_loan_refusals():
    terms = vf.VendorFinance()
    desk = Desk()
    assert vf.issue_loan(desk, Project(), 1e5, 0, terms, COC) is None  # no partner
    desk, v, deal = setup(capital=5e4)
    assert vf.issue_loan(desk, deal, 1e5, 0, terms, COC) is None  # it cannot fund
    desk, v, deal = setup(solvent=False)
    assert vf.issue_loan(desk, deal, 1e5, 0, terms, COC) is None  # it has exited
    desk, v, deal = setup()
    desk.cap = 12 * annuity(1e5, 0.10 / 12, 120) * 0.99
    n = len(desk.ledger)
    assert vf.issue_loan(desk, deal, 1e5, 0, terms, COC) is None  # over the cap
    assert desk.debts == [] and len(desk.ledger) == n


# ---------------------------------------------------------------- as a service


def test_as_a_service_fee_amortises_the_price_covers_opex_and_adds_the_margin():
    desk, v, deal = setup()
    terms = vf.VendorFinance(term_years=7, service_margin=0.12)
    arr = vf.open_service(desk, deal, 10, terms, COC)
    assert deal.arrangements == [arr]
    assert (arr.instrument, arr.owner, arr.term_end) == ("as_a_service", "vendor", 10 + 84)
    expected = (annuity(1000.0, monthly(COC), 84) + 2.0) * 1.12
    assert arr.fee_per_unit_month == pytest.approx(expected, rel=1e-12)
    assert len(desk.ledger) == 1  # signing moves no money (only the seed of the general fund)


def test_service_month_pays_the_fee_scaled_by_the_payment_factor():
    desk, v, deal = setup()
    arr = vf.open_service(desk, deal, 0, vf.VendorFinance(), COC)
    general, vendor, market = (desk.balance(a) for a in (desk.general, v.account, desk.market))
    vf.pay_month(desk, deal, arr, v, opex=200.0, margin=0.15, factor=0.8, t=1)
    fee = arr.fee_per_unit_month * 100.0 * 0.8
    assert general - desk.balance(desk.general) == pytest.approx(fee)
    assert desk.balance(v.account) - vendor == pytest.approx(fee - 200.0)  # it pays the O&M
    assert desk.balance(desk.market) - market == pytest.approx(200.0)
    desk.ledger.check_balanced()


def test_revenue_share_month_the_city_pays_marked_up_opex_and_no_fee():
    desk, v, deal = setup()
    arr = Arrangement("revenue_share", owner="vendor", vendor_share=0.4)
    general, vendor = desk.balance(desk.general), desk.balance(v.account)
    vf.pay_month(desk, deal, arr, v, opex=200.0, margin=0.15, factor=0.9, t=1)
    assert general - desk.balance(desk.general) == pytest.approx(200.0 * 1.15 * 0.9)
    assert desk.balance(v.account) - vendor == pytest.approx(200.0 * 1.15 * 0.9 - 200.0)
    desk.ledger.check_balanced()


def test_an_esco_month_the_esco_pays_the_opex_and_the_city_nothing():
    desk, v, deal = setup()
    arr = Arrangement("shared_savings", owner="vendor", vendor_share=0.5)
    general = desk.balance(desk.general)
    vf.pay_month(desk, deal, arr, v, opex=200.0, margin=0.15, factor=1.0, t=1)
    assert desk.balance(desk.general) == general
    assert desk.balance(v.account) == -200.0


# ---------------------------------------------------------------- end of term


@pytest.mark.parametrize("choice", ["return", "upgrade", "purchase"])
def test_end_of_term_choices(choice):
    desk, v, deal = setup()
    terms = vf.VendorFinance(end_of_term=choice, term_years=5)
    arr = vf.open_service(desk, deal, 0, terms, COC)
    general = desk.balance(desk.general)
    t, deployed = 60, 0
    assert vf.end_of_term(desk, deal, arr, t, terms, v, deployed) == choice
    residual = 1000.0 * 100.0 * (1 - 60 / 120)  # half the 10-year life is used up
    paid = general - desk.balance(desk.general)
    if choice == "purchase":
        assert paid == pytest.approx(residual)
        assert desk.balance(v.account) == pytest.approx(residual)
        assert arr.term_end == 60
    elif choice == "upgrade":
        assert paid == 0.0 and arr.term_end == t + 60  # a new term
    else:
        assert paid == 0.0 and arr.term_end == 60
    desk.ledger.check_balanced()


def test_purchase_without_a_live_partner_pays_nothing():
    desk, v, deal = setup()
    terms = vf.VendorFinance(end_of_term="purchase")
    arr = vf.open_service(desk, deal, 0, terms, COC)
    n = len(desk.ledger)
    assert vf.end_of_term(desk, deal, arr, 60, terms, None, 0) == "purchase"
    assert len(desk.ledger) == n


def test_purchase_after_the_equipments_life_is_free():
    desk, v, deal = setup()
    terms = vf.VendorFinance(end_of_term="purchase")
    arr = vf.open_service(desk, deal, 0, terms, COC)
    n = len(desk.ledger)
    vf.end_of_term(desk, deal, arr, 150, terms, v, 0)  # 12.5 years into a 10-year life
    assert len(desk.ledger) == n


# ---------------------------------------------------------------- revenue share


def share_gain(share, cash_per_unit, claim, months, coc=COC):
    r = monthly(coc)
    return sum(share * cash_per_unit * claim / (1 + r) ** k for k in range(1, months + 1))


def test_share_pays_compares_the_pv_of_the_share_with_the_unit_cost():
    desk, v, deal = setup(unit_cost=800.0, claim=1.2)
    gain = share_gain(0.4, 20.0, 1.2, 120)
    assert gain > 800.0
    assert vf.share_pays(v, deal, 0.4, 120, 20.0, COC, False)
    # running the equipment adds the PV of the O&M to what must be paid back
    running = share_gain(1.0, 2.0, 1.0, 120)
    assert gain < 800.0 + running
    assert not vf.share_pays(v, deal, 0.4, 120, 20.0, COC, True)
    assert vf.share_pays(v, deal, 0.4, 120, 20.0 * (800.0 + running) / gain * 1.001, COC, True)
    # a cost just above the gain fails
    desk, v2, deal = setup(unit_cost=gain * 1.001, claim=1.2)
    assert not vf.share_pays(v2, deal, 0.4, 120, 20.0, COC, False)


def test_open_share_signs_when_the_share_pays_back_the_equipment():
    desk, v, deal = setup(benefit="advertising", unit_cost=800.0, claim=1.0)
    terms = vf.VendorFinance(revenue_share=0.4, revenue_share_years=10)
    arr = vf.open_share(desk, deal, v, 12, terms, COC, cash_per_unit=25.0)
    assert arr is not None and deal.arrangements == [arr]
    assert (arr.instrument, arr.owner, arr.vendor_share, arr.term_end) == (
        "revenue_share",
        "vendor",
        0.4,
        12 + 120,
    )


def test_open_share_refusals():
    terms = vf.VendorFinance(revenue_share=0.4, revenue_share_years=10)
    desk, v, deal = setup(benefit="welfare")
    assert vf.open_share(desk, deal, v, 0, terms, COC, 1e6) is None  # no cash
    desk, v, deal = setup(unit_cost=800.0)
    assert vf.open_share(desk, deal, v, 0, terms, COC, 1.0) is None  # does not pay back
    assert deal.arrangements == []
    # the share is paid at most over the equipment's life: 2 years do not pay back
    desk, v, deal = setup(unit_cost=800.0)
    deal.tech.lifetime_years = 2.0
    cash = 800.0 / (0.4 * 60)  # pays back in about 5 years
    assert vf.open_share(desk, deal, v, 0, terms, COC, cash) is None
    deal.tech.lifetime_years = 15.0
    assert vf.open_share(desk, deal, v, 0, terms, COC, cash) is not None


# ---------------------------------------------------------------- partner take


def test_revenue_share_take_is_the_share_of_positive_cash():
    arr = Arrangement("revenue_share", owner="vendor", vendor_share=0.4)
    take = vf.partner_take(arr, Project(), gain_share_city=0.7)
    assert take(1000.0) == pytest.approx(400.0)
    assert take(-50.0) == 0.0
    fees = np.array([10.0, 0.0, 35.0])
    np.testing.assert_allclose(take(fees), 0.4 * fees)


@pytest.mark.parametrize(
    "benefit, shared",
    [("advertising", True), ("user_fees", True), ("energy", False), ("leakage", False)],
)
def test_as_a_service_shares_only_the_revenue_of_a_vendor_run_service(benefit, shared):
    arr = Arrangement("as_a_service", owner="vendor")
    take = vf.partner_take(arr, Project(tech=Tech(benefit_type=benefit)), gain_share_city=0.7)
    if shared:
        assert take(1000.0) == pytest.approx(300.0)
    else:
        assert take is None


def test_no_take_without_a_share_or_for_other_instruments():
    assert vf.partner_take(Arrangement("revenue_share", vendor_share=0.0), Project(), 0.5) is None
    adv = Project(tech=Tech(benefit_type="advertising"))
    for inst in ("go_bond", "revenue_bond", "ppp", "shared_savings"):
        assert vf.partner_take(Arrangement(inst, vendor_share=0.5), adv, 0.5) is None


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 1.0), st.lists(st.floats(0.0, 1e6), min_size=1, max_size=10))
def test_the_vendor_part_is_the_share_of_each_payers_cash(share, cash):
    take = vf.partner_take(
        Arrangement("revenue_share", vendor_share=max(share, 1e-6)), Project(), 0.5
    )
    cash = np.asarray(cash)
    part = take(cash)
    assert np.all(part >= 0) and np.all(part <= cash + 1e-9)
    np.testing.assert_allclose(part, max(share, 1e-6) * cash, rtol=1e-12)
    assert float(take(float(cash.sum()))) == pytest.approx(float(part.sum()), rel=1e-9)


def test_terms_reject_an_unknown_end_of_term():
    with pytest.raises(ValueError):
        vf.VendorFinance(end_of_term="keep")
    assert vf.VendorFinance().end_of_term == "purchase"
