"""NumPy's summation order in plain Python (``sim.core.sums``): the same bits as NumPy."""

import numpy as np
import pytest

from sim.core.sums import BLOCK, np_mean, np_sum, window_sums


@pytest.mark.parametrize("n", range(BLOCK + 20))
def test_np_sum_has_numpys_bits_at_every_length(n: int) -> None:
    rng = np.random.default_rng(n)
    for _ in range(40):
        a = rng.lognormal(0.0, 4.0, n) * rng.choice([-1.0, 1.0], n)
        assert np_sum(a.tolist()) == float(np.sum(a))
        assert np_sum(tuple(a.tolist())) == float(np.sum(a))
        if n:
            assert np_mean(a.tolist()) == float(np.mean(a))


def test_np_sum_of_nothing_and_of_zeros() -> None:
    assert np_sum([]) == 0.0 == float(np.sum([]))
    assert np.signbit(np_sum([-0.0])) == np.signbit(np.sum(np.array([-0.0])))


@pytest.mark.parametrize("width", [1, 7, 8, 12, 17, 64, BLOCK])
def test_window_sums_are_np_sum_of_every_window(width: int) -> None:
    a = np.random.default_rng(width).lognormal(0.0, 3.0, 300)
    got = window_sums(a, width)
    assert got.tolist() == [float(np.sum(a[i : i + width])) for i in range(a.size)]
    assert got.tolist() == [np_sum(a[i : i + width].tolist()) for i in range(a.size)]
    assert window_sums(a[:0], width).size == 0
