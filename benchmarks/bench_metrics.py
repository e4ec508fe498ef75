"""Benchmark: the metrics step (cxlib.features.metrics) on simulated Parquet at 100,000 and 1,000,000 customers.

    python benchmarks/bench_metrics.py [--customers 100000 1000000] [--only journey_transitions churn_paths]
                                       [--out benchmarks/results/metrics.md]

Each size runs in its own process (the data set is generated once with the simulator and
reused from benchmarks/out/): ``cxlib.load``, then every metrics function of the overview
notebook, timed one by one. Peak memory per step is the highest resident memory of the
process sampled every 10 ms during the step (DuckDB runs in the process, so it counts);
the process's overall peak comes from ``os.wait4``. CPU seconds (user + system of the
process during the step) say how much work a step did whatever else a shared machine runs.
``--only`` times the named functions alone. The table is printed and written to ``--out``
(replaced when it exists).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, RESULTS_DIR, PeakRSS, dataset, machine  # noqa: E402

#: (step name, function name, keyword arguments): what the overview notebook computes.
STEPS = [
    ("csat by channel", "csat", {"by": "channel"}),
    ("csat by month", "csat", {"by": "month"}),
    ("nps by channel", "nps", {"by": "channel"}),
    ("first response by channel", "first_response", {"by": "channel"}),
    ("resolution rate by channel", "resolution_rate", {"by": "channel"}),
    ("contact rate by month", "contact_rate", {"by": "month"}),
    ("service metrics by month", "service_metrics", {"by": "month"}),
    ("service metrics by channel", "service_metrics", {"by": "channel"}),
    ("bad rate touchpoint × channel", "bad_rate", {"by": ("touchpoint", "channel")}),
    ("outcome mix by touchpoint", "outcome_mix", {"by": "touchpoint"}),
    ("contact causes", "contact_causes", {}),
    ("bad-experience follow-up", "bad_experience_follow_up", {"by": "touchpoint"}),
    ("channel consistency", "channel_consistency", {}),
    ("journey transitions", "journey_transitions", {}),
    ("churn paths", "churn_paths", {"steps": 3}),
]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(path: str, only: list[str] | None = None, memory_limit: str = "2GB") -> None:
    """Load (with DuckDB's ``memory_limit``), run every step (or those of ``only``), print one JSON
    line of (step, seconds, CPU seconds, peak MB)."""
    import cxlib
    from cxlib.features import metrics

    rows = []
    with PeakRSS(interval=0.01) as mem:
        start, cpu = time.perf_counter(), _cpu()
        data = cxlib.load(path, memory_limit=memory_limit)
        rows.append(("load (cxlib.load, not in the total)", time.perf_counter() - start, _cpu() - cpu, mem.peak))
    total = total_cpu = 0.0
    with PeakRSS(interval=0.01) as overall:
        for name, function, kwargs in STEPS:
            if only and function not in only:
                continue
            with PeakRSS(interval=0.01) as mem:
                start, cpu = time.perf_counter(), _cpu()
                frame = getattr(metrics, function)(data, **kwargs)
                seconds, cpu = time.perf_counter() - start, _cpu() - cpu
            assert len(frame) > 0, name
            total += seconds
            total_cpu += cpu
            rows.append((name, seconds, cpu, mem.peak))
    rows.append(("total of the metrics steps", total, total_cpu, overall.peak))
    data.close()
    print(json.dumps(rows))


def run(customers: int, only: list[str] | None = None, memory_limit: str = "2GB") -> tuple[list, float, int]:
    """One size in a fresh process: its rows, the process's peak MB (wait4), interactions."""
    import subprocess

    path = dataset(customers, "parquet")
    interactions = json.loads((path / "truth.json").read_text())["realised"]["interactions_total"]
    argv = [PYTHON, __file__, "--child", str(path), "--memory-limit", memory_limit, *(["--only", *only] if only else [])]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"metrics benchmark at {customers:,} customers failed:\n{err.decode()[-3000:]}")
    return json.loads(out.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024, interactions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "metrics.md")
    parser.add_argument("--only", nargs="+", help="metrics functions to time (default: every step)")
    parser.add_argument("--memory-limit", default="2GB", help="DuckDB memory limit of the load (default 2GB, cxlib.load's)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.only, args.memory_limit)
        return
    table = ["| step | customers | seconds | CPU seconds | peak MB | load average (1 min) before → after |",
             "|---|---|---|---|---|---|"]
    processes = []
    for n in args.customers:
        load_before = os.getloadavg()[0]
        rows, process_peak, interactions = run(n, args.only, args.memory_limit)
        load = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
        for name, seconds, cpu, peak in rows:
            table.append(f"| {name} | {n:,} | {seconds:.2f} | {cpu:.2f} | {peak:,.0f} | {load} |")
        processes.append(f"- {n:,} customers ({interactions:,} interactions): peak RSS of the whole process "
                         f"{process_peak:,.0f} MB (wait4)")
        print(table[-1], flush=True)
    lines = [
        "## Metrics step (cxlib.features.metrics)",
        "",
        f"- machine: {machine()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC",
        f"- command: `python benchmarks/bench_metrics.py {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        *table,
        "",
        *processes,
        "",
        f"Simulated Parquet, loaded with `cxlib.load` (DuckDB memory limit {args.memory_limit}; 2GB is the default). Each metrics "
        "function timed alone on the loaded data set; peak MB is the highest RSS of the process sampled "
        "during the step (it includes the loaded DuckDB database and Python).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
