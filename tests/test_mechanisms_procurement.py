"""Procurement modes (``sim.mechanisms.procurement``): how long they take and whom they pick.

Durations: determinism for a seeded generator, the RFP's Pareto tail, the modes'
order on average (framework < rfi_mou < rfp), governance scaling. Awards use
small fake vendors so that each test sets up exactly the market it checks: only
solvent bidders in the domain, the lowest price per claimed unit (RFP), the best
claim x interoperability (framework), the interoperability screen, the
integrator and the system factor (RFI/MOU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from sim.config.schema import Governance, ProcurementDurations
from sim.mechanisms import governance, procurement

DURATIONS = ProcurementDurations()
#: PMO only: neither champion factor nor silo delay, durations as drawn.
NEUTRAL = Governance(pmo=True)


@dataclass(eq=False)
class FakeVendor:
    """The attributes and methods of ``sim.core.parties.VendorLike`` (compared by identity)."""

    unique_id: int
    base_price: float = 100.0
    claim_value: float = 1.0
    true_value: float = 0.8
    interop: float = 0.6
    appetite: float = 0.5
    solvent: bool = True
    domains: list[str] = field(default_factory=lambda: ["lights"])
    margin: float = 0.2
    name: str = ""
    account: int = -1
    claim: dict[str, float] = field(default_factory=dict)
    true_perf: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = self.name or f"v{self.unique_id}"
        self.claim = {d: self.claim_value for d in self.domains}
        self.true_perf = {d: self.true_value for d in self.domains}

    def price(self, domain: str, discount: float = 0.0, partnering: bool = False) -> float:
        margin = self.margin * (1.0 - 0.5 * self.appetite * partnering)
        return self.base_price * (1.0 + margin) * (1.0 - discount)

    def unit_cost(self, domain: str) -> float:
        return self.base_price

    def can_fund(self, amount: float) -> bool:
        return True

    def build(
        self, domain: str, units: float, project: int, month: int, overrun: float = 1.0
    ) -> float:
        return units * self.base_price * overrun


def award(
    mode,
    vendors,
    *,
    seed=0,
    domain="lights",
    partners=1,
    interop_min=0.0,
    integrator=False,
    discount=0.0,
):
    return procurement.award(
        mode,
        domain,
        vendors,
        partners=partners,
        interop_min=interop_min,
        integrator=integrator,
        discount=discount,
        rng=np.random.default_rng(seed),
    )


def draws(mode, n=2000, seed=0, gov=NEUTRAL, durations=DURATIONS):
    rng = np.random.default_rng(seed)
    return np.array([procurement.duration(mode, durations, gov, rng) for _ in range(n)])


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize("mode", ["rfp", "rfi_mou", "framework"])
def test_same_seed_same_durations(mode):
    assert np.array_equal(draws(mode, 200, seed=5), draws(mode, 200, seed=5))
    assert not np.array_equal(draws("rfp", 200, seed=5), draws("rfp", 200, seed=6))


def test_durations_are_whole_months_of_at_least_one():
    quick = ProcurementDurations(framework_months=0.1, rfi_mou_months=0.0)
    for mode in ("rfp", "rfi_mou", "framework"):
        d = draws(
            mode, 300, gov=Governance(champion=True, champion_delay_factor=0.05), durations=quick
        )
        assert d.dtype.kind == "i"
        assert d.min() >= 1


def test_framework_faster_than_rfi_mou_faster_than_rfp_on_average():
    for gov in (NEUTRAL, Governance(), Governance(champion=True)):
        fw, mou, rfp = (
            draws(m, 1000, seed=11, gov=gov).mean() for m in ("framework", "rfi_mou", "rfp")
        )
        assert fw < mou < rfp


def test_uniform_modes_stay_within_a_quarter_of_their_nominal_duration():
    """rfi_mou and framework draw nominal x U(0.75, 1.25) before rounding."""
    d = draws("rfi_mou", 2000, durations=ProcurementDurations(rfi_mou_months=20.0))
    assert d.min() >= 15 and d.max() <= 25
    assert d.mean() == pytest.approx(20.0, abs=0.3)
    f = draws("framework", 2000, durations=ProcurementDurations(framework_months=8.0))
    assert f.min() >= 6 and f.max() <= 10


def test_rfp_has_a_pareto_tail_above_prep_plus_award():
    """RFP months = prep + award x T, T ~ Pareto(alpha) >= 1: P(T > 3) = 3^-alpha."""
    d = draws("rfp", 8000, seed=3)
    floor = DURATIONS.rfp_prep_months + DURATIONS.rfp_award_months  # 8.5
    assert d.min() >= round(floor)
    cut = DURATIONS.rfp_prep_months + 3 * DURATIONS.rfp_award_months  # 13.5 -> 14 rounded
    share = float(np.mean(d >= 14))
    assert cut == 13.5
    assert share == pytest.approx(3.0**-DURATIONS.rfp_tail_alpha, abs=0.015)
    assert d.max() > 4 * floor  # a heavy tail: a few procurements take years


def test_lighter_tail_means_shorter_rfps():
    heavy = draws("rfp", 3000, seed=1, durations=ProcurementDurations(rfp_tail_alpha=1.2))
    light = draws("rfp", 3000, seed=1, durations=ProcurementDurations(rfp_tail_alpha=5.0))
    assert light.mean() < heavy.mean()
    assert (light <= heavy).all()  # same uniforms: pairwise


def test_champion_shortens_every_draw_and_silos_lengthen_it():
    champion = draws("rfp", 500, seed=2, gov=Governance(champion=True))
    neutral = draws("rfp", 500, seed=2, gov=NEUTRAL)
    siloed = draws("rfp", 500, seed=2, gov=Governance())
    assert (champion <= neutral).all() and champion.mean() < neutral.mean()
    assert (siloed >= neutral).all()
    assert siloed.mean() - neutral.mean() == pytest.approx(DURATIONS.silo_delay_months, abs=0.05)


def test_duration_is_governance_delay_of_the_drawn_months():
    """One uniform per draw: months = nominal x (0.75 + 0.5 u), then governance, rounded."""
    gov = Governance(champion=True, champion_delay_factor=0.3)
    rng, ref = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(50):
        got = procurement.duration("rfi_mou", DURATIONS, gov, rng)
        months = DURATIONS.rfi_mou_months * (0.75 + 0.5 * ref.random())
        assert got == max(1, round(governance.delay(months, gov, DURATIONS)))


# --------------------------------------------------------------------------- system factor


@pytest.mark.parametrize(
    ("partners", "interop", "expected"),
    [
        (1, 0.0, 1.0),
        (1, 0.7, 1.0),
        (2, 1.0, 1.0),
        (2, 0.0, 1 - 0.3 * 1 * 1 / 2),
        (3, 0.5, 1 - 0.3 * 0.5 * 2 / 3),
        (4, 0.2, 1 - 0.3 * 0.8 * 3 / 4),
    ],
)
def test_system_factor_known_values(partners, interop, expected):
    assert procurement.system_factor(partners, interop) == pytest.approx(expected)


def test_system_factor_falls_with_partners_and_rises_with_interoperability():
    by_partners = [procurement.system_factor(k, 0.4) for k in range(1, 7)]
    assert all(a > b for a, b in zip(by_partners, by_partners[1:], strict=False))
    by_interop = [procurement.system_factor(3, i) for i in np.linspace(0, 1, 6)]
    assert all(a < b for a, b in zip(by_interop, by_interop[1:], strict=False))


# --------------------------------------------------------------------------- who qualifies


@pytest.mark.parametrize("mode", ["rfp", "rfi_mou", "framework"])
def test_no_solvent_bidder_in_the_domain_means_no_award(mode):
    other_domain = [FakeVendor(1, domains=["water"]), FakeVendor(2, domains=["water", "wifi"])]
    insolvent = [FakeVendor(3, solvent=False), FakeVendor(4, solvent=False)]
    assert award(mode, []) is None
    assert award(mode, other_domain) is None
    assert award(mode, insolvent) is None
    assert award(mode, other_domain + insolvent, integrator=True) is None


@pytest.mark.parametrize("mode", ["rfp", "rfi_mou", "framework"])
def test_never_picks_an_insolvent_vendor(mode):
    """The insolvent vendors are the best on every criterion, yet never chosen."""
    for seed in range(30):
        vendors = [
            FakeVendor(1, base_price=10.0, claim_value=3.0, interop=1.0, solvent=False),
            FakeVendor(2, base_price=120.0),
            FakeVendor(3, base_price=100.0),
            FakeVendor(
                4,
                base_price=5.0,
                claim_value=2.5,
                interop=0.99,
                solvent=False,
                domains=["lights", "water"],
            ),
        ]
        a = award(mode, vendors, seed=seed, partners=3, integrator=True, interop_min=0.5)
        assert a is not None
        assert all(v.solvent for v in a.vendors)
        assert a.integrator is None or a.integrator.solvent
        assert {v.unique_id for v in a.vendors} <= {2, 3}


@pytest.mark.parametrize("mode", ["rfp", "rfi_mou", "framework"])
def test_same_seed_same_award(mode):
    vendors = [
        FakeVendor(i, base_price=100 + i, claim_value=1 + 0.01 * i, interop=0.4 + 0.05 * i)
        for i in range(6)
    ]
    a = award(mode, vendors, seed=4, partners=3, integrator=True)
    b = award(mode, vendors, seed=4, partners=3, integrator=True)
    assert a == b


# --------------------------------------------------------------------------- rfp


def test_rfp_picks_lowest_price_per_claimed_unit():
    """A dear vendor with a much higher claim beats a cheap one claiming little."""
    cheap_low_claim = FakeVendor(1, base_price=80.0, claim_value=0.5)  # 192 per claimed unit
    dear_high_claim = FakeVendor(2, base_price=100.0, claim_value=1.0)  # 120
    middling = FakeVendor(3, base_price=150.0, claim_value=1.0)  # 180
    for seed in range(20):
        a = award("rfp", [cheap_low_claim, dear_high_claim, middling], seed=seed)
        assert a.vendors == (dear_high_claim,)
        assert a.integrator is None
        assert a.system_factor == 1.0
        assert a.claim == 1.0


def test_rfp_price_is_the_winners_bid_with_its_noise():
    vendors = [FakeVendor(1, base_price=100.0), FakeVendor(2, base_price=300.0)]
    a = award("rfp", vendors, seed=7)
    ref = np.random.default_rng(7)
    noise = [1 + 0.05 * ref.standard_normal() for _ in vendors]  # one per bidder, in order
    assert a.price_per_unit == pytest.approx(vendors[0].price("lights") * noise[0])


# --------------------------------------------------------------------------- framework


def test_framework_picks_best_claim_times_interop_at_the_discount():
    vendors = [
        FakeVendor(1, claim_value=1.2, interop=0.5),  # 0.60
        FakeVendor(2, claim_value=0.9, interop=0.9),  # 0.81
        FakeVendor(3, claim_value=1.0, interop=0.7),
    ]  # 0.70
    a = award("framework", vendors, discount=0.08)
    assert a.vendors == (vendors[1],)
    assert a.price_per_unit == pytest.approx(vendors[1].price("lights") * 0.92)
    assert a.claim == 0.9 and a.system_factor == 1.0 and a.integrator is None


# --------------------------------------------------------------------------- rfi_mou


def low_interop_stars_and_solid_partners():
    """Two vendors that demo best but interoperate badly, two solid ones, one integrator."""
    stars = [FakeVendor(i, claim_value=2.0, true_value=2.0, interop=0.2) for i in (1, 2)]
    solid = [FakeVendor(i, claim_value=1.0, true_value=1.0, interop=0.9) for i in (3, 4)]
    return stars, solid


def test_rfi_mou_takes_the_best_demos_up_to_the_partners_wanted():
    stars, solid = low_interop_stars_and_solid_partners()
    a = award("rfi_mou", stars + solid, partners=2)
    assert set(a.vendors) == set(stars)
    a = award("rfi_mou", stars + solid, partners=3)
    assert len(a.vendors) == 3
    a = award("rfi_mou", stars + solid, partners=10)
    assert len(a.vendors) == 4  # no more than there are bidders


def test_interoperability_screen_excludes_low_interop_vendors_and_raises_system_factor():
    stars, solid = low_interop_stars_and_solid_partners()
    open_call = award("rfi_mou", stars + solid, partners=2, interop_min=0.0)
    screened = award("rfi_mou", stars + solid, partners=2, interop_min=0.5)
    assert set(screened.vendors) == set(solid)
    assert screened.system_factor == pytest.approx(procurement.system_factor(2, 0.9))
    assert open_call.system_factor == pytest.approx(procurement.system_factor(2, 0.2))
    assert screened.system_factor > open_call.system_factor


def test_interoperability_screen_that_excludes_everyone_falls_back_to_all_bidders():
    stars, _ = low_interop_stars_and_solid_partners()
    a = award("rfi_mou", stars, partners=2, interop_min=0.9)
    assert set(a.vendors) == set(stars)


def test_integrator_is_the_most_interoperable_solvent_vendor_and_raises_system_factor():
    stars, _ = low_interop_stars_and_solid_partners()
    integrator = FakeVendor(9, interop=0.95, domains=["water"])  # not even a bidder here
    gone = FakeVendor(10, interop=1.0, solvent=False)
    market = [*stars, integrator, gone]
    without = award("rfi_mou", market, partners=2, integrator=False)
    with_integrator = award("rfi_mou", market, partners=2, integrator=True)
    assert without.integrator is None
    assert with_integrator.integrator is integrator
    assert with_integrator.vendors == without.vendors
    assert with_integrator.system_factor == pytest.approx(procurement.system_factor(2, 0.95))
    assert with_integrator.system_factor > without.system_factor


def test_rfi_mou_price_and_claim_are_the_partners_means():
    vendors = [
        FakeVendor(1, base_price=100.0, claim_value=1.0, appetite=1.0),
        FakeVendor(2, base_price=200.0, claim_value=1.2, appetite=0.0),
    ]
    a = award("rfi_mou", vendors, partners=2, seed=3)
    ref = np.random.default_rng(3)
    noise = [1 + 0.05 * ref.standard_normal() for _ in vendors]
    partnering = [v.price("lights", partnering=True) for v in vendors]
    assert partnering[0] < vendors[0].price("lights")  # appetite trims the margin
    assert a.price_per_unit == pytest.approx(
        np.mean([p * z for p, z in zip(partnering, noise, strict=True)])
    )
    assert a.claim == pytest.approx(1.1)


def test_demo_reveals_true_performance():
    """Same claims: the demo favours the vendor whose true performance is higher."""
    honest = FakeVendor(1, claim_value=1.0, true_value=1.0)
    boaster = FakeVendor(2, claim_value=1.0, true_value=0.4)
    picked = [award("rfi_mou", [honest, boaster], seed=s).vendors[0] for s in range(30)]
    assert all(v is honest for v in picked)
