"""Converged sensitivity analysis of the flagship alliance study: emulator vs brute-force Sobol.

Usage: ``python -m benchmarks.sensitivity_convergence [--engine dask] [--workers 2]
[--replications 3] [--start-n 64] [--max-runs 24576] [--sobol-n 32] [--out DIR]``;
``--analytic`` prints only the known-answer table (Ishigami, G function; seconds);
``--gp-kernels`` only the Gaussian process's compiled likelihood and kernel against
scikit-learn's, on the same points in the same run (about a minute).

1. The emulator: ``experiments/specs/sobol_alliance.toml`` (every parameter of it,
   15) with ``method = "emulator"``, run with ``--until-converged`` from
   ``--start-n`` Sobol' points, growing (points doubled, replications raised
   for a noise-limited KPI) until every reported index's CI half-width is at
   most 0.05 and the N/2-vs-N check passes, or ``--max-runs`` (default 24,576:
   what 2 cores run in about 20 minutes) is spent.
2. Brute force: the same spec as shipped (Sobol, Saltelli's design at
   ``--sobol-n``, second order).

Prints a line per emulator round, then the table (method, runs, wall time, max CI
half-width, Q2 per KPI, converged), the agreement of the two methods' total
indices (|ST_emulator - ST_sobol| within the sum of their half-widths) and
whether the target was met: the emulator converged, with Q2 >= 0.9 for the KPIs
it reports, in at most 20 minutes. Both studies start from empty folders (a
temporary one, or ``--out DIR/emulator`` and ``DIR/sobol``, which a rerun resumes).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from experiments.sensitivity.adaptive import round_line, run_until_converged  # noqa: E402
from experiments.sensitivity.spec import load_sensitivity_spec  # noqa: E402
from experiments.sensitivity.study import run_sensitivity  # noqa: E402
from sim.config import read_toml  # noqa: E402

SPEC = ROOT / "experiments" / "specs" / "sobol_alliance.toml"
TARGET_SECONDS = 20 * 60


def _emulator_spec(replications: int, n: int):
    data = read_toml(SPEC)
    data["experiment"]["name"] = "sobol_alliance_emulator"
    data["experiment"]["replications"] = replications
    data["sensitivity"]["method"] = "emulator"
    data["sensitivity"]["n"] = n
    return load_sensitivity_spec(data)


def _max_ci(indices) -> float:
    return float(indices["ci"].max()) if len(indices) else float("nan")


def _max_ci_first_total(indices) -> float:
    return _max_ci(indices[indices["index"].isin(["S1", "ST"])])


def _agreement(em, sobol) -> tuple[int, int]:
    """Total indices of the emulator's reported KPIs within the two CIs of Sobol's."""
    a = em[em["index"] == "ST"]
    b = sobol[sobol["index"] == "ST"]
    both = a.merge(b, on=["kpi", "parameter"], suffixes=("_em", "_sobol"))
    ok = (both["value_em"] - both["value_sobol"]).abs() <= both["ci_em"] + both["ci_sobol"]
    return int(ok.sum()), len(both)


def analytic_table(base: Path, seeds: int = 5) -> None:
    """The emulator on Ishigami and the G function against their closed forms, over seeds."""
    import math

    from experiments.engine.analytic import g_function_indices, ishigami_indices

    print(
        f"| function | points = runs | reported (of {seeds} seeds) | Q2 (min-max) | "
        "emulator chosen | max abs error S1 / ST | within CI + 0.005 | seconds per study |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    cases = [("ishigami", 4, (-math.pi, math.pi), ishigami_indices(), n) for n in (64, 128, 256)]
    cases += [("g_function", 8, (0.0, 1.0), g_function_indices(), n) for n in (128, 256, 512)]
    for name, d, bounds, truth, n in cases:
        q2s, errors, inside, reported, seconds = [], {"S1": 0.0, "ST": 0.0}, True, 0, 0.0
        chosen: dict[str, int] = {}
        for seed in range(1, seeds + 1):
            spec = load_sensitivity_spec(
                {
                    "experiment": {
                        "name": name,
                        "model": f"experiments.engine.analytic:{name}",
                        "seed": seed,
                    },
                    "sensitivity": {
                        "method": "emulator",
                        "n": n,
                        "kpis": ["y"],
                        "bootstrap": 200,
                        "parameters": {f"x{i}": {"bounds": list(bounds)} for i in range(1, d + 1)},
                    },
                }
            )
            t0 = time.perf_counter()
            out = base / f"{name}_{n}_{seed}"
            a = run_sensitivity(spec, out, engine="serial", charts=False).analysis
            seconds += time.perf_counter() - t0
            q2s.append(float(a.emulator["q2"].iloc[0]))
            kind = str(a.emulator["emulator"].iloc[0])
            chosen[kind] = chosen.get(kind, 0) + 1
            if a.indices.empty:
                continue
            reported += 1
            t = a.indices.set_index(["index", "parameter"])
            for kind in ("S1", "ST"):
                for k, v in truth[kind].items():
                    err = abs(t.loc[(kind, k), "value"] - v)
                    errors[kind] = max(errors[kind], err)
                    inside &= bool(err <= t.loc[(kind, k), "ci"] + 0.005)
        err_text = f"{errors['S1']:.3f} / {errors['ST']:.3f}" if reported else "-"
        print(
            f"| {name} (D = {d}) | {n} | {reported} | {min(q2s):.2f}-{max(q2s):.2f} | "
            f"{', '.join(f'{k} {v}' for k, v in sorted(chosen.items()))} | {err_text} | "
            f"{inside if reported else '-'} | {seconds / seeds:.1f} |"
        )


def _best(fn, *args, repeats: int = 3, **kwargs) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(*args, **kwargs)
        best = min(best, time.perf_counter() - t)
    return best


def gp_kernel_table(d: int = 15, rows: int = 8192) -> None:
    """The compiled likelihood, fit and prediction kernel against scikit-learn's, same run.

    A 15-input design of 256-1,024 Sobol' points with a hinge, a wave, an
    interaction and noise (the flagship study's shape). Each cell is the best of
    three calls once the compiled loops are loaded; a fit is one call, a
    likelihood optimisation from the same start (the two differ only by
    rounding in the gradient).
    """
    import warnings

    import numpy as np
    from scipy.stats import qmc
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor

    from experiments.sensitivity import gp

    warnings.simplefilter("ignore", ConvergenceWarning)
    print(
        "| points | likelihood + gradient: compiled / scikit-learn (ms) | ratio | "
        "fit (s) | ratio | kernel at 8,192 x points (s) | ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in (256, 512, 1024):
        u = qmc.Sobol(d, seed=1).random(n)
        y = np.maximum(0, u[:, 0] - 0.4) * 3 + np.sin(4 * u[:, 1]) + 0.3 * u[:, 2] * u[:, 3]
        y = y + 0.05 * np.random.default_rng(0).standard_normal(n)
        z = (y - y.mean()) / y.std()
        kernel = gp._kernel(d)
        reference = GaussianProcessRegressor(kernel, optimizer=None).fit(u, z)
        theta = kernel.theta
        gp.log_likelihood(theta, u[:8], z[:8])  # compile (or load the cache)
        ours = _best(gp.log_likelihood, theta, u, z)
        theirs = _best(reference.log_marginal_likelihood, theta, eval_gradient=True)
        fit_ours = _best(gp._optimise, u, z, repeats=1)
        fit_theirs = _best(
            GaussianProcessRegressor(gp._kernel(d), random_state=0).fit, u, z, repeats=1
        )
        fitted = gp.fit(u, y)
        x = qmc.Sobol(d, seed=2).random(rows)
        k_ours = _best(fitted.cross, x)
        k_theirs = _best(fitted.signal, x, u)
        print(
            f"| {n} | {ours * 1e3:.1f} / {theirs * 1e3:.1f} | {theirs / ours:.1f}x | "
            f"{fit_ours:.1f} / {fit_theirs:.1f} | {fit_theirs / fit_ours:.1f}x | "
            f"{k_ours:.2f} / {k_theirs:.2f} | {k_theirs / k_ours:.1f}x |",
            flush=True,
        )
    print("command: python -m benchmarks.sensitivity_convergence --gp-kernels")


def main(argv: list[str] | None = None) -> None:
    """Run both studies and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="dask")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--replications", type=int, default=3)
    ap.add_argument("--start-n", type=int, default=64)
    ap.add_argument("--max-runs", type=int, default=24576)
    ap.add_argument("--sobol-n", type=int, default=32)
    ap.add_argument("--skip-sobol", action="store_true", help="the emulator only")
    ap.add_argument(
        "--sobol-folder",
        default=None,
        help="a finished brute-force study (alliance sensitivity sobol_alliance.toml --out DIR): "
        "read its indices and wall time instead of running it",
    )
    ap.add_argument("--out", default=None, help="keep the studies here (default: a temp folder)")
    ap.add_argument(
        "--analytic", action="store_true", help="only the Ishigami and G function table (seconds)"
    )
    ap.add_argument(
        "--gp-kernels",
        action="store_true",
        help="only the Gaussian process's compiled loops against scikit-learn's (a minute)",
    )
    args = ap.parse_args(argv)
    if args.gp_kernels:
        gp_kernel_table()
        return
    tmp = None if args.out else tempfile.TemporaryDirectory(prefix="sa-convergence-")
    base = Path(args.out) if args.out else Path(tmp.name)
    if args.analytic:
        analytic_table(base)
        return
    spec = _emulator_spec(args.replications, args.start_n)
    d = len(spec.sensitivity.parameters)
    print(
        f"flagship study {SPEC.name}: {d} parameters, {len(spec.sensitivity.kpis)} KPIs, "
        f"{args.replications} replications, engine {args.engine} ({args.workers} workers), "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    t0 = time.perf_counter()
    result = run_until_converged(
        spec,
        base / "emulator",
        max_runs=args.max_runs,
        engine=args.engine,
        workers=args.workers,
        on_round=lambda r: print("  emulator " + round_line(r, r.index), flush=True),
    )
    em_seconds = time.perf_counter() - t0
    em = result.study.analysis
    print(f"  emulator stopped by {result.stopped_by}: {result.reason}", flush=True)
    for note in em.warnings:
        print(f"  warning: {note}", flush=True)
    fits = em.emulator.set_index("kpi")
    rows = [
        (
            f"emulator, --until-converged, N = {result.rounds[-1].n} points x "
            f"{result.rounds[-1].replications} replications",
            f"{result.rounds[-1].runs:,} ({sum(r.ran for r in result.rounds):,} run now)",
            em_seconds,
            f"{_max_ci_first_total(em.indices):.3f} / {_max_ci(em.indices):.3f}",
            ", ".join(
                f"{k} {fits.loc[k, 'q2']:.2f} {fits.loc[k, 'emulator']}"
                f"{'' if fits.loc[k, 'reported'] else ' (withheld)'}"
                for k in fits.index
            ),
            result.stopped_by == "converged",
        )
    ]
    sobol = None
    if args.sobol_folder:
        import json

        from experiments.sensitivity.analysis import analyse

        folder = Path(args.sobol_folder)
        timing = json.loads((folder / "analysis.json").read_text())["timing"]
        sobol = analyse(folder, charts=False)  # rewrites analysis.json: keep the timing
        summary = json.loads((folder / "analysis.json").read_text())
        (folder / "analysis.json").write_text(json.dumps({**summary, "timing": timing}))
        n_sobol = int(json.loads((folder / "sensitivity.json").read_text())["n"])
        converged = bool(sobol.verdicts["converged"].all()) and _max_ci(sobol.indices) <= 0.05
        rows.append(
            (
                f"brute-force Sobol (Saltelli), N = {n_sobol} (stored study)",
                f"{int(timing['runs_planned']):,}",
                float(timing["wall_seconds"]),
                f"{_max_ci_first_total(sobol.indices):.3f} / {_max_ci(sobol.indices):.3f}",
                "n/a",
                converged,
            )
        )
    elif not args.skip_sobol:
        sspec = load_sensitivity_spec(SPEC)
        sspec = sspec.model_copy(
            update={"sensitivity": sspec.sensitivity.model_copy(update={"n": args.sobol_n})}
        )
        t1 = time.perf_counter()
        study = run_sensitivity(
            sspec, base / "sobol", engine=args.engine, workers=args.workers, charts=False
        )
        sobol = study.analysis
        converged = bool(sobol.verdicts["converged"].all()) and _max_ci(sobol.indices) <= 0.05
        rows.append(
            (
                f"brute-force Sobol (Saltelli), N = {args.sobol_n}",
                f"{study.planned:,} ({study.ran:,} run now)",
                time.perf_counter() - t1,
                f"{_max_ci_first_total(sobol.indices):.3f} / {_max_ci(sobol.indices):.3f}",
                "n/a",
                converged,
            )
        )
    print()
    print("| method | runs | wall time | max CI half-width (S1, ST / all) | Q2 | converged |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, runs, seconds, ci, q2, conv in rows:
        print(f"| {name} | {runs} | {seconds:.0f} s | {ci} | {q2} | {conv} |")
    if sobol is not None and len(em.indices):
        agree, total = _agreement(em.indices, sobol.indices)
        print(
            f"\nST agreement on the emulator's reported KPIs: {agree} of {total} within the "
            "sum of the two half-widths"
        )
        for kpi in dict.fromkeys(em.indices["kpi"]):
            print(f"  {kpi}: ST, emulator vs Sobol, the emulator's five largest")
            top = em.top(kpi, 5)
            st = sobol.indices[(sobol.indices["kpi"] == kpi) & (sobol.indices["index"] == "ST")]
            st = st.set_index("parameter")
            for row in top.itertuples():
                print(
                    f"    {row.parameter:<48} {row.value:.2f} +/- {row.ci:.2f}   "
                    f"{st.loc[row.parameter, 'value']:.2f} +/- {st.loc[row.parameter, 'ci']:.2f}"
                )
    reported = fits[fits["reported"]]
    resumed = sum(r.ran for r in result.rounds) < result.rounds[-1].runs
    if resumed:
        print("\nnote: resumed from stored runs, so the emulator's time is not the study's")
    met = (
        not resumed
        and result.stopped_by == "converged"
        and em_seconds <= TARGET_SECONDS
        and len(reported) > 0
        and bool((reported["q2"] >= 0.9).all())
    )
    print(
        f"\ntarget (the flagship study, {d} parameters, converged with Q2 >= 0.9 for the "
        f"KPIs reported, in <= 20 min): {'MET' if met else 'NOT met'} "
        f"(emulator {em_seconds / 60:.1f} min, stopped by {result.stopped_by}; reported "
        f"{', '.join(reported.index) or 'none'}; withheld "
        f"{', '.join(fits.index[~fits['reported']]) or 'none'})"
    )
    print(
        "command: python -m benchmarks.sensitivity_convergence "
        + " ".join(argv if argv is not None else sys.argv[1:])
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
