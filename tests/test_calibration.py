"""Calibration cases (MODEL.md, "Calibration cases"): each case scenario reproduces its figures.

Every test runs a library case scenario and checks a documented figure within a
documented band, on several seeds where the randomness matters:

- ``san_diego_streetlights``: the $30.2M GE loan over 13 years, the $2.4M/yr
  claim, ~$1.0M/yr realised under the underperformance or vendor-default
  overlay, and debt service that goes on at full rate after the vendor leaves.
- ``denver_minibonds``: $12M sold out within an hour; slower at a lower yield.
- ``helsinki_maas``: ~4 % of residents use Whim in 2018; service stops when
  the operator goes bankrupt (2024).
- ``phoenix_consortium``: framework call-offs take weeks, an RFP about a year;
  members scale sooner; pilots' evidence is pooled.
- ``revolving_fund``: the fund lends more than its seed and refills (F4).
- ``tif_district``: the increment repays the TIF bond with no recourse (F7),
  and the surplus returns to the general fund.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pandas as pd
import pytest

import sim

SEEDS = (0, 1, 2)


@cache
def run(
    name: str, seed: int, months: int | None = None, overlays: tuple = (), overrides: tuple = ()
) -> sim.RunResult:
    return sim.run(name, seed=seed, months=months, overlays=overlays, overrides=dict(overrides))


def events(result, name: str) -> pd.DataFrame:
    return result.events[result.events.event == name]


def info(row_info: str, key: str) -> float:
    return float(re.search(rf"\b{key}=([-0-9.e+]+)", row_info).group(1))


def monthly(
    result,
    kind: str,
    *,
    payer: str | None = None,
    payee: str | None = None,
    project: int | None = None,
) -> np.ndarray:
    """Amount of one ledger kind per month, optionally from / to one account, for one project."""
    e = result.ledger.entries()
    keep = e.kind == kind
    if project is not None:
        keep &= e.project == project
    if payer is not None:
        keep &= e.credit_name == payer
    if payee is not None:
        keep &= e.debit_name == payee
    months = len(result.timeseries)
    return np.bincount(e.step[keep], weights=e.amount[keep], minlength=months)[:months]


# --------------------------------------------------------------------------- San Diego

SD = "san_diego_streetlights"
SD_MONTHS = 240
SD_GENERAL = "san_diego:general"
SD_WINDOW = slice(60, 150)  # 2021-2028: after the vendor's exit, before the loan ends
CLAIMED_USD_YR = 2.4e6  # MODEL.md: GE's claim
REALISED_USD_YR = 1.0e6  # MODEL.md: what the city saw


def sd_claimed_and_realised(result) -> tuple[float, float]:
    """(claimed, realised) annual savings: the vendor's claim at award vs the ledger."""
    scn = result.scenario
    tech = scn.world.technology["streetlights"]
    units = tech.units_per_1000_residents * scn.world.cities["san_diego"].population / 1000
    awards = events(result, "award")
    claim = info(awards[awards.domain == "streetlights"]["info"].iloc[0], "claim")
    claimed = 12 * units * tech.benefit_per_unit_month_usd * claim
    realised = 12 * monthly(result, "savings", payee=SD_GENERAL)[SD_WINDOW].mean()
    return claimed, realised


@pytest.mark.parametrize("seed", SEEDS)
def test_san_diego_deal_is_the_documented_offer(seed):
    """$30.2M lent by the vendor, 14,000 lights, $2.4M/yr claimed, repaid over 13 years."""
    r = run(SD, seed, SD_MONTHS)
    first = 1  # the 2016 lights (renewed in place at the end of their life, ~2032)
    deal = slice(0, 60)  # the original loan was drawn in 2016-2020
    lent = monthly(r, "loan", payee=SD_GENERAL, project=first)[deal]
    sensors = monthly(r, "loan", payee=SD_GENERAL, project=2)[deal]
    assert (lent + sensors).sum() == pytest.approx(30.2e6, rel=0.15)
    tranches = events(r, "tranche")
    units = tranches.loc[tranches.project == first, "info"].map(lambda i: info(i, "units"))
    assert units.sum() == pytest.approx(14_000)
    claimed, _ = sd_claimed_and_realised(r)
    assert claimed == pytest.approx(CLAIMED_USD_YR, rel=0.2)
    repaid = monthly(r, "loan_repayment", payer=SD_GENERAL, project=first)
    renewal = events(r, "renewed")
    end = renewal[renewal.project == first].month.min() if len(renewal) else len(repaid)
    paid = np.flatnonzero(repaid[:end])
    assert paid[-1] == np.flatnonzero(lent)[-1] + 13 * 12  # 13 years after the last draw


@pytest.mark.parametrize("overlay", ["underperformance", "vendor_default"])
def test_san_diego_realised_savings_are_well_below_the_claim(overlay):
    """Under either overlay the city saves ~$1.0M/yr, < 60 % of the claim (MODEL.md: 1.0/2.4)."""
    for seed in SEEDS:
        claimed, realised = sd_claimed_and_realised(run(SD, seed, SD_MONTHS, (overlay,)))
        assert realised / claimed < 0.6
        assert 0.5 * REALISED_USD_YR <= realised <= 1.4 * REALISED_USD_YR
    # without the overlays the vendor's usual optimism alone leaves savings near the claim
    for seed in SEEDS:
        claimed, realised = sd_claimed_and_realised(run(SD, seed, SD_MONTHS))
        assert 0.6 < realised / claimed < 0.95  # an incident halt can cost a year of savings


def test_san_diego_debt_service_goes_on_after_the_vendor_leaves():
    """After the exit (month 48) savings halve but the loan is paid in full, above the savings."""
    for seed in SEEDS:
        r = run(SD, seed, SD_MONTHS, ("vendor_default",))
        assert events(r, "vendor_exit")["month"].tolist() == [48]
        loan = monthly(r, "loan_repayment", payer=SD_GENERAL)
        savings = monthly(r, "savings", payee=SD_GENERAL)
        assert np.allclose(loan[SD_WINDOW], loan[47])  # the schedule does not change
        assert savings[SD_WINDOW].max() <= 0.6 * savings[47]  # the orphaned system saves less
        assert (loan[SD_WINDOW] > savings[SD_WINDOW]).all()  # the city pays for idle equipment
        to_market = monthly(r, "loan_repayment", payer=SD_GENERAL, payee="outside:market")
        assert np.allclose(to_market[SD_WINDOW], loan[SD_WINDOW])  # the claim was sold on


def test_san_diego_debt_outlives_the_sensors():
    """The sensors stop with the platform (2020) while the loan runs to ~2030: stranded debt."""
    for seed in SEEDS:
        r = run(SD, seed, SD_MONTHS, ("underperformance", "vendor_default"))
        stopped = events(r, "service_disrupted")
        assert stopped.domain.tolist() == ["sensors"] and stopped.month.iloc[0] <= 49
        repaid = monthly(r, "loan_repayment", payer=SD_GENERAL, project=2)
        assert repaid[stopped.month.iloc[0] + 1 :].sum() > 1e6  # paid for idle equipment
        assert r.kpis["stranded_debt_usd"] > 1e6
        calm = run(SD, seed, SD_MONTHS)
        assert calm.kpis["stranded_debt_usd"] < r.kpis["stranded_debt_usd"]


# --------------------------------------------------------------------------- Denver

DENVER = "denver_minibonds"
DENVER_MONTHS = 60  # the offering comes with the first tranche, months 12-20 here


def denver(seed: int, maturity_value: float = 750.0):
    return run(
        DENVER,
        seed,
        DENVER_MONTHS,
        overrides=(("policy.financing.mini_bonds.maturity_value_usd", maturity_value),),
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_denver_issue_sells_out_within_an_hour(seed):
    """$12M of $500 bonds (4.61 %/yr) sell out within an hour (MODEL.md; the brief's bar: a day)."""
    k = denver(seed).kpis
    assert k["minibond_sold_usd"] == pytest.approx(12e6, rel=0.01)
    assert 0 < k["minibond_sellout_hours"] <= 1.0


def test_denver_lower_yield_premium_sells_slower():
    """At $550 (1.06 %/yr) or $510 (0.22 %/yr, below savings) the same issue sells slower."""
    for seed in SEEDS:
        hours = [denver(seed, mv).kpis["minibond_sellout_hours"] for mv in (750.0, 550.0, 510.0)]
        sold = [denver(seed, mv).kpis["minibond_sold_usd"] for mv in (750.0, 550.0, 510.0)]
        assert hours[0] < hours[1] < hours[2]
        assert hours[1] > 3 * hours[0]
        assert sold[2] <= sold[1] <= sold[0]


# --------------------------------------------------------------------------- Helsinki

HELSINKI = "helsinki_maas"
HELSINKI_MONTHS = 110
EXIT = 96  # MaaS Global bankrupt in 2024 (month 96 from January 2016)


def test_helsinki_adoption_in_2018_is_about_four_percent():
    """~60k monthly users of 1.45M in 2018 (~4 %): months 24-30 land in 2-7 % on every seed."""
    shares = []
    for seed in SEEDS:
        adoption = run(HELSINKI, seed, HELSINKI_MONTHS).timeseries["adoption.maas"]
        shares.append(float(adoption.iloc[24:31].mean()))
    assert all(0.02 <= s <= 0.07 for s in shares), shares
    assert 0.03 <= np.mean(shares) <= 0.05, shares


def test_helsinki_service_stops_when_the_operator_goes_bankrupt():
    """Full coverage until 2024; the operator's exit ends the service and its users."""
    for seed in SEEDS:
        r = run(HELSINKI, seed, HELSINKI_MONTHS)
        ts = r.timeseries
        assert events(r, "vendor_exit")["month"].tolist() == [EXIT]
        assert events(r, "service_disrupted")["month"].between(EXIT, EXIT + 1).all()
        assert ts["coverage.maas"].iloc[EXIT - 1] == 1.0
        assert ts["adoption.maas"].iloc[EXIT - 1] > 0.02
        assert (ts["coverage.maas"].iloc[EXIT + 2 :] == 0).all()
        assert (ts["adoption.maas"].iloc[EXIT + 2 :] == 0).all()
        # privately financed: the city paid nothing towards the service
        e = r.ledger.entries()
        assert not ((e.credit_name == "helsinki:general") & (e.project > 0)).any()


# --------------------------------------------------------------------------- Phoenix

PHOENIX = "phoenix_consortium"
PHOENIX_MONTHS = 60
RFP = (("policy.procurement.mode", "rfp"),)
ALONE = (*RFP, ("world.cities.*.consortium_member", False))


def months_between(result, first: str, then: str) -> pd.Series:
    a = events(result, first).set_index("project")["month"]
    b = events(result, then).set_index("project")["month"]
    return (b - a.reindex(b.index)).dropna()


def test_phoenix_framework_call_off_is_much_faster_than_an_rfp():
    """Call-off: weeks (+ the silo delay); RFP: 9-12 months or more (MODEL.md)."""
    for seed in SEEDS[:2]:
        fw = months_between(run(PHOENIX, seed, PHOENIX_MONTHS), "procurement_start", "award")
        rfp = months_between(
            run(PHOENIX, seed, PHOENIX_MONTHS, overrides=RFP), "procurement_start", "award"
        )
        assert fw.mean() <= 6 and rfp.mean() >= 9
        assert fw.mean() <= 0.5 * rfp.mean()


def test_phoenix_members_scale_sooner_and_more_on_the_framework():
    """The same 12 cities reach 50 % coverage sooner, and more of them by month 36."""
    for seed in SEEDS[:2]:
        fw, rfp = (
            run(PHOENIX, seed, PHOENIX_MONTHS),
            run(PHOENIX, seed, PHOENIX_MONTHS, overrides=RFP),
        )
        fw_scaled = (events(fw, "scaled")["month"] <= 36).sum()
        assert fw_scaled >= 6 and fw_scaled > (events(rfp, "scaled")["month"] <= 36).sum()
        to_scale_fw = months_between(fw, "procurement_start", "scaled").mean()
        assert to_scale_fw <= months_between(rfp, "procurement_start", "scaled").mean() - 6


def test_phoenix_pilots_evidence_is_pooled_and_fees_paid():
    """Members' pilots share evidence (tighter posteriors than cities alone); $10k/yr fees."""
    for seed in SEEDS[:2]:
        pooled, alone = (run(PHOENIX, seed, PHOENIX_MONTHS, overrides=o) for o in (RFP, ALONE))
        sd_pooled = np.mean([info(i, "sd") for i in events(pooled, "pilot_scale")["info"]])
        sd_alone = np.mean([info(i, "sd") for i in events(alone, "pilot_scale")["info"]])
        assert sd_pooled < 0.7 * sd_alone
    fw = run(PHOENIX, 0, PHOENIX_MONTHS)
    cities = len(fw.scenario.world.cities)
    fees = monthly(fw, "member_fee", payee="outside:framework").sum()
    assert fees == pytest.approx(cities * 10_000 * PHOENIX_MONTHS / 12)


# --------------------------------------------------------------------------- revolving fund


#: A world whose LED streetlights deliver what the better vendors claim and whose
#: regulator lets them go ahead.
GOOD_LIGHTS = (
    ("world.technology.streetlights.true_performance_mean", 0.85),
    ("world.regulator.rejection_rate", 0.0),
)


def test_revolving_fund_recycles_savings_into_new_loans():
    """F4: where the pilots scale, the fund lends its seed and refills from savings after lending.

    A world whose streetlight pilot is stopped leaves the fund mostly unlent (the
    pilot's evidence is not an oracle); where the lights deliver, it recycles.
    """
    recycled = 0
    for seed in SEEDS:
        for world in ((), GOOD_LIGHTS):
            r = run("revolving_fund", seed, overrides=world)
            seed_usd = r.scenario.policy.financing.revolving_fund.initial_usd
            lent = monthly(r, "capex", payer="central:revolving")
            scaled = set(events(r, "scaled").domain)
            if scaled != {"streetlights", "buildings"}:  # a pilot stopped or a scale-up refused
                assert len(events(r, "pilot_stopped")) + len(events(r, "approval_refused")) >= 1
                assert lent.sum() < seed_usd
                continue
            recycled += 1
            repaid = monthly(r, "loan_repayment", payee="central:revolving")
            balance = r.timeseries["central.revolving_fund"].to_numpy()
            trough = int(balance.argmin())
            assert lent.sum() > 0.9 * seed_usd  # the seed is put to work
            assert repaid.sum() > 0.5 * seed_usd  # verified savings flow back
            assert balance[trough] < 0.5 * seed_usd  # it was really lent out
            assert balance[trough:].max() >= seed_usd  # and refilled from savings
    assert recycled >= 2


# --------------------------------------------------------------------------- TIF

TIF = "tif_district"


#: A regulator that refuses nothing (for cases about what happens after approval).
LENIENT = (("world.regulator.rejection_rate", 0.0),)


def test_tif_increment_services_the_bond_without_the_general_fund():
    """F7: the increment goes to the TIF fund, which alone pays the TIF bond; but-for in (0, 1).

    In a world where the regulator lets the district's wi-fi go ahead (it may refuse it).
    """
    for seed in SEEDS[:2]:
        r = run(TIF, seed, overrides=LENIENT)
        increment = monthly(r, "tif_increment", payee="central:tif")
        assert increment.sum() > 0
        assert len(events(r, "tif_base_frozen")) == 1
        e = r.ledger.entries()
        service = e[(e.kind == "debt_service") & (e.credit_name == "central:tif")]
        assert service.amount.sum() > 0
        assert not ((e.credit_name == "central:general") & (e.debit_name == "central:tif")).any()
        assert r.kpis["defaults"] == 0
        assert 0 < r.kpis["tif_but_for_share"] < 1


def test_tif_surplus_returns_to_the_general_fund():
    """A TIF district should not starve the general fund of more than its debt service."""
    r = run(TIF, 0)
    assert r.kpis["min_budget_balance_usd"] > 0
    assert r.kpis["rating_downgrades"] == 0
