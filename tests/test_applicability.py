"""When a parameter applies: conditions on fields, ``parameters()``, ``params --json``, specs.

Every schema field may declare when it acts (``field(..., applies=CONDITION)``);
:func:`sim.config.parameters` reports each parameter's ``active`` flag and its
``applies_when`` text for a scenario; ``alliance params SCENARIO --json`` prints
them; experiment and sensitivity specs refuse a design parameter that applies to
none of their points. Whether active parameters really move a KPI is
``tests/test_active_parameters.py``.
"""

from __future__ import annotations

import copy
import json

import pytest
from pydantic import BaseModel

from experiments.cli.main import main
from experiments.engine.spec import inactive_parameters, load_spec
from experiments.sensitivity.spec import load_sensitivity_spec
from sim.config import ScenarioError, load_scenario, parameters
from sim.config import applicability as ap
from sim.config.schema import Scenario
from sim.core.fields import Condition, Strict, condition_of, field


def by_path(name: str, **kwargs) -> dict:
    return {p.path: p for p in parameters(load_scenario(name, **kwargs))}


# ------------------------------------------------------------------ conditions


def test_a_condition_is_its_text_and_checks_a_scenario():
    pilots = ap.PILOTS
    assert isinstance(pilots, str) and pilots == "pilots are enabled (policy.pilot.enabled)"
    assert pilots.holds(load_scenario("alliance"))
    assert not pilots.holds(load_scenario("traditional"))
    both = pilots & ap.PMO
    either = pilots | ap.PMO
    assert both == f"{pilots}; and {ap.PMO}" and either == f"{pilots}, or {ap.PMO}"
    assert not both.holds(load_scenario("phoenix_consortium"))  # pilots, no PMO
    assert either.holds(load_scenario("phoenix_consortium"))
    assert copy.deepcopy(pilots) is pilots and copy.copy(pilots) is pilots


def test_field_stores_the_condition_and_the_json_schema_shows_its_text():
    always = Condition("always true", lambda s, p: True)

    class Block(Strict):
        rate: float = field(0.1, "fraction", 0.0, 1.0, "a rate", always)
        plain: float = field(0.2, "fraction", 0.0, 1.0)

    assert condition_of(Block.model_fields["rate"]) is always
    assert condition_of(Block.model_fields["plain"]) is None
    assert Block.model_fields["plain"].json_schema_extra == {"unit": "fraction"}
    schema = json.loads(json.dumps(Block.model_json_schema()))
    assert schema["properties"]["rate"]["applies"] == "always true"


def test_per_domain_and_per_rating_conditions_read_their_path():
    scn = load_scenario("alliance")
    assert ap.USER_FACING.holds(scn, "world.technology.maas.fee_per_user_month_usd")
    assert not ap.USER_FACING.holds(scn, "world.technology.water.fee_per_user_month_usd")
    assert ap.YIELDS_20Y.holds(scn, "world.rates.yields_20y.AA")  # the city's rating
    assert ap.YIELDS_20Y.holds(scn, "world.rates.yields_20y.B")  # reachable by downgrades
    assert not ap.YIELDS_20Y.holds(scn, "world.rates.yields_20y.AAA")  # never reached


def test_instrument_terms_apply_when_a_pursued_domain_may_use_the_instrument():
    alliance, helsinki = by_path("alliance"), by_path("helsinki_maas")
    assert not alliance["policy.financing.ppp.term_years"].active
    assert helsinki["policy.financing.ppp.term_years"].active
    assert helsinki["policy.financing.ppp.min_revenue_guarantee_share"].active  # user fees
    assert not helsinki["policy.financing.ppp.kpi_deduction_rate"].active  # availability only
    assert alliance["policy.financing.revenue_bond.term_years"].active  # water
    assert not alliance["policy.financing.guarantee.revenue_floor_share"].active
    # the alliance's default preference is never used: every domain has its own list
    assert not by_path("alliance")["policy.financing.vendor.loan_margin"].active
    tif = by_path("tif_district")
    assert tif["policy.financing.tif.districts"].active
    assert not alliance["policy.financing.tif.districts"].active


# ------------------------------------------------------------------ parameters()


def test_parameters_report_active_and_when_they_apply():
    alliance, traditional = by_path("alliance"), by_path("traditional")
    shift = alliance["world.rates.shift_bp"]
    assert shift.active and "go_bond" in shift.applies_when
    assert alliance["world.cities.central.population"].applies_when == "always"
    fee = alliance["world.technology.streetlights.fee_per_user_month_usd"]
    assert not fee.active
    assert fee.applies_when == "the domain is in policy.domains; and the domain is user-facing"
    assert alliance["world.technology.maas.fee_per_user_month_usd"].active
    assert alliance["policy.pilot.months"].active and not traditional["policy.pilot.months"].active
    assert not alliance["world.procurement.rfp_prep_months"].active
    assert traditional["world.procurement.rfp_prep_months"].active
    assert alliance["policy.governance.pmo_cost_annual_usd"].active
    assert not traditional["policy.governance.pmo_cost_annual_usd"].active
    assert traditional["world.procurement.silo_delay_months"].active


def test_domains_outside_the_policy_do_not_apply():
    denver = by_path("denver_minibonds")
    assert denver["world.technology.buildings.capex_per_unit_usd"].active
    assert not denver["world.technology.water.capex_per_unit_usd"].active
    assert denver["world.residents.minibond_interest_share"].active
    assert not by_path("alliance")["world.residents.minibond_interest_share"].active


def test_overlays_turn_stress_parameters_on():
    plain = by_path("alliance")
    for path in (
        "world.stress.rate_shock_month",
        "world.stress.spread_widening_bp",
        "world.stress.recession_months",
        "world.stress.recession_property_drop",
        "world.stress.recession_month",
    ):
        assert not plain[path].active, path
    assert plain["world.stress.rate_shock_bp"].active  # the switch itself
    shocked = by_path("alliance", overlays=["rate_shock", "recession"])
    for path in (
        "world.stress.rate_shock_month",
        "world.stress.spread_widening_bp",
        "world.stress.recession_months",
        "world.stress.recession_property_drop",
        "world.stress.recession_month",
    ):
        assert shocked[path].active, path


def test_yield_curves_are_listed_rating_by_rating():
    params = by_path("traditional")
    assert "world.rates.yields_20y" not in params
    aa = params["world.rates.yields_20y.AA"]
    assert aa.value == pytest.approx(0.0438) and aa.unit == "fraction/yr" and aa.active
    assert not params["world.rates.yields_10y.AA"].active  # GO bonds of 20 years only
    assert not params["world.rates.yields_20y.AAA"].active


def test_every_parameter_has_a_dict_form():
    rows = [p.as_dict() for p in parameters(Scenario())]
    assert all(
        list(r) == ["path", "value", "unit", "range", "active", "applies_when", "doc"] for r in rows
    )
    json.dumps(rows)  # plain data
    shift = next(r for r in rows if r["path"] == "world.rates.shift_bp")
    assert shift["range"] == "-300 .. 1000" and shift["unit"] == "bp"
    assert next(r for r in rows if r["path"] == "scenario.name")["range"] is None


def test_every_condition_on_the_schema_evaluates_on_every_shipped_scenario():
    """No condition raises on a real scenario (they read it by attribute)."""
    from sim.config import library

    for name, _, _ in library():
        for p in parameters(load_scenario(name)):
            assert isinstance(p.active, bool)


def test_conditions_sit_on_the_fields_they_concern():
    def conditions(model: type[BaseModel]) -> dict[str, str]:
        return {k: condition_of(v) for k, v in model.model_fields.items() if condition_of(v)}

    from sim.config.schema import Pilot, Technology
    from sim.instruments.ppp import PPP

    assert "enabled" not in conditions(Pilot) and "months" in conditions(Pilot)
    assert set(conditions(PPP)) == set(PPP.model_fields)
    assert conditions(Technology)["bass_q_annual"] == ap.USER_FACING


# ------------------------------------------------------------------ the command


def test_params_json_lists_every_parameter_with_its_applicability(capsys):
    assert main(["params", "alliance", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == len(parameters(load_scenario("alliance")))
    one = {r["path"]: r for r in rows}["policy.financing.ppp.term_years"]
    assert one == {
        "path": "policy.financing.ppp.term_years",
        "value": 20,
        "unit": "years",
        "range": "3 .. 50",
        "active": False,
        "applies_when": "ppp is in the financing preference of a pursued domain",
        "doc": "",
    }


def test_params_text_marks_what_applies(capsys):
    assert main(["params", "traditional", "-g", "pilot.months"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("off  policy.pilot.months = 12 months  [1 .. 60]  (applies when pilots")
    assert main(["params", "alliance", "-g", "pilot.months", "--inactive"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["params", "alliance", "-g", "pilot.", "--active", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["active"] for r in rows)


# ------------------------------------------------------------------ specs


def test_an_experiment_design_parameter_that_applies_nowhere_is_refused():
    spec = {
        "experiment": {"name": "pilots", "months": 24},
        "scenarios": [{"file": "alliance"}, {"file": "traditional"}],
        "design": {
            "kind": "grid",
            "parameters": {
                "world.rates.shift_bp": {"values": [0.0, 100.0]},
                "policy.pilot.months": {"values": [6, 12]},
            },
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_spec(spec)
    assert info.value.problems == [
        "<spec>: design.parameters.policy.pilot.months: does not apply to scenario "
        "'traditional' (it applies when pilots are enabled (policy.pilot.enabled)), so "
        "sampling it changes none of its runs; drop it or sample it only where it applies "
        "('alliance params SCENARIO --inactive' lists what does not)"
    ]
    spec["scenarios"] = spec["scenarios"][:1]
    assert load_spec(spec).design.parameters


def test_a_parameter_that_applies_at_some_design_point_is_accepted():
    """A rate shock's month applies once the design also samples a shock."""
    spec = {
        "experiment": {"name": "shock", "months": 24},
        "scenarios": [{"file": "traditional"}],
        "design": {
            "kind": "lhs",
            "samples": 4,
            "parameters": {"world.stress.rate_shock_month": {"range": [6, 18], "integer": True}},
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_spec(spec)
    assert "rate_shock_month: does not apply" in info.value.problems[0]
    spec["design"]["parameters"]["world.stress.rate_shock_bp"] = {"range": [0.0, 300.0]}
    load_spec(spec)
    grid = copy.deepcopy(spec)
    grid["design"] = {
        "kind": "grid",
        "parameters": {
            "policy.pilot.enabled": {"values": [False, True]},
            "policy.pilot.share_of_units": {"values": [0.02, 0.05]},
        },
    }
    load_spec(grid)  # the pilot's size applies where pilots are enabled


def test_a_sensitivity_parameter_that_applies_nowhere_is_refused_in_one_line():
    spec = {
        "experiment": {"name": "ppp", "months": 24},
        "scenarios": [{"file": "alliance"}],
        "sensitivity": {
            "method": "sobol",
            "n": 4,
            "kpis": ["fiscal_npv_usd"],
            "parameters": {
                "world.rates.shift_bp": {"bounds": [0.0, 100.0]},
                "policy.financing.ppp.term_years": {"bounds": [10.0, 30.0]},
            },
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(spec)
    assert len(info.value.problems) == 1
    line = info.value.problems[0]
    assert line.startswith("<spec>: sensitivity.parameters.policy.financing.ppp.term_years: ")
    assert "does not apply to scenario 'alliance' (it applies when ppp is in" in line
    spec["scenarios"] = [{"file": "helsinki_maas"}]
    load_sensitivity_spec(spec)


def test_models_without_applicability_are_not_checked():
    def f(params: dict, seed: int) -> dict:
        return {"y": 1.0}

    assert inactive_parameters(f, {"x": [1, 2]}) == {}
