"""Tests for the pure finance engine ``sim.core.finance`` (MODEL.md F1-F8).

Known values are computed independently inside the tests (plain-Python
formulas or published figures), never by calling the function under test.
"""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.core import finance as fin

SCHEDULE_COLUMNS = ["period", "payment", "interest", "principal", "balance"]


def hand_payment(principal: float, rate: float, n: int) -> float:
    """Level payment written out independently of the module."""
    if rate == 0:
        return principal / n
    return principal * rate / (1 - (1 + rate) ** -n)


def hand_pv(flows, rate: float, first_t: int = 1) -> float:
    """Discount flows with element k at time first_t + k."""
    return sum(f / (1 + rate) ** (first_t + k) for k, f in enumerate(flows))


# ---------------------------------------------------------------- TVM basics
def test_annual_monthly_conversion_known_value():
    """12.6825 % a year is 1 % a month; 0 stays 0."""
    assert fin.annual_to_monthly(0.12682503013196977) == pytest.approx(0.01, rel=1e-12)
    assert fin.annual_to_monthly(1.004**12 - 1) == pytest.approx(0.004, rel=1e-12)
    assert fin.annual_to_monthly(0.0) == 0.0


def test_annuity_payment_textbook_value():
    """$1M at 5 % over 10 annual payments costs 129,504.57 a year."""
    assert fin.annuity_payment(1_000_000, 0.05, 10) == pytest.approx(129_504.57, abs=0.01)
    assert fin.annuity_payment(1_000_000, 0.05 / 12, 120) == pytest.approx(10_606.55, abs=0.01)


def test_annuity_payment_zero_rate_and_broadcast():
    """Zero rate is D/n and arrays broadcast element-wise."""
    assert fin.annuity_payment(1200.0, 0.0, 12) == pytest.approx(100.0)
    rates = np.array([0.0, 0.03, 0.07])
    out = fin.annuity_payment(np.array([[1e5], [2e5]]), rates, 15)
    assert out.shape == (2, 3)
    expected = [[hand_payment(p, r, 15) for r in rates] for p in (1e5, 2e5)]
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_pv_annuity_factor_known_value():
    """a(10, 5 %) = 7.721735 and a(n, 0) = n."""
    assert fin.pv_annuity_factor(0.05, 10) == pytest.approx(7.7217349, abs=1e-6)
    assert fin.pv_annuity_factor(0.0, 7) == 7.0


def test_npv_known_value_by_hand():
    """NPV at 8 % with flows[0] at t=0 matches the hand sum (3,065.22)."""
    flows = [-40_000, 5_000, 8_000, 12_000, 30_000]
    by_hand = -40_000 + 5_000 / 1.08 + 8_000 / 1.08**2 + 12_000 / 1.08**3 + 30_000 / 1.08**4
    assert by_hand == pytest.approx(3065.22, abs=0.01)
    assert fin.npv(0.08, flows) == pytest.approx(by_hand, rel=1e-12)
    assert fin.npv(0.08, flows, t0=1) == pytest.approx(by_hand / 1.08, rel=1e-12)


def test_irr_known_value_and_root():
    """IRR of [-100, 39, 59, 55, 20] is 28.095 % and zeroes the NPV."""
    flows = [-100, 39, 59, 55, 20]
    rate = fin.irr(flows)
    assert rate == pytest.approx(0.28095, abs=1e-5)
    assert sum(f / (1 + rate) ** k for k, f in enumerate(flows)) == pytest.approx(0.0, abs=1e-8)


def test_irr_without_sign_change_is_nan():
    """All-positive flows have no IRR."""
    assert math.isnan(fin.irr([1.0, 2.0, 3.0]))


def test_irr_multiple_roots_returns_nearest_zero():
    """-100, 230, -132 has roots 10 % and 20 %; the one nearest zero wins."""
    assert fin.irr([-100, 230, -132]) == pytest.approx(0.10, abs=1e-9)


# ------------------------------------------------------------------- F1 GO
def test_level_debt_service_identities():
    """PV at the coupon is the principal; principal sums to debt; ends at 0."""
    sched = fin.level_debt_service(1_000_000, 0.05, 10).frame()
    assert list(sched.columns) == SCHEDULE_COLUMNS
    assert len(sched) == 10
    assert hand_pv(sched["payment"], 0.05) == pytest.approx(1_000_000, rel=1e-12)
    assert sched["principal"].sum() == pytest.approx(1_000_000, rel=1e-12)
    assert sched["balance"].iloc[-1] == 0.0
    assert (np.diff(sched["balance"]) <= 0).all()
    np.testing.assert_allclose(sched["payment"], 129_504.5749654567, rtol=1e-10)
    assert sched["interest"].iloc[0] == pytest.approx(50_000.0)


def test_level_debt_service_monthly_uses_nominal_rate():
    """Monthly schedule discounts at rate/12 (nominal convention)."""
    sched = fin.level_debt_service(250_000, 0.06, 30, periods_per_year=12).frame()
    assert len(sched) == 360
    assert sched["payment"].iloc[0] == pytest.approx(1498.88, abs=0.01)
    assert hand_pv(sched["payment"], 0.005) == pytest.approx(250_000, rel=1e-10)


def test_serial_bond_schedule_hand_values():
    """Level principal of 250k with interest on the opening balance."""
    sched = fin.serial_bond_schedule(1_000_000, 0.05, 4).frame()
    assert list(sched.columns) == SCHEDULE_COLUMNS
    np.testing.assert_allclose(sched["principal"], [250_000] * 4)
    np.testing.assert_allclose(sched["interest"], [50_000, 37_500, 25_000, 12_500])
    np.testing.assert_allclose(sched["balance"], [750_000, 500_000, 250_000, 0])
    assert hand_pv(sched["payment"], 0.05) == pytest.approx(1_000_000)


def test_yield_curve_defaults_match_model():
    """May-2025 municipal yields at 10 and 20 years (MODEL.md F1)."""
    curve = fin.YieldCurve()
    ten = [3.33, 3.44, 3.68, 4.16]
    twenty = [4.17, 4.38, 4.61, 5.05]
    for rating, y10, y20 in zip(("AAA", "AA", "A", "Baa"), ten, twenty, strict=True):
        assert curve.yield_for(rating, 10) == pytest.approx(y10 / 100)
        assert curve.yield_for(rating, 20) == pytest.approx(y20 / 100)
    assert curve.yield_for("Ba", 10) == pytest.approx(0.0516)
    assert curve.yield_for("B", 20) == pytest.approx(0.0755)


def test_yield_curve_interpolation_extrapolation_shift():
    """Linear between tenors, flat outside, plus a parallel shift."""
    curve = fin.YieldCurve()
    assert curve.yield_for("A", 15) == pytest.approx((0.0368 + 0.0461) / 2)
    assert curve.yield_for("A", 2) == pytest.approx(0.0368)
    assert curve.yield_for("A", 30) == pytest.approx(0.0461)
    assert curve.yield_for("AA", 10, shift=0.02) == pytest.approx(0.0544)
    assert fin.bond_yield("Baa", 12.5) == pytest.approx(0.0416 + 0.25 * 0.0089)
    assert fin.bond_yield("AAA", 10, shift=-0.01) == pytest.approx(0.0233)


def test_yield_curve_orders_ratings_and_rejects_unknown():
    """Worse ratings pay more; an unknown rating names the allowed ones."""
    curve = fin.YieldCurve()
    for years in (5, 10, 14, 20, 25):
        ylds = [curve.yield_for(r, years) for r in fin.RATINGS]
        assert all(np.diff(ylds) > 0)
    with pytest.raises(ValueError, match="AAA.*Baa.*Ba.*B.*got 'CCC'"):
        curve.yield_for("CCC", 10)


def test_yield_curve_custom_and_validation():
    """A custom curve derives Ba/B from Baa; bad shapes are rejected."""
    curve = fin.YieldCurve(tenors_years=(5.0,), yields={"Baa": (0.05,)})
    assert curve.yield_for("Ba", 1) == pytest.approx(0.06)
    assert curve.yield_for("B", 40) == pytest.approx(0.075)
    assert hash(curve) == hash(fin.YieldCurve(tenors_years=(5.0,), yields={"Baa": (0.05,)}))
    with pytest.raises(ValueError, match="yields"):
        fin.YieldCurve(yields={"AAA": (0.03,)})
    with pytest.raises(ValueError, match="tenors_years"):
        fin.YieldCurve(tenors_years=(20.0, 10.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        curve.tenors_years = (1.0,)


def test_debt_service_ratio():
    """Ratio is DS / revenue, element-wise."""
    assert fin.debt_service_ratio(8.0, 100.0) == pytest.approx(0.08)
    np.testing.assert_allclose(fin.debt_service_ratio([1, 2], [10, 40]), [0.1, 0.05])
    with pytest.raises(ValueError, match="general_revenue"):
        fin.debt_service_ratio(1.0, 0.0)


# ------------------------------------------------------------ F2 revenue bonds
def _debt_service(principal: float, rate: float, years: int) -> float:
    return hand_payment(principal, rate, years)


def waterfall(revenues, ds, reserve0):
    """Run revenue_bond_month over periods (the reserve refills up to its start value)."""
    reserve, rows, default = reserve0, [], False
    for rev in revenues:
        month = fin.revenue_bond_month(reserve + max(rev, 0.0), ds, reserve0)
        reserve = reserve + max(rev, 0.0) - month.paid - month.released
        default = default or month.shortfall > 1e-9 * ds
        rows.append((*month, reserve, default))
    return np.array(rows)


def test_revenue_bond_month_hand_values():
    """Pays from revenue and reserve, releases above the target, no recourse beyond."""
    assert fin.revenue_bond_month(150.0, 100.0, 20.0) == (100.0, 0.0, 30.0)
    assert fin.revenue_bond_month(90.0, 100.0, 20.0) == (90.0, 10.0, 0.0)
    assert fin.revenue_bond_month(-5.0, 100.0, 20.0) == (0.0, 100.0, 0.0)
    assert fin.revenue_bond_month(110.0, 100.0, 20.0) == (100.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="debt_service"):
        fin.revenue_bond_month(1.0, -1.0, 0.0)


def test_revenue_bond_ample_revenue_no_shortfall():
    """Revenue at 1.5x debt service pays in full and keeps the reserve."""
    ds = _debt_service(1e6, 0.06, 5)
    rows = waterfall([1.5 * ds] * 5, ds, 0.1 * ds)
    np.testing.assert_allclose(rows[:, 0], ds)
    np.testing.assert_allclose(rows[:, 1], 0.0)
    np.testing.assert_allclose(rows[:, 2], 0.5 * ds)
    np.testing.assert_allclose(rows[:, 3], 0.1 * ds)


def test_revenue_bond_reserve_draw_refill_and_sticky_default():
    """Shortfall draws the reserve, surplus refills it only to the initial."""
    ds = _debt_service(1e6, 0.05, 5)
    reserve = 0.3 * ds
    rows = waterfall([2.0 * ds, 0.8 * ds, 1.5 * ds, 0.5 * ds, 3.0 * ds], ds, reserve)
    np.testing.assert_allclose(rows[:, 3], [0.3 * ds, 0.1 * ds, 0.3 * ds, 0.0, 0.3 * ds])
    np.testing.assert_allclose(rows[:, 1], [0, 0, 0, 0.2 * ds, 0], atol=1e-6)
    np.testing.assert_allclose(rows[:, 2], [ds, 0, 0.3 * ds, 0, 1.7 * ds], atol=1e-6)
    assert rows[:, 4].tolist() == [False, False, False, True, True]


@pytest.mark.parametrize(
    ("deficit", "reserve_periods", "defaults"),
    [
        (0.10, 0.49, True),
        (0.10, 0.51, False),
        (0.0, 0.0, False),
        (0.30, 1.60, False),
        (0.30, 1.40, True),
    ],
)
def test_revenue_bond_defaults_iff_shortfall_exceeds_reserve(deficit, reserve_periods, defaults):
    """Constant deficit d over 5 periods defaults iff 5 d > reserve."""
    ds = _debt_service(2e6, 0.045, 5)
    rows = waterfall([(1 - deficit) * ds] * 5, ds, reserve_periods * ds)
    assert bool(rows[-1, 4]) is defaults
    assert (5 * deficit * ds > reserve_periods * ds) is defaults


def test_revenue_bond_has_no_general_fund_recourse():
    """The signature offers no general-fund argument."""
    params = inspect.signature(fin.revenue_bond_month).parameters
    assert not any("general" in p for p in params)


# --------------------------------------------------------- F3 vendor finance
def test_vendor_loan_is_level_debt_at_cost_plus_margin():
    """Monthly level debt service at 7 % + 2 %."""
    sched = fin.vendor_loan_schedule(30.2e6, 0.07, 0.02, 13)
    assert len(sched) == 156
    np.testing.assert_allclose(sched.payment, hand_payment(30.2e6, 0.09 / 12, 156), rtol=1e-10)


def test_as_a_service_fee_hand_computation():
    """Fee = (monthly annuity of capex at compound-monthly CoC + opex)(1+m)."""
    r_m = 1.08 ** (1 / 12) - 1
    capex_part = 1200 * r_m / (1 - (1 + r_m) ** -60)
    expected = (capex_part + 5.0) * 1.10
    assert fin.as_a_service_fee(1200, 5.0, 60, 0.08, 0.10) == pytest.approx(expected, rel=1e-12)
    assert fin.as_a_service_fee(1200, 0.0, 60, 0.0, 0.0) == pytest.approx(20.0)


def test_revenue_share_payment():
    """Share s of positive revenue; nothing from a loss."""
    assert fin.revenue_share_payment(200.0, 0.25) == 50.0
    assert fin.revenue_share_payment(-50.0, 0.25) == 0.0
    with pytest.raises(ValueError, match="share"):
        fin.revenue_share_payment(1.0, 1.5)


# -------------------------------------------------------- F4 revolving fund
def fund_path(initial, loans, savings, share, rate):
    """F(t+1) = F(t) - loans + repayments + interest, built from the one-period rules."""
    fund, owed, rows = initial, 0.0, []
    for loan, saved in zip(loans, savings, strict=True):
        interest = fin.revolving_fund_interest(fund, rate)
        owed += loan
        repaid = fin.revolving_fund_repayment(saved, share, owed)
        owed -= repaid
        rows.append((fund, loan, repaid, interest, fund - loan + repaid + interest))
        fund = rows[-1][-1]
    return np.array(rows)


def test_revolving_fund_hand_path():
    """Interest on the opening balance; repayments are the savings share."""
    path = fund_path(100.0, [50, 50, 0], [10, 20, 30], 0.5, 0.02)
    np.testing.assert_allclose(path[:, 4], [57.0, 18.14, 33.5028])
    np.testing.assert_allclose(path[:, 3], [2.0, 1.14, 0.3628])


def test_revolving_fund_repayment_stops_when_the_loan_is_repaid():
    """A project never repays more than it borrowed."""
    assert fin.revolving_fund_repayment(100.0, 0.5, 20.0) == 20.0
    assert fin.revolving_fund_repayment(100.0, 0.5, 80.0) == 50.0
    assert fin.revolving_fund_repayment(-10.0, 0.5, 80.0) == 0.0
    path = fund_path(100.0, [40, 0, 0, 0], [30, 30, 30, 30], 0.5, 0.0)
    np.testing.assert_allclose(path[:, 2], [15, 15, 10, 0])
    assert path[-1, 4] == pytest.approx(100.0)


def test_revolving_fund_interest_on_idle_cash_only():
    """Idle cash earns the deposit rate; an overdrawn fund earns nothing."""
    assert fin.revolving_fund_interest(1000.0, 0.002) == pytest.approx(2.0)
    assert fin.revolving_fund_interest(-50.0, 0.002) == 0.0


# ------------------------------------------------------- F5 citizen mini-bonds
def test_denver_mini_bond_yields():
    """Denver 2014: $500 -> $750 at 9 y = 4.61 %; -> $1,000 at 14 y = 5.08 %."""
    assert fin.zero_coupon_yield(500, 750, 9) == pytest.approx(0.0461, abs=2e-4)
    assert fin.zero_coupon_yield(500, 1000, 14) == pytest.approx(0.0508, abs=2e-4)


def test_zero_coupon_round_trips():
    """Yield and price invert one another."""
    rate = fin.zero_coupon_yield(500, 750, 9)
    assert fin.zero_coupon_price(750, rate, 9) == pytest.approx(500)
    assert fin.zero_coupon_price(1000, 0.05, 10) == pytest.approx(1000 / 1.05**10)


# ------------------------------------------------------------------- F6 PPP
def test_size_debt_by_dscr_hand_value_and_llcr():
    """Constant CFADS: debt = (CFADS/DSCR) a(n, r); LLCR equals the DSCR."""
    cfads = np.full(20, 100.0)
    debt = fin.size_debt_by_dscr(cfads, 0.06, 1.25)
    assert debt == pytest.approx(80 * (1 - 1.06**-20) / 0.06, rel=1e-12)
    assert fin.llcr(cfads, 0.06, debt) == pytest.approx(1.25, rel=1e-12)
    sculpted = fin.sculpted_debt_service(cfads, 1.25)
    assert hand_pv(sculpted, 0.06) == pytest.approx(debt, rel=1e-12)
    np.testing.assert_allclose(fin.dscr_series(cfads, sculpted), 1.25)


def test_sculpted_debt_service_pv_equals_sized_debt_varying_cfads():
    """Sculpting a ramping CFADS still reproduces the sized debt."""
    cfads = np.linspace(50, 150, 15)
    debt = fin.size_debt_by_dscr(cfads, 0.055, 1.4)
    assert hand_pv(cfads / 1.4, 0.055) == pytest.approx(debt, rel=1e-12)


def test_dscr_series_zero_debt_service_is_inf():
    """Periods without debt service have infinite cover."""
    np.testing.assert_array_equal(fin.dscr_series([10, 10], [5, 0]), [2.0, np.inf])


def test_value_for_money_hand_value():
    """VfM = PSC - PV(payments) - retained risk - management cost."""
    pv_pay = 10 / 1.05 + 10 / 1.05**2 + 10 / 1.05**3
    vfm = fin.value_for_money(40.0, [10, 10, 10], 0.05, 2.0, 1.0)
    assert vfm == pytest.approx(40 - pv_pay - 3.0, rel=1e-12)


def test_ppp_structure_dscr_sized():
    """Uncapped debt: min DSCR and LLCR equal the sizing DSCR."""
    cfads = np.full(25, 5.0)
    ppp = fin.ppp_structure(100.0, cfads, 0.05, 1.3, 0.12)
    expected_debt = 5 / 1.3 * (1 - 1.05**-25) / 0.05
    assert ppp.debt == pytest.approx(expected_debt, rel=1e-12)
    assert ppp.debt + ppp.equity == pytest.approx(100.0)
    assert ppp.min_dscr == pytest.approx(1.3)
    assert ppp.llcr == pytest.approx(1.3)
    np.testing.assert_allclose(ppp.equity_flows[1:], cfads - ppp.debt_service)
    assert ppp.equity_flows[0] == pytest.approx(-ppp.equity)
    assert ppp.equity_irr == pytest.approx(fin.irr(ppp.equity_flows))
    assert ppp.meets_equity_target is (ppp.equity_irr >= 0.12)


def test_ppp_structure_gearing_cap_and_immutability():
    """Debt capped at 90 % of capex; PV of its service equals the debt."""
    cfads = np.full(25, 12.0)
    ppp = fin.ppp_structure(100.0, cfads, 0.05, 1.3, 0.12)
    assert ppp.debt == pytest.approx(90.0)
    assert ppp.equity == pytest.approx(10.0)
    assert hand_pv(ppp.debt_service, 0.05) == pytest.approx(90.0, rel=1e-12)
    assert ppp.min_dscr > 1.3
    with pytest.raises(dataclasses.FrozenInstanceError):
        ppp.debt = 1.0
    with pytest.raises(ValueError):
        ppp.debt_service[0] = 0.0


# ------------------------------------------------------------------- F7 TIF
def test_tif_increment():
    """Increment is (AV - AV0)^+ times the tax rate."""
    out = fin.tif_increment([90, 100, 130], 100.0, 0.01)
    np.testing.assert_allclose(out, [0.0, 0.0, 0.3])


def test_but_for_share():
    """Share of growth that would happen anyway, clipped; 0 with no increment."""
    assert fin.but_for_share(120, 105, 100) == pytest.approx(0.25)
    assert fin.but_for_share(120, 130, 100) == 1.0
    assert fin.but_for_share(120, 90, 100) == 0.0
    assert fin.but_for_share(95, 105, 100) == 0.0
    np.testing.assert_allclose(fin.but_for_share([100, 140], [130, 110], 100), [0.0, 0.25])


# ------------------------------------------------------------- F8 guarantees
def test_guarantee_expected_cost_matches_monte_carlo():
    """Closed form E[(K - X)^+] within 1 % of a seeded simulation."""
    rng = np.random.default_rng(20250501)
    draws = rng.normal(100.0, 15.0, size=2_000_000)
    mc = np.maximum(90.0 - draws, 0.0).mean()
    assert fin.guarantee_expected_cost(90.0, 100.0, 15.0) == pytest.approx(mc, rel=0.01)


def test_guarantee_expected_cost_degenerate():
    """Zero volatility reduces to the intrinsic value."""
    assert fin.guarantee_expected_cost(90.0, 100.0, 0.0) == 0.0
    assert fin.guarantee_expected_cost(110.0, 100.0, 0.0) == 10.0
    with pytest.raises(ValueError, match="sd"):
        fin.guarantee_expected_cost(1.0, 1.0, -1.0)


def test_lognormal_put_matches_monte_carlo_and_parity():
    """Black's put on a lognormal: a seeded simulation, and put - call = K - F."""
    rng = np.random.default_rng(7)
    s = 0.2
    x = 0.8 * np.exp(s * rng.standard_normal(2_000_000) - 0.5 * s**2)
    put = fin.lognormal_put(0.76, 0.8, s)
    assert put == pytest.approx(np.maximum(0.76 - x, 0.0).mean(), rel=0.01)
    call = np.maximum(x - 0.76, 0.0).mean()
    assert put - call == pytest.approx(0.76 - 0.8, abs=2e-3)
    assert fin.lognormal_put(0.9, 0.8, 0.0) == pytest.approx(0.1)
    assert fin.lognormal_put(0.0, 0.8, 0.2) == 0.0
    assert fin.lognormal_put(0.7, 0.8, 0.1) < fin.lognormal_put(0.7, 0.8, 0.3)
    with pytest.raises(ValueError, match="mean"):
        fin.lognormal_put(1.0, 0.0, 0.1)


def test_guaranteed_required_return():
    """Covering 60 % of the downside removes 60 % of the premium."""
    assert fin.guaranteed_required_return(0.04, 0.05, 0.6) == pytest.approx(0.06)
    assert fin.guaranteed_required_return(0.04, 0.05, 1.0) == pytest.approx(0.04)


def test_guaranteed_savings():
    """Vendor tops up any shortfall below the guarantee."""
    assert fin.guaranteed_savings(1.0, 2.4) == (2.4, pytest.approx(1.4))
    assert fin.guaranteed_savings(3.0, 2.4) == (3.0, 0.0)
    with pytest.raises(ValueError, match="guaranteed"):
        fin.guaranteed_savings(1.0, -1.0)


def test_shared_savings():
    """Vendor takes its share of positive savings; parts sum to verified savings."""
    city, vendor = fin.shared_savings(10.0, 0.7)
    assert vendor == pytest.approx(7.0)
    assert city + vendor == 10.0
    assert fin.shared_savings(-2.0, 0.7) == (-2.0, 0.0)
    with pytest.raises(ValueError, match="vendor_share"):
        fin.shared_savings(10.0, 1.2)


# --------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("call", "name", "value"),
    [
        (lambda: fin.level_debt_service(-1.0, 0.05, 10), "principal", "-1.0"),
        (lambda: fin.level_debt_service(1.0, 0.05, 0), "years", "0"),
        (lambda: fin.serial_bond_schedule(1.0, 0.05, 2.5), "years", "2.5"),
        (lambda: fin.annuity_payment(1.0, -1.5, 10), "rate", "-1.5"),
        (lambda: fin.zero_coupon_yield(0.0, 750, 9), "price", "0.0"),
        (lambda: fin.zero_coupon_yield(500, 750, -9), "years", "-9"),
        (lambda: fin.size_debt_by_dscr([1.0], 0.05, 0.0), "dscr", "0.0"),
        (lambda: fin.revolving_fund_repayment(5.0, 0.5, -1.0), "outstanding", "-1.0"),
        (lambda: fin.as_a_service_fee(100, 1, 0, 0.05, 0.1), "term_months", "0"),
    ],
)
def test_invalid_inputs_name_argument_and_value(call, name, value):
    """Errors name the offending argument and its value."""
    with pytest.raises(ValueError, match=rf"{name}.*{value}"):
        call()


# ------------------------------------------------------------ properties
principals = st.floats(1e3, 1e10)
rates = st.floats(0.0, 0.25)
years_st = st.integers(1, 40)


@settings(max_examples=100, deadline=None)
@given(principals, rates, years_st, st.sampled_from([1, 2, 4, 12]))
def test_level_schedule_properties(principal, rate, years, ppy):
    """Finite values, balance >= 0 and non-increasing, principal sums to debt."""
    sched = fin.level_debt_service(principal, rate, years, ppy).frame()
    values = sched[["payment", "interest", "principal", "balance"]].to_numpy()
    assert np.isfinite(values).all()
    bal = sched["balance"].to_numpy()
    assert (bal >= -1e-6 * principal).all()
    assert (np.diff(bal) <= 1e-9 * principal).all()
    assert bal[-1] == 0.0
    assert sched["principal"].sum() == pytest.approx(principal, rel=1e-9)
    assert hand_pv(sched["payment"], rate / ppy) == pytest.approx(principal, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(principals, rates, years_st)
def test_serial_schedule_properties(principal, rate, years):
    """Serial schedule is finite, non-negative and fully repaid."""
    sched = fin.serial_bond_schedule(principal, rate, years).frame()
    assert np.isfinite(sched.to_numpy(dtype=float)).all()
    assert (sched["balance"] >= -1e-6 * principal).all()
    assert sched["balance"].iloc[-1] == 0.0
    assert sched["principal"].sum() == pytest.approx(principal, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(principals, rates, rates, years_st)
def test_payment_non_decreasing_in_rate(principal, r1, r2, years):
    """A higher rate never lowers the level payment."""
    lo, hi = sorted((r1, r2))
    p_lo = fin.annuity_payment(principal, lo, years)
    p_hi = fin.annuity_payment(principal, hi, years)
    assert np.isfinite(p_lo) and np.isfinite(p_hi)
    assert p_hi >= p_lo * (1 - 1e-12)


def _reference_waterfall(revenues, ds, reserve0):
    """Independent revenue-bond waterfall: (defaults?, closest call)."""
    reserve, closest = reserve0, math.inf
    for rev in revenues:
        if rev >= ds:
            reserve = min(reserve0, reserve + rev - ds)
            continue
        closest = min(closest, abs(reserve - (ds - rev)))
        if reserve < ds - rev:
            return True, closest
        reserve -= ds - rev
    return False, closest


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 2.0), min_size=6, max_size=6), st.floats(0.0, 2.0))
def test_revenue_bond_default_matches_reference(cover, reserve_multiple):
    """Default flag agrees with an independently coded waterfall."""
    ds = hand_payment(1e6, 0.05, 6)
    revenues = [c * ds for c in cover]
    reserve0 = reserve_multiple * ds
    expected, closest = _reference_waterfall(revenues, ds, reserve0)
    assume(closest > 1e-6 * ds)
    rows = waterfall(revenues, ds, reserve0)
    assert bool(rows[-1, 4]) is expected
    np.testing.assert_allclose(rows[:, 0] + rows[:, 1], ds, rtol=1e-9)
    assert (rows[:, 3] <= reserve0 * (1 + 1e-12) + 1e-9).all()


@settings(max_examples=100, deadline=None)
@given(
    st.floats(0.0, 1e9),
    st.lists(st.floats(0.0, 1e7), min_size=1, max_size=30),
    st.floats(0.0, 1.0),
    st.floats(0.0, 0.1),
)
def test_revolving_fund_conservation_property(initial, savings, share, rate):
    """Closing = opening - loans + repayments + interest, and repayments never exceed loans."""
    loans = [initial / 4] + [0.0] * (len(savings) - 1)
    path = fund_path(initial, loans, savings, share, rate)
    np.testing.assert_allclose(
        path[:, 4], path[:, 0] - path[:, 1] + path[:, 2] + path[:, 3], rtol=1e-12, atol=1e-6
    )
    np.testing.assert_allclose(path[1:, 0], path[:-1, 4])
    np.testing.assert_allclose(path[:, 3], rate * np.maximum(path[:, 0], 0.0))
    assert path[:, 2].sum() <= initial / 4 * (1 + 1e-12)
