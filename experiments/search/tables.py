"""The search's tables as rows of text: the front, the levers, convergence, re-evaluation.

Read from the files a search leaves (``front.csv``, ``shipped.csv``, ``convergence.csv``,
``reevaluation.csv`` and the spec in ``search.json``), so the command's closing note
and the workshop report show the same numbers. Values are in their KPI's display unit
(:func:`sim.model.outputs.kpi`); shares of worlds in %. Nothing here imports pymoo.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd

from experiments.search.spec import Objective, SearchSpec


def load_search(folder: str | Path) -> dict[str, Any] | None:
    """The files of a search folder (or of ``FOLDER/search``), or None when there is none.

    Args:
        folder: A search folder, or a study folder holding one in ``search/``.

    Returns:
        ``folder``, ``manifest``, ``spec``, ``front``, ``shipped``, ``convergence`` and
        ``reevaluation`` (None when not written).
    """
    folder = Path(folder)
    for where in (folder, folder / "search"):
        if (where / "search.json").is_file():
            manifest = json.loads((where / "search.json").read_text())

            def read(name: str, where: Path = where) -> pd.DataFrame | None:
                path = where / name
                return pd.read_csv(path) if path.is_file() else None

            return {
                "folder": where,
                "manifest": manifest,
                "spec": SearchSpec.model_validate(manifest["spec"]),
                "front": read("front.csv"),
                "shipped": read("shipped.csv"),
                "convergence": read("convergence.csv"),
                "reevaluation": read("reevaluation.csv"),
            }
    return None


def metric_heading(o: Objective) -> str:
    """A metric's column heading with its unit: ``Mean fiscal NPV ($M)``."""
    from sim.model.outputs import kpi

    k = kpi(o.kpi)
    unit = "%" if o.robustness == "satisficing" else k.display_unit
    if o.robustness == "mean":
        head = f"mean {k.label}"
    elif o.robustness == "percentile":
        head = f"{k.label}, worst {o.worst_percent:g} %"
    elif o.robustness == "regret":
        which = "max" if o.worst_percent == 0 else f"worst {o.worst_percent:g} %"
        head = f"regret ({which}) {k.label}"
    else:
        op, x = o.threshold
        head = f"share of worlds {k.label} {op} {x:g}"
    return f"{head} ({unit})" if unit else head


def metric_cell(o: Objective, value: float) -> str:
    """A metric's value as a bare number in its heading's unit."""
    from sim.model.outputs import kpi

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if o.robustness == "satisficing":
        return f"{100 * value:.0f}"
    return kpi(o.kpi).format(float(value), bare=True, signed=o.robustness == "regret")


def lever_cell(value: Any, width: int = 28) -> str:
    """A lever's value as short text (a financing list as ``a > b``; a share to 3 digits)."""
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, (list, tuple)):
        return textwrap.shorten(" > ".join(map(str, value)), width, placeholder="...")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def front_rows(
    spec: SearchSpec, front: pd.DataFrame, shipped: pd.DataFrame | None, limit: int = 0
) -> list[list[str]]:
    """The front's designs (shortlist order) and the shipped ones: the metrics.

    Args:
        spec: The spec.
        front: ``front.csv``.
        shipped: ``shipped.csv`` (or None).
        limit: Rows of the front to show (0: all).

    Returns:
        Header, then one row per design: rank (``c1``... for the candidates), design,
        each metric, and the shipped designs it dominates.
    """
    rows = [["", "design", *[metric_heading(o) for o in spec.objectives], "dominates"]]
    shown = front.head(limit) if limit else front
    for _, r in shown.iterrows():
        rank = int(r["rank"])
        label = f"c{rank}" if rank <= spec.search.candidates else str(rank)
        beats = r.get("dominates")
        rows.append(
            [
                label,
                str(r["design"]),
                *[metric_cell(o, r[o.name]) for o in spec.objectives],
                "" if not isinstance(beats, str) else beats,
            ]
        )
    if shipped is not None:
        for _, r in shipped.iterrows():
            rows.append(
                [
                    "shipped",
                    str(r["design"]),
                    *[metric_cell(o, r[o.name]) for o in spec.objectives],
                    "",
                ]
            )
    return rows


def lever_rows(spec: SearchSpec, front: pd.DataFrame, limit: int = 0) -> list[list[str]]:
    """The levers of the front's designs: one row per lever, one column per design."""
    shown = front.head(limit) if limit else front
    names = [
        f"c{int(r)}" if r <= spec.search.candidates else str(d)
        for r, d in zip(shown["rank"], shown["design"], strict=True)
    ]
    rows = [["lever", *names]]
    for path in spec.levers:
        rows.append([path, *[lever_cell(v) for v in shown[path]]])
    return rows


#: Longest convergence table printed whole; a longer one shows every k-th generation.
CONVERGENCE_ROWS = 15


def convergence_step(generations: int) -> int:
    """Every how many generations a convergence table shows (1 up to 15, then 5, 10, ...)."""
    step = 1
    while generations / step > CONVERGENCE_ROWS:
        step = 5 if step == 1 else step * 2
    return step


def convergence_rows(conv: pd.DataFrame) -> list[list[str]]:
    """Generation, designs evaluated, hypervolume and epsilon progress.

    A long search shows every k-th generation and the last
    (:func:`convergence_step`); ``convergence.csv`` keeps them all.
    """
    rows = [["generation", "designs evaluated", "hypervolume", "epsilon progress", "archive"]]
    step = convergence_step(len(conv))
    last = int(conv["generation"].max()) if len(conv) else 0
    shown = conv[(conv["generation"] % step == 0) | (conv["generation"] == last)]
    for _, r in shown.iterrows():
        rows.append(
            [
                str(int(r["generation"])),
                str(int(r["evaluations"])),
                f"{r['hypervolume']:.4f}",
                str(int(r["epsilon_progress"])),
                str(int(r["archive_size"])),
            ]
        )
    return rows


def reevaluation_rows(spec: SearchSpec, table: pd.DataFrame) -> list[list[str]]:
    """Each metric on the search worlds and on the fresh worlds, design by design."""
    head = ["design"]
    for o in spec.objectives:
        head += [f"{metric_heading(o)}: search", "fresh"]
    rows = [[*head, "dominates on fresh worlds"]]
    for _, r in table.iterrows():
        cells = [str(r["design"]) + (" (shipped)" if bool(r["shipped"]) else "")]
        for o in spec.objectives:
            cells += [
                metric_cell(o, r[f"{o.name} (search)"]),
                metric_cell(o, r[f"{o.name} (fresh)"]),
            ]
        beats = r.get("dominates_on_fresh")
        rows.append([*cells, beats if isinstance(beats, str) else ""])
    return rows


def overfit_lines(spec: SearchSpec, table: pd.DataFrame) -> list[str]:
    """One line per objective: how the front's designs moved on the fresh worlds."""
    front = table[~table["shipped"].astype(bool)]
    lines = []
    for o in spec.objectives:
        a = front[f"{o.name} (search)"].to_numpy(float)
        b = front[f"{o.name} (fresh)"].to_numpy(float)
        if not len(a):
            continue
        rank_a, rank_b = pd.Series(a).rank(), pd.Series(b).rank()
        corr = rank_a.corr(rank_b) if len(a) > 2 else float("nan")
        lines.append(
            f"{metric_heading(o)}: front mean {metric_cell(o, a.mean())} on the search worlds, "
            f"{metric_cell(o, b.mean())} on fresh worlds; rank correlation "
            + ("n/a" if math.isnan(corr) else f"{corr:.2f}")
        )
    return lines


def section(folder: str | Path) -> dict[str, Any]:
    """The search's section of the workshop report, as data (``section.json``).

    Paragraphs, tables as rows of text with their captions, notes, the charts' stems
    and the commands that reproduce the search; ``alliance report`` renders it (with
    numbered captions) without importing this package.

    Args:
        folder: The search folder.

    Returns:
        ``title``, ``intro``, ``blocks`` (``heading``, ``paragraphs``, ``rows``,
        ``caption``, ``notes``), ``figures`` and ``reproduce``.
    """
    found = load_search(folder)
    if found is None:
        raise FileNotFoundError(f"{folder}: no search.json")
    spec, m, front = found["spec"], found["manifest"], found["front"]
    s = spec.search
    intro = [
        f"Which design should the city adopt? The search varied {len(spec.levers)} levers of "
        f"the {s.scenario} scenario ({', '.join(spec.levers)}) with {s.algorithm.upper()} "
        f"(pymoo): {m.get('evaluations', 0)} designs in {m.get('generations', 0)} generations, "
        f"each run on the same {spec.worlds.count} worlds ({spec.worlds.samples} samples of "
        f"the uncertain world parameters x {spec.worlds.seeds} seeds), and judged each design "
        "on: " + "; ".join(metric_heading(o) for o in spec.objectives) + ".",
        "A design is on the front when no other design evaluated is at least as good on every "
        "objective and better on one. Mean: the average over the worlds; worst p %: the value "
        "reached in all but the worst p % of worlds; regret: the largest shortfall, world by "
        "world, against the better of the shipped designs there (negative: it beats both even "
        "in its worst world); share of worlds: how often the condition holds (docs/search.md).",
    ]
    blocks: list[dict[str, Any]] = []
    if front is None or front.empty:
        blocks.append({"paragraphs": ["No feasible design was found within the budget."]})
    else:
        beats = front["dominates"].fillna("").astype(str)
        both = [", ".join(sorted(x.split(", "))) for x in beats if x]
        n_all = sum(len(x.split(", ")) == len(s.compare) for x in both) if s.compare else 0
        blocks.append(
            {
                "paragraphs": [
                    f"{n_all} of the {len(front)} designs on the front do at least as well as "
                    f"every shipped design ({', '.join(s.compare)}) on every objective and "
                    "better on at least one, on the search worlds."
                    if s.compare
                    else f"{len(front)} designs on the front."
                ],
                "rows": front_rows(spec, front, found["shipped"], limit=10),
                "caption": f"The first {min(10, len(front))} of the {len(front)} designs on the "
                "Pareto front (candidates c1, c2, ... first: those that dominate shipped "
                "designs, then a spread), and the shipped designs, on the search worlds.",
            }
        )
        blocks.append(
            {
                "rows": lever_rows(spec, front, limit=s.candidates or 5),
                "caption": "The levers of the candidate designs, written as scenario files in "
                "candidates/ ('alliance compare candidates/c1.toml alliance' compares one).",
            }
        )
    conv = found["convergence"]
    if conv is not None and len(conv):
        blocks.append(
            {
                "rows": convergence_rows(conv),
                "caption": "Hypervolume of the front found by each generation (objectives "
                "scaled to the range the search reached; share of the unit box), epsilon "
                "progress and the epsilon archive's size"
                + (
                    f"; every {step}th generation and the last (convergence.csv has all)."
                    if (step := convergence_step(len(conv))) > 1
                    else "."
                ),
            }
        )
    re_table = found["reevaluation"]
    if re_table is not None and len(re_table):
        blocks.append(
            {
                "heading": "Re-evaluation on fresh worlds",
                "paragraphs": [
                    "The front's first designs and the shipped designs run again on worlds the "
                    "search never saw; a metric that falls back shows over-fitting to the "
                    "search worlds."
                ],
                "rows": reevaluation_rows(spec, re_table),
                "caption": "Each design's metrics on the search worlds and on fresh worlds, "
                "and the shipped designs it dominates on the fresh worlds.",
                "notes": overfit_lines(spec, re_table),
            }
        )
    return {
        "title": f"Robust design search: {s.name}",
        "intro": intro,
        "blocks": blocks,
        "figures": ["search_front", "search_convergence"],
        "reproduce": [
            f"alliance search {m.get('spec_file') or 'SPEC'} --out {found['folder']}",
            f"spec hash {m.get('spec_hash', '')}; seed {s.seed}; engine {m.get('engine', '')} "
            f"({m.get('workers', '')} workers); git commit {_git_commit(found['folder'])}",
        ],
    }


def _git_commit(folder: Path) -> str:
    """The commit the runs were made with (the reference run store's manifest records it)."""
    path = Path(folder) / "runs" / "reference" / "manifest.json"
    if not path.is_file():
        return "unknown"
    return json.loads(path.read_text()).get("git_commit", "unknown")
