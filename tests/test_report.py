"""`uvts report`: a self-contained HTML file and a PDF with the expected pages, in English and
in Swedish beside it."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest

from sim.cli import main
from sim.plots import contributions

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None,
                                reason="poppler-utils (pdftoppm, pdftotext) not installed")


@pytest.fixture(scope="module")
def reports(compared):
    out, _ = compared
    assert main(["report", str(out)]) == 0
    assert main(["report", str(out), "--lang", "sv"]) == 0
    return out


def _pdf_text(path, first=None, last=None) -> str:
    cmd = ["pdftotext", "-layout"]
    if first:
        cmd += ["-f", str(first), "-l", str(last or first)]
    return subprocess.run([*cmd, str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def _pages(path) -> int:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    return int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))


def test_html_is_self_contained_with_every_section(reports):
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=['\"](?!data:)", html)  # no external file or address
    assert html.count("data:image/png;base64,") == 2  # counterfactual and map (no departments)
    for section in ("The question", "The headline", "The scenarios", "Figures", "Per district",
                    "Per department", "Assumptions and their sources", "Caveats", "Manifest"):
        assert f"<h2>{section}" in html, section
    assert "What the interval covers" in html and "--departments" in html
    summary = pd.read_csv(reports / "comparisons.csv").iloc[0]
    med = summary["prevented_periphery_entries_u18_2024_median"]
    assert f"keeps <b>{med:,.1f}</b> children out" in html  # the headline is the table's number


def test_pdf_has_the_expected_pages(reports, tmp_path):
    pdf = reports / "report.pdf"
    n = _pages(pdf)
    assert 4 <= n <= 12
    first = _pdf_text(pdf, 1)
    assert "The question" in first and "The headline" in first and "Figures" not in first
    assert "Figure 1." in _pdf_text(pdf, 2)
    last = _pdf_text(pdf, n - 2, n)
    assert "Manifest" in last and "entry_base_rate" in _pdf_text(pdf)
    subprocess.run(["pdftoppm", "-r", "40", "-gray", "-f", "1", "-l", "1", "-png", str(pdf),
                    str(tmp_path / "p")], check=True)
    page = next(tmp_path.glob("p*.png"))
    assert page.stat().st_size > 5_000  # a rendered page, not a blank one


def test_swedish_report_beside_the_english_one(reports):
    assert (reports / "report.pdf").is_file() and (reports / "report_sv.pdf").is_file()
    sv = (reports / "report_sv.html").read_text(encoding="utf-8")
    assert 'lang="sv"' in sv and ">Huvudresultat<" in sv and ">Förbehåll<" in sv
    assert "90\u00a0%-intervall" in sv
    text = _pdf_text(reports / "report_sv.pdf", 1)
    assert "Frågan" in text and "barn" in text


def test_report_of_a_folder_without_comparison_names_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_department_figure_in_swedish(tmp_path):
    table = pd.DataFrame({"department": ["Support and Care", "Culture"],
                          "prevented_median": [5.0, -1.0], "prevented_lo": [1.0, -3.0],
                          "prevented_hi": [9.0, 2.0]})
    path = contributions(table, tmp_path / "departments.png", "sv")
    assert path.name == "departments_sv.png" and path.stat().st_size > 10_000
    assert not (tmp_path / "departments.png").exists()
