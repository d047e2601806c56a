"""Governance (``sim.mechanisms.governance``): a champion, a PMO and silos.

A champion multiplies delays by its factor, neither a champion nor a PMO adds
the silo delay, a PMO raises how many projects run at once.
"""

from __future__ import annotations

import pytest

from sim.config.schema import Governance, ProcurementDurations
from sim.mechanisms import governance

DURATIONS = ProcurementDurations(silo_delay_months=3.0)


def gov(**kw) -> Governance:
    return Governance(**kw)


@pytest.mark.parametrize(
    ("champion", "pmo", "expected"),
    [
        (True, False, 5.0),  # 10 x 0.5, no silo delay
        (True, True, 5.0),
        (False, True, 10.0),  # a PMO alone removes the silos but does not speed things up
        (False, False, 13.0),  # silos: + 3 months
    ],
)
def test_delay_known_values(champion, pmo, expected):
    g = gov(champion=champion, pmo=pmo, champion_delay_factor=0.5)
    assert governance.delay(10.0, g, DURATIONS) == pytest.approx(expected)


@pytest.mark.parametrize("months", [0.0, 1.0, 6.0, 18.5])
def test_champion_shortens_every_delay(months):
    with_champion = governance.delay(months, gov(champion=True, pmo=True), DURATIONS)
    without = governance.delay(months, gov(champion=False, pmo=True), DURATIONS)
    assert with_champion <= without
    if months > 0:
        assert with_champion < without


def test_silo_delay_applies_only_without_champion_and_pmo():
    durations = ProcurementDurations(silo_delay_months=7.0)
    base = governance.delay(4.0, gov(pmo=True), durations)
    siloed = governance.delay(4.0, gov(), durations)
    assert siloed - base == pytest.approx(7.0)
    assert governance.delay(0.0, gov(), durations) == pytest.approx(7.0)


def test_champion_factor_scales_proportionally():
    for factor in (0.1, 0.25, 1.0):
        g = gov(champion=True, champion_delay_factor=factor)
        assert governance.delay(8.0, g, DURATIONS) == pytest.approx(8.0 * factor)


def test_pmo_raises_capacity():
    base = gov(base_capacity_projects=2, pmo_extra_capacity=3)
    assert governance.capacity(base) == 2
    assert governance.capacity(gov(base_capacity_projects=2, pmo_extra_capacity=3, pmo=True)) == 5
    assert governance.capacity(gov(champion=True, base_capacity_projects=2)) == 2
    assert governance.capacity(gov(pmo=True, base_capacity_projects=4, pmo_extra_capacity=0)) == 4
