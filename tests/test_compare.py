"""Comparison, stress tests, charts and the workshop report."""

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import experiments
from experiments.cli.main import main
from experiments.workshop.compare import budget_shortfall, cvar, mean_ci, runs_needed, summarise
from experiments.workshop.report import build_report, stakeholder_rows
from experiments.workshop.studies import compare_study, tornado_study
from sim.model.outputs import format_value

SMALL = {"world.residents.simulated_agents": 1500}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "study"
    result = compare_study(
        ["traditional", "alliance"],
        out,
        replications=6,
        overlays=["recession"],
        months=72,
        engine="serial",
        overrides=SMALL,
    )
    return out, result


# --------------------------------------------------------------------------- statistics


def test_cvar_known_values():
    """CVaR95 is the mean of the worst 5 %, with a fractional boundary observation."""
    losses = np.arange(1, 101, dtype=float)  # worst 5 % of 100: 96..100
    assert cvar(losses) == pytest.approx(98.0)
    assert cvar(losses, level=0.9) == pytest.approx(95.5)
    # 10 observations: the worst 5 % is half an observation: the maximum
    assert cvar(np.arange(10.0)) == pytest.approx(9.0)
    # 30 observations: 1.5 of them: (29 + 0.5 * 28) / 1.5
    assert cvar(np.arange(30.0)) == pytest.approx((29 + 0.5 * 28) / 1.5)
    assert math.isnan(cvar([]))


def test_mean_ci_matches_the_t_interval():
    """The interval is mean +- t(0.975, n-1) sd / sqrt(n)."""
    x = np.array([1.0, 2.0, 4.0, 7.0])
    m, lo, hi = mean_ci(x)
    half = stats.t.ppf(0.975, 3) * x.std(ddof=1) / 2
    assert (m, lo, hi) == pytest.approx((3.5, 3.5 - half, 3.5 + half))
    assert mean_ci(np.array([2.0, 2.0])) == (2.0, 2.0, 2.0)


def test_runs_needed_and_shortfall():
    """Replications needed shrink with a larger effect; shortfalls are clipped at zero."""
    rng = np.random.default_rng(0)
    noisy = rng.normal(0.1, 1.0, 50)
    clear = rng.normal(2.0, 1.0, 50)
    assert runs_needed(noisy) > runs_needed(clear) >= 1
    runs = pd.DataFrame({"min_budget_balance_usd": [100.0, 50.0, -20.0]})
    assert budget_shortfall(runs, 80.0).tolist() == [0.0, 30.0, 100.0]


def test_summary_statistics_on_a_known_table():
    """Paired differences, intervals and P(better) come out as computed by hand."""
    runs = pd.DataFrame(
        {
            "scenario": ["a"] * 4 + ["b"] * 4,
            "status": "ok",
            "point": 0,
            "replication": [0, 1, 2, 3] * 2,
            "fiscal_npv_usd": [10.0, 20.0, 30.0, 40.0, 12.0, 19.0, 35.0, 44.0],
        }
    )
    table = summarise(runs, ["a", "b"], kpis=["fiscal_npv_usd"])
    b = table[table.scenario == "b"].iloc[0]
    d = np.array([2.0, -1.0, 5.0, 4.0])
    assert b["diff"] == pytest.approx(d.mean())
    assert b["p_better"] == pytest.approx(0.75)  # more NPV is better; 3 of 4 worlds
    assert (b.diff_lo, b.diff_hi) == pytest.approx(mean_ci(d)[1:])
    assert b["p05"] == pytest.approx(np.quantile([12, 19, 35, 44], 0.05))
    assert not b.separable and b.runs_needed > 4


# --------------------------------------------------------------------------- study


def test_compare_runs_paired_worlds(study):
    """Replication r of every design (and overlay) uses the same seed: the same world."""
    out, _ = study
    runs = experiments.load(out)
    assert set(runs.scenario) == {
        "traditional",
        "alliance",
        "traditional+recession",
        "alliance+recession",
    }
    seeds = runs.groupby("replication").seed.nunique()
    assert (seeds == 1).all()
    assert runs.groupby("scenario").size().eq(6).all()


def test_report_tables_equal_values_computed_from_the_runs(study):
    """Every number in the stakeholder table is recomputed here from the runs table."""
    out, result = study
    runs = experiments.load(out)
    summary = pd.read_csv(out / "compare.csv")
    for kpi in ("fiscal_npv_usd", "welfare_usd", "min_budget_balance_usd"):
        a = runs[runs.scenario == "traditional"].set_index("replication")[kpi]
        b = runs[runs.scenario == "alliance"].set_index("replication")[kpi]
        row = summary[(summary.kpi == kpi) & (summary.scenario == "alliance")].iloc[0]
        assert row["mean"] == pytest.approx(b.mean())
        assert row["diff"] == pytest.approx((b - a).mean())
        m, lo, hi = mean_ci((b - a).to_numpy())
        assert (row.diff_lo, row.diff_hi) == pytest.approx((lo, hi))
    shortfall = budget_shortfall(runs[runs.scenario == "alliance"], 2.1e8)
    cv = summary[(summary.kpi == "budget_shortfall_cvar95_usd") & (summary.scenario == "alliance")][
        "mean"
    ].iloc[0]
    assert cv == pytest.approx(cvar(shortfall.to_numpy()))
    # the HTML report shows exactly these numbers
    build_report(out)
    page = (out / "report.html").read_text()
    for row in stakeholder_rows(summary)[1:]:
        assert all(cell in page for cell in row[3:6] if cell)
    npv = summary[(summary.kpi == "fiscal_npv_usd") & (summary.scenario == "alliance")].iloc[0]
    assert ("+" if npv["diff"] >= 0 else "-") + format_value(abs(npv["diff"]), "USD") in page


def test_stress_matrix_is_the_paired_change_under_each_overlay(study):
    """The stress matrix equals the mean change against the same worlds unstressed."""
    out, result = study
    runs = experiments.load(out)
    matrix = result["stress"]["min_budget_balance_usd"]
    for design in ("traditional", "alliance"):
        base = runs[runs.scenario == design].set_index("replication").min_budget_balance_usd
        hit = (
            runs[runs.scenario == f"{design}+recession"]
            .set_index("replication")
            .min_budget_balance_usd
        )
        assert matrix.loc[design, "recession"] == pytest.approx((hit - base).mean())
        assert matrix.loc[design, "recession"] < 0  # a recession drains the general fund
    regret = result["regret"]["fiscal_npv_usd"]
    assert regret["max_regret"].min() == 0  # the best design has no regret
    assert (out / "stress.csv").is_file() and (out / "regret.csv").is_file()


def test_every_chart_is_written_in_every_format(study):
    """Each chart exists as non-empty PNG, SVG and PDF."""
    out, _ = study
    names = [
        "fan_charts",
        "kpi_distributions",
        "stakeholders",
        "waterfall_traditional",
        "waterfall_alliance",
        "adoption_quintiles",
        "stress_fiscal_npv_usd",
        "stress_min_budget_balance_usd",
        "stress_welfare_usd",
    ]
    for name in names:
        for fmt in ("png", "svg", "pdf"):
            path = out / "charts" / f"{name}.{fmt}"
            assert path.is_file() and path.stat().st_size > 1000, path


def test_report_is_self_contained_html_and_a_pdf(study):
    """The HTML embeds its charts (no external resources); the PDF is a real PDF."""
    out, _ = study
    html_path, pdf_path = build_report(out)
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") >= 9
    assert not re.search(r"(src|href)=['\"]https?://", page)
    for section in (
        "The question",
        "The designs",
        "Headline findings",
        "Stakeholder table",
        "Stress tests",
        "How to reproduce",
    ):
        assert section in page
    assert pdf_path.read_bytes()[:5] == b"%PDF-" and pdf_path.stat().st_size > 50_000


def test_tornado_changes_one_parameter_at_a_time(tmp_path):
    """Each parameter's low and high runs differ from the base only in that parameter."""
    table = tornado_study(
        "traditional",
        {"world.rates.shift_bp": (0.0, 400.0)},
        tmp_path / "t",
        replications=2,
        months=36,
        engine="serial",
    )
    row = table.iloc[0]
    assert row.kpi_high < row.kpi_base <= row.kpi_low  # dearer debt lowers the NPV
    assert (tmp_path / "t" / "charts" / "tornado.png").stat().st_size > 1000


def test_cli_compare_and_report(tmp_path, capsys):
    """`alliance compare` prints the table and writes the report; bad names exit 2."""
    out = tmp_path / "c"
    assert (
        main(
            [
                "compare",
                "traditional",
                "alliance",
                "-n",
                "2",
                "--months",
                "12",
                "--engine",
                "serial",
                "--out",
                str(out),
                "--set",
                "world.residents.simulated_agents=1000",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "City fiscal NPV vs no projects" in text and "report:" in text
    assert (out / "report.html").is_file()
    assert main(["report", str(out)]) == 0
    assert main(["compare", "traditional", "aliance", "--engine", "serial"]) == 2
    assert "did you mean 'alliance'" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert main(["tornado", "traditional", "-p", "world.rates.shift_bp=oops"]) == 2


def test_cli_tornado_rejects_out_of_range_ends(capsys):
    """A tornado end outside the parameter's range is one line, exit 2."""
    assert (
        main(["tornado", "traditional", "-p", "world.rates.shift_bp=0:5000", "--engine", "serial"])
        == 2
    )
    assert "out of range" in capsys.readouterr().err


def test_example_paths_exist():
    """The README's main command names shipped scenarios."""
    root = Path(__file__).resolve().parents[1]
    assert (root / "scenarios" / "traditional.toml").is_file()


# --------------------------------------------------------------------------- decomposition


def test_npv_decomposition_adds_up_to_the_paired_npv_difference(study):
    out, result = study
    table = pd.read_csv(out / "npv_decomposition.csv")
    assert list(table.columns[:3]) == ["design", "against", "component"]
    assert {"usd_mean", "usd_ci_low", "usd_ci_high"} <= set(table.columns)
    total = table[table.component == "total"].usd_mean.iloc[0]
    parts = table[table.component != "total"].usd_mean.sum()
    assert parts == pytest.approx(total, rel=1e-9, abs=1e-3)
    runs = experiments.load(out)
    ok = runs[runs.status == "ok"].set_index(["scenario", "replication"])
    diff = (ok.loc["alliance"].fiscal_npv_usd - ok.loc["traditional"].fiscal_npv_usd).mean()
    assert total == pytest.approx(diff, rel=1e-9)
    assert (table.usd_ci_low <= table.usd_mean + 1e-6).all()
    assert (out / "charts" / "why_alliance.png").exists()
    html_path, _ = build_report(out)
    assert "Why the designs differ" in html_path.read_text()


def test_the_same_policy_under_two_names_differs_in_nothing(tmp_path):
    """Symmetry: a design compared with itself under another name gives zero differences."""
    twin = tmp_path / "twin.toml"
    twin.write_text('[scenario]\nname = "twin"\nextends = "alliance"\n')
    result = compare_study(
        ["alliance", str(twin)],
        tmp_path / "study",
        replications=3,
        months=48,
        engine="serial",
        overrides=SMALL,
    )
    diffs = result["summary"].dropna(subset=["diff"])
    assert len(diffs) > 20
    assert (diffs["diff"] == 0).all(), diffs[diffs["diff"] != 0][["kpi", "diff"]]
    assert (result["decomposition"].usd_mean == 0).all()


@pytest.mark.parametrize("command", ["compare", "stress", "tornado"])
def test_workshop_commands_pass_the_scheduler_to_the_engine(command, tmp_path, monkeypatch):
    """--scheduler reaches the experiment engine (it used to be dropped by tornado)."""
    import experiments.workshop.studies as studies

    seen = {}

    class Stop(Exception):
        pass

    def fake_run(spec, out, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(studies, "run_experiment", fake_run)
    args = {
        "compare": ["compare", "traditional", "alliance"],
        "stress": ["stress", "alliance", "--overlays", "recession"],
        "tornado": ["tornado", "alliance", "-p", "world.rates.shift_bp=0:100"],
    }[command]
    address = "tcp://10.0.0.1:8786"
    argv = [*args, "--engine", "dask", "--scheduler", address, "--out", str(tmp_path / "o")]
    assert main(argv) != 0  # the fake engine stops the command once it is called
    assert seen["scheduler"] == address and seen["engine"] == "dask"
