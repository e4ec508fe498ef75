"""A run's records: its id and folder, ``run.json``, the lock, ``latest.html`` and ``index.html``.

A run records its process id and host. A run still marked ``running`` whose process is gone
(``kill -9``, a machine that stopped) is marked ``died`` by the next run or index render,
with the last notebook it reached. Runs into the same folder keep their own run folders
(an id taken with an exclusive ``mkdir``) and take a lock (``<out>/.lock``) to publish
``latest.html`` and ``index.html``, so two runs at once cannot write a stale index.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import shutil
import socket
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from cxlib.run.report import atomic_write_text


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def process_start(pid: int):
    """When process ``pid`` started (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_gone(record: dict) -> bool:
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
    return started is not None and process_start(pid) not in (None, started)


def mark_died(out: Path) -> None:
    """Mark runs whose process is gone as ``died``, with the last notebook they reached."""
    for path in Path(out).glob("*/run.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("status") != "running" or not process_gone(record):
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
        write_record(path.parent, record)


@contextmanager
def locked(out: Path):
    """An exclusive lock on ``<out>/.lock`` while a run publishes (released when the process dies)."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    with open(out / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def new_run_dir(out: Path) -> tuple[str, Path]:
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


def write_record(run_dir: Path, record: dict) -> None:
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=2, default=str) + "\n")


def publish_latest(out: Path, report: Path) -> None:
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
    with locked(out):
        return render_index(out)


def render_index(out: Path) -> Path:
    """Write index.html (the caller holds the lock: :func:`write_index` takes it)."""
    mark_died(out)
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
