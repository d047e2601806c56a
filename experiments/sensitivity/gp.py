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
the averages) by maximum likelihood through scikit-learn's
``GaussianProcessRegressor`` on the first :data:`HYPER_POINTS` points of the
design (a space-filling prefix of the Sobol' sequence: the likelihood costs
points cubed per step, and more points barely change the fit), then conditions
on every point. ``q2`` is the closed-form leave-one-out Q2 (Dubrule 1983).

:func:`draw_indices` estimates S1 (Saltelli 2010), ST (Jansen 1999) and S2
(Saltelli 2002) of the posterior mean by Monte Carlo on a scrambled Sobol'
sample (the estimators of ``SALib.analyze.sobol``), and their standard errors
by one bootstrap over the design points (the process conditioned on each
resample) and the Monte Carlo rows together. (The spread of the indices of
posterior realisations, Le Gratiet, Cannamela and Iooss 2014, was tried: on a
sample small enough for their joint covariance its variance shrank as 1/N
towards nothing, so it measured the sample's Monte Carlo error, not the
emulator's.)
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

#: Design points the hyperparameters are fitted on (the first ones).
HYPER_POINTS = 512
#: Base rows of the Monte Carlo sample for the indices of the posterior mean.
MC_ROWS = 8192
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
            out[rows] = self.signal(unit[rows], self.unit) @ self.alpha
        return out


def _kernel(d: int) -> Any:
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    return ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        np.full(d, 0.5), (1e-2, 1e3), nu=2.5
    ) + WhiteKernel(0.05, (1e-8, 1.0))


def fit(unit: np.ndarray, y: np.ndarray, kernel: Any = None) -> GP:
    """Fit the process: hyperparameters on the first points, conditioned on all.

    Args:
        unit: Points x D in [0, 1], in design order.
        y: The output at each point.
        kernel: Fitted hyperparameters to reuse (no likelihood optimisation).

    Returns:
        The process; ``q2`` is 1 - the leave-one-out mean squared error / the variance of y.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor

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
        gpr = GaussianProcessRegressor(_kernel(d), n_restarts_optimizer=0, random_state=0)
        with warnings.catch_warnings():
            # a length scale at its upper bound is an input the output does not depend on
            warnings.simplefilter("ignore", ConvergenceWarning)
            kernel = gpr.fit(unit[:hyper], z[:hyper]).kernel_
        _FITTED[key] = kernel
        while len(_FITTED) > CACHE:
            _FITTED.pop(next(iter(_FITTED)))
    chol = _cholesky(kernel(unit))
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


def sample(d: int, rows: int, seed: int, second_order: bool) -> np.ndarray:
    """A Saltelli sample on the unit hypercube: A, B, AB_i (i < D), then BA_i if second order.

    Args:
        d: Inputs.
        rows: Base rows N.
        seed: The scrambling seed.
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
    """The posterior mean's indices, and their bootstrap standard errors.

    One bootstrap covers the design and the Monte Carlo: each resample draws the
    design points with replacement and conditions the process on them (the
    hyperparameters fixed: a refit per resample would cost minutes), then draws
    the Monte Carlo rows with replacement and estimates the indices of that
    posterior mean. The spread is the emulator's dependence on the points it saw
    (and on their noise) plus the Monte Carlo error; the analogue of the
    polynomial chaos's HC3 draws.

    Args:
        gp: The fitted process.
        draws: Bootstrap resamples (at most :data:`MAX_DRAWS`; above 2,048 design points
            fewer, 50 at 4,096: each is a Cholesky factorisation; at 2,048 points
            the 100 take about 30 s).
        seed: Their seed, and the sample's scrambling.
        second_order: Estimate S2 as well.

    Returns:
        ``(values, sd)``: each ``{"S1": (D,), "ST": (D,), "S2": (D, D) upper triangle}``.
    """
    n, d = gp.unit.shape
    draws = max(2, min(draws, MAX_DRAWS, max(20, MAX_DRAWS * 2048 // n)))
    rng = np.random.default_rng(seed)
    big = sample(d, MC_ROWS, seed, second_order)
    points = big.reshape(-1, d)
    signal = gp.signal(gp.unit)
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
        f[:, rows] = (gp.signal(points[rows], gp.unit) @ weights).T
    f = f.reshape((draws + 1,) + big.shape[:2])
    values = saltelli(f[0], d)
    picks = rng.integers(0, MC_ROWS, size=(draws, MC_ROWS))
    boot = _stacked(
        saltelli(np.take_along_axis(f[1 + i : 1 + i + BATCH], picks[i : i + BATCH, None, :], 2), d)
        for i in range(0, draws, BATCH)
    )
    return values, {k: boot[k].std(axis=0, ddof=1) for k in values}


def _stacked(parts: Any) -> dict[str, np.ndarray]:
    """Batches of :func:`saltelli` results joined along the first axis."""
    parts = list(parts)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
