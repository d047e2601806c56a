"""KPIs of a run (``sim.model.kpis``) from a hand-built record and from a real short run.

A hand-built :class:`~sim.model.record.RunRecord` (a ledger of a few tagged and
untagged transfers, a couple of debts) checks the money KPIs against values
computed here: fiscal NPV = discounted net of the city's tagged flows minus the
PV of the payments its funds still owe after the horizon; ``net_of`` sums a
stakeholder's tagged flows; stranded debt is what is scheduled after a project
ended. A real 24-month run checks every KPI against the record it came from,
the stated values of undefined KPIs, and that a non-finite KPI fails the run
naming the KPI.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import sim
from sim.config.schema import Scenario, Technology
from sim.core.fields import RATINGS
from sim.core.ledger import Ledger
from sim.instruments import ppp
from sim.instruments.base import GENERAL, Arrangement, Debt
from sim.mechanisms.lifecycle import Project
from sim.model import AllianceModel
from sim.model.api import resolve
from sim.model.kpis import NonFiniteKPI, fiscal_npv, kpis, net_of, stranded_debt
from sim.model.outputs import kpi_names
from sim.model.record import CityRecord, RunRecord

MONTHS = 24
SMALL = {"world.residents.simulated_agents": 2000}
SCENARIO = Scenario()
RATE = SCENARIO.world.macro.discount_rate_annual


# --------------------------------------------------------------------------- hand-built record


def city_record(name="city", index=0, debts=()):
    return CityRecord(
        name=name,
        index=index,
        rating_index=1,
        contingent=0.0,
        guarantee_calls=0.0,
        financing_failures=0,
        revolving_balance=0.0,
        debts=list(debts),
        minibond_sale=None,
        tif_area=None,
    )


def hand_record(ledger, cities, projects=(), horizon=36):
    return RunRecord(
        scenario=SCENARIO,
        horizon=horizon,
        ledger=ledger,
        series={},
        events=[],
        projects=list(projects),
        cities=cities,
        districts=1,
        adoption={},
        totals={},
        ppp_vfm=[],
        incidents=0,
        av=np.zeros(1),
        av_trend=np.zeros(1),
    )


@pytest.fixture
def book():
    """A ledger: the city pays capex, earns savings and taxes, pays a programme fee."""
    led = Ledger(capacity=16)
    acct = {
        "city": led.open_account("city:general", "city"),
        "fund": led.open_account("city:revolving", "city"),
        "vendor": led.open_account("vendor:v0", "vendor"),
        "investor": led.open_account("investor:i0", "investor"),
        "outside": led.open_account("outside:utility", "outside", external=True),
    }
    led.transfer(0, acct["city"], acct["vendor"], 1000.0, "capex", 1)
    led.transfer(12, acct["outside"], acct["city"], 500.0, "savings", 1)
    led.transfer(6, acct["outside"], acct["city"], 999.0, "tax", -1)  # untagged: not counted
    led.transfer(24, acct["city"], acct["outside"], 100.0, "member_fee", 0)  # programme level
    led.transfer(3, acct["vendor"], acct["investor"], 50.0, "interest", 2)  # not the city's
    led.transfer(18, acct["fund"], acct["city"], 70.0, "transfer", 1)  # city to city: nets 0
    return led, acct


def debt(acct, *, recourse=GENERAL, project=1, start=0, n=60, amount=10.0, rate=0.05):
    return Debt(
        project=project,
        instrument="go_bond",
        payer=acct["city"],
        payee=acct["investor"],
        start=start,
        payments=np.full(n, amount),
        principal=n * amount,
        rate_annual=rate,
        recourse=recourse,
    )


def test_fiscal_npv_is_discounted_tagged_city_net_without_debt(book):
    led, _ = book
    rec = hand_record(led, [city_record()])
    expected = -1000.0 + 500.0 * (1 + RATE) ** -1 - 100.0 * (1 + RATE) ** -2
    assert fiscal_npv(rec) == pytest.approx(expected, rel=1e-12)


def test_fiscal_npv_subtracts_what_city_funds_still_owe_after_the_horizon(book):
    """Every debt the city's funds owe counts after the horizon; a PPP vehicle's does not."""
    led, acct = book
    horizon = 36
    general = debt(acct)  # 60 x 10 from month 0
    revenue = debt(acct, recourse="project", amount=2.0)  # paid from a city fund: counts
    vehicle = debt(acct, recourse=ppp.RECOURSE, amount=99.0)  # the vehicle's: does not
    rec = hand_record(led, [city_record(debts=[general, revenue, vehicle])], horizon=horizon)
    owed = sum(12.0 * (1 + RATE) ** (-m / 12) for m in range(36, 60))
    flows = -1000.0 + 500.0 * (1 + RATE) ** -1 - 100.0 * (1 + RATE) ** -2
    assert fiscal_npv(rec) == pytest.approx(flows - owed, rel=1e-12)


def test_fiscal_npv_sums_every_citys_general_debt(book):
    led, acct = book
    one = hand_record(led, [city_record(debts=[debt(acct)])])
    two = hand_record(
        led, [city_record(debts=[debt(acct)]), city_record("b", 1, debts=[debt(acct, amount=20.0)])]
    )
    base = hand_record(led, [city_record()])
    assert fiscal_npv(base) - fiscal_npv(two) == pytest.approx(
        3 * (fiscal_npv(base) - fiscal_npv(one)), rel=1e-12
    )


def test_repaid_debt_costs_nothing_at_the_horizon(book):
    led, acct = book
    done = debt(acct, n=12)  # paid off by month 11
    assert fiscal_npv(hand_record(led, [city_record(debts=[done])], horizon=36)) == pytest.approx(
        fiscal_npv(hand_record(led, [city_record()], horizon=36)), rel=1e-12
    )


def test_net_of_sums_a_stakeholders_tagged_flows(book):
    led, _ = book
    rec = hand_record(led, [city_record()])
    assert net_of(rec, "city") == pytest.approx(-1000.0 + 500.0 - 100.0)
    assert net_of(rec, "vendor") == pytest.approx(1000.0 - 50.0)
    assert net_of(rec, "investor") == pytest.approx(50.0)
    assert net_of(rec, "outside") == pytest.approx(-500.0 + 100.0)
    assert net_of(rec, "vehicle") == 0.0
    assert sum(net_of(rec, s) for s in ("city", "vendor", "investor", "outside")) == pytest.approx(
        0.0
    )


def test_stranded_debt_is_what_is_scheduled_after_the_project_ended(book):
    led, acct = book
    ended = Project(1, "city", "lights", Technology(), 10.0, state="ended", end_month=10)
    running = Project(2, "city", "lights", Technology(), 10.0, state="operating")
    late = Project(3, "city", "lights", Technology(), 10.0, state="stopped", end_month=10)
    debts = [
        debt(acct, project=1),  # months 11..59 stranded
        debt(acct, project=2),  # project still running
        debt(acct, project=3, start=20, n=12, amount=5.0, recourse="project"),  # all after the stop
        debt(acct, project=99),
    ]  # no such project
    rec = hand_record(led, [city_record(debts=debts)], projects=[ended, running, late])
    assert stranded_debt(rec) == pytest.approx(49 * 10.0 + 12 * 5.0)
    assert stranded_debt(hand_record(led, [city_record(debts=debts)], projects=[running])) == 0.0


# --------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def rec():
    m = AllianceModel(resolve("alliance", SMALL), seed=0, months=MONTHS)
    m.run()
    return m.record()


@pytest.fixture(scope="module")
def out(rec):
    return kpis(rec)


def test_kpis_are_finite_and_named_like_the_declared_outputs(rec, out):
    assert list(out) == kpi_names(rec.scenario)
    assert all(math.isfinite(v) for v in out.values())


def test_kpis_match_the_api_for_the_same_seed(out):
    assert sim.run("alliance", seed=0, months=MONTHS, overrides=SMALL).kpis == out


def test_fiscal_npv_of_a_run_is_the_sum_of_its_parts(rec, out):
    """Cash to the horizon from the ledger, less commitments, plus benefits after it."""
    e = rec.ledger.entries()
    frame = rec.ledger.accounts_frame()
    city = set(frame.id[frame.stakeholder == "city"])
    e = e[e.project >= 0]
    net = e.amount * (e.debit.isin(city).astype(float) - e.credit.isin(city).astype(float))
    pv = float((net * (1 + RATE) ** (-e.step / 12)).sum())
    assert out["fiscal_cash_to_horizon_usd"] == pytest.approx(pv, rel=1e-9)
    owed = 0.0
    for c in rec.cities:
        for d in c.debts:
            months = d.start + np.arange(d.payments.size)
            later = months > MONTHS - 1
            owed += float(np.sum(d.payments[later] * (1 + RATE) ** (-months[later] / 12)))
    assert owed > 0  # the run borrowed
    assert out["commitments_after_horizon_usd"] >= owed * (1 - 1e-12)
    assert out["fiscal_npv_usd"] == pytest.approx(
        pv - out["commitments_after_horizon_usd"] + out["benefits_after_horizon_usd"], rel=1e-9
    )
    parts = sum(v for k, v in out.items() if k.startswith("npv."))
    assert parts == pytest.approx(out["fiscal_npv_usd"], rel=1e-12)


def test_stakeholders_nets_sum_to_zero(rec, out):
    """Every tagged transfer leaves one stakeholder and reaches another."""
    groups = ("city", "resident", "vendor", "vehicle", "outside", "investor", "regulator")
    assert sum(net_of(rec, s) for s in groups) == pytest.approx(0.0, abs=1e-3)
    assert out["city_net_usd"] == net_of(rec, "city")
    assert out["vendor_net_usd"] == net_of(rec, "vendor")


def test_counts_and_tallies_come_from_the_record(rec, out):
    events = [e["event"] for e in rec.events]
    assert out["projects_started"] == len(rec.projects) > 0
    for key, name in (
        ("pilots_started", "pilot_start"),
        ("pilots_scaled", "pilot_scale"),
        ("pilots_stopped", "pilot_stopped"),
        ("vendor_exits", "vendor_exit"),
        ("defaults", "default"),
    ):
        assert out[key] == events.count(name)
    assert out["pilots_started"] > 0
    scaled = [p.scaled_month - p.pilot_start for p in rec.projects if p.scaled_month >= 0]
    assert out["projects_scaled"] == len(scaled)
    if scaled:
        assert out["time_to_scale_months"] == pytest.approx(np.mean(scaled))
    assert out["sunk_cost_stopped_usd"] == pytest.approx(
        sum(p.capex_total for p in rec.projects if p.state == "stopped")
    )
    assert out["savings_usd"] == rec.totals["savings_usd"]
    assert out["co2_avoided_t"] == pytest.approx(
        rec.totals["kwh_saved"] / 1000 * rec.scenario.world.macro.grid_emissions_t_per_mwh
    )
    assert out["incidents"] == rec.incidents


def test_series_kpis_read_the_last_month_or_the_extreme(rec, out):
    s, (city,) = rec.series, [c.name for c in rec.cities]
    assert out["trust_final"] == s["trust_mean"][-1]
    assert out["min_budget_balance_usd"] == s[f"{city}.general_fund"].min()
    assert out["peak_debt_service_ratio"] == s[f"{city}.debt_service_ratio"].max()
    assert out["worst_rating_index"] == s[f"{city}.rating"].max()
    assert out["final_rating_index"] == rec.cities[0].rating_index
    for domain in rec.scenario.world.technology:
        assert out[f"coverage.{domain}"] == s[f"coverage.{domain}"][-1]


def test_adoption_kpis_and_gap(rec, out):
    gaps = []
    for domain, (share, by_q) in rec.adoption.items():
        assert out[f"adoption.{domain}"] == share
        assert [out[f"adoption.{domain}.q{q}"] for q in range(1, 6)] == list(by_q)
        gaps.append(by_q[-1] - by_q[0])
    assert set(rec.adoption) == {"maas", "wifi"}  # the alliance pursues both
    assert out["adoption_gap_top_bottom"] == pytest.approx(np.mean(gaps))


def test_ledger_balances(out):
    assert out["ledger_imbalance_usd"] < 1e-3


# --------------------------------------------------------------------------- stated values


def test_time_to_scale_is_the_horizon_when_nothing_scaled(rec):
    unscaled = dataclasses.replace(rec, projects=[p for p in rec.projects if p.scaled_month < 0])
    assert kpis(unscaled)["time_to_scale_months"] == MONTHS
    assert kpis(unscaled)["projects_scaled"] == 0


def test_no_ppp_no_minibond_no_tif_give_zero(rec, out):
    assert not any(a.instrument == ppp.NAME for p in rec.projects for a in p.arrangements)
    assert out["ppp_min_dscr"] == 0.0
    assert out["minibond_sold_usd"] == 0.0 and out["minibond_sellout_hours"] == 0.0
    assert out["tif_but_for_share"] == 0.0


def test_ppp_min_dscr_is_the_lowest_12_month_window_of_any_vehicle(rec):
    tech = Technology()
    strong = Project(901, "city", "lights", tech, 1.0)
    strong.arrangements = [
        Arrangement(
            ppp.NAME, owner="vehicle", cfads=[13.0] * 12 + [10.0] * 12, debt_service=[10.0] * 24
        )
    ]  # windows 1.3 .. 1.0
    young = Project(902, "city", "lights", tech, 1.0)  # under 12 months: no window yet
    young.arrangements = [
        Arrangement(ppp.NAME, owner="vehicle", cfads=[1.0] * 6, debt_service=[10.0] * 6)
    ]
    weak = Project(903, "city", "lights", tech, 1.0)
    weak.arrangements = [
        Arrangement(ppp.NAME, owner="vehicle", cfads=[12.0] * 12, debt_service=[10.0] * 12)
    ]  # 1.2
    got = kpis(dataclasses.replace(rec, projects=[*rec.projects, strong, young, weak]))
    assert got["ppp_min_dscr"] == pytest.approx(1.0)
    only_young = kpis(dataclasses.replace(rec, projects=[*rec.projects, young]))
    assert only_young["ppp_min_dscr"] == 0.0


def test_debt_owed_after_the_horizon_lowers_fiscal_npv_a_vehicles_does_not(rec, out):
    c = rec.cities[0]
    extra = Debt(
        project=1,
        instrument="go_bond",
        payer=0,
        payee=1,
        start=0,
        payments=np.full(120, 1e5),
        principal=1e7,
        rate_annual=0.04,
    )
    owed = sum(1e5 * (1 + RATE) ** (-m / 12) for m in range(MONTHS, 120))
    more = dataclasses.replace(rec, cities=[dataclasses.replace(c, debts=[*c.debts, extra])])
    assert kpis(more)["fiscal_npv_usd"] == pytest.approx(out["fiscal_npv_usd"] - owed, rel=1e-9)
    assert kpis(more)["debt_outstanding_usd"] == pytest.approx(
        out["debt_outstanding_usd"] + extra.outstanding(MONTHS - 1), rel=1e-9
    )
    vehicle_debt = dataclasses.replace(extra, recourse=ppp.RECOURSE)
    same = dataclasses.replace(rec, cities=[dataclasses.replace(c, debts=[*c.debts, vehicle_debt])])
    assert kpis(same)["fiscal_npv_usd"] == out["fiscal_npv_usd"]


def test_rating_downgrades_count_only_moves_down_the_scale(rec, out):
    moves = [("AA", "A"), ("A", "Baa"), ("Baa", "A"), ("AAA", "AA"), ("AA", "AAA")]
    events = [
        {
            "month": 1,
            "event": "rating_change",
            "city": "city",
            "project": 0,
            "domain": "",
            "info": {"was": was, "rating": now},
        }
        for was, now in moves
    ]
    got = kpis(dataclasses.replace(rec, events=[*rec.events, *events]))
    assert got["rating_downgrades"] == out["rating_downgrades"] + 3
    assert RATINGS.index("Baa") > RATINGS.index("A")


# --------------------------------------------------------------------------- failures


def test_a_non_finite_kpi_fails_the_run_naming_it(rec):
    bad = dataclasses.replace(rec, totals={**rec.totals, "welfare_usd": float("nan")})
    with pytest.raises(NonFiniteKPI, match=r"welfare_usd = nan") as info:
        kpis(bad)
    assert "savings_usd" not in str(info.value)
    assert isinstance(info.value, ValueError)


def test_every_non_finite_kpi_is_named(rec):
    bad = dataclasses.replace(
        rec, totals={**rec.totals, "savings_usd": float("inf"), "kwh_saved": float("-inf")}
    )
    with pytest.raises(NonFiniteKPI) as info:
        kpis(bad)
    msg = str(info.value)
    assert "co2_avoided_t = -inf" in msg and "savings_usd = inf" in msg
    assert msg.index("co2_avoided_t") < msg.index("savings_usd")  # sorted
