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

Two notebooks execute at a time by default (``jobs``; each kernel is one process, the machine
has two cores or more): on the demo data the notebooks of a run cost about 95 s one after the
other, a few seconds of each only starting the kernel, importing and loading the data.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import papermill as pm

import cxlib
from cxlib.config import DEMO_CUSTOMERS, DEMO_DIR, DEMO_SEED, NOTEBOOKS_DIR, REPORTS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.data.open import in_process
from cxlib.data.postgres import is_postgres, password_in_environment, redact
from cxlib.run import loaded, results
from cxlib.run.parameters import effective_parameters, papermill_path, resolve_parameters
from cxlib.run.records import locked, mark_died, new_run_dir, process_start, publish_latest, render_index, write_record
from cxlib.run.report import render
from cxlib.present.summary import methods_and_caveats

#: The notebooks of a run, in the order of the report.
NOTEBOOKS = ("00_summary.ipynb", "01_overview.ipynb", "02_churn.ipynb", "03_roi.ipynb", "04_risk.ipynb")
#: Parameters the runner sets itself.
RUNNER_PARAMETERS = ("data", "results_dir")
#: Notebooks that read what the others computed: started last, once the others have started, and waiting
#: for the results they read (:mod:`cxlib.run.results`); shown where NOTEBOOKS puts them.
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


def _kernel_manager(log: Path, ipc_dir: str, kernels: _Kernels | None = None, env: dict | None = None):
    """A kernel manager whose kernel listens on local sockets (IPC, no unencrypted TCP) and
    writes its own messages to ``log`` (not to the user's terminal); ``kernels`` learns of each
    kernel it starts, so that the run can stop it; ``env`` is added to the kernel's environment."""
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
                if env:
                    kw["env"] = {**(kw.get("env") or os.environ), **env}
                launched = await super()._async_launch_kernel(kernel_cmd, **kw)
            if kernels is not None:
                kernels.add(self.provisioner.process)
            return launched

    return RunKernelManager


#: The name of the threads that execute the notebooks of a run.
_THREADS = "cx-notebook"


class _Kernels:
    """The kernel processes of a run's notebooks, to stop them all when one notebook fails or the run is interrupted.

    Each kernel leads its own process group (jupyter_client starts it in a new session), so
    stopping the group stops what the kernel started too (a Spark JVM). A kernel started after
    :meth:`stop` is stopped at once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._processes: list = []
        self.stopped = False

    def add(self, process) -> None:
        with self._lock:
            self._processes.append(process)
            if self.stopped:
                self._kill(process)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True
            for process in self._processes:
                self._kill(process)

    def filter(self, record) -> bool:
        """A logging filter: once stopped, what the notebooks' threads log of their killed kernels is dropped
        (the run says in one line that it was stopped; a kernel's own messages are in its log)."""
        return not (self.stopped and record.threadName.startswith(_THREADS))

    @staticmethod
    def _kill(process) -> None:
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            process.kill()


def default_jobs(engine: str = "duckdb") -> int:
    """Notebooks run at the same time by default: two where there are two cores or more (one each), else one.

    On Spark one: every kernel starts its own JVM with ``local[2]``, which already uses two cores.
    """
    if not in_process(engine):
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def _execute(source: Path, target: Path, parameters: dict, *, kernel_name, progress, run_dir: Path, kernels,
             env: dict | None = None) -> None:
    """Execute one notebook into ``target`` with papermill, in its own kernel (a worker thread of :func:`run`)."""
    ipc_dir = tempfile.mkdtemp(prefix="cx-kernel-")
    try:
        pm.execute_notebook(
            papermill_path(source),
            papermill_path(target),
            parameters=parameters,
            kernel_name=kernel_name,
            progress_bar=progress,
            cwd=str(run_dir),
            kernel_manager_class=_kernel_manager(run_dir / "logs" / f"{source.stem}.log", ipc_dir, kernels, env),
        )
    finally:
        shutil.rmtree(ipc_dir, ignore_errors=True)


def _failure(source: Path, run_dir: Path, exc: BaseException) -> BaseException:
    """What the run raises for a notebook that ended with ``exc``: :class:`NotebookFailed` for an error in a cell."""
    if isinstance(exc, pm.PapermillExecutionError):
        failed = NotebookFailed(source.name, cell=exc.exec_count, error=f"{exc.ename}: {exc.evalue}",
                                executed=run_dir / "notebooks" / source.name)
        failed.__cause__ = exc
        return failed
    return exc


def _data_location(data, engine: str) -> str:
    """Where the notebooks read (:func:`cxlib.data.open.locate`); empty: the demo data set."""
    from cxlib.data.open import locate

    return locate(data, engine=engine) or str(ensure_demo().resolve())


def _fingerprint(location: str, engine: str, *, saved: Path | None = None) -> dict:
    """Rows, date range and content hash of the data the run reads, in the run's engine.

    ``saved`` (DuckDB only): the data as loaded is also copied there, for the notebooks to open
    instead of loading it again (:mod:`cxlib.run.loaded`).
    """
    from cxlib.data.open import open_briefly

    with open_briefly(location, engine=engine) as data:
        if saved is not None:
            loaded.save(data, saved)
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
    jobs: int | None = None,
) -> RunResult:
    """Execute the notebooks on ``data`` and render the report.

    ``data`` defaults to the ``data`` parameter of ``params_file``/``overrides``, else the
    demo data set. Raises :class:`NotebookFailed` (after recording the failure) when a
    notebook raises, and :class:`RunInterrupted`/KeyboardInterrupt (after recording the
    run as ``interrupted``) on SIGTERM or Ctrl-C.

    Notebooks that declare ``results_dir`` get ``<run>/results``: what one fits or evaluates
    (:mod:`cxlib.run.results`) the others load instead of computing it again. The readers
    (``00_summary``) start last, once the others have started, and wait for what they read;
    the report keeps the order of ``notebooks``. With DuckDB and no ``as_of`` the data is
    loaded once, by the runner, and each notebook opens its copy (:mod:`cxlib.run.loaded`).
    ``say``: called with a line of text as each notebook starts and ends (``cx run`` prints it).

    ``jobs``: notebooks executed at the same time, each in its own kernel (default
    :func:`default_jobs`). A result two of them need is computed by whichever asks first while
    the other waits for it (:meth:`cxlib.run.results.Results.get`). When one fails, the kernels
    of the others are stopped and the run fails with the first failure.
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
            # The load of the fingerprint serves the notebooks too when it is theirs: DuckDB, censored
            # where they censor it (as_of empty: the latest timestamp; a given as_of would change the fingerprint).
            saved = run_dir / "data" / "loaded.duckdb" if in_process(engine) and not params.get("as_of") else None
            record["data"] = _fingerprint(data_path, engine, saved=saved)
            record["timings"]["fingerprint_seconds"] = round(time.monotonic() - t0, 2)
            shared = {} if saved is None else {loaded.ENV: loaded.announcement(saved, params["data"], as_of="", engine=engine)}
            write_record(run_dir, record)
            entries = {}
            for source in sources:  # in the report's order; run in execution order
                entries[source] = {"notebook": source.name, "status": "pending",
                                   "output": str(run_dir / "notebooks" / source.name)}
                record["notebooks"].append(entries[source])
            order = execution_order(sources)
            jobs = max(1, min(int(jobs or default_jobs(engine)), len(order)))
            if jobs > 1:
                say(f"cx run: {len(order)} notebooks, up to {jobs} at a time")
            steps = {source: step for step, source in enumerate(order, start=1)}

            def start(source):
                """Record ``source`` as running and start it on the pool; returns its future."""
                declared = pm.inspect_notebook(papermill_path(source))
                own = {k: v for k, v in params.items() if k in declared}
                if "results_dir" in declared:
                    own["results_dir"] = str(run_dir / "results")
                entry = entries[source]
                entry["status"], entry["step"] = "running", steps[source]
                began[source] = time.monotonic()
                write_record(run_dir, record)
                say(f"cx run: [{steps[source]}/{len(order)}] {source.name} ...")
                reader = {results.PENDING_ENV: str(pending)} if source.name in READERS else None
                return pool.submit(_execute, source, run_dir / "notebooks" / source.name, own, kernel_name=kernel_name,
                                   progress=progress, run_dir=run_dir, kernels=kernels, env=reader)

            def finish(source, status):
                entry = entries[source]
                entry["status"] = status
                entry["seconds"] = round(time.monotonic() - began.pop(source), 2)
                write_record(run_dir, record)
                say(f"cx run: [{steps[source]}/{len(order)}] {source.name} {status} in {entry['seconds']:.0f} s")

            kernels = _Kernels()
            queue, running, began, failure = list(order), {}, {}, None
            readers = sum(s.name in READERS for s in order)
            # While this file exists the other notebooks are still at work: a reader waits for what they save.
            pending = run_dir / ".others-running"
            pending.touch()
            pool = ThreadPoolExecutor(max_workers=jobs + readers, thread_name_prefix=_THREADS)
            papermill_log = logging.getLogger("papermill")  # nbclient logs through papermill's logger
            papermill_log.addFilter(kernels)
            try:
                with _run_environment(shared):
                    while queue or running:
                        # A reader starts, beside them, once all the others have started; it spends its
                        # first seconds on its kernel, imports and data, then waits for their results.
                        while failure is None and queue and (
                                len(running) < jobs if queue[0].name not in READERS
                                else not any(s.name not in READERS for s in queue)):
                            source = queue.pop(0)
                            running[start(source)] = source
                        if not any(s.name not in READERS for s in [*queue, *running.values()]):
                            pending.unlink(missing_ok=True)  # the others are done: a reader computes what is missing
                        if not running:
                            break
                        done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                        for future in done:
                            source = running.pop(future)
                            exc = future.exception()
                            if exc is None:
                                finish(source, "ok")
                                continue
                            if failure is None:  # the first failure is the run's; the others are stopped
                                failure = _failure(source, run_dir, exc)
                                finish(source, "failed")
                                kernels.stop()
                            else:
                                finish(source, "stopped")
                    if failure is not None:
                        raise failure
            except BaseException:
                kernels.stop()  # Ctrl-C, SIGTERM: the kernels of the running notebooks stop with the run
                wait(running)  # their kernels killed, they end (with an error) within a second or two
                for source in running.values():
                    finish(source, "interrupted")
                raise
            finally:
                pool.shutdown(wait=True)
                papermill_log.removeFilter(kernels)
                pending.unlink(missing_ok=True)
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
        shutil.rmtree(run_dir / "data", ignore_errors=True)  # the loaded copy served this run only
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
    """The notebooks in the order they start: the readers (:data:`READERS`) after the others."""
    sources = list(sources)
    return [s for s in sources if Path(s).name not in READERS] + [s for s in sources if Path(s).name in READERS]


@contextmanager
def _run_environment(extra: dict | None = None):
    """``$CXLAB_RUN=1`` for the kernels of a run (they inherit the environment): no progress bars in the
    report; and ``extra`` (where the run's loaded data is, :mod:`cxlib.run.loaded`)."""
    values = {RUN_ENV: "1", **(extra or {})}
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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


