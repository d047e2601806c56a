"""Out-of-sample validation: targets no parameter was set to reproduce (docs/validation.md).

Each test compares a model output with a published figure that was *not* used
to set any parameter of its scenario (the in-sample targets, such as
Helsinki's 4 % use in 2018, are checked in ``tests/test_calibration.py``). The
tolerance is stated with each test and in ``docs/validation.md``. Targets the
model does not reproduce are strict expected failures with the reason: they
fail loudly (XPASS) the day a change makes the model reproduce them, so the
table in the docs has to be updated.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

import sim

EUR_USD_2022 = 1.05  # ECB reference rate, 2022 average


@cache
def run(name: str, seed: int) -> sim.RunResult:
    return sim.run(name, seed=seed)


def never_scaled_share(seeds: range) -> tuple[float, list[float]]:
    """Share of the alliance's initiatives (procured projects, not replacements) never scaled."""
    total = scaled_total = 0
    shares = []
    for seed in seeds:
        ev = run("alliance", seed).events
        starts = ev[ev.event == "procurement_start"]
        starts = starts[~starts["info"].astype(str).str.contains("replaces")]
        started = set(starts.project)
        scaled = started & set(ev[ev.event == "scaled"].project)
        total += len(started)
        scaled_total += len(scaled)
        shares.append(1 - len(scaled) / len(started))
    return 1 - scaled_total / total, shares


def test_denver_mini_bonds_sell_out_within_an_hour():
    """Denver 2014: the $12M issue sold out in under an hour.

    The buyers' arrival and interest are schema defaults, not tuned to Denver.
    """
    for seed in range(3):
        k = run("denver_minibonds", seed).kpis
        assert k["minibond_sold_usd"] == pytest.approx(12e6, rel=0.01)
        assert 0 < k["minibond_sellout_hours"] < 1.0


def test_about_half_the_alliances_initiatives_never_reach_scale():
    """About half the alliance's initiatives never reach scale, within the IoT base rate's band.

    About 60 % of IoT initiatives stall at proof of concept and about 74 %
    are not a complete success (Cisco 2017, MODEL.md), mostly under traditional practice
    with pilots. Compared with the alliance design (pilots, then scale) in its default
    world over seeds 0-7: the share of procured initiatives that never reach 50 %
    coverage must fall in 35-80 % (the survey's band, widened for 8 worlds of about 6
    initiatives); the traditional design runs no pilots and so is not comparable.
    """
    share, per_seed = never_scaled_share(range(8))
    assert 0.35 <= share <= 0.80, (share, per_seed)
    assert min(per_seed) < share < max(per_seed)  # worlds differ: not a constant


@pytest.mark.xfail(
    strict=True,
    reason="the model draws the whole order ($28-34M over seeds 0-7): San Diego installed part "
    "of it and halted the sensors in 2020; partial installation and a halt over surveillance "
    "are not modelled",
)
def test_san_diego_draws_about_19_9_million():
    """San Diego drew $19.9M of the vendor loan (MODEL.md); the offer was $30.2M.

    Tolerance: within 25 % of $19.9M over the first 5 years.
    """
    for seed in range(2):
        e = run("san_diego_streetlights", seed).ledger.entries()
        drawn = e[(e.kind == "loan") & (e.step < 60)].amount.sum()
        assert drawn == pytest.approx(19.9e6, rel=0.25)


@pytest.mark.xfail(
    strict=True,
    reason="users keep rising to the operator's exit (about 100k in 2023): the operator's "
    "retrenchment, price rises and the transit authority's own app are not modelled",
)
def test_helsinki_declines_to_about_10k_users_by_2023():
    """MaaS Global had about 10k monthly users in 2023-2024 (MODEL.md), down from 60k in 2018.

    Tolerance: 5k-20k users in 2023 (months 84-95).
    """
    for seed in range(2):
        a = run("helsinki_maas", seed).timeseries["adoption.maas"]
        users = float(a.iloc[84:96].mean()) * 1.45e6
        assert 5e3 <= users <= 2e4


@pytest.mark.xfail(
    strict=True,
    reason="2022 fees are 2.1-3.3 times the published revenue: the users who had left by 2022 "
    "are still there (see the decline above)",
)
def test_helsinki_2022_revenue_is_of_the_right_order():
    """MaaS Global's 2022 revenue was EUR 3.8M (all markets, MODEL.md).

    The model's 2022 user fees must be within a factor of sqrt(10) (half a
    decade) of it either way.
    """
    target = 3.8e6 * EUR_USD_2022
    for seed in range(2):
        e = run("helsinki_maas", seed).ledger.entries()
        fees = e[(e.kind == "user_fee") & (e.step >= 72) & (e.step < 84)].amount.sum()
        assert target / np.sqrt(10) <= fees <= target * np.sqrt(10), fees


# --------------------------------------------------------------------------- the model can say no

#: A world from the box `alliance discover --compare-to traditional` finds on
#: experiments/specs/discovery_alliance.toml (design point 164): technology that
#: delivers 14 % more than expected, low rates, optimistic vendors.
GOOD_TECHNOLOGY = {
    "world.rates.shift_bp": -7.967,
    "world.macro.property_growth_annual": 0.032,
    "world.stress.performance_factor": 1.141,
    "world.technology.streetlights.true_performance_mean": 0.740,
    "world.vendors.optimism_bias_mean": 0.520,
    "world.vendors.default_hazard_annual": 0.006,
    "world.regulator.approval_months_mean": 7.915,
    "world.vendors.margin": 0.106,
}
DISCOVERY_SEED = 6405040830294530721


def test_traditional_beats_the_alliance_where_technology_outperforms():
    """Where technology outperforms, the alliance's caution costs more than it saves.

    (docs/validation.md, "Where the traditional design wins".) Its pilots stop
    services that would have paid, it asks the regulator twice per service, and
    it pays for a PMO; the traditional roll-out harvests the savings,
    land value and residual benefits. The paired difference splits into components
    that add up, and the savings and residual benefits carry most of it.
    """
    a, t = (
        sim.run(name, seed=DISCOVERY_SEED, overrides=GOOD_TECHNOLOGY).kpis
        for name in ("alliance", "traditional")
    )
    diff = a["fiscal_npv_usd"] - t["fiscal_npv_usd"]
    assert diff < -50e6
    parts = {k: a[k] - t[k] for k in a if k.startswith("npv.")}
    assert sum(parts.values()) == pytest.approx(diff, rel=1e-9, abs=1.0)
    assert parts["npv.savings"] + parts["npv.benefits_after_horizon"] < diff
    assert parts["npv.capex"] > 0 and parts["npv.operations"] > 0  # it did spend less
    assert a["pilots_stopped"] >= 1 and t["projects_scaled"] > a["projects_scaled"]
