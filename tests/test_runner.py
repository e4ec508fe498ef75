"""cx run: a report from executed notebooks; a failed notebook exits non-zero and keeps the last good report."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import nbformat
import pytest

from cxlib.config import NOTEBOOKS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.runner import resolve_parameters, run


@pytest.fixture(scope="module")
def good_run(small_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    result = run(small_world, out=out)
    return out, result


def test_run_writes_report_record_latest_and_index(good_run):
    out, result = good_run
    assert result.status == "ok"
    html = result.report.read_text()
    assert "<img" in html and "data:image/png;base64," in html, "figures are embedded"
    assert "<script" not in html.lower(), "the report runs no script"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "the report fetches nothing"
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html), "no stylesheet fetches anything either"
    assert "dataset = open_data" not in html, "code is hidden"
    assert (out / "latest.html").read_text() == html
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["status"] == "ok" and record["data"]["customers"] == 2_000
    assert result.run_id in (out / "index.html").read_text()


def failing_copy(tmp_path):
    """The overview notebook with a cell that raises in the middle."""
    nb = nbformat.read(str(NOTEBOOKS_DIR / "01_overview.ipynb"), as_version=4)
    nb.cells.insert(5, nbformat.v4.new_code_cell('raise RuntimeError("forced failure for the test")'))
    path = tmp_path / "01_overview.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_failed_notebook_raises_keeps_executed_copy_and_latest(good_run, small_world, tmp_path):
    out, good = good_run
    before = (out / "latest.html").read_bytes()
    with pytest.raises(NotebookFailed) as info:
        run(small_world, out=out, notebooks=[failing_copy(tmp_path)])
    err = info.value
    assert err.notebook == "01_overview.ipynb" and err.cell is not None
    assert "forced failure for the test" in str(err)
    executed = nbformat.read(err.executed, as_version=4)
    assert any(o.get("output_type") == "error" for c in executed.cells for o in c.get("outputs", []))
    assert (out / "latest.html").read_bytes() == before, "latest.html still points at the last good report"
    failed = sorted(p for p in out.glob("*/run.json") if json.loads(p.read_text())["status"] == "failed")
    assert failed and not (failed[-1].parent / "report.html").exists()
    index = (out / "index.html").read_text()
    assert "failed" in index and "forced failure for the test" in index


def cx_run(*args):
    return subprocess.run([sys.executable, "-m", "cxlib.cli", "run", *map(str, args)], capture_output=True, text=True, timeout=600)


def test_cx_run_failing_notebook_exits_1_naming_notebook_and_cell(small_world, tmp_path):
    result = cx_run("--data", small_world, "--out", tmp_path / "out", "--notebook", failing_copy(tmp_path))
    assert result.returncode == 1
    assert "notebook 01_overview.ipynb failed at cell" in result.stderr
    assert "forced failure for the test" in result.stderr and "executed copy kept at" in result.stderr
    assert not (tmp_path / "out" / "latest.html").exists()


def test_cx_run_unknown_parameter_is_a_usage_error(small_world, tmp_path):
    params = tmp_path / "p.yaml"
    params.write_text("no_such_parameter: 1\n")
    result = cx_run("--data", small_world, "--params", params, "--out", tmp_path)
    assert result.returncode == 2 and "unknown parameter 'no_such_parameter'" in result.stderr


def test_parameters_are_typed_and_checked():
    nbs = [NOTEBOOKS_DIR / "01_overview.ipynb"]
    assert resolve_parameters(nbs, overrides={"window_days": "60"}) == {"window_days": 60}
    assert resolve_parameters(nbs, overrides={"as_of": "00123"}) == {"as_of": "00123"}  # text stays text
    with pytest.raises(ValueError, match="must be int"):
        resolve_parameters(nbs, overrides={"window_days": "sixty"})
    with pytest.raises(ValueError, match="not a valid identifier"):
        resolve_parameters(nbs, overrides={"x; import os": 1})


HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def hostile_world(small_world, tmp_path_factory):
    """The small world with a segment and a touchpoint named like a script."""
    path = tmp_path_factory.mktemp("hostile")
    for name in ("customers.csv", "interactions.csv"):
        text = (small_world / name).read_text()
        text = text.replace(",enterprise,", f",{HOSTILE},").replace(",store_visit,", f",{HOSTILE},")
        (path / name).write_text(text)
    return path


def test_text_from_data_is_escaped_in_the_report(hostile_world, tmp_path):
    result = run(hostile_world, out=tmp_path)
    html = result.report.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the reader sees the text"
    assert HOSTILE not in html and "<script" not in html.lower(), "and no script is in the page"
