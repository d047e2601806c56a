"""Time from a lever change to the first estimate and to the full result on the what-if page.

Measures what the page does on a change of lever: the request goes to the runner's
warm workers (started before the clock starts), the painter builds the scorecard,
charts and stress matrix as worlds finish. Two designs, one overlay, 20 worlds at
the designs' horizon; each lever value is new (nothing read from the run store),
then the first value again (read from the store).

Run: ``PYTHONPATH=. python benchmarks/app_latency.py [--worlds 20] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from experiments.app.runner import Runner
from experiments.app.server import App
from experiments.app.state import Request


def measure(app: App, request: Request) -> tuple[float, float]:
    job = app.runner.submit(request)
    while job.shown_full is None:
        if job.status in ("failed", "cancelled"):
            raise SystemExit(f"benchmark: the request {job.status}: {job.error}")
        if not app.paint_once():
            time.sleep(0.01)
    return job.shown_first, job.shown_full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--months", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="alliance-app-bench-") as cache:
        runner = Runner(cache, workers=args.workers)
        t0 = time.perf_counter()
        runner.start(wait=True)
        print(f"workers up in {time.perf_counter() - t0:.1f} s (once, when the app starts)")
        app = App(runner, exports=cache)
        base = Request(("traditional", "alliance"), ("rate_shock",), (), args.worlds, args.months)
        firsts, fulls = [], []
        for i in range(args.repeat):
            req = base.with_levers({"world.rates.shift_bp": 100.0 + 50 * i})
            first, full = measure(app, req)
            firsts.append(first)
            fulls.append(full)
            print(f"lever change {i + 1}: first estimate {first:.2f} s, full result {full:.2f} s")
        again = base.with_levers({"world.rates.shift_bp": 100.0})
        runner.submit(base)  # a different request first, so the next is not the current one
        first, full = measure(app, again)
        print(f"back to the first setting (run store): full result {full:.2f} s")
        print(
            f"median over {args.repeat}: first estimate {statistics.median(firsts):.2f} s, "
            f"full result ({args.worlds} worlds x 2 designs x (plain + 1 overlay)) "
            f"{statistics.median(fulls):.2f} s"
        )
        runner.close()


if __name__ == "__main__":
    main()
