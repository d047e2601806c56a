"""The experiment engine: specs, seeds, engines, the crash-safe run store, resume."""

import ast
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import experiments
import sim
from experiments.cli.main import main
from experiments.engine.batch import ExperimentError, plan, run_experiment, status
from experiments.engine.design import design_points, replication_seed
from experiments.engine.model import Outcome, ScenarioModel
from experiments.engine.runner import Context, Task, run_chunk
from experiments.engine.spec import bind_models, load_spec
from sim.config import ScenarioError

ROOT = Path(__file__).resolve().parents[1]


def linear_spec(n_x: int, replications: int = 1, **experiment) -> dict:
    return {
        "experiment": {
            "name": "linear",
            "model": "experiments.engine.analytic:linear",
            "seed": 3,
            "replications": replications,
            **experiment,
        },
        "design": {"kind": "grid", "parameters": {"x": {"values": list(range(n_x))}}},
    }


def alliance_spec(**experiment) -> dict:
    return {
        "experiment": {
            "name": "small",
            "seed": 11,
            "replications": 2,
            "months": 24,
            "timeseries": True,
            "timeseries_stride": 6,
            **experiment,
        },
        "scenarios": [{"file": "traditional"}, {"file": "alliance"}],
        "design": {
            "kind": "grid",
            "parameters": {
                "world.residents.simulated_agents": {"values": [1500]},
                "world.rates.shift_bp": {"values": [0.0, 200.0]},
            },
        },
    }


def stable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["duration_s", "worker"])


# --------------------------------------------------------------------------- specs and seeds


def test_example_specs_are_valid():
    """Every shipped experiment spec validates (scenarios load, design paths exist)."""
    from sim.config import read_toml

    specs = [
        p
        for p in sorted((ROOT / "experiments" / "specs").glob("*.toml"))
        if not {"sensitivity", "search"} & set(read_toml(p))
    ]  # sensitivity specs: test_sensitivity.py; search specs: test_search.py
    assert len(specs) >= 2
    for path in specs:
        load_spec(path)


def test_spec_errors_are_one_line_each(tmp_path):
    """Wrong types, unknown keys, bad ranges and unknown parameter paths each get a line."""
    bad = tmp_path / "bad.toml"
    bad.write_text("""
[experiment]
name = "x"
replications = 0
seeds = 3
[[scenarios]]
file = "alliance"
[design]
kind = "lhs"
samples = 8
[design.parameters."world.rates.shift_bp"]
values = [1.0]
""")
    with pytest.raises(ScenarioError) as info:
        load_spec(bad)
    text = "\n".join(info.value.problems)
    assert "experiment.replications: 0 is out of range" in text
    assert "experiment.seeds: unknown key; did you mean 'seed'?" in text
    assert "design: " in text and "lhs needs a range for world.rates.shift_bp" in text
    good_shape = tmp_path / "paths.toml"
    good_shape.write_text("""
[[scenarios]]
file = "alliance"
[design]
kind = "grid"
[design.parameters."world.rates.shiftbp"]
values = [1.0]
""")
    with pytest.raises(ScenarioError) as info:
        load_spec(good_shape)
    assert "did you mean 'world.rates.shift_bp'" in info.value.problems[0]


def test_cli_spec_error_exits_2_without_traceback(tmp_path, capsys):
    """Bad specs give exit 2 and one line per problem."""
    bad = tmp_path / "bad.toml"
    bad.write_text("[experiment\n")
    assert main(["sweep", str(bad), "--engine", "serial"]) == 2
    err = capsys.readouterr().err
    assert "malformed TOML" in err and "Traceback" not in err
    nodesign = tmp_path / "nodesign.toml"
    nodesign.write_text("[[scenarios]]\nfile = 'alliance'\n")
    assert main(["sweep", str(nodesign), "--engine", "serial", "--out", str(tmp_path / "o")]) == 2
    assert "a sweep needs [design]" in capsys.readouterr().err


def test_replication_seeds_are_shared_across_scenarios_and_points():
    """Replication r has one seed for every scenario and design point (paired runs)."""
    spec = load_spec(alliance_spec())
    _, tasks = plan(spec)
    by_rep = {}
    for t in tasks:
        by_rep.setdefault(t.replication, set()).add(t.seed)
    assert all(len(seeds) == 1 for seeds in by_rep.values())
    assert by_rep[0] != by_rep[1]
    assert replication_seed(11, 0) == replication_seed(11, 0) != replication_seed(12, 0)
    assert len({t.run_id for t in tasks}) == len(tasks)


def test_designs_grid_lhs_list():
    """Grids multiply values; LHS stays in range and stratifies; lists are taken as given."""
    grid = load_spec(linear_spec(3)).design
    assert design_points(grid, 0) == [{"x": 0}, {"x": 1}, {"x": 2}]
    spec = load_spec(
        {
            "experiment": {"model": "experiments.engine.analytic:linear"},
            "design": {
                "kind": "lhs",
                "samples": 10,
                "parameters": {
                    "a": {"range": [0.0, 1.0]},
                    "b": {"range": [10.0, 20.0], "integer": True},
                },
            },
        }
    )
    points = design_points(spec.design, 5)
    a = np.array([p["a"] for p in points])
    assert len(points) == 10 and (0 <= a).all() and (a <= 1).all()
    assert sorted(np.floor(a * 10).astype(int)) == list(range(10))  # one point per stratum
    assert all(isinstance(p["b"], int) and 10 <= p["b"] <= 20 for p in points)
    assert design_points(spec.design, 5) == points
    listed = load_spec(
        {
            "experiment": {"model": "experiments.engine.analytic:linear"},
            "design": {"kind": "list", "points": [{"x": 1}, {"x": 5}]},
        }
    )
    assert design_points(listed.design, 0) == [{"x": 1}, {"x": 5}]


# --------------------------------------------------------------------------- store and failures


def test_failing_runs_are_recorded_and_the_rest_complete(tmp_path):
    """A run that raises is a row with its error; every other run completes."""
    spec = load_spec(
        {
            "experiment": {"model": "experiments.engine.analytic:flaky", "replications": 2},
            "design": {"kind": "list", "points": [{"x": 1}, {"x": -1}, {"x": 2}]},
        }
    )
    summary = run_experiment(spec, tmp_path / "e")
    table = experiments.load(tmp_path / "e")
    assert summary.failed == 2 and len(table) == 6
    bad = table[table.status == "error"]
    assert (bad["param.x"] == -1).all()
    assert bad.error.str.contains("ValueError: x = -1 is negative").all()
    assert table[table.status == "ok"].y.notna().all()
    assert status(tmp_path / "e") == {
        "name": "experiment",
        "planned": 6,
        "done": 4,
        "failed": 2,
        "pending": 0,
        "status": "complete",
        "missing": 0,
        "corrupt": 0,
        "orphaned": 0,
    }


def test_rerun_skips_stored_runs_and_another_spec_is_refused(tmp_path):
    """Rerunning into the same folder runs nothing twice; a different spec is refused."""
    spec = load_spec(linear_spec(20))
    first = run_experiment(spec, tmp_path / "e")
    again = run_experiment(spec, tmp_path / "e")
    assert first.ran == 20 and again.ran == 0 and again.skipped == 20
    assert len(experiments.load(tmp_path / "e")) == 20
    with pytest.raises(ExperimentError, match="another experiment"):
        run_experiment(load_spec(linear_spec(21)), tmp_path / "e")


def test_kill_and_resume_gives_every_run_exactly_once(tmp_path):
    """Kill an experiment mid-way (SIGKILL), resume it, compare with an uninterrupted run."""
    spec = tmp_path / "slow.toml"
    spec.write_text("""
[experiment]
name = "slow"
model = "experiments.engine.analytic:linear"
seed = 5
replications = 3
chunk_size = 4
flush_seconds = 0.2
[design]
kind = "grid"
[design.parameters.x]
values = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
[design.parameters.sleep_s]
values = [0.03]
""")
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "experiments.cli",
        "sweep",
        str(spec),
        "--engine",
        "serial",
        "--out",
        str(out),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "runs").glob("part-*.parquet"))) < 1:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = experiments.load(out)
    assert 0 < len(partial) < 60, "the kill must land mid-way"
    resumed = subprocess.run(
        [*cmd, "--resume"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(partial)} were already stored" in resumed.stdout
    table = experiments.load(out)
    assert len(table) == 60 and table.run_id.is_unique
    clean = tmp_path / "clean"
    run_experiment(load_spec(spec), clean)
    pd.testing.assert_frame_equal(stable(table), stable(experiments.load(clean)))


def test_memory_stays_flat_as_runs_grow(tmp_path):
    """Rows go to disk in batches: peak memory does not grow with the number of runs."""

    def peak(n):
        tracemalloc.start()
        run_experiment(
            load_spec(linear_spec(10, replications=n // 10, chunk_size=50)), tmp_path / f"m{n}"
        )
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    small, large = peak(1000), peak(10_000)
    assert (large - small) / 9000 < 100, (small, large)  # bytes per extra run: flat
    assert len(experiments.load(tmp_path / "m10000")) == 10_000


# --------------------------------------------------------------------------- engines


def test_same_results_on_serial_processes_and_dask(tmp_path):
    """The same spec gives the same table, to the bit, on every engine and worker count."""
    spec = load_spec(alliance_spec())
    tables, series = {}, {}
    for engine, workers in (("serial", 1), ("processes", 2), ("dask", 2)):
        out = tmp_path / engine
        summary = run_experiment(spec, out, engine=engine, workers=workers)
        assert summary.failed == 0
        tables[engine] = stable(experiments.load(out))
        ts = experiments.load(out, timeseries=True)
        series[engine] = ts.sort_values(["run_id", "month"]).reset_index(drop=True)
    assert len(tables["serial"]) == 8
    pd.testing.assert_frame_equal(tables["serial"], tables["processes"])
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"])
    pd.testing.assert_frame_equal(series["serial"], series["dask"])
    # paired: replication r has the same seed in both scenarios
    t = tables["serial"]
    assert (t.groupby("replication").seed.nunique() == 1).all()


def test_a_dead_worker_is_retried(tmp_path):
    """A worker process that dies mid-chunk is replaced and its chunk retried."""
    marker = tmp_path / "crashed"
    spec = load_spec(
        {
            "experiment": {"model": "experiments.engine.analytic:crash_once", "chunk_size": 1},
            "design": {
                "kind": "grid",
                "parameters": {
                    "x": {"values": [1, 2, 3, 4, 5, 6]},
                    "marker": {"values": [str(marker)]},
                },
            },
        }
    )
    summary = run_experiment(spec, tmp_path / "e", engine="processes", workers=2)
    assert marker.exists(), "the worker must really have died"
    table = experiments.load(tmp_path / "e")
    assert summary.failed == 0 and len(table) == 6 and (table.status == "ok").all()


# --------------------------------------------------------------------------- one model interface


def alliance_as_function(params: dict, seed: int):
    """The built-in model on the alliance scenario, written as a user's own function."""
    return sim.run("alliance", seed=seed, months=12, overrides=params)


def test_the_built_in_model_and_a_function_take_the_same_path(tmp_path):
    """A function returning what the built-in returns gives the same KPIs and series."""
    design = {
        "kind": "list",
        "points": [
            {"world.residents.simulated_agents": 300, "world.rates.shift_bp": 0.0},
            {"world.residents.simulated_agents": 300, "world.rates.shift_bp": 150.0},
        ],
    }
    keep = {
        "seed": 4,
        "replications": 2,
        "months": 12,
        "timeseries": True,
        "timeseries_stride": 3,
        "timeseries_columns": ["*.general_fund", "coverage.*"],
    }
    built_in = load_spec(
        {
            "experiment": {"name": "b", **keep},
            "design": design,
            "scenarios": [{"file": "alliance", "label": "model"}],
        }
    )
    function = load_spec(
        {
            "experiment": {"name": "f", **keep, "model": "test_experiments:alliance_as_function"},
            "design": design,
        }
    )
    (b,), (f,) = (
        bind_models(built_in.experiment, built_in.scenarios),
        bind_models(function.experiment, function.scenarios),
    )
    assert isinstance(b.model, ScenarioModel) and f.model is alliance_as_function
    assert b.label == f.label == "model"
    tables, series = [], []
    for spec, out in ((built_in, tmp_path / "b"), (function, tmp_path / "f")):
        assert run_experiment(spec, out).failed == 0
        tables.append(stable(experiments.load(out)).drop(columns="run_id"))
        series.append(experiments.load(out, timeseries=True).drop(columns="run_id"))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    pd.testing.assert_frame_equal(series[0], series[1])
    kpis = [
        c
        for c in tables[0].columns
        if c not in ("index", "scenario", "point", "replication", "seed", "status", "error")
        and not c.startswith("param.")
    ]
    assert set(kpis) == set(b.model.outputs)  # the declared outputs are what a run returns


def test_one_chunk_runs_any_mix_of_models():
    """The worker runs every model alike: a mapping, an Outcome or a RunResult."""

    def with_series(params, seed):
        frame = pd.DataFrame({"month": range(6), "level": [float(seed)] * 6})
        return Outcome({"y": 1.0}, frame)

    context = Context(
        models={
            "built-in": ScenarioModel("alliance", (), 6),
            "function": with_series,
            "plain": lambda params, seed: {"y": 2.0},
        },
        timeseries=True,
        stride=2,
    )
    tasks = [
        Task(
            i,
            f"r{i}",
            label,
            0,
            {"world.residents.simulated_agents": 200} if label == "built-in" else {},
            0,
            5,
        )
        for i, label in enumerate(context.models)
    ]
    rows, frames = run_chunk(tasks, context)
    assert [r["status"] for r in rows] == ["ok"] * 3, rows
    assert rows[1]["y"] == 1.0 and rows[2]["y"] == 2.0 and "fiscal_npv_usd" in rows[0]
    assert [f["scenario"].iloc[0] for f in frames] == ["built-in", "function"]
    assert list(frames[1]["month"]) == [0, 2, 4] and (frames[1]["level"] == 5.0).all()


def test_only_the_resolver_knows_the_built_in_model():
    """No 'alliance' branch in the engine or the spec validators: one resolver binds models."""
    files = sorted((ROOT / "experiments" / "engine").glob("*.py")) + [
        ROOT / "experiments" / "sensitivity" / "spec.py"
    ]
    for path in files:
        tree = ast.parse(path.read_text())
        docs = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        named = {
            id(n.value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            and [getattr(t, "id", "") for t in n.targets] == ["BUILT_IN"]
        }
        found = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and n.value == "alliance" and id(n) not in docs | named
        ]
        assert found == [], (path, found)
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
            uses = [n for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id == "BUILT_IN"]
            assert not uses or fn.name == "bind_models", (path, fn.name)
