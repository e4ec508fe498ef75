"""Runs: execute the notebooks with papermill, render the report, keep a record.

Each run writes under ``<out>/<run-id>/``: the executed notebooks, ``report.html`` and
``run.json`` (status, parameters, timings, the data's fingerprint). ``<out>/latest.html`` is
the last good report and ``<out>/index.html`` lists the runs with their status. Every file
is written to a temporary name and moved into place, so a reader never meets half a report,
and a failed or interrupted run leaves ``latest.html`` as it was.

Paths of a run are made from its id only, never from parameter values, so no parameter can
make a run write outside its output folder.
"""

from __future__ import annotations

import html
import json
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import papermill as pm
import yaml

import cxlib
from cxlib.config import DEMO_CUSTOMERS, DEMO_DIR, DEMO_SEED, NOTEBOOKS_DIR, REPORTS_DIR
from cxlib.exceptions import NotebookFailed
from cxlib.report import atomic_write_text, render

#: The notebooks of a run, in the order of the report.
NOTEBOOKS = ("01_overview.ipynb", "02_churn.ipynb", "03_roi.ipynb", "04_risk.ipynb")
#: Parameters the runner sets itself.
RUNNER_PARAMETERS = ("data",)


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
        for name, info in pm.inspect_notebook(str(nb)).items():
            entry = found.setdefault(
                name, {"default": info["default"], "type": info["inferred_type_name"], "notebooks": []}
            )
            entry["notebooks"].append(Path(nb).name)
    return found


def _coerce(name: str, value, type_name: str):
    """Values from the command line arrive as text: give them the declared type."""
    if not isinstance(value, str) or type_name in ("str", "None"):
        return value
    try:
        if type_name == "int":
            return int(value)
        if type_name == "float":
            return float(value)
        if type_name == "bool":
            word = value.strip().lower()
            if word in ("true", "1", "yes"):
                return True
            if word in ("false", "0", "no"):
                return False
            raise ValueError(value)
    except ValueError:
        raise ValueError(f"parameter {name!r} must be {type_name}, got {value!r}") from None
    return value


def resolve_parameters(notebooks, *, params_file=None, overrides=None) -> dict:
    """Parameters from a YAML file, overridden by ``overrides``; unknown names are an error."""
    declared = declared_parameters(notebooks)
    chosen: dict = {}
    if params_file is not None:
        loaded = yaml.safe_load(Path(params_file).read_text(encoding="utf-8")) or {}
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


# ---------------------------------------------------------------------------------------
# The demo data set


def ensure_demo(path: Path = DEMO_DIR) -> Path:
    """Generate the demo data set if it is not there (it is never committed)."""
    path = Path(path)
    if not (path / "truth.json").exists():
        from cxlib.simulate import write_dataset

        write_dataset(path, DEMO_CUSTOMERS, seed=DEMO_SEED, fmt="csv")
    return path


# ---------------------------------------------------------------------------------------
# Runs


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _write_record(run_dir: Path, record: dict) -> None:
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")


def _fingerprint(data_path: Path) -> dict:
    with cxlib.load(data_path) as data:
        return data.fingerprint()


def run(
    data=None,
    *,
    params_file=None,
    overrides=None,
    out=REPORTS_DIR,
    notebooks=None,
    kernel_name: str | None = None,
    progress: bool = False,
) -> RunResult:
    """Execute the notebooks on ``data`` and render the report.

    Raises :class:`NotebookFailed` (after recording the failure) when a notebook raises.
    """
    started = time.monotonic()
    out = Path(out).resolve()
    sources = [Path(nb) for nb in (notebooks or [NOTEBOOKS_DIR / name for name in NOTEBOOKS])]
    params = resolve_parameters(sources, params_file=params_file, overrides=overrides)
    data_path = Path(data).resolve() if data else ensure_demo().resolve()
    params["data"] = str(data_path)

    run_id = new_run_id()
    run_dir = out / run_id
    (run_dir / "notebooks").mkdir(parents=True)
    record = {
        "run_id": run_id,
        "status": "running",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cxlib_version": cxlib.__version__,
        "parameters": params,
        "notebooks": [],
    }
    _write_record(run_dir, record)
    result = RunResult(run_id, run_dir, "running", record=record)
    try:
        t0 = time.monotonic()
        record["data"] = _fingerprint(data_path)
        record["timings"] = {"fingerprint_seconds": round(time.monotonic() - t0, 2)}
        executed = []
        for source in sources:
            target = run_dir / "notebooks" / source.name
            t0 = time.monotonic()
            own = {k: v for k, v in params.items() if k in pm.inspect_notebook(str(source))}
            try:
                pm.execute_notebook(
                    str(source),
                    str(target),
                    parameters=own,
                    kernel_name=kernel_name,
                    progress_bar=progress,
                    cwd=str(run_dir),
                )
            except pm.PapermillExecutionError as exc:
                raise NotebookFailed(
                    source.name, cell=exc.exec_count, error=f"{exc.ename}: {exc.evalue}", executed=target
                ) from exc
            finally:
                record["notebooks"].append(
                    {"notebook": source.name, "seconds": round(time.monotonic() - t0, 2), "output": str(target)}
                )
            executed.append(target)
        t0 = time.monotonic()
        report = render(
            executed,
            run_dir / "report.html",
            title="What bad experiences cost: service against experience",
            subtitle=f"cxlab report · data: {data_path.name} · run {run_id}",
            footer=_footer(record),
        )
        record["timings"]["render_seconds"] = round(time.monotonic() - t0, 2)
        result.report = report
        result.status = record["status"] = "ok"
    except BaseException as exc:
        result.status = record["status"] = "failed"
        if isinstance(exc, NotebookFailed):
            result.error = {"notebook": exc.notebook, "cell": exc.cell, "error": exc.error, "executed": exc.executed}
        else:
            result.error = {"error": f"{type(exc).__name__}: {exc}"}
        record["error"] = result.error
        raise
    finally:
        record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record["seconds"] = round(time.monotonic() - started, 2)
        _write_record(run_dir, record)
        if record["status"] == "ok":
            _publish_latest(out, result.report)
        write_index(out)
    return result


def _footer(record: dict) -> list[tuple[str, str]]:
    fp = record.get("data", {})
    params = ", ".join(f"{k}={v}" for k, v in sorted(record["parameters"].items()))
    return [
        ("Run", record["run_id"]),
        ("Started", record["started_at"]),
        ("cxlib", record["cxlib_version"]),
        ("Parameters", params),
        (
            "Data",
            f"{fp.get('customers', 0):,} customers, {fp.get('interactions', 0):,} interactions, "
            f"{fp.get('rejected', 0):,} rejected rows; {fp.get('first')} to {fp.get('last')}",
        ),
        ("Data fingerprint", str(fp.get("sha256"))),
    ]


def _publish_latest(out: Path, report: Path) -> None:
    """Copy the good report to latest.html through a temporary file and a rename."""
    tmp = out / ".latest.html.tmp"
    shutil.copyfile(report, tmp)
    tmp.replace(out / "latest.html")


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
    """reports/index.html: every run with its status, linked to its report or failed notebook."""
    out = Path(out)
    rows = []
    for r in list_runs(out):
        run_id = html.escape(str(r.get("run_id", "")))
        status = html.escape(str(r.get("status", "")))
        if r.get("status") == "ok":
            link = f'<a href="{run_id}/report.html">report</a>'
        elif r.get("error", {}).get("notebook"):
            nb = html.escape(r["error"]["notebook"])
            link = f'<a href="{run_id}/notebooks/{nb}">{nb}</a>: {html.escape(str(r["error"].get("error", "")))}'
        else:
            link = html.escape(str(r.get("error", {}).get("error", "")))
        rows.append(
            f'<tr class="status-{status}"><td>{run_id}</td><td>{html.escape(str(r.get("started_at", "")))}</td>'
            f"<td>{status}</td><td>{html.escape(str(r.get('seconds', '')))}</td><td>{link}</td></tr>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>cxlab runs</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}}
.status-failed td:nth-child(3){{color:#b00020;font-weight:600}}.status-ok td:nth-child(3){{color:#1a7f37}}</style>
</head><body><h1>cxlab runs</h1><p><a href="latest.html">Latest good report</a></p>
<table><thead><tr><th>Run</th><th>Started (UTC)</th><th>Status</th><th>Seconds</th><th>Output</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table></body></html>
"""
    return atomic_write_text(out / "index.html", page)
