"""Runs a scheduler can trust: a killed run is marked died, two runs at once into one folder
stay apart, and nothing from the kernels reaches the terminal. Real `cx run` processes of a
tiny notebook (tests._notebooks.tiny_notebook)."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time

from tests._notebooks import tiny_notebook

SLOW = 'import time\nprint("started", flush=True)\ntime.sleep(300)'


def start_run(data, out, notebook, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "cxlib.run.cli", "run", "--data", str(data), "--out", str(out), "--notebook", str(notebook)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs,
    )


def wait_until_started(proc, out, timeout=120):
    deadline = time.monotonic() + timeout
    while not any("started" in p.read_text() for p in out.glob("*/notebooks/tiny.ipynb")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run should be executing the slow cell"
        time.sleep(0.2)


def records(out):
    return [json.loads(p.read_text()) for p in out.glob("*/run.json")]


def stop_group(proc):
    """End what is left of a test's own run (its kernel), by the group the test started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_run_killed_with_kill_9_is_marked_died_with_its_last_notebook(small_world, tmp_path):
    out = tmp_path / "out"
    slow = tiny_notebook(tmp_path, body=SLOW)
    proc = start_run(small_world, out, slow)
    try:
        wait_until_started(proc, out)
        (running,) = records(out)
        assert running["status"] == "running" and running["pid"] == proc.pid and running["host"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        stop_group(proc)
    (tmp_path / "quick").mkdir()
    quick = tiny_notebook(tmp_path / "quick")
    with open(out / ".lock", "a+") as lock:  # another process publishing: the later run waits for it
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        later = start_run(small_world, out, quick)
        try:
            time.sleep(3)
            assert len(records(out)) == 1 and later.poll() is None, "a run starts under the folder's lock"
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    _, stderr = later.communicate(timeout=600)
    assert later.returncode == 0, stderr
    died = [r for r in records(out) if r["run_id"] == running["run_id"]][0]
    assert died["status"] == "died" and died["last_notebook"] == "tiny.ipynb"
    assert f"process {proc.pid}" in died["error"]["error"]
    index = (out / "index.html").read_text()
    assert 'class="status-died"' in index and "last notebook reached: tiny.ipynb" in index


def test_two_runs_at_once_into_one_folder_keep_their_own_run_and_a_true_index(small_world, tmp_path):
    out = tmp_path / "out"
    notebook = tiny_notebook(tmp_path)
    runs = [start_run(small_world, out, notebook) for _ in range(2)]
    results = [p.communicate(timeout=600) for p in runs]
    for proc, (_, stderr) in zip(runs, results):
        assert proc.returncode == 0, stderr
        assert "IPKernelApp" not in stderr and "Traceback" not in stderr, "kernels write to their log, not here"
    done = records(out)
    assert len(done) == 2 and {r["status"] for r in done} == {"ok"}
    assert len({r["run_id"] for r in done}) == 2 and len({r["pid"] for r in done}) == 2
    index = (out / "index.html").read_text()
    assert all(r["run_id"] in index for r in done) and index.count('class="status-ok"') == 2
    assert (out / "latest.html").exists() and not list(out.rglob("*.tmp"))
    assert all((out / r["run_id"] / "logs" / "tiny.log").exists() for r in done)


def test_sigterm_to_the_whole_group_is_one_line(small_world, tmp_path):
    """A scheduler stopping a job signals its process group: the kernel too. Its ZMQ traceback stays in its log."""
    out = tmp_path / "out"
    proc = start_run(small_world, out, tiny_notebook(tmp_path, body=SLOW))
    try:
        wait_until_started(proc, out)
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        stop_group(proc)
    assert proc.returncode == 143, stderr
    progress = re.compile(r"cx run: \[\d+/\d+\] \S+\.ipynb ")  # the runner's own progress lines
    said = [line for line in stderr.splitlines() if line and not progress.match(line)]
    assert said == [line for line in said if line.startswith("cx run: interrupted by SIGTERM")] and len(said) == 1, stderr
    (record,) = records(out)
    assert record["status"] == "interrupted"
