"""The fiscal NPV by component (``sim.model.fiscal``), from hand-built records.

Each test books a few flows on a small ledger, describes a project or a debt,
and checks a component against the value computed here: the components add up
to the NPV; pilots, governance and procurement flows land in their own
components; obligations after the horizon (debts of city funds, fees,
availability payments, retentions, guarantee calls) are discounted at the
city's rate; the benefits of assets still in service are extrapolated from the
last twelve months to their end of life, switching to the whole cash less the
city's own O&M when a partner's term ends first.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.schema import Scenario, Technology
from sim.core.ledger import Ledger
from sim.instruments import guarantees
from sim.instruments.base import GENERAL, PROGRAM, Arrangement, Debt
from sim.mechanisms.lifecycle import Project
from sim.model import fiscal
from sim.model.kpis import fiscal_npv
from sim.model.record import CityRecord, RunRecord

SCENARIO = Scenario()
RATE = SCENARIO.world.macro.discount_rate_annual
MARGIN = SCENARIO.world.vendors.margin
HORIZON = 36
LAST = HORIZON - 1


def pv(month: float) -> float:
    return (1 + RATE) ** (-month / 12)


class Book:
    """A ledger with a city, a project fund, a vendor, an investor and the outside."""

    def __init__(self) -> None:
        self.led = Ledger(capacity=64)
        self.city = self.led.open_account("c:general", "city")
        self.fund = self.led.open_account("c:project1", "city")
        self.vendor = self.led.open_account("vendor0", "vendor")
        self.vehicle = self.led.open_account("c:vehicle1", "vehicle")
        self.investor = self.led.open_account("investor0", "investor")
        self.outside = self.led.open_account("outside:utility", "outside", external=True)

    def record(self, projects=(), debts=(), retentions=()) -> RunRecord:
        city = CityRecord(
            name="c",
            index=0,
            rating_index=1,
            contingent=0.0,
            guarantee_calls=0.0,
            financing_failures=0,
            revolving_balance=0.0,
            debts=list(debts),
            minibond_sale=None,
            tif_area=None,
            retentions=tuple(retentions),
        )
        return RunRecord(
            scenario=SCENARIO,
            horizon=HORIZON,
            ledger=self.led,
            series={},
            events=[],
            projects=list(projects),
            cities=[city],
            districts=1,
            adoption={},
            totals={},
            ppp_vfm=[],
            incidents=0,
            av=np.zeros(1),
            av_trend=np.zeros(1),
        )


def project(pid=1, units=10.0, deploy_start=0, lifetime_years=5.0, opex=2.0, **kw) -> Project:
    tech = Technology(lifetime_years=lifetime_years, opex_per_unit_month_usd=opex)
    pr = Project(pid, "c", "water", tech, units, state="operating", units=units, **kw)
    pr.deploy_start = deploy_start
    return pr


class Vendor:
    solvent = True


# --------------------------------------------------------------------------- cash to the horizon


def test_components_add_up_to_the_fiscal_npv_and_flows_find_their_component():
    b = Book()
    b.led.transfer(0, b.city, b.vendor, 1000.0, "capex", 1)
    b.led.transfer(3, b.outside, b.city, 40.0, "savings", 1)
    b.led.transfer(4, b.city, b.vendor, 7.0, "opex", 1)
    b.led.transfer(5, b.city, b.outside, 30.0, "opex", PROGRAM)  # the PMO
    b.led.transfer(6, b.city, b.outside, 10.0, "member_fee", PROGRAM)
    b.led.transfer(7, b.outside, b.city, 99.0, "tax", -1)  # untagged: not the programme's
    b.led.transfer(8, b.fund, b.city, 5.0, "transfer", 1)  # between city funds: nothing
    parts = fiscal.components(b.record())
    assert set(parts) == set(fiscal.COMPONENTS)
    assert parts["capex"] == pytest.approx(-1000.0)
    assert parts["savings"] == pytest.approx(40.0 * pv(3))
    assert parts["operations"] == pytest.approx(-7.0 * pv(4))
    assert parts["governance"] == pytest.approx(-30.0 * pv(5))
    assert parts["procurement"] == pytest.approx(-10.0 * pv(6))
    assert parts["other"] == 0.0
    assert sum(parts.values()) == pytest.approx(fiscal_npv(b.record()), rel=1e-12)


def test_a_projects_flows_during_its_pilot_are_the_pilots_component():
    b = Book()
    b.led.transfer(2, b.city, b.vendor, 100.0, "capex", 1)  # pilot units
    b.led.transfer(5, b.outside, b.city, 8.0, "savings", 1)  # measured in the pilot
    b.led.transfer(14, b.city, b.vendor, 900.0, "capex", 1)  # scale-up
    pr = project(pilot_start=2, pilot_end=14, deploy_start=2)
    parts = fiscal.components(b.record(projects=[pr]))
    assert parts["pilots"] == pytest.approx(-100.0 * pv(2) + 8.0 * pv(5))
    assert parts["capex"] == pytest.approx(-900.0 * pv(14))


# --------------------------------------------------------------------------- after the horizon


def test_debts_of_city_funds_count_after_the_horizon_at_the_citys_rate():
    b = Book()
    go = Debt(1, "go_bond", b.city, b.investor, 1, np.full(60, 10.0), 500.0, 0.05, GENERAL)
    rb = Debt(1, "revenue_bond", b.fund, b.investor, 1, np.full(48, 3.0), 120.0, 0.06, "project")
    vehicle = Debt(1, "ppp", b.vehicle, b.investor, 1, np.full(60, 50.0), 2e3, 0.07, "vehicle")
    rec = b.record(debts=[go, rb, vehicle])
    expected = sum(10.0 * pv(m) for m in range(HORIZON, 61))
    expected += sum(3.0 * pv(m) for m in range(HORIZON, 49))
    assert fiscal.commitments_after_horizon(rec) == pytest.approx(expected, rel=1e-12)


def test_retentions_still_due_are_commitments():
    b = Book()
    rec = b.record(retentions=[(1, 20, 50, 4.0)])
    expected = sum(4.0 * pv(m) for m in range(HORIZON, 50))
    assert fiscal.commitments_after_horizon(rec) == pytest.approx(expected, rel=1e-12)


def test_service_fees_and_a_purchase_run_to_the_end_of_the_term():
    b = Book()
    pr = project(lifetime_years=10.0)
    pr.vendors = [Vendor()]
    pr.price_per_unit = 300.0
    arr = Arrangement("as_a_service", owner="vendor", term_end=60, fee_per_unit_month=5.0)
    pr.arrangements = [arr]
    fees = sum(5.0 * 10.0 * pv(m) for m in range(HORIZON, 60))
    price = 300.0 * 10.0 * (1 - 60 / 120)
    expected = fees + price * pv(60)
    assert fiscal.commitments_after_horizon(b.record(projects=[pr])) == pytest.approx(expected)
    pr.vendors[0] = type("Gone", (), {"solvent": False})()  # the vendor left: no more fees
    assert fiscal.commitments_after_horizon(b.record(projects=[pr])) == 0.0


def test_availability_payments_are_owed_to_the_vehicle_whoever_runs_it():
    b = Book()
    pr = project(lifetime_years=10.0)
    pr.vendors = [type("Gone", (), {"solvent": False})()]
    arr = Arrangement("ppp", owner="vehicle", term_end=48, fee_per_unit_month=7.0)
    pr.arrangements = [arr]
    expected = sum(70.0 * pv(m) for m in range(HORIZON, 48))
    assert fiscal.commitments_after_horizon(b.record(projects=[pr])) == pytest.approx(expected)


def test_a_floor_still_running_costs_its_expected_calls():
    b = Book()
    for m in range(24, 36):  # the fund received 100 a month of savings lately
        b.led.transfer(m, b.outside, b.fund, 100.0, "savings", 1)
    pr = project(lifetime_years=10.0)
    arr = Arrangement("revenue_bond", guarantee_floor_month=90.0, guarantee_end=50)
    pr.arrangements = [arr]
    call = guarantees.expected_call(90.0, 100.0)
    expected = sum(call * pv(m) for m in range(HORIZON, 50))
    assert call > 0
    assert fiscal.commitments_after_horizon(b.record(projects=[pr])) == pytest.approx(expected)


def test_benefits_after_the_horizon_extrapolate_the_last_year_to_end_of_life():
    b = Book()
    for m in range(0, 36):
        b.led.transfer(m, b.outside, b.city, 100.0 if m >= 24 else 40.0, "savings", 1)
        b.led.transfer(m, b.city, b.vendor, 20.0, "opex", 1)
    pr = project(lifetime_years=4.0)  # 48 months from month 0
    expected = sum((100.0 - 20.0) * pv(m) for m in range(HORIZON, 48))
    assert fiscal.benefits_after_horizon(b.record(projects=[pr])) == pytest.approx(expected)
    pr.state, pr.units = "ended", 0.0
    assert fiscal.benefits_after_horizon(b.record(projects=[pr])) == 0.0


def test_when_a_partners_term_ends_the_city_takes_the_cash_and_pays_the_om():
    """A revenue share: 40 % of 100 goes to the vendor until month 42, all of it after."""
    b = Book()
    for m in range(24, 36):
        b.led.transfer(m, b.outside, b.vendor, 40.0, "savings", 1)
        b.led.transfer(m, b.outside, b.city, 60.0, "savings", 1)
        b.led.transfer(m, b.city, b.vendor, 5.0, "opex", 1)
    pr = project(units=10.0, opex=2.0, lifetime_years=5.0)  # to month 60
    pr.arrangements = [Arrangement("revenue_share", owner="vendor", term_end=42, vendor_share=0.4)]
    own_om = 10.0 * 2.0 * (1 + MARGIN)
    expected = sum((60.0 - 5.0) * pv(m) for m in range(HORIZON, 42))
    expected += sum((100.0 - own_om) * pv(m) for m in range(42, 60))
    assert fiscal.benefits_after_horizon(b.record(projects=[pr])) == pytest.approx(expected)
