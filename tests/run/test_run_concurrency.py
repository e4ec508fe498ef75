"""cx run executes notebooks at the same time: a result two of them need is still computed once;
a failure stops the others and fails the run with the first failure; the readers run last."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import nbformat
import pytest

from cxlib.exceptions import NotebookFailed
from cxlib.run import results
from cxlib.run.runner import run
from tests._notebooks import tiny_notebook


def _get_slowly(results_dir: str, log: str, name: str) -> None:
    """In its own process: ``Results.get`` of one name whose computation takes a second and logs each call."""
    def compute():
        with open(log, "a") as f:
            f.write(f"{name}\n")
        time.sleep(1.0)
        return {"computed by": name}

    value = results.Results(results_dir, data="d").get("churn model", compute)
    Path(results_dir, f"{name}.json").write_text(json.dumps(value))


def test_a_result_asked_for_by_two_processes_at_once_is_computed_once(tmp_path):
    log = tmp_path / "calls.log"
    kept = tmp_path / "results"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_get_slowly, args=(str(kept), str(log), f"p{i}")) for i in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    calls = log.read_text().split()
    assert len(calls) == 1, f"computed by {calls}"
    got = {json.loads((kept / f"p{i}.json").read_text())["computed by"] for i in range(3)}
    assert got == set(calls), "the others waited and loaded what the first one saved"
    assert sorted(p.name for p in kept.iterdir()) == ["churn_model.pkl", "p0.json", "p1.json", "p2.json"], \
        "no lock file is left behind"


def _notebook(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = tiny_notebook(folder, body=body)
    return path.rename(folder / name)


def _span(executed: Path) -> tuple[float, float]:
    from datetime import datetime

    meta = nbformat.read(str(executed), as_version=4).metadata.papermill
    return datetime.fromisoformat(meta["start_time"]).timestamp(), datetime.fromisoformat(meta["end_time"]).timestamp()


def test_two_notebooks_run_at_the_same_time_and_the_reader_once_they_have_started(small_world, tmp_path):
    nbs = [_notebook(tmp_path / "a", "01_a.ipynb", "import time\ntime.sleep(4)"),
           _notebook(tmp_path / "b", "02_b.ipynb", "import time\ntime.sleep(4)"),
           _notebook(tmp_path / "c", "00_summary.ipynb", 'print("reads the others")')]
    said = []
    result = run(small_world, out=tmp_path / "out", notebooks=nbs, jobs=2, say=said.append)
    assert result.status == "ok"
    a, b, summary = (_span(result.run_dir / "notebooks" / p.name) for p in nbs)
    assert a[0] < b[1] and b[0] < a[1], "the two notebooks overlapped in time"
    assert summary[0] >= max(a[0], b[0]), "the reader started once the others had started"
    record = json.loads((result.run_dir / "run.json").read_text())
    assert [n["notebook"] for n in record["notebooks"]] == [p.name for p in nbs], "the report's order is kept"
    assert {n["notebook"]: n["step"] for n in record["notebooks"]}["00_summary.ipynb"] == 3
    assert any("up to 2 at a time" in line for line in said)
    for p in nbs:
        assert sum(p.name in line and " ok in " in line for line in said) == 1, "one line as each ends"
    assert not (result.run_dir / "data").exists(), "the run's copy of the loaded data is gone when it ends"


def _results_notebook(folder: Path, name: str, body: str) -> Path:
    """A notebook whose parameters are ``data`` and ``results_dir`` (set by the runner), then ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('data: str = ""  # data\nresults_dir: str = ""  # results',
                                         metadata={"tags": ["parameters"]}),
               nbformat.v4.new_code_cell(body)],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    )
    nbformat.write(nb, str(folder / name))
    return folder / name


def test_the_reader_starts_beside_the_others_and_waits_for_what_they_save(small_world, tmp_path):
    maker = _results_notebook(tmp_path / "a", "02_maker.ipynb", (
        "import time\nfrom cxlib.run import results\ntime.sleep(6)\n"
        "results.Results(results_dir).get('churn model', lambda: 'fitted by the maker')"))
    other = _results_notebook(tmp_path / "b", "01_other.ipynb", 'print("quick")')
    reader = _results_notebook(tmp_path / "c", "00_summary.ipynb", (
        "from cxlib.run import results\n"
        "kept = results.Results(results_dir)\n"
        "print(kept.get('churn model', lambda: 'fitted by the reader'))\n"
        "print(kept.get('claims', lambda: 'made by the reader: nobody else makes it'))"))
    result = run(small_world, out=tmp_path / "out", notebooks=[reader, other, maker], jobs=2)
    made, read, _ = (_span(result.run_dir / "notebooks" / p.name) for p in (maker, reader, other))
    assert read[0] < made[1], "the reader started while the maker was still at work"
    executed = nbformat.read(str(result.run_dir / "notebooks" / reader.name), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells for o in c.get("outputs", []))
    assert "fitted by the maker" in text and "fitted by the reader" not in text, "it waited and loaded the maker's"
    assert "made by the reader" in text, "what no other notebook saves it computes once they have ended"
    assert not (result.run_dir / ".others-running").exists()


def test_one_at_a_time_when_asked(small_world, tmp_path):
    nbs = [_notebook(tmp_path / "a", "01_a.ipynb", "import time\ntime.sleep(2)"),
           _notebook(tmp_path / "b", "02_b.ipynb", "import time\ntime.sleep(2)")]
    result = run(small_world, out=tmp_path / "out", notebooks=nbs, jobs=1)
    a, b = (_span(result.run_dir / "notebooks" / p.name) for p in nbs)
    assert b[0] >= a[1] - 0.5, "the second started after the first had ended"


def test_a_failure_stops_the_notebook_running_beside_it_and_fails_the_run(small_world, tmp_path):
    out = tmp_path / "out"
    good = run(small_world, out=out, notebooks=[tiny_notebook(tmp_path)])
    latest = (out / "latest.html").read_bytes()
    nbs = [_notebook(tmp_path / "a", "01_a.ipynb", "import time\ntime.sleep(2)\nraise RuntimeError('forced failure')"),
           _notebook(tmp_path / "b", "02_b.ipynb", "import time\ntime.sleep(300)"),
           _notebook(tmp_path / "c", "03_c.ipynb", 'print("never started")')]
    started = time.monotonic()
    with pytest.raises(NotebookFailed) as info:
        run(small_world, out=out, notebooks=nbs, jobs=2)
    assert time.monotonic() - started < 120, "the sleeping notebook was stopped, not waited for"
    assert info.value.notebook == "01_a.ipynb" and "forced failure" in str(info.value)
    failed = [json.loads(p.read_text()) for p in out.glob("*/run.json") if p.parent.name != good.run_id]
    assert len(failed) == 1 and failed[0]["status"] == "failed"
    status = {n["notebook"]: n["status"] for n in failed[0]["notebooks"]}
    assert status == {"01_a.ipynb": "failed", "02_b.ipynb": "stopped", "03_c.ipynb": "pending"}
    assert (out / "latest.html").read_bytes() == latest, "latest.html still points at the last good report"
