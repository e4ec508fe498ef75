"""Benchmark: `make report` on the demo data (budget: 3 minutes on 2 cores), on DuckDB and on Spark.

    python benchmarks/bench_report.py [--customers 10000] [--seed 42] [--engines duckdb spark]
    python benchmarks/bench_report.py --before SRC   # cx run before/after on DuckDB (issue 16)

Does what `make report` does on a fresh machine, each step in its own process: generate the
demo data set (``cx simulate --customers 10000 --seed 42``) into a temporary folder, then
``cx run --data DIR --out TMP -p engine=E`` for each engine. Reports the wall time and the
peak memory of each command, and, from the run's ``run.json``, the seconds of each notebook,
of the data fingerprint and of the rendering. Peak memory is the highest summed resident
memory of the command **and all its descendants** (the kernels, and on Spark the JVM each
kernel starts), sampled every 50 ms. Figures are written, never asserted.

With ``--before SRC`` (a source tree of an earlier cxlib: ``git archive REV | tar -x -C SRC``)
it runs ``cx run`` on DuckDB twice on the same demo data, back to back, once with that code
(``PYTHONPATH=SRC``) and once with this one, and writes benchmarks/results/report_before_after.md:
each notebook's seconds, the load average beside each run (the machine may be shared) and the
slowest cells of 01_overview and 02_churn (papermill's per-cell durations in the executed notebooks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, PeakRSS, write_section  # noqa: E402

#: The budget of `make report` on 2 cores, in seconds (issue #7).
BUDGET_SECONDS = 180
ENGINES = ("duckdb", "spark")


def timed(argv: list[str], env=None) -> tuple[float, float]:
    """(seconds, peak MB of the process tree) of one command, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    with PeakRSS(proc.pid) as tree:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start, tree.peak


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--before", default=None, help="source tree of an earlier cxlib: cx run before/after (DuckDB)")
    args = parser.parse_args(argv)
    if args.before:
        return before_after(args)

    work = Path(tempfile.mkdtemp(prefix="cx-bench-report-"))
    cx = [PYTHON, "-m", "cxlib.run.cli"]
    runs = {}
    try:
        data = work / "demo"
        sim = timed([*cx, "simulate", "--customers", str(args.customers), "--seed", str(args.seed), "--out", str(data)])
        for engine in args.engines:
            reports = work / f"reports-{engine}"
            seconds, peak = timed([*cx, "run", "--data", str(data), "--out", str(reports), "-p", f"engine={engine}"])
            record = json.loads(next(reports.glob("*/run.json")).read_text())
            runs[engine] = (seconds, peak, record, (reports / "latest.html").stat().st_size / 1024)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = f"{args.customers:,}"
    engines = list(runs)

    def cells(pick):
        return [pick(engine) for engine in engines]

    rows = [[f"cx simulate (demo data, seed {args.seed})", n, *[f"{sim[0]:.1f}", f"{sim[1]:,.0f}"] * len(engines)]]
    rows.append(["cx run: total (load, notebooks, report)", n,
                 *sum(([f"{runs[e][0]:.1f}", f"{runs[e][1]:,.0f}"] for e in engines), [])])
    rows.append(["· data fingerprint", n,
                 *sum(([f"{runs[e][2]['timings']['fingerprint_seconds']:.1f}", ""] for e in engines), [])])
    for i, nb in enumerate(runs[engines[0]][2]["notebooks"]):
        rows.append([f"· {nb['notebook']}", n,
                     *sum(([f"{runs[e][2]['notebooks'][i]['seconds']:.1f}", ""] for e in engines), [])])
    rows.append(["· render the HTML report", n,
                 *sum(([f"{runs[e][2]['timings']['render_seconds']:.1f}", ""] for e in engines), [])])
    rows.append(["make report (simulate + run)", n,
                 *sum(([f"{sim[0] + runs[e][0]:.1f}", f"{max(sim[1], runs[e][1]):,.0f}"] for e in engines), [])])
    header = ["step", "customers", *sum(([f"{e} s", f"{e} peak MB"] for e in engines), [])]

    notes = []
    if "duckdb" in runs:
        total = sim[0] + runs["duckdb"][0]
        within = "within" if total < BUDGET_SECONDS else "OVER"
        notes.append(f"`make report` (DuckDB, the default) took {total:.0f} s: {within} the budget of "
                     f"{BUDGET_SECONDS} s on 2 cores. The report is {runs['duckdb'][3]:,.0f} KB (figures embedded).")
    if "spark" in runs:
        notes.append(
            f"`cx run -p engine=spark` ran every notebook on Spark `local[2]` (each kernel starts its own session) "
            f"and the runner fingerprinted the data on Spark: {runs['spark'][0]:.0f} s"
            + (f", {runs['spark'][0] / runs['duckdb'][0]:.1f}× DuckDB's time" if "duckdb" in runs else "")
            + ". The demo data is CSV, read by Spark as text and typed by cxlib's normalisation."
        )
    notes.append("Rows marked · come from the run's run.json; each notebook's time includes starting its kernel. "
                 "Peak MB sums the command and all its descendants (kernels, JVMs).")
    command = "python benchmarks/bench_report.py" + ("" if engines == list(ENGINES) else " --engines " + " ".join(engines))
    write_section("report", "make report on the demo data, DuckDB and Spark", command, header, rows, " ".join(notes))
    return 0


#: The notebooks whose slowest cells the before/after lists.
CELLS_OF = ("01_overview.ipynb", "02_churn.ipynb")


def slowest_cells(notebook: Path, n: int = 6) -> list[tuple[str, float]]:
    """(first line of the cell, seconds) of the ``n`` slowest code cells, from papermill's metadata."""
    cells = json.loads(notebook.read_text())["cells"]
    timed_cells = [("".join(c["source"]).splitlines()[0][:60], c["metadata"].get("papermill", {}).get("duration") or 0.0)
                   for c in cells if c["cell_type"] == "code" and c["source"]]
    return sorted(timed_cells, key=lambda t: -t[1])[:n]


def before_after(args) -> int:
    """cx run on the demo data with the code of ``args.before``, then with this code; one section."""
    work = Path(tempfile.mkdtemp(prefix="cx-bench-report-"))
    cx = [PYTHON, "-m", "cxlib.run.cli"]
    runs = {}
    try:
        data = work / "demo"
        timed([*cx, "simulate", "--preset", "demo", "--customers", str(args.customers), "--seed", str(args.seed),
               "--out", str(data)])
        for label, src in (("before", args.before), ("after", None)):
            env = None
            if src:
                env = dict(os.environ)
                env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(src).resolve()), env.get("PYTHONPATH")) if p)
            reports = work / f"reports-{label}"
            load_start = os.getloadavg()[0]
            print(f"cx run ({label}) ...", file=sys.stderr, flush=True)
            seconds, peak = timed([*cx, "run", "--data", str(data), "--out", str(reports)], env=env)
            run_dir = next(reports.glob("*/run.json")).parent
            record = json.loads((run_dir / "run.json").read_text())
            cells = {nb: slowest_cells(run_dir / "notebooks" / nb) for nb in CELLS_OF}
            runs[label] = {"seconds": seconds, "peak": peak, "record": record, "cells": cells,
                           "load": (load_start, os.getloadavg()[0])}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    b, a = runs["before"], runs["after"]
    per = {label: {n["notebook"]: n["seconds"] for n in r["record"]["notebooks"]} for label, r in runs.items()}
    rows = [["cx run: total", f"{b['seconds']:.1f}", f"{a['seconds']:.1f}"],
            ["· data fingerprint", f"{b['record']['timings']['fingerprint_seconds']:.1f}",
             f"{a['record']['timings']['fingerprint_seconds']:.1f}"]]
    rows += [[f"· {nb}", f"{per['before'][nb]:.1f}", f"{per['after'][nb]:.1f}"] for nb in per["after"]]
    rows += [["· render the HTML report", f"{b['record']['timings']['render_seconds']:.1f}",
              f"{a['record']['timings']['render_seconds']:.1f}"],
             ["peak MB (process tree)", f"{b['peak']:,.0f}", f"{a['peak']:,.0f}"],
             ["load average (1 min) at start → end", "{:.1f} → {:.1f}".format(*b["load"]), "{:.1f} → {:.1f}".format(*a["load"])]]
    cell_lines = []
    for nb in CELLS_OF:
        for label in ("before", "after"):
            cell_lines.append(f"- {nb} {label}: " + "; ".join(f"`{src}` {sec:.1f} s" for src, sec in runs[label]["cells"][nb]))
    notes = (f"`cx run --data DIR` on the demo data ({args.customers:,} customers, seed {args.seed}, CSV), DuckDB, "
             "first with the earlier code (`--before`), then with this code, one after the other. Each notebook's "
             "seconds include starting its kernel and loading the data. The machine is shared: read the load "
             "average beside each run (2 = both cores busy) before comparing with a quiet figure.\n\n"
             "The slowest cells (papermill's durations in the executed notebooks):\n\n" + "\n".join(cell_lines))
    write_section("report_before_after", f"cx run before and after (issue 16), {args.customers:,} customers",
                  f"python benchmarks/bench_report.py --customers {args.customers} --seed {args.seed} --before SRC",
                  ["step", "before s", "after s"], rows, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
