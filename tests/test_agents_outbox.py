"""The outbox (``agents.outbox``): events, started projects and tallies, and how they drain."""

from dataclasses import FrozenInstanceError, dataclass

import pytest

from agents.outbox import Event, Outbox, Report
from sim.model.api import resolve
from sim.model.model import AllianceModel


@dataclass
class Ref:
    pid: int
    city: str
    domain: str


def test_an_event_about_a_project_carries_its_city_id_and_domain():
    box = Outbox()
    box.note(Ref(7, "central", "water"), "award", price=320.0, vendors=["vendor1"])
    (e,) = box.report.events
    assert e == Event("award", "central", 7, "water", {"price": 320.0, "vendors": ["vendor1"]})


def test_an_event_about_a_city_takes_the_city_from_its_details():
    box = Outbox()
    box.note(None, "rating_change", city="north", rating="A", was="AA")
    (e,) = box.report.events
    assert (e.event, e.city, e.project, e.domain) == ("rating_change", "north", -1, "")
    assert e.info == {"rating": "A", "was": "AA"}  # the city is not repeated in the details
    box.note(None, "vendor_exit", vendor="vendor3")
    assert box.report.events[1].city == ""


def test_a_project_event_keeps_a_city_detail_as_information():
    box = Outbox()
    box.note(Ref(1, "central", "maas"), "x", city="other")
    (e,) = box.report.events
    assert e.city == "central"
    assert e.info == {"city": "other"}


def test_events_are_frozen():
    box = Outbox()
    box.note(Ref(1, "c", "d"), "x")
    with pytest.raises(FrozenInstanceError):
        box.report.events[0].event = "y"


def test_drain_hands_over_everything_in_order_and_starts_empty():
    box = Outbox()
    a, b = Ref(1, "c", "water"), Ref(2, "c", "maas")
    box.started(a)
    box.note(a, "procurement_start", mode="rfp")
    box.tally("kwh_saved", 10.0)
    box.started(b)
    box.note(b, "procurement_start", mode="framework")
    box.tally("savings_usd", 3.0)
    box.tally("kwh_saved", 5.0)
    report = box.drain()
    assert isinstance(report, Report)
    assert report.projects == [a, b]
    assert [(e.project, e.info["mode"]) for e in report.events] == [(1, "rfp"), (2, "framework")]
    assert report.tallies == [("kwh_saved", 10.0), ("savings_usd", 3.0), ("kwh_saved", 5.0)]
    empty = box.drain()
    assert (empty.events, empty.projects, empty.tallies) == ([], [], [])
    box.note(a, "late")
    assert [e.event for e in report.events] == ["procurement_start"] * 2  # handed over intact
    assert [e.event for e in box.drain().events] == ["late"]


def test_the_model_books_a_drained_report_with_the_month():
    m = AllianceModel(
        resolve("alliance", {"world.residents.simulated_agents": 2000}), seed=0, months=12
    )
    m.month = 4
    box = Outbox()
    pr = Ref(9, "central", "wifi")
    box.started(pr)
    box.note(pr, "pilot_start", units=3.0)
    box.tally("welfare_usd", 12.5)
    box.tally("ppp_value_for_money_usd", -1.0)
    m.book(box.drain())
    assert m.events[-1] == {
        "month": 4,
        "event": "pilot_start",
        "city": "central",
        "project": 9,
        "domain": "wifi",
        "info": {"units": 3.0},
    }
    assert m.projects[-1] is pr
    assert m.totals["welfare_usd"] == 12.5
    assert m.ppp_vfm == [-1.0]


def test_pending_says_whether_anything_waits_for_a_drain():
    box = Outbox()
    assert not box.pending
    box.tally("kwh_saved", 1.0)
    assert box.pending
    box.drain()
    assert not box.pending
