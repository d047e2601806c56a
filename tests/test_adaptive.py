"""--until-converged: the design doubles into the same store, stored runs are never rerun."""

import math

import pandas as pd
import pytest

import experiments
from experiments.engine.batch import ExperimentError, run_experiment
from experiments.sensitivity.adaptive import planned_runs, run_until_converged, with_n
from experiments.sensitivity.plan import build_plan, experiment_spec
from experiments.sensitivity.spec import load_sensitivity_spec

PI = math.pi


def ishigami(method: str, n: int) -> dict:
    return {
        "experiment": {
            "name": f"ishigami_{method}",
            "model": "experiments.engine.analytic:ishigami",
            "seed": 5,
        },
        "sensitivity": {
            "method": method,
            "n": n,
            "kpis": ["y"],
            "bootstrap": 50,
            "parameters": {f"x{i}": {"bounds": [-PI, PI]} for i in range(1, 5)},
        },
    }


def test_nested_designs_keep_their_points():
    for method, n in (("emulator", 16), ("sobol", 8)):
        spec = load_sensitivity_spec(ishigami(method, n))
        small, big = build_plan(spec), build_plan(with_n(spec, 2 * n))
        assert big.points[: len(small.points)] == small.points
        assert planned_runs(with_n(spec, 2 * n)) == len(big.points)


def test_emulator_grows_until_converged_and_reuses_runs(tmp_path):
    spec = load_sensitivity_spec(ishigami("emulator", 16))
    seen = []
    result = run_until_converged(spec, tmp_path, max_runs=1024, on_round=seen.append, charts=False)
    assert result.stopped_by == "converged" and "N/2-vs-N check passed" in result.reason
    assert len(result.rounds) >= 2 and seen == result.rounds
    last = result.rounds[-1]
    assert last.max_ci <= 0.05 and last.check and last.q2["y"] >= 0.9
    assert [r.n for r in result.rounds] == [16 * 2**i for i in range(len(result.rounds))]
    runs = experiments.load(tmp_path)
    assert len(runs) == last.n and runs.run_id.is_unique  # each point ran once
    assert sum(r.ran for r in result.rounds) == last.n
    assert set(pd.read_csv(tmp_path / "indices.csv")["n"]) == {last.n}


def test_sobol_stops_at_the_budget_and_reuses_runs(tmp_path):
    spec = load_sensitivity_spec(ishigami("sobol", 16))  # 16 x 10 = 160 runs a round
    first = run_until_converged(spec, tmp_path, max_runs=330, charts=False)
    assert first.stopped_by == "budget" and "--max-runs 330" in first.reason
    assert [(r.n, r.runs, r.ran) for r in first.rounds] == [(16, 160, 160), (32, 320, 160)]
    ids = set(experiments.load(tmp_path)["run_id"])
    assert len(ids) == 320
    again = run_until_converged(spec, tmp_path, max_runs=330, charts=False)
    assert [(r.n, r.ran) for r in again.rounds] == [(32, 0)]  # starts at the stored n
    assert set(experiments.load(tmp_path)["run_id"]) == ids


def test_extend_accepts_only_a_longer_design(tmp_path):
    spec = load_sensitivity_spec(ishigami("emulator", 16))
    run_experiment(experiment_spec(spec, build_plan(spec)), tmp_path)
    other = load_sensitivity_spec(
        {
            **ishigami("emulator", 32),
            "experiment": {**ishigami("emulator", 32)["experiment"], "seed": 6},
        }
    )
    with pytest.raises(ExperimentError, match="holds another experiment"):
        run_experiment(experiment_spec(other, build_plan(other)), tmp_path, extend=True)
    bigger = with_n(spec, 32)
    with pytest.raises(ExperimentError, match="holds another experiment"):
        run_experiment(experiment_spec(bigger, build_plan(bigger)), tmp_path)  # not asked
    summary = run_experiment(experiment_spec(bigger, build_plan(bigger)), tmp_path, extend=True)
    assert (summary.skipped, summary.ran) == (16, 16)
