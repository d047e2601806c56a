"""A city's operations (``agents.city.operations``): benefits, who receives them, what is paid.

Each test funds a project through the city's treasury under one instrument,
marks it operating and runs one month of operations, then reads the ledger
entries that month booked. Residents' fees and users are set by hand where a
service's cash depends on them.
"""

import numpy as np
import pytest

from agents.city.operations import EXPECTED_REACH, SELF_PERFORM
from sim.mechanisms import contracts
from sim.mechanisms.lifecycle import Project
from sim.model.api import resolve
from sim.model.model import AllianceModel

SMALL = {"world.residents.simulated_agents": 2000}


def model(**overrides):
    return AllianceModel(resolve("traditional", {**SMALL, **overrides}), seed=0, months=120)


def deployed(m, domain, units, t=0):
    """A project funded under the policy's preference and operating from month ``t``."""
    c = m.cities[0]
    tech = m.scenario.world.technology[domain]
    pr = Project(m.new_project_id(), c.name, domain, tech, c.economics.units_for(tech))
    vendor = next(v for v in m.vendors if domain in v.domains)
    pr.vendors, pr.price_per_unit, pr.claim = [vendor], vendor.price(domain), vendor.claim[domain]
    pr.mu, pr.sd = 0.8 * pr.claim, 0.25
    c.projects.append(pr)
    assert c.financing.fund(pr, units, t)
    pr.state, pr.deploy_start = "operating", t
    return pr


def operate(m, pr, t=1):
    n0 = len(m.ledger)
    m.cities[0].operations.run(pr, t)
    return m.ledger.entries().iloc[n0:]


def flow(e, kind, src=None, dst=None):
    sel = e.kind == kind
    if src is not None:
        sel &= np.isin(e.credit, np.atleast_1d(src))
    if dst is not None:
        sel &= np.isin(e.debit, np.atleast_1d(dst))
    return float(e[sel].amount.sum())


def theta(pr, m, t=1):
    return pr.performance(t, m.scenario.world.stress.performance_factor)


def set_fees(m, domain, per_group):
    groups = m.layout.city_groups(0)
    m.residents.fees[m.residents.service(domain), groups] = per_group
    return m.layout.group_accounts[groups]


# --------------------------------------------------------------------------- who receives


def test_a_city_owned_projects_savings_go_to_the_general_fund():
    m = model()
    c = m.cities[0]
    pr = deployed(m, "streetlights", 2000.0)
    e = operate(m, pr)
    cash = 2000 * 14.0 * theta(pr, m)
    assert cash > 0
    assert flow(e, "savings", m.accounts["utility"], c.general) == pytest.approx(cash)
    assert (e.project == pr.pid).all() and (e.step == 1).all()
    tallies = dict(c.outbox.drain().tallies)
    assert tallies["savings_usd"] == pytest.approx(cash)
    assert tallies["kwh_saved"] == pytest.approx(2000 * 31.0 * theta(pr, m))


def test_city_owned_om_goes_through_the_vendor_at_its_margin():
    m = model()
    c = m.cities[0]
    pr = deployed(m, "water", 1000.0)
    e = operate(m, pr)
    opex = 1000 * 0.6
    assert flow(e, "opex", c.general, pr.lead.account) == pytest.approx(opex * 1.15)
    assert flow(e, "opex", pr.lead.account, m.accounts["market"]) == pytest.approx(opex)


def test_a_revenue_bond_projects_cash_goes_to_its_own_fund_which_pays_its_om():
    m = model(**{"policy.financing.preference": ["revenue_bond"]})
    c = m.cities[0]
    pr = deployed(m, "water", 2000.0)
    assert pr.account >= 0
    e = operate(m, pr)
    cash = 2000 * 4.5 * theta(pr, m)
    assert flow(e, "savings", m.accounts["utility"], pr.account) == pytest.approx(cash)
    assert flow(e, "savings", dst=c.general) == 0.0
    assert flow(e, "opex", pr.account, pr.lead.account) == pytest.approx(2000 * 0.6 * 1.15)
    assert flow(e, "opex", src=c.general) == 0.0


def test_shared_savings_split_the_savings_with_the_esco():
    m = model(
        **{
            "policy.financing.preference": ["shared_savings"],
            "policy.contracts.vendor_savings_share": 0.9,
            "policy.contracts.savings_term_years": 20,
        }
    )
    c = m.cities[0]
    esco = next(v for v in m.vendors if "streetlights" in v.domains)
    esco.true_perf["streetlights"] = 0.9  # the ESCO signs on what it knows it delivers
    pr = deployed(m, "streetlights", 2000.0)
    assert pr.arrangements[0].owner == "vendor"
    e = operate(m, pr)
    cash = 2000 * 14.0 * theta(pr, m)
    assert flow(e, "savings", m.accounts["utility"], pr.lead.account) == pytest.approx(0.9 * cash)
    assert flow(e, "savings", m.accounts["utility"], c.general) == pytest.approx(0.1 * cash)
    # the ESCO runs its equipment at its own cost
    assert flow(e, "opex", pr.lead.account, m.accounts["market"]) == pytest.approx(2000 * 1.5)
    assert flow(e, "opex", src=c.general) == 0.0


def test_a_revenue_share_splits_each_groups_fees_and_the_city_pays_the_om():
    m = model(**{"policy.financing.preference": ["revenue_share"]})
    c = m.cities[0]
    pr = deployed(m, "maas", 20.0)
    accounts = set_fees(m, "maas", 100.0)
    e = operate(m, pr)
    share = m.scenario.policy.financing.vendor.revenue_share
    fees = e[e.kind == "user_fee"]
    assert set(fees.credit) == set(accounts)
    assert flow(e, "user_fee", accounts, pr.lead.account) == pytest.approx(share * 100 * 50)
    assert flow(e, "user_fee", accounts, c.general) == pytest.approx((1 - share) * 100 * 50)
    opex = 20 * 6000.0
    assert flow(e, "opex", c.general, pr.lead.account) == pytest.approx(opex * 1.15)


def test_a_demand_risk_ppp_vehicle_receives_the_fees():
    m = model(
        **{
            "policy.financing.preference": ["ppp"],
            "policy.financing.ppp.payment": "user_fees",
            "world.technology.maas.fee_per_user_month_usd": 60.0,
        }
    )
    c = m.cities[0]
    pr = deployed(m, "maas", 20.0)
    arr = pr.arrangements[0]
    accounts = set_fees(m, "maas", 1e4)
    e = operate(m, pr)
    assert flow(e, "user_fee", accounts, arr.vehicle) == pytest.approx(1e4 * 50)
    assert flow(e, "user_fee", dst=c.general) == 0.0
    om = 20 * 6000.0 * 1.15
    assert flow(e, "opex", arr.vehicle, pr.lead.account) == pytest.approx(om)
    # competing equity bidders pass a share of the fees to the city (a concession)
    conceded = flow(e, "concession_fee", arr.vehicle, c.general)
    assert arr.concession_share > 0
    assert conceded == pytest.approx(arr.concession_share * 1e4 * 50)
    assert arr.cfads == [pytest.approx(1e4 * 50 - conceded - om)]


def test_an_availability_ppp_is_paid_by_the_city_less_the_kpi_deduction():
    m = model(
        **{"policy.financing.preference": ["ppp"], "policy.contracts.measurement_lag_months": 0}
    )
    c = m.cities[0]
    pr = deployed(m, "traffic", 30.0)
    arr = pr.arrangements[0]
    e = operate(m, pr)
    deduction = m.scenario.policy.financing.ppp.kpi_deduction_rate * max(0, 1 - pr.measured_kpi)
    assert flow(e, "availability_payment", c.general, arr.vehicle) == pytest.approx(
        arr.fee_per_unit_month * 30 * max(0.0, 1 - deduction)
    )
    assert pr.measured_kpi < 1  # the vendor delivers less than it claimed
    tallies = dict(c.outbox.drain().tallies)
    assert tallies["welfare_usd"] == pytest.approx(30 * 900.0 * theta(pr, m))  # time saved


def test_advertising_scales_with_the_services_reach():
    m = model()
    c = m.cities[0]
    pr = deployed(m, "wifi", 100.0)
    people = c.spec.population * 0.5
    row = m.residents.service("wifi")
    m.residents.users[row, m.layout.district_slice(0)] = 0.3 * people / 10
    e = operate(m, pr)
    reach = 0.3 / EXPECTED_REACH
    assert flow(e, "advertising", m.accounts["market"], c.general) == pytest.approx(
        100 * 140.0 * theta(pr, m) * reach
    )
    m.residents.users[row, m.layout.district_slice(0)] = people / 10  # saturated
    e = operate(m, pr, t=2)
    assert flow(e, "advertising", m.accounts["market"], c.general) == pytest.approx(
        100 * 140.0 * theta(pr, m, 2)
    )


# --------------------------------------------------------------------------- KPI and payments


def test_the_kpi_is_measured_against_the_target_and_sets_the_payment_factor():
    m = model(
        **{
            "policy.contracts.payment": "pay_for_performance",
            "policy.contracts.kpi_threshold": 0.8,
            "policy.contracts.measurement_lag_months": 0,
        }
    )
    c = m.cities[0]
    pr = deployed(m, "water", 1000.0)
    pr.kpi_target = theta(pr, m) / 0.9  # delivers 90 % of the target
    e = operate(m, pr)
    assert len(pr.kpi_history) == 1
    assert pr.measured_kpi == pr.kpi_history[-1]
    assert pr.measured_kpi == pytest.approx(0.9, abs=0.9 * 4 * contracts.KPI_NOISE)
    g = contracts.p4p_factor(pr.measured_kpi, 0.8)
    assert 0 < g < 1
    assert flow(e, "opex", c.general, pr.lead.account) == pytest.approx(1000 * 0.6 * 1.15 * g)
    pr.kpi_target = theta(pr, m) / 0.5  # far below the threshold: no O&M fee
    e = operate(m, pr, t=2)
    assert flow(e, "opex", c.general, pr.lead.account) == 0.0
    assert flow(e, "opex", pr.lead.account, m.accounts["market"]) == pytest.approx(600.0)


def test_without_a_target_the_kpi_is_measured_against_the_claim_with_a_lag():
    m = model(**{"policy.contracts.measurement_lag_months": 2})
    pr = deployed(m, "water", 1000.0)
    for t in (1, 2):
        operate(m, pr, t)
        assert pr.measured_kpi == 1.0  # nothing measured yet
    operate(m, pr, 3)
    assert pr.measured_kpi == pr.kpi_history[0]
    ratio = theta(pr, m) / pr.claim
    assert pr.kpi_history[0] == pytest.approx(ratio, abs=ratio * 4 * contracts.KPI_NOISE)


def test_the_city_runs_orphaned_equipment_itself_at_a_premium():
    m = model()
    c = m.cities[0]
    pr = deployed(m, "water", 1000.0)
    perf = theta(pr, m)
    pr.lead.solvent = False
    e = operate(m, pr)
    assert flow(e, "opex", c.general, m.accounts["market"]) == pytest.approx(
        1000 * 0.6 * SELF_PERFORM
    )
    assert flow(e, "opex", dst=pr.lead.account) == 0.0
    assert flow(e, "savings", m.accounts["utility"], c.general) == pytest.approx(
        1000 * 4.5 * perf * pr.tech.orphan_factor
    )


def test_guaranteed_savings_make_the_vendor_pay_the_shortfall():
    m = model(**{"policy.contracts.energy_contract": "guaranteed_savings"})
    c = m.cities[0]
    pr = deployed(m, "streetlights", 2000.0)
    e = operate(m, pr)
    cash = 2000 * 14.0 * theta(pr, m)
    guaranteed = 2000 * 14.0 * pr.claim * 0.8  # policy.contracts.guaranteed_share
    assert guaranteed > cash  # the vendor over-claimed
    assert flow(e, "penalty", pr.lead.account, c.general) == pytest.approx(guaranteed - cash)


def test_the_savings_guarantee_ends_with_its_term():
    m = model(
        **{
            "policy.contracts.energy_contract": "guaranteed_savings",
            "policy.contracts.guarantee_years": 2,
        }
    )
    pr = deployed(m, "streetlights", 2000.0)
    assert pr.deploy_start == 0
    assert flow(operate(m, pr, t=23), "penalty") > 0
    assert flow(operate(m, pr, t=24), "penalty") == 0.0


def test_the_revolving_fund_is_repaid_from_the_cash_until_the_loan_is_paid():
    m = model(
        **{
            "policy.financing.preference": ["revolving_fund"],
            "policy.financing.revolving_fund.initial_usd": 1e8,
            "policy.financing.revolving_fund.recycle_share": 0.5,
        }
    )
    c = m.cities[0]
    pr = deployed(m, "water", 1000.0)
    arr = pr.arrangements[0]
    loan = 1000 * pr.price_per_unit
    assert arr.revolving_outstanding == pytest.approx(loan)
    e = operate(m, pr)
    cash = 1000 * 4.5 * theta(pr, m)
    assert flow(e, "loan_repayment", c.general, c.funds.revolving) == pytest.approx(0.5 * cash)
    assert arr.revolving_outstanding == pytest.approx(loan - 0.5 * cash)
    arr.revolving_outstanding = 100.0
    e = operate(m, pr, t=2)
    assert flow(e, "loan_repayment", c.general, c.funds.revolving) == pytest.approx(100.0)
    assert arr.revolving_outstanding == pytest.approx(0.0)
    e = operate(m, pr, t=3)
    assert flow(e, "loan_repayment") == 0.0


def test_a_maas_service_tallies_the_value_to_its_users():
    m = model()
    c = m.cities[0]
    pr = deployed(m, "maas", 20.0)
    m.residents.users[m.residents.service("maas"), m.layout.district_slice(0)] = 1000.0
    operate(m, pr)
    welfare = dict(c.outbox.drain().tallies)["welfare_usd"]
    q = min(theta(pr, m) / pr.claim, 1.0)
    assert welfare == pytest.approx(25.0 * 10_000 * q)


# --------------------------------------------------------------------------- retentions


def test_retentions_are_paid_monthly_against_the_measured_kpi():
    m = model(
        **{
            "policy.contracts.payment": "pay_for_performance",
            "policy.contracts.retention_share": 0.3,
            "policy.contracts.retention_years": 1,
        }
    )
    c = m.cities[0]
    pr = deployed(m, "water", 1000.0, t=0)
    ((_, start, end, monthly),) = c.treasury.retentions
    assert (start, end) == (1, 13)
    ops = c.operations

    def retention(t):
        n0 = len(m.ledger)
        ops.pay_retentions(t)
        return flow(m.ledger.entries().iloc[n0:], "capex", c.general, pr.lead.account)

    assert retention(0) == 0.0  # not yet
    pr.measured_kpi = 1.0
    assert retention(1) == pytest.approx(monthly)
    pr.measured_kpi = 0.9
    assert retention(2) == pytest.approx(monthly * contracts.p4p_factor(0.9, 0.8))
    pr.measured_kpi = 0.5
    assert retention(3) == 0.0
    pr.measured_kpi = 1.0
    assert retention(13) == 0.0  # over
    pr.state = "stopped"
    assert retention(4) == 0.0
    pr.state = "operating"
    pr.lead.solvent = False
    assert retention(5) == 0.0
