"""What agents see of the model (``agents.view``): the model provides every member of the view.

The protocols are structural and not runtime-checkable, so the members are read
from their annotations and methods and looked up on a real model.
"""

import inspect

import numpy as np

from agents.view import ModelView, RegulatorLike, ResidentsLike
from sim.core.parties import LenderLike, VendorLike
from sim.model.api import resolve
from sim.model.model import AllianceModel


def members(protocol):
    """Attributes and methods a protocol declares (its own, not ``Protocol``'s)."""
    names = set(protocol.__dict__.get("__annotations__", {}))
    names |= {
        n for n, v in vars(protocol).items() if inspect.isfunction(v) and not n.startswith("_")
    }
    return names


def model():
    return AllianceModel(
        resolve("alliance", {"world.residents.simulated_agents": 2000}), seed=0, months=12
    )


def test_the_protocols_declare_what_agents_use():
    assert {
        "scenario",
        "month",
        "ledger",
        "accounts",
        "market",
        "land",
        "layout",
        "consortium",
        "investors",
        "vendors",
        "regulator",
        "residents",
        "new_project_id",
    } <= members(ModelView)
    assert members(RegulatorLike) == {"approval_delay", "decide"}
    assert members(ResidentsLike) == {"fees_of", "income_of", "users_in", "offer_minibonds"}


def test_the_model_provides_every_member_of_the_view():
    m = model()
    missing = sorted(n for n in members(ModelView) if not hasattr(m, n))
    assert missing == []
    assert callable(m.new_project_id)
    for name in ("rng_market", "rng_measure", "rng_regulator", "rng_events"):
        assert isinstance(getattr(m, name), np.random.Generator)
    assert isinstance(m.month, int) and isinstance(m.horizon, int)


def test_the_models_regulator_residents_vendors_and_investors_fit_their_protocols():
    m = model()
    for protocol, agents in (
        (RegulatorLike, [m.regulator]),
        (ResidentsLike, [m.residents]),
        (VendorLike, m.vendors),
        (LenderLike, m.investors),
    ):
        for agent in agents:
            missing = sorted(n for n in members(protocol) if not hasattr(agent, n))
            assert missing == [], (protocol.__name__, missing)
            for n in members(protocol):
                if inspect.isfunction(vars(protocol).get(n)):
                    assert callable(getattr(agent, n))


def test_the_streams_are_distinct():
    m = model()
    draws = {
        name: getattr(m, name).random()
        for name in ("rng_market", "rng_measure", "rng_regulator", "rng_events")
    }
    assert len(set(draws.values())) == 4


def test_project_ids_start_at_one_and_count_up():
    m = model()
    assert [m.new_project_id() for _ in range(3)] == [1, 2, 3]
