"""The regulator (``agents.regulator``): approval delays, incidents, halts and their hazard.

Incidents are drawn against a stub stream returning a fixed uniform, so the
hazard's scaling by coverage and the stress factor is checked exactly.
"""

import numpy as np
import pytest

from agents.regulator import Regulator
from sim.config.schema import Technology
from sim.mechanisms.lifecycle import Project
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(**overrides):
    return AllianceModel(resolve("alliance", {**SMALL, **overrides}), seed=0, months=12)


class Fixed:
    """A stream whose uniform draw is always ``u``."""

    def __init__(self, u):
        self.u = u

    def random(self):
        return self.u


def project(hazard=0.1, coverage=1.0, pid=3):
    tech = Technology(incident_hazard_monthly=hazard)
    pr = Project(pid, "central", "streetlights", tech, units_target=100.0, state="operating")
    pr.units = coverage * 100.0
    return pr


# --------------------------------------------------------------------------- approvals


def test_sandbox_shortens_approvals_draw_for_draw():
    m = model(**{"world.regulator.sandbox_factor": 0.4})
    reg = m.regulator
    reg.stream = np.random.default_rng(5)
    plain = [reg.approval_delay(False) for _ in range(2000)]
    reg.stream = np.random.default_rng(5)
    sandbox = [reg.approval_delay(True) for _ in range(2000)]
    assert all(s <= p for s, p in zip(sandbox, plain, strict=True))
    mean = m.scenario.world.regulator.approval_months_mean
    assert np.mean(plain) == pytest.approx(mean + 0.5, rel=0.1)  # ceil of an exponential
    assert np.mean(sandbox) == pytest.approx(0.4 * mean + 0.5, rel=0.15)
    assert reg.approvals == 4000
    assert min(plain) >= 0 and all(isinstance(d, int) for d in plain)


def test_approval_delay_scales_with_the_stress_factor_and_is_zero_without_a_mean():
    slow = model(**{"world.stress.approval_delay_factor": 3.0})
    slow.regulator.stream = np.random.default_rng(1)
    base = model()
    base.regulator.stream = np.random.default_rng(1)
    s = [slow.regulator.approval_delay(False) for _ in range(500)]
    b = [base.regulator.approval_delay(False) for _ in range(500)]
    assert all(x >= y for x, y in zip(s, b, strict=True))
    assert np.mean(s) > 2.5 * np.mean(b) - 1
    none = model(**{"world.regulator.approval_months_mean": 0.0})
    state = none.regulator.stream.bit_generator.state
    assert none.regulator.approval_delay(False) == 0
    assert none.regulator.stream.bit_generator.state == state  # no draw spent


# --------------------------------------------------------------------------- incidents


def test_an_incident_halts_the_project_and_notes_an_event():
    m = model(**{"world.regulator.halt_months": 12.0})
    reg = m.regulator
    reg.stream = Fixed(0.0)
    pr = project()
    assert reg.check_incident(pr, sandbox=False, month=30)
    assert pr.halted_until == 42
    assert pr.halted(41) and not pr.halted(42)
    assert (reg.incidents, reg.halts) == (1, 1)
    (e,) = reg.outbox.drain().events
    assert (e.event, e.city, e.project, e.domain) == ("incident_halt", "central", 3, "streetlights")
    assert e.info == {"until": 42}


def test_a_sandbox_shortens_the_halt():
    m = model(**{"world.regulator.halt_months": 12.0, "world.regulator.sandbox_factor": 0.4})
    m.regulator.stream = Fixed(0.0)
    pr = project()
    m.regulator.check_incident(pr, sandbox=True, month=10)
    assert pr.halted_until == 10 + 5  # ceil(12 * 0.4)


def test_no_incident_leaves_the_project_running():
    m = model()
    m.regulator.stream = Fixed(0.5)
    pr = project(hazard=0.4)
    assert not m.regulator.check_incident(pr, sandbox=False, month=0)
    assert pr.halted_until == -1
    assert m.regulator.incidents == 0
    assert m.regulator.outbox.drain().events == []


@pytest.mark.parametrize(
    ("coverage", "hazard"), [(0.0, 0.0), (0.1, 0.04), (0.25, 0.1), (0.5, 0.2), (1.0, 0.2)]
)
def test_hazard_scales_with_coverage_up_to_half_coverage(coverage, hazard):
    """The hazard is the domain hazard x stress factor x min(1, 2 x coverage)."""
    m = model()
    pr = project(hazard=0.2, coverage=coverage)
    m.regulator.stream = Fixed(max(hazard - 1e-9, 0.0))
    assert m.regulator.check_incident(pr, False, 0) == (hazard > 0)
    pr = project(hazard=0.2, coverage=coverage)
    m.regulator.stream = Fixed(hazard + 1e-9)
    assert not m.regulator.check_incident(pr, False, 0)


def test_hazard_scales_with_the_stress_factor():
    m = model(**{"world.stress.incident_hazard_factor": 3.0})
    m.regulator.stream = Fixed(0.25)
    assert m.regulator.check_incident(project(hazard=0.1), False, 0)  # 0.3 > 0.25
    quiet = model(**{"world.stress.incident_hazard_factor": 0.0})
    quiet.regulator.stream = Fixed(0.0)
    assert not quiet.regulator.check_incident(project(hazard=0.5), False, 0)


def test_incident_frequency_matches_the_hazard():
    m = model()
    m.regulator.stream = np.random.default_rng(0)
    hits = sum(
        m.regulator.check_incident(project(hazard=0.05, coverage=0.25), False, 0)
        for _ in range(20000)
    )
    assert hits / 20000 == pytest.approx(0.025, rel=0.15)


def test_the_regulator_opens_its_account():
    m = model()
    reg = m.regulator
    assert isinstance(reg, Regulator)
    assert m.ledger.account("regulator") == reg.account
    assert m.ledger.balance(reg.account) == 0.0


def test_in_the_model_a_halted_project_delivers_nothing_until_the_halt_ends():
    m = AllianceModel(
        resolve(
            "traditional",
            {
                **SMALL,
                "world.stress.incident_hazard_factor": 30.0,
                "policy.domains": ["streetlights", "water"],
            },
        ),
        seed=0,
        months=48,
    )
    m.run()
    halts = [e for e in m.events if e["event"] == "incident_halt"]
    assert len(halts) == m.regulator.incidents > 0
    entries = m.ledger.entries()
    for e in halts:
        until = e["info"]["until"]
        assert until == e["month"] + 12
        savings = set(entries[(entries.kind == "savings") & (entries.project == e["project"])].step)
        assert not savings & set(range(e["month"], until))
        later = [
            x["month"]
            for x in m.events
            if x["project"] == e["project"]
            and x["event"] in ("tranche", "operating")
            and x["month"] >= e["month"]
        ]
        assert all(t >= until for t in later)  # the lifecycle waits out the halt


# --------------------------------------------------------------------------- refusals


def sensitive(sensitivity=0.5, domain="traffic"):
    tech = Technology(privacy_sensitivity=sensitivity)
    return Project(7, "central", domain, tech, units_target=100.0, state="approval")


def test_refusal_probability_grows_with_sensitivity_and_past_incidents():
    r = model(**{"world.regulator.rejection_rate": 0.4}).regulator
    assert r.refusal_probability(sensitive(0.0)) == 0.0
    assert r.refusal_probability(sensitive(0.5)) == pytest.approx(1 - np.exp(-0.2))
    r.incidents_by_domain["traffic"] = 2
    assert r.refusal_probability(sensitive(0.5)) == pytest.approx(1 - np.exp(-0.6))
    assert r.refusal_probability(sensitive(0.5, "wifi")) == pytest.approx(1 - np.exp(-0.2))


def test_an_incident_makes_later_approvals_in_its_domain_harder():
    r = model(**{"world.regulator.rejection_rate": 0.4}).regulator
    before = r.refusal_probability(sensitive(0.5, "streetlights"))
    r.stream = Fixed(0.0)
    assert r.check_incident(project(hazard=0.1), sandbox=False, month=3)
    assert r.refusal_probability(sensitive(0.5, "streetlights")) > before


def test_decide_refuses_on_the_draw_and_notes_it():
    r = model(**{"world.regulator.rejection_rate": 0.4}).regulator
    p = r.refusal_probability(sensitive())
    r.stream = Fixed(p - 1e-9)
    assert r.decide(sensitive()) is False
    (e,) = r.outbox.drain().events
    assert e.event == "approval_refused" and e.info["p"] == pytest.approx(p)
    r.stream = Fixed(p + 1e-9)
    assert r.decide(sensitive()) is True and r.refusals == 1


def test_a_sandbox_shortens_the_wait_but_not_the_chance_of_refusal():
    plain = model(**{"world.regulator.rejection_rate": 0.4})
    sandbox = model(**{"world.regulator.rejection_rate": 0.4, "policy.governance.sandbox": True})
    pr = sensitive()
    assert plain.regulator.refusal_probability(pr) == sandbox.regulator.refusal_probability(pr)
