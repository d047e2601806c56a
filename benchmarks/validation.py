"""The model's figures for docs/validation.md, over seeds: python -m benchmarks.validation [N].

Prints, for each calibration case, the model's figure for every target of the
validation table (mean and range over seeds 0..N-1, default 8) on two
processes. The targets, their sources and whether each was used to set a
parameter are in docs/validation.md; tests/test_calibration.py (in sample)
and tests/test_validation.py (out of sample) check them with tolerances.
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import sim


def initiatives(result: sim.RunResult) -> tuple[int, int]:
    """(procured initiatives, of which scaled): replacements are not initiatives."""
    ev = result.events
    starts = ev[ev.event == "procurement_start"]
    starts = starts[~starts["info"].astype(str).str.contains("replaces")]
    started = set(starts.project)
    return len(started), len(started & set(ev[ev.event == "scaled"].project))


def pilot_probabilities(result: sim.RunResult) -> list[float]:
    """P(theta > break-even) at every pilot evaluation."""
    ev = result.events
    dec = ev[ev.event.isin(["pilot_scale", "pilot_stopped", "pilot_extended"])]
    return [float(str(i).split("p=")[1].split(",")[0]) for i in dec["info"]]


def figures(job: tuple[str, int]) -> tuple[str, dict[str, float]]:
    """One run's figures."""
    name, seed = job
    r = sim.run(name, seed=seed)
    e = r.ledger.entries()
    out: dict[str, float] = {}
    if name == "san_diego_streetlights":
        out["loan drawn in the first 5 years (USD M)"] = (
            e[(e.kind == "loan") & (e.step < 60)].amount.sum() / 1e6
        )
        sav = e[(e.kind == "savings") & (e.step >= 36) & (e.step < 72)]
        out["savings a year, years 4-6 (USD M)"] = sav.amount.sum() / 3 / 1e6
        under = sim.run(name, seed=seed, overlays=("underperformance",)).ledger.entries()
        sav = under[(under.kind == "savings") & (under.step >= 36) & (under.step < 72)]
        out["savings a year, underperformance overlay (USD M)"] = sav.amount.sum() / 3 / 1e6
    elif name == "denver_minibonds":
        out["sold (USD M)"] = r.kpis["minibond_sold_usd"] / 1e6
        out["sell-out (hours)"] = r.kpis["minibond_sellout_hours"]
    elif name == "helsinki_maas":
        a = r.timeseries["adoption.maas"]
        out["share of residents using it, 2018 H1 (%)"] = 100 * float(a.iloc[24:31].mean())
        out["monthly users, 2023 (k)"] = float(a.iloc[84:96].mean()) * 1.45e6 / 1e3
        fees = e[(e.kind == "user_fee") & (e.step >= 72) & (e.step < 84)]
        out["user fees, 2022 (USD M)"] = fees.amount.sum() / 1e6
    elif name == "alliance":
        started, scaled = initiatives(r)
        out["initiatives never scaled (%)"] = 100 * (1 - scaled / started)
        ps = pilot_probabilities(r)
        if ps:
            extreme = sum(1 for p in ps if p < 0.05 or p > 0.95)
            out["pilot evaluations with P < 0.05 or > 0.95 (%)"] = 100 * extreme / len(ps)
    return name, out


def main(n: int = 8) -> None:
    """Print every figure's mean and range over seeds 0..n-1."""
    cases = ("san_diego_streetlights", "denver_minibonds", "helsinki_maas", "alliance")
    jobs = [(c, s) for c in cases for s in range(n)]
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(figures, jobs))
    for case in cases:
        rows = [f for c, f in results if c == case]
        print(f"{case} (seeds 0-{n - 1})")
        for key in rows[0]:
            v = np.array([r[key] for r in rows if key in r])
            print(f"  {key:55s} mean {v.mean():9.3f}   range {v.min():9.3f} .. {v.max():9.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
