"""The model's declared outputs (``sim.model.outputs``): names, descriptions and formatting.

``kpi_names(scenario)`` lists exactly the KPIs a run returns, in order, for
shipped scenarios with one city or twelve, with and without user-facing
services; every fixed KPI is described in ``KPI_INFO``; stakeholder tables name
only described KPIs; ``format_value`` gives the documented strings.
"""

from __future__ import annotations

import pytest

import sim
from sim.config.schema import Scenario, Technology, World
from sim.model.api import resolve
from sim.model.outputs import FIXED_KPIS, KPI_INFO, STAKEHOLDERS, format_value, kpi_names

SMALL = {"world.residents.simulated_agents": 2000}


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name", ["alliance", "traditional", "helsinki_maas", "phoenix_consortium", "denver_minibonds"]
)
def test_kpi_names_are_the_keys_a_run_returns(name):
    scn = resolve(name, SMALL)
    result = sim.run(scn, months=12)
    assert list(result.kpis) == kpi_names(scn)


def test_kpi_names_for_user_facing_services():
    scn = resolve("helsinki_maas")
    names = kpi_names(scn)
    services = [d for d, t in scn.world.technology.items() if t.user_facing]
    assert "maas" in services
    for d in services:
        i = names.index(f"adoption.{d}")
        assert names[i + 1 : i + 6] == [f"adoption.{d}.q{q}" for q in range(1, 6)]
    assert names[: len(FIXED_KPIS)] == list(FIXED_KPIS)
    assert names[-6:] == ["adoption_gap_top_bottom"] + [f"adoption_q{q}" for q in range(1, 6)]


def test_kpi_names_without_user_facing_services():
    scn = Scenario(world=World(technology={"lights": Technology(), "water": Technology()}))
    assert kpi_names(scn) == [
        *FIXED_KPIS,
        "coverage.lights",
        "coverage.water",
        "adoption_gap_top_bottom",
        *(f"adoption_q{q}" for q in range(1, 6)),
    ]


def test_kpi_names_follow_the_catalogue_order():
    techs = {
        "b": Technology(user_facing=True),
        "a": Technology(),
        "c": Technology(user_facing=True),
    }
    names = kpi_names(Scenario(world=World(technology=techs)))
    coverage = [n for n in names if n.startswith("coverage.")]
    adoption = [n for n in names if n.startswith("adoption.") and n.count(".") == 1]
    assert coverage == ["coverage.b", "coverage.a", "coverage.c"]
    assert adoption == ["adoption.b", "adoption.c"]
    assert len(names) == len(set(names))


def test_kpi_names_do_not_depend_on_the_policy_or_the_cities():
    """The catalogue names the KPIs: a policy pursuing fewer domains reports them all."""
    few = resolve("alliance", {"policy.domains": ["water"]})
    assert kpi_names(few) == kpi_names(resolve("alliance"))
    phoenix = resolve("phoenix_consortium")
    assert len(phoenix.world.cities) > 1
    assert kpi_names(phoenix)[: len(FIXED_KPIS)] == list(FIXED_KPIS)


# --------------------------------------------------------------------------- descriptions


def test_every_fixed_kpi_has_a_description():
    assert [k for k in FIXED_KPIS if k not in KPI_INFO] == []
    assert len(FIXED_KPIS) == len(set(FIXED_KPIS))


def test_kpi_info_entries_are_well_formed():
    units = {"USD", "fraction", "notch", "count", "months", "t", "x", "hours"}
    for name, (label, unit, direction) in KPI_INFO.items():
        assert label, name
        assert unit in units, (name, unit)
        assert direction in (-1, 0, 1), name
    assert KPI_INFO["fiscal_npv_usd"][2] == 1
    assert KPI_INFO["stranded_debt_usd"][2] == -1
    assert KPI_INFO["projects_started"][2] == 0


def test_described_kpis_are_kpis_a_run_returns():
    names = set(kpi_names(resolve("alliance")))
    assert set(KPI_INFO) <= names


def test_stakeholder_tables_name_described_kpis_once():
    for who, keys in STAKEHOLDERS.items():
        assert len(keys) == len(set(keys)), who
        assert set(keys) <= set(KPI_INFO), who
    assert "fiscal_npv_usd" in STAKEHOLDERS["city"]


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (12.3e6, "USD", "$12.3M"),
        (1_234.56e6, "USD", "$1,234.6M"),
        (-4.2e6, "USD", "-$4.2M"),
        (0.0, "USD", "$0.0M"),
        (0.081, "fraction", "8.1 %"),
        (1.0, "fraction", "100.0 %"),
        (-0.0125, "fraction", "-1.2 %"),
        (14.0, "count", "14"),
        (1234.4, "count", "1,234"),
        (2.0, "notch", "2"),
        (12_345.6, "t", "12,346 t"),
        (1.2345, "x", "1.23x"),
        (19.0, "months", "19.0 months"),
        (2_500.0, "hours", "2,500.0 hours"),
        (0.4, "count", "0.4"),
        (-0.001, "count", "0.0"),
    ],
)
def test_format_value_known_strings(value, unit, expected):
    assert format_value(value, unit) == expected
