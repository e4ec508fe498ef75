"""Runs: execute the notebooks with papermill, render the report, keep a record.

Each run writes under ``<out>/<run-id>/``: the executed notebooks, ``report.html`` and
``run.json`` (status, parameters, timings, the data's fingerprint). ``<out>/latest.html`` is
the last good report and ``<out>/index.html`` lists the runs with their status. Every file
is written to a temporary name and moved into place, so a reader never meets half a report,
and a failed or interrupted run leaves ``latest.html`` as it was.

Paths of a run are made from its id only, never from parameter values, so no parameter can
make a run write outside its output folder.

A run records its process id and host. A run still marked ``running`` whose process is gone
(``kill -9``, a machine that stopped) is marked ``died`` by the next run or index render,
with the last notebook it reached. Runs into the same folder keep their own run folders
(an id taken with an exclusive ``mkdir``) and take a lock (``<out>/.lock``) to publish
``latest.html`` and ``index.html``, so two runs at once cannot write a stale index. Each
kernel talks to the runner over local sockets (IPC, not TCP) and writes its own log to
``logs/<notebook>.log`` in the run folder, never to the terminal.
"""

from __future__ import annotations

import ast
import html
import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import papermill as pm

import cxlib
from cxlib.config import DEMO_CUSTOMERS, DEMO_DIR, DEMO_SEED, NOTEBOOKS_DIR, REPORTS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.data.postgres import is_postgres, password_in_environment, redact
from cxlib.run.report import atomic_write_text, render
from cxlib.data.yamlfile import read_yaml
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


def declared_parameters(notebooks) -> dict[str, dict]:
    """Every parameter the notebooks declare: name → {default, type, notebooks}."""
    found: dict[str, dict] = {}
    for nb in notebooks:
        for name, info in pm.inspect_notebook(_literal(Path(nb))).items():
            entry = found.setdefault(
                name, {"default": info["default"], "type": info["inferred_type_name"], "notebooks": []}
            )
            entry["notebooks"].append(Path(nb).name)
    return found


def _coerce(name: str, value, type_name: str):
    """Give a value the type of the notebook's default (``-p`` values arrive as text, YAML guesses).

    Text parameters stay text whatever they look like (``00123``, a YAML date); numbers must
    parse as numbers; a bool is never taken for a number.
    """
    def wrong():
        return ValueError(f"parameter {name!r} must be {type_name}, got {value!r}")

    if type_name == "str":
        if value is None:
            return ""
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise wrong()
        return value
    if type_name == "int":
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise wrong() from None
    if type_name == "float":
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise wrong() from None
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("true", "1", "yes"):
            return True
        if word in ("false", "0", "no"):
            return False
        raise wrong()
    return value


def resolve_parameters(notebooks, *, params_file=None, overrides=None) -> dict:
    """Parameters from a YAML file, overridden by ``overrides``; unknown names are an error."""
    declared = declared_parameters(notebooks)
    chosen: dict = {}
    if params_file is not None:
        loaded = read_yaml(params_file, what="the parameters file") or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{params_file}: expected a mapping of parameter names to values")
        chosen.update(loaded)
    chosen.update(overrides or {})
    for name, value in list(chosen.items()):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a valid identifier")
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise ValueError(f"unknown parameter {name!r}; the notebooks take: {known}")
        chosen[name] = _coerce(name, value, declared[name]["type"])
    return chosen


def effective_parameters(notebooks, chosen: dict) -> dict:
    """Every declared parameter with the value the run uses: ``chosen``, else the notebook's default."""
    values = {}
    for name, info in sorted(declared_parameters(notebooks).items()):
        if name == "results_dir":  # the run's own folder, set per run: not a setting of the analysis
            continue
        if name in chosen:
            values[name] = chosen[name]
            continue
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            values[name] = info["default"]
    return values


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


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


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


def _process_start(pid: int):
    """When process ``pid`` started (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _process_gone(record: dict) -> bool:
    """Is the process of a run recorded as running on this host gone? (False when unknown.)"""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    started = record.get("process_started")
    return started is not None and _process_start(pid) not in (None, started)


def _mark_died(out: Path) -> None:
    """Mark runs whose process is gone as ``died``, with the last notebook they reached."""
    for path in Path(out).glob("*/run.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("status") != "running" or not _process_gone(record):
            continue
        reached = [n for n in record.get("notebooks", []) if isinstance(n, dict)]
        last = reached[-1]["notebook"] if reached else None
        for entry in reached:
            if entry.get("status") == "running":
                entry["status"] = "died"
        record["status"] = "died"
        record["last_notebook"] = last
        record["error"] = {
            "error": f"the run's process {record['pid']} on {record['host']} ended without recording why "
            f"(killed, or the machine stopped); last notebook reached: {last or 'none'}",
            "notebook": last,
        }
        _write_record(path.parent, record)


@contextmanager
def _locked(out: Path):
    """An exclusive lock on ``<out>/.lock`` while a run publishes (released when the process dies)."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _new_run_dir(out: Path) -> tuple[str, Path]:
    """A fresh run id and its folder, created exclusively: two runs never share one."""
    out.mkdir(parents=True, exist_ok=True)
    for _ in range(20):
        run_id = new_run_id()
        try:
            (out / run_id).mkdir()
        except FileExistsError:
            continue
        (out / run_id / "notebooks").mkdir()
        return run_id, out / run_id
    raise RuntimeError(f"could not create a new run folder in {out}")  # pragma: no cover


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


def _write_record(run_dir: Path, record: dict) -> None:
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")


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


def _literal(path: Path) -> str:
    """A path papermill will not format: it calls ``str.format(**parameters)`` on both paths,
    so a folder named ``{data}`` would otherwise become a parameter's value."""
    return str(path).replace("{", "{{").replace("}", "}}")


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

    with _locked(out):
        _mark_died(out)
    run_id, run_dir = _new_run_dir(out)
    record = {
        "run_id": run_id,
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "process_started": _process_start(os.getpid()),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cxlib_version": cxlib.__version__,
        "parameters": params,
        "effective_parameters": effective_parameters(sources, params),
        "notebooks": [],
        "timings": {},
    }
    _write_record(run_dir, record)
    result = RunResult(run_id, run_dir, "running", record=record)
    try:
        with _interruptible(), password_in_environment(data_path):
            t0 = time.monotonic()
            record["data"] = _fingerprint(data_path, engine)
            record["timings"]["fingerprint_seconds"] = round(time.monotonic() - t0, 2)
            _write_record(run_dir, record)
            entries = {}
            for source in sources:  # in the report's order; run in execution order
                entries[source] = {"notebook": source.name, "status": "pending",
                                   "output": str(run_dir / "notebooks" / source.name)}
                record["notebooks"].append(entries[source])
            order = execution_order(sources)
            for step, source in enumerate(order, start=1):
                target = run_dir / "notebooks" / source.name
                t0 = time.monotonic()
                declared = pm.inspect_notebook(_literal(source))
                own = {k: v for k, v in params.items() if k in declared}
                if "results_dir" in declared:
                    own["results_dir"] = str(run_dir / "results")
                entry = entries[source]
                entry["status"], entry["step"] = "running", step
                _write_record(run_dir, record)
                say(f"cx run: [{step}/{len(order)}] {source.name} ...")
                ipc_dir = tempfile.mkdtemp(prefix="cx-kernel-")
                try:
                    with _run_environment():
                        pm.execute_notebook(
                            _literal(source),
                            _literal(target),
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
        with _locked(out):
            _write_record(run_dir, record)
            if record["status"] == "ok":
                _publish_latest(out, result.report)
            _write_index(out)
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


def _publish_latest(out: Path, report: Path) -> None:
    """Copy the good report to latest.html through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=out, prefix=".latest.html.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as dst, open(report, "rb") as src:
            shutil.copyfileobj(src, dst)
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out / "latest.html")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def list_runs(out) -> list[dict]:
    """The records of every run under ``out``, newest first."""
    records = []
    for path in Path(out).glob("*/run.json"):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            records.append({"run_id": path.parent.name, "status": "unreadable"})
    return sorted(records, key=lambda r: r.get("run_id", ""), reverse=True)


def write_index(out) -> Path:
    """reports/index.html: every run with its status, linked to its report, or to why it failed;
    runs whose process is gone are marked ``died`` first."""
    out = Path(out)
    with _locked(out):
        return _write_index(out)


def _write_index(out: Path) -> Path:
    _mark_died(out)
    rows = []
    for r in list_runs(out):
        run_id = html.escape(str(r.get("run_id", "")))
        raw_status = str(r.get("status", ""))
        status = html.escape(raw_status)
        error = r.get("error") or {}
        if raw_status == "ok":
            link = f'<a href="{run_id}/report.html">report</a>'
        elif error.get("notebook"):
            nb = html.escape(str(error["notebook"]))
            cell = f" (cell {html.escape(str(error['cell']))})" if error.get("cell") is not None else ""
            link = f'<a href="{run_id}/notebooks/{nb}">{nb}</a>{cell}: {html.escape(str(error.get("error", "")))}'
        else:
            link = html.escape(str(error.get("error", "")))
        record = f'<a href="{run_id}/run.json">run.json</a>'
        css = "".join(ch for ch in raw_status if ch.isalnum()) or "unknown"
        rows.append(
            f'<tr class="status-{css}"><td>{run_id}</td><td>{html.escape(str(r.get("started_at", "")))}</td>'
            f"<td>{status}</td><td>{html.escape(str(r.get('seconds', '')))}</td><td>{link}</td><td>{record}</td></tr>"
        )
    latest = '<p><a href="latest.html">Latest good report</a></p>' if (out / "latest.html").exists() else (
        "<p>No run has succeeded yet.</p>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cxlab runs</title>
<style>body{{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;color:#1f2328}}
table{{border-collapse:collapse;width:100%}}td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}}
td{{overflow-wrap:anywhere}}
.status-failed td:nth-child(3),.status-died td:nth-child(3){{color:#b00020;font-weight:600}}.status-interrupted td:nth-child(3){{color:#9a6700;font-weight:600}}
.status-ok td:nth-child(3){{color:#1a7f37}}.status-running td:nth-child(3){{color:#57606a}}</style>
</head><body><h1>cxlab runs</h1>{latest}
<table><thead><tr><th>Run</th><th>Started (UTC)</th><th>Status</th><th>Seconds</th><th>Output</th><th>Record</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    return atomic_write_text(out / "index.html", page)
