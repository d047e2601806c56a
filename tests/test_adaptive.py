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


def scattered(replications: int, scatter_sd: float = 3.0, n: int = 32) -> dict:
    """Ishigami with noise that differs from point to point (a simulation's kind)."""
    data = ishigami("emulator", n)
    data["experiment"]["replications"] = replications
    data["sensitivity"]["second_order"] = False
    data["sensitivity"]["fixed"] = {"scatter_sd": scatter_sd}
    data["sensitivity"]["parameters"] = {f"x{i}": {"bounds": [-PI, PI]} for i in range(1, 4)}
    return data


def test_noise_limited_kpi_gets_replications(tmp_path):
    from experiments.engine.analytic import ishigami_indices

    spec = load_sensitivity_spec(scattered(2))
    result = run_until_converged(spec, tmp_path, max_runs=8000, charts=False)
    first, last = result.rounds[0], result.rounds[-1]
    # Noise of 9 per run on a variance of 13.8: two replications cap Q2 near 0.75;
    # the first round asks for the replications that leave 5 % of noise in the averages
    # (and, its fit missing far more than that, for more points too).
    assert first.needs["y"] >= 10 and result.rounds[1].replications == first.needs["y"]
    assert first.short == ["y"] and result.rounds[1].n == 2 * first.n
    assert result.stopped_by == "converged" and last.q2["y"] >= 0.9
    assert "replications" in result.reason
    runs = experiments.load(tmp_path)
    assert len(runs) == last.runs == last.n * last.replications and runs.run_id.is_unique
    assert sum(r.ran for r in result.rounds) == last.runs  # no run ran twice
    st = result.study.analysis.indices.query("index == 'ST'").set_index("parameter")
    for name, value in ishigami_indices()["ST"].items():
        assert abs(st.loc[name, "value"] - value) <= st.loc[name, "ci"] + 0.01, name


def test_enough_points_and_too_few_replications_raise_only_the_replications(tmp_path):
    spec = load_sensitivity_spec(scattered(2, n=512))
    result = run_until_converged(spec, tmp_path, max_runs=16000, charts=False)
    first = result.rounds[0]
    assert "y" in first.needs and not first.short  # the fit misses about the noise alone
    assert [r.n for r in result.rounds] == [512] * len(result.rounds)
    assert result.rounds[1].replications == first.needs["y"]
    assert result.stopped_by == "converged"


def test_noise_beyond_the_budget_is_withheld_with_what_it_needs(tmp_path):
    spec = load_sensitivity_spec(scattered(2))
    result = run_until_converged(spec, tmp_path, max_runs=300, charts=False)
    assert [(r.n, r.replications) for r in result.rounds] == [(32, 2)]
    assert result.stopped_by == "budget"
    need = result.rounds[0].needs["y"]
    assert f"y: replication noise caps its Q2; it needs about {need} replications" in result.reason
    assert f"({32 * need} runs at N = 32)" in result.reason
    # With the budget for it (and for the design to double once more), a rerun into
    # the folder grows the replications there.
    again = run_until_converged(spec, tmp_path, max_runs=64 * need, charts=False)
    assert (again.rounds[0].n, again.rounds[0].replications) == (32, 2)
    assert again.rounds[1].replications == again.rounds[0].needs["y"]
    assert again.rounds[0].ran == 0


def test_extend_accepts_more_replications_not_fewer(tmp_path):
    from experiments.sensitivity.adaptive import with_replications

    spec = load_sensitivity_spec(scattered(2))
    run_experiment(experiment_spec(spec, build_plan(spec)), tmp_path)
    ids = set(experiments.load(tmp_path)["run_id"])
    more = with_replications(spec, 5)
    summary = run_experiment(experiment_spec(more, build_plan(more)), tmp_path, extend=True)
    assert (summary.skipped, summary.ran) == (64, 96)
    assert ids < set(experiments.load(tmp_path)["run_id"])
    fewer = with_replications(spec, 1)
    with pytest.raises(ExperimentError, match="holds another experiment"):
        run_experiment(experiment_spec(fewer, build_plan(fewer)), tmp_path, extend=True)


def test_the_cheapest_noisy_kpi_is_brought_in_first(tmp_path):
    data = scattered(2, n=512)
    data["experiment"]["model"] = "experiments.engine.analytic:ishigami_pair"
    data["sensitivity"]["kpis"] = ["y", "loud"]
    spec = load_sensitivity_spec(data)
    result = run_until_converged(spec, tmp_path, max_runs=40000, charts=False)
    first = result.rounds[0]
    assert first.needs["loud"] > 4 * first.needs["y"]  # nine times the noise variance
    assert result.rounds[1].replications == first.needs["y"]
    assert "y" in result.rounds[1].reported


def test_the_cheaper_of_points_and_replications_goes_first():
    """A withheld KPI short of points, another short of replications: the cheaper route first."""
    from experiments.sensitivity.adaptive import Round, next_round, with_size

    spec = with_size(load_sensitivity_spec(ishigami("emulator", 128)), 128, 20)

    def state(reps: int, need: int) -> Round:
        return Round(
            index=2, n=128, replications=reps, runs=128 * reps, ran=0, max_ci=0.03,
            check=True, q2={"a": 0.97, "b": 0.85, "c": 0.6}, reported=["a"], converged=False,
            seconds=1.0, needs={"c": need}, rising=True,  # b: near the threshold and rising
        )  # fmt: skip

    # 63 replications at 128 points (8,064 runs) cost more than 256 points at 20 (5,120),
    # and the budget cannot hold 63 replications at 512 points: the points first.
    following, _, _ = next_round(state(20, 63), spec, max_runs=24576)
    assert (following.sensitivity.n, following.experiment.replications) == (256, 20)
    # 15 replications at 128 points (1,920) cost less than 256 points at 10 (2,560):
    # the replications first, the points later.
    following, _, _ = next_round(state(10, 15), with_size(spec, 128, 10), max_runs=5000)
    assert (following.sensitivity.n, following.experiment.replications) == (128, 15)
