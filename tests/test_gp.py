"""The Gaussian-process emulator: its estimators, leave-one-out Q2, known answers, the choice."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

from experiments.engine.analytic import g_function, g_function_indices
from experiments.sensitivity import gp, pce
from experiments.sensitivity.spec import load_sensitivity_spec
from experiments.sensitivity.study import run_sensitivity
from sim.config import ScenarioError


def g_unit(u: np.ndarray) -> np.ndarray:
    return np.array([g_function({f"x{j + 1}": v for j, v in enumerate(row)}, 0)["y"] for row in u])


def hinge(u: np.ndarray) -> np.ndarray:
    """A floor that binds in part of the space (as the lowest balance's does), plus a slope."""
    return np.maximum(0.0, u[:, 0] - 0.4) * 3.0 + 0.6 * u[:, 1] + 0.2 * u[:, 0] * u[:, 2]


def hinge_model(params: dict, seed: int) -> dict:
    u = np.array([[float(params["x1"]), float(params["x2"]), float(params["x3"])]])
    return {"y": float(hinge(u)[0])}


hinge_model.outputs = ("y",)


def test_saltelli_estimators_are_salibs():
    """The same outputs in SALib's row order give SALib's S1, ST and S2 to rounding."""
    from SALib.analyze import sobol

    d, n = 4, 256
    blocks = gp.sample(d, n, 3, second_order=True)  # A, B, AB_1..AB_D, BA_1..BA_D
    x = blocks.reshape(-1, d)
    f = (np.sin(3 * x[:, 0]) + x[:, 1] ** 2 * (1 + x[:, 2]) + 0.1 * x[:, 3]).reshape(
        blocks.shape[:2]
    )
    ours = gp.saltelli(f, d)
    order = [0, *range(2, 2 + d), *range(2 + d, 2 + 2 * d), 1]  # SALib: A, AB, BA, B per row
    y = f[order].T.reshape(-1)
    problem = {"num_vars": d, "names": list("abcd"), "bounds": [[0, 1]] * d}
    ref = sobol.analyze(problem, y, calc_second_order=True, num_resamples=10, seed=1)
    np.testing.assert_allclose(ours["S1"], ref["S1"], atol=1e-12)
    np.testing.assert_allclose(ours["ST"], ref["ST"], atol=1e-12)
    upper = np.triu(np.ones((d, d), dtype=bool), 1)
    np.testing.assert_allclose(ours["S2"][upper], ref["S2"][upper], atol=1e-12)
    assert (ours["S2"][~upper] == 0).all()


def test_leave_one_out_q2_is_refitting_without_each_point():
    """The closed form (Dubrule 1983) against n conditionings, each without one point."""
    u = qmc.Sobol(2, seed=4).random(32)
    y = np.sin(4 * u[:, 0]) + u[:, 1] + 0.05 * np.random.default_rng(0).standard_normal(32)
    fitted = gp.fit(u, y)
    z = (y - fitted.mean) / fitted.scale
    resid = []
    for i in range(len(u)):
        keep = np.arange(len(u)) != i
        k = fitted.kernel(u[keep])
        pred = fitted.signal(u[i : i + 1], u[keep]) @ np.linalg.solve(k, z[keep])
        resid.append(z[i] - pred[0])
    assert fitted.q2 == pytest.approx(1 - np.mean(np.square(resid)) / np.var(z), abs=1e-9)
    assert 0.9 < fitted.q2 < 1.0


def test_a_polynomial_beats_the_process_on_the_g_function_and_auto_takes_it(tmp_path):
    """Why there are two emulators (other way round): the product of kinks suits a polynomial."""
    u = qmc.Sobol(8, seed=7).random(256)
    y = g_unit(u)
    fresh = qmc.Sobol(8, seed=9).random(1024)
    y_new = g_unit(fresh)

    def q2(fitted) -> float:
        return 1 - np.mean((fitted.predict(fresh) - y_new) ** 2) / np.var(y_new)

    by_gp, by_pce = q2(gp.fit(u, y)), q2(pce.fit(u, y))
    assert by_pce > 0.98 and by_pce > by_gp
    spec = load_sensitivity_spec(
        {
            "experiment": {"model": "experiments.engine.analytic:g_function", "seed": 3},
            "sensitivity": {
                "method": "emulator",
                "n": 256,
                "kpis": ["y"],
                "bootstrap": 30,
                "parameters": {f"x{i}": {"bounds": [0.0, 1.0]} for i in range(1, 9)},
            },
        }
    )
    analysis = run_sensitivity(spec, tmp_path, engine="serial", charts=False).analysis
    fit = analysis.emulator.iloc[0]
    assert fit["emulator"] == "pce" and fit["q2_pce"] > fit["q2_gp"] and fit["q2"] == fit["q2_pce"]
    truth = g_function_indices()["ST"]
    table = analysis.indices
    st = table[table["index"] == "ST"].set_index("parameter")
    assert all(abs(st.loc[k, "value"] - v) <= st.loc[k, "ci"] + 0.01 for k, v in truth.items())


def test_the_process_beats_a_polynomial_on_a_hinge():
    """Why there are two emulators: on a floor that binds, the process predicts better."""
    u = qmc.Sobol(3, seed=2).random(256)
    fresh = qmc.Sobol(3, seed=9).random(512)
    y, y_new = hinge(u[:128]), hinge(fresh)

    def q2(pred: np.ndarray) -> float:
        return 1 - np.mean((pred - y_new) ** 2) / np.var(y_new)

    by_gp = q2(gp.fit(u[:128], y).predict(fresh))
    by_pce = q2(pce.fit(u[:128], y).predict(fresh))
    assert by_gp > by_pce and 1 - by_gp < (1 - by_pce) / 2


def hinge_spec(emulator: str, n: int = 64) -> dict:
    return {
        "experiment": {"name": "hinge", "model": "test_gp:hinge_model", "seed": 5},
        "sensitivity": {
            "method": "emulator",
            "emulator": emulator,
            "n": n,
            "kpis": ["y"],
            "bootstrap": 30,
            "parameters": {f"x{i}": {"bounds": [0.0, 1.0]} for i in (1, 2, 3)},
        },
    }


def hinge_truth() -> dict[str, np.ndarray]:
    blocks = gp.sample(3, 2**16, 11, second_order=False)
    return gp.saltelli(hinge(blocks.reshape(-1, 3)).reshape(blocks.shape[:2]), 3)


def test_auto_chooses_the_process_on_a_hinge_and_recovers_its_indices(tmp_path):
    result = run_sensitivity(
        load_sensitivity_spec(hinge_spec("auto")), tmp_path, engine="serial", charts=False
    )
    fit = result.analysis.emulator.iloc[0]
    assert fit["emulator"] == "gp" and fit["q2_gp"] > fit["q2_pce"] and fit["reported"]
    assert fit["q2"] == fit["q2_gp"]  # the chosen kind's validation Q2 decides
    assert np.isnan(fit["degree"])  # a polynomial's figures do not describe the process
    assert result.analysis.titles == {"y": "Gaussian-process emulator"}  # its chart's title
    table = result.analysis.indices
    truth = hinge_truth()
    for kind in ("S1", "ST"):
        got = table[table["index"] == kind].set_index("parameter")
        for i, expected in enumerate(truth[kind]):
            row = got.loc[f"x{i + 1}"]
            assert abs(row["value"] - expected) <= row["ci"] + 0.01, (kind, i)
    saved = pd.read_csv(tmp_path / "emulator.csv")
    assert list(saved.columns[:4]) == ["kpi", "emulator", "q2", "runs"]
    pce_only = run_sensitivity(
        load_sensitivity_spec(hinge_spec("pce")), tmp_path / "pce", engine="serial", charts=False
    )
    chaos = pce_only.analysis.emulator.iloc[0]
    assert chaos["emulator"] == "pce" and np.isnan(chaos["q2_gp"])
    assert chaos["q2"] == fit["q2_pce"]  # the same half fit, whether or not the process is tried


def test_gp_is_reproducible_and_its_errors_are_one_line(tmp_path):
    spec = load_sensitivity_spec(hinge_spec("gp", 32))
    a = run_sensitivity(spec, tmp_path / "a", engine="serial", charts=False).analysis
    b = run_sensitivity(spec, tmp_path / "b", engine="serial", charts=False).analysis
    pd.testing.assert_frame_equal(a.indices, b.indices)
    assert set(a.emulator["emulator"]) == {"gp"}
    with pytest.raises(ScenarioError) as info:
        load_sensitivity_spec(hinge_spec("kriging"))
    (line,) = info.value.problems
    assert "sensitivity.emulator" in line and "'auto', 'pce' or 'gp'" in line.replace('"', "'")


def test_a_covariance_rounding_left_singular_gets_the_smallest_jitter():
    k = np.ones((3, 3))  # three copies of one point, no nugget: singular
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(k)
    low = gp._cholesky(k)
    np.testing.assert_allclose(low @ low.T, k, atol=1e-9)
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        gp._cholesky(-np.eye(2))


def test_a_repeated_likelihood_fit_is_remembered_and_changes_nothing():
    """A design that doubles refits its first points each round: the second fit is free."""
    u = qmc.Sobol(3, seed=5).random(128)
    y = hinge(u)
    gp._FITTED.clear()
    first = gp.fit(u[:64], y[:64])
    assert len(gp._FITTED) == 1
    again = gp.fit(u[:64], y[:64])
    assert again.kernel is first.kernel  # taken from the cache, not optimised again
    np.testing.assert_array_equal(again.alpha, first.alpha)
    gp._FITTED.clear()
    np.testing.assert_array_equal(gp.fit(u[:64], y[:64]).alpha, first.alpha)  # as if never seen
    other = gp.fit(u[:64], y[:64] + u[:64, 1])  # other outputs: fitted afresh
    assert len(gp._FITTED) == 2 and other.kernel is not first.kernel


def test_a_process_that_cannot_be_fitted_leaves_the_polynomial_or_one_line(tmp_path, monkeypatch):
    from experiments.sensitivity.indices import AnalysisError

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("not positive definite")

    monkeypatch.setattr(gp, "fit", broken)
    auto = run_sensitivity(
        load_sensitivity_spec(hinge_spec("auto")), tmp_path / "a", engine="serial", charts=False
    ).analysis.emulator.iloc[0]
    assert auto["emulator"] == "pce" and np.isnan(auto["q2_gp"])
    with pytest.raises(AnalysisError, match="use emulator = 'pce' or 'auto'"):
        run_sensitivity(
            load_sensitivity_spec(hinge_spec("gp")), tmp_path / "g", engine="serial", charts=False
        )


def test_the_monte_carlo_error_is_the_scramblings_spread_not_a_row_bootstraps():
    """Scrambled rows are not independent draws: their error is read from independent scramblings.

    Twelve seeds scramble the rows afresh (the design bootstrap aside, the only
    thing a seed changes in the values): the reported Monte Carlo error matches
    how far their values actually scatter, and is well below what a bootstrap
    over the rows would have said.
    """
    u = qmc.Sobol(3, seed=2).random(128)
    fitted = gp.fit(u, hinge(u))
    runs = [gp.index_errors(fitted, 20, seed, second_order=False) for seed in range(1, 13)]
    for kind in ("S1", "ST"):
        values = np.array([r[0][kind] for r in runs])
        said = np.mean([r[1][kind] for r in runs], axis=0)
        seen = values.std(axis=0, ddof=1)
        assert ((seen / said > 0.4) & (seen / said < 2.5)).all(), (kind, seen, said)
        design = np.mean([r[2][kind] for r in runs], axis=0)
        assert (design > 0).all()  # the design's own error is there too
    blocks = gp.sample(3, gp.MC_ROWS, 1, second_order=False)
    f = fitted.predict(blocks.reshape(-1, 3)).reshape(blocks.shape[:2])
    rng = np.random.default_rng(0)
    rows = [gp.saltelli(f[:, rng.integers(0, gp.MC_ROWS, gp.MC_ROWS)], 3)["S1"] for _ in range(40)]
    row_bootstrap = np.std(rows, axis=0, ddof=1)
    assert (row_bootstrap > 10 * np.mean([r[1]["S1"] for r in runs], axis=0)).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_compiled_likelihood_and_kernel_are_scikit_learns():
    """The likelihood, its gradient and the predictions' kernel are scikit-learn's own.

    The compiled loops change only how fast they are.
    """
    from sklearn.gaussian_process import GaussianProcessRegressor

    u = qmc.Sobol(5, seed=3).random(128)
    y = hinge(u) + 0.3 * np.sin(5 * u[:, 3]) + 0.02 * np.random.default_rng(1).standard_normal(128)
    z = (y - y.mean()) / y.std()
    kernel = gp._kernel(5)
    reference = GaussianProcessRegressor(kernel, optimizer=None).fit(u, z)
    rng = np.random.default_rng(2)
    for _ in range(4):
        theta = kernel.theta + rng.normal(0.0, 0.7, len(kernel.theta))
        expected, slope = reference.log_marginal_likelihood(theta, eval_gradient=True)
        value, gradient = gp.log_likelihood(theta, u, z)
        assert value == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(gradient, slope, rtol=1e-9, atol=1e-9 * np.abs(slope).max())
    fitted = gp.fit(u, y)
    fresh = qmc.Sobol(5, seed=8).random(64)
    np.testing.assert_allclose(fitted.cross(fresh), fitted.signal(fresh, u), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(fitted.cross(u), fitted.signal(u), rtol=1e-13, atol=1e-15)
    theirs = GaussianProcessRegressor(gp._kernel(5), random_state=0).fit(u, z).kernel_
    ours = reference.log_marginal_likelihood(fitted.kernel.theta)
    assert ours >= reference.log_marginal_likelihood(theirs.theta) - 1e-6  # as good a maximum
