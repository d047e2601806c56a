"""The polynomial chaos expansion: basis, indices from coefficients, known answers."""

import math

import numpy as np
import pytest
from scipy.stats import qmc

from experiments.engine.analytic import (
    g_function,
    g_function_indices,
    ishigami,
    ishigami_indices,
)
from experiments.sensitivity import pce


def ishigami_unit(u: np.ndarray) -> np.ndarray:
    x = -math.pi + 2 * math.pi * u
    return np.array([ishigami({f"x{j + 1}": v for j, v in enumerate(row)}, 0)["y"] for row in x])


def g_unit(u: np.ndarray) -> np.ndarray:
    return np.array([g_function({f"x{j + 1}": v for j, v in enumerate(row)}, 0)["y"] for row in u])


def test_legendre_basis_is_orthonormal_on_the_unit_interval():
    nodes, weights = np.polynomial.legendre.leggauss(20)
    table = pce.legendre((nodes + 1) / 2, 8)
    gram = (table * (weights / 2)[:, None]).T @ table
    np.testing.assert_allclose(gram, np.eye(9), atol=1e-12)


def test_multi_indices_truncation():
    full = pce.multi_indices(3, 3, q=1.0, max_interaction=3)
    assert len(full) == math.comb(3 + 3, 3)  # every term of total degree <= 3
    assert (full[0] == 0).all()
    sparse = pce.multi_indices(3, 3, q=0.5, max_interaction=1)
    assert len(sparse) == 1 + 3 * 3 and ((sparse > 0).sum(axis=1) <= 1).all()


def test_indices_from_coefficients():
    """Y = psi1(u1) + 2 psi1(u2) + psi1(u1) psi1(u2): variance 1 + 4 + 1."""
    alphas = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]])
    s = pce.sobol_indices(alphas, np.array([5.0, 1.0, 2.0, 1.0]))
    np.testing.assert_allclose(s["S1"], [1 / 6, 4 / 6, 0])
    np.testing.assert_allclose(s["ST"], [2 / 6, 5 / 6, 0])
    assert s["S2"][0, 1] == pytest.approx(1 / 6) and s["S2"].sum() == pytest.approx(1 / 6)


def test_ishigami_from_256_points():
    u = qmc.Sobol(4, scramble=True, seed=3).random(256)
    fitted = pce.fit(u, ishigami_unit(u))
    s, truth = fitted.indices(), ishigami_indices()
    for j, name in enumerate(("x1", "x2", "x3")):
        assert s["S1"][j] == pytest.approx(truth["S1"][name], abs=0.02)
        assert s["ST"][j] == pytest.approx(truth["ST"][name], abs=0.02)
    assert s["ST"][3] < 0.01 and fitted.q2 > 0.99
    assert s["S2"][0, 2] == pytest.approx(truth["ST"]["x3"], abs=0.02)  # x3 acts only with x1


def test_g_function_from_256_points():
    """A kink in every input: the smooth emulator still lands within 0.02 of the closed form."""
    u = qmc.Sobol(8, scramble=True, seed=1).random(256)
    fitted = pce.fit(u, g_unit(u), max_degree=8)
    s, truth = fitted.indices(), g_function_indices()
    for j in range(8):
        assert s["S1"][j] == pytest.approx(truth["S1"][f"x{j + 1}"], abs=0.02)
        assert s["ST"][j] == pytest.approx(truth["ST"][f"x{j + 1}"], abs=0.02)


def test_draws_are_seeded_and_noise_lowers_q2():
    rng = np.random.default_rng(0)
    u = qmc.Sobol(3, scramble=True, seed=0).random(128)
    y = u[:, 0] + 0.5 * u[:, 1] ** 2 + rng.normal(0, 0.5, 128)
    fitted = pce.fit(u, y)
    assert fitted.q2 < 0.6
    a = pce.draw_indices(fitted, u, y, 300, seed=4)
    b = pce.draw_indices(fitted, u, y, 300, seed=4)
    np.testing.assert_array_equal(a["ST"], b["ST"])
    assert a["ST"].shape == (300, 3) and a["S2"].shape == (300, 3, 3)
    s = fitted.indices()  # the draws scatter around the fit's own indices
    assert np.abs(np.median(a["ST"], axis=0) - s["ST"]).max() < 0.1
    np.testing.assert_allclose(pce.sobol_indices(fitted.alphas, fitted.coefs)["S2"], s["S2"])


def test_basis_matches_chaospy():
    chaospy = pytest.importorskip("chaospy")
    dist = chaospy.J(chaospy.Uniform(0, 1), chaospy.Uniform(0, 1))
    expansion = chaospy.generate_expansion(3, dist, normed=True, graded=False)
    u = np.random.default_rng(1).random((50, 2))
    theirs = np.abs(expansion(*u.T).T)
    alphas = np.array(expansion.exponents)[np.argsort(np.array(expansion.exponents).sum(1))]
    ours = np.abs(pce.design_matrix(u, pce.multi_indices(2, 3, q=1.0, max_interaction=2)))
    assert sorted(map(tuple, theirs.T.round(8))) == sorted(map(tuple, ours.T.round(8)))
    assert len(alphas) == ours.shape[1]
