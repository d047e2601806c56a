"""Tests for the double-entry ledger in ``sim.core.ledger``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.core.ledger import STANDARD_KINDS, Ledger, LedgerImbalance


@pytest.fixture
def small() -> Ledger:
    """Return a ledger with a city, a vendor, two residents and the state."""
    led = Ledger(capacity=8)
    led.open_account("cityA.general", "city", owner="cityA")
    led.open_account("cityA.revolving", "city", owner="cityA")
    led.open_account("vendor1", "vendor")
    led.open_account("res.d1.q1", "resident")
    led.open_account("res.d1.q5", "resident")
    led.open_account("state", "outside", external=True)
    return led


def _hand_sequence(led: Ledger) -> None:
    """Record a fixed sequence of transfers used by several tests."""
    led.transfer(0, "res.d1.q1", "cityA.general", 10.0, "tax")
    led.transfer(0, "res.d1.q5", "cityA.general", 30.0, "tax")
    led.transfer(1, "state", "cityA.general", 100.0, "grant", project=7)
    led.transfer(1, "cityA.general", "vendor1", 60.0, "capex", project=7)
    led.transfer(2, "cityA.general", "cityA.revolving", 20.0, "savings")
    led.transfer(3, "vendor1", "cityA.revolving", 5.0, "savings_share", project=7)
    led.transfer(3, "res.d1.q1", "vendor1", 0.0, "user_fee")  # skipped


def test_standard_kinds_preregistered_in_order() -> None:
    """Standard kinds get codes 0..n-1 in declared order; new kinds follow."""
    led = Ledger()
    assert led.kinds == STANDARD_KINDS
    assert [led.kind_id(k) for k in STANDARD_KINDS] == list(range(len(STANDARD_KINDS)))
    assert led.kind_id("brand_new") == len(STANDARD_KINDS)
    assert led.kind_id("brand_new") == len(STANDARD_KINDS)
    with pytest.raises(ValueError):
        led.kind_id(999)


def test_hand_sequence_balances(small: Ledger) -> None:
    """A hand-made sequence gives known balances, skipping the zero amount."""
    _hand_sequence(small)
    assert len(small) == 6
    expected = {
        "cityA.general": 10 + 30 + 100 - 60 - 20,
        "cityA.revolving": 25.0,
        "vendor1": 55.0,
        "res.d1.q1": -10.0,
        "res.d1.q5": -30.0,
        "state": -100.0,
    }
    assert small.balances().to_dict() == pytest.approx(expected)
    assert small.balance("vendor1") == pytest.approx(55.0)
    assert small.balance(small.account("cityA.general")) == pytest.approx(60.0)
    frame = small.accounts_frame().set_index("name")
    assert frame.loc["state", "external"]
    assert frame.loc["cityA.general", "owner"] == "cityA"
    assert frame["balance"].to_dict() == pytest.approx(expected)
    small.check_balanced()


def test_hand_sequence_flows_by_kind(small: Ledger) -> None:
    """flows_by_kind gives known inflow/outflow/net per kind."""
    _hand_sequence(small)
    city = small.flows_by_kind(stakeholder="city")
    assert list(city.index) == ["tax", "capex", "savings", "savings_share", "grant"]
    assert city.loc["tax"].tolist() == [40.0, 0.0, 40.0]
    assert city.loc["capex"].tolist() == [0.0, 60.0, -60.0]
    assert city.loc["savings"].tolist() == [20.0, 20.0, 0.0]  # internal to the city
    assert city.loc["grant", "net"] == 100.0
    general = small.flows_by_kind("cityA.general")
    assert general.loc["savings"].tolist() == [0.0, 20.0, -20.0]
    vendor = small.flows_by_kind(["vendor1"])
    assert vendor["net"].to_dict() == {"capex": 60.0, "savings_share": -5.0}
    total = small.flows_by_kind()
    assert total.loc["tax", "inflow"] == 40.0
    assert (total["net"] == 0).all()
    with pytest.raises(ValueError):
        small.flows_by_kind("vendor1", stakeholder="city")


def test_flows_by_stakeholder(small: Ledger) -> None:
    """The payer x receiver matrix holds the hand-computed totals."""
    _hand_sequence(small)
    mat = small.flows_by_stakeholder()
    assert mat.loc["resident", "city"] == 40.0
    assert mat.loc["city", "vendor"] == 60.0
    assert mat.loc["city", "city"] == 20.0
    assert mat.loc["vendor", "city"] == 5.0
    assert mat.loc["outside", "city"] == 100.0
    assert mat.to_numpy().sum() == pytest.approx(225.0)
    assert small.flows_by_stakeholder(kind="tax").to_numpy().sum() == 40.0


def test_entries_frame(small: Ledger) -> None:
    """entries() resolves names and keeps the debit = receiver convention."""
    _hand_sequence(small)
    ent = small.entries()
    assert len(ent) == 6
    row = ent.iloc[3]
    assert row["debit_name"] == "vendor1"
    assert row["credit_name"] == "cityA.general"
    assert row["kind"] == "capex"
    assert row["project"] == 7
    assert row["step"] == 1
    assert ent["project"].tolist() == [-1, -1, 7, 7, -1, 7]


def test_net_by_step_and_balance_path(small: Ledger) -> None:
    """net_by_step and balance_path agree with a manual computation."""
    _hand_sequence(small)
    city = small.accounts_where(owner="cityA")
    np.testing.assert_allclose(small.net_by_step(city), [40.0, 40.0, 0.0, 5.0])
    np.testing.assert_allclose(
        small.net_by_step("cityA.general", n_steps=6), [40, 40, -20, 0, 0, 0]
    )
    np.testing.assert_allclose(small.net_by_step("cityA.general", n_steps=2), [40, 40])
    path = small.balance_path("cityA.general")
    assert list(path.index) == [0, 1, 2, 3]
    np.testing.assert_allclose(path.to_numpy(), [40.0, 80.0, 60.0, 60.0])
    assert path.iloc[-1] == pytest.approx(small.balance("cityA.general"))
    at1 = small.balance_at(1)
    assert at1["cityA.general"] == 80.0
    assert at1["vendor1"] == 60.0
    assert at1.sum() == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -math.inf])
def test_transfer_rejects_bad_amount(small: Ledger, bad: float) -> None:
    """Negative, NaN or infinite amounts raise ValueError naming the amount."""
    with pytest.raises(
        ValueError, match=r"invalid amount .*(-1\.0|nan|inf).*tax.*'state' -> 'vendor1'"
    ):
        small.transfer(0, "state", "vendor1", bad, "tax")
    assert len(small) == 0
    small.check_balanced()


def test_transfer_many_rejects_bad_amount_atomically(small: Ledger) -> None:
    """A bad amount in a batch raises and records nothing."""
    with pytest.raises(ValueError, match=r"invalid amount nan at position 1.*fee"):
        small.transfer_many(0, [3, 4], 0, [1.0, np.nan], "fee")
    with pytest.raises(ValueError, match=r"-2\.5"):
        small.transfer_many(0, [3, 4], 0, [1.0, -2.5], "fee")
    assert len(small) == 0
    assert small.snapshot_balances().tolist() == [0.0] * small.n_accounts


def test_account_errors(small: Ledger) -> None:
    """Unknown names raise KeyError with close names; duplicates and bad ids raise."""
    with pytest.raises(KeyError, match="cityA.general"):
        small.account("cityA.genral")
    with pytest.raises(KeyError):
        small.transfer(0, "nobody", "vendor1", 1.0, "fee")
    with pytest.raises(ValueError, match="already exists"):
        small.open_account("vendor1", "vendor")
    with pytest.raises(ValueError):
        small.transfer(0, 99, 0, 1.0, "fee")
    with pytest.raises(ValueError):
        small.transfer(0, 2, 2, 1.0, "fee")
    with pytest.raises(ValueError):
        small.transfer_many(0, [0, 1], [1, 99], [1.0, 1.0], "fee")
    with pytest.raises(ValueError):
        small.transfer_many(0, [0, 1], [1, 1], [1.0, 1.0], "fee")


def test_growth_keeps_all_entries() -> None:
    """Growing from capacity 4 to 1000 entries keeps every entry in order."""
    led = Ledger(capacity=4)
    a, b = led.open_account("a", "city"), led.open_account("b", "vendor")
    for i in range(1000):
        led.transfer(i // 10, a, b, float(i + 1), "fee", project=i)
    arr = led.to_arrays()
    assert len(led) == 1000
    np.testing.assert_array_equal(arr["amount"], np.arange(1, 1001, dtype=float))
    np.testing.assert_array_equal(arr["project"], np.arange(1000))
    assert led.balance("b") == pytest.approx(1000 * 1001 / 2)
    led.transfer_many(100, b, a, np.ones(5000), "savings")
    assert len(led) == 6000
    assert led.balance("a") == pytest.approx(-1000 * 1001 / 2 + 5000)
    led.check_balanced()


def test_check_balanced_detects_corruption(small: Ledger) -> None:
    """Corrupting the running balances or an entry makes check_balanced raise."""
    _hand_sequence(small)
    assert small.is_balanced()
    small._balances[2] += 1.0
    with pytest.raises(LedgerImbalance, match="vendor1"):
        small.check_balanced()
    assert not small.is_balanced()
    small._balances[2] -= 1.0
    small.check_balanced()
    small._cols["amount"][0] = np.nan
    with pytest.raises(LedgerImbalance):
        small.check_balanced()
    small._cols["amount"][0] = 10.0
    small._balances[0] += 5.0
    small._balances[1] -= 5.0  # sums to zero, but disagrees with the entries
    with pytest.raises(LedgerImbalance):
        small.check_balanced()


def test_to_from_arrays_roundtrip(small: Ledger) -> None:
    """from_arrays rebuilds the same entries and balances."""
    _hand_sequence(small)
    small.kind_id("custom")
    small.transfer(4, "vendor1", "state", 1.0, "custom")
    copy = Ledger.from_arrays(small.to_arrays(), small.accounts_frame(), small.kinds)
    pd.testing.assert_frame_equal(copy.entries(), small.entries())
    pd.testing.assert_frame_equal(copy.accounts_frame(), small.accounts_frame())


@settings(max_examples=60, deadline=None)
@given(
    n_accounts=st.integers(2, 12),
    data=st.data(),
)
def test_random_transfers_stay_balanced(n_accounts: int, data: st.DataObject) -> None:
    """Random transfer and transfer_many calls keep every invariant."""
    led = Ledger(capacity=2)
    for i in range(n_accounts):
        led.open_account(
            f"acct{i}",
            ["city", "vendor", "resident", "outside"][i % 4],
            external=i % 4 == 3,
        )
    ids = st.integers(0, n_accounts - 1)
    amounts = st.floats(0.0, 1e9, allow_nan=False, allow_infinity=False)
    pairs = st.tuples(ids, ids).filter(lambda p: p[0] != p[1])
    singles = data.draw(st.lists(st.tuples(st.integers(0, 20), pairs, amounts), max_size=40))
    for step, (s, d), x in singles:
        led.transfer(step, s, d, x, "fee")
    batch = data.draw(st.lists(st.tuples(pairs, amounts), max_size=60))
    if batch:
        src = np.array([p[0] for p, _ in batch])
        dst = np.array([p[1] for p, _ in batch])
        amt = np.array([x for _, x in batch])
        led.transfer_many(data.draw(st.integers(0, 20)), src, dst, amt, "tax")
    led.check_balanced()
    bal = led.snapshot_balances()
    ent = led.entries()
    gross = ent["amount"].sum()
    assert abs(bal.sum()) <= 1e-9 * max(1.0, gross)
    recomputed = ent.groupby("debit")["amount"].sum().reindex(
        range(n_accounts), fill_value=0.0
    ) - ent.groupby("credit")["amount"].sum().reindex(range(n_accounts), fill_value=0.0)
    np.testing.assert_allclose(
        bal, recomputed.to_numpy(), rtol=1e-9, atol=1e-6 * max(1.0, gross) * 1e-3
    )
    n = led.n_steps
    for acct in range(n_accounts):
        assert led.balance_path(acct, n_steps=max(n, 1)).iloc[-1] == pytest.approx(
            bal[acct], abs=1e-6 * max(1, gross)
        )


def test_full_run_scale() -> None:
    """240 steps x 5000 bulk entries record correctly and stay balanced."""
    rng = np.random.default_rng(42)
    led = Ledger()
    n_res = 50
    res = np.array([led.open_account(f"res{i}", "resident") for i in range(n_res)])
    city = led.open_account("city.general", "city", owner="city")
    vendor = led.open_account("vendor", "vendor")
    steps, per_step = 240, 5000
    expected = np.zeros(led.n_accounts)
    city_net = np.zeros(steps)
    for t in range(steps):
        src = rng.choice(res, per_step)
        amt = rng.uniform(0.0, 10.0, per_step)
        led.transfer_many(t, src, city, amt, "user_fee")
        led.transfer(t, city, vendor, 1000.0, "service_fee")
        np.subtract.at(expected, src, amt)
        expected[city] += amt.sum() - 1000.0
        expected[vendor] += 1000.0
        city_net[t] = amt.sum() - 1000.0
    assert len(led) == steps * (per_step + 1)
    led.check_balanced()
    np.testing.assert_allclose(led.snapshot_balances(), expected, rtol=1e-9)
    np.testing.assert_allclose(led.net_by_step(city, n_steps=steps), city_net, rtol=1e-9)
    assert led.flows_by_kind(stakeholder="resident").loc["user_fee", "outflow"] == pytest.approx(
        -expected[res].sum()
    )
