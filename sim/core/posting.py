"""The ledger's batch posting: check a batch of transfers, append it, move the balances.

:meth:`sim.core.ledger.Ledger.transfer_many` hands its arrays to :func:`post`,
one compiled pass instead of a score of small NumPy calls, each costing more
than the arithmetic on a batch of fifty groups. :func:`post_py` is its
plain-Python twin (the specification); tests check that both give the same
bits.

A batch is arrays of length ``m`` (the amounts) or of length 1 (one value for
every transfer: ``step``, ``src``, ``dst``, ``kind`` or ``project``). The
balances move as with ``np.bincount``: each account's receipts and payments in
the batch are summed in batch order from 0.0, then the receipts are added to
its balance and the payments taken off it, so the bits match the NumPy version
the ledger had before.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Status codes of :func:`post` (0: posted), in the order the checks are reported.
OK, BAD_AMOUNT, BAD_ACCOUNT, BAD_KIND, BAD_STEP, SELF_TRANSFER = range(6)


@njit(cache=True)
def post(
    cols_step,
    cols_debit,
    cols_credit,
    cols_amount,
    cols_kind,
    cols_project,
    n,
    balances,
    n_accounts,
    n_kinds,
    step,
    src,
    dst,
    amount,
    kind,
    project,
):
    """Check a batch, then append its non-zero transfers and move the balances.

    Nothing is written unless every check passes. The columns must have room for
    ``amount.size`` more entries after the first ``n``.

    Args:
        cols_step: The ledger's step column (int32).
        cols_debit: Debit (receiving) account column (int32).
        cols_credit: Credit (paying) account column (int32).
        cols_amount: Amount column (float64).
        cols_kind: Kind code column (int16).
        cols_project: Project id column (int32).
        n: Entries already in the columns.
        balances: Running balance per account (float64, updated in place).
        n_accounts: Open accounts (valid ids are ``0 .. n_accounts - 1``).
        n_kinds: Registered kinds (valid codes are ``0 .. n_kinds - 1``).
        step: Month per transfer (int64, length 1 or m).
        src: Paying account per transfer (int64, length 1 or m).
        dst: Receiving account per transfer (int64, length 1 or m).
        amount: Amount per transfer (float64, length m).
        kind: Kind code per transfer (int64, length 1 or m).
        project: Project id per transfer (int64, length 1 or m).

    Returns:
        ``(status, position, posted)``: a status code (``OK`` or the first failed
        check in the order ``BAD_AMOUNT``, ``BAD_ACCOUNT``, ``BAD_KIND``,
        ``BAD_STEP``, ``SELF_TRANSFER``), the first bad amount's position (-1 if
        none), and the entries appended.
    """
    m = amount.shape[0]
    ss, sd, sk = src.shape[0] > 1, dst.shape[0] > 1, kind.shape[0] > 1
    st, sp = step.shape[0] > 1, project.shape[0] > 1
    bad_amount, bad_account, bad_kind, bad_step, self_transfer = -1, False, False, False, False
    for i in range(m):
        a = amount[i]
        if bad_amount < 0 and not (a >= 0.0 and a < np.inf):
            bad_amount = i
        s, d, k = src[i if ss else 0], dst[i if sd else 0], kind[i if sk else 0]
        if s < 0 or s >= n_accounts or d < 0 or d >= n_accounts:
            bad_account = True
        if k < 0 or k >= n_kinds:
            bad_kind = True
        if step[i if st else 0] < 0:
            bad_step = True
        if s == d:
            self_transfer = True
    if bad_amount >= 0:
        return BAD_AMOUNT, bad_amount, 0
    if bad_account:
        return BAD_ACCOUNT, -1, 0
    if bad_kind:
        return BAD_KIND, -1, 0
    if bad_step:
        return BAD_STEP, -1, 0
    if self_transfer:
        return SELF_TRANSFER, -1, 0
    received = np.zeros(n_accounts)
    paid = np.zeros(n_accounts)
    j = n
    for i in range(m):
        a = amount[i]
        if a > 0.0:
            s, d = src[i if ss else 0], dst[i if sd else 0]
            cols_step[j] = step[i if st else 0]
            cols_debit[j] = d
            cols_credit[j] = s
            cols_amount[j] = a
            cols_kind[j] = kind[i if sk else 0]
            cols_project[j] = project[i if sp else 0]
            received[d] += a
            paid[s] += a
            j += 1
    for acct in range(n_accounts):
        balances[acct] += received[acct]
    for acct in range(n_accounts):
        balances[acct] -= paid[acct]
    return OK, -1, j - n


def post_py(
    cols_step,
    cols_debit,
    cols_credit,
    cols_amount,
    cols_kind,
    cols_project,
    n,
    balances,
    n_accounts,
    n_kinds,
    step,
    src,
    dst,
    amount,
    kind,
    project,
):
    """Plain-Python twin of :func:`post` (same checks, same loop, same bits).

    Args:
        cols_step: See :func:`post`.
        cols_debit: See :func:`post`.
        cols_credit: See :func:`post`.
        cols_amount: See :func:`post`.
        cols_kind: See :func:`post`.
        cols_project: See :func:`post`.
        n: See :func:`post`.
        balances: See :func:`post`.
        n_accounts: See :func:`post`.
        n_kinds: See :func:`post`.
        step: See :func:`post`.
        src: See :func:`post`.
        dst: See :func:`post`.
        amount: See :func:`post`.
        kind: See :func:`post`.
        project: See :func:`post`.

    Returns:
        ``(status, position, posted)`` as :func:`post`.
    """
    m = len(amount)
    ss, sd, sk = len(src) > 1, len(dst) > 1, len(kind) > 1
    st, sp = len(step) > 1, len(project) > 1
    bad_amount, bad_account, bad_kind, bad_step, self_transfer = -1, False, False, False, False
    for i in range(m):
        a = float(amount[i])
        if bad_amount < 0 and not (a >= 0.0 and a < np.inf):
            bad_amount = i
        s, d, k = int(src[i if ss else 0]), int(dst[i if sd else 0]), int(kind[i if sk else 0])
        if s < 0 or s >= n_accounts or d < 0 or d >= n_accounts:
            bad_account = True
        if k < 0 or k >= n_kinds:
            bad_kind = True
        if step[i if st else 0] < 0:
            bad_step = True
        if s == d:
            self_transfer = True
    if bad_amount >= 0:
        return BAD_AMOUNT, bad_amount, 0
    for failed, code in (
        (bad_account, BAD_ACCOUNT),
        (bad_kind, BAD_KIND),
        (bad_step, BAD_STEP),
        (self_transfer, SELF_TRANSFER),
    ):
        if failed:
            return code, -1, 0
    received = [0.0] * n_accounts
    paid = [0.0] * n_accounts
    j = n
    for i in range(m):
        a = float(amount[i])
        if a > 0.0:
            s, d = int(src[i if ss else 0]), int(dst[i if sd else 0])
            cols_step[j] = step[i if st else 0]
            cols_debit[j] = d
            cols_credit[j] = s
            cols_amount[j] = a
            cols_kind[j] = kind[i if sk else 0]
            cols_project[j] = project[i if sp else 0]
            received[d] += a
            paid[s] += a
            j += 1
    for acct in range(n_accounts):
        balances[acct] += received[acct]
    for acct in range(n_accounts):
        balances[acct] -= paid[acct]
    return OK, -1, j - n
