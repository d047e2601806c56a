"""A city set up by hand for the treasury and financing tests.

A small model is built (not run) and a project is set up as an award would
leave it (partner, price, claim, prior).
"""

from sim.mechanisms.lifecycle import Project
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(scenario="traditional", **overrides):
    return AllianceModel(resolve(scenario, {**SMALL, **overrides}), seed=0, months=60)


def project(m, domain, city=0, overrun=1.0):
    c = m.cities[city]
    tech = m.scenario.world.technology[domain]
    pr = Project(
        m.new_project_id(),
        c.name,
        domain,
        tech,
        c.economics.units_for(tech),
        state="approval",
        overrun=overrun,
    )
    vendor = next(v for v in m.vendors if domain in v.domains)
    pr.vendors, pr.price_per_unit, pr.claim = [vendor], vendor.price(domain), vendor.claim[domain]
    pr.mu, pr.sd = 0.8 * pr.claim, 0.25
    pr.evidence_key = (c.name, domain, vendor.unique_id)
    c.projects.append(pr)
    return pr


def booked(m, n0, kind=None):
    e = m.ledger.entries().iloc[n0:]
    return e if kind is None else e[e.kind == kind]


def flow(e, src, dst):
    return float(e[(e.credit == src) & (e.debit == dst)].amount.sum())
