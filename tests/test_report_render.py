"""The workshop report as a reader sees it: the typeset PDF and report.html in a real browser.

One small study is made per module. A second folder copies it with the widest
stress and regret tables a study can have (every overlay), to check that the
tables still fit the page.
"""

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from experiments.workshop.report import (
    CAPTIONS,
    build_report,
    decomposition_rows,
    figure_caption,
    render_pdf,
    stakeholder_rows,
)
from experiments.workshop.studies import compare_study
from sim.model.outputs import KPI_INFO

SMALL = {"world.residents.simulated_agents": 1500}
OVERLAYS = [p.stem for p in sorted(Path("scenarios/overlays").glob("*.toml"))]
#: The print style sheet's page margins (left and right), in points.
MARGIN_PT = 14 / 25.4 * 72
SECTIONS = (
    "The question",
    "The designs",
    "Headline findings",
    "Why the designs differ",
    "Stakeholder table",
    "Stress tests",
    "Charts",
    "How to reproduce",
)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "study"
    compare_study(
        ["traditional", "alliance"],
        out,
        replications=4,
        overlays=["rate_shock", "recession"],
        months=60,
        engine="serial",
        overrides=SMALL,
    )
    build_report(out)
    return out


@pytest.fixture(scope="module")
def wide(study, tmp_path_factory):
    """The study with a stress and a regret table over every overlay (12 columns)."""
    out = tmp_path_factory.mktemp("render") / "wide"
    shutil.copytree(study, out, ignore=shutil.ignore_patterns("runs", "timeseries", "report.*"))
    stress = pd.read_csv(out / "stress.csv")
    regret = pd.read_csv(out / "regret.csv")
    for name in OVERLAYS:
        stress[name] = stress["rate_shock"]
        regret[f"regret.{name}"] = regret["regret.rate_shock"]
    stress[["design", *OVERLAYS, "kpi"]].to_csv(out / "stress.csv", index=False)
    tail = ["max_regret", "worst_level", "worst_change", "kpi"]
    regret = regret[["design", "regret.none", *(f"regret.{o}" for o in OVERLAYS), *tail]]
    regret.to_csv(out / "regret.csv", index=False)
    assert len(regret.columns) >= 12
    build_report(out)
    return out


class _Page(HTMLParser):
    """Headings, captions, figure alt texts and table cells of report.html."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, list[str]] = {"h2": [], "figcaption": [], "caption": [], "td": []}
        self.alts: list[str] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.alts.append(dict(attrs).get("alt", ""))
        if tag in self.found:
            self._open, self._text = tag, []

    def handle_endtag(self, tag):
        if tag == self._open:
            self.found[tag].append(" ".join("".join(self._text).split()))
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._text.append(data)


def _parse(folder: Path) -> _Page:
    page = _Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    return page


def _pdftotext(*args: str) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is not installed (apt-get install poppler-utils)")
    done = subprocess.run(["pdftotext", *args, "-"], capture_output=True, text=True, check=True)
    return done.stdout


def _flat(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- captions


def test_every_chart_has_a_numbered_caption_saying_what_it_shows(study):
    page = _parse(study)
    charts = sorted((study / "charts").glob("*.png"))
    assert len(page.found["figcaption"]) == len(charts) == len(page.alts) >= 9
    for n, (caption, alt) in enumerate(
        zip(page.found["figcaption"], page.alts, strict=True), start=1
    ):
        number, _, sentence = caption.partition(". ")
        assert number == f"Figure {n}"
        assert sentence == alt and len(sentence) > 40 and not sentence.startswith("Chart ")
        assert not re.search(r"\b[a-z]+_[a-z_]+\b", sentence), sentence  # no file names
    numbers = [c.partition(". ")[0] for c in page.found["caption"]]
    assert numbers == [f"Table {n}" for n in range(1, len(numbers) + 1)] and len(numbers) >= 4


def test_captions_name_the_design_and_the_kpi_readably():
    designs = ["traditional", "alliance"]
    assert "under alliance" in figure_caption("waterfall_alliance", designs)
    why = figure_caption("why_alliance", designs)
    assert "Why alliance differs from traditional" in why
    for kpi, (label, _, _) in KPI_INFO.items():
        assert label in figure_caption(f"stress_{kpi}", designs)
    assert KPI_INFO["welfare_usd"][0] in figure_caption("sobol_welfare_usd", designs)
    assert KPI_INFO["welfare_usd"][0] in figure_caption("emulator_welfare_usd", designs)
    assert KPI_INFO["fiscal_npv_usd"][0] in figure_caption("morris_fiscal_npv_usd", designs)
    found = figure_caption("discovery_fiscal_npv_usd_alliance_vs_traditional", designs)
    assert f"{KPI_INFO['fiscal_npv_usd'][0]} (alliance vs traditional)" in found
    assert figure_caption("tornado", designs) == CAPTIONS["tornado"]
    assert figure_caption("mystery_chart", designs) == "Chart mystery chart."


# --------------------------------------------------------------------------- the PDF


def test_pdf_holds_every_heading_caption_label_and_figure_of_the_html(study):
    """The PDF's text has the HTML's headings, captions and table cells, none of them cut."""
    text = _flat(_pdftotext("-raw", str(study / "report.pdf")))
    page = _parse(study)
    summary = pd.read_csv(study / "compare.csv")
    for heading in SECTIONS:
        assert heading in page.found["h2"] and heading in text, heading
    for caption in page.found["figcaption"] + page.found["caption"]:
        assert caption in text, caption
    for label in summary.label.unique():
        assert label in text, label
    cells = [
        c
        for r in stakeholder_rows(summary)[1:]
        + decomposition_rows(pd.read_csv(study / "npv_decomposition.csv"))[1:]
        for c in r
        if c
    ]
    assert any(c.startswith("-$") for c in cells) and any(" .. +$" in c for c in cells)
    for cell in cells:
        assert cell in page.found["td"], cell  # the HTML shows exactly these strings
        assert cell in text, cell  # and so does the PDF, "$" and all
    pages = _pdftotext("-raw", str(study / "report.pdf")).split("\f")[:-1]
    assert len(pages) >= 8
    for i, one in enumerate(pages, start=1):
        assert f"Page {i} of {len(pages)}" in one


@pytest.mark.parametrize("which", ["study", "wide"])
def test_no_pdf_text_leaves_the_page_or_its_margins(which, request):
    """Every word lies inside the page's side margins: no table is wider than the page."""
    folder = request.getfixturevalue(which)
    boxes = _pdftotext("-bbox", str(folder / "report.pdf"))
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', boxes, re.S)
    assert len(pages) >= 8
    words = 0
    for width, height, body in pages:
        width, height = float(width), float(height)
        assert {round(width), round(height)} == {595, 842}, "A4"
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)<',
            body,
        ):
            words += 1
            assert float(x0) >= MARGIN_PT - 1 and float(x1) <= width - MARGIN_PT + 1, word
            assert float(y0) >= 0 and float(y1) <= height, word
    assert words > 1000
    if which == "wide":  # the widest table's every header and number made it
        text = _flat(_pdftotext("-raw", str(folder / "report.pdf")))
        for caption in _parse(folder).found["caption"]:
            assert caption in text


def test_pdf_and_html_are_the_same_document(study, tmp_path):
    """Typesetting report.html again gives report.pdf's text: one source for both."""
    again = render_pdf((study / "report.html").read_text(encoding="utf-8"), tmp_path / "a.pdf")
    assert _pdftotext("-raw", str(again)) == _pdftotext("-raw", str(study / "report.pdf"))


def test_the_pdf_fetches_nothing(tmp_path):
    for url in ("http://example.invalid/chart.png", "file:///etc/hostname"):
        page = f"<!DOCTYPE html><html><body><img src='{url}'></body></html>"
        with pytest.raises(ValueError, match="fetches nothing"):
            render_pdf(page, tmp_path / "x.pdf")
        assert not (tmp_path / "x.pdf").exists() or (tmp_path / "x.pdf").stat().st_size == 0


# --------------------------------------------------------------------------- the browser

#: Every element's right edge against the body's content box; images loaded; tables fit.
_LAYOUT_JS = """
const body = document.body.getBoundingClientRect();
const pad = parseFloat(getComputedStyle(document.body).paddingRight);
const right = body.right - pad + 0.5;
const wider = [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > right)
  .map(e => e.tagName + ' ' + e.textContent.slice(0, 40));
const scrolling = [...document.querySelectorAll('.table-wrap')]
  .filter(w => w.scrollWidth > w.clientWidth + 1)
  .map(w => w.textContent.slice(0, 60));
const images = [...document.images].map(i => [i.complete, i.naturalWidth]);
return {wider, scrolling, images, page: document.documentElement.scrollWidth,
        view: window.innerWidth, tables: document.querySelectorAll('table').length};
"""


@pytest.fixture(scope="module")
def browser():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not binary or not chromedriver:
        pytest.skip(
            "headless Chromium is not installed (apt-get install chromium chromium-driver; "
            ".ci/run installs it)"
        )
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(chromedriver))
    yield driver
    driver.quit()


@pytest.mark.parametrize("which", ["study", "wide"])
@pytest.mark.parametrize("width", [1280, 1024])
def test_html_fits_a_laptop_screen_in_a_real_browser(browser, which, width, request):
    """Every image loads, nothing is wider than the page, the console shows no error."""
    folder = request.getfixturevalue(which)
    browser.set_window_size(width, 900)
    browser.get((folder / "report.html").resolve().as_uri())
    browser.get_log("browser")  # what the previous page left
    browser.refresh()
    layout = browser.execute_script(_LAYOUT_JS)
    assert layout["tables"] >= 4
    assert len(layout["images"]) >= 9
    assert all(done and w > 0 for done, w in layout["images"]), layout["images"]
    assert layout["page"] <= layout["view"], "the page scrolls sideways"
    assert layout["wider"] == [], layout["wider"]
    assert layout["scrolling"] == [], layout["scrolling"]
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
