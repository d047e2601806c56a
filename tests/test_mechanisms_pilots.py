"""Pilots as experiments (``sim.mechanisms.pilots``): Bayesian evaluation and the decision.

Known values computed here independently: the Normal-Normal posterior,
P(X > threshold) against ``scipy.stats.norm``, the break-even performance, the
measurement variance of a pilot month; pooled evidence narrows the posterior;
``decide`` scales, extends or stops at the documented thresholds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sim.config.schema import Pilot
from sim.mechanisms import pilots
from sim.mechanisms.pilots import Evidence

# --------------------------------------------------------------------------- posterior


def normal_normal(mu0, s0, n, xbar, s):
    mu1 = (mu0 / s0**2 + n * xbar / s**2) / (1 / s0**2 + n / s**2)
    return mu1, (1 / s0**2 + n / s**2) ** -0.5


@pytest.mark.parametrize(
    ("mu0", "s0", "n", "xbar", "s"),
    [
        (0.8, 0.25, 1, 0.6, 0.3),
        (0.8, 0.25, 12, 0.6, 0.3),
        (1.0, 0.1, 3, 1.5, 1.0),
        (0.5, 2.0, 5, 0.9, 0.2),
    ],
)
def test_posterior_known_values(mu0, s0, n, xbar, s):
    mu1, s1 = pilots.posterior(mu0, s0, n, xbar, s)
    exp_mu, exp_sd = normal_normal(mu0, s0, n, xbar, s)
    assert mu1 == pytest.approx(exp_mu, rel=1e-12)
    assert s1 == pytest.approx(exp_sd, rel=1e-12)


def test_posterior_worked_example():
    """Prior 0.8 +- 0.2, four measurements averaging 0.5 with sd 0.4: equal weights."""
    mu1, s1 = pilots.posterior(0.8, 0.2, 4, 0.5, 0.4)  # prior precision 25, data 4/0.16 = 25
    assert mu1 == pytest.approx(0.65)
    assert s1 == pytest.approx(math.sqrt(1 / 50))


def test_no_measurement_keeps_the_prior():
    assert pilots.posterior(0.7, 0.3, 0, 99.0, 0.1) == (0.7, 0.3)


@given(
    mu0=st.floats(0.0, 2.0),
    s0=st.floats(0.05, 1.0),
    n=st.integers(1, 50),
    xbar=st.floats(0.0, 2.0),
    s=st.floats(0.05, 1.0),
)
def test_posterior_lies_between_prior_and_data_and_narrows(mu0, s0, n, xbar, s):
    mu1, s1 = pilots.posterior(mu0, s0, n, xbar, s)
    assert min(mu0, xbar) - 1e-12 <= mu1 <= max(mu0, xbar) + 1e-12
    assert s1 < s0
    mu2, s2 = pilots.posterior(mu0, s0, n + 10, xbar, s)
    assert s2 < s1
    assert abs(mu2 - xbar) <= abs(mu1 - xbar) + 1e-12  # more data, closer to the data


# --------------------------------------------------------------------------- probability


@pytest.mark.parametrize(
    ("mu", "sd", "threshold"),
    [
        (0.8, 0.1, 0.7),
        (0.8, 0.1, 0.9),
        (0.5, 0.3, 0.5),
        (1.2, 0.05, 1.0),
        (0.3, 1.0, 2.0),
    ],
)
def test_prob_above_matches_scipy(mu, sd, threshold):
    expected = stats.norm.sf(threshold, loc=mu, scale=sd)
    assert pilots.prob_above(mu, sd, threshold) == pytest.approx(expected, rel=1e-10)


def test_prob_above_with_zero_sd_is_certain():
    assert pilots.prob_above(0.8, 0.0, 0.7) == 1.0
    assert pilots.prob_above(0.6, 0.0, 0.7) == 0.0
    assert pilots.prob_above(0.7, 0.0, 0.7) == 0.0  # strictly above


def test_prob_above_an_infinite_bar_is_zero():
    assert pilots.prob_above(5.0, 1.0, math.inf) == 0.0


# --------------------------------------------------------------------------- break-even


@pytest.mark.parametrize(
    ("capex", "opex_pv", "benefit_pv", "expected"),
    [
        (900.0, 300.0, 2000.0, 0.6),
        (1000.0, 0.0, 1000.0, 1.0),
        (100.0, 50.0, 50.0, 3.0),
        (0.0, 0.0, 10.0, 0.0),
    ],
)
def test_break_even_performance(capex, opex_pv, benefit_pv, expected):
    theta = pilots.break_even_performance(capex, opex_pv, benefit_pv)
    assert theta == pytest.approx(expected)
    if math.isfinite(theta) and benefit_pv > 0:  # NPV is zero at break-even
        assert theta * benefit_pv - capex - opex_pv == pytest.approx(0.0, abs=1e-9)


def test_break_even_without_benefit_is_infinite():
    assert pilots.break_even_performance(100.0, 10.0, 0.0) == math.inf
    assert pilots.break_even_performance(100.0, 10.0, -5.0) == math.inf


# --------------------------------------------------------------------------- evidence


def measurement_var(noise_sd, units):
    return noise_sd**2 / max(units, 1.0)


def test_evidence_without_measurements_returns_the_prior():
    ev = Evidence()
    assert ev.keys() == []
    assert ev.posterior(("lights", 1), 0.7, 0.25) == (0.7, 0.25)


def test_one_measurement_gives_the_normal_normal_posterior():
    ev = Evidence()
    ev.measure(("lights", 1), 1, 0.6, 0.25, 40.0, np.random.default_rng(3))
    var = measurement_var(0.25, 40.0)
    x = 0.6 + np.random.default_rng(3).normal(0.0, np.sqrt(var))  # the same draw
    mu, sd = ev.posterior(("lights", 1), 0.8, 0.2)
    exp_mu, exp_sd = normal_normal(0.8, 0.2, 1, x, math.sqrt(var))
    assert mu == pytest.approx(exp_mu, rel=1e-12)
    assert sd == pytest.approx(exp_sd, rel=1e-12)
    assert ev.keys() == [("lights", 1)]


def test_a_pilots_months_are_precision_weighted_and_its_bias_adds_a_floor():
    ev, rng, ref = Evidence(bias_sd=0.1), np.random.default_rng(5), np.random.default_rng(5)
    xs, vs = [], []
    for units in (1.0, 10.0, 0.2, 200.0):  # under one unit counts as one
        ev.measure(("k",), 9, 0.9, 0.3, units, rng, bias=0.05)
        v = measurement_var(0.3, units)
        xs.append(0.9 + 0.05 + ref.normal(0.0, np.sqrt(v)))
        vs.append(v)
    prec = sum(1 / v for v in vs)
    xbar = sum(x / v for x, v in zip(xs, vs, strict=True)) / prec
    exp_mu, exp_sd = normal_normal(0.7, 0.25, 1, xbar, math.sqrt(0.1**2 + 1 / prec))
    mu, sd = ev.posterior(("k",), 0.7, 0.25)
    assert mu == pytest.approx(exp_mu, rel=1e-12)
    assert sd == pytest.approx(exp_sd, rel=1e-12)


def test_evidence_grows_with_size_and_length_but_not_past_the_bias():
    def sd_after(units, months, bias_sd=0.1):
        ev, rng = Evidence(bias_sd), np.random.default_rng(1)
        for _ in range(months):
            ev.measure(("k",), 1, 0.8, 0.3, units, rng)
        return ev.posterior(("k",), 0.8, 10.0)[1]

    assert sd_after(1, 12) > sd_after(10, 12) > sd_after(1000, 12)
    assert sd_after(10, 6) > sd_after(10, 24)
    assert sd_after(1e9, 1000) == pytest.approx(0.1, rel=1e-3)  # the bias's floor
    assert sd_after(1e9, 1000, bias_sd=0.0) < 1e-3


def test_more_pilots_learn_past_one_pilots_bias():
    """Each pilot brings its own bias: pooling pilots (a consortium) narrows the posterior."""
    ev, rng = Evidence(bias_sd=0.1), np.random.default_rng(0)
    sds = []
    for pilot in range(8):
        for _ in range(12):
            ev.measure(("maas", 7), pilot, 0.5, 0.25, 30.0, rng)
        sds.append(ev.posterior(("maas", 7), 1.0, 0.25)[1])
    assert all(a > b for a, b in zip(sds, sds[1:], strict=False))
    assert sds[-1] < 0.1 / 2


def test_a_flattering_pilot_misleads_the_city():
    """The city allows for the bias's spread, not its mean: a biased pilot looks better."""
    honest, flattering = Evidence(0.1), Evidence(0.1)
    for ev, bias in ((honest, 0.0), (flattering, 0.2)):
        rng = np.random.default_rng(4)
        for _ in range(12):
            ev.measure(("k",), 1, 0.5, 0.25, 50.0, rng, bias=bias)
    assert flattering.posterior(("k",), 0.7, 0.25)[0] > honest.posterior(("k",), 0.7, 0.25)[0]


def test_evidence_keys_are_independent():
    ev, rng = Evidence(), np.random.default_rng(2)
    for _ in range(5):
        ev.measure(("a", 1), 1, 0.2, 0.2, 10.0, rng)
    assert ev.posterior(("a", 2), 0.9, 0.3) == (0.9, 0.3)
    assert ev.posterior(("a", 1), 0.9, 0.3)[0] < 0.9
    assert ev.keys() == [("a", 1)]


def test_same_stream_same_evidence():
    def posterior_after(seed):
        ev, rng = Evidence(), np.random.default_rng(seed)
        for _ in range(6):
            ev.measure(("k",), 1, 0.7, 0.25, 20.0, rng)
        return ev.posterior(("k",), 0.8, 0.2)

    assert posterior_after(4) == posterior_after(4)
    assert posterior_after(4) != posterior_after(5)


# --------------------------------------------------------------------------- decision

PILOT = Pilot(scale_probability=0.7, stop_probability=0.35, max_extensions=2)


@pytest.mark.parametrize(
    ("p", "extensions", "expected"),
    [
        (0.95, 0, pilots.SCALE),
        (0.7, 0, pilots.SCALE),  # at the scale threshold
        (0.7, 2, pilots.SCALE),  # scaling beats the extension limit
        (0.69, 0, pilots.EXTEND),
        (0.35, 0, pilots.EXTEND),  # at the stop threshold: not below it
        (0.5, 1, pilots.EXTEND),
        (0.5, 2, pilots.STOP),  # after the last extension
        (0.5, 3, pilots.STOP),
        (0.34, 0, pilots.STOP),
        (0.0, 0, pilots.STOP),
    ],
)
def test_decide_thresholds(p, extensions, expected):
    assert pilots.decide(p, extensions, PILOT) == expected


def test_decide_without_extensions_never_extends():
    pilot = Pilot(max_extensions=0)
    decisions = {pilots.decide(p, 0, pilot) for p in np.linspace(0, 1, 101)}
    assert decisions == {pilots.SCALE, pilots.STOP}


def test_a_pilot_in_the_grey_zone_stops_after_its_last_extension():
    pilot = Pilot(max_extensions=3)
    extensions = 0
    while pilots.decide(0.5, extensions, pilot) == pilots.EXTEND:
        extensions += 1
        assert extensions <= 3
    assert extensions == 3
    assert pilots.decide(0.5, extensions, pilot) == pilots.STOP
