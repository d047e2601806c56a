"""Workshop charts and tables checked against their data (issue 13).

One small study (two designs, a stress overlay) is run once; every chart it
draws is kept as a matplotlib figure, and each is checked against the tables
the study computed: the plotted numbers equal the table's in the catalogue's
display unit (the adoption gap in %, money in $M), every text lies inside the
figure (and inside its axes when drawn in data coordinates), no two texts
overlap, no value label overlaps a bar, and every bar lies inside its axes'
limits. The terminal tables fit 100 columns and count ties as ties.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from experiments.workshop import charts
from experiments.workshop.compare import summarise
from experiments.workshop.report import (
    hidden_kpis,
    regret_rows,
    stakeholder_rows,
    stakeholder_text,
    stress_rows,
    text_table,
)
from sim.model.outputs import SCORECARD, kpi

DESIGNS = ["traditional", "alliance"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from experiments.workshop.studies import compare_study

    figures: dict[str, object] = {}
    original = charts.save

    def keep(fig, base, *args, **kwargs):
        figures[base.name] = fig
        return original(fig, base, *args, **kwargs)

    out = tmp_path_factory.mktemp("study")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(charts, "save", keep)
        result = compare_study(
            DESIGNS, out, replications=6, overlays=["rate_shock"], months=72, engine="serial"
        )
    import experiments

    runs = experiments.load(out)
    return {"figures": figures, "result": result, "runs": runs, "out": out}


# ----------------------------------------------------------------------------- the numbers


def test_kpi_distributions_plot_each_world_in_the_catalogues_unit(study):
    fig = study["figures"]["kpi_distributions"]
    runs = study["runs"]
    checked = 0
    for ax in fig.axes:
        title = ax.get_title().replace("\n", " ")
        name = next((k for k in runs.columns if kpi(k).label == title), None)
        if name is None:
            continue
        k = kpi(name)
        assert ax.get_ylabel() == (k.display_unit or "count")
        points = [c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())]
        for values, design in zip(points, DESIGNS, strict=True):
            expected = runs.loc[runs.scenario == design, name].to_numpy() * k.scale
            np.testing.assert_allclose(np.sort(values), np.sort(expected))
        checked += 1
    assert checked == len(fig.axes) - sum(not ax.get_visible() for ax in fig.axes)
    gap = next(ax for ax in fig.axes if ax.get_title().startswith("Adoption gap"))
    assert gap.get_ylabel() == "%"  # a fraction shown in %, not divided by 100


def test_adoption_bars_equal_the_tables_mean_in_percent(study):
    fig = study["figures"]["adoption_quintiles"]
    summary = study["result"]["summary"]
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    heights = np.array([b.get_height() for b in bars]).reshape(len(DESIGNS), 5)
    for row, design in zip(heights, DESIGNS, strict=True):
        table = summary[summary.scenario == design].set_index("kpi")["mean"]
        expected = [table[f"adoption_q{q}"] * 100 for q in range(1, 6)]
        np.testing.assert_allclose(row, expected)


def test_waterfall_bars_are_each_stakeholders_mean_net_cash(study):
    runs = study["runs"]
    for design in DESIGNS:
        ax = study["figures"][f"waterfall_{design}"].axes[0]
        sub = runs[runs.scenario == design]
        heights = [b.get_height() for b in ax.patches if isinstance(b, Rectangle)]
        expected = [sub[charts.NET_KPIS[s]].mean() / 1e6 for s in charts.STAKEHOLDER_ORDER]
        np.testing.assert_allclose(heights, expected)
        assert abs(sum(heights)) < 1e-6 * max(map(abs, heights))  # double entry
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert "PPP vehicles" in labels and "outside world" in labels
        assert "PPP vehicles:" in ax.get_xlabel()  # the names are explained


def test_stress_heatmap_cells_are_the_matrix_in_the_kpis_unit(study):
    for name, matrix in study["result"]["stress"].items():
        k = kpi(name)
        ax = study["figures"][f"stress_{name}"].axes[0]
        image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
        np.testing.assert_allclose(image.get_array(), matrix.to_numpy() * (k.direction or 1))
        texts = [t.get_text() for t in ax.texts]
        assert texts == [k.format(v, signed=True, change=True) for v in matrix.to_numpy().ravel()]
        assert "_" not in "".join(t.get_text() for t in ax.get_xticklabels())  # no raw ids
        assert image.get_cmap().name == "worse_better"  # not red-green


def test_scorecard_shows_the_scorecard_kpis_with_their_changes(study):
    summary = study["result"]["summary"]
    ax = study["figures"]["stakeholders"].axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    card = [
        k for k in SCORECARD if k in set(summary.kpi) and kpi(k).label not in hidden_kpis(summary)
    ]
    assert len(labels) == len(card)
    assert all(kpi(k).label in label for k, label in zip(card, labels, strict=True))
    notes = [t.get_text() for t in ax.texts if t.get_color() != "white"]
    rows = summary[(summary.scenario == "alliance")].set_index("kpi")
    for name, note in zip(card, notes, strict=True):
        r = rows.loc[name]
        assert note.startswith(kpi(name).format(r["diff"], signed=True, change=True))
    bars = [b.get_width() for b in ax.patches if isinstance(b, Rectangle)]
    assert max(map(abs, bars)) <= 3 + 1e-9
    full = study["figures"]["stakeholders_full"].axes[0]
    assert len(full.get_yticklabels()) > len(labels)


def test_every_chart_keeps_its_text_inside_and_apart(study):
    problems = []
    for name, fig in study["figures"].items():
        problems += [f"{name}: {p}" for p in layout_problems(fig)]
    assert problems == []


# ----------------------------------------------------------------------------- tables


def test_terminal_tables_fit_100_columns(study):
    summary = study["result"]["summary"]
    for kpis in (None, list(SCORECARD)):
        lines = stakeholder_text(summary, kpis)
        assert max(map(len, lines)) <= 100
    for name, matrix in study["result"]["stress"].items():
        assert max(map(len, text_table(stress_rows(matrix, name)))) <= 100
        assert "e+" not in "".join(text_table(stress_rows(matrix, name)))
    for name, table in study["result"]["regret"].items():
        assert max(map(len, text_table(regret_rows(table, name)))) <= 100


def test_rows_carry_units_and_leave_out_all_zero_kpis(study):
    summary = study["result"]["summary"]
    hidden = hidden_kpis(summary)
    rows = stakeholder_rows(summary)
    shown = {r[1] for r in rows[1:]}
    assert hidden and not (set(hidden) & shown)
    for label in hidden:  # zero for every design in every world
        sub = summary[summary.label == label]
        assert (sub[["mean", "p05", "p95"]].fillna(0) == 0).all().all()
    npv = next(r for r in rows if r[1] == kpi("fiscal_npv_usd").label and r[2] == "alliance")
    assert npv[3].startswith(("$", "-$")) and npv[3].endswith("M")
    assert "e+" not in "".join(itertools.chain.from_iterable(rows))


def test_better_same_worse_count_ties_as_ties():
    runs = pd.DataFrame(
        {
            "scenario": ["a"] * 4 + ["b"] * 4,
            "status": "ok",
            "point": 0,
            "replication": [0, 1, 2, 3] * 2,
            "financing_failures": [1, 2, 0, 3, 1, 1, 0, 4],  # b: same, better, same, worse
        }
    )
    row = summarise(runs, ["a", "b"], kpis=["financing_failures"]).iloc[1]
    assert (row.n_better, row.n_same, row.n_worse) == (1, 2, 1)
    assert row.p_better == 0.25  # strictly better; ties are not worse
    text = stakeholder_rows(summarise(runs, ["a", "b"], kpis=["financing_failures"]))[2][-1]
    assert text == "1 / 2 / 1"


@pytest.mark.parametrize(
    ("name", "value", "kwargs", "expected"),
    [
        ("fiscal_npv_usd", -84.7e6, {}, "-$84.7M"),
        ("fiscal_npv_usd", 45.7e6, {"signed": True}, "+$45.7M"),
        ("fiscal_npv_usd", -0.01e6, {"signed": True}, "+$0.0M"),  # never -0
        ("adoption_gap_top_bottom", 0.0123, {}, "1.2 %"),
        ("adoption_gap_top_bottom", -0.004, {"signed": True, "change": True}, "-0.4 pts"),
        ("time_to_scale_months", 5.37, {}, "5.4 months"),
        ("financing_failures", 0.4, {}, "0.4"),
        ("financing_failures", 3.0, {}, "3"),
        ("fiscal_npv_usd", -84.7e6, {"bare": True}, "-84.7"),
    ],
)
def test_the_catalogue_formats_each_unit(name, value, kwargs, expected):
    assert kpi(name).format(value, **kwargs) == expected


# ----------------------------------------------------------------------------- layout


def beyond(box, frame) -> bool:
    """Whether a box reaches more than a pixel past a frame."""
    return (
        box.x0 < frame.x0 - 1
        or box.x1 > frame.x1 + 1
        or box.y0 < frame.y0 - 1
        or box.y1 > frame.y1 + 1
    )


def layout_problems(fig) -> list[str]:
    """What is wrong with a figure's layout, one line per problem.

    Texts outside the figure or their axes, overlapping texts, labels on bars,
    bars outside the axes' limits.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)  # the figure was closed after saving: draw it again
    canvas.draw()
    renderer = canvas.get_renderer()
    page = fig.bbox
    out = []

    def visible(t: Text) -> bool:
        return t.get_visible() and bool(t.get_text().strip())

    hidden_ticks = set()  # tick labels beyond the axis' limits are not drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    hidden_ticks |= {id(tick.label1), id(tick.label2)}
    for t in fig.findobj(Text):
        if not visible(t) or id(t) in hidden_ticks:
            continue
        if beyond(t.get_window_extent(renderer), page):
            out.append(f"text {t.get_text()!r} runs off the figure")
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        frame = ax.get_window_extent(renderer)
        texts = [t for t in ax.texts if visible(t)]
        for t in texts:
            if beyond(t.get_window_extent(renderer), frame):
                out.append(f"{ax.get_title()[:30]!r}: label {t.get_text()!r} outside its axes")
        ticks = [t for t in ax.get_yticklabels() if visible(t) and id(t) not in hidden_ticks]
        others = [*texts, ax.title, *ticks]
        for a, b in itertools.combinations([t for t in others if visible(t)], 2):
            if a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)):
                out.append(f"{ax.get_title()[:30]!r}: {a.get_text()!r} overlaps {b.get_text()!r}")
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_visible()]
        for t in texts:
            if t.get_color() == "white":  # written inside its own bar on purpose
                continue
            box = t.get_window_extent(renderer).shrunk(0.9, 0.8)
            for bar in bars:
                if box.overlaps(bar.get_window_extent(renderer)):
                    out.append(f"{ax.get_title()[:30]!r}: {t.get_text()!r} lies on a bar")
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        for bar in bars:
            bx0, by0 = bar.get_xy()
            bx1, by1 = bx0 + bar.get_width(), by0 + bar.get_height()
            if (
                min(bx0, bx1) < x0 - 1e-9
                or max(bx0, bx1) > x1 + 1e-9
                or min(by0, by1) < y0 - 1e-9
                or max(by0, by1) > y1 + 1e-9
            ):
                out.append(f"{ax.get_title()[:30]!r}: a bar runs off the axes")
    return out


def test_text_table_wraps_a_dotted_path_at_its_dots():
    rows = [
        ["lever", "c1", "c2"],
        ["policy.financing.by_domain.streetlights", "revolving_fund > go_bond", "go_bond"],
    ]
    lines = text_table(rows, width=52)
    assert max(map(len, lines)) <= 52
    first = [line.split("  ")[0].strip() for line in lines[2:]]
    assert first == ["policy.financing.", "by_domain.", "streetlights"]
    assert "".join(first) == rows[1][0]  # nothing lost or cut inside a word
