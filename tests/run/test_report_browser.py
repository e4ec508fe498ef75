"""The report in a real headless Chromium: nothing fails, nothing is fetched, every figure decodes, no script runs.

Chromium is driven over the Chrome DevTools Protocol on a websocket (``websocket-client``
comes with Jupyter), so the test needs no browser download: Debian's ``chromium`` is
enough, and ``make chromium`` installs it. Without it these tests fail, they do not skip.
Screenshots of each report are saved under the test's ``tmp_path``.
"""

from __future__ import annotations

import pytest

from tests._chromium import Chromium
from tests._worlds import HOSTILE

pytestmark = pytest.mark.browser

#: Run in the page before its own scripts: any alert() (or confirm/prompt) is recorded.
ALERT_TRAP = """
window.__cx_alerts = [];
for (const name of ['alert', 'confirm', 'prompt']) {
  window[name] = (message) => { window.__cx_alerts.push(String(message)); };
}
"""

FIGURES_DECODED = """
Array.from(document.images).map(img => ({
  complete: img.complete, width: img.naturalWidth, alt: img.alt, src: img.src.slice(0, 40)
}))
"""


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        chromium.before_scripts(ALERT_TRAP)
        yield chromium


@pytest.fixture(scope="module")
def report(good_run):
    """The report of the session's one good run of the whole suite (tests/conftest.py)."""
    return good_run[1].report


@pytest.fixture(scope="module")
def hostile_report(hostile_run):
    """The report of the run on the small world with a segment and a touchpoint named like a script."""
    return hostile_run.report


def test_report_opens_cleanly_with_every_figure_decoded(browser, report, tmp_path):
    browser.resize(1280, 900)
    browser.open(report)
    problems = browser.problems()
    assert problems == {"console errors": [], "failed requests": [], "external requests": [], "dialogs": []}
    images = browser.evaluate(FIGURES_DECODED)
    assert len(images) >= 10, "the report shows the notebooks' figures"
    undecoded = [i for i in images if not (i["complete"] and i["width"] > 0)]
    assert not undecoded, f"figures that did not decode: {undecoded}"
    assert all(i["src"].startswith("data:image/png;base64,") for i in images), "figures are embedded"
    assert browser.evaluate("document.scripts.length") == 0
    text = browser.evaluate("document.body.innerText")
    for heading in ("Executive summary", "In short", "Service against experience", "The published claims",
                    "Overview of the data",
                    "Churn against bad experiences", "Methods and caveats", "About this run", "Data fingerprint"):
        assert heading in text, f"the report has {heading!r}"
    assert "import " not in text and "open_data(" not in text, "code is hidden"
    wide = browser.screenshot(tmp_path / "report-1280.png")
    assert wide.stat().st_size > 50_000


def test_report_works_in_a_narrow_window(browser, report, tmp_path):
    browser.resize(420, 900)
    browser.open(report)
    assert browser.problems()["console errors"] == []
    overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page scrolls sideways by {overflow}px in a 420px window"
    widest = browser.evaluate("Math.max(...Array.from(document.images).map(i => i.getBoundingClientRect().width))")
    assert widest <= 420, "figures shrink to the window"
    browser.screenshot(tmp_path / "report-420.png")


def test_text_from_data_is_shown_and_never_run_in_the_browser(browser, hostile_report, tmp_path):
    browser.resize(1280, 900)
    browser.open(hostile_report)
    assert browser.evaluate("window.__cx_alerts") == [], "no script from the data ran"
    problems = browser.problems()
    assert problems["dialogs"] == [] and problems["console errors"] == [], problems
    assert browser.evaluate("document.scripts.length") == 0, "no script element came from the data"
    assert HOSTILE in browser.evaluate("document.body.innerText"), "the reader sees the text as text"
    browser.screenshot(tmp_path / "hostile.png")


def test_the_harness_sees_scripts_errors_and_requests(browser, tmp_path):
    """The checks above are not vacuous: a page that misbehaves is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>bad page</p>"
        "<img src='data:image/png;base64,AAAA'><img src='http://127.0.0.1:9/missing.png'>"
        "<script>alert('ran'); console.error('boom');</script></body></html>"
    )
    browser.open(page)
    problems = browser.problems()
    assert browser.evaluate("window.__cx_alerts") == ["ran"]
    assert problems["console errors"] and problems["failed requests"] and problems["external requests"]
    images = browser.evaluate(FIGURES_DECODED)
    assert [i["width"] > 0 for i in images] == [False, False], "undecodable figures are seen as such"


#: Every table of the report, as the reader's browser sees it: header texts and cell texts.
TABLES = """
Array.from(document.querySelectorAll('table')).map(t => ({
  headers: Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.trim()),
  cells: Array.from(t.querySelectorAll('tbody td')).map(td => td.innerText.trim()),
  headerRows: t.querySelectorAll('thead tr').length,
}))
"""
SNAKE = r"\b[a-z]+(?:_[a-z0-9]+)+\b"
INTERNAL_ID = r"\([a-z]+(?:_[a-z0-9]+)+\)"
RAW_SHARE = r"^[−-]?\d+\.\d{5,}$"  # pandas prints a float it was not told how to show with 6 decimals


def table_problems(tables: list[dict], touchpoints=()) -> list[str]:
    """Snake_case headers, internal ids, unformatted shares, two-row headers, in tables read by a manager."""
    import re

    allowed = set(touchpoints)
    found = []
    for i, t in enumerate(tables):
        for h in t["headers"]:
            words = set(re.findall(SNAKE, h)) - allowed
            if words:
                found.append(f"table {i}: snake_case header {h!r}")
        for c in t["cells"]:
            if re.search(INTERNAL_ID, c):
                found.append(f"table {i}: internal id in {c!r}")
            if re.match(RAW_SHARE, c):
                found.append(f"table {i}: unformatted number {c!r}")
        if t["headerRows"] > 1:
            found.append(f"table {i}: {t['headerRows']} header rows ({t['headers'][:4]})")
    return found


def test_every_table_reads_like_a_report(browser, report, small_world):
    browser.resize(1280, 900)
    browser.open(report)
    tables = browser.evaluate(TABLES)
    assert len(tables) >= 10
    import duckdb

    touchpoints = [r[0] for r in duckdb.sql(f"SELECT DISTINCT touchpoint FROM read_csv('{small_world}/interactions.csv')").fetchall()]
    problems = table_problems(tables, touchpoints)
    assert problems == [], "\n".join(problems)


def test_the_table_check_sees_what_it_must():
    bad = [{"headers": ["share_of_active"], "cells": ["0.625436", "x (leave_after_several_bad_2)"], "headerRows": 2}]
    assert len(table_problems(bad)) == 4
    good = [{"headers": ["share of active customers", "store_visit"], "cells": ["62.5% (61.0–64.0%)", "1,234"],
             "headerRows": 1}]
    assert table_problems(good, ["store_visit"]) == []
