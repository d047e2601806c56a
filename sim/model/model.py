"""AllianceModel: the Mesa model that wires agents, mechanisms, ledger and residents.

Step order (one step = one month ``t``), deterministic for a seed:

1. market: rate shift (curve shift, rate shock, spread widening) and the
   revenue / property / income indices (trend growth, recession);
2. regulator: incident draws for every deployed project (halts, trust loss);
3. residents (one Mesa agent over arrays): adoption of each user-facing
   service (Bass diffusion with churn, numba kernel) where projects cover
   districts, fees owed, satisfaction and trust; then district land values;
4. cities (Mesa AgentSet, creation order): budget, project operations and
   payments, debt service, lifecycle decisions (award, approval, pilot,
   evaluation, scale-up, end), new procurements, annual rating review;
5. vendors (AgentSet; the vendor-default overlay first removes the vendor
   leading the most deployed units): default hazard and insolvency (exit);
   investors re-price after every exit;
6. investors (AgentSet): premia decay;
7. record the month's series.

Agents return what they noted (events, new projects, tallies); the model
records it. Randomness: the seed becomes a ``SeedSequence`` with one stream
per purpose (world, market, regulator, residents, measurement, events). The
world stream draws only the world (vendors' hidden traits, residents), so two
policies run with the same seed face the same world: common random numbers
for paired comparisons.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from agents.city import City
from agents.investor import Investor
from agents.outbox import Report
from agents.population import Population
from agents.regulator import Regulator
from agents.residents import Residents
from agents.vendor import Vendor
from sim.config.loader import as_scenario
from sim.config.schema import Scenario
from sim.core import kernels
from sim.core.ledger import Ledger
from sim.mechanisms import services
from sim.mechanisms.consortium import Consortium
from sim.mechanisms.land import DistrictMap, LandValues, tax_shares
from sim.mechanisms.lifecycle import Project
from sim.mechanisms.markets import Market
from sim.mechanisms.pilots import Evidence
from sim.model.collector import SeriesCollector
from sim.model.kpis import kpis
from sim.model.outputs import kpi_names
from sim.model.record import CityRecord, RunRecord
from sim.model.series import Series

STREAMS = ("world", "market", "regulator", "residents", "measure", "events")
OUTSIDE = ("opening", "market", "utility", "economy", "services", "framework")
TALLIES = (
    "kwh_saved",
    "savings_usd",
    "welfare_usd",
    "service_cuts_usd",
    "reserve_breach_months",
    "distress_months",
)


class AllianceModel(mesa.Model):
    """A region of cities, vendors, investors, residents and a regulator."""

    def __init__(
        self,
        scenario: Scenario | str | Path | Mapping[str, Any] = "alliance",
        seed: int = 0,
        months: int | None = None,
        *,
        overlays: Iterable[str] = (),
        overrides: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Build the world and the agents of a scenario.

        Parameters are set by dotted path, or by keyword with ``__`` for the dots
        (so Mesa's ``batch_run`` and SolaraViz can pass them)::

            AllianceModel("alliance", seed=1, world__rates__shift_bp=200)
            AllianceModel("alliance", seed=1, **{"world.rates.shift_bp": 200})

        Args:
            scenario: A validated scenario, a library name (``"alliance"``), a file
                or a mapping.
            seed: Seed of every random stream of the run.
            months: Horizon (default: ``world.horizon_months``).
            overlays: Stress overlays to apply (names or files).
            overrides: Parameter values by dotted path, as ``sim.run`` takes them.
            **kwargs: Parameter values by dotted path (``__`` reads as ``.``).

        Raises:
            ScenarioError: A parameter that does not exist or a value out of range,
                one line each.
        """
        super().__init__(seed=seed)
        values = {**(overrides or {}), **{k.replace("__", "."): v for k, v in kwargs.items()}}
        scenario = as_scenario(scenario, values, overlays)
        self.scenario = scenario
        self.seed = seed
        w = scenario.world
        self.horizon = months if months is not None else w.horizon_months
        streams = np.random.SeedSequence(seed).spawn(len(STREAMS))
        rngs = dict(zip(STREAMS, (np.random.default_rng(s) for s in streams), strict=True))
        self.rng_world, self.rng_market = rngs["world"], rngs["market"]
        self.rng_regulator, self.rng_residents = rngs["regulator"], rngs["residents"]
        self.rng_measure, self.rng_events = rngs["measure"], rngs["events"]
        self.month = 0
        self.ledger = Ledger(capacity=1 << 16)
        self.accounts = {
            name: self.ledger.open_account(f"outside:{name}", "outside", external=True)
            for name in OUTSIDE
        }
        self.market = Market(w)
        self.events: list[dict[str, Any]] = []
        self.projects: list[Project] = []
        self._ids = itertools.count(1)
        members = [c for c in w.cities.values() if c.consortium_member]
        self.consortium = Consortium(
            active=len(members) > 1,
            proven=set(w.procurement.framework_domains),
            evidence=Evidence(w.pilots.bias_sd),
        )
        self.totals = dict.fromkeys(TALLIES, 0.0)
        self.ppp_vfm: list[float] = []
        self._populate(w)
        self.vendors = [Vendor(self, i, self.rng_world) for i in range(w.vendors.count)]
        self.investors = [Investor(self, i) for i in range(w.investors.count)]
        self.regulator = Regulator(self)
        self.cities = [City(self, i, n) for i, n in enumerate(w.cities)]
        summary = self.population.district_summary()
        self.land = LandValues.assess(
            [
                c.spec.property_tax_share
                * c.spec.general_revenue_annual_usd
                / max(c.spec.property_tax_rate, 1e-9)
                for c in self.cities
            ],
            (summary["population"] * summary["income_month"]).to_numpy(),
            self.layout.districts,
        )
        self.series = Series(self)
        self.datacollector = SeriesCollector(
            self.series,
            lambda: min(self.steps, self.horizon),
            lambda: kpis(self.record()),
            kpi_names(scenario),
        )

    def _populate(self, w: Any) -> None:
        """Draw the residents (world stream) and open their groups' ledger accounts."""
        self.services = [d for d, t in w.technology.items() if t.user_facing]
        names = list(w.cities)
        pop = Population.create(
            self.rng_world,
            city_populations=[w.cities[n].population for n in names],
            districts_per_city=w.region.districts_per_city,
            params=w.residents,
            n_services=len(self.services),
        )
        self.population = pop
        accounts = np.array(
            [
                self.ledger.open_account(
                    f"residents:{names[c]}:d{d}:q{q + 1}", "resident", owner=names[c]
                )
                for c, d, q in pop.group_labels()
            ],
            dtype=np.int64,
        )
        income = kernels.group_sums(pop.income_month, pop.group_id, pop.weight, pop.n_groups)
        self.layout = DistrictMap(w.region.districts_per_city, accounts, tax_shares(income))
        self.residents = Residents(self, pop, self.services)

    # ------------------------------------------------------------------ the view agents use

    def new_project_id(self) -> int:
        """A new project id (ids start at 1; 0 tags programme-level flows)."""
        return next(self._ids)

    # ------------------------------------------------------------------ recording

    def book(self, report: Report) -> None:
        """Record what an agent noted: events (stamped with the month), projects, tallies.

        Args:
            report: The agent's report.
        """
        for e in report.events:
            self.events.append(
                {
                    "month": self.month,
                    "event": e.event,
                    "city": e.city,
                    "project": e.project,
                    "domain": e.domain,
                    "info": e.info,
                }
            )
            if e.event == "vendor_exit":
                for inv in self.investors:
                    inv.observe_default("vendor")
        self.projects.extend(report.projects)
        for name, amount in report.tallies:
            if name == "ppp_value_for_money_usd":
                self.ppp_vfm.append(amount)
            else:
                self.totals[name] += amount

    # ------------------------------------------------------------------ step

    def _incidents(self) -> None:
        sandbox = self.scenario.policy.governance.sandbox
        for city in self.cities:
            for pr in city.projects:
                if pr.deployed and not pr.halted(self.month):
                    if self.regulator.check_incident(pr, sandbox, self.month):
                        self.residents.incident(
                            self.layout.district_slice(city.index),
                            pr.coverage_by_district(self.layout.districts) > 0,
                        )
        self.book(self.regulator.outbox.drain())

    def _deliveries(self) -> list[services.CityProjects]:
        return [(self.layout.district_slice(c.index), c.projects) for c in self.cities]

    def _residents_and_land(self) -> None:
        """Residents respond to the services delivered; land values follow."""
        w = self.scenario.world
        factor = w.stress.performance_factor
        cities = self._deliveries()
        n = self.population.n_districts
        delivered = [
            services.coverage_and_quality(cities, d, n, self.layout.districts, self.month, factor)
            for d in self.services
        ]
        self.residents.step(
            [c for c, _ in delivered], np.array([q for _, q in delivered]), self.market.income_index
        )
        uplift = services.land_uplift(cities, n, self.layout.districts, self.month, factor)
        self.land.update(
            self.market.property_index,
            uplift,
            w.macro.land_value_uplift_per_coverage,
            w.macro.land_value_lag_months,
        )

    def _key_vendor_exits(self) -> None:
        """Vendor-default overlay: the vendor with the most deployed units leaves."""
        units: dict[int, float] = {}
        for pr in self.projects:
            for v in pr.live_vendors()[:1]:
                units[v.unique_id] = units.get(v.unique_id, 0.0) + pr.units
        live = [v for v in self.vendors if v.solvent]
        if live:
            vendor = max(live, key=lambda v: (units.get(v.unique_id, 0.0), -v.index))
            vendor.exit(self.month)
            self.book(vendor.outbox.drain())

    def step(self) -> None:
        """Advance the model by one month (see the module docstring for the order).

        ``running`` turns False with the horizon's last month, as Mesa's loops
        (``while model.running``, ``mesa.batch_run``) expect.

        Raises:
            RuntimeError: When stepped past the horizon.
        """
        if self.steps > self.horizon:
            raise RuntimeError(
                f"the run's horizon of {self.horizon} months is reached (running is False); "
                "make a new model to run again"
            )
        self.month = self.steps - 1
        self.market.advance(self.month)
        self._incidents()
        self._residents_and_land()
        if self.month == self.scenario.world.stress.vendor_default_month:
            self._key_vendor_exits()
        for report in self.agents_by_type[City].map("step"):
            self.book(report)
        for vendor in self.agents_by_type[Vendor]:
            vendor.step()
            if vendor.outbox.pending:  # most months a vendor notes nothing
                self.book(vendor.outbox.drain())
        self.agents_by_type[Investor].do("step")
        self.series.record(self.month)
        if self.month + 1 >= self.horizon:
            self.running = False
            # Mesa 3.3 counts agent ids in a class-level dict keyed by the model, which
            # keeps every model (and its ledger, ~1.7 MB) alive for the process's life:
            # a sweep worker grew to 12 GB. No agent is made after the horizon.
            mesa.Agent._ids.pop(self, None)

    def run(self, progress: Any = None) -> None:
        """Run to the horizon.

        Args:
            progress: Optional callable taking the number of months done (e.g. a tqdm update).
        """
        for _ in range(self.horizon):
            self.step()
            if progress is not None:
                progress(1)

    # ------------------------------------------------------------------ the run's record

    def record(self) -> RunRecord:
        """Everything the KPIs are computed from, as plain data.

        Returns:
            The run's record.
        """
        led = self.ledger
        cities = [
            CityRecord(
                name=c.name,
                index=c.index,
                rating_index=c.treasury.rating_index,
                contingent=c.treasury.contingent,
                guarantee_calls=c.treasury.guarantee_calls,
                financing_failures=c.treasury.financing_failures,
                revolving_balance=led.balance(c.funds.revolving),
                debts=list(c.treasury.debts),
                minibond_sale=c.treasury.minibond_sale,
                tif_area=c.funds.tif_area,
                retentions=tuple(c.treasury.retentions),
                exposure=c.treasury.exposure,
            )
            for c in self.cities
        ]
        pop = self.population
        adoption = {
            d: (pop.adoption_share(i), pop.adoption_by_quintile(i))
            for i, d in enumerate(self.services)
        }
        return RunRecord(
            scenario=self.scenario,
            horizon=self.horizon,
            ledger=led,
            series=self.series.data,
            events=self.events,
            projects=self.projects,
            cities=cities,
            districts=self.layout.districts,
            adoption=adoption,
            totals=dict(self.totals),
            ppp_vfm=list(self.ppp_vfm),
            incidents=self.regulator.incidents,
            av=self.land.av,
            av_trend=self.land.trend,
        )
