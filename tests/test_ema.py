"""experiments.ema: the EMA Workbench model of the alliance scenarios, and PRIM against EMA's.

One small ``perform_experiments`` (24 worlds x 2 designs x 2 replications, five
simulated years, 500 simulated residents) feeds every test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ema_workbench")

from ema_workbench import (  # noqa: E402
    MultiprocessingEvaluator,
    ScalarOutcome,
    perform_experiments,
)
from ema_workbench.analysis import prim as ema_prim  # noqa: E402
from ema_workbench.analysis.feature_scoring import get_feature_scores_all  # noqa: E402
from ema_workbench.analysis.scenario_discovery_util import _in_box  # noqa: E402

from experiments.discovery.prim import prim  # noqa: E402
from experiments.ema import (  # noqa: E402
    DESIGN,
    INSTALL,
    design_policies,
    ema,
    ema_model,
    inputs,
    sample_scenarios,
    spec_parameters,
)
from experiments.engine.design import replication_seed  # noqa: E402
from sim import evaluate  # noqa: E402
from sim.model.outputs import SCORECARD, kpi  # noqa: E402

DESIGNS = ("traditional", "alliance")
MONTHS = 60
SEED = 11
CONSTANTS = {"world.residents.simulated_agents": 500}
SPEC = "discovery_alliance"


@pytest.fixture(scope="module")
def model():
    return ema_model(
        DESIGNS,
        uncertainties=SPEC,
        replications=2,
        seed=SEED,
        months=MONTHS,
        constants=CONSTANTS,
        per_replication=True,
    )


@pytest.fixture(scope="module")
def results(model):
    return perform_experiments(model, sample_scenarios(model, 24, seed=3), design_policies(model))


def test_the_model_names_the_spec_worlds_the_designs_and_the_scorecard(model):
    assert [p.name for p in model.uncertainties] == list(spec_parameters(SPEC))
    assert [p.name for p in model.levers] == [DESIGN]
    assert [c.value for c in model.levers[DESIGN].categories] == list(DESIGNS)
    assert [r["seed"] for r in model.replications] == [
        replication_seed(SEED, 0),
        replication_seed(SEED, 1),
    ]
    scalar = [o for o in model.outcomes if isinstance(o, ScalarOutcome)]
    assert [o.name for o in scalar] == list(SCORECARD)
    kinds = {1: ScalarOutcome.MAXIMIZE, -1: ScalarOutcome.MINIMIZE, 0: ScalarOutcome.INFO}
    for o in scalar:
        assert o.kind == kinds[kpi(o.name).direction], o.name
    # the catalogue has all three directions among the scorecard's KPIs
    assert {o.kind for o in scalar} == set(kinds.values())


def test_outcomes_are_finite_replication_means(model, results):
    experiments, outcomes = results
    assert len(experiments) == 48
    assert experiments.groupby("scenario", observed=True)[DESIGN].nunique().eq(2).all()
    for name in SCORECARD:
        assert outcomes[name].shape == (48,)
        assert np.isfinite(outcomes[name]).all(), name
        each = outcomes[f"{name}.replications"]
        assert each.shape == (48, 2)
        np.testing.assert_allclose(outcomes[name], each.mean(axis=1), rtol=1e-12)
    # two replications of a world differ (the seed reaches the model) ...
    assert not np.array_equal(*outcomes["fiscal_npv_usd.replications"].T)
    # ... and the designs differ on the same world
    npv = pd.Series(outcomes["fiscal_npv_usd"]).groupby(experiments[DESIGN].to_numpy()).mean()
    assert npv["alliance"] != npv["traditional"]


def test_every_design_runs_the_engine_seeds_in_the_same_world(model, results):
    """Common random numbers: run r of any experiment is sim.evaluate with the engine's seed r."""
    experiments, outcomes = results
    world = experiments["scenario"].iloc[0]
    names = [p.name for p in model.uncertainties]
    rows = experiments.index[experiments["scenario"] == world]
    assert len(rows) == 2
    params = experiments.loc[rows[0], names].to_dict()
    assert experiments.loc[rows[1], names].to_dict() == params  # the same world
    for i in rows:
        design = experiments.loc[i, DESIGN]
        for r in range(2):
            again = evaluate(
                {**params, **CONSTANTS}, design, seed=replication_seed(SEED, r), months=MONTHS
            )
            assert outcomes["fiscal_npv_usd.replications"][i, r] == again["fiscal_npv_usd"]


def test_the_same_seeds_give_the_same_numbers_in_worker_processes(model, results):
    experiments, outcomes = results
    assert [dict(s) for s in sample_scenarios(model, 24, seed=3)] == [
        dict(s) for s in sample_scenarios(model, 24, seed=3)
    ]
    assert [dict(s) for s in sample_scenarios(model, 4, seed=4)] != [
        dict(s) for s in sample_scenarios(model, 4, seed=3)
    ]
    two = sample_scenarios(model, 24, seed=3)[:2]
    with MultiprocessingEvaluator(model, n_processes=2) as evaluator:
        again_x, again_y = evaluator.perform_experiments(two, design_policies(model))
    key = ["scenario", "policy"]
    first = experiments[key].astype(str).reset_index()
    second = again_x[key].astype(str).reset_index()
    matched = second.merge(first, on=key, suffixes=("_again", ""))
    assert len(matched) == 4
    for name in SCORECARD:
        np.testing.assert_array_equal(
            again_y[name][matched["index_again"]], outcomes[name][matched["index"]]
        )


def test_levers_and_sampled_policies_pair_the_designs():
    model = ema_model(
        DESIGNS,
        uncertainties={"world.rates.shift_bp": (0, 200)},
        levers={"policy.financing.debt_cap_share": (0.08, 0.12)},
        outcomes=["fiscal_npv_usd"],
        replications=1,
    )
    policies = design_policies(model, 3, seed=1)
    assert [p.name for p in policies] == [f"{d}.{i}" for d in DESIGNS for i in range(3)]
    caps = [p["policy.financing.debt_cap_share"] for p in policies]
    assert caps[:3] == caps[3:] and len(set(caps)) == 3  # each design at the same settings
    assert all(0.08 <= c <= 0.12 for c in caps)
    one = ema_model("alliance", uncertainties={"world.rates.shift_bp": (0, 200)})
    assert DESIGN not in [p.name for p in one.levers]
    assert [p.name for p in design_policies(one)] == ["alliance"]
    integer = ema_model(
        "alliance",
        uncertainties={"world.regulator.approval_months_mean": (1.0, 12.0)},
        levers={"policy.pilot.months": (6, 24)},
    )
    assert type(integer.levers["policy.pilot.months"]).__name__ == "IntegerParameter"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uncertainties": {"policy.pilot.months": (6, 24)}}, r"policy\.pilot\.months: a policy"),
        (
            {"uncertainties": {"world.rates.shift_bps": (0, 100)}},
            r"world\.rates\.shift_bps: not a world parameter.*did you mean 'world\.rates",
        ),
        (
            {"uncertainties": {"world.rates.shift_bp": (-400, 100)}},
            r"world\.rates\.shift_bp: range \(-400, 100\) lies outside the schema's -300 \.\. 1000",
        ),
        (
            {"uncertainties": {"world.procurement.rfi_mou_months": (2, 9)}},
            r"world\.procurement\.rfi_mou_months: does not apply to scenario 'traditional'",
        ),
        (
            {"levers": {"policy.pilot.share_of_units": (0.01, 0.1)}},
            r"policy\.pilot\.share_of_units: does not apply to scenario 'traditional'",
        ),
        ({"levers": {"policy.pilot.enabled": (0, 1)}}, r"policy\.pilot\.enabled: the schema"),
        ({"levers": {"policy.pilot.months": (6.5, 24)}}, r"policy\.pilot\.months: an integer"),
        ({"outcomes": ["fiscal_npv"]}, r"'fiscal_npv' is not a KPI.*did you mean"),
        ({"outcomes": ["welfare_usd", "welfare_usd"]}, r"'welfare_usd' is named twice"),
        ({"uncertainties": "no_such_spec"}, r"no_such_spec: no such spec"),
        ({"replications": 0}, r"replications = 0"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ema_model(DESIGNS, **kwargs)


def test_an_unknown_design_is_refused():
    with pytest.raises(ValueError, match="designs: 'nowhere'"):
        ema_model(["alliance", "nowhere"])


def test_without_the_workbench_one_import_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    with pytest.raises(ImportError, match=r"pip install 'alliance-sim\[interop\]'"):
        ema()
    assert "interop" in INSTALL
    code = (
        "import sys; sys.modules['ema_workbench'] = None\n"
        "import experiments, experiments.ema\n"
        "try:\n    experiments.ema.ema_model()\n"
        "except ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert INSTALL in done.stdout


def _peeling_only(monkeypatch):
    """EMA's find_box pastes the last peeled box: compare peeling alone."""
    monkeypatch.setattr(ema_prim.Prim, "_paste", lambda self, box: box)


@pytest.mark.parametrize(
    ("quantile", "alpha"), [(0.15, 0.05), (0.3, 0.05), (0.5, 0.05), (0.3, 0.1)]
)
def test_the_project_prim_peels_as_ema_prim_does(model, results, quantile, alpha, monkeypatch):
    """Same data, same peeling alpha and minimum mass: the same boxes, step by step.

    EMA's PRIM with the original objective (the box's mean) is the project's
    peeling rule: each peel removes the same share of the box's runs and the
    limits are the same midpoints. The two break ties differently: where two
    peels give the same density, the project takes the one that keeps more runs,
    then the first parameter in column order; EMA takes the one restricting fewer
    parameters, then the first in its order (upper before lower). So the
    trajectories agree up to the first tie, where they may part (on this data
    they do, a few steps in); every step of EMA's trajectory is still a best
    peel by the project's rule from the box before it (the project's PRIM run
    on the runs of that box peels to the same density and size).
    """
    _peeling_only(monkeypatch)
    experiments, outcomes = results
    x = inputs(experiments, model)
    y = outcomes["fiscal_npv_usd"] < np.quantile(outcomes["fiscal_npv_usd"], quantile)
    ours = prim(x, y, alpha=alpha, min_mass=0.05, paste=False, prune=None)
    theirs = ema_prim.Prim(
        x,
        y.astype(int),
        threshold=0.5,
        peel_alpha=alpha,
        mass_min=0.05,
        obj_function=ema_prim.PRIMObjectiveFunctions.ORIGINAL,
    )
    box = theirs.find_box()
    a = ours.trajectory[["coverage", "density", "mass"]].to_numpy()
    b = box.peeling_trajectory[["coverage", "density", "mass"]].to_numpy()
    numeric = [c for c in x.columns if c != DESIGN]
    parted = None
    for i in range(min(len(a), len(b))):
        inside = ours.boxes[i].contains(x)
        if not np.array_equal(inside, _in_box(theirs.x, box.box_lims[i])):
            parted = i
            break
        np.testing.assert_allclose(a[i], b[i], rtol=0, atol=1e-12)
        for name in numeric:  # the same limits, where restricted
            lo, hi = box.box_lims[i][name]
            lo_ours, hi_ours = ours.boxes[i].lower[name], ours.boxes[i].upper[name]
            if lo_ours > -np.inf:
                assert lo == pytest.approx(lo_ours, rel=1e-12)
            if hi_ours < np.inf:
                assert hi == pytest.approx(hi_ours, rel=1e-12)
        assert set(box.box_lims[i][DESIGN][0]) == set(ours.boxes[i].levels[DESIGN])
    if parted is None:
        assert len(a) == len(b)  # no tie: the whole trajectories agree
    else:
        assert parted > 0
        assert a[parted][1] == b[parted][1]  # the same density: a tie ...
        assert a[parted][2] >= b[parted][2]  # ... the project keeping at least as many runs
    checked = 0
    for i in range(len(b) - 1):
        sub = np.asarray(_in_box(theirs.x, box.box_lims[i]))
        if y[sub].all():  # density 1: every peel ties, nothing to compare
            continue
        step = prim(
            x[sub].reset_index(drop=True),
            y[sub],
            alpha=alpha,
            min_mass=1e-9,
            paste=False,
            prune=None,
        ).trajectory.iloc[1]
        assert step["density"] == box.peeling_trajectory["density"].iloc[i + 1], i
        assert step["n"] == box.peeling_trajectory["n"].iloc[i + 1], i
        checked += 1
    assert checked >= 4


def test_feature_scoring_runs_on_the_results(model, results):
    experiments, outcomes = results
    x = inputs(experiments, model)
    kpis = ["fiscal_npv_usd", "debt_outstanding_usd", "savings_usd"]
    scores = get_feature_scores_all(x, {k: outcomes[k] for k in kpis}, random_state=0)
    assert sorted(scores.index) == sorted(x.columns)
    assert list(scores.columns) == kpis
    np.testing.assert_allclose(scores.sum(), 1.0)
    assert np.isfinite(scores.to_numpy()).all()
