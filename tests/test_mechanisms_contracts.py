"""Contract payment terms (``sim.mechanisms.contracts``): how measured performance changes pay.

Known values of the pay-for-performance factor (0 below the threshold, 1 at
target, linear in between), value-based billing capped at 150 %, the share of
capex paid upfront, and the lagged, noisy KPI measurement.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanisms import contracts

# --------------------------------------------------------------------------- pay for performance


@pytest.mark.parametrize(
    ("kpi", "threshold", "expected"),
    [
        (0.0, 0.8, 0.0),
        (0.79, 0.8, 0.0),  # below the threshold: nothing
        (0.7999, 0.8, 0.0),  # just below: still nothing, never a negative payment
        (0.8, 0.8, 0.0),  # at the threshold the line starts at 0
        (0.9, 0.8, 0.5),  # halfway to target
        (0.95, 0.8, 0.75),
        (1.0, 0.8, 1.0),  # on target: full payment
        (1.4, 0.8, 1.0),  # above target: never more than full
        (0.5, 0.0, 0.5),  # no threshold: proportional
        (0.99, 1.0, 0.0),  # threshold at target: all or nothing
        (1.0, 1.0, 1.0),
    ],
)
def test_p4p_factor_known_values(kpi, threshold, expected):
    assert contracts.p4p_factor(kpi, threshold) == pytest.approx(expected, abs=1e-12)


def test_p4p_factor_is_linear_between_threshold_and_target():
    """Equal steps in the KPI give equal steps in pay between the threshold and 1."""
    thr = 0.6
    kpis = [thr + k * 0.05 for k in range(9)]  # 0.6 .. 1.0
    pay = [contracts.p4p_factor(k, thr) for k in kpis]
    steps = [b - a for a, b in zip(pay, pay[1:], strict=False)]
    assert steps == pytest.approx([0.05 / (1 - thr)] * len(steps))
    assert pay[0] == 0.0 and pay[-1] == pytest.approx(1.0)


# --------------------------------------------------------------------------- payment modes


@pytest.mark.parametrize("kpi", [0.0, 0.3, 0.85, 1.0, 2.5])
def test_fixed_price_pays_in_full_whatever_the_kpi(kpi):
    assert contracts.payment_factor("fixed_price", kpi, 0.8) == 1.0


@pytest.mark.parametrize("kpi", [0.5, 0.8, 0.9, 1.0, 1.7])
def test_pay_for_performance_mode_uses_the_p4p_factor(kpi):
    assert contracts.payment_factor("pay_for_performance", kpi, 0.8) == contracts.p4p_factor(
        kpi, 0.8
    )


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        (-0.2, 0.0),  # a negative measurement bills nothing, never a refund
        (0.0, 0.0),
        (0.7, 0.7),  # below the claim: billed for the value measured
        (1.0, 1.0),
        (1.3, 1.3),  # above the claim: more than the base payment
        (1.5, 1.5),
        (2.4, 1.5),  # capped at 150 %
    ],
)
def test_value_based_billing_follows_the_kpi_capped_at_150_percent(kpi, expected):
    assert contracts.payment_factor("value_based", kpi, 0.8) == pytest.approx(expected)
    assert contracts.VALUE_CAP == 1.5


# --------------------------------------------------------------------------- retention


@pytest.mark.parametrize(
    ("mode", "retention", "expected"),
    [
        ("pay_for_performance", 0.3, 0.7),
        ("pay_for_performance", 0.0, 1.0),
        ("pay_for_performance", 1.0, 0.0),
        ("fixed_price", 0.3, 1.0),
        ("value_based", 0.3, 1.0),
    ],
)
def test_capex_upfront_share(mode, retention, expected):
    assert contracts.capex_upfront_share(mode, retention) == pytest.approx(expected)


# --------------------------------------------------------------------------- KPI measurement


def test_measure_kpi_records_performance_over_target_with_noise():
    history: list[float] = []
    contracts.measure_kpi(history, 0.6, 0.8, 0.0, 0)
    contracts.measure_kpi(history, 0.6, 0.8, 2.0, 0)
    contracts.measure_kpi(history, 0.6, 0.8, -1.0, 0)
    expected = [0.75, 0.75 * (1 + 2 * contracts.KPI_NOISE), 0.75 * (1 - contracts.KPI_NOISE)]
    assert history == pytest.approx(expected)


def test_measure_kpi_pays_on_the_lagged_measurement():
    """With a lag of L months the first L payments use 1, then the KPI of L months ago."""
    history: list[float] = []
    thetas = [0.5, 0.6, 0.7, 0.8, 0.9]
    paid = [contracts.measure_kpi(history, th, 1.0, 0.0, 2) for th in thetas]
    assert paid[:2] == [1.0, 1.0]
    assert paid[2:] == pytest.approx([0.5, 0.6, 0.7])
    assert history == pytest.approx(thetas)


def test_measure_kpi_without_lag_pays_on_this_month():
    history: list[float] = []
    assert contracts.measure_kpi(history, 0.9, 1.2, 0.0, 0) == pytest.approx(0.75)
    assert len(history) == 1


# --------------------------------------------------------------------------- risk pricing


def test_expected_payment_factor():
    assert contracts.expected_payment_factor("fixed_price", 0.5, 0.3, 0.8) == 1.0
    assert contracts.expected_payment_factor("pay_for_performance", 1.0, 0.0, 0.8) == pytest.approx(
        1.0
    )
    assert contracts.expected_payment_factor("pay_for_performance", 0.7, 0.0, 0.8) == 0.0
    # a site's spread costs an honest vendor: payments are capped at target
    honest = contracts.expected_payment_factor("pay_for_performance", 1.0, 0.15, 0.8)
    assert 0.5 < honest < 1.0
    shaded = [
        contracts.expected_payment_factor("pay_for_performance", k, 0.15, 0.8)
        for k in (1.0, 0.9, 0.8, 0.7)
    ]
    assert shaded == sorted(shaded, reverse=True)
    assert contracts.expected_payment_factor("value_based", 1.2, 0.0, 0.8) == pytest.approx(1.2)


KW = dict(benefit_per_unit_month=14.0, opex_per_unit_month=1.5, margin=0.15, life_months=180)


def test_the_premium_grows_with_the_over_claim_and_the_guarantee():
    g = contracts.RiskTerms(guaranteed_share=0.8, guarantee_months=120, sd_log=0.15)
    p = [
        contracts.risk_premium(g, price=1000.0, claim=c, true_perf=0.6, **KW)
        for c in (0.6, 0.75, 0.9)
    ]
    assert p == sorted(p) and p[0] > 0
    lower = contracts.RiskTerms(guaranteed_share=0.5, guarantee_months=120, sd_log=0.15)
    assert contracts.risk_premium(lower, price=1000.0, claim=0.9, true_perf=0.6, **KW) < p[2]
    shorter = contracts.RiskTerms(guaranteed_share=0.8, guarantee_months=24, sd_log=0.15)
    assert contracts.risk_premium(shorter, price=1000.0, claim=0.9, true_perf=0.6, **KW) < p[2]
    neutral = contracts.RiskTerms(
        guaranteed_share=0.8, guarantee_months=120, sd_log=0.15, risk_aversion=0.0
    )
    assert contracts.risk_premium(neutral, price=1000.0, claim=0.9, true_perf=0.6, **KW) == (
        pytest.approx(p[2] / 1.5)
    )


def test_the_guarantee_premium_is_the_discounted_expected_shortfall():
    from sim.core import finance

    t = contracts.RiskTerms(
        guaranteed_share=0.8,
        guarantee_months=12,
        sd_log=0.0,
        risk_aversion=0.0,
        cost_of_capital=0.0,
    )
    # sure shortfall of 0.8 x 1.0 - 0.6 = 0.2 x 14 USD a month for 12 months
    got = contracts.risk_premium(t, price=1000.0, claim=1.0, true_perf=0.6, **KW)
    assert got == pytest.approx(0.2 * 14.0 * 12)
    assert finance.lognormal_put(0.8, 0.6, 0.0) == pytest.approx(0.2)


def test_fixed_price_without_a_guarantee_carries_no_premium():
    assert (
        contracts.risk_premium(contracts.RiskTerms(), price=1000.0, claim=2.0, true_perf=0.1, **KW)
        == 0.0
    )


@pytest.mark.parametrize("mode", ["fixed_price", "pay_for_performance", "value_based"])
@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.8, 1.0, 1.2])
def test_payment_factors_are_payment_factor_element_by_element(mode, threshold):
    """The array version the expectation uses has the scalar rule's bits everywhere."""
    kpis = np.concatenate(
        [np.random.default_rng(1).lognormal(0.0, 0.6, 300), [0.0, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0]]
    )
    got = contracts.payment_factors(mode, kpis, threshold)
    want = [contracts.payment_factor(mode, float(k), threshold) for k in kpis]
    assert got.tolist() == want
