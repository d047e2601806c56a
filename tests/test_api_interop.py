"""The model in Mesa and pandas: keyword constructor, datacollector, batch_run, tidy results.

Issue 15: ``AllianceModel(scenario="alliance", seed=1, **overrides)``, a
``datacollector`` Mesa's ``batch_run`` and SolaraViz read, KPIs as a pandas
Series beside a units table, series indexed by integer month, parallel
``sim.evaluate_many`` with the same numbers on every engine.
"""

from __future__ import annotations

import math
import runpy
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim import AllianceModel
from sim.config import ScenarioError
from sim.model.outputs import KPI_INFO

SMALL = {"world.residents.simulated_agents": 1000}
MONTHS = 12
ROOT = Path(__file__).resolve().parents[1]


def stepped(model: AllianceModel) -> AllianceModel:
    while model.running:
        model.step()
    return model


# --------------------------------------------------------------------------- the constructor


def test_keyword_dotted_and_double_underscore_parameters_are_the_same_model():
    dotted = AllianceModel(
        "traditional", seed=2, months=6, **{"world.rates.shift_bp": 150}, **SMALL
    )
    keyword = AllianceModel(
        "traditional",
        seed=2,
        months=6,
        world__rates__shift_bp=150,
        world__residents__simulated_agents=1000,
    )
    mapping = AllianceModel(
        "traditional", seed=2, months=6, overrides={"world.rates.shift_bp": 150, **SMALL}
    )
    assert dotted.scenario == keyword.scenario == mapping.scenario
    assert dotted.scenario.world.rates.shift_bp == 150
    assert dotted.scenario.scenario.name == "traditional"


def test_default_model_is_the_alliance_scenario_and_a_scenario_object_still_works():
    from sim.config import load_scenario

    scn = load_scenario("alliance", overrides=SMALL)
    assert AllianceModel(scn, months=1).scenario is scn
    assert AllianceModel(months=1, **SMALL).scenario.scenario.name == "alliance"


def test_overlays_by_keyword():
    m = AllianceModel("alliance", months=1, overlays=["rate_shock"], **SMALL)
    assert m.scenario.world.stress.rate_shock_bp > 0


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"world__rates__nope": 1}, "world.rates.nope"), ({"world.rates.shift_bp": 5000}, "shift_bp")],
)
def test_a_bad_parameter_is_one_clear_error(kwargs, named):
    with pytest.raises(ScenarioError) as err:
        AllianceModel("alliance", months=1, **kwargs)
    assert named in str(err.value)


# --------------------------------------------------------------------------- the datacollector


def test_datacollector_grows_month_by_month_and_kpis_appear_at_the_horizon():
    m = AllianceModel("alliance", seed=1, months=MONTHS, **SMALL)
    dc = m.datacollector
    for month in range(MONTHS):
        m.step()
        values = dc.model_vars
        assert all(len(v) == month + 1 for v in values.values())
        if month < MONTHS - 1:
            assert math.isnan(values["kpi.fiscal_npv_usd"][-1])
            with pytest.raises(RuntimeError, match="KPIs are known at the horizon"):
                dc.kpis()
    assert not m.running
    frame = dc.get_model_vars_dataframe()
    assert frame.index.name == "month" and frame.index.dtype == np.int64
    assert list(frame.index) == list(range(MONTHS))
    assert frame["kpi.fiscal_npv_usd"].iloc[:-1].isna().all()
    run = sim.run("alliance", seed=1, months=MONTHS, overrides=SMALL)
    assert frame["kpi.fiscal_npv_usd"].iloc[-1] == run.kpis["fiscal_npv_usd"]
    pd.testing.assert_frame_equal(frame[list(run.timeseries.columns)], run.timeseries)


def test_datacollector_views_cannot_change_the_record():
    m = stepped(AllianceModel("alliance", months=3, **SMALL))
    with pytest.raises(ValueError, match="read-only"):
        m.datacollector.model_vars["trust_mean"][0] = 99.0


def test_every_series_and_every_kpi_has_a_column_of_its_own():
    m = stepped(AllianceModel("alliance", months=2, **SMALL))
    kpis = sim.kpi_names(m.scenario)
    assert set(m.series.data) & set(kpis)  # coverage.* and adoption.* are both
    columns = m.datacollector.model_vars
    assert len(columns) == len(m.series.data) + len(kpis)
    assert (
        columns["kpi.coverage.streetlights"][-1] == m.datacollector.kpis()["coverage.streetlights"]
    )
    assert columns["coverage.streetlights"][-1] == m.series.data["coverage.streetlights"][-1]


def test_mesa_batch_run_gives_the_same_kpis_as_sim_run():
    from mesa.batchrunner import batch_run

    rows = batch_run(
        AllianceModel,
        {"scenario": ["alliance", "traditional"], "seed": [0, 1], "months": MONTHS, **SMALL},
        display_progress=False,
    )
    table = pd.DataFrame(rows)
    assert len(table) == 4
    assert (table["Step"] == MONTHS - 1).all()
    for _, row in table.iterrows():
        run = sim.run(row["scenario"], seed=row["seed"], months=MONTHS, overrides=SMALL)
        for name in ("fiscal_npv_usd", "welfare_usd", "min_budget_balance_usd"):
            assert row[f"kpi.{name}"] == run.kpis[name], (row["scenario"], row["seed"], name)
        assert row["trust_mean"] == run.timeseries["trust_mean"].iloc[-1]
    by_design = table.groupby("scenario")["kpi.fiscal_npv_usd"].mean()
    assert by_design["alliance"] != by_design["traditional"]


def test_mesa_batch_run_every_month():
    from mesa.batchrunner import batch_run

    rows = pd.DataFrame(
        batch_run(
            AllianceModel,
            {"seed": 3, "months": 6, **SMALL},
            data_collection_period=1,
            display_progress=False,
        )
    )
    assert list(rows["Step"]) == list(range(6))
    assert rows["kpi.fiscal_npv_usd"].iloc[:-1].isna().all()
    assert np.isfinite(rows["kpi.fiscal_npv_usd"].iloc[-1])


def test_solara_viz_page_renders_its_plots_from_the_datacollector():
    solara = pytest.importorskip("solara")
    import ipywidgets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns = runpy.run_path(str(ROOT / "docs" / "examples" / "solara_viz.py"))
        box, _ = solara.render(ns["page"], handle_error=False)
    images = []

    def walk(widget):
        if isinstance(widget, ipywidgets.Image):
            images.append(widget)
        for key in getattr(widget, "keys", []):
            value = getattr(widget, key, None)
            for child in value if isinstance(value, list | tuple) else [value]:
                if isinstance(child, ipywidgets.Widget):
                    walk(child)

    walk(box)
    assert len(images) == 3  # one per plot component
    assert all(len(i.value) > 1000 for i in images)  # drawn PNGs, not blanks


# --------------------------------------------------------------------------- tidy results


def test_kpis_as_a_series_with_units_beside_them():
    run = sim.run("alliance", seed=1, months=MONTHS, overrides=SMALL)
    series = run.kpi_series
    assert series.index.name == "kpi" and series.name == "alliance"
    assert series.to_dict() == run.kpis
    table = run.kpi_table
    assert list(table.index) == list(run.kpis)
    assert table.loc["fiscal_npv_usd", "unit"] == "USD"
    assert table.loc["fiscal_npv_usd", "display_unit"] == "$M"
    assert table.loc["peak_debt_service_ratio", "direction"] == -1
    assert table.loc["welfare_usd", "stakeholder"] == "residents"
    assert table.loc["fiscal_npv_usd", "shown"].endswith("M")
    assert (table["stakeholder"] != "").all()


def test_kpi_info_covers_the_catalogue():
    info = sim.kpi_info()
    assert list(info.columns) == ["label", "unit", "display_unit", "direction", "stakeholder"]
    assert set(info.index) == set(KPI_INFO)
    assert set(info["direction"]) <= {-1, 0, 1}
    assert (info["stakeholder"] != "").all()


def test_timeseries_is_indexed_by_integer_month():
    run = sim.run("alliance", seed=1, months=MONTHS, overrides=SMALL)
    assert run.timeseries.index.name == "month"
    assert run.timeseries.index.dtype == np.int64
    assert list(run.timeseries.index) == list(range(MONTHS))
    assert "month" not in run.timeseries.columns


def test_dir_lists_the_public_names():
    names = dir(sim)
    for name in ("run", "evaluate", "evaluate_many", "kpi_info", "AllianceModel", "RunResult"):
        assert name in names
    assert not [n for n in names if n.startswith("_") and not n.endswith("__")]


# --------------------------------------------------------------------------- evaluate_many

POINTS = [{"world.rates.shift_bp": b, **SMALL} for b in (0, 250)]


def test_evaluate_many_is_the_same_on_one_process_and_a_pool():
    serial = sim.evaluate_many(POINTS, seeds=2, months=MONTHS)
    pooled = sim.evaluate_many(POINTS, seeds=2, months=MONTHS, engine="processes", workers=2)
    pd.testing.assert_frame_equal(serial, pooled)
    pairs = list(serial[["point", "seed"]].itertuples(index=False, name=None))
    assert pairs == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert list(serial["world.rates.shift_bp"]) == [0, 0, 250, 250]
    one = sim.evaluate(POINTS[1], seed=1, months=MONTHS)
    assert serial.iloc[3]["fiscal_npv_usd"] == one["fiscal_npv_usd"]
    assert serial.iloc[3]["fiscal_npv_usd"] != serial.iloc[1]["fiscal_npv_usd"]


def test_evaluate_many_takes_a_dataframe_and_an_executor():
    from concurrent.futures import ThreadPoolExecutor

    frame = pd.DataFrame(POINTS)
    with ThreadPoolExecutor(2) as pool:
        threaded = sim.evaluate_many(frame, seeds=[7], months=MONTHS, engine=pool)
    serial = sim.evaluate_many(POINTS, seeds=[7], months=MONTHS)
    pd.testing.assert_frame_equal(threaded, serial)


def test_evaluate_many_failed_runs_raise_or_are_kept_with_their_reason():
    points = [POINTS[0], {"world.rates.shift_bp": 9999, **SMALL}]
    with pytest.raises(RuntimeError, match=r"1 of 2 runs failed; first: point 1 .*shift_bp"):
        sim.evaluate_many(points, seeds=1, months=3)
    kept = sim.evaluate_many(points, seeds=1, months=3, errors="keep")
    assert kept["error"].isna().tolist() == [True, False]
    assert "shift_bp" in kept.loc[1, "error"]
    assert np.isnan(kept.loc[1, "fiscal_npv_usd"]) and np.isfinite(kept.loc[0, "fiscal_npv_usd"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"engine": "gpu"}, "engine = 'gpu'"),
        ({"errors": "ignore"}, "errors = 'ignore'"),
        ({"seeds": []}, "nothing to run"),
    ],
)
def test_evaluate_many_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sim.evaluate_many(POINTS, months=1, **kwargs)


# --------------------------------------------------------------------------- tidy run store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    from experiments.engine.batch import run_experiment
    from experiments.engine.spec import load_spec

    spec = load_spec(
        {
            "experiment": {
                "name": "tidy",
                "seed": 5,
                "replications": 2,
                "months": 12,
                "timeseries": True,
                "timeseries_stride": 6,
                "kpis": ["fiscal_npv_usd", "welfare_usd"],
            },
            "scenarios": [
                {"file": "traditional"},
                {"file": "alliance", "overlays": ["rate_shock"]},
                {"file": "alliance", "label": "my design"},
            ],
            "design": {
                "kind": "grid",
                "parameters": {
                    "world.residents.simulated_agents": {"values": [1000]},
                    "world.rates.shift_bp": {"values": [0.0, 100.0]},
                },
            },
        }
    )
    out = tmp_path_factory.mktemp("tidy") / "store"
    run_experiment(spec, out)
    return out


def test_tidy_runs_split_design_and_overlay_and_keep_one_value_per_row(store):
    import experiments

    wide = experiments.load(store)
    long = experiments.load(store, tidy=True)
    assert len(wide) == 3 * 2 * 2
    assert len(long) == len(wide) * 2  # two KPIs kept
    assert list(long.columns) == [
        "run_id", "design", "overlay", "scenario", "point", "replication", "seed",
        "world.residents.simulated_agents", "world.rates.shift_bp", "status", "kpi", "value",
    ]  # fmt: skip
    pairs = set(long[["scenario", "design", "overlay"]].itertuples(index=False, name=None))
    assert pairs == {
        ("traditional", "traditional", "none"),
        ("alliance+rate_shock", "alliance", "rate_shock"),
        ("my design", "alliance", "none"),
    }
    back = long.pivot(index="run_id", columns="kpi", values="value")
    wide = wide.set_index("run_id")
    for name in ("fiscal_npv_usd", "welfare_usd"):
        pd.testing.assert_series_equal(back[name], wide.loc[back.index, name], check_names=False)
    assert set(long["world.rates.shift_bp"]) == {0.0, 100.0}


def test_tidy_series_have_integer_months_and_the_runs_keys(store):
    import experiments

    long = experiments.load(store, timeseries=True, tidy=True)
    assert long["month"].dtype == np.int64
    assert sorted(set(long["month"])) == [0, 6]
    assert {"design", "overlay", "replication", "series", "value"} <= set(long.columns)
    assert long["value"].notna().all()
    one = long[(long["series"] == "trust_mean")].groupby("run_id").size()
    assert (one == 2).all() and len(one) == 12
