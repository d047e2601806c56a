"""Sensitivity analysis: known answers (Ishigami), noise share, convergence, spec errors."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
from experiments.cli.main import main
from experiments.engine.analytic import ishigami_indices
from experiments.engine.spec import load_spec
from experiments.sensitivity.analysis import analyse
from experiments.sensitivity.indices import noise_stats
from experiments.sensitivity.plan import build_plan
from experiments.sensitivity.spec import kpi_check_note, load_sensitivity_spec
from experiments.sensitivity.study import run_sensitivity
from sim.config import ScenarioError, read_toml

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "experiments" / "specs"
PI = math.pi


def noisy_model(params: dict, seed: int) -> dict:
    """x1 plus noise that differs between points (not cancelled by common random numbers)."""
    x1 = float(params["x1"])
    key = int(abs(x1) * 1e9) % (2**31)
    noise = np.random.default_rng([seed, key]).standard_normal()
    return {"y": x1 + float(params.get("noise_sd", 0.0)) * noise}


def ishigami_spec(method: str, n: int, replications: int = 1, **extra) -> dict:
    sens = {
        "method": method,
        "n": n,
        "kpis": ["y"],
        "bootstrap": 50,
        "parameters": {f"x{i}": {"bounds": [-PI, PI]} for i in range(1, 5)},
        **extra,
    }
    return {
        "experiment": {
            "name": f"ishigami_{method}",
            "model": "experiments.engine.analytic:ishigami",
            "seed": 7,
            "replications": replications,
        },
        "sensitivity": sens,
    }


@pytest.fixture(scope="module")
def ishigami_run(tmp_path_factory):
    """The shipped Ishigami spec via the CLI entry point: spec -> engine -> store -> analysis."""
    out = tmp_path_factory.mktemp("ishigami")
    code = main(
        ["sensitivity", str(SPECS / "ishigami_sobol.toml"), "--engine", "serial", "--out", str(out)]
    )
    assert code == 0
    return out


# --------------------------------------------------------------------------- known answers


def test_ishigami_reproduces_the_analytical_indices(ishigami_run, capsys):
    """S1 and ST land within their CI (+0.02, documented) of the closed form; x4 gets 0."""
    table = pd.read_csv(ishigami_run / "indices.csv")
    truth = ishigami_indices()
    for kind in ("S1", "ST"):
        for name, expected in truth[kind].items():
            row = table[(table["index"] == kind) & (table["parameter"] == name)].iloc[0]
            assert abs(row["value"] - expected) <= row["ci"] + 0.02, (kind, name, row.to_dict())
    x4 = table[(table["parameter"] == "x4") & table["index"].isin(["S1", "ST"])]
    assert (x4["value"].abs() < 0.01).all()
    s2 = table[
        (table["index"] == "S2") & (table["parameter"] == "x1") & (table["parameter2"] == "x3")
    ]["value"].iloc[0]
    assert s2 == pytest.approx(truth["ST"]["x3"], abs=0.08)  # all of x3's effect is with x1
    assert set(table.columns) >= {
        "method",
        "kpi",
        "parameter",
        "parameter2",
        "index",
        "value",
        "ci",
        "n",
    }
    assert pd.read_parquet(ishigami_run / "indices.parquet").shape == table.shape


def test_outputs_charts_and_convergence_table(ishigami_run):
    """The folder holds the tables, the charts and a convergence table with N/2 and N."""
    for name in (
        "indices.csv",
        "convergence.csv",
        "noise.csv",
        "analysis.json",
        "design.parquet",
        "sensitivity.json",
        "sobol_y.png",
        "s2_y.png",
        "convergence_y.png",
    ):
        assert (ishigami_run / name).is_file(), name
    conv = pd.read_csv(ishigami_run / "convergence.csv")
    assert set(conv["n_half"]) == {512} and set(conv["n"]) == {1024}
    assert set(conv["index"]) == {"S1", "ST"}
    assert conv["settled"].all()
    runs = experiments.load(ishigami_run)
    assert len(runs) == 1024 * 10 and (runs["status"] == "ok").all()


def test_rerun_resumes_and_reanalyses(ishigami_run):
    """Running the same spec into the same folder runs nothing again."""
    spec = load_sensitivity_spec(SPECS / "ishigami_sobol.toml")
    result = run_sensitivity(spec, ishigami_run, engine="serial", charts=False)
    assert result.ran == 0 and result.planned == 10240
    assert result.analysis.top("y", 1)["parameter"].iloc[0] == "x1"


def test_parameter_order_survives_the_stored_spec(tmp_path):
    """Indices stay attached to the right parameter whatever the order in the spec."""
    d = ishigami_spec("sobol", 512)
    d["sensitivity"]["parameters"] = {k: {"bounds": [-PI, PI]} for k in ("x3", "x4", "x2", "x1")}
    result = run_sensitivity(load_sensitivity_spec(d), tmp_path, engine="serial", charts=False)
    st = result.analysis.indices
    st = st[st["index"] == "ST"].set_index("parameter")
    truth = ishigami_indices()["ST"]
    for name in ("x1", "x2", "x3"):
        assert abs(st.loc[name, "value"] - truth[name]) <= st.loc[name, "ci"] + 0.02
    assert st.loc["x4", "value"] == 0.0


def test_morris_ranks_the_ignored_parameter_last(tmp_path):
    spec = load_sensitivity_spec(ishigami_spec("morris", 20))
    result = run_sensitivity(spec, tmp_path, engine="serial")
    mu = result.analysis.indices
    mu = mu[mu["index"] == "mu_star"].sort_values("value")
    assert mu["parameter"].iloc[0] == "x4" and mu["value"].iloc[0] == 0.0
    assert (tmp_path / "morris_y.png").is_file()


@pytest.mark.parametrize(
    "method,n", [("rbd_fast", 256), ("delta", 128), ("pawn", 128), ("fast", 258)]
)
def test_other_methods_run_and_find_x4_least_influential(tmp_path, method, n):
    spec = load_sensitivity_spec(ishigami_spec(method, n))
    result = run_sensitivity(spec, tmp_path, engine="serial", charts=False)
    main_index = {"rbd_fast": "S1", "delta": "delta", "pawn": "PAWN_median", "fast": "ST"}[method]
    t = result.analysis.indices
    t = t[t["index"] == main_index].set_index("parameter")["value"]
    assert t.idxmax() in ("x1", "x2")
    assert t["x4"] < t["x1"] and t["x4"] < t["x2"]


# --------------------------------------------------------------------------- replications and noise


def test_noise_stats_separates_common_and_point_noise():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=(200, 1)) * np.ones((1, 4))
    assert noise_stats(signal)["noise_share"] == 0.0
    common = signal + rng.normal(size=(1, 4)) * 5  # the same world shift at every point
    st = noise_stats(common)
    assert st["noise_share"] < 1e-12 and st["noise_share_independent"] > 0.5
    mixed = signal + rng.normal(size=(200, 4)) * 3  # noise that differs between points
    st = noise_stats(mixed)
    assert st["noise_share"] == pytest.approx((9 / 4) / (1 + 9 / 4), abs=0.1)
    assert math.isnan(noise_stats(signal[:, :1])["noise_share"])


def test_noise_share_end_to_end(tmp_path):
    """Zero for a deterministic model, large for a noise-dominated one."""
    spec = load_sensitivity_spec(ishigami_spec("sobol", 16, replications=2))
    quiet = run_sensitivity(spec, tmp_path / "quiet", engine="serial", charts=False)
    assert quiet.analysis.noise["noise_share"].iloc[0] < 1e-12
    loud = ishigami_spec("sobol", 16, replications=3)
    loud["experiment"]["model"] = "test_sensitivity:noisy_model"
    loud["sensitivity"]["parameters"] = {"x1": {"bounds": [0.0, 1.0]}, "x2": {"bounds": [0.0, 1.0]}}
    loud["sensitivity"]["fixed"] = {"noise_sd": 3.0}
    result = run_sensitivity(
        load_sensitivity_spec(loud), tmp_path / "loud", engine="serial", charts=False
    )
    assert result.analysis.noise["noise_share"].iloc[0] > 0.5
    assert any("replication noise" in w for w in result.analysis.warnings)


def test_failed_runs_drop_their_saltelli_blocks(tmp_path):
    """experiments.engine.analytic:flaky raises for x < 0: those blocks go, the analysis goes on."""
    d = {
        "experiment": {"name": "flaky", "model": "experiments.engine.analytic:flaky", "seed": 3},
        "sensitivity": {
            "method": "sobol",
            "n": 32,
            "second_order": False,
            "kpis": ["y"],
            "parameters": {"x": {"bounds": [-0.1, 1.0]}, "z": {"bounds": [0.0, 1.0]}},
        },
    }
    result = run_sensitivity(load_sensitivity_spec(d), tmp_path, engine="serial", charts=False)
    assert result.failed > 0
    n = result.analysis.indices["n"].iloc[0]
    assert 0 < n < 32
    assert any("failed" in w for w in result.analysis.warnings)


def test_twin_points_fill_each_other(tmp_path):
    """Rounding makes some Saltelli rows identical: each runs once, its twins are copies.

    Every plan entry has its own run id (issue 12: shared ids left a study "1
    pending" for ever), and the analysis also copes with twins not stored.
    """
    d = ishigami_spec("sobol", 16)
    d["sensitivity"]["parameters"]["x4"] = {"bounds": [0.0, 1.0], "integer": True}
    result = run_sensitivity(load_sensitivity_spec(d), tmp_path, engine="serial", charts=False)
    runs = experiments.load(tmp_path)
    assert runs.run_id.is_unique and len(runs) == result.planned
    twins = runs[runs.worker.str.startswith("same as ")]
    assert len(twins)  # identical points ran once
    by_id = runs.set_index("run_id")
    for _, twin in twins.iterrows():
        source = by_id.loc[twin.worker.removeprefix("same as ")]
        assert twin.y == source.y and twin.duration_s == 0.0
    parts = sorted((tmp_path / "runs").glob("part-*.parquet"))
    kept = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    kept = kept[~kept["index"].isin(twins["index"])]  # as a resumed study would store them
    for part in parts:
        part.unlink()
    kept.to_parquet(tmp_path / "runs" / "part-00001.parquet", index=False)
    again = analyse(tmp_path, charts=False)
    pd.testing.assert_frame_equal(again.indices, result.analysis.indices)
    assert not any("no runs yet" in w for w in again.warnings)


# --------------------------------------------------------------------------- specs


def test_example_specs_validate():
    for name in ("ishigami_sobol", "sobol_alliance", "morris_alliance"):
        spec = load_sensitivity_spec(SPECS / f"{name}.toml")
        assert spec.sensitivity.parameters
    alliance = load_sensitivity_spec("sobol_alliance")
    assert 10 <= len(alliance.sensitivity.parameters) <= 20
    assert alliance.sensitivity.n & (alliance.sensitivity.n - 1) == 0


def test_spec_errors_are_one_line_each(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("""
[experiment]
name = "bad"
[[scenarios]]
file = "alliance"
[sensitivity]
method = "sobol"
n = 30
kpis = ["fiscal_npv_usd"]
[sensitivity.parameters."world.rates.shift_bpp"]
bounds = [0.0, 100.0]
[sensitivity.parameters."world.rates.shift_bp"]
bounds = [0.0, 2000.0]
[sensitivity.parameters."policy.pilot.scale_probability"]
bounds = [0.3, 0.9]
""")
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(bad)
    lines = info.value.problems
    assert all("\n" not in line for line in lines)
    text = "\n".join(lines)
    assert "sensitivity.n: 30 is not a power of two" in text and "(e.g. 16 or 32)" in text
    assert (
        "world.rates.shift_bpp: unknown parameter path; did you mean 'world.rates.shift_bp'" in text
    )
    assert (
        "world.rates.shift_bp: the range 0 .. 2000 reaches outside the allowed range "
        "-300 .. 1000 bp" in text
    )
    assert "policy.pilot.scale_probability: the range 0.3 .. 0.9 reaches outside" in text
    assert main(["sensitivity", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == lines


def test_spec_errors_kpis_methods_and_scenarios(tmp_path):
    d = ishigami_spec("fast", 100)
    d["sensitivity"]["kpis"] = ["yy"]
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert "too small for eFAST" in str(info.value)
    d = ishigami_spec("sobol", 16)
    d["sensitivity"]["kpis"] = ["yy"]
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert "'yy' is not a KPI of the model; did you mean 'y'?" in str(info.value)
    d = {
        "experiment": {"name": "two"},
        "scenarios": [{"file": "alliance"}, {"file": "traditional"}],
        "sensitivity": {
            "n": 4,
            "kpis": ["fiscal_npv_usd"],
            "parameters": {
                "world.rates.shift_bp": {"bounds": [0.0, 1.0]},
                "policy.governance.champion": {"bounds": [0.0, 1.0]},
            },
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert "exactly one [[scenarios]]" in str(info.value)
    d["scenarios"] = d["scenarios"][:1]
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert "policy.governance.champion: a bool parameter needs values = [false, true]" in str(
        info.value
    )
    d["sensitivity"]["parameters"]["policy.governance.champion"] = {"dist": "norm", "mean": 1.0}
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert "dist = 'norm' needs mean and sd" in str(info.value)


def test_plan_maps_distributions_integers_and_levels():
    d = {
        "experiment": {"name": "types", "seed": 1, "months": 12},
        "scenarios": [{"file": "alliance"}],
        "sensitivity": {
            "method": "sobol",
            "n": 8,
            "kpis": ["fiscal_npv_usd"],
            "fixed": {"world.residents.simulated_agents": 200},
            "parameters": {
                "policy.pilot.months": {"bounds": [6.0, 24.0]},
                "policy.procurement.mode": {"values": ["rfp", "rfi_mou"]},
                "policy.governance.pmo": {"values": [False, True]},
                "world.stress.performance_factor": {
                    "dist": "truncnorm",
                    "bounds": [0.3, 1.3],
                    "mean": 0.8,
                    "sd": 0.2,
                },
                "world.rates.shift_bp": {"dist": "norm", "mean": 100.0, "sd": 50.0},
            },
        },
    }
    spec = load_sensitivity_spec(d)
    plan = build_plan(spec)
    assert len(plan.points) == 8 * (2 * 5 + 2)
    months = {p["policy.pilot.months"] for p in plan.points}
    assert all(isinstance(m, int) and 6 <= m <= 24 for m in months)  # an int field: rounded
    assert {p["policy.procurement.mode"] for p in plan.points} == {"rfp", "rfi_mou"}
    assert {p["policy.governance.pmo"] for p in plan.points} == {False, True}
    perf = [p["world.stress.performance_factor"] for p in plan.points]
    assert 0.3 <= min(perf) and max(perf) <= 1.3
    shift = np.array([p["world.rates.shift_bp"] for p in plan.points])
    assert np.isfinite(shift).all() and 100 - 3.2 * 50 < shift.min() < shift.max() < 100 + 3.2 * 50
    assert all(p["world.residents.simulated_agents"] == 200 for p in plan.points)
    assert build_plan(spec).points == plan.points  # the seed reproduces the design


# --------------------------------------------------------------------------- the alliance model


def test_tiny_alliance_sobol_writes_table_and_charts(tmp_path):
    d = {
        "experiment": {"name": "tiny", "seed": 5, "replications": 2, "months": 12},
        "scenarios": [{"file": "alliance"}],
        "sensitivity": {
            "method": "sobol",
            "n": 4,
            "bootstrap": 20,
            "kpis": ["fiscal_npv_usd", "min_budget_balance_usd"],
            "fixed": {"world.residents.simulated_agents": 200},
            "parameters": {
                "world.rates.shift_bp": {"bounds": [0.0, 300.0]},
                "world.stress.performance_factor": {"bounds": [0.4, 1.2]},
                "policy.pilot.share_of_units": {"bounds": [0.01, 0.2]},
            },
        },
    }
    spec = load_sensitivity_spec(d)
    result = run_sensitivity(spec, tmp_path, engine="serial")
    assert result.planned == 4 * 8 * 2 and result.failed == 0
    t = pd.read_csv(tmp_path / "indices.csv")
    assert set(t["kpi"]) == {"fiscal_npv_usd", "min_budget_balance_usd"}
    assert set(t["index"]) == {"S1", "ST", "S2"}
    for name in (
        "sobol_fiscal_npv_usd.png",
        "s2_fiscal_npv_usd.png",
        "convergence_fiscal_npv_usd.png",
        "noise.csv",
        "convergence.csv",
    ):
        assert (tmp_path / name).is_file(), name
    again = analyse(tmp_path, charts=False)
    pd.testing.assert_frame_equal(again.indices, result.analysis.indices)
    runs = experiments.load(tmp_path)
    assert (runs.groupby("point")["seed"].apply(lambda s: sorted(s)).map(tuple).nunique()) == 1


def test_shipped_sensitivity_specs_are_not_plain_experiment_specs():
    """The [sensitivity] table marks the specs `alliance sensitivity` reads."""
    for path in sorted(SPECS.glob("*.toml")):
        data = read_toml(path)
        if path.stem in ("sobol_alliance", "morris_alliance", "ishigami_sobol"):
            assert "sensitivity" in data


# ------------------------------------------------------------------ KPIs from declared outputs


def test_validation_never_runs_the_built_in_model(monkeypatch):
    """KPI names come from the model's declared outputs, not from a probe run."""
    import sim.model.api

    def refuse(*args, **kwargs):
        raise AssertionError("spec validation ran the model")

    monkeypatch.setattr(sim.model.api, "run", refuse)
    monkeypatch.setattr(sim.model.api, "evaluate", refuse)
    for name in ("sobol_alliance", "morris_alliance"):
        spec = load_sensitivity_spec(name)
        assert kpi_check_note(spec) is None  # the built-in declares its outputs
    load_spec("rates_and_pilots")
    d = {
        "experiment": {"name": "bad_kpi"},
        "scenarios": [{"file": "alliance"}],
        "sensitivity": {
            "n": 4,
            "kpis": ["fiscal_npv_usd", "fiscal_npv"],
            "parameters": {
                "world.rates.shift_bp": {"bounds": [0.0, 100.0]},
                "world.stress.performance_factor": {"bounds": [0.5, 1.0]},
            },
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert len(info.value.problems) == 1


def test_requested_but_undeclared_kpis_are_refused_in_one_line():
    """A KPI the model does not declare: one line naming it, before anything runs."""
    d = {
        "experiment": {"name": "bad_kpi"},
        "scenarios": [{"file": "alliance"}],
        "sensitivity": {
            "n": 4,
            "kpis": ["fiscal_npv_usd", "fiscal_npv"],
            "parameters": {
                "world.rates.shift_bp": {"bounds": [0.0, 100.0]},
                "world.stress.performance_factor": {"bounds": [0.5, 1.0]},
            },
        },
    }
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    (line,) = info.value.problems
    assert line.startswith(
        "<spec>: sensitivity.kpis: 'fiscal_npv' is not a KPI of the model; "
        "did you mean 'fiscal_npv_usd'?"
    )
    d = ishigami_spec("sobol", 16)
    d["sensitivity"]["kpis"] = ["y", "z"]
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    assert info.value.problems == [
        "<spec>: sensitivity.kpis: 'z' is not a KPI of the model; known: y"
    ]
    with pytest.raises(ScenarioError) as info:
        load_spec(
            {
                "experiment": {
                    "model": "experiments.engine.analytic:linear",
                    "kpis": ["y", "nosie"],
                },
                "design": {"kind": "list", "points": [{"x": 1}]},
            }
        )
    assert info.value.problems == [
        "<spec>: experiment.kpis: 'nosie' is not a KPI of the model; "
        "did you mean 'noise'? known: noise, y"
    ]


def test_undeclared_outputs_are_checked_after_the_runs(tmp_path, capsys):
    """A function without ``outputs``: the spec says so, the analysis names the unknown KPI."""
    spec_file = tmp_path / "noisy.toml"
    spec_file.write_text("""
[experiment]
name = "noisy"
model = "test_sensitivity:noisy_model"
seed = 3
[sensitivity]
method = "sobol"
n = 8
kpis = ["y", "yy"]
[sensitivity.parameters.x1]
bounds = [0.0, 1.0]
[sensitivity.parameters.x2]
bounds = [0.0, 1.0]
""")
    spec = load_sensitivity_spec(spec_file)
    note = kpi_check_note(spec)
    assert "test_sensitivity:noisy_model declares no outputs" in note and "y, yy" in note
    assert (
        main(
            [
                "sensitivity",
                str(spec_file),
                "--engine",
                "serial",
                "--no-chart",
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert note in captured.err
    assert (
        "warning: sensitivity.kpis: 'yy' is not a KPI of the model; did you mean 'y'? "
        "known: y; skipped" in captured.out
    )
    indices = pd.read_csv(tmp_path / "out" / "indices.csv")
    assert set(indices["kpi"]) == {"y"}
