"""Districts, resident groups and land values (``sim.mechanisms.land``).

The DistrictMap's global district slices and group ids (``district * 5 +
quintile``), tax shares summing to 1 per district, land values split by
district weight, and the monthly update (trend x (1 + uplift x services)).
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanisms.land import N_QUINTILES, DistrictMap, LandValues, tax_shares


def layout(cities: int = 3, districts: int = 4) -> DistrictMap:
    groups = cities * districts * N_QUINTILES
    return DistrictMap(districts, np.arange(100, 100 + groups), np.full(groups, 0.2))


# --------------------------------------------------------------------------- the map


def test_district_slice_known_values():
    m = layout(districts=4)
    assert m.district_slice(0) == slice(0, 4)
    assert m.district_slice(2) == slice(8, 12)


def test_district_slices_tile_the_region():
    m = layout(cities=3, districts=4)
    covered = np.concatenate([np.arange(12)[m.district_slice(c)] for c in range(3)])
    np.testing.assert_array_equal(covered, np.arange(12))


def test_city_groups_known_values():
    m = layout(districts=2)
    np.testing.assert_array_equal(m.city_groups(0), np.arange(0, 10))
    np.testing.assert_array_equal(m.city_groups(1), np.arange(10, 20))


def test_city_groups_are_the_groups_of_the_citys_districts():
    """Group id = district x 5 + quintile, so a city's groups are its districts' groups."""
    m = layout(cities=3, districts=4)
    for c in range(3):
        districts = np.arange(12)[m.district_slice(c)]
        expected = (districts[:, None] * N_QUINTILES + np.arange(N_QUINTILES)).ravel()
        np.testing.assert_array_equal(m.city_groups(c), expected)
        assert (m.city_groups(c) // N_QUINTILES == np.repeat(districts, N_QUINTILES)).all()
        assert m.group_accounts[m.city_groups(c)].size == 4 * N_QUINTILES


# --------------------------------------------------------------------------- tax shares


def test_tax_shares_known_values():
    income = np.array(
        [
            1.0,
            1.0,
            2.0,
            2.0,
            4.0,  # district 0: total 10
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,  # district 1: no income
            5.0,
            5.0,
            5.0,
            5.0,
            5.0,
        ]
    )  # district 2: equal
    got = tax_shares(income)
    np.testing.assert_allclose(
        got, [0.1, 0.1, 0.2, 0.2, 0.4, 0, 0, 0, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]
    )


def test_tax_shares_sum_to_one_in_every_district_with_income():
    rng = np.random.default_rng(0)
    income = rng.lognormal(8, 1, 20 * N_QUINTILES)
    income[5:10] = 0.0  # district 1 has no income
    by_district = tax_shares(income).reshape(-1, N_QUINTILES).sum(axis=1)
    np.testing.assert_allclose(np.delete(by_district, 1), 1.0, rtol=1e-12)
    assert by_district[1] == 0.0
    assert np.isfinite(tax_shares(income)).all()


# --------------------------------------------------------------------------- land values


def test_assess_splits_each_city_by_district_weight():
    weight = np.array([1.0, 3.0, 2.0, 2.0, 5.0, 13.0])  # 2 cities x 3 districts
    lv = LandValues.assess([1_000.0, 400.0], weight, 3)
    np.testing.assert_allclose(lv.av0, [1000 / 6, 3000 / 6, 2000 / 6, 40.0, 100.0, 260.0])
    np.testing.assert_allclose(lv.av0.reshape(2, 3).sum(axis=1), [1_000.0, 400.0])
    np.testing.assert_array_equal(lv.trend, lv.av0)
    np.testing.assert_array_equal(lv.av, lv.av0)


def test_assess_only_relative_weights_within_a_city_matter():
    a = LandValues.assess([50.0, 50.0], np.array([1.0, 1.0, 100.0, 300.0]), 2)
    b = LandValues.assess([50.0, 50.0], np.array([7.0, 7.0, 1.0, 3.0]), 2)
    np.testing.assert_allclose(a.av0, b.av0)
    np.testing.assert_allclose(a.av0, [25.0, 25.0, 12.5, 37.5])


def test_update_is_trend_times_service_uplift():
    lv = LandValues(np.array([100.0, 200.0, 300.0]))
    lv.update(1.1, np.array([0.0, 0.5, 1.0]), 0.03, 1.0)  # no lag
    np.testing.assert_allclose(lv.trend, [110.0, 220.0, 330.0])
    np.testing.assert_allclose(lv.av, [110.0, 220.0 * 1.015, 330.0 * 1.03])
    lv.update(0.9, np.zeros(3), 0.03, 1.0)  # services gone, a fall in the market
    np.testing.assert_allclose(lv.av, [90.0, 180.0, 270.0])
    np.testing.assert_allclose(lv.trend, lv.av)


def test_the_uplift_is_capitalised_with_a_lag():
    """Values close 1/lag of the gap each month: 1 - (1 - 1/lag)^t of the uplift after t."""
    lv = LandValues(np.array([100.0]))
    for t in range(1, 25):
        lv.update(1.0, np.array([2.0]), 0.01, 12.0)  # two services fully cover the district
        assert lv.av[0] == pytest.approx(100.0 * (1 + 0.02 * (1 - (1 - 1 / 12) ** t)))
    assert 100.0 < lv.av[0] < 102.0


def test_update_never_changes_the_starting_values():
    av0 = np.array([10.0, 20.0])
    lv = LandValues(av0)
    lv.av[:] = -1.0  # the starting copies are not aliases of av0
    lv.trend[:] = -1.0
    np.testing.assert_array_equal(av0, [10.0, 20.0])
    lv.update(2.0, np.ones(2), 0.5, 1.0)
    np.testing.assert_array_equal(lv.av0, [10.0, 20.0])
    np.testing.assert_allclose(lv.av, [30.0, 60.0])
    lv.av[:] = -1.0  # the current values are not aliases of the start either
    np.testing.assert_array_equal(lv.av0, [10.0, 20.0])
    assert lv.trend[0] == pytest.approx(20.0)
