"""A regional consortium (``sim.mechanisms.consortium``): shared evidence and the framework list.

Members of an active consortium share an evidence key, so one city's pilot
narrows every member's posterior; non-members (and everyone when the
consortium has a single member) key their evidence by city. A domain scaled by
a member joins the framework only in an active consortium.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.mechanisms.consortium import Consortium
from sim.mechanisms.pilots import Evidence

# --------------------------------------------------------------------------- keys


def test_members_of_an_active_consortium_share_a_key():
    c = Consortium(active=True)
    assert c.evidence_key("mesa", True, "lights", 3) == ("lights", 3)
    assert c.evidence_key("tempe", True, "lights", 3) == c.evidence_key("mesa", True, "lights", 3)


def test_non_members_key_by_city():
    c = Consortium(active=True)
    assert c.evidence_key("denver", False, "lights", 3) == ("denver", "lights", 3)
    assert c.evidence_key("denver", False, "lights", 3) != c.evidence_key(
        "boise", False, "lights", 3
    )
    assert c.evidence_key("denver", False, "lights", 3) != c.evidence_key("mesa", True, "lights", 3)


def test_an_inactive_consortium_shares_nothing():
    c = Consortium(active=False)
    assert c.evidence_key("mesa", True, "lights", 3) == ("mesa", "lights", 3)
    assert c.evidence_key("mesa", True, "lights", 3) != c.evidence_key("tempe", True, "lights", 3)


@pytest.mark.parametrize("active", [True, False])
@pytest.mark.parametrize("member", [True, False])
def test_keys_differ_by_domain_and_lead_vendor(active, member):
    c = Consortium(active=active)
    keys = {c.evidence_key("mesa", member, d, lead) for d in ("lights", "water") for lead in (1, 2)}
    assert len(keys) == 4


# --------------------------------------------------------------------------- pooled evidence


def posterior_after_pilots(consortium, cities, months=6):
    """Each city (name, member) runs a pilot of the same technology; returns each belief."""
    rng = np.random.default_rng(0)
    keys = {name: consortium.evidence_key(name, member, "lights", 1) for name, member in cities}
    for _ in range(months):
        for name, _ in cities:
            consortium.evidence.measure(keys[name], 1, 0.6, 0.25, 50.0, rng)
    return {name: consortium.evidence.posterior(keys[name], 0.8, 0.2) for name, _ in cities}


def test_members_pool_their_pilots_and_narrow_each_others_posterior():
    shared = posterior_after_pilots(
        Consortium(active=True), [("mesa", True), ("tempe", True), ("chandler", True)]
    )
    alone = posterior_after_pilots(
        Consortium(active=False), [("mesa", True), ("tempe", True), ("chandler", True)]
    )
    assert len({v for v in shared.values()}) == 1  # one belief for all members
    assert len({v for v in alone.values()}) == 3
    assert all(shared["mesa"][1] < sd for _, sd in alone.values())
    # three pilots' months: as precise as one city measuring three times as long
    solo_long = posterior_after_pilots(Consortium(active=False), [("mesa", True)], months=18)
    assert shared["mesa"][1] == pytest.approx(solo_long["mesa"][1], rel=1e-12)


def test_a_non_member_does_not_learn_from_members():
    c = Consortium(active=True)
    beliefs = posterior_after_pilots(c, [("mesa", True), ("tempe", True), ("denver", False)])
    assert beliefs["mesa"] == beliefs["tempe"]
    assert beliefs["denver"][1] > beliefs["mesa"][1]
    assert set(c.evidence.keys()) == {("lights", 1), ("denver", "lights", 1)}


def test_each_consortium_has_its_own_evidence_store():
    a, b = Consortium(active=True), Consortium(active=True)
    assert isinstance(a.evidence, Evidence)
    assert a.evidence is not b.evidence
    a.evidence.measure(("lights", 1), 1, 0.5, 0.2, 10.0, np.random.default_rng(0))
    assert b.evidence.keys() == []


# --------------------------------------------------------------------------- framework list


def test_a_domain_scaled_by_a_member_joins_the_framework():
    c = Consortium(active=True, proven={"water"})
    c.proven_by("lights")
    c.proven_by("lights")
    assert c.proven == {"water", "lights"}


def test_a_single_city_proves_nothing_for_anyone():
    c = Consortium(active=False, proven={"water"})
    c.proven_by("lights")
    assert c.proven == {"water"}


def test_consortia_do_not_share_the_proven_set():
    a, b = Consortium(active=True), Consortium(active=True)
    a.proven_by("maas")
    assert b.proven == set()
