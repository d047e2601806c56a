"""AllianceModel: the Mesa model that wires agents, mechanisms, ledger and residents.

Step order (one step = one month ``t``), deterministic for a seed:

1. markets: rate shift (curve shift, rate shock, spread widening) and the
   revenue / property indices (trend growth, recession);
2. regulator: incident draws for every deployed project (halts, trust loss);
3. residents (one Mesa agent over arrays): adoption of each user-facing
   service (Bass diffusion with churn, numba kernel), fees owed, satisfaction
   and trust, district land values;
4. cities (Mesa AgentSet, creation order): revenue (property tax from land values, TIF
   increments), spending, project operations and payments, debt service,
   lifecycle decisions (award, approval, pilot, evaluation, scale-up, end),
   new procurements, annual rating review;
5. vendors (AgentSet; the vendor-default overlay first removes the vendor
   leading the most deployed units): default hazard and insolvency (exit);
6. investors (AgentSet): premia decay;
7. record the month's series.

Randomness: the seed becomes a ``SeedSequence`` with one stream per purpose
(world, market, regulator, residents, measurement, events). The world stream
draws only the world (vendors' hidden traits, residents), so two policies run
with the same seed face the same world: common random numbers for paired
comparisons.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from agents.city import City
from agents.investor import Investor
from agents.regulator import Regulator
from agents.residents import Population, Residents
from agents.vendor import Vendor
from sim.config.schema import Scenario
from sim.core import finance, kernels
from sim.core.fields import RATINGS
from sim.core.ledger import Ledger
from sim.mechanisms.lifecycle import DEPLOYED, Project

STREAMS = ("world", "market", "regulator", "residents", "measure", "events")
OUTSIDE = ("opening", "market", "utility", "economy", "services", "framework")


def _cycle_factor(t: int, start: int, length: int, drop: float) -> float:
    """1 - drop during [start, start + length), recovering linearly over as long again."""
    if start < 0 or t < start or drop <= 0:
        return 1.0
    if t < start + length:
        return 1.0 - drop
    return 1.0 - drop * max(0.0, 1.0 - (t - start - length) / length)


class AllianceModel(mesa.Model):
    """A region of cities, vendors, investors, residents and a regulator."""

    def __init__(self, scenario: Scenario, seed: int = 0, months: int | None = None) -> None:
        """Build the world and the agents from a validated scenario.

        Args:
            scenario: A validated scenario (see :func:`sim.config.load_scenario`).
            seed: Seed of every random stream of the run.
            months: Horizon (default: ``world.horizon_months``).
        """
        super().__init__(seed=seed)
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
        self.accounts = {name: self.ledger.open_account(f"outside:{name}", "outside",
                                                        external=True) for name in OUTSIDE}
        self.curve = finance.YieldCurve(
            tenors_years=(10.0, 20.0),
            yields={r: (w.rates.yields_10y[r], w.rates.yields_20y[r]) for r in RATINGS})
        self.events: list[dict[str, Any]] = []
        self.projects: list[Project] = []
        self.project_by_id: dict[int, Project] = {}
        self._pid = 0
        self.evidence: dict[tuple, list[float]] = {}
        self.proven_domains = set(w.procurement.framework_domains)
        members = [c for c in w.cities.values() if c.consortium_member]
        self.consortium = len(members) > 1
        self.kwh_saved = self.savings_usd = self.welfare_usd = 0.0
        self.ppp_vfm: list[float] = []
        self.revenue_index = self.revenue_trend = self.property_index = self.income_index = 1.0
        # --- residents (world stream) and their ledger groups
        self.services = [d for d, t in w.technology.items() if t.user_facing]
        self.districts = w.region.districts_per_city
        names = list(w.cities)
        self.population = Population.create(
            self.rng_world, city_populations=[w.cities[n].population for n in names],
            districts_per_city=self.districts, params=w.residents, n_services=len(self.services))
        pop = self.population
        self.group_accounts = np.array([
            self.ledger.open_account(f"residents:{names[c]}:d{d}:q{q + 1}", "resident",
                                     owner=names[c])
            for c, d, q in pop.group_labels()], dtype=np.int64)
        per_city = self.districts * 5
        self.city_groups = [np.arange(i * per_city, (i + 1) * per_city) for i in range(len(names))]
        income = kernels.group_sums(pop.income_month, pop.group_id, pop.weight, pop.n_groups)
        by_district = income.reshape(-1, 5).sum(axis=1)
        self.group_tax_share = income / np.repeat(np.where(by_district > 0, by_district, 1), 5)
        self.residents = Residents(self, pop)
        # --- institutions
        self.vendors = [Vendor(self, i, self.rng_world) for i in range(w.vendors.count)]
        self.investors = [Investor(self, i) for i in range(w.investors.count)]
        self.bondholder = self.investors[0].account
        self._vendor_of_account = {v.account: v for v in self.vendors}
        self.regulator = Regulator(self)
        self.cities = [City(self, i, n) for i, n in enumerate(names)]
        # --- land values: each city's assessed value split by district income
        summary = pop.district_summary()
        weight = (summary["population"] * summary["income_month"]).to_numpy()
        self.av0 = np.zeros(pop.n_districts)
        for c in self.cities:
            sl = slice(c.index * self.districts, (c.index + 1) * self.districts)
            total = c.property_base0 / max(c.spec.property_tax_rate, 1e-9)
            self.av0[sl] = total * weight[sl] / weight[sl].sum()
        self.av_trend = self.av0.copy()
        self.av = self.av0.copy()
        self.series = _Series(self)

    # ------------------------------------------------------------------ helpers

    def add_project(self, project: Project) -> None:
        """Register a new project (in order and by id)."""
        self.projects.append(project)
        self.project_by_id[project.pid] = project

    def next_pid(self) -> int:
        """A new project id (ids start at 1; 0 tags program-level flows)."""
        self._pid += 1
        return self._pid

    def record(self, project: Project | None, event: str, **info: Any) -> None:
        """Append to the lifecycle event log.

        Args:
            project: The project concerned, if any.
            event: Event name.
            **info: Details.
        """
        self.events.append({
            "month": self.month, "event": event,
            "city": project.city if project else info.pop("city", ""),
            "project": project.pid if project else -1,
            "domain": project.domain if project else "", "info": info})

    def live_account(self, account: int) -> int:
        """Where a payment to ``account`` goes: an exited vendor's claims pass to the market."""
        vendor = self._vendor_of_account.get(account)
        if vendor is not None and not vendor.solvent:
            return self.accounts["market"]
        return account

    def rate_shift(self, rating: str) -> float:
        """Yield shift for a rating this month: curve shift, rate shock, spread widening."""
        s = self.scenario.world.stress
        bp = self.scenario.world.rates.shift_bp
        if s.rate_shock_bp > 0 and self.month >= s.rate_shock_month:
            bp += s.rate_shock_bp + s.spread_widening_bp * max(0, RATINGS.index(rating) - 1)
        return bp / 1e4

    def district_slice(self, city: int) -> slice:
        """Global district indices of a city."""
        return slice(city * self.districts, (city + 1) * self.districts)

    def service(self, domain: str) -> int:
        """Row of a user-facing domain in the residents' arrays."""
        return self.services.index(domain)

    def fees_of(self, city: int, domain: str) -> np.ndarray:
        """Fees residents of a city owe this month for a service, per group."""
        return self.residents.fees[self.service(domain), self.city_groups[city]]

    def users_of(self, city: int, domain: str) -> float:
        """Users of a service in a city (real people)."""
        return float(self.residents.users[self.service(domain), self.district_slice(city)].sum())

    def adoption_of_potential(self, city: int, domain: str) -> float:
        """Users as a share of the service's market potential in a city."""
        tech = self.scenario.world.technology[domain]
        people = self.cities[city].spec.population * max(tech.market_potential, 1e-9)
        return self.users_of(city, domain) / people

    # ------------------------------------------------------------------ step

    def _markets(self) -> None:
        w = self.scenario.world
        s = w.stress
        t = self.month
        income = _cycle_factor(t, s.recession_month, s.recession_months, s.recession_income_drop)
        prop = _cycle_factor(t, s.recession_month, s.recession_months, s.recession_property_drop)
        self.revenue_trend = (1 + w.macro.revenue_growth_annual) ** (t / 12)
        self.revenue_index = self.revenue_trend * income
        self.property_index = (1 + w.macro.property_growth_annual) ** (t / 12) * prop
        self.income_index = (1 + w.macro.income_growth_annual) ** (t / 12) * income

    def _incidents(self) -> None:
        loss = self.scenario.world.residents.incident_trust_loss
        sandbox = self.scenario.policy.governance.sandbox
        for city in self.cities:
            for pr in city.projects:
                if pr.units > 0 and pr.state in DEPLOYED and self.month >= pr.halted_until:
                    if self.regulator.check_incident(pr, sandbox):
                        covered = pr.coverage_by_district(self.districts) > 0
                        self.residents.shock[self.district_slice(city.index)] += loss * covered

    def _key_vendor_exits(self) -> None:
        """Vendor-default overlay: the vendor with the most deployed units leaves."""
        units: dict[int, float] = {}
        for pr in self.projects:
            for v in pr.live_vendors()[:1]:
                units[v.unique_id] = units.get(v.unique_id, 0.0) + pr.units
        live = [v for v in self.vendors if v.solvent]
        if live:
            max(live, key=lambda v: (units.get(v.unique_id, 0.0), -v.index)).exit()

    def step(self) -> None:
        """Advance the model by one month (see the module docstring for the order)."""
        self.month = self.steps - 1
        self._markets()
        self._incidents()
        self.residents.step()
        if self.month == self.scenario.world.stress.vendor_default_month:
            self._key_vendor_exits()
        self.agents_by_type[City].do("step")
        self.agents_by_type[Vendor].do("step")
        self.agents_by_type[Investor].do("step")
        self.series.record(self.month)

    def run(self, progress: Any = None) -> None:
        """Run to the horizon.

        Args:
            progress: Optional callable taking the number of months done (e.g. a tqdm update).
        """
        for _ in range(self.horizon):
            self.step()
            if progress is not None:
                progress(1)


class _Series:
    """Monthly model-level series in preallocated arrays (a lean DataCollector)."""

    def __init__(self, model: AllianceModel) -> None:
        self.model = model
        n = model.horizon
        names = ["month", "vendors_solvent", "investor_premium", "trust_mean",
                 "satisfaction_mean"]
        for c in model.cities:
            names += [f"{c.name}.{k}" for k in ("general_fund", "debt_service_ratio", "rating",
                                                 "revenue", "revolving_fund", "tif_fund")]
        names += [f"coverage.{d}" for d in model.scenario.world.technology]
        for d in model.services:
            names += [f"adoption.{d}"] + [f"adoption.{d}.q{q}" for q in range(1, 6)]
        self.data = {k: np.zeros(n) for k in names}

    def record(self, t: int) -> None:
        m = self.model
        if t >= len(self.data["month"]):
            return
        d = self.data
        d["month"][t] = t
        d["vendors_solvent"][t] = sum(v.solvent for v in m.vendors)
        d["investor_premium"][t] = float(np.mean([i.premium for i in m.investors]))
        pop = m.population
        d["trust_mean"][t] = pop.weighted_mean(pop.trust)
        d["satisfaction_mean"][t] = pop.weighted_mean(pop.satisfaction)
        led = m.ledger
        for c in m.cities:
            d[f"{c.name}.general_fund"][t] = led.balance(c.general)
            d[f"{c.name}.debt_service_ratio"][t] = c.debt_service_ratio(t)
            d[f"{c.name}.rating"][t] = c.rating_index
            d[f"{c.name}.revenue"][t] = c.revenue_month
            d[f"{c.name}.revolving_fund"][t] = led.balance(c.revolving)
            d[f"{c.name}.tif_fund"][t] = led.balance(c.tif)
        for domain in m.scenario.world.technology:
            cov = [pr.coverage for pr in m.projects
                   if pr.domain == domain and pr.state in DEPLOYED]
            d[f"coverage.{domain}"][t] = float(np.sum(cov)) / max(len(m.cities), 1)
        for s, domain in enumerate(m.services):
            d[f"adoption.{domain}"][t] = pop.adoption_share(s)
            for q, share in enumerate(pop.adoption_by_quintile(s), start=1):
                d[f"adoption.{domain}.q{q}"][t] = share
