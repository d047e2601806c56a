"""Bad inputs tried and faults injected into the run store, with the tallies (issue 12).

Usage: ``python -m benchmarks.robustness [--fuzz 2000] [--kills 12] [--seed 1]``.

Bad inputs: every case of ``tests/robustness_cases.py`` (command lines, scenario
files, experiment and sensitivity specs) through the ``alliance`` command, and
``--fuzz`` random scenario files (junk values at real parameter paths, random
bytes). Each must end in a clear error (non-zero exit, problem lines only) or,
for the fuzz, a valid scenario; an internal error or traceback is counted.

Faults, each on the fault experiment (30 runs with monthly series) and
compared with an uninterrupted run of it: ``--kills`` kills at random moments
(SIGKILL / SIGTERM / SIGINT to the process group; serial and process-pool
engines) then a resume; a full disk after 1..12 file writes (simulated) and a
real one (a 32-128 KiB tmpfs, where this machine lets us mount one), each then
a resume; a hanging model under ``--run-timeout`` on every engine; a worker that dies; a
model that fails once then ``--retry-failed``; two writers at once;
truncated and bit-flipped parts then a resume. Printed: faults injected and
runs lost, duplicated or different from the uninterrupted run.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import robustness_cases as rc  # noqa: E402

from experiments.engine.store import load  # noqa: E402

NONE = {"lost": 0, "duplicated": 0, "differing": 0, "corrupt": 0}


def bad_inputs(work: Path, fuzz: int, seed: int) -> dict[str, int]:
    """Run every bad-input case and the fuzz; tally what came of them."""
    tally = {"tried": 0, "clear": 0, "internal": 0, "accepted": 0, "fuzz valid": 0}
    examples: list[str] = []

    def count(outcome: rc.Outcome) -> None:
        tally["tried"] += 1
        if outcome.internal:
            tally["internal"] += 1
            examples.append(f"{outcome.case}: {outcome.stderr.strip()[-200:]}")
        elif outcome.clear:
            tally["clear"] += 1
        else:
            tally["accepted"] += 1
            examples.append(f"accepted: {outcome.case}")

    for argv in rc.BAD_ARGV:
        count(rc.alliance(argv, cwd=work))
    for table, commands in (
        (rc.BAD_SCENARIOS, (["validate"], ["run", "--months", "2"])),
        (rc.BAD_SPECS, (["batch", "--engine", "serial"],)),
        (rc.BAD_SENSITIVITY, (["sensitivity", "--engine", "serial"],)),
    ):
        for name, body in table.items():
            path = rc.write_case(work, name, body)
            for command in commands:
                out = work / f"out-{tally['tried']}"
                argv = [command[0], str(path), *command[1:]]
                if command[0] != "validate":
                    argv += ["--out", str(out)]
                outcome = rc.alliance(argv)
                outcome.case = f"{name}: {' '.join(argv[:1])}"
                count(outcome)
                if out.exists():  # a bad input must not start a run
                    tally["accepted"] += 1
                    examples.append(f"wrote {out} for {name}")
    rng = random.Random(seed)
    path = work / "fuzz.toml"
    texts = list(rc.mutations(rng, fuzz // 2))
    blobs = [
        bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))) for _ in range(fuzz // 4)
    ]
    garbled = []  # valid files with a few bytes replaced
    for _ in range(fuzz - len(texts) - len(blobs)):
        data = bytearray(rc.scenario_text([]).encode())
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        garbled.append(bytes(data))
    for data in [t.encode("utf-8", "surrogatepass") for t in texts] + blobs + garbled:
        path.write_bytes(data)
        kind = rc.classify_load(path)
        tally["tried"] += 1
        if kind == "internal":
            tally["internal"] += 1
            examples.append(f"fuzz: {data[:120]!r}")
        elif kind == "clear":
            tally["clear"] += 1
        else:
            tally["fuzz valid"] += 1
    for line in examples[:10]:
        print("  !", line)
    return tally


def faults(work: Path, kills: int, seed: int) -> dict[str, int]:
    """Inject every fault; tally runs lost, duplicated or different after resuming."""
    rng = random.Random(seed)
    spec = rc.fault_spec(work)
    runs, series = rc.reference(spec, work / "reference")
    tally = {"injected": 0, "lost": 0, "duplicated": 0, "differing": 0, "corrupt": 0}
    notes: list[str] = []

    def add(name: str, injected: int, damage: dict[str, int]) -> None:
        tally["injected"] += injected
        for key in ("lost", "duplicated", "differing", "corrupt"):
            tally[key] += max(damage[key], 0) if damage[key] >= 0 else 1
        if damage != NONE:
            notes.append(f"{name}: {damage}")

    signals = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]
    for i in range(kills):
        engine = "processes" if i % 3 == 2 else "serial"
        out = work / f"kill-{i}"
        sigs = [rng.choice(signals) for _ in range(rng.randint(1, 3))]
        done = rc.kill_and_resume(spec, out, rng, sigs, engine)
        add(
            f"kills {[s.name for s in sigs]} ({engine})",
            done["faults"],
            rc.damage(out, runs, series),
        )
        if done["codes"][-1] != 0:
            notes.append(f"kill-{i}: the resume exited {done['codes'][-1]}")
    for writes in (1, 2, 3, 5, 8, 12):
        out = work / f"full-{writes}"
        done = rc.disk_full_and_resume(spec, out, writes)
        add(f"disk full after {writes} writes", 1, rc.damage(out, runs, series))
        if done["internal"] or done["resume_code"] != 0:
            notes.append(f"disk full {writes}: {done}")
    for size in ("32k", "64k", "128k"):  # a real full disk: a small tmpfs, where allowed (root)
        small = work / f"tmpfs-{size}"
        small.mkdir()
        if (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(small)],
                capture_output=True,
            ).returncode
            != 0
        ):
            notes.append("no tmpfs here (not root): the real full disk was not tried")
            break
        try:
            out = small / "exp"
            first = rc.sweep_process(spec, out)
            _, err = first.communicate(timeout=300)
            subprocess.run(["mount", "-o", "remount,size=16m", str(small)], check=True)
            again = rc.sweep_process(spec, out)
            _, err2 = again.communicate(timeout=300)
            add(f"tmpfs of {size} full", 1, rc.damage(out, runs, series))
            if "Traceback" in err or "internal error" in err or again.returncode != 0:
                notes.append(f"tmpfs {size}: {err[-200:]} / {err2[-200:]}")
        finally:
            subprocess.run(["umount", str(small)], capture_output=True)
    # two writers at once: one runs, the other waits (--wait) or stops with one line
    out = work / "two"
    procs = [rc.sweep_process(spec, out, "serial", *extra) for extra in ((), ("--wait",))]
    codes = [p.wait(timeout=300) for p in procs]
    add("two writers", 1, rc.damage(out, runs, series))
    if codes[1] != 0 or codes[0] not in (0, 2):
        notes.append(f"two writers: exit {codes}")
    # damaged parts: truncate or flip a runs part and a series part, then resume
    for kind in ("truncate", "flip"):
        out = work / f"damaged-{kind}"
        rc.reference(spec, out)
        for part in [
            sorted((out / "runs").glob("part-*.parquet"))[1],
            sorted((out / "timeseries").glob("scenario=*/part-*.parquet"))[3],
        ]:
            data = part.read_bytes()
            mid = len(data) // 2
            part.write_bytes(
                data[:mid]
                if kind == "truncate"
                else data[:mid] + bytes(b ^ 0xFF for b in data[mid : mid + 8]) + data[mid + 8 :]
            )
        resumed = rc.alliance(["sweep", str(spec), "--engine", "serial", "--out", str(out)])
        add(f"{kind}d parts", 2, rc.damage(out, runs, series))
        if resumed.code != 0:
            notes.append(f"{kind}: resume exited {resumed.code}: {resumed.stderr[-200:]}")
    # a hanging model on every engine, a worker that dies, a model that fails once
    hang = work / "hangs.toml"
    hang.write_text(
        rc.FAULT_SPEC.format(sleep=0.0)
        .replace("analytic:walk", "analytic:hangs")
        .replace("{drift = 0.3, sleep_s = 0.0}", "{x = -1}")
    )
    for engine in ("serial", "processes", "dask"):
        out = work / f"hang-{engine}"
        done = rc.alliance(rc.sweep_args(hang, out, engine, "--run-timeout", "1"))
        table = load(out)
        timed_out = table["error"].str.startswith("RunTimeout").sum()
        tally["injected"] += 3
        if timed_out != 3 or done.code != 1 or len(table) != 30 or not table.run_id.is_unique:
            notes.append(f"hang ({engine}): exit {done.code}, {timed_out} timed out of 3")
            tally["differing"] += 1
    crash = work / "crash.toml"
    marker = work / "crashed"
    crash.write_text(
        rc.FAULT_SPEC.format(sleep=0.0)
        .replace("analytic:walk", "analytic:crash_once")
        .replace("{drift = 0.3, sleep_s = 0.0}", f'{{x = 3, marker = "{marker}"}}')
    )
    out = work / "crash"
    done = rc.alliance(
        ["sweep", str(crash), "--engine", "processes", "--workers", "2", "--out", str(out)]
    )
    table = load(out)
    tally["injected"] += 1
    if done.code != 0 or len(table) != 30 or not (table["status"] == "ok").all():
        notes.append(f"worker crash: exit {done.code}: {done.stderr[-200:]}")
        tally["lost"] += 30 - int((table["status"] == "ok").sum())
    for line in notes:
        print("  !", line)
    return tally


def main(argv: list[str] | None = None) -> None:
    """Run both parts and print the tallies."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fuzz", type=int, default=2000, help="random scenario files")
    ap.add_argument("--kills", type=int, default=12, help="kill-and-resume rounds")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="alliance-robustness-") as folder:
        work = Path(folder)
        (work / "inputs").mkdir()
        (work / "faults").mkdir()
        bad = bad_inputs(work / "inputs", args.fuzz, args.seed)
        print(
            f"bad inputs tried: {bad['tried']}; clear errors: {bad['clear']}; fuzzed files "
            f"that were valid scenarios: {bad['fuzz valid']}; accepted or started a run: "
            f"{bad['accepted']}; internal errors: {bad['internal']}"
        )
        hurt = faults(work / "faults", args.kills, args.seed)
        print(
            f"faults injected: {hurt['injected']}; runs lost: {hurt['lost']}; duplicated: "
            f"{hurt['duplicated']}; different from an uninterrupted run: {hurt['differing']}; "
            f"stores left corrupt: {hurt['corrupt']}"
        )
    print(
        f"({time.perf_counter() - t0:.0f} s; python -m benchmarks.robustness "
        f"--fuzz {args.fuzz} --kills {args.kills} --seed {args.seed})"
    )


if __name__ == "__main__":
    main()
