"""Monthly model-level series (``sim.model.series``) of real short runs.

One column per model-wide series, six per city, one per technology domain and
six per user-facing service (overall and by income quintile); one value per
month up to the horizon and nothing past it; the last month's values agree
with the model's state at the end of the run.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanisms.lifecycle import DEPLOYED
from sim.model import AllianceModel
from sim.model.api import resolve
from sim.model.series import Series

SMALL = {"world.residents.simulated_agents": 2000}
CITY_SERIES = (
    "general_fund",
    "debt_service_ratio",
    "rating",
    "revenue",
    "revolving_fund",
    "tif_fund",
)


def run_model(name: str, months: int) -> AllianceModel:
    m = AllianceModel(resolve(name, SMALL), seed=0, months=months)
    m.run()
    return m


@pytest.fixture(scope="module")
def alliance():
    return run_model("alliance", 24)


@pytest.fixture(scope="module")
def phoenix():
    return run_model("phoenix_consortium", 6)


def expected_columns(m: AllianceModel) -> list[str]:
    names = ["month", "vendors_solvent", "investor_premium", "trust_mean", "satisfaction_mean"]
    for city in m.scenario.world.cities:
        names += [f"{city}.{k}" for k in CITY_SERIES]
    names += [f"coverage.{d}" for d in m.scenario.world.technology]
    for d, t in m.scenario.world.technology.items():
        if t.user_facing:
            names += [f"adoption.{d}"] + [f"adoption.{d}.q{q}" for q in range(1, 6)]
    return names


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("which", ["alliance", "phoenix"])
def test_columns_per_city_domain_and_service(which, request):
    m = request.getfixturevalue(which)
    assert list(m.series.data) == expected_columns(m)
    n_cities = len(m.scenario.world.cities)
    n_domains = len(m.scenario.world.technology)
    n_services = len(m.services)
    assert len(m.series.data) == 5 + 6 * n_cities + n_domains + 6 * n_services


def test_phoenix_has_every_member_city():
    m = AllianceModel(resolve("phoenix_consortium", SMALL), seed=0, months=1)
    cities = {k.split(".")[0] for k in m.series.data if k.endswith(".general_fund")}
    assert cities == set(m.scenario.world.cities) and len(cities) == 12


@pytest.mark.parametrize("which", ["alliance", "phoenix"])
def test_one_value_per_month(which, request):
    m = request.getfixturevalue(which)
    for name, values in m.series.data.items():
        assert values.shape == (m.horizon,), name
        assert np.isfinite(values).all(), name
    np.testing.assert_array_equal(m.series.data["month"], np.arange(m.horizon))


def test_dataframe_of_a_run_has_the_same_columns_and_rows():
    import sim

    result = sim.run("alliance", months=5, overrides=SMALL)
    m = AllianceModel(resolve("alliance", SMALL), seed=0, months=5)
    assert ["month", *result.timeseries.columns] == expected_columns(m)
    assert list(result.timeseries.index) == list(range(5))  # indexed by integer month


# --------------------------------------------------------------------------- the horizon


def test_nothing_is_recorded_past_the_horizon(alliance):
    before = {k: v.copy() for k, v in alliance.series.data.items()}
    alliance.series.record(alliance.horizon)
    alliance.series.record(alliance.horizon + 10)
    for k, v in alliance.series.data.items():
        np.testing.assert_array_equal(v, before[k])


def test_stepping_past_the_horizon_is_refused_and_records_nothing_more():
    m = run_model("alliance", 3)
    before = {k: v.copy() for k, v in m.series.data.items()}
    assert not m.running
    for _ in range(2):
        with pytest.raises(RuntimeError, match="horizon of 3 months"):
            m.step()
    assert m.month == 2
    for k, v in m.series.data.items():
        assert v.shape == (3,)
        np.testing.assert_array_equal(v, before[k])


def test_a_fresh_series_is_zero_until_recorded():
    m = AllianceModel(resolve("alliance", SMALL), seed=0, months=4)
    s = Series(m)
    assert all((v == 0).all() for v in s.data.values())
    s.record(2)
    assert s.data["month"][2] == 2
    assert s.data["trust_mean"][2] > 0 and s.data["trust_mean"][3] == 0


# --------------------------------------------------------------------------- values


def test_last_month_agrees_with_the_model_state(alliance):
    m, d = alliance, alliance.series.data
    assert d["vendors_solvent"][-1] == sum(v.solvent for v in m.vendors)
    assert d["investor_premium"][-1] == pytest.approx(np.mean([i.premium for i in m.investors]))
    for c in m.cities:
        assert d[f"{c.name}.general_fund"][-1] == m.ledger.balance(c.funds.general)
        assert d[f"{c.name}.revolving_fund"][-1] == m.ledger.balance(c.funds.revolving)
        assert d[f"{c.name}.rating"][-1] == c.treasury.rating_index


def test_coverage_is_deployed_coverage_summed_over_cities_per_city(phoenix):
    m, d = phoenix, phoenix.series.data
    for domain in m.scenario.world.technology:
        cov = sum(p.coverage for p in m.projects if p.domain == domain and p.state in DEPLOYED)
        assert d[f"coverage.{domain}"][-1] == pytest.approx(cov / len(m.cities))


def test_coverage_is_within_zero_and_one(alliance, phoenix):
    for m in (alliance, phoenix):
        for domain in m.scenario.world.technology:
            values = m.series.data[f"coverage.{domain}"]
            assert ((values >= 0) & (values <= 1)).all()
    assert any(
        alliance.series.data[f"coverage.{d}"][-1] > 0 for d in alliance.scenario.world.technology
    )


def test_adoption_by_quintile_averages_to_the_overall_share_within_bounds(alliance):
    d = alliance.series.data
    for service in alliance.services:
        overall = d[f"adoption.{service}"]
        by_q = np.stack([d[f"adoption.{service}.q{q}"] for q in range(1, 6)])
        assert ((by_q >= 0) & (by_q <= 1)).all()
        assert ((overall >= by_q.min(axis=0) - 1e-12) & (overall <= by_q.max(axis=0) + 1e-12)).all()


def test_same_seed_same_series():
    a, b = run_model("alliance", 6), run_model("alliance", 6)
    assert all(np.array_equal(a.series.data[k], b.series.data[k]) for k in a.series.data)
