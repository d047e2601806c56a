"""List the figures that moved between two baseline files (for commit messages and notes).

    .venv/bin/python tests/baseline/diff.py OLD.json [NEW.json]

``NEW`` defaults to ``tests/baseline/kpis.json``. For every KPI that moved in any
case: how many cases moved, the largest relative change and the case it
happened in; then, for the KPIs that moved by more than 1e-9 relative, each
case with the old and new value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def moved(old: dict, new: dict) -> dict[str, list[tuple[str, float, float]]]:
    """KPI -> [(case, old, new)] for every value that differs."""
    out: dict[str, list[tuple[str, float, float]]] = {}
    for case, data in sorted(old["cases"].items()):
        after = new["cases"].get(case, {}).get("kpis", {})
        for kpi, before in data["kpis"].items():
            a, b = float(before), float(after.get(kpi, "nan"))
            if a != b:
                out.setdefault(kpi, []).append((case, a, b))
    return out


def relative(a: float, b: float) -> float:
    """|b - a| / max(|a|, |b|, 1)."""
    return abs(b - a) / max(abs(a), abs(b), 1.0)


def main(argv: list[str]) -> int:
    """Print the table."""
    old = json.loads(Path(argv[0]).read_text())
    new = json.loads(
        Path(argv[1] if len(argv) > 1 else Path(__file__).with_name("kpis.json")).read_text()
    )
    table = moved(old, new)
    if not table:
        print("no figure moved")
        return 0
    print(f"{'KPI':36} {'cases':>5} {'max rel. change':>16}  case")
    for kpi, rows in sorted(
        table.items(), key=lambda kv: -max(relative(a, b) for _, a, b in kv[1])
    ):
        case, a, b = max(rows, key=lambda r: relative(r[1], r[2]))
        print(f"{kpi:36} {len(rows):5d} {relative(a, b):16.3g}  {case}")
    print()
    for kpi, rows in sorted(table.items()):
        for case, a, b in rows:
            if relative(a, b) > 1e-9:
                print(f"{kpi:36} {case:34} {a:>18.6g} -> {b:<18.6g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
