"""Runs: execute the notebooks with papermill, render the report, keep a record.

Each run writes under ``<out>/<run-id>/``: the executed notebooks, ``report.html`` and
``run.json`` (status, parameters, timings, the data's fingerprint). ``<out>/latest.html`` is
the last good report and ``<out>/index.html`` lists the runs with their status. Every file
is written to a temporary name and moved into place, so a reader never meets half a report,
and a failed or interrupted run leaves ``latest.html`` as it was.

Paths of a run are made from its id only, never from parameter values, so no parameter can
make a run write outside its output folder.

Its parameters are resolved in :mod:`cxlib.run.parameters`; its record, the lock and the
index in :mod:`cxlib.run.records`. Each
kernel talks to the runner over local sockets (IPC, not TCP) and writes its own log to
``logs/<notebook>.log`` in the run folder, never to the terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import papermill as pm

import cxlib
from cxlib.config import DEMO_CUSTOMERS, DEMO_DIR, DEMO_SEED, NOTEBOOKS_DIR, REPORTS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.data.postgres import is_postgres, password_in_environment, redact
from cxlib.run.parameters import effective_parameters, papermill_path, resolve_parameters
from cxlib.run.records import locked, mark_died, new_run_dir, process_start, publish_latest, render_index, write_record
from cxlib.run.report import render
from cxlib.present.summary import methods_and_caveats

#: The notebooks of a run, in the order of the report.
NOTEBOOKS = ("00_summary.ipynb", "01_overview.ipynb", "02_churn.ipynb", "03_roi.ipynb", "04_risk.ipynb")
#: Parameters the runner sets itself.
RUNNER_PARAMETERS = ("data", "results_dir")
#: Notebooks that read what the others computed: executed after them, shown where NOTEBOOKS puts them.
READERS = ("00_summary.ipynb",)
#: Set in the environment of a run's kernels: progress bars stay out of the report.
RUN_ENV = "CXLAB_RUN"


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    status: str
    report: Path | None = None
    error: dict | None = None
    record: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Parameters


# ---------------------------------------------------------------------------------------
# The demo data set


def ensure_demo(path: Path = DEMO_DIR) -> Path:
    """Generate the demo data set if it is not there (it is never committed)."""
    path = Path(path)
    if not (path / "truth.json").exists():
        from cxlib.data.simulate import preset, write_dataset

        write_dataset(path, DEMO_CUSTOMERS, seed=DEMO_SEED, fmt="csv", config=preset("demo"))
    return path


# ---------------------------------------------------------------------------------------
# Runs


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by SIGTERM (or SIGINT): recorded as ``interrupted``, not as failed."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")


@contextmanager
def _interruptible():
    """Turn SIGTERM into :class:`RunInterrupted` while a run is under way (main thread only).

    Ctrl-C already raises KeyboardInterrupt; a scheduler stopping a job sends SIGTERM, whose
    default action would kill the process before the run could record itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise RunInterrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kernel_manager(log: Path, ipc_dir: str):
    """A kernel manager whose kernel listens on local sockets (IPC, no unencrypted TCP) and
    writes its own messages to ``log`` (not to the user's terminal)."""
    from jupyter_client.manager import AsyncKernelManager

    class RunKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            self.ip = os.path.join(ipc_dir, "kernel")

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "ab") as fh:
                kw["stderr"] = fh
                kw.setdefault("stdout", fh)
                return await super()._async_launch_kernel(kernel_cmd, **kw)

    return RunKernelManager


def _data_location(data, engine: str) -> str:
    """Where the notebooks read (:func:`cxlib.data.open.locate`); empty: the demo data set."""
    from cxlib.data.open import locate

    return locate(data, engine=engine) or str(ensure_demo().resolve())


def _fingerprint(location: str, engine: str) -> dict:
    """Rows, date range and content hash of the data the run reads, in the run's engine."""
    from cxlib.data.open import open_briefly

    with open_briefly(location, engine=engine) as data:
        return {**data.fingerprint(), "engine": engine}


def _data_name(location: str) -> str:
    if is_postgres(location):
        return redact(location)
    return location.rstrip("/").replace("\\", "/").rsplit("/", 1)[-1] or location


def run(
    data=None,
    *,
    params_file=None,
    overrides=None,
    out=REPORTS_DIR,
    notebooks=None,
    kernel_name: str | None = None,
    progress: bool = False,
    say=None,
) -> RunResult:
    """Execute the notebooks on ``data`` and render the report.

    ``data`` defaults to the ``data`` parameter of ``params_file``/``overrides``, else the
    demo data set. Raises :class:`NotebookFailed` (after recording the failure) when a
    notebook raises, and :class:`RunInterrupted`/KeyboardInterrupt (after recording the
    run as ``interrupted``) on SIGTERM or Ctrl-C.

    Notebooks that declare ``results_dir`` get ``<run>/results``: what one fits or evaluates
    (:mod:`cxlib.run.results`) the others load instead of computing it again. The readers
    (``00_summary``) run after the others; the report keeps the order of ``notebooks``.
    ``say``: called with a line of text as each notebook starts and ends (``cx run`` prints it).
    """
    started = time.monotonic()
    out = Path(out).resolve()
    sources = [Path(nb).resolve() for nb in (notebooks or [NOTEBOOKS_DIR / name for name in NOTEBOOKS])]
    for source in sources:
        if not source.is_file():
            raise ValueError(f"no notebook at {source}")
    params = resolve_parameters(sources, params_file=params_file, overrides=overrides)
    engine = params.get("engine", "duckdb")
    data_path = _data_location(data or params.get("data") or None, engine)
    # Shown and recorded without its password; the notebooks get the password in PGPASSWORD.
    params["data"] = redact(data_path)
    say = _quiet_on_error(say)

    with locked(out):
        mark_died(out)
    run_id, run_dir = new_run_dir(out)
    record = {
        "run_id": run_id,
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "process_started": process_start(os.getpid()),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cxlib_version": cxlib.__version__,
        "parameters": params,
        "effective_parameters": effective_parameters(sources, params),
        "notebooks": [],
        "timings": {},
    }
    write_record(run_dir, record)
    result = RunResult(run_id, run_dir, "running", record=record)
    try:
        with _interruptible(), password_in_environment(data_path):
            t0 = time.monotonic()
            record["data"] = _fingerprint(data_path, engine)
            record["timings"]["fingerprint_seconds"] = round(time.monotonic() - t0, 2)
            write_record(run_dir, record)
            entries = {}
            for source in sources:  # in the report's order; run in execution order
                entries[source] = {"notebook": source.name, "status": "pending",
                                   "output": str(run_dir / "notebooks" / source.name)}
                record["notebooks"].append(entries[source])
            order = execution_order(sources)
            for step, source in enumerate(order, start=1):
                target = run_dir / "notebooks" / source.name
                t0 = time.monotonic()
                declared = pm.inspect_notebook(papermill_path(source))
                own = {k: v for k, v in params.items() if k in declared}
                if "results_dir" in declared:
                    own["results_dir"] = str(run_dir / "results")
                entry = entries[source]
                entry["status"], entry["step"] = "running", step
                write_record(run_dir, record)
                say(f"cx run: [{step}/{len(order)}] {source.name} ...")
                ipc_dir = tempfile.mkdtemp(prefix="cx-kernel-")
                try:
                    with _run_environment():
                        pm.execute_notebook(
                            papermill_path(source),
                            papermill_path(target),
                            parameters=own,
                            kernel_name=kernel_name,
                            progress_bar=progress,
                            cwd=str(run_dir),
                            kernel_manager_class=_kernel_manager(run_dir / "logs" / f"{source.stem}.log", ipc_dir),
                        )
                    entry["status"] = "ok"
                except pm.PapermillExecutionError as exc:
                    entry["status"] = "failed"
                    raise NotebookFailed(
                        source.name, cell=exc.exec_count, error=f"{exc.ename}: {exc.evalue}", executed=target
                    ) from exc
                except BaseException:
                    entry["status"] = "interrupted"
                    raise
                finally:
                    entry["seconds"] = round(time.monotonic() - t0, 2)
                    shutil.rmtree(ipc_dir, ignore_errors=True)
                    say(f"cx run: [{step}/{len(order)}] {source.name} {entry['status']} in {entry['seconds']:.0f} s")
            executed = [Path(entries[source]["output"]) for source in sources]
            t0 = time.monotonic()
            report = render(
                executed,
                run_dir / "report.html",
                title="What bad experiences cost: service against experience",
                subtitle=f"cxlab report · data: {_data_name(params['data'])} · as of {_as_of_text(params, record)} · run {run_id}",
                footer=_footer(record, time.monotonic() - started),
                methods=methods_and_caveats(record["effective_parameters"]),
            )
            record["timings"]["render_seconds"] = round(time.monotonic() - t0, 2)
            result.report = report
            result.status = record["status"] = "ok"
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        result.status = record["status"] = "interrupted" if interrupted else "failed"
        if isinstance(exc, NotebookFailed):
            result.error = {"notebook": exc.notebook, "cell": exc.cell, "error": exc.error, "executed": exc.executed}
        elif interrupted:
            result.error = {"error": str(exc) or "interrupted (KeyboardInterrupt)"}
        else:
            result.error = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exception(exc)[-6:],
            }
        record["error"] = result.error
        raise
    finally:
        record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record["seconds"] = round(time.monotonic() - started, 2)
        with locked(out):
            write_record(run_dir, record)
            if record["status"] == "ok":
                publish_latest(out, result.report)
            render_index(out)
    return result


def _quiet_on_error(say):
    """``say`` that never fails the run: a progress line to a closed terminal or pipe is dropped."""
    def safe(line: str) -> None:
        if say is None:
            return
        try:
            say(line)
        except OSError:  # BrokenPipeError when whoever read stderr has gone
            pass

    return safe


def execution_order(sources) -> list[Path]:
    """The notebooks in the order they run: the readers (:data:`READERS`) after the others."""
    sources = list(sources)
    return [s for s in sources if Path(s).name not in READERS] + [s for s in sources if Path(s).name in READERS]


@contextmanager
def _run_environment():
    """``$CXLAB_RUN=1`` for the kernels of a run (they inherit the environment): no progress bars in the report."""
    previous = os.environ.get(RUN_ENV)
    os.environ[RUN_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = previous


def _as_of_text(params: dict, record: dict) -> str:
    if params.get("as_of"):
        return str(params["as_of"])
    last = record.get("data", {}).get("last")
    return str(last)[:10] if last else "the end of the data"


def _footer(record: dict, seconds: float) -> list[tuple[str, str]]:
    fp = record.get("data", {})
    given = record["parameters"]
    params = ", ".join(
        f"{k}={v!r}" + (" (set for this run)" if k in given and k != "data" else "")
        for k, v in record.get("effective_parameters", given).items()
    )
    per_notebook = "; ".join(f"{n['notebook']} {n.get('seconds', 0):.0f} s" for n in record["notebooks"])
    first, last = (str(fp.get(k) or "–")[:10] for k in ("first", "last"))
    return [
        ("Run", record["run_id"]),
        ("Started (UTC)", record["started_at"]),
        ("Run time", f"{seconds:.0f} s ({per_notebook})"),
        ("cxlib", record["cxlib_version"]),
        ("Parameters", params),
        (
            "Data",
            f"{fp.get('customers', 0):,} customers, {fp.get('interactions', 0):,} interactions, "
            f"{fp.get('rejected', 0):,} rejected rows; {first} to {last}",
        ),
        ("Data fingerprint", str(fp.get("sha256"))),
    ]


