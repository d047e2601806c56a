"""The model runs the tested finance library.

Every public function of ``sim.core.finance`` is called while the shipped
scenarios (and variants that switch on the rest of the instruments) run.
"""

import inspect
import sys

import sim
from sim.core import finance

SMALL = {"world.residents.simulated_agents": 2000, "world.regulator.rejection_rate": 0.0}
#: (scenario, months, overrides): together they use every instrument and term.
CASES = [
    ("alliance", 120, {"policy.financing.guarantee.savings_floor_share": 0.5}),
    (
        "traditional",
        60,
        {
            "policy.financing.go_bond.serial": True,
            "policy.financing.by_domain.streetlights": ["shared_savings", "go_bond"],
            "policy.contracts.vendor_savings_share": 0.9,
            "policy.contracts.savings_term_years": 20,
            # an ESCO signs on what it knows it delivers
            "world.technology.streetlights.true_performance_mean": 0.95,
        },
    ),
    ("helsinki_maas", 120, {"policy.financing.ppp.min_revenue_guarantee_share": 0.3}),
    ("alliance", 120, {"policy.financing.by_domain.traffic": ["ppp"]}),
    ("alliance", 60, {"policy.pilot.enabled": False, "policy.domains": ["water"]}),
    ("denver_minibonds", 60, {}),
    ("tif_district", 120, {}),
    ("san_diego_streetlights", 60, {}),
]
PUBLIC = {
    name: obj
    for name, obj in vars(finance).items()
    if inspect.isfunction(obj) and obj.__module__ == finance.__name__ and not name.startswith("_")
}


def test_every_public_finance_function_runs_in_the_model():
    codes = {f.__code__: name for name, f in PUBLIC.items()}
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            called.add(codes[frame.f_code])

    sys.setprofile(profile)
    try:
        for scenario, months, overrides in CASES:
            sim.run(scenario, months=months, overrides={**SMALL, **overrides})
    finally:
        sys.setprofile(None)
    assert len(PUBLIC) > 20
    assert sorted(set(PUBLIC) - called) == []
