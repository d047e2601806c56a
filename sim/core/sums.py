"""NumPy's float sums of a few numbers, in plain Python: the same bits without an array.

``float(np.sum(values))`` on a short list costs microseconds of array set-up
for a handful of additions. :func:`np_sum` adds the numbers in NumPy's order
(pairwise summation: below 8 numbers one after another from 0.0; up to 128, eight
running sums combined in a fixed tree, then the rest one after another), so
the model's monthly arithmetic keeps every bit it had with ``np.sum``.
:func:`window_sums` is the compiled version for every window of a schedule
(:func:`np_sum` is its twin). ``tests/test_sums.py`` checks the order against
NumPy on random numbers of every length up to the block; longer inputs go to
NumPy itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

#: NumPy's pairwise-summation block: longer inputs are split (left to NumPy).
BLOCK = 128


def np_sum(values: Sequence[float]) -> float:
    """The bits of ``float(np.sum(np.asarray(values, dtype=float)))``.

    Args:
        values: Floats (a list or tuple; a NumPy array is converted with ``tolist``).

    Returns:
        Their sum, added in NumPy's order.
    """
    n = len(values)
    if n > BLOCK:
        return float(np.sum(np.asarray(values, dtype=np.float64)))
    if n < 8:
        total = 0.0
        for x in values:
            total += x
        return float(total)
    r = [float(x) for x in values[:8]]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += values[i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += values[i]
        i += 1
    return float(total)


def np_mean(values: Sequence[float]) -> float:
    """The bits of ``float(np.mean(values))`` for a non-empty sequence of floats.

    Args:
        values: Floats.

    Returns:
        Their mean: NumPy's sum over the count.
    """
    return np_sum(values) / len(values)


@njit(cache=True)
def window_sums(values, width):
    """``np.sum(values[i : i + width])`` for every ``i``, in NumPy's order, in one pass.

    Each window is added as :func:`np_sum` adds it (``width`` at most :data:`BLOCK`),
    so a schedule's rolling sums are computed once with the bits ``np.sum`` gives
    each window. Windows running past the end are shorter.

    Args:
        values: float64 array.
        width: Window length (1 to 128).

    Returns:
        float64 array, one sum per start.
    """
    n_all = values.shape[0]
    out = np.empty(n_all)
    r = np.empty(8)
    for start in range(n_all):
        n = min(width, n_all - start)
        if n < 8:
            total = 0.0
            for i in range(n):
                total += values[start + i]
            out[start] = total
            continue
        for j in range(8):
            r[j] = values[start + j]
        i = 8
        while i < n - n % 8:
            for j in range(8):
                r[j] += values[start + i + j]
            i += 8
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            total += values[start + i]
            i += 1
        out[start] = total
    return out
