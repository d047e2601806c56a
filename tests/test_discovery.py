"""Scenario discovery: PRIM on known boxes, rules in plain language, pairing with --compare-to."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

import experiments
from experiments.cli.main import main
from experiments.discovery.failures import failure_data
from experiments.discovery.prim import Box, DiscoveryError, prim
from experiments.discovery.rules import format_value, rule_lines, schema_info
from experiments.discovery.study import discover
from experiments.engine.batch import run_experiment
from experiments.engine.spec import load_spec
from experiments.engine.store import RunStore


def uniform(n: int = 2000, d: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(size=(n, d)), columns=[f"x{i + 1}" for i in range(d)])


def test_prim_finds_a_known_box():
    """Failure iff x1 > 0.7 and x2 < 0.3: high coverage and density, both limits, x3 free."""
    x = uniform()
    y = (x["x1"] > 0.7) & (x["x2"] < 0.3)
    res = prim(x, y)
    assert res.stats["coverage"] > 0.9 and res.stats["density"] > 0.9
    lim = res.limits.set_index("parameter")
    assert set(lim.index) == {"x1", "x2"}
    assert lim.loc["x1", "lower"] == pytest.approx(0.7, abs=0.03)
    assert lim.loc["x1", "upper"] == math.inf
    assert lim.loc["x2", "upper"] == pytest.approx(0.3, abs=0.03)
    assert (lim["qp"] < 1e-10).all()
    rules = " and ".join(rule_lines(res.limits))
    m1 = re.search(r"x1 > (0\.\d+)", rules)
    m2 = re.search(r"x2 < (0\.\d+)", rules)
    assert m1 and float(m1.group(1)) == pytest.approx(0.7, abs=0.03)
    assert m2 and float(m2.group(1)) == pytest.approx(0.3, abs=0.03)
    t = res.trajectory
    assert t["coverage"].iloc[0] == 1.0 and t["mass"].iloc[0] == 1.0
    assert t["density"].iloc[0] == pytest.approx(y.mean())
    assert (t["mass"].diff().dropna()[t["kind"] == "peel"] <= 0).all()
    assert t["mass"][t["kind"] == "peel"].min() >= 0.05


def test_prim_selection_by_density_and_pasting():
    x = uniform(seed=1)
    rng = np.random.default_rng(2)
    y = ((x["x1"] > 0.6) & (rng.uniform(size=len(x)) < 0.8)) | (rng.uniform(size=len(x)) < 0.05)
    res = prim(x, y, min_density=0.75)
    assert res.stats["density"] >= 0.75
    lim = res.limits.set_index("parameter")
    assert lim.loc["x1", "lower"] == pytest.approx(0.6, abs=0.05)
    no_paste = prim(x, y, min_density=0.75, paste=False)
    assert no_paste.stats["coverage"] <= res.stats["coverage"] + 1e-12


def test_weak_limits_are_pruned():
    """Failures unrelated to the parameters: peeling trims by chance, pruning undoes it."""
    x = uniform(400, 4, seed=6)
    y = np.random.default_rng(7).uniform(size=len(x)) < 0.3
    kept = prim(x, y, prune=None)
    assert len(kept.limits) >= 1
    pruned = prim(x, y)
    assert pruned.limits.empty and pruned.stats["coverage"] == 1.0
    assert pruned.trajectory["kind"].iloc[-1] == "prune"
    assert rule_lines(pruned.limits) == []


def test_prim_categorical_and_boolean_parameters():
    x = uniform(1500, 1, seed=3)
    rng = np.random.default_rng(4)
    x["mode"] = rng.choice(["rfp", "rfi_mou", "framework"], size=len(x))
    x["champion"] = rng.uniform(size=len(x)) < 0.5
    y = (x["mode"] == "rfp") & (x["x1"] > 0.5) & ~x["champion"]
    res = prim(x, y, alpha=0.1)
    lim = res.limits.set_index("parameter")
    assert json.loads(lim.loc["mode", "levels"]) == ["rfp"]
    assert json.loads(lim.loc["champion", "levels"]) == [False]
    rules = rule_lines(res.limits)
    assert "mode is rfp" in rules and "champion is false" in rules
    assert res.stats["density"] > 0.9


def test_box_contains_and_without():
    x = uniform(10, 2)
    box = Box({"x1": 0.5, "x2": -math.inf}, {"x1": math.inf, "x2": 0.5})
    assert (box.contains(x) == ((x["x1"] > 0.5) & (x["x2"] < 0.5)).to_numpy()).all()
    assert (box.without("x2").contains(x) == (x["x1"] > 0.5).to_numpy()).all()


def test_nothing_to_discover_is_an_error():
    x = uniform(100)
    with pytest.raises(DiscoveryError, match="no run fails"):
        prim(x, np.zeros(100, bool))
    with pytest.raises(DiscoveryError, match="every run fails"):
        prim(x, np.ones(100, bool))


def test_values_and_rules_carry_units():
    assert format_value(0.55, "fraction") == "55 %"
    assert format_value(0.051, "fraction/yr") == "5.1 %/yr"
    assert format_value(0.62, "fraction of nominal") == "62 % of nominal"
    assert format_value(151.2, "bp") == "151 bp"
    assert format_value(2.5e7, "USD") == "$25.0M"
    assert format_value(4.25, "months") == "4.25 months"
    info = schema_info(None, ["world.rates.shift_bp", "world.stress.performance_factor"])
    assert info["world.rates.shift_bp"] == ("bp", "parallel shift of the whole curve")
    limits = pd.DataFrame(
        [
            {
                "parameter": "world.rates.shift_bp",
                "kind": "numeric",
                "lower": 151.0,
                "upper": math.inf,
                "levels": "",
                "qp": 1e-5,
            },
            {
                "parameter": "world.stress.performance_factor",
                "kind": "numeric",
                "lower": -math.inf,
                "upper": 0.55,
                "levels": "",
                "qp": 1e-3,
            },
        ]
    )
    rules = rule_lines(limits, info)
    assert rules == [
        "parallel shift of the whole curve (world.rates.shift_bp) > 151 bp",
        "realised performance multiplier (world.stress.performance_factor) < 55 %",
    ]


# --------------------------------------------------------------------------- experiment folders


def synthetic_folder(path, n_points: int = 400, reps: int = 2):
    """Two scenarios on the same worlds: 'a' is worse than 'b' iff x1 < 0.5 (with some noise)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(size=(n_points, 2))
    rows = []
    index = 0
    for r in range(reps):
        for p in range(n_points):
            for label in ("a", "b"):
                kpi = x[p, 0] + 0.01 * r if label == "a" else 0.5
                rows.append(
                    {
                        "run_id": f"{label}{p}-{r}",
                        "index": index,
                        "scenario": label,
                        "point": p,
                        "replication": r,
                        "seed": r,
                        "param.x1": x[p, 0],
                        "param.x2": x[p, 1],
                        "param.fixed": 1.0,
                        "k": kpi,
                        "status": "ok",
                        "error": "",
                        "duration_s": 0.0,
                        "worker": "",
                    }
                )
                index += 1
    with RunStore(path) as store:
        store.add(rows, [])
        store.flush()
        store.write_manifest({"name": "synthetic", "spec": {"experiment": {"model": "synthetic"}}})
    return path


def test_compare_to_pairs_runs_on_the_same_world(tmp_path):
    folder = synthetic_folder(tmp_path)
    runs = experiments.load(folder)
    data = failure_data(runs, "k", compare_to="b", scenario="a")
    assert len(data.y) == 800 and list(data.x.columns) == ["x1", "x2"]  # constant dropped
    assert (data.y == (data.value < 0)).all()
    d = discover(folder, "k", compare_to="b", scenario="a")
    lim = d.result.limits.set_index("parameter")
    assert list(lim.index) == ["x1"] and lim.loc["x1", "upper"] == pytest.approx(0.5, abs=0.02)
    assert d.result.stats["coverage"] > 0.95 and d.result.stats["density"] > 0.95
    assert d.rules and re.fullmatch(r"x1 < 0\.(49|5|50\d*)", d.rules[0])
    for name in ("discovery_k_a_vs_b.json", "discovery_k_a_vs_b.csv", "discovery_k_a_vs_b.png"):
        assert (tmp_path / name).is_file()
    payload = json.loads((tmp_path / "discovery_k_a_vs_b.json").read_text())
    assert payload["failures"] == int(data.y.sum()) and payload["rules"] == d.rules
    # the scenario is inferred when only one other is left
    assert failure_data(runs, "k", compare_to="b").description.startswith("a's k")


def test_threshold_and_direction(tmp_path):
    folder = synthetic_folder(tmp_path, n_points=200, reps=1)
    runs = experiments.load(folder)
    below = failure_data(runs, "k", 0.2, scenario="a")
    above = failure_data(runs, "k", 0.2, scenario="a", direction="above")
    assert (below.y == ~above.y).all() and below.y.mean() == pytest.approx(0.2, abs=0.08)
    with pytest.raises(DiscoveryError, match="name one with --scenario"):
        failure_data(runs, "k", 0.2)
    with pytest.raises(DiscoveryError, match="did you mean 'k'"):
        failure_data(runs, "kk", 0.2, scenario="a")
    with pytest.raises(DiscoveryError, match="--compare-to c: no such scenario"):
        failure_data(runs, "k", scenario="a", compare_to="c")


def test_discover_command_line(tmp_path, capsys):
    folder = synthetic_folder(tmp_path, n_points=300, reps=1)
    code = main(
        [
            "discover",
            str(folder),
            "--kpi",
            "k",
            "--scenario",
            "a",
            "--compare-to",
            "b",
            "--no-chart",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"fails when x1 < 0\.(49|5)", out), out
    assert "coverage" in out and "<- chosen" in out
    assert (
        main(["discover", str(folder), "--kpi", "nope", "--scenario", "a", "--threshold", "0"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--kpi nope: not in the runs table" in err[0]
    assert (
        main(["discover", str(folder), "--kpi", "k", "--scenario", "a", "--threshold", "-5"]) == 2
    )
    assert "nothing to discover" in capsys.readouterr().err
    assert main(["discover", str(tmp_path / "missing"), "--kpi", "k", "--threshold", "0"]) == 2


def test_discover_on_a_tiny_alliance_experiment(tmp_path):
    """Traditional vs alliance on the same small worlds, paired by point and replication."""
    spec = load_spec(
        {
            "experiment": {
                "name": "tiny_discovery",
                "seed": 2,
                "months": 36,
                "kpis": ["fiscal_npv_usd"],
            },
            "scenarios": [{"file": "traditional"}, {"file": "alliance"}],
            "design": {
                "kind": "lhs",
                "samples": 24,
                "parameters": {
                    "world.residents.simulated_agents": {"range": [200, 201], "integer": True},
                    "world.rates.shift_bp": {"range": [-100.0, 300.0]},
                    "world.stress.performance_factor": {"range": [0.4, 1.2]},
                },
            },
        }
    )
    run_experiment(spec, tmp_path, engine="serial")
    runs = experiments.load(tmp_path)
    data = failure_data(runs, "fiscal_npv_usd", compare_to="traditional", scenario="alliance")
    assert len(data.y) == 24
    paired = runs.pivot(index="point", columns="scenario", values="fiscal_npv_usd")
    np.testing.assert_allclose(data.value, (paired["alliance"] - paired["traditional"]).to_numpy())
    median = float(np.median(data.value))
    d = discover(
        tmp_path,
        "fiscal_npv_usd",
        median,
        scenario="alliance",
        compare_to="traditional",
        alpha=0.1,
        min_mass=0.1,
        chart=False,
    )
    assert 0 < d.result.stats["coverage"] <= 1
    assert "world.rates.shift_bp" in d.info  # units come from the experiment's scenario
