"""A Gaussian-process emulator on the unit hypercube, and Monte Carlo Sobol indices of it.

The second emulator of ``method = "emulator"`` (the first is the polynomial
chaos of :mod:`experiments.sensitivity.pce`). A polynomial converges slowly on
an output with a kink (a minimum over time, a cap that binds in part of the
space); a Gaussian process with a Matérn 5/2 kernel and one length scale per
input does not assume a global polynomial shape. On the flagship study's
lowest budget balance, a polynomial chaos on 1,024 points predicts 1,024 new
points with Q2 0.900, the Gaussian process with 0.920 (0.906 from 512 points).

:func:`fit` standardises the output, chooses the kernel's hyperparameters
(amplitude, 15 length scales, a white-noise level for the replication noise of
the averages) by maximum likelihood on the first :data:`HYPER_POINTS` points of
the design (a space-filling prefix of the Sobol' sequence: the likelihood costs
points cubed per step, and more points barely change the fit), then conditions
on every point. ``q2`` is the closed-form leave-one-out Q2 (Dubrule 1983). The
kernel is scikit-learn's (``ConstantKernel * Matern + WhiteKernel``: its
parameters, bounds and starting values); the likelihood is the one its
``GaussianProcessRegressor`` maximises, with the kernel and the gradient's
trace computed by compiled loops over pairs of points (:func:`log_likelihood`,
scikit-learn's value to 1e-12, a fit about eight times as fast), and the
predictions' kernel likewise (:meth:`GP.cross`).

:func:`draw_indices` estimates S1 (Saltelli 2010), ST (Jansen 1999) and S2
(Saltelli 2002) of the posterior mean by quasi-Monte Carlo on independently
scrambled Sobol' samples (the estimators of ``SALib.analyze.sobol``), and
their standard errors: the Monte Carlo's from the scramblings' spread, the
design's from a bootstrap over the design points (the process conditioned on
each resample). (The spread of the indices of posterior realisations, Le
Gratiet, Cannamela and Iooss 2014, was tried: on a sample small enough for
their joint covariance its variance shrank as 1/N towards nothing, so it
measured the sample's Monte Carlo error, not the emulator's.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
from numba import njit

#: Design points the hyperparameters are fitted on (the first ones).
HYPER_POINTS = 512
#: Base rows of the Monte Carlo sample for the indices of the posterior mean.
MC_ROWS = 8192
#: Independent scramblings the rows are split into (their spread is the Monte Carlo error).
SCRAMBLES = 8
#: Bootstrap resamples at most (memory: resamples x Monte Carlo points floats).
MAX_DRAWS = 100
#: Design points above which the process is not fitted (each resample is a Cholesky).
MAX_POINTS = 4096
#: Rows of a prediction at a time (memory: rows x design points floats).
CHUNK = 4096
#: Resamples whose indices are estimated at a time (memory).
BATCH = 8
#: Likelihood fits remembered, by their points and outputs: a study whose design
#: doubles fits the same first 512 points again each round (the oldest are dropped).
CACHE = 64
_FITTED: dict[bytes, Any] = {}


@dataclass
class GP:
    """A fitted process: the kernel, the design, and what predicting needs."""

    kernel: Any  # scikit-learn kernel: ConstantKernel * Matern + WhiteKernel, fitted
    unit: np.ndarray  # the design, points x D
    z: np.ndarray  # the standardised outputs, (y - mean) / scale
    alpha: np.ndarray  # (K + noise)^-1 z
    chol: np.ndarray  # lower Cholesky factor of K + noise
    mean: float
    scale: float
    q2: float  # leave-one-out

    @property
    def signal(self) -> Any:
        """The latent function's kernel (amplitude times Matérn), without the noise."""
        return self.kernel.k1

    def cross(self, unit: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
        """The latent kernel between points and the design (or ``other``).

        :attr:`signal`'s values (to rounding), by a compiled loop: scikit-learn's
        took most of the indices' time.

        Args:
            unit: Points x D.
            other: Points x D (default: the design).

        Returns:
            len(unit) x len(other).
        """
        return _cross(self.kernel, unit, self.unit if other is None else other)

    def predict(self, unit: np.ndarray) -> np.ndarray:
        """The posterior mean at points of the unit hypercube (in the output's units).

        Args:
            unit: Points x D in [0, 1].

        Returns:
            Predictions.
        """
        return self._standard(unit) * self.scale + self.mean

    def _standard(self, unit: np.ndarray) -> np.ndarray:
        """The posterior mean of the standardised output, a chunk of rows at a time."""
        out = np.empty(len(unit))
        for start in range(0, len(unit), CHUNK):
            rows = slice(start, start + CHUNK)
            out[rows] = self.cross(unit[rows]) @ self.alpha
        return out


def _cross(kernel: Any, unit: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The latent kernel of a fitted :func:`_kernel` between two sets of points."""
    signal = kernel.k1
    amplitude = float(signal.k1.constant_value)
    scale = np.asarray(signal.k2.length_scale, dtype=float)
    return _matern52(
        np.ascontiguousarray(unit / scale), np.ascontiguousarray((other / scale).T), amplitude
    )


@njit(cache=True)
def _root5_distances(xi: np.ndarray, yt: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover
    """sqrt(5) times the distance between a point and each column of yt, into ``out``.

    Both are already divided by the length scales. The squared differences are
    summed in column order, as scikit-learn's ``cdist`` does, against all of yt
    at once so that the loop vectorises.
    """
    out[:] = 0.0
    for k in range(xi.shape[0]):
        xk = xi[k]
        for j in range(yt.shape[1]):
            diff = xk - yt[k, j]
            out[j] += diff * diff
    for j in range(yt.shape[1]):
        out[j] = np.sqrt(out[j]) * np.sqrt(5.0)


@njit(cache=True)
def _matern52(x: np.ndarray, yt: np.ndarray, amplitude: float) -> np.ndarray:  # pragma: no cover
    """The latent kernel between the rows of x and the columns of yt (scaled as above).

    The arithmetic of scikit-learn's ``ConstantKernel * Matern(nu=2.5)``, a row at a time.
    """
    out = np.empty((x.shape[0], yt.shape[1]))
    r = np.empty(yt.shape[1])
    for i in range(x.shape[0]):
        _root5_distances(x[i], yt, r)
        for j in range(yt.shape[1]):
            out[i, j] = amplitude * ((1.0 + r[j] + r[j] * r[j] / 3.0) * np.exp(-r[j]))
    return out


def _kernel(d: int) -> Any:
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        np.full(d, 0.5), (1e-2, 1e3), nu=2.5
    ) + WhiteKernel(0.05, (1e-8, 1.0))


#: What scikit-learn's ``GaussianProcessRegressor`` adds to the likelihood's diagonal
#: (its ``alpha``), kept so that the likelihood is the one it maximises.
_DIAGONAL = 1e-10


@njit(cache=True)
def _pairs(xs: np.ndarray, amplitude: float) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """The latent kernel of the design with itself, and its derivatives' common factor.

    Args:
        xs: The design divided by the length scales.
        amplitude: The kernel's amplitude.

    Returns:
        ``(k, g)``: k as :func:`_matern52`; ``g = amplitude (5/3) (1 + r) e^-r``
        (r = sqrt(5) times the scaled distance), which times the squared scaled
        difference in input c is k's derivative by log length scale c.
    """
    n = xs.shape[0]
    xt = xs.T.copy()
    k = np.empty((n, n))
    g = np.empty((n, n))
    r = np.empty(n)
    for i in range(n):
        _root5_distances(xs[i], xt, r)
        for j in range(n):
            e = np.exp(-r[j])
            k[i, j] = amplitude * ((1.0 + r[j] + r[j] * r[j] / 3.0) * e)
            g[i, j] = amplitude * (5.0 / 3.0) * (1.0 + r[j]) * e
    return k, g


@njit(cache=True)
def _scale_gradient(
    xs: np.ndarray, inner: np.ndarray, g: np.ndarray
) -> np.ndarray:  # pragma: no cover
    """The log likelihood's derivative by each log length scale.

    ``0.5 * sum_ij inner_ij g_ij (xs_ic - xs_jc)^2`` for each input c, over the
    pairs i > j once (both matrices are symmetric, the diagonal's differences 0).

    Args:
        xs: The design divided by the length scales.
        inner: ``alpha alpha' - K^-1`` (C order).
        g: :func:`_pairs`'s factor.

    Returns:
        D derivatives.
    """
    n, d = xs.shape
    out = np.zeros((n, d))
    for i in range(n):
        acc = np.zeros(d)
        for j in range(i):
            w = inner[i, j] * g[i, j]
            for c in range(d):
                diff = xs[i, c] - xs[j, c]
                acc[c] += w * diff * diff
        out[i] = acc
    return out.sum(axis=0)


def log_likelihood(theta: np.ndarray, unit: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
    """The log marginal likelihood of the kernel's hyperparameters, and its gradient.

    The likelihood scikit-learn's ``GaussianProcessRegressor.log_marginal_likelihood``
    computes for :func:`_kernel` (Rasmussen and Williams 2006, eq. 5.8-5.9), with the
    kernel and the trace of the gradient by compiled loops over the pairs of
    points instead of points x points x parameters arrays: six to ten times as fast.

    Args:
        theta: log amplitude, log length scales (D), log noise: the kernel's ``theta``.
        unit: Points x D.
        z: The standardised outputs.

    Returns:
        ``(value, gradient by theta)``; ``(-inf, zeros)`` where the covariance is not
        positive definite (as scikit-learn's).
    """
    d = unit.shape[1]
    amplitude, scales, noise = np.exp(theta[0]), np.exp(theta[1 : d + 1]), np.exp(theta[-1])
    xs = np.ascontiguousarray(unit / scales)
    k, g = _pairs(xs, amplitude)
    n = len(z)
    cov = k.copy()
    cov[np.diag_indices(n)] += noise + _DIAGONAL
    try:
        low = scipy.linalg.cholesky(cov, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return -np.inf, np.zeros_like(theta)
    alpha = scipy.linalg.cho_solve((low, True), z, check_finite=False)
    value = -0.5 * z @ alpha - np.log(np.diag(low)).sum() - n / 2 * np.log(2 * np.pi)
    inverse = scipy.linalg.lapack.dpotri(low, lower=1)[0]  # its lower triangle
    inverse = np.tril(inverse) + np.tril(inverse, -1).T
    inner = np.ascontiguousarray(np.outer(alpha, alpha) - inverse)
    gradient = np.empty_like(theta)
    gradient[0] = 0.5 * np.sum(inner * k)
    gradient[1 : d + 1] = _scale_gradient(xs, inner, g)
    gradient[-1] = 0.5 * noise * np.trace(inner)
    return float(value), gradient


def _optimise(unit: np.ndarray, z: np.ndarray) -> Any:
    """The kernel whose hyperparameters maximise the likelihood.

    L-BFGS-B from the kernel's starting values, within its bounds, as
    ``GaussianProcessRegressor.fit`` does (with :func:`log_likelihood`).
    """
    from scipy.optimize import minimize

    kernel = _kernel(unit.shape[1])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = log_likelihood(theta, unit, z)
        return -value, -gradient

    best = minimize(objective, kernel.theta, method="L-BFGS-B", jac=True, bounds=kernel.bounds)
    return kernel.clone_with_theta(best.x)


def fit(unit: np.ndarray, y: np.ndarray, kernel: Any = None) -> GP:
    """Fit the process: hyperparameters on the first points, conditioned on all.

    Args:
        unit: Points x D in [0, 1], in design order.
        y: The output at each point.
        kernel: Fitted hyperparameters to reuse (no likelihood optimisation).

    Returns:
        The process; ``q2`` is 1 - the leave-one-out mean squared error / the variance of y.
    """
    unit = np.asarray(unit, dtype=float)
    y = np.asarray(y, dtype=float)
    n, d = unit.shape
    mean, scale = float(y.mean()), float(y.std())
    scale = scale if scale > 0 else 1.0
    z = (y - mean) / scale
    hyper = min(n, HYPER_POINTS)
    key = hashlib.sha1(
        repr(unit[:hyper].shape).encode() + unit[:hyper].tobytes() + z[:hyper].tobytes()
    ).digest()
    if kernel is None and key in _FITTED:
        kernel = _FITTED[key]  # the same first points and outputs: the same likelihood fit
    if kernel is None:
        kernel = _optimise(unit[:hyper], z[:hyper])
        _FITTED[key] = kernel
        while len(_FITTED) > CACHE:
            _FITTED.pop(next(iter(_FITTED)))
    covariance = _cross(kernel, unit, unit)
    covariance[np.diag_indices(n)] += float(kernel.k2.noise_level)
    chol = _cholesky(covariance)
    alpha = scipy.linalg.cho_solve((chol, True), z)
    inv_diag = (scipy.linalg.solve_triangular(chol, np.eye(n), lower=True) ** 2).sum(axis=0)
    loo = alpha / inv_diag  # Dubrule (1983): the leave-one-out residuals
    q2 = float(1.0 - np.mean(loo**2) / np.var(z))
    return GP(kernel, unit, z, alpha, chol, mean, scale, q2)


def _cholesky(k: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor, with a jitter if rounding asks for one.

    With a nugget near zero (a deterministic model) rounding can leave the
    covariance not quite positive definite: then 1e-10, 1e-9, ... of its mean
    diagonal is added, up to 1e-6.
    """
    scale = float(np.mean(np.diag(k)))
    for jitter in (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6):
        try:
            return scipy.linalg.cholesky(k + jitter * scale * np.eye(len(k)), lower=True)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("the Gaussian process's covariance is not positive definite")


def sample(d: int, rows: int, seed: Any, second_order: bool) -> np.ndarray:
    """A Saltelli sample on the unit hypercube: A, B, AB_i (i < D), then BA_i if second order.

    Args:
        d: Inputs.
        rows: Base rows N.
        seed: The scrambling's seed (an int or a ``numpy.random.Generator``).
        second_order: Include the BA_i matrices (S2).

    Returns:
        Blocks x N x D, blocks = 2 + D (+ D).
    """
    from scipy.stats import qmc

    base = qmc.Sobol(2 * d, scramble=True, seed=seed).random(rows)
    a, b = base[:, :d], base[:, d:]
    blocks = [a, b]
    for i in range(d):
        ab = a.copy()
        ab[:, i] = b[:, i]
        blocks.append(ab)
    if second_order:
        for i in range(d):
            ba = b.copy()
            ba[:, i] = a[:, i]
            blocks.append(ba)
    return np.stack(blocks)


def saltelli(f: np.ndarray, d: int) -> dict[str, np.ndarray]:
    """S1, ST and S2 from outputs on a :func:`sample` (the estimators of ``SALib.analyze.sobol``).

    Args:
        f: Outputs, ... x blocks x N (leading axes: resamples).
        d: Inputs.

    Returns:
        ``{"S1": (..., D), "ST": (..., D), "S2": (..., D, D) upper triangle}`` (S2 zero
        without the BA blocks).
    """
    flat = f.reshape(f.shape[:-2] + (-1,))
    centre = flat.mean(axis=-1)[..., None, None]
    spread = flat.std(axis=-1)[..., None, None]
    f = (f - centre) / np.where(spread > 0, spread, 1.0)  # as SALib does: S2 depends on it
    fa, fb, fab = f[..., 0, :], f[..., 1, :], f[..., 2 : 2 + d, :]
    var = np.concatenate([fa, fb], axis=-1).var(axis=-1)[..., None]
    s1 = np.mean(fb[..., None, :] * (fab - fa[..., None, :]), axis=-1) / var
    st = 0.5 * np.mean((fa[..., None, :] - fab) ** 2, axis=-1) / var
    s2 = np.zeros(f.shape[:-2] + (d, d))
    if f.shape[-2] == 2 + 2 * d:
        fba = f[..., 2 + d :, :]
        base = (fa * fb)[..., None, None, :]
        vjk = np.mean(fba[..., :, None, :] * fab[..., None, :, :] - base, axis=-1) / var[..., None]
        upper = np.triu(np.ones((d, d), dtype=bool), 1)
        s2 = np.where(upper, vjk - s1[..., :, None] - s1[..., None, :], 0.0)
    return {"S1": s1, "ST": st, "S2": s2}


def draw_indices(
    gp: GP, draws: int, seed: int, second_order: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The posterior mean's indices, and their standard errors (:func:`index_errors` combined).

    Args:
        gp: The fitted process.
        draws: Bootstrap resamples of the design.
        seed: Their seed, and the samples' scramblings.
        second_order: Estimate S2 as well.

    Returns:
        ``(values, sd)``: each ``{"S1": (D,), "ST": (D,), "S2": (D, D) upper triangle}``;
        ``sd`` is the Monte Carlo's and the design's errors in quadrature.
    """
    values, mc, design = index_errors(gp, draws, seed, second_order)
    return values, {k: np.sqrt(mc[k] ** 2 + design[k] ** 2) for k in values}


def index_errors(
    gp: GP, draws: int, seed: int, second_order: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The posterior mean's indices, their Monte Carlo error and the design's.

    Two errors, estimated apart (:func:`draw_indices` adds them in quadrature):

    - **The Monte Carlo's**, by randomised quasi-Monte Carlo (Owen 1997): the
      :data:`MC_ROWS` rows are :data:`SCRAMBLES` independently scrambled Sobol'
      samples; the indices are the mean of theirs, and its standard error is
      their spread over the square root of their number. (A bootstrap over the
      rows treats them as independent draws and overstates a scrambled
      sequence's error: on the flagship study's lowest balance it said 0.011 for
      S1 where repeated 8,192-row samples differ by 0.002.)
    - **The design's**, by a bootstrap over the design points: each resample
      draws the points with replacement and conditions the process on them (the
      hyperparameters fixed: a refit per resample would cost minutes); its
      indices are estimated on the same Monte Carlo rows as the fit's, so their
      spread is the emulator's dependence on the points it saw (and on their
      noise), not the rows'. The analogue of the polynomial chaos's HC3 draws.

    Args:
        gp: The fitted process.
        draws: Bootstrap resamples (at most :data:`MAX_DRAWS`; above 2,048 design points
            fewer, 50 at 4,096: each is a Cholesky factorisation of the design).
        seed: Their seed, and the samples' scramblings.
        second_order: Estimate S2 as well.

    Returns:
        ``(values, mc, design)``: standard errors; each
        ``{"S1": (D,), "ST": (D,), "S2": (D, D) upper triangle}``.
    """
    n, d = gp.unit.shape
    draws = max(2, min(draws, MAX_DRAWS, max(20, MAX_DRAWS * 2048 // n)))
    rng = np.random.default_rng(seed)
    streams = np.random.SeedSequence(seed).spawn(SCRAMBLES)
    big = np.stack(
        [sample(d, MC_ROWS // SCRAMBLES, np.random.default_rng(s), second_order) for s in streams]
    )  # scramblings x blocks x rows x D
    points = big.reshape(-1, d)
    signal = gp.cross(gp.unit)
    noise = float(gp.kernel.k2.noise_level)
    weights = np.zeros((n, draws + 1))
    weights[:, 0] = gp.alpha
    for b in range(draws):
        idx = rng.integers(0, n, n)
        k = signal[np.ix_(idx, idx)]  # a repeated point: its noise is independent each time
        k[np.arange(n), np.arange(n)] += noise
        alpha = scipy.linalg.cho_solve((_cholesky(k), True), gp.z[idx])
        np.add.at(weights[:, b + 1], idx, alpha)
    f = np.empty((draws + 1, len(points)))  # the fit, then the resamples
    for start in range(0, len(points), CHUNK):
        rows = slice(start, start + CHUNK)
        f[:, rows] = (gp.cross(points[rows]) @ weights).T
    f = f.reshape((draws + 1,) + big.shape[:3])
    per = _stacked(saltelli(f[i : i + BATCH], d) for i in range(0, draws + 1, BATCH))
    values = {k: v[0].mean(axis=0) for k, v in per.items()}
    mc = {k: v[0].std(axis=0, ddof=1) / np.sqrt(SCRAMBLES) for k, v in per.items()}
    design = {k: v[1:].mean(axis=1).std(axis=0, ddof=1) for k, v in per.items()}
    return values, mc, design


def _stacked(parts: Any) -> dict[str, np.ndarray]:
    """Batches of :func:`saltelli` results joined along the first axis."""
    parts = list(parts)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
