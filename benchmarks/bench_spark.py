"""Benchmark: the same panel and metrics queries on DuckDB and on Spark local, at 100,000 and 1,000,000 customers.

    python benchmarks/bench_spark.py [--customers 100000 1000000] [--master local[2]]

Each (size, engine) runs in its own process on the simulator's Parquet files (generated
once, reused from benchmarks/out/): open the data (DuckDB: ``cxlib.load``, which reads and
validates; Spark: ``cxlib.data.spark.open_spark``, which only reads the schemas), then

- **panel + fit**: ``ChurnModel().fit(data)``: the aggregated panel (one GROUP BY over the
  customer-interval panel in the engine) and the Poisson fit on the small table;
- **metrics**: ``metrics.bad_rate(by=("touchpoint", "channel"))`` and
  ``metrics.contact_causes()`` (a group-by, and a join of contacts with bad experiences).

Memory: Spark's work happens in a JVM that pyspark starts as a *child* of the Python
process, so ``os.wait4`` on the benchmark's child (which sees only that process and the
children it waited for) would miss it. Peak memory is the highest **sum of the resident
memory of the whole process tree** (the Python process and every descendant: the JVM),
sampled every 50 ms with psutil, per step and over the run. Spark is not expected to win
on one machine: the figures show what the distributed path costs where DuckDB suffices.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, RESULTS_DIR, PeakRSS, dataset, write_section  # noqa: E402

SPARK_CONF = {"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8"}


def child(engine: str, path: str, master: str) -> None:
    """Open the data with ``engine``, time each step; print one JSON line of (step, seconds, peak MB)."""
    import warnings

    import cxlib
    from cxlib.features import metrics
    from cxlib.models.churn import ChurnModel

    warnings.simplefilter("ignore")
    rows = []
    with PeakRSS() as mem:
        start = time.perf_counter()
        if engine == "duckdb":
            data = cxlib.load(path)
        else:
            from cxlib.data.spark import open_spark

            data = open_spark(path, master=master, conf=SPARK_CONF)
            data.spark.sparkContext.setLogLevel("ERROR")
        as_of = data.as_of  # one scan on both engines
        rows.append(("open" + (" (load + validate)" if engine == "duckdb" else " (session + schemas + as_of)"),
                     time.perf_counter() - start, mem.peak))
    with PeakRSS() as mem:
        start = time.perf_counter()
        model = ChurnModel().fit(data, as_of=as_of)
        rows.append(("panel aggregation + fit", time.perf_counter() - start, mem.peak))
    assert model.n_events_ > 0
    with PeakRSS() as mem:
        start = time.perf_counter()
        assert len(metrics.bad_rate(data, by=("touchpoint", "channel"))) > 0
        assert len(metrics.contact_causes(data)) > 0
        rows.append(("metrics: bad rate × channel, contact causes", time.perf_counter() - start, mem.peak))
    print(json.dumps({"rows": rows, "events": int(model.n_events_),
                      "hr_unresolved": float(model.hazard_ratios_["unresolved"])}))


def run(engine: str, customers: int, master: str) -> tuple[dict, float]:
    """One (engine, size) in a fresh process; its steps and the peak MB of its process tree."""
    import subprocess

    path = dataset(customers, "parquet")
    proc = subprocess.Popen(
        [PYTHON, __file__, "--child", engine, str(path), "--master", master],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out_err: dict = {}
    reader = threading.Thread(target=lambda: out_err.update(out=proc.stdout.read(), err=proc.stderr.read()))
    reader.start()
    with PeakRSS(proc.pid) as tree:
        while proc.poll() is None:
            tree.sample()
            time.sleep(0.05)
    reader.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} at {customers:,} customers failed:\n{out_err['err'].decode()[-3000:]}")
    return json.loads(out_err["out"].decode().strip().splitlines()[-1]), tree.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.master)
        return
    table = []
    for customers in args.customers:
        path = dataset(customers, "parquet")
        interactions = json.loads((path / "truth.json").read_text())["realised"]["interactions_total"]
        results = {}
        for engine in ("duckdb", "spark"):
            print(f"{engine} at {customers:,} customers ...", flush=True)
            results[engine] = run(engine, customers, args.master)
        (d, d_peak), (s, s_peak) = results["duckdb"], results["spark"]
        assert d["events"] == s["events"], "the engines disagree on the number of churn events"
        for (step, d_sec, d_mem), (_, s_sec, s_mem) in zip(d["rows"], s["rows"]):
            table.append([f"{customers:,}", f"{interactions:,}", step, f"{d_sec:.1f}", f"{d_mem:,.0f}",
                          f"{s_sec:.1f}", f"{s_mem:,.0f}", f"{s_sec / d_sec:.1f}×" if d_sec > 0 else "–"])
        d_total = sum(r[1] for r in d["rows"][1:])
        s_total = sum(r[1] for r in s["rows"][1:])
        table.append([f"{customers:,}", f"{interactions:,}", "**panel + fit + metrics (without open)**",
                      f"{d_total:.1f}", f"{d_peak:,.0f}", f"{s_total:.1f}", f"{s_peak:,.0f}", f"{s_total / d_total:.1f}×"])
        print(table[-1], flush=True)
    notes = (
        f"Spark: `{args.master}`, {', '.join(f'{k}={v}' for k, v in SPARK_CONF.items())}, UI off, time zone UTC; "
        "DuckDB: in process, memory limit 3GB. Both read the same simulated Parquet files, and both give the same "
        "churn events and hazard ratios (checked here on the event count; tests/data/test_spark.py checks every table). "
        "Peak MB is the highest sum of the resident memory of the benchmark's process **and all its descendants** "
        "(the JVM that pyspark starts is a child of the Python process, which `os.wait4` would not see), sampled "
        "every 50 ms with psutil; per step inside the run, and over the whole run (open included) on the total line. "
        "The DuckDB open row includes reading and validating every row into DuckDB's tables; the Spark open row "
        "is starting the session and reading the Parquet schemas, with the queries reading the files each time."
    )
    write_section(
        "spark",
        "DuckDB against Spark local: panel aggregation + fit, and metrics queries",
        f"python benchmarks/bench_spark.py --customers {' '.join(map(str, args.customers))} --master {args.master}",
        ["customers", "interactions", "step", "DuckDB s", "DuckDB peak MB", "Spark s", "Spark peak MB (tree)",
         "Spark / DuckDB time"],
        table,
        notes,
    )
    print(RESULTS_DIR / "spark.md")


if __name__ == "__main__":
    main()
