"""Scenario loading: inheritance, overlays, dotted overrides and one-line validation errors."""

from pathlib import Path

import pytest

from sim.config import (
    LIBRARY,
    ScenarioError,
    apply_overrides,
    library,
    load_scenario,
    parameters,
    parse_assignments,
    parse_value,
)
from sim.config.schema import Scenario


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(source, **kwargs) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(source, **kwargs)
    return info.value.problems


def test_every_library_scenario_and_overlay_is_valid():
    """Every shipped file loads, alone and under every overlay."""
    overlays = [name for name, _, _ in library(overlay=True)]
    assert {
        "rate_shock",
        "recession",
        "vendor_default",
        "underperformance",
        "regulatory_delay",
        "cost_overrun",
    } <= set(overlays)
    for _name, desc, path in library():
        assert desc, f"{path} has no description"
        scn = load_scenario(path, overlays=overlays)
        assert scn.scenario.overlays == overlays


def test_alliance_extends_traditional_world_but_not_policy():
    """The two shipped policies share one world and differ in their levers."""
    trad, alli = load_scenario("traditional"), load_scenario("alliance")
    assert trad.world == alli.world
    assert trad.policy.procurement.mode == "rfp" and alli.policy.procurement.mode == "rfi_mou"
    assert alli.policy.governance.champion and not trad.policy.governance.champion
    assert alli.scenario.extends == "traditional.toml"


def test_child_overrides_parent_and_lists_replace(tmp_path):
    """A child file replaces single values and whole lists, keeping the rest."""
    write(
        tmp_path,
        "parent.toml",
        """
[policy]
domains = ["water", "maas"]
[policy.governance]
champion = true
pmo = true
""",
    )
    child = write(
        tmp_path,
        "child.toml",
        """
[scenario]
extends = "parent.toml"
[policy]
domains = ["traffic"]
[policy.governance]
pmo = false
""",
    )
    scn = load_scenario(child)
    assert scn.policy.domains == ["traffic"]
    assert scn.policy.governance.champion is True
    assert scn.policy.governance.pmo is False


def test_overlays_compose_in_order(tmp_path):
    """Overlays apply in order; a later one wins on the same key."""
    write(tmp_path, "a.toml", "[overlay]\nname='a'\n[world.stress]\nrate_shock_bp = 100.0\n")
    write(tmp_path, "b.toml", "[overlay]\nname='b'\n[world.stress]\nrate_shock_bp = 300.0\n")
    scn = load_scenario(
        "alliance", overlays=["recession", str(tmp_path / "a.toml"), str(tmp_path / "b.toml")]
    )
    assert scn.world.stress.rate_shock_bp == 300.0
    assert scn.world.stress.recession_property_drop == pytest.approx(0.15)
    assert scn.scenario.overlays == ["recession", "a", "b"]


def test_overrides_by_dotted_path_and_wildcard():
    """--set reaches any leaf, including keys of free tables and every city at once."""
    scn = load_scenario(
        "alliance",
        overrides={
            "world.rates.shift_bp": 150,
            "policy.procurement.mode": "framework",
            "world.cities.*.rating": "Baa",
            "world.technology.maas.bass_q_annual": 0.5,
            "policy.financing.by_domain.traffic": ["go_bond", "ppp"],
        },
    )
    assert scn.world.rates.shift_bp == 150.0
    assert scn.policy.procurement.mode == "framework"
    assert {c.rating for c in scn.world.cities.values()} == {"Baa"}
    assert scn.world.technology["maas"].bass_q_annual == 0.5
    assert scn.policy.financing.by_domain["traffic"] == ["go_bond", "ppp"]


def test_unknown_override_path_is_an_error_with_a_suggestion():
    """A misspelt path never passes silently."""
    (line,) = problems("alliance", overrides={"world.rates.shiftbp": 1})
    assert "unknown parameter path" in line and "world.rates.shift_bp" in line
    (line,) = problems("alliance", overrides={"world.technology.hyperloop.capex_per_unit_usd": 1})
    assert "hyperloop" in line and "streetlights" in line


def test_override_type_and_range_errors_name_the_path_and_the_limits():
    """A bad --set value names the source, the path, the value and the allowed range."""
    (line,) = problems("alliance", overrides={"world.rates.shift_bp": "high"})
    assert line.startswith("--set: world.rates.shift_bp:") and "'high'" in line
    assert "-300 .. 1000" in line
    (line,) = problems("alliance", overrides={"policy.pilot.share_of_units": 0.9})
    assert "policy.pilot.share_of_units" in line and "0.001 .. 0.5" in line


def test_malformed_toml_is_one_line(tmp_path):
    """A syntax error is reported with its file and position."""
    path = write(tmp_path, "broken.toml", "[world\nx = 1\n")
    (line,) = problems(path)
    assert str(path) in line and "malformed TOML" in line and "line 1" in line


def test_schema_errors_one_line_each_with_file_path_value_and_allowed(tmp_path):
    """Unknown keys, wrong types and out-of-range values each get their own line."""
    path = write(
        tmp_path,
        "bad.toml",
        """
[scenario]
extends = "alliance"
[world.rates]
shift_bpp = 10
[world.cities.central]
population = "lots"
rating = "AAA+"
property_tax_rate = 0.5
""",
    )
    lines = problems(path)
    assert len(lines) == 4
    assert all(line.startswith(f"{path}: ") for line in lines)
    text = "\n".join(lines)
    assert "world.rates.shift_bpp: unknown key; did you mean 'shift_bp'?" in text
    assert "world.cities.central.population: 'lots'" in text and "integer" in text
    assert "world.cities.central.rating: 'AAA+'" in text and "'Baa'" in text
    assert "property_tax_rate: 0.5 is out of range; allowed 0 .. 0.1" in text


def test_error_is_attributed_to_the_overlay_that_caused_it(tmp_path):
    """A bad value set by an overlay names the overlay file, not the scenario."""
    overlay = write(tmp_path, "o.toml", "[overlay]\n[world.stress]\nperformance_factor = -1.0\n")
    (line,) = problems("alliance", overlays=[str(overlay)])
    assert line.startswith(str(overlay)) and "performance_factor" in line


def test_inconsistent_combinations_are_rejected(tmp_path):
    """Valid values that contradict each other are errors."""
    path = write(
        tmp_path,
        "incons.toml",
        """
[scenario]
extends = "alliance"
[policy]
domains = ["water", "teleport"]
[policy.financing.mini_bonds]
maturity_value_usd = 400.0
[policy.financing.by_domain]
traffic = ["revenue_bond"]
[policy.pilot]
stop_probability = 0.5
scale_probability = 0.5
""",
    )
    text = "\n".join(problems(path))
    assert "mini_bonds.maturity_value_usd: 400 is not above price_usd 500" in text
    assert "by_domain.traffic: revenue_bond needs a revenue stream" in text
    assert "policy.domains.1: 'teleport' is not in world.technology" in text
    assert "policy.pilot.stop_probability" in text


def test_more_inconsistencies():
    """Empty revolving fund, TIF beyond the districts, framework without consortium."""
    text = "\n".join(
        problems(
            "traditional",
            overrides={
                "policy.financing.preference": ["revolving_fund", "tif"],
                "policy.financing.tif.districts": 50,
                "policy.procurement.mode": "framework",
                "world.cities.central.consortium_member": False,
                "world.residents.simulated_agents": 800_000,
            },
        )
    )
    assert "revolving_fund.initial_usd" in text
    assert "tif.districts: 50 exceeds" in text
    assert "framework call-off needs a consortium" in text
    assert "simulated_agents: 800000 exceeds the population" in text


def test_circular_extends_is_an_error(tmp_path):
    """Files that extend each other are reported, not followed forever."""
    write(tmp_path, "a.toml", "[scenario]\nextends = 'b.toml'\n")
    b = write(tmp_path, "b.toml", "[scenario]\nextends = 'a.toml'\n")
    (line,) = problems(b)
    assert "circular inheritance" in line


def test_unknown_library_name_suggests_the_closest():
    """A misspelt library name is suggested."""
    (line,) = problems("aliance")
    assert "did you mean 'alliance'" in line


def test_parse_value_types():
    """Command-line values are read as TOML values, else as bare strings."""
    assert parse_value("0.05") == 0.05
    assert parse_value("12") == 12
    assert parse_value("true") is True
    assert parse_value('["go_bond", "ppp"]') == ["go_bond", "ppp"]
    assert parse_value("framework") == "framework"
    assert parse_assignments(["a.b=1", "c = x"]) == {"a.b": 1, "c": "x"}
    with pytest.raises(ScenarioError, match="PATH=VALUE"):
        parse_assignments(["novalue"])


def test_apply_overrides_converts_numpy_scalars():
    """Values from samplers (numpy scalars) become plain Python values."""
    np = pytest.importorskip("numpy")
    data = Scenario().model_dump()
    assert apply_overrides(data, {"world.region.districts_per_city": np.int64(7)}) == []
    assert type(data["world"]["region"]["districts_per_city"]) is int
    scn = Scenario.model_validate(data)
    assert scn.world.region.districts_per_city == 7


def test_parameters_lists_every_leaf_with_units_and_ranges():
    """The parameter listing covers nested tables and reports units and ranges."""
    params = {p.path: p for p in parameters(load_scenario("alliance"))}
    assert params["world.rates.shift_bp"].unit == "bp"
    assert params["world.rates.shift_bp"].allowed == "-300 .. 1000"
    assert params["world.technology.maas.bass_q_annual"].value == pytest.approx(0.38)
    assert params["world.cities.central.rating"].value == "AA"
    assert "policy.financing.by_domain" in params


def test_library_points_at_the_repository_scenarios():
    """The library folder is the shipped scenarios/ folder."""
    assert (LIBRARY / "alliance.toml").is_file()
