"""Double-entry ledger of every money flow in a run.

Each entry moves ``amount`` from one account to another at a time step, tagged
with a kind (tax, debt service, fee, ...) and a project id (``-1`` = none).

Convention: ``transfer(step, src, dst, amount, kind)`` moves money from the
paying account ``src`` to the receiving account ``dst``. It records one entry
that *debits* ``dst`` (the receiver's cash rises) and *credits* ``src``. An
account's balance is everything debited to it minus everything credited to
it, so a payer's balance falls. Outside accounts (utility, state, market) are
ordinary accounts flagged ``external``; with them included the system is
closed and all balances sum to zero.

Standard stakeholder labels: ``"city"`` (general, revolving and TIF funds),
``"vendor"``, ``"investor"``, ``"resident"`` (by district and income
quintile), ``"regulator"``, ``"vehicle"`` (project vehicles) and
``"outside"``. Labels are free text; these are the ones metrics expect.

Entries live in preallocated NumPy arrays (a struct of arrays) that double
when full, and a running balance per account is updated on every transfer,
so ``balance`` is O(1) during a run and a 240-month run with thousands of
entries a month stays cheap. Views are built as pandas objects on demand.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.core import posting

STANDARD_KINDS: tuple[str, ...] = (
    "tax", "fee", "debt_service", "bond_proceeds", "loan", "loan_repayment",
    "capex", "opex", "savings", "savings_share", "revenue_share",
    "availability_payment", "user_fee", "advertising", "guarantee_call",
    "tif_increment", "mini_bond_sale", "mini_bond_redemption", "equity",
    "dividend", "grant", "member_fee", "penalty", "service_fee", "interest",
    "transfer",
)  # fmt: skip

STANDARD_STAKEHOLDERS: tuple[str, ...] = (
    "city", "vendor", "investor", "resident", "regulator", "vehicle", "outside",
)  # fmt: skip

_FIELDS: dict[str, type] = {
    "step": np.int32,
    "debit": np.int32,
    "credit": np.int32,
    "amount": np.float64,
    "kind": np.int16,
    "project": np.int32,
}

AccountRef = int | str | np.integer
KindRef = int | str | np.integer


class LedgerImbalance(Exception):
    """Raised when the ledger breaks a double-entry invariant."""


class Ledger:
    """Accounts plus an append-only, array-backed journal of transfers.

    Args:
        capacity: Initial number of entry slots; storage doubles when full.

    """

    def __init__(self, capacity: int = 65536) -> None:
        cap = max(int(capacity), 1)
        self._n = 0
        self._cols = {f: np.zeros(cap, dtype=dt) for f, dt in _FIELDS.items()}
        self._balances = np.zeros(64, dtype=np.float64)
        self._names: list[str] = []
        self._ids: dict[str, int] = {}
        self._stakeholders: list[str] = []
        self._external: list[bool] = []
        self._owners: list[str | None] = []
        self._kind_names: list[str] = []
        self._kind_ids: dict[str, int] = {}
        self._ones: dict[int, np.ndarray] = {}
        for name in STANDARD_KINDS:
            self.kind_id(name)

    # ------------------------------------------------------------------ setup
    def open_account(
        self,
        name: str,
        stakeholder: str,
        *,
        external: bool = False,
        owner: str | None = None,
    ) -> int:
        """Open an account and return its integer id.

        Args:
            name: Unique account name, e.g. ``"cityA.general"``.
            stakeholder: Stakeholder label (see module docstring).
            external: True for outside accounts (utility, state, market).
            owner: Optional owning agent, e.g. the city that holds a fund.

        Returns:
            The new account id (ids are consecutive from 0).

        Raises:
            ValueError: If the name is already taken.

        """
        if name in self._ids:
            raise ValueError(f"account {name!r} already exists (id {self._ids[name]})")
        acct = len(self._names)
        if acct >= self._balances.size:
            grown = np.zeros(2 * self._balances.size, dtype=np.float64)
            grown[:acct] = self._balances[:acct]
            self._balances = grown
        self._names.append(name)
        self._ids[name] = acct
        self._stakeholders.append(str(stakeholder))
        self._external.append(bool(external))
        self._owners.append(owner)
        return acct

    def account(self, name: str) -> int:
        """Return the id of account ``name``.

        Raises:
            KeyError: If no such account exists; lists close names.

        """
        try:
            return self._ids[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self._names, n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise KeyError(f"unknown account {name!r}{hint}") from None

    def kind_id(self, name: KindRef) -> int:
        """Return the int code of a kind, registering new kind names on first use."""
        if isinstance(name, str):
            code = self._kind_ids.get(name)
            if code is None:
                code = len(self._kind_names)
                if code > np.iinfo(np.int16).max:
                    raise ValueError("too many transfer kinds for int16 codes")
                self._kind_names.append(name)
                self._kind_ids[name] = code
            return code
        code = int(name)
        if not 0 <= code < len(self._kind_names):
            raise ValueError(f"unknown kind code {code}; {len(self._kind_names)} kinds registered")
        return code

    def accounts_where(
        self, *, stakeholder: str | None = None, owner: str | None = None
    ) -> np.ndarray:
        """Return ids of accounts matching a stakeholder label and/or an owner."""
        return np.array(
            [
                i
                for i in range(len(self._names))
                if (stakeholder is None or self._stakeholders[i] == stakeholder)
                and (owner is None or self._owners[i] == owner)
            ],
            dtype=np.int64,
        )

    @property
    def n_accounts(self) -> int:
        """Number of open accounts."""
        return len(self._names)

    @property
    def kinds(self) -> tuple[str, ...]:
        """Registered kind names, indexed by kind code."""
        return tuple(self._kind_names)

    @property
    def n_steps(self) -> int:
        """One past the largest step recorded (0 when empty)."""
        return int(self._cols["step"][: self._n].max()) + 1 if self._n else 0

    def __len__(self) -> int:
        """Return the number of entries."""
        return self._n

    # -------------------------------------------------------------- recording
    def _acct(self, ref: AccountRef) -> int:
        if isinstance(ref, str):
            return self.account(ref)
        acct = int(ref)
        if not 0 <= acct < len(self._names):
            raise ValueError(f"unknown account id {acct}")
        return acct

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = self._cols["amount"].size
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for field, col in self._cols.items():
            grown = np.zeros(cap, dtype=col.dtype)
            grown[: self._n] = col[: self._n]
            self._cols[field] = grown

    def transfer(
        self,
        step: int,
        src: AccountRef,
        dst: AccountRef,
        amount: float,
        kind: KindRef,
        project: int = -1,
    ) -> None:
        """Move ``amount`` from ``src`` to ``dst`` (debit ``dst``, credit ``src``).

        Args:
            step: Time step (month), >= 0.
            src: Paying account (id or name).
            dst: Receiving account (id or name).
            amount: Finite amount >= 0; zero amounts record nothing.
            kind: Kind name or code (see ``STANDARD_KINDS``).
            project: Project id, ``-1`` for none.

        Raises:
            ValueError: On a negative, NaN or infinite amount, a negative step,
                an unknown account id or ``src == dst``.

        """
        amount = float(amount)
        if not 0.0 <= amount < math.inf:
            raise ValueError(
                f"invalid amount {amount!r} (kind {kind!r}, "
                f"{self._label(src)} -> {self._label(dst)}): must be finite and >= 0"
            )
        if amount == 0.0:
            return
        # the common case (int ids in range, a known kind name) without the general lookups
        n_acc = len(self._names)
        s = src if type(src) is int and 0 <= src < n_acc else self._acct(src)
        d = dst if type(dst) is int and 0 <= dst < n_acc else self._acct(dst)
        k = self._kind_ids.get(kind) if type(kind) is str else None
        if k is None:
            k = self.kind_id(kind)
        if s == d:
            raise ValueError(f"transfer from account {self._names[s]!r} to itself (kind {kind!r})")
        if step < 0:
            raise ValueError(f"negative step {step}")
        if self._n == self._cols["amount"].size:
            self._reserve(1)
        i, c = self._n, self._cols
        c["step"][i], c["debit"][i], c["credit"][i] = step, d, s
        c["amount"][i], c["kind"][i], c["project"][i] = amount, k, project
        self._n = i + 1
        bal = self._balances
        bal[d] += amount
        bal[s] -= amount

    def transfer_many(
        self, step: Any, src: Any, dst: Any, amount: Any, kind: Any, project: Any = -1
    ) -> None:
        """Record many transfers at once; arguments broadcast against ``amount``.

        ``src`` and ``dst`` are account ids (arrays or scalars); ``kind`` is a
        name, a code or an array of codes; ``step`` and ``project`` are scalars
        or arrays. Validation matches :meth:`transfer`: any bad amount rejects
        the whole batch, zero amounts are dropped.

        Raises:
            ValueError: On a bad amount, account id, step or ``src == dst``.

        """
        amt = np.asarray(amount, dtype=np.float64).ravel()
        m = amt.size
        code = self.kind_id(kind) if isinstance(kind, str) or np.ndim(kind) == 0 else kind
        step_a, src_a, dst_a, kind_a, project_a = fields = [
            self._one(x) if type(x) is int else np.asarray(x, np.int64).ravel()
            for x in (step, src, dst, code, project)
        ]
        for x in fields:
            if x.size not in (1, m):
                raise ValueError(f"batch of {m} amounts with {x.size} values of another field")
        if m == 0:
            return
        self._reserve(m)
        c = self._cols
        status, j, posted = posting.post(
            c["step"], c["debit"], c["credit"], c["amount"], c["kind"], c["project"],
            self._n, self._balances, len(self._names), len(self._kind_names),
            step_a, src_a, dst_a, amt, kind_a, project_a,
        )  # fmt: skip
        if status == posting.OK:
            self._n += posted
            return
        if status == posting.BAD_AMOUNT:
            s, d = src_a[j if src_a.size > 1 else 0], dst_a[j if dst_a.size > 1 else 0]
            raise ValueError(
                f"invalid amount {float(amt[j])!r} at position {j} (kind {kind!r}, "
                f"{self._label(s)} -> {self._label(d)}): must be finite and >= 0"
            )
        raise ValueError(
            {
                posting.BAD_ACCOUNT: f"account id out of range 0..{len(self._names) - 1}",
                posting.BAD_KIND: "unknown kind code",
                posting.BAD_STEP: "negative step",
                posting.SELF_TRANSFER: "transfer from an account to itself",
            }[status]
            + f" in batch (kind {kind!r})"
        )

    def _one(self, value: int) -> np.ndarray:
        """An int64 array of one value, kept (batches reuse steps, accounts, kinds; not written)."""
        arr = self._ones.get(value)
        if arr is None:
            arr = self._ones[value] = np.array((value,), np.int64)
        return arr

    def _label(self, ref: Any) -> str:
        if isinstance(ref, str):
            return repr(ref)
        try:
            return repr(self._names[int(ref)])
        except (IndexError, TypeError, ValueError):
            return f"account {ref!r}"

    # ------------------------------------------------------------------ state
    def balance(self, acct: AccountRef) -> float:
        """Return the running balance of one account (O(1))."""
        if type(acct) is int and 0 <= acct < len(self._names):
            return float(self._balances[acct])
        return float(self._balances[self._acct(acct)])

    def snapshot_balances(self) -> np.ndarray:
        """Return a copy of the running balances, indexed by account id."""
        return self._balances[: len(self._names)].copy()

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return copies of the filled entry columns (for Parquet writing)."""
        return {f: col[: self._n].copy() for f, col in self._cols.items()}

    @classmethod
    def from_arrays(
        cls,
        arrays: Mapping[str, np.ndarray],
        accounts: pd.DataFrame,
        kinds: Sequence[str],
    ) -> Ledger:
        """Rebuild a ledger from ``to_arrays()``, ``accounts_frame()`` and ``kinds``."""
        ledger = cls(capacity=max(len(arrays["amount"]), 1))
        for row in accounts.sort_values("id").itertuples(index=False):
            owner = None if pd.isna(row.owner) else row.owner
            ledger.open_account(row.name, row.stakeholder, external=bool(row.external), owner=owner)
        if tuple(kinds[: len(STANDARD_KINDS)]) != STANDARD_KINDS:
            raise ValueError("kinds must start with STANDARD_KINDS")
        for name in kinds:
            ledger.kind_id(name)
        ledger.transfer_many(
            arrays["step"], arrays["credit"], arrays["debit"], arrays["amount"],
            np.asarray(arrays["kind"]), arrays["project"],
        )  # fmt: skip
        return ledger

    # ------------------------------------------------------------------ views
    def _filled(self, field: str) -> np.ndarray:
        return self._cols[field][: self._n]

    def _recomputed(self) -> tuple[np.ndarray, np.ndarray]:
        n_acc, amt = len(self._names), self._filled("amount")
        inflow = np.bincount(self._filled("debit"), weights=amt, minlength=n_acc)
        outflow = np.bincount(self._filled("credit"), weights=amt, minlength=n_acc)
        return inflow, outflow

    def _ids_of(self, accounts: AccountRef | Iterable[AccountRef]) -> np.ndarray:
        if isinstance(accounts, str | int | np.integer):
            accounts = [accounts]
        return np.unique(np.array([self._acct(a) for a in accounts], dtype=np.int64))

    def _member(self, accounts: AccountRef | Iterable[AccountRef]) -> np.ndarray:
        mask = np.zeros(len(self._names), dtype=bool)
        mask[self._ids_of(accounts)] = True
        return mask

    def accounts_frame(self) -> pd.DataFrame:
        """Return id, name, stakeholder, external, owner and balance per account."""
        return pd.DataFrame(
            {
                "id": np.arange(len(self._names)),
                "name": self._names,
                "stakeholder": self._stakeholders,
                "external": np.array(self._external, dtype=bool),
                "owner": pd.Series(self._owners, dtype=object),
                "balance": self.snapshot_balances(),
            }
        )

    def entries(self) -> pd.DataFrame:
        """Return all entries with account and kind names resolved."""
        debit, credit = self._filled("debit"), self._filled("credit")
        return pd.DataFrame(
            {
                "step": self._filled("step").copy(),
                "debit": debit.copy(),
                "credit": credit.copy(),
                "debit_name": pd.Categorical.from_codes(debit, categories=self._names),
                "credit_name": pd.Categorical.from_codes(credit, categories=self._names),
                "amount": self._filled("amount").copy(),
                "kind": pd.Categorical.from_codes(
                    self._filled("kind"), categories=self._kind_names
                ),
                "project": self._filled("project").copy(),
            }
        )

    def balances(self) -> pd.Series:
        """Return running balances indexed by account name."""
        return pd.Series(
            self.snapshot_balances(),
            index=pd.Index(self._names, name="account"),
            name="balance",
        )

    def balance_at(self, step: int) -> pd.Series:
        """Return balances by account name after all entries with step <= ``step``."""
        upto = self._filled("step") <= step
        amt, n_acc = self._filled("amount")[upto], len(self._names)
        bal = np.bincount(self._filled("debit")[upto], weights=amt, minlength=n_acc) - np.bincount(
            self._filled("credit")[upto], weights=amt, minlength=n_acc
        )
        return pd.Series(
            bal, index=pd.Index(self._names, name="account"), name=f"balance_at_{step}"
        )

    def net_by_step(
        self, accounts: AccountRef | Iterable[AccountRef], n_steps: int | None = None
    ) -> np.ndarray:
        """Return net inflow per step (0..n_steps-1) into a set of accounts.

        Transfers between two accounts of the set net to zero. Entries at
        steps >= ``n_steps`` are ignored; ``n_steps`` defaults to ``self.n_steps``.
        """
        n = self.n_steps if n_steps is None else int(n_steps)
        member = self._member(accounts)
        amt, step = self._filled("amount"), self._filled("step")
        sign = member[self._filled("debit")].astype(np.float64) - member[self._filled("credit")]
        keep = (sign != 0.0) & (step < n)
        return np.bincount(step[keep], weights=(amt * sign)[keep], minlength=n)[:n]

    def balance_path(
        self, account: AccountRef | Iterable[AccountRef], n_steps: int | None = None
    ) -> pd.Series:
        """Return the cumulative balance at the end of each step 0..n_steps-1."""
        path = np.cumsum(self.net_by_step(account, n_steps))
        return pd.Series(path, index=pd.RangeIndex(path.size, name="step"), name="balance")

    def flows_by_kind(
        self,
        account: AccountRef | Iterable[AccountRef] | None = None,
        stakeholder: str | None = None,
    ) -> pd.DataFrame:
        """Return inflow, outflow and net by kind for some accounts.

        Args:
            account: Account(s) to report on; exclusive with ``stakeholder``.
            stakeholder: Report on all accounts with this label.

        Returns:
            DataFrame indexed by kind name (kinds with any flow, in code order).
            With neither argument every entry counts as both inflow and
            outflow, so ``inflow`` is the gross volume and ``net`` is zero.

        """
        if account is not None and stakeholder is not None:
            raise ValueError("pass account or stakeholder, not both")
        if account is not None:
            member = self._member(account)
        else:
            member = np.ones(len(self._names), dtype=bool)
            if stakeholder is not None:
                member &= np.array(self._stakeholders, dtype=object) == stakeholder
        amt, kind, n_k = (
            self._filled("amount"),
            self._filled("kind"),
            len(self._kind_names),
        )
        inflow = np.bincount(kind, weights=amt * member[self._filled("debit")], minlength=n_k)
        outflow = np.bincount(kind, weights=amt * member[self._filled("credit")], minlength=n_k)
        used = (inflow != 0.0) | (outflow != 0.0)
        idx = pd.Index(np.array(self._kind_names, dtype=object)[used], name="kind")
        return pd.DataFrame(
            {
                "inflow": inflow[used],
                "outflow": outflow[used],
                "net": inflow[used] - outflow[used],
            },
            index=idx,
        )

    def flows_by_stakeholder(self, kind: KindRef | None = None) -> pd.DataFrame:
        """Return total paid, payer stakeholder (rows) x receiver stakeholder (columns).

        Args:
            kind: Optional kind name or code to restrict to.

        """
        labels, codes = np.unique(np.array(self._stakeholders, dtype=object), return_inverse=True)
        amt = self._filled("amount")
        payer, receiver = codes[self._filled("credit")], codes[self._filled("debit")]
        if kind is not None:
            sel = self._filled("kind") == self.kind_id(kind)
            amt, payer, receiver = amt[sel], payer[sel], receiver[sel]
        n = labels.size
        mat = np.bincount(payer * n + receiver, weights=amt, minlength=n * n).reshape(n, n)
        return pd.DataFrame(
            mat,
            index=pd.Index(labels, name="payer"),
            columns=pd.Index(labels, name="receiver"),
        )

    # ------------------------------------------------------------- invariants
    def check_balanced(self, tol: float = 1e-6) -> None:
        """Check the double-entry invariants.

        Checks that entries reference valid accounts and kinds with finite,
        non-negative amounts; that total debits equal total credits; that the
        running balances match balances recomputed from the entries; and that
        all balances sum to zero. Float comparisons are relative to the gross
        flow through each account (``tol * max(1, gross)``).

        Raises:
            LedgerImbalance: On the first invariant that fails.

        """
        n_acc, amt = len(self._names), self._filled("amount")
        if not np.isfinite(amt).all() or (amt < 0).any():
            raise LedgerImbalance("non-finite or negative amount in entries")
        for field in ("debit", "credit"):
            ids = self._filled(field)
            if ids.size and (ids.min() < 0 or ids.max() >= n_acc):
                raise LedgerImbalance(f"{field} account id out of range")
        kind = self._filled("kind")
        if kind.size and (kind.min() < 0 or kind.max() >= len(self._kind_names)):
            raise LedgerImbalance("kind code out of range")
        running = self._balances[:n_acc]
        if not np.isfinite(running).all():
            raise LedgerImbalance("non-finite running balance")
        inflow, outflow = self._recomputed()
        gross = inflow + outflow
        total_debit, total_credit = inflow.sum(), outflow.sum()
        if abs(total_debit - total_credit) > tol * max(1.0, total_debit):
            raise LedgerImbalance(
                f"debits {float(total_debit)!r} != credits {float(total_credit)!r}"
            )
        diff = np.abs(running - (inflow - outflow))
        off = diff > tol * np.maximum(1.0, gross)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise LedgerImbalance(
                f"running balance of {self._names[i]!r} is {float(running[i])!r}, "
                f"entries give {float(inflow[i] - outflow[i])!r}"
            )
        total = running.sum()
        if abs(total) > tol * max(1.0, gross.sum()):
            raise LedgerImbalance(f"balances sum to {float(total)!r}, not 0")

    def is_balanced(self, tol: float = 1e-6) -> bool:
        """Return True if :meth:`check_balanced` passes."""
        try:
            self.check_balanced(tol)
        except LedgerImbalance:
            return False
        return True
