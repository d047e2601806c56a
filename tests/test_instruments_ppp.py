"""Tests for the public-private partnership (``sim.instruments.ppp``, MODEL.md F6).

The vehicle's structure (debt sized on CFADS / DSCR and capped by gearing,
sculpted service, equity the rest), the availability payment, value for
money, the monthly operation (KPI deductions, guarantee calls), the DSCR
record and the dividends are checked against values computed in the tests on
a small fake desk with a fake bank, equity investor and partner.
"""

from __future__ import annotations

import numpy as np
import pytest
from instrument_fakes import Desk, Project, Tech, annuity, monthly, normal_put

from sim.instruments import ppp
from sim.instruments.base import Arrangement, Debt
from sim.instruments.guarantees import PPP_CASH_SD_SHARE

DEBT_RATE, EQ_RATE, DEMAND_PREMIUM = 0.05, 0.10, 0.03
AVAIL = ppp.PPP(
    payment="availability",
    term_years=20,
    dscr_target=1.2,
    gearing_max=0.85,
    kpi_deduction_rate=1.0,
    contract_management_share=0.02,
)
FEES = ppp.PPP(payment="user_fees", term_years=20, dscr_target=1.5, gearing_max=0.85)


def setup(user_facing=True, bank=True, equity=True, vendor=True, general_cash=1e7):
    desk = Desk(general_cash=general_cash)
    lenders = {}
    if bank:
        lenders["bank"] = desk.add_lender("bank", debt_rate=DEBT_RATE, capital=1e9)
    if equity:
        lenders["equity"] = desk.add_lender(
            "equity", equity_rate=EQ_RATE, demand_premium=DEMAND_PREMIUM, capital=1e9
        )
    v = desk.add_vendor() if vendor else None
    tech = Tech(benefit_type="user_fees", user_facing=user_facing)
    deal = Project(pid=12, domain="maas", tech=tech, units=0.0, price_per_unit=1000.0)
    return desk, lenders, v, deal


def raise_(
    desk, deal, arr, terms, units=100.0, t=0, floor=0.0, base_cash=30.0, om=3.0, discount=0.04
):
    return ppp.raise_tranche(
        desk,
        deal,
        arr,
        units,
        t,
        terms,
        revenue_floor_share=floor,
        base_cash_per_unit=base_cash,
        om_per_unit=om,
        discount_rate=discount,
    )


def structure_by_hand(capex, cfads_year, years, debt_rate, dscr, gearing):
    sculpted = np.full(years, cfads_year / dscr)
    sized = sum(x / (1 + debt_rate) ** (k + 1) for k, x in enumerate(sculpted))
    debt = min(sized, gearing * capex)
    return debt, capex - debt, sculpted * debt / sized


# ---------------------------------------------------------------- availability payment


def test_availability_payment_recovers_capex_at_the_wacc_plus_opex():
    wacc = 0.85 * 0.05 + 0.15 * 0.10
    expected = annuity(1000.0, monthly(wacc), 240) + 3.0
    assert ppp.availability_payment(1000.0, 3.0, 20, 0.05, 0.10, 0.85) == pytest.approx(
        expected, rel=1e-12
    )
    # all equity is dearer than mostly debt
    assert ppp.availability_payment(1000.0, 3.0, 20, 0.05, 0.10, 0.0) > expected


# ---------------------------------------------------------------- the vehicle


def test_open_vehicle_opens_the_vehicle_account_once():
    desk, _, _, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 6, AVAIL)
    assert (arr.instrument, arr.owner, arr.term_end) == ("ppp", "vehicle", 6 + 240)
    assert desk.ledger.account("cityA:vehicle12") == arr.vehicle
    assert deal.arrangements == []  # not attached: the treasury attaches it
    again = ppp.open_vehicle(desk, deal, 18, AVAIL)
    assert again.vehicle == arr.vehicle and again.term_end == 18 + 240


def test_a_demand_risk_ppp_needs_a_user_facing_domain():
    desk, _, _, deal = setup(user_facing=False)
    n = desk.ledger.n_accounts
    assert ppp.open_vehicle(desk, deal, 0, FEES) is None
    assert desk.ledger.n_accounts == n
    assert ppp.open_vehicle(desk, deal, 0, AVAIL) is not None  # availability is fine


# ---------------------------------------------------------------- financial close


def test_availability_tranche_structure_booking_and_value_for_money():
    desk, lenders, v, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, AVAIL)
    vfm = raise_(desk, deal, arr, AVAIL, units=100.0, om=3.0, discount=0.04)
    fee = ppp.availability_payment(1000.0, 3.0, 20, DEBT_RATE, EQ_RATE, 0.85)
    assert arr.fee_per_unit_month == pytest.approx(fee)
    capex = 100_000.0
    debt, equity, service = structure_by_hand(
        capex, 12 * 100 * (fee - 3.0), 20, DEBT_RATE, 1.2, 0.85
    )
    bank, eq = lenders["bank"], lenders["equity"]
    assert bank.invested == pytest.approx(debt) and eq.invested == pytest.approx(equity)
    assert debt <= 0.85 * capex + 1e-6
    assert arr.equity == pytest.approx(equity) and arr.equity_investor == eq.account
    assert desk.balance(arr.vehicle) == pytest.approx(0.0, abs=1e-6)
    assert desk.balance(v.account) == pytest.approx(capex)
    assert v.built == [("maas", 100.0, 12, 0, 1.0)]
    assert deal.capex_total == capex
    [d] = desk.debts
    assert (d.instrument, d.recourse, d.payer, d.payee, d.start) == (
        "ppp",
        "vehicle",
        arr.vehicle,
        bank.account,
        1,
    )
    np.testing.assert_allclose(d.payments, np.repeat(service / 12, 12), rtol=1e-9)
    assert d.payments.size == 240
    psc = capex + sum(100 * 3.0 / (1 + monthly(0.04)) ** k for k in range(1, 241))
    paid = sum(100 * fee / (1 + monthly(0.04)) ** k for k in range(1, 241))
    assert vfm == pytest.approx(psc - paid - 0.02 * capex, rel=1e-9)
    assert lenders["equity"].asked[-1] == dict(demand_risk=False, covered_share=0.0)
    assert desk.contingent == 0.0
    desk.ledger.check_balanced()


@pytest.mark.parametrize("missing", ["bank", "equity", "vendor"])
def test_a_tranche_without_a_bank_an_investor_or_a_partner_is_not_financed(missing):
    desk, _, _, deal = setup(**{missing: False})
    arr = ppp.open_vehicle(desk, deal, 0, AVAIL)
    n = len(desk.ledger)
    assert raise_(desk, deal, arr, AVAIL) is None
    assert len(desk.ledger) == n and desk.debts == [] and deal.capex_total == 0.0


def test_user_fees_tranche_with_a_minimum_revenue_guarantee():
    desk, lenders, v, deal = setup()
    terms = FEES.model_copy(update=dict(min_revenue_guarantee_share=0.5))
    arr = ppp.open_vehicle(desk, deal, 0, terms)
    vfm = raise_(desk, deal, arr, terms, units=100.0, floor=0.2, base_cash=30.0, om=3.0)
    assert vfm is not None
    assert lenders["equity"].asked[-1] == dict(demand_risk=True, covered_share=0.5)
    assert arr.fee_per_unit_month == 0.0
    assert arr.base_case_cash_month == pytest.approx(3000.0)
    assert arr.guarantee_floor_month == pytest.approx(1500.0)
    assert desk.contingent == pytest.approx(
        12 * 20 * normal_put(1500.0, 3000.0, PPP_CASH_SD_SHARE * 3000.0)
    )
    capex = 100_000.0
    psc = capex + sum(100 * 3.0 / (1 + monthly(0.04)) ** k for k in range(1, 241))
    assert vfm == pytest.approx(psc - 0.02 * capex, rel=1e-9)  # the city pays no fee
    desk.ledger.check_balanced()


def test_user_fees_without_a_guarantee_book_no_contingent_liability():
    desk, lenders, _, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, FEES)
    assert raise_(desk, deal, arr, FEES, base_cash=30.0) is not None
    assert desk.contingent == 0.0 and arr.guarantee_floor_month == 0.0
    assert lenders["equity"].asked[-1] == dict(demand_risk=True, covered_share=0.0)


def test_a_refused_later_tranche_leaves_the_guarantee_as_it_was():
    """Only a tranche that reaches financial close raises the floor and the liability."""
    desk, _, _, deal = setup()
    terms = FEES.model_copy(update=dict(min_revenue_guarantee_share=0.5))
    arr = ppp.open_vehicle(desk, deal, 0, terms)
    assert raise_(desk, deal, arr, terms, units=100.0, base_cash=30.0) is not None
    before = (arr.guarantee_floor_month, arr.base_case_cash_month, desk.contingent)
    assert raise_(desk, deal, arr, terms, units=100.0, t=12, base_cash=3.0) is None
    assert (arr.guarantee_floor_month, arr.base_case_cash_month, desk.contingent) == before


def test_a_ppp_whose_equity_npv_is_negative_on_user_fees_is_not_financed():
    desk, lenders, v, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, FEES)
    n = len(desk.ledger)
    # 5 a month over O&M does not pay back 1000 a unit at the equity's 13 %
    assert raise_(desk, deal, arr, FEES, base_cash=8.0, om=3.0) is None
    assert len(desk.ledger) == n and desk.debts == [] and v.built == []
    [(_, event, info)] = desk.notes
    assert event == "ppp_not_bankable"
    assert info["required"] == pytest.approx(EQ_RATE + DEMAND_PREMIUM)


def test_user_fees_below_the_running_cost_are_not_financed():
    desk, _, v, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, FEES)
    assert raise_(desk, deal, arr, FEES, base_cash=3.0, om=3.0) is None
    assert desk.debts == [] and v.built == []


def test_a_later_tranche_is_financed_over_the_remaining_term():
    desk, _, _, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, AVAIL)
    raise_(desk, deal, arr, AVAIL, t=0)
    raise_(desk, deal, arr, AVAIL, t=60)
    first, second = desk.debts
    assert second.start == 61 and second.payments.size == 15 * 12
    assert first.payments.size == 240


# ---------------------------------------------------------------- receiver


def test_receiver_is_the_vehicle_only_under_demand_risk():
    arr = Arrangement("ppp", owner="vehicle", vehicle=5)
    assert ppp.receiver(arr, FEES) == 5
    assert ppp.receiver(arr, AVAIL) is None
    arr.to_city()
    assert ppp.receiver(arr, FEES) is None


# ---------------------------------------------------------------- operation


def vehicle(desk, fee=50.0, floor=0.0):
    acct = desk.ledger.open_account("veh", "vehicle")
    eq = desk.ledger.open_account("eq", "investor")
    return Arrangement(
        "ppp",
        owner="vehicle",
        vehicle=acct,
        fee_per_unit_month=fee,
        guarantee_floor_month=floor,
        equity_investor=eq,
    )


@pytest.mark.parametrize(
    "kpi, expected", [(1.2, 1.0), (1.0, 1.0), (0.9, 0.9), (0.5, 0.5), (0.0, 0.0)]
)
def test_the_availability_payment_falls_with_the_kpi_deduction(kpi, expected):
    desk, _, v, deal = setup()
    deal.units = 10.0
    arr = vehicle(desk, fee=50.0)
    general = desk.balance(desk.general)
    call = ppp.operate_month(
        desk, deal, arr, v, cash=0.0, opex=100.0, margin=0.1, measured_kpi=kpi, t=3, terms=AVAIL
    )
    assert call == 0.0
    paid = general - desk.balance(desk.general)
    assert paid == pytest.approx(500.0 * expected)
    assert desk.balance(arr.vehicle) == pytest.approx(500.0 * expected - 110.0)
    assert desk.balance(v.account) == pytest.approx(110.0 - 100.0)
    assert arr.cfads == [pytest.approx(500.0 * expected - 110.0)]
    desk.ledger.check_balanced()


def test_a_steeper_deduction_rate_cuts_more():
    desk, _, v, deal = setup()
    deal.units = 10.0
    steep = AVAIL.model_copy(update=dict(kpi_deduction_rate=3.0))
    arr = vehicle(desk)
    general = desk.balance(desk.general)
    ppp.operate_month(desk, deal, arr, v, 0.0, 0.0, 0.0, 0.9, 1, steep)
    assert general - desk.balance(desk.general) == pytest.approx(500.0 * 0.7)
    ppp.operate_month(desk, deal, arr, v, 0.0, 0.0, 0.0, 0.6, 2, steep)  # deduction over 100 %
    assert general - desk.balance(desk.general) == pytest.approx(500.0 * 0.7)


def test_user_fees_below_the_floor_are_topped_up_by_the_general_fund():
    desk, _, v, deal = setup()
    deal.units = 10.0
    arr = vehicle(desk, floor=1000.0)
    general = desk.balance(desk.general)
    call = ppp.operate_month(
        desk, deal, arr, v, cash=700.0, opex=100.0, margin=0.0, measured_kpi=0.2, t=1, terms=FEES
    )
    assert call == pytest.approx(300.0)
    assert general - desk.balance(desk.general) == pytest.approx(300.0)
    assert arr.cfads == [pytest.approx(700.0 + 300.0 - 100.0)]
    # above the floor: no call, and the KPI does not matter under user fees
    call = ppp.operate_month(desk, deal, arr, v, 1200.0, 100.0, 0.0, 0.2, 2, FEES)
    assert call == 0.0
    assert arr.cfads[-1] == pytest.approx(1100.0)
    desk.ledger.check_balanced()


def test_without_a_partner_the_market_runs_the_equipment():
    desk, _, _, deal = setup(vendor=False)
    deal.units = 10.0
    arr = vehicle(desk, fee=50.0)
    market = desk.balance(desk.market)
    ppp.operate_month(desk, deal, arr, None, 0.0, 100.0, 0.25, 1.0, 1, AVAIL)
    assert desk.balance(desk.market) - market == pytest.approx(125.0)
    assert desk.balance(arr.vehicle) == pytest.approx(500.0 - 125.0)


def test_operation_records_the_vehicles_debt_service_of_the_month():
    desk, _, v, deal = setup()
    deal.units = 10.0
    arr = vehicle(desk)
    desk.debts += [
        Debt(12, "ppp", arr.vehicle, 0, 2, np.array([40.0, 60.0]), 90.0, 0.05, "vehicle"),
        Debt(12, "go_bond", desk.general, 0, 2, np.array([999.0]), 1.0, 0.05),
    ]
    for t in (1, 2, 3, 4):
        ppp.operate_month(desk, deal, arr, v, 0.0, 0.0, 0.0, 1.0, t, AVAIL)
    assert arr.debt_service == [0.0, 40.0, 60.0, 0.0]


# ---------------------------------------------------------------- DSCR and dividends


def test_min_dscr_is_the_lowest_twelve_month_cover():
    arr = Arrangement("ppp")
    arr.cfads = [100.0] * 12 + [40.0] * 6
    arr.debt_service = [50.0] * 18
    windows = [sum(arr.cfads[i : i + 12]) / sum(arr.debt_service[i : i + 12]) for i in range(7)]
    assert ppp.min_dscr(arr) == pytest.approx(min(windows))
    assert ppp.min_dscr(arr) == pytest.approx((6 * 100 + 6 * 40) / 600)


def test_min_dscr_is_infinite_without_a_year_or_without_debt_service():
    arr = Arrangement("ppp")
    arr.cfads, arr.debt_service = [1.0] * 11, [1.0] * 11
    assert ppp.min_dscr(arr) == np.inf
    arr.cfads, arr.debt_service = [1.0] * 24, [0.0] * 24
    assert ppp.min_dscr(arr) == np.inf


def test_dividends_keep_next_months_debt_service_in_the_vehicle():
    desk, _, _, deal = setup()
    arr = vehicle(desk)
    desk.fund(arr.vehicle, 1000.0)
    desk.debts.append(
        Debt(12, "ppp", arr.vehicle, 0, 1, np.array([300.0, 250.0]), 500.0, 0.05, "vehicle")
    )
    ppp.pay_dividends(desk, deal, arr, 1, keep_next=True)  # next month 250 is due
    assert desk.balance(arr.vehicle) == pytest.approx(250.0)
    assert desk.balance(arr.equity_investor) == pytest.approx(750.0)
    n = len(desk.ledger)
    ppp.pay_dividends(desk, deal, arr, 1)  # no surplus left: nothing
    assert len(desk.ledger) == n
    ppp.pay_dividends(desk, deal, arr, 2, keep_next=False)  # hand-back: all of it
    assert desk.balance(arr.vehicle) == 0.0
    assert desk.balance(arr.equity_investor) == pytest.approx(1000.0)
    desk.ledger.check_balanced()


def test_a_vehicle_short_of_its_debt_service_pays_no_dividend():
    desk, _, _, deal = setup()
    arr = vehicle(desk)
    desk.fund(arr.vehicle, 100.0)
    desk.debts.append(
        Debt(12, "ppp", arr.vehicle, 0, 1, np.array([300.0, 250.0]), 500.0, 0.05, "vehicle")
    )
    ppp.pay_dividends(desk, deal, arr, 0)
    assert desk.balance(arr.vehicle) == 100.0 and desk.balance(arr.equity_investor) == 0.0


def test_vehicle_debt_is_paid_only_from_the_vehicle():
    desk, _, _, deal = setup()
    arr = ppp.open_vehicle(desk, deal, 0, AVAIL)
    raise_(desk, deal, arr, AVAIL)
    [d] = desk.debts
    general = desk.balance(desk.general)
    short = d.pay(desk.ledger, 1, d.payee)  # the vehicle holds nothing yet
    assert short == pytest.approx(d.due(1))
    assert desk.balance(desk.general) == general
    assert desk.balance(arr.vehicle) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- competition for a concession


def test_the_concession_share_leaves_equity_exactly_its_required_return():
    args = (100_000.0, 100 * 30.0, 100 * 3.0, 20, DEBT_RATE)
    share = ppp.concession_share(*args, EQ_RATE, FEES)
    assert 0 < share < 1 - 3.0 / 30.0
    from sim.core import finance

    cfads = np.full(20, 12 * (3000.0 * (1 - share) - 300.0))
    s = finance.ppp_structure(100_000.0, cfads, DEBT_RATE, 1.5, EQ_RATE, gearing_max=0.85)
    assert finance.npv(EQ_RATE, s.equity_flows) == pytest.approx(0.0, abs=1.0)
    # a dearer equity leaves the city less; a base case with no rent leaves it nothing
    assert ppp.concession_share(*args, 0.2, FEES) < share
    assert ppp.concession_share(100_000.0, 100 * 4.0, 100 * 3.0, 20, DEBT_RATE, EQ_RATE, FEES) == 0


def test_competing_bidders_pay_the_city_a_share_of_the_fees():
    fees = {}
    for bidders in (1, 2):
        desk, lenders, v, deal = setup()
        for _ in range(bidders - 1):
            desk.add_lender(
                "equity", equity_rate=EQ_RATE, demand_premium=DEMAND_PREMIUM, capital=1e9
            )
        arr = ppp.open_vehicle(desk, deal, 0, FEES)
        assert raise_(desk, deal, arr, FEES) is not None
        deal.units = 100.0
        g0 = desk.balance(desk.general)
        ppp.operate_month(desk, deal, arr, v, 3000.0, 300.0, 0.0, 1.0, 5, FEES)
        fees[bidders] = (arr.concession_share, desk.balance(desk.general) - g0)
    assert fees[1] == (0.0, 0.0)  # a lone bidder keeps the rent
    share, paid = fees[2]
    assert share > 0 and paid == pytest.approx(share * 3000.0)
