"""What deployed projects deliver to districts (``sim.mechanisms.services``).

Hand-built projects in two cities of four districts each: the coverage of a
service fills each city's districts in turn, only deployed projects of the
domain count, a halted or dead system covers nothing this month, quality is
delivered over claimed performance, and the land uplift averages coverage x
quality (capped at 1) over the user-facing services.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from sim.config.schema import Technology
from sim.instruments.base import Arrangement
from sim.mechanisms import services
from sim.mechanisms.lifecycle import Project

DISTRICTS = 4
N_DISTRICTS = 8
CITY_A, CITY_B = slice(0, 4), slice(4, 8)
USER_FACING = Technology(user_facing=True, orphan_factor=0.5)
BACK_OFFICE = Technology(user_facing=False)


@dataclass(eq=False)
class FakeVendor:
    """The attributes of ``sim.core.parties.VendorLike`` a project reads."""

    unique_id: int
    perf: float
    solvent: bool = True
    name: str = ""
    account: int = -1
    interop: float = 0.5
    appetite: float = 0.5
    domains: list[str] = field(default_factory=lambda: ["lights", "wifi", "water"])
    claim: dict[str, float] = field(default_factory=dict)
    true_perf: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.claim = dict.fromkeys(self.domains, 1.0)
        self.true_perf = dict.fromkeys(self.domains, self.perf)

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
    domain, coverage, perf, claim, *, tech=USER_FACING, state="operating", solvent=True, **kw
) -> Project:
    return Project(
        1,
        "c",
        domain,
        tech,
        100.0,
        state=state,
        units=100.0 * coverage,
        claim=claim,
        vendors=[FakeVendor(1, perf, solvent=solvent)],
        **kw,
    )


def region(a=(), b=()):
    return [(CITY_A, list(a)), (CITY_B, list(b))]


def lights_a():
    return project("lights", 0.5, 0.6, 0.8)  # districts [1, 1, 0, 0], quality 0.75


def lights_b(**kw):
    return project("lights", 1.0, 0.9, 0.75, **kw)  # every district, quality 1.2


# --------------------------------------------------------------------------- coverage and quality


def test_coverage_fills_each_citys_districts_and_quality_is_delivered_over_claimed():
    water = project("water", 1.0, 0.9, 1.0, tech=BACK_OFFICE)
    cov, quality = services.coverage_and_quality(
        region([lights_a()], [lights_b(), water]), "lights", N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    np.testing.assert_allclose(cov, [1, 1, 0, 0, 1, 1, 1, 1])
    assert quality == pytest.approx((0.75 + 1.2) / 2)


def test_only_the_services_domain_counts():
    water = project("water", 0.25, 0.9, 1.0, tech=BACK_OFFICE)
    cov, quality = services.coverage_and_quality(
        region([lights_a()], [water]), "water", N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    np.testing.assert_allclose(cov, [0, 0, 0, 0, 1, 0, 0, 0])
    assert quality == pytest.approx(0.9)


@pytest.mark.parametrize("state", ["procuring", "approval", "stopped", "ended"])
def test_projects_not_deployed_deliver_nothing(state):
    idle = project("lights", 1.0, 0.9, 1.0, state=state)
    cov, quality = services.coverage_and_quality(
        region([idle]), "lights", N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    assert (cov == 0).all() and quality == 0.0


def test_no_deployment_means_no_coverage_and_zero_quality():
    cov, quality = services.coverage_and_quality(region(), "lights", N_DISTRICTS, DISTRICTS, 0, 1.0)
    assert cov.shape == (N_DISTRICTS,) and (cov == 0).all() and quality == 0.0


def test_halted_project_covers_nothing_this_month_and_counts_as_zero_quality():
    projects = region([lights_a()], [lights_b(halted_until=6)])
    cov, quality = services.coverage_and_quality(projects, "lights", N_DISTRICTS, DISTRICTS, 5, 1.0)
    np.testing.assert_allclose(cov, [1, 1, 0, 0, 0, 0, 0, 0])
    assert quality == pytest.approx(0.75 / 2)
    cov, _ = services.coverage_and_quality(projects, "lights", N_DISTRICTS, DISTRICTS, 6, 1.0)
    np.testing.assert_allclose(cov[CITY_B], 1.0)  # the halt is over


def test_partner_owned_system_without_vendor_covers_nothing_city_owned_keeps_serving():
    dead = lights_b(solvent=False)
    dead.arrangements = [Arrangement("as_a_service", owner="vendor")]
    cov, quality = services.coverage_and_quality(
        region([], [dead]), "lights", N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    assert (cov == 0).all() and quality == 0.0
    orphan = lights_b(solvent=False)  # no arrangement: the city's
    cov, quality = services.coverage_and_quality(
        region([], [orphan]), "lights", N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    np.testing.assert_allclose(cov[CITY_B], 1.0)
    assert quality == pytest.approx(0.9 * USER_FACING.orphan_factor / 0.75)


def test_underperformance_lowers_quality_not_coverage():
    projects = region([lights_a()], [lights_b()])
    full = services.coverage_and_quality(projects, "lights", N_DISTRICTS, DISTRICTS, 0, 1.0)
    weak = services.coverage_and_quality(projects, "lights", N_DISTRICTS, DISTRICTS, 0, 0.4)
    np.testing.assert_array_equal(full[0], weak[0])
    assert weak[1] == pytest.approx(0.4 * full[1])


# --------------------------------------------------------------------------- land uplift


def test_land_uplift_sums_coverage_times_capped_quality_over_services():
    water = project("water", 1.0, 0.9, 1.0, tech=BACK_OFFICE)  # not user-facing: no uplift
    uplift = services.land_uplift(
        region([lights_a()], [lights_b(), water]), N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    # city A: [1, 1, 0, 0] x 0.75; city B: 1 x min(1.2, 1)
    np.testing.assert_allclose(uplift, [0.75, 0.75, 0, 0, 1, 1, 1, 1])


def test_land_uplift_adds_services_one_per_fully_covering_service():
    wifi = project("wifi", 1.0, 2.0, 1.0)  # over-delivers: quality capped at 1
    uplift = services.land_uplift(
        region([lights_a(), wifi], [lights_b()]), N_DISTRICTS, DISTRICTS, 0, 1.0
    )
    np.testing.assert_allclose(uplift[CITY_A], [1.75, 1.75, 1.0, 1.0])
    full = [project("lights", 1.0, 3.0, 1.0), project("wifi", 1.0, 3.0, 1.0)]
    uplift = services.land_uplift(region(full, full), N_DISTRICTS, DISTRICTS, 0, 1.0)
    np.testing.assert_allclose(uplift, 2.0)


def test_land_uplift_is_zero_for_halted_idle_or_back_office_projects():
    projects = region(
        [lights_b(halted_until=3), project("lights", 1.0, 0.9, 1.0, state="procuring")],
        [project("water", 1.0, 0.9, 1.0, tech=BACK_OFFICE)],
    )
    uplift = services.land_uplift(projects, N_DISTRICTS, DISTRICTS, 0, 1.0)
    assert (uplift == 0).all()
