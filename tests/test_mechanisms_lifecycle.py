"""Projects and their lifecycle states (``sim.mechanisms.lifecycle``).

Hand-built :class:`~sim.mechanisms.lifecycle.Project` objects with small fake
vendors: coverage, the lead vendor, which states count as deployed, ownership,
incident halts, realised performance (live partners only, the system factor,
the stress multiplier), what an orphaned system still delivers, and coverage by
district filling districts one after another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from sim.config.schema import Technology
from sim.instruments.base import Arrangement
from sim.mechanisms.lifecycle import ACTIVE, DEPLOYED, STATES, Project

TECH = Technology(orphan_factor=0.4)


@dataclass(eq=False)
class FakeVendor:
    """The attributes of ``sim.core.parties.VendorLike`` a project reads."""

    unique_id: int
    perf: float
    solvent: bool = True
    domain: str = "lights"
    name: str = ""
    account: int = -1
    interop: float = 0.5
    appetite: float = 0.5
    domains: list[str] = field(default_factory=list)
    claim: dict[str, float] = field(default_factory=dict)
    true_perf: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.domains = [self.domain]
        self.claim = {self.domain: 1.0}
        self.true_perf = {self.domain: self.perf}

    def price(self, domain: str, discount: float = 0.0, partnering: bool = False) -> float:
        return 100.0

    def unit_cost(self, domain: str) -> float:
        return 100.0

    def can_fund(self, amount: float) -> bool:
        return True

    def build(
        self, domain: str, units: float, project: int, month: int, overrun: float = 1.0
    ) -> float:
        return 100.0 * units


def project(
    vendors=(), *, units=0.0, target=100.0, state="operating", tech=TECH, owner=None, **kw
) -> Project:
    pr = Project(
        1, "city", "lights", tech, target, state=state, vendors=list(vendors), units=units, **kw
    )
    if owner is not None:
        pr.arrangements = [Arrangement("go_bond", owner=owner)]
    return pr


# --------------------------------------------------------------------------- states


def test_states_partition():
    assert ACTIVE <= set(STATES) and DEPLOYED <= set(STATES)
    assert "stopped" not in ACTIVE | DEPLOYED and "ended" not in ACTIVE | DEPLOYED
    fresh = Project(1, "c", "lights", TECH, 1.0)
    assert fresh.state == "procuring" and fresh.units == 0.0 and not fresh.deployed


@pytest.mark.parametrize("state", STATES)
def test_deployed_needs_units_in_the_field_and_a_deployed_state(state):
    with_units = project([FakeVendor(1, 0.8)], units=10.0, state=state)
    without = project([FakeVendor(1, 0.8)], units=0.0, state=state)
    assert with_units.deployed == (state in DEPLOYED)
    assert not without.deployed


# --------------------------------------------------------------------------- coverage and lead


@pytest.mark.parametrize(
    ("units", "target", "expected"),
    [
        (0.0, 100.0, 0.0),
        (25.0, 100.0, 0.25),
        (100.0, 100.0, 1.0),
        (130.0, 100.0, 1.0),
        (5.0, 0.0, 0.0),
    ],
)
def test_coverage_is_units_over_target_capped_at_one(units, target, expected):
    assert project(units=units, target=target).coverage == pytest.approx(expected)


def test_lead_is_the_first_partner():
    a, b = FakeVendor(1, 0.8), FakeVendor(2, 0.9)
    assert project([a, b]).lead is a
    assert project([b, a]).lead is b
    assert project().lead is None


def test_live_vendors_are_the_solvent_partners():
    a, b, c = FakeVendor(1, 0.8), FakeVendor(2, 0.9, solvent=False), FakeVendor(3, 0.7)
    assert project([a, b, c]).live_vendors() == [a, c]


def test_owned_by_city_reads_the_first_arrangement():
    assert project().owned_by_city()  # no arrangement yet: the city's
    assert project(owner="city").owned_by_city()
    assert not project(owner="vendor").owned_by_city()
    assert not project(owner="vehicle").owned_by_city()


def test_halted_until_the_end_of_the_halt():
    pr = project(halted_until=12)
    assert pr.halted(0) and pr.halted(11)
    assert not pr.halted(12) and not pr.halted(40)
    assert not project().halted(0)  # -1: never halted


# --------------------------------------------------------------------------- performance


def test_true_performance_is_the_contracted_partners_mean_times_system_and_stress():
    """A partner that left is replaced: losing a weak partner never lifts the service."""
    vendors = [FakeVendor(1, 0.9), FakeVendor(2, 0.6), FakeVendor(3, 0.3, solvent=False)]
    pr = project(vendors, units=10.0, system_factor=0.9)
    assert pr.true_performance(1.0) == pytest.approx(0.6 * 0.9)
    assert pr.true_performance(0.4) == pytest.approx(0.6 * 0.9 * 0.4)
    everyone = project([FakeVendor(1, 0.9), FakeVendor(2, 0.6), FakeVendor(3, 0.3)])
    assert pr.true_performance(1.0) == pytest.approx(everyone.true_performance(1.0) * 0.9)
    assert project([FakeVendor(1, 0.9, solvent=False)]).true_performance(1.0) == 0.0


def test_until_a_lost_partner_is_replaced_only_the_live_partners_parts_are_delivered():
    vendors = [FakeVendor(1, 0.9), FakeVendor(2, 0.6), FakeVendor(3, 0.3, solvent=False)]
    pr = project(vendors, units=10.0, disrupted_until=20)
    assert pr.true_performance(1.0, month=19) == pytest.approx(0.6 * 2 / 3)
    assert pr.true_performance(1.0, month=20) == pytest.approx(0.6)
    assert pr.performance(10, 1.0) == pytest.approx(0.6 * 2 / 3)


def test_performance_with_live_vendors_is_true_performance():
    pr = project(
        [FakeVendor(1, 0.8), FakeVendor(2, 0.5, solvent=False)],
        units=10.0,
        system_factor=0.95,
        owner="vendor",
    )
    assert pr.performance(3, 0.7) == pytest.approx(pr.true_performance(0.7))
    assert pr.performance(3, 0.7) == pytest.approx(0.65 * 0.95 * 0.7)  # the contracted mean


@pytest.mark.parametrize("owner", [None, "city", "vendor", "vehicle"])
def test_halted_project_delivers_nothing(owner):
    pr = project([FakeVendor(1, 0.8)], units=10.0, halted_until=6, owner=owner)
    assert pr.performance(5, 1.0) == 0.0
    assert pr.performance(6, 1.0) == pytest.approx(0.8)


@pytest.mark.parametrize("owner", ["vendor", "vehicle"])
def test_partner_owned_equipment_without_live_vendor_delivers_nothing(owner):
    pr = project([FakeVendor(1, 0.8, solvent=False)], units=10.0, owner=owner)
    assert pr.performance(0, 1.0) == 0.0


@pytest.mark.parametrize("owner", [None, "city"])
def test_city_owned_orphaned_system_keeps_orphan_factor(owner):
    """All vendors gone: the city keeps orphan_factor of what they (all) delivered."""
    gone = [FakeVendor(1, 0.9, solvent=False), FakeVendor(2, 0.5, solvent=False)]
    pr = project(gone, units=10.0, system_factor=0.8, owner=owner)
    expected = 0.7 * 0.8 * 0.6 * TECH.orphan_factor
    assert pr.performance(0, 0.6) == pytest.approx(expected)
    dead = project(gone, units=10.0, tech=Technology(orphan_factor=0.0), owner=owner)
    assert dead.performance(0, 1.0) == 0.0


def test_an_orphaned_halted_system_delivers_nothing():
    pr = project([FakeVendor(1, 0.9, solvent=False)], units=10.0, halted_until=3)
    assert pr.performance(2, 1.0) == 0.0
    assert pr.performance(3, 1.0) == pytest.approx(0.9 * TECH.orphan_factor)


# --------------------------------------------------------------------------- coverage by district


@pytest.mark.parametrize(
    ("coverage", "expected"),
    [
        (0.0, [0, 0, 0, 0, 0]),
        (0.1, [0.5, 0, 0, 0, 0]),
        (0.3, [1, 0.5, 0, 0, 0]),
        (0.6, [1, 1, 1, 0, 0]),
        (0.95, [1, 1, 1, 1, 0.75]),
        (1.0, [1, 1, 1, 1, 1]),
    ],
)
def test_coverage_by_district_fills_districts_one_after_another(coverage, expected):
    pr = project(units=coverage * 200.0, target=200.0)
    np.testing.assert_allclose(pr.coverage_by_district(5), expected, atol=1e-12)


def test_coverage_by_district_sums_to_coverage_times_districts():
    for units in np.linspace(0, 150, 31):
        pr = project(units=float(units), target=120.0)
        by_d = pr.coverage_by_district(7)
        assert by_d.shape == (7,)
        assert by_d.sum() == pytest.approx(pr.coverage * 7)
        assert ((by_d >= 0) & (by_d <= 1)).all()
        assert (np.diff(by_d) <= 0).all()  # earlier districts are filled first
        assert np.count_nonzero((by_d > 0) & (by_d < 1)) <= 1  # at most one partly covered
