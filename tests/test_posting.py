"""The ledger's posting kernel: the same bits as its twin and as NumPy's bincount."""

import numpy as np
import pytest

from sim.core import posting
from sim.core.ledger import _FIELDS

N_ACCOUNTS, N_KINDS = 9, 5


def columns(cap: int) -> list[np.ndarray]:
    return [np.zeros(cap, dtype=dt) for dt in _FIELDS.values()]


def batch(rng: np.random.Generator, m: int) -> tuple[np.ndarray, ...]:
    """A random batch: some fields one value for all, some zero amounts."""

    def field(lo: int, hi: int) -> np.ndarray:
        return rng.integers(lo, hi, 1 if rng.random() < 0.5 else m).astype(np.int64)

    src = field(0, N_ACCOUNTS)
    dst = (src + field(1, N_ACCOUNTS)) % N_ACCOUNTS  # never src
    if src.size != dst.size:
        src, dst = np.broadcast_arrays(src, dst)
        src, dst = src.copy(), dst.copy()
    amount = rng.lognormal(3.0, 2.0, m) * (rng.random(m) < 0.8)
    return field(0, 240), src, dst, amount, field(0, N_KINDS), field(-1, 7)


@pytest.mark.parametrize("seed", range(12))
def test_post_matches_twin_and_bincount_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fast, slow = columns(400), columns(400)
    bal_fast, bal_slow = rng.normal(0, 1e6, N_ACCOUNTS), None
    bal_slow, bal_numpy = bal_fast.copy(), bal_fast.copy()
    n_fast = n_slow = 0
    for _ in range(8):
        step, src, dst, amount, kind, project = batch(rng, int(rng.integers(1, 40)))
        args = (step, src, dst, amount, kind, project)
        s1, _, k1 = posting.post(*fast, n_fast, bal_fast, N_ACCOUNTS, N_KINDS, *args)
        s2, _, k2 = posting.post_py(*slow, n_slow, bal_slow, N_ACCOUNTS, N_KINDS, *args)
        assert s1 == s2 == posting.OK and k1 == k2 == int((amount > 0).sum())
        n_fast, n_slow = n_fast + k1, n_slow + k2
        keep = amount > 0  # the ledger's NumPy version, before the kernel
        s, d = (np.broadcast_to(x, amount.shape)[keep] for x in (src, dst))
        bal_numpy += np.bincount(d, weights=amount[keep], minlength=N_ACCOUNTS)
        bal_numpy -= np.bincount(s, weights=amount[keep], minlength=N_ACCOUNTS)
    assert bal_fast.tobytes() == bal_slow.tobytes() == bal_numpy.tobytes()
    for a, b in zip(fast, slow, strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"amount": [1.0, np.nan], "src": [99, 1]}, posting.BAD_AMOUNT),
        ({"src": [99, 1]}, posting.BAD_ACCOUNT),
        ({"kind": [N_KINDS]}, posting.BAD_KIND),
        ({"step": [-1]}, posting.BAD_STEP),
        ({"dst": [0, 3]}, posting.SELF_TRANSFER),
    ],
)
def test_post_reports_the_first_failed_check_and_writes_nothing(change, status) -> None:
    good = {"step": [3], "src": [0, 1], "dst": [2], "amount": [1.0, 2.0], "kind": [1]}
    good["project"] = [-1]
    args = {
        k: np.asarray(v, dtype=np.float64 if k == "amount" else np.int64) for k, v in good.items()
    }
    args.update({k: np.asarray(v, dtype=args[k].dtype) for k, v in change.items()})
    order = ("step", "src", "dst", "amount", "kind", "project")
    for kernel in (posting.post, posting.post_py):
        cols, bal = columns(4), np.zeros(N_ACCOUNTS)
        got, pos, n = kernel(*cols, 0, bal, N_ACCOUNTS, N_KINDS, *(args[k] for k in order))
        assert (got, n) == (status, 0)
        assert pos == (1 if status == posting.BAD_AMOUNT else -1)
        assert not bal.any() and not any(c.any() for c in cols)
