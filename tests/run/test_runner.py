"""cx run: a report from executed notebooks; a failed notebook exits non-zero and keeps the last good report."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import date

import nbformat
import pytest

from cxlib.config import NOTEBOOKS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.run.report import reader_notes
from cxlib.run.parameters import resolve_parameters
from cxlib.run.runner import NOTEBOOKS, run
from tests._notebooks import tiny_notebook
from tests._worlds import HOSTILE


def test_a_run_fits_each_churn_model_once_and_the_summary_reads_them(good_run):
    """Each churn model of the data (all customers, up to as_of) is fitted in one notebook of the run only:
    the pooled one (the churn section, the claims) and the one per touchpoint (the ROI, the cost).

    Not counted: fits on a sample or at an earlier cutoff (the risk backtest's baseline), and
    the Cox cross-check's own Poisson fit (on its sample, which on a small world is everyone).
    """
    out, result = good_run
    full = [f for f in result.fits if not f["sample"] and f["as_of"] in ("None", f["data_as_of"])
            and f["caller"] != "cox_cross_check"]
    assert len({f["pid"] for f in result.fits}) >= 2, "the spy sees the kernels' fits"
    by_model = {}
    for f in full:
        by_model.setdefault(f["model"], []).append(f)
    assert len(by_model) == 2, f"two churn models, pooled and per touchpoint: {list(by_model)}"
    for model, fits in by_model.items():
        assert len(fits) == 1, f"the churn model {model} was fitted {len(fits)} times: {fits}"
    record = json.loads((result.run_dir / "run.json").read_text())
    steps = {n["notebook"]: n["step"] for n in record["notebooks"]}
    assert steps["00_summary.ipynb"] == len(NOTEBOOKS), "the summary runs last, after what it reads"
    kept = {p.name for p in (result.run_dir / "results").iterdir()}
    assert {"churn_model.pkl", "churn_model_by_touchpoint.pkl", "claims.pkl", "roi.pkl", "cost.pkl",
            "risk_list.pkl"} <= kept


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
    assert [n["notebook"] for n in record["notebooks"]] == list(NOTEBOOKS)
    assert all(n["status"] == "ok" and n["seconds"] > 0 for n in record["notebooks"])
    assert {"fingerprint_seconds", "render_seconds"} <= set(record["timings"])
    assert all((result.run_dir / "notebooks" / name).exists() for name in NOTEBOOKS), "executed notebooks kept"
    assert result.run_id in (out / "index.html").read_text()
    assert not list(out.rglob("*.tmp")), "no temporary file is left behind"


def test_report_opens_with_the_summary_and_closes_with_methods_and_the_run(good_run):
    out, result = good_run
    html = result.report.read_text()
    record = json.loads((result.run_dir / "run.json").read_text())
    order = [html.index(s) for s in ("Executive summary", "In short", "Service against experience: what pays more",
                                     "The headline numbers", "The published claims",
                                     "Overview of the data", "Churn against bad experiences", "Methods and caveats",
                                     "About this run")]
    assert order == sorted(order), "summary, the notebooks' sections, methods and caveats, then the footer"
    footer = html[html.index("About this run"):]
    for text in (record["data"]["sha256"], "2,000 customers", "cxlib", record["run_id"], "Run time", "window_days"):
        assert text in footer
    assert "ThinEvidenceWarning" not in html and ".py:" not in html, "warnings reach the reader as notes, without code"
    assert re.search(r"\d+\.\d% \(\d+\.\d–\d+\.\d%\)", html), "shares read as 1.8% (1.6–2.0%)"
    summary_part = html[: html.index("Overview of the data")]
    assert "data:image/png;base64," in summary_part, "the summary has its figure"


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
    return subprocess.run([sys.executable, "-m", "cxlib.run.cli", "run", *map(str, args)], capture_output=True, text=True, timeout=600)


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
    assert resolve_parameters(nbs, overrides={"as_of": date(2025, 6, 30)}) == {"as_of": "2025-06-30"}  # YAML dates
    assert resolve_parameters(nbs, overrides={"as_of": 20250630}) == {"as_of": "20250630"}
    assert resolve_parameters(nbs, overrides={"window_days": 60.0}) == {"window_days": 60}
    with pytest.raises(ValueError, match="must be int"):
        resolve_parameters(nbs, overrides={"window_days": True})
    with pytest.raises(ValueError, match="must be int"):
        resolve_parameters(nbs, overrides={"window_days": 60.5})


def test_data_location_per_engine(small_world, tmp_path, monkeypatch):
    """DuckDB reads local paths (resolved); Spark also takes a lake URI or a catalog schema as given."""
    from cxlib.run.runner import _data_location

    monkeypatch.chdir(small_world.parent)
    assert _data_location(small_world.name, "duckdb") == str(small_world.resolve())
    assert _data_location(small_world.name, "spark") == str(small_world.resolve())
    assert _data_location("s3://lake/cx/export", "spark") == "s3://lake/cx/export"
    assert _data_location("cx_prod", "spark") == "cx_prod"
    monkeypatch.setenv("CXLAB_SPARK_INPUT", "abfss://c@acct.dfs.core.windows.net/cx")
    assert _data_location(None, "spark") == "abfss://c@acct.dfs.core.windows.net/cx"
    with pytest.raises(ValueError, match="engine must be one of duckdb, spark, not 'pandas'"):
        _data_location(small_world, "pandas")


def test_cx_run_unknown_engine_is_a_usage_error(small_world, tmp_path):
    result = cx_run("--data", small_world, "-p", "engine=pandas", "--out", tmp_path)
    assert result.returncode == 2 and "engine must be one of duckdb, spark" in result.stderr
    assert not list(tmp_path.iterdir()), "no run was started"


def test_every_notebook_declares_the_shared_parameters_with_one_type():
    from cxlib.run.parameters import declared_parameters

    declared = declared_parameters([NOTEBOOKS_DIR / name for name in NOTEBOOKS])
    for name in ("data", "as_of", "engine", "window_days", "resolution_days"):
        assert declared[name]["notebooks"] == list(NOTEBOOKS), f"{name} is a parameter of every notebook"
    for name in ("horizon_days",):
        assert "00_summary.ipynb" in declared[name]["notebooks"]
    for name, info in declared.items():
        seen = {declared_in(NOTEBOOKS_DIR / nb, name) for nb in info["notebooks"]}
        assert len(seen) == 1, f"{name} is declared with different types or defaults: {seen}"


def declared_in(path, name):
    """(type, default) of a parameter: a run passes one value to every notebook that declares it."""
    import papermill as pm

    info = pm.inspect_notebook(str(path))[name]
    return info["inferred_type_name"], info["default"]


# ---------------------------------------------------------------------------------------
# Runs of a tiny notebook: parameters, output folder, interruption


def injected(executed) -> str:
    nb = nbformat.read(str(executed), as_version=4)
    return next(c.source for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))


def test_parameters_from_yaml_overridden_on_the_command_line(small_world, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(f"data: {small_world}\nwindow_days: 30\nas_of: 2025-06-30\n")
    out = tmp_path / "out"
    result = cx_run("--params", params, "-p", "window_days=45", "--out", out, "--notebook", tiny_notebook(tmp_path))
    assert result.returncode == 0, result.stderr
    record = json.loads(next(out.glob("*/run.json")).read_text())
    assert record["parameters"] == {"data": str(small_world), "window_days": 45, "as_of": "2025-06-30"}
    source = injected(next(out.glob("*/notebooks/tiny.ipynb")))
    assert "window_days = 45" in source and 'as_of = "2025-06-30"' in source and str(small_world) in source


def test_a_wrongly_typed_parameter_is_a_usage_error(small_world, tmp_path):
    result = cx_run("--data", small_world, "-p", "window_days=sixty", "--out", tmp_path / "out",
                    "--notebook", tiny_notebook(tmp_path))
    assert result.returncode == 2 and "parameter 'window_days' must be int" in result.stderr
    assert not (tmp_path / "out").exists(), "a wrong call starts no run"


def test_no_parameter_makes_the_run_write_outside_its_output_folder(small_world, tmp_path):
    """papermill formats paths with the parameters: a folder named {data} must stay a folder name."""
    before = sorted(p.name for p in small_world.iterdir())
    out = tmp_path / "{data}" / "{as_of}"
    result = run(small_world, out=out, notebooks=[tiny_notebook(tmp_path)], overrides={"as_of": "../../escape"})
    assert result.status == "ok" and result.run_dir.parent == out.resolve()
    assert (out / result.run_id / "notebooks" / "tiny.ipynb").exists() and (out / "latest.html").exists()
    assert sorted(p.name for p in small_world.iterdir()) == before, "nothing was written into the data folder"
    assert not (tmp_path / "escape").exists()


def test_run_id_paths_ignore_parameter_values(small_world, tmp_path):
    result = run(small_world, out=tmp_path, notebooks=[tiny_notebook(tmp_path)], overrides={"as_of": "/etc/x"})
    written = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= {result.run_id, "latest.html", "index.html", "tiny.ipynb", ".lock"}


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_run_is_recorded_and_leaves_latest_alone(small_world, tmp_path, sig, code):
    out = tmp_path / "out"
    run(small_world, out=out, notebooks=[tiny_notebook(tmp_path)])
    latest = (out / "latest.html").read_bytes()
    (tmp_path / "slow").mkdir()
    slow = tiny_notebook(tmp_path / "slow", body='import time\nprint("started", flush=True)\ntime.sleep(300)')
    proc = subprocess.Popen([sys.executable, "-m", "cxlib.run.cli", "run", "--data", str(small_world), "--out", str(out),
                             "--notebook", str(slow)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any("started" in p.read_text() for p in out.glob("*/notebooks/tiny.ipynb")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run should be executing the slow cell"
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "interrupted" in stderr
    records = [json.loads(p.read_text()) for p in out.glob("*/run.json")]
    stopped = [r for r in records if r["status"] == "interrupted"]
    assert len(stopped) == 1 and stopped[0]["notebooks"][0]["status"] == "interrupted"
    assert not (out / stopped[0]["run_id"] / "report.html").exists()
    assert (out / stopped[0]["run_id"] / "notebooks" / "tiny.ipynb").exists(), "the executed copy is kept"
    assert (out / "latest.html").read_bytes() == latest
    assert "interrupted" in (out / "index.html").read_text()


def test_a_missing_notebook_is_a_usage_error(small_world, tmp_path):
    with pytest.raises(ValueError, match="no notebook at"):
        run(small_world, out=tmp_path, notebooks=[tmp_path / "nope.ipynb"])
    assert not list(tmp_path.iterdir())


def test_warnings_reach_the_reader_as_notes_without_code():
    stderr = (
        "/tmp/ipykernel_1/123.py:1: ThinEvidenceWarning: resolution_matters: too few churn events.\n"
        "  claim_results = claims.evaluate(dataset, model=model)\n"
        "some log line\n"
    )
    assert reader_notes(stderr) == "Note: resolution_matters: too few churn events.\n"
    assert reader_notes("progress 10%\n") == ""


def test_text_from_data_is_escaped_in_the_report(hostile_run):
    html = hostile_run.report.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "the reader sees the text"
    assert HOSTILE not in html and "<script" not in html.lower(), "and no script is in the page"
