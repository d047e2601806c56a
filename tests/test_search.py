"""Robust design search: the optimiser on a known front, metrics, and a tiny model search."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from experiments.cli.main import main
from experiments.engine.store import load
from experiments.search.evaluate import make_worlds
from experiments.search.optimiser import EpsilonArchive, Optimiser, hypervolume, nondominated
from experiments.search.robustness import metric, minimised, regret_to_best
from experiments.search.spec import Lever, Objective, load_search_spec
from experiments.search.study import run_search
from sim.config import load_scenario

#: ZDT1 (30 variables): the front found reaches this share of the known front's hypervolume
#: (reference point (1.1, 1.1)); NSGA-II, 50 designs x 160 generations (8,000 evaluations),
#: seed 1, reaches 0.982.
ZDT_TOLERANCE = 0.97


def zdt1_search(generations: int, population: int, checkpoint_at: int = -1) -> np.ndarray:
    from pymoo.problems import get_problem

    problem = get_problem("zdt1")  # 30 variables in [0, 1], two objectives
    levers = {f"x{i}": Lever(range=[0.0, 1.0]) for i in range(problem.n_var)}
    opt = Optimiser(levers, 2, population=population, seed=1)
    found = []
    for g in range(generations):
        asked = opt.ask()
        x = np.array([[d[f"x{i}"] for i in range(problem.n_var)] for d in asked])
        f = problem.evaluate(x, return_values_of=["F"])
        opt.tell(f)
        found.append(f)
        if g == checkpoint_at:  # a checkpoint and a restart: the search goes on the same way
            opt = pickle.loads(pickle.dumps(opt))
    return np.vstack(found)


def test_nsga2_reaches_the_known_zdt1_front():
    from pymoo.problems import get_problem

    f = zdt1_search(160, 50)
    true = hypervolume(get_problem("zdt1").pareto_front(), [1.1, 1.1])
    reached = hypervolume(f[nondominated(f)], [1.1, 1.1]) / true
    assert reached >= ZDT_TOLERANCE, f"{reached:.3f} of the true front's hypervolume"


def test_a_checkpointed_optimiser_goes_on_exactly_as_one_never_stopped():
    assert np.array_equal(zdt1_search(6, 12), zdt1_search(6, 12, checkpoint_at=2))


def test_nondominated_and_the_epsilon_archive():
    f = np.array([[1.0, 4.0], [2.0, 2.0], [3.0, 3.0], [4.0, 1.0], [2.0, 2.0]])
    assert nondominated(f).tolist() == [True, True, False, True, True]
    archive = EpsilonArchive([1.0, 1.0])
    assert archive.add(np.array([2.5, 2.5]), "a")
    assert not archive.add(np.array([2.2, 2.7]), "b")  # same box
    assert not archive.add(np.array([3.5, 3.5]), "c")  # a dominated box
    assert archive.add(np.array([1.5, 1.5]), "d")  # dominates a's box: a leaves
    assert archive.keys == ["d"] and archive.progress == 2


def test_robustness_metrics_on_known_values():
    x = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 4.0, 0.0, 4.0]])  # fiscal NPV: more is better
    mean = Objective(kpi="fiscal_npv_usd")
    assert metric(x, mean).tolist() == [2.5, 3.0]
    worst = Objective(kpi="fiscal_npv_usd", robustness="percentile", percentile=0)
    assert metric(x, worst).tolist() == [1.0, 0.0]
    ref = np.array([[2.0, 2.0, 2.0, 2.0], [1.0, 3.0, 1.0, 1.0]])  # best per world: 2, 3, 2, 2
    regret = Objective(kpi="fiscal_npv_usd", robustness="regret")
    assert metric(x, regret, ref).tolist() == [1.0, 2.0]  # worst shortfalls: 2-1, 2-0
    ok = Objective(kpi="fiscal_npv_usd", robustness="satisficing", condition=">= 2")
    assert metric(x, ok).tolist() == [0.75, 0.75]
    assert minimised(np.array([0.75]), ok).tolist() == [-0.75]  # a share is maximised
    less = Objective(kpi="peak_debt_service_ratio", robustness="percentile", percentile=25)
    assert metric(np.array([[0.1, 0.2, 0.3, 0.4, 0.5]]), less)[0] == pytest.approx(0.4)
    assert np.isnan(metric(np.array([[1.0, np.nan]]), mean)[0])  # a failed run
    assert regret_to_best(x, "fiscal_npv_usd").tolist() == [[3, 2, 0, 0], [0, 0, 3, 0]]


TINY = {
    "search": {
        "name": "tiny",
        "scenario": "alliance",
        "seed": 7,
        "population": 4,
        "evaluations": 8,
        "months": 24,
        "fixed": {"world.residents.simulated_agents": 1000},
        "candidates": 2,
    },
    "levers": {
        "policy.procurement.mode": {"values": ["rfp", "rfi_mou", "framework"]},
        "policy.pilot.share_of_units": {"range": [0.01, 0.2]},
        "policy.pilot.months": {"range": [6, 18], "integer": True},
    },
    "objectives": [
        {"kpi": "fiscal_npv_usd"},
        {"kpi": "welfare_usd", "robustness": "regret"},
    ],
    "worlds": {"seeds": 3},
    "reevaluation": {"seeds": 1, "designs": 2},
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """The tiny search run through, and the same search stopped after generation 0 and rerun."""
    spec = load_search_spec(TINY)
    whole = tmp_path_factory.mktemp("whole")
    run_search(spec, whole, engine="serial")
    parts = tmp_path_factory.mktemp("parts")
    first = run_search(spec, parts, engine="serial", stop=lambda g: g == 0)
    second = run_search(spec, parts, engine="serial")
    return spec, whole, parts, first, second


def test_every_evaluation_is_stored_in_the_run_store(searched):
    spec, whole, *_ = searched
    table = pd.read_parquet(whole / "evaluations.parquet")
    assert len(table) == 8 and set(table["generation"]) == {0, 1}
    worlds = spec.worlds.count
    for g in (0, 1):
        runs = load(whole / "runs" / f"gen-{g:03d}")
        assert len(runs) == (table["generation"] == g).sum() * worlds
        assert (runs["status"] == "ok").all()
        assert runs["seed"].nunique() == worlds  # the same worlds for every design
    assert len(load(whole / "runs" / "reference")) == 2 * worlds  # the shipped designs


def test_a_stopped_search_resumes_to_the_same_front(searched):
    _, whole, parts, first, second = searched
    assert first.status == "stopped" and first.generations == 1
    assert second.status == "complete" and second.generations == 2
    front = pd.read_csv(whole / "front.csv")
    pd.testing.assert_frame_equal(front, pd.read_csv(parts / "front.csv"))
    assert (whole / "convergence.csv").read_text() != ""
    conv = pd.read_csv(parts / "convergence.csv")
    assert conv["generation"].tolist() == [0, 1] and (conv["hypervolume"] > 0).all()


def test_the_reevaluation_uses_fresh_worlds(searched):
    spec, whole, *_ = searched
    search_seeds = set(make_worlds(spec, 1).replication_seeds())
    [store] = (whole / "runs").glob("reevaluation-[0-9a-f]*")  # named by the designs re-run
    fresh = load(store)
    assert not search_seeds & set(fresh["seed"])
    table = pd.read_csv(whole / "reevaluation.csv")
    assert table["shipped"].sum() == 2 and (~table["shipped"]).sum() >= 1
    assert {"mean:fiscal_npv_usd (search)", "mean:fiscal_npv_usd (fresh)"} <= set(table)


def test_candidates_are_scenarios_that_compare_takes(searched, tmp_path, capsys):
    spec, whole, *_ = searched
    files = sorted((whole / "candidates").glob("c*.toml"))
    assert [f.name for f in files][:1] == ["c1.toml"]
    front = pd.read_csv(whole / "front.csv")
    scn = load_scenario(files[0])
    assert scn.policy.procurement.mode == front["policy.procurement.mode"].iloc[0]
    assert scn.policy.pilot.months == front["policy.pilot.months"].iloc[0]
    code = main(
        [
            "-q",
            "compare",
            str(files[0]),
            "alliance",
            "--replications",
            "2",
            "--months",
            "12",
            "--engine",
            "serial",
            "--no-report",
            "--set",
            "world.residents.simulated_agents=1000",
            "--out",
            str(tmp_path / "cmp"),
        ]
    )
    assert code == 0, capsys.readouterr().err


def test_charts_and_the_report_section(searched):
    _, whole, *_ = searched
    assert (whole / "charts" / "search_front.png").stat().st_size > 10_000
    assert (whole / "charts" / "search_convergence.png").stat().st_size > 5_000
    from experiments.workshop.report import find_search, search_sections

    [(title, body)] = search_sections(find_search(whole))
    assert title == "Robust design search: tiny"
    assert "Re-evaluation on fresh worlds" in body and body.count("<figure") == 2


@pytest.mark.parametrize(
    "change, message",
    [
        ({"levers": {"policy.pilot.share_of_unit": {"range": [0.01, 0.2]}}}, "share_of_unit"),
        ({"levers": {"policy.pilot.share_of_units": {"range": [0.2, 0.01]}}}, "low < high"),
        ({"levers": {"policy.pilot.share_of_units": {"range": [0.01, 0.9]}}}, "0.9"),
        ({"objectives": [{"kpi": "fiscal_npv"}, {"kpi": "welfare_usd"}]}, "did you mean"),
        (
            {
                "search": {**TINY["search"], "scenario": "traditional"},
                "levers": {k: v for k, v in TINY["levers"].items() if k != "policy.pilot.months"},
            },
            "does not apply",
        ),
        ({"levers": {}}, 'spec.toml: levers: name at least one [levers."policy.path"]'),
    ],
    ids=["unknown-lever", "bad-range", "out-of-range", "unknown-kpi", "inactive-lever", "none"],
)
def test_spec_errors_are_one_line_and_exit_2(change, message, tmp_path, capsys):
    from experiments.search.candidates import toml_value

    data = {**TINY, **change}
    lines = []
    for table, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines += [f"[[{table}]]", *(f"{k} = {toml_value(v)}" for k, v in item.items())]
            continue
        flat = {k: v for k, v in body.items() if not isinstance(v, dict) or table == "search"}
        lines += [f"[{table}]", *(f'"{k}" = {toml_value(v)}' for k, v in flat.items())]
        for k, v in body.items():
            if isinstance(v, dict) and table != "search":
                lines += [f'[{table}."{k}"]', *(f"{a} = {toml_value(b)}" for a, b in v.items())]
    path = tmp_path / "spec.toml"
    path.write_text("\n".join(lines) + "\n")
    assert main(["search", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert ": {'" not in err[0]  # never the whole file dumped as a dict
    assert not (tmp_path / "out").exists()


def test_the_shortlist_puts_designs_that_dominate_every_shipped_design_first():
    from experiments.search.candidates import order_front

    spec = load_search_spec(
        {**TINY, "levers": {"policy.pilot.share_of_units": {"range": [0.01, 0.2]}}}
    )
    names = [o.name for o in spec.objectives]  # mean fiscal NPV (up), welfare regret (down)
    front = pd.DataFrame(
        [["a", 5.0, 9.0], ["b", 2.0, 1.5], ["c", 9.0, 1.0]], columns=["design", *names]
    )
    shipped = pd.DataFrame([[1.0, 6.0], [3.0, 2.0]], columns=names, index=["t", "s"])
    ordered = order_front(spec, front, shipped)
    assert ordered["design"].tolist() == ["c", "b", "a"]
    assert ordered["dominates"].tolist() == ["t, s", "t", ""]
    assert ordered["rank"].tolist() == [1, 2, 3]


def test_every_shipped_search_spec_is_valid():
    from pathlib import Path

    from sim.config import read_toml

    folder = Path(__file__).resolve().parents[1] / "experiments" / "specs"
    shipped = [p for p in sorted(folder.glob("*.toml")) if "search" in read_toml(p)]
    assert shipped
    for path in shipped:
        spec = load_search_spec(path)
        assert len(spec.levers) >= 8 and len(spec.objectives) >= 4 and spec.worlds.count >= 30


def test_a_search_refuses_a_folder_holding_something_else(searched, tmp_path):
    _, whole, *_ = searched
    other = {**TINY, "search": {**TINY["search"], "seed": 8}}

    study = tmp_path / "study"
    study.mkdir()
    (study / "manifest.json").write_text("{}")
    from experiments.search.study import SearchError

    with pytest.raises(SearchError, match="holds an experiment, not a search"):
        run_search(load_search_spec(other), study, engine="serial")
    with pytest.raises(SearchError, match="holds another search"):
        run_search(load_search_spec(other), whole, engine="serial")


def test_a_design_with_a_non_finite_objective_is_infeasible_not_repaired():
    from experiments.search.study import for_optimiser

    f = np.array([[1.0, 5.0], [np.nan, 2.0], [3.0, np.inf]])
    out, violation = for_optimiser(f, np.zeros(3))
    assert violation.tolist() == [0.0, 1.0, 1.0]
    assert out[1, 0] == 4.0 and out[2, 1] == 6.0  # past the worst feasible value
    assert np.isfinite(out).all() and out[0].tolist() == [1.0, 5.0]
    all_bad, _ = for_optimiser(np.array([[np.nan], [np.nan]]), np.zeros(2))
    assert all_bad.tolist() == [[1.0], [1.0]]


def test_candidate_labels_are_spread_apart():
    import numpy as np

    from experiments.search.charts import _spread

    y = np.array([0.5, 0.5, 0.2, 0.51, 1.0])
    at = _spread(y, 0.04)
    gaps = np.diff(np.sort(at))
    assert (gaps >= 0.04 - 1e-12).all() and at.max() <= 1.02
    assert list(np.argsort(at, kind="stable")) == list(np.argsort(y, kind="stable"))
    assert at[2] == 0.2  # a label with room stays where its line ends


def test_a_long_convergence_table_shows_every_kth_generation_and_the_last():
    import pandas as pd

    from experiments.search.tables import convergence_rows, convergence_step

    assert [convergence_step(g) for g in (1, 15, 16, 75, 76, 200)] == [1, 1, 5, 5, 10, 20]
    conv = pd.DataFrame(
        {
            "generation": range(50),
            "evaluations": [40 * (g + 1) for g in range(50)],
            "hypervolume": [g / 100 for g in range(50)],
            "epsilon_progress": range(50),
            "archive_size": range(50),
        }
    )
    gens = [int(r[0]) for r in convergence_rows(conv)[1:]]
    assert gens == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 49]
    assert len(convergence_rows(conv.head(12))) == 13  # short: every generation
