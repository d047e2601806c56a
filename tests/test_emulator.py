"""The emulator method through the pipeline: known answer, Q2 refusal, spec errors."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.cli.main import main
from experiments.engine.analytic import ishigami_indices
from experiments.sensitivity.analysis import analyse
from experiments.sensitivity.spec import load_sensitivity_spec
from experiments.sensitivity.study import report_lines, run_sensitivity
from sim.config import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "experiments" / "specs"
PI = math.pi


def rough_model(params: dict, seed: int) -> dict:
    """x1 plus noise that differs between points: no smooth emulator fits it."""
    x1, x2 = float(params["x1"]), float(params["x2"])
    key = int(abs(x1 * 7919 + x2) * 1e9) % (2**31)
    return {"y": x1 + 2.0 * np.random.default_rng([seed, key]).standard_normal(), "z": x1 + x2}


rough_model.outputs = ("y", "z")


def emulator_spec(n: int = 64, **extra) -> dict:
    return {
        "experiment": {
            "name": "rough",
            "model": "test_emulator:rough_model",
            "seed": 11,
        },
        "sensitivity": {
            "method": "emulator",
            "n": n,
            "kpis": ["y", "z"],
            "bootstrap": 30,
            "parameters": {"x1": {"bounds": [0.0, 1.0]}, "x2": {"bounds": [0.0, 1.0]}},
            **extra,
        },
    }


def test_shipped_ishigami_emulator_spec(tmp_path, capsys):
    """128 runs: every S1 and ST within its interval of the closed form, tidy files, charts."""
    out = tmp_path / "ish"
    code = main(
        [
            "sensitivity",
            str(SPECS / "ishigami_emulator.toml"),
            "--engine",
            "serial",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "validation Q2 0.9" in text and "NOT reported" not in text
    table = pd.read_csv(out / "indices.csv")
    truth = ishigami_indices()
    for kind in ("S1", "ST"):
        for name, expected in truth[kind].items():
            row = table[(table["index"] == kind) & (table["parameter"] == name)].iloc[0]
            assert abs(row["value"] - expected) <= row["ci"] + 0.01, (kind, name)
    assert set(table["index"]) == {"S1", "ST", "S2"} and set(table["method"]) == {"emulator"}
    assert set(table["n"]) == {128}
    fit = pd.read_csv(out / "emulator.csv").iloc[0]
    assert fit["kpi"] == "y" and fit["reported"] and fit["runs"] == 128 and fit["q2"] >= 0.9
    assert fit["q2_cv"] > 0.99  # the 128-point fit; q2 is the 64-point fit's on the other 64
    for name in ("emulator_y.png", "s2_y.png", "convergence_y.png", "convergence.csv"):
        assert (out / name).is_file(), name
    again = analyse(out, charts=False)  # the same seed gives the same indices
    np.testing.assert_array_equal(again.indices["value"].to_numpy(), table["value"].to_numpy())


def test_low_q2_withholds_the_kpi_in_one_line(tmp_path):
    """Y is mostly point noise: refused with one line; z (smooth) is reported."""
    spec = load_sensitivity_spec(emulator_spec())
    result = run_sensitivity(spec, tmp_path, engine="serial", charts=False)
    a = result.analysis
    assert set(a.indices["kpi"]) == {"z"}
    fits = a.emulator.set_index("kpi")
    assert not fits.loc["y", "reported"] and fits.loc["y", "q2"] < 0.9
    assert fits.loc["z", "reported"] and fits.loc["z", "q2"] > 0.99
    (line,) = [w for w in a.warnings if w.startswith("y: indices NOT reported")]
    assert "validation Q2" in line and "< 0.9" in line and "\n" not in line
    text = "\n".join(report_lines(result, spec))
    assert "y: NOT reported: emulator Q2" in text
    saved = pd.read_csv(tmp_path / "emulator.csv")
    assert list(saved["kpi"]) == ["y", "z"] and "noise_share" in saved


def test_seed_reproduces_the_design_and_indices(tmp_path):
    spec = load_sensitivity_spec(emulator_spec(32))
    a = run_sensitivity(spec, tmp_path / "a", engine="serial", charts=False).analysis
    b = run_sensitivity(spec, tmp_path / "b", engine="serial", charts=False).analysis
    pd.testing.assert_frame_equal(a.indices, b.indices)
    assert pd.read_parquet(tmp_path / "a" / "design.parquet").equals(
        pd.read_parquet(tmp_path / "b" / "design.parquet")
    )


def test_emulator_spec_errors(tmp_path, capsys):
    d = emulator_spec(100)
    d["sensitivity"]["parameters"]["x3"] = {"values": ["a", "b"]}
    d["sensitivity"]["q2_threshold"] = 1.5
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    (line,) = info.value.problems  # the schema's range first
    assert "sensitivity.q2_threshold" in line
    d["sensitivity"]["q2_threshold"] = 0.9
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(d)
    lines = info.value.problems
    assert any(
        "sensitivity.n: 100 is not a power of two >= 16" in x and "(e.g. 64 or 128)" in x
        for x in lines
    )
    assert any(
        "sensitivity.parameters.x3: categorical" in x and "method = 'sobol'" in x for x in lines
    )
    assert all("\n" not in x for x in lines)


def test_cli_refuses_bad_flag_combinations(tmp_path, capsys):
    spec = tmp_path / "m.toml"
    spec.write_text("""
[experiment]
name = "m"
model = "experiments.engine.analytic:ishigami"
[sensitivity]
method = "morris"
n = 4
kpis = ["y"]
[sensitivity.parameters.x1]
bounds = [0.0, 1.0]
[sensitivity.parameters.x2]
bounds = [0.0, 1.0]
""")
    assert main(["sensitivity", str(spec), "--until-converged"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"{spec}: --until-converged needs a design that extends when n doubles "
        "(method = 'sobol' or 'emulator'), not method = 'morris'"
    ]
    ish = str(SPECS / "ishigami_emulator.toml")
    assert main(["sensitivity", ish, "--max-runs", "100"]) == 2
    assert "--max-runs is the budget of --until-converged" in capsys.readouterr().err
    out = str(tmp_path / "o")
    assert main(["sensitivity", ish, "--until-converged", "--max-runs", "100", "--out", out]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert "--max-runs 100 is below the first round's 128 runs (n = 128)" in line


def test_cli_until_converged_reports_rounds_and_the_stop(tmp_path, capsys):
    spec = tmp_path / "ish.toml"
    text = (SPECS / "ishigami_emulator.toml").read_text().replace("n = 128 ", "n = 32 ")
    spec.write_text(text)
    out = str(tmp_path / "o")
    assert main(["sensitivity", str(spec), "--until-converged", "--no-chart", "--out", out]) == 0
    lines = capsys.readouterr().out.splitlines()
    rounds = [x for x in lines if x.startswith("round ")]
    assert rounds[0].startswith("round 1: N = 32 x 1 replication, 32 runs so far (32 new), ")
    assert len(rounds) >= 2 and "N/2-vs-N check passed" in rounds[-1]
    assert lines[-1].startswith("stopped by converged: converged at N = ")
    assert "runs stored (" in lines[-1] and "run by this command)" in lines[-1]
