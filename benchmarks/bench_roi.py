"""Benchmark: ``cx roi`` end to end at 100,000 customers (load, churn model, ROI draws), and where its time goes.

    python benchmarks/bench_roi.py [--customers 100000] [--draws 200] [--process-draws 100]

Each case runs ``cx roi PATH --json`` in its own process (wall time, CPU time and peak memory
from ``os.wait4``), on simulated Parquet generated once and reused from benchmarks/out/.
Then, in a second process, the steps one by one (``--phases``): loading, fitting the churn
model, :func:`cxlib.analyses.roi.prepare` (the queries, the engine's structure, the draws),
the closed form on every draw and scenario (``evaluate_prepared`` with ``process_draws=0``)
and the Monte Carlo of realised futures (the same again with futures: the closed-form runs
are kept, so only the futures are new). CPU seconds are reported beside wall seconds because
the machine is shared: the wall time of one process depends on what else runs, its CPU time
much less. The tables go to benchmarks/results/roi.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, dataset, write_section  # noqa: E402


def _child(argv: list[str]) -> tuple[float, float, float, str]:
    """Run ``argv``; return (wall seconds, CPU seconds user + system, peak RSS MB, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{err.decode(errors='replace')[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.decode()


def phases(path: str, draws: int, process_draws: int) -> dict:
    """The steps of cx roi one by one in this process: {step: (wall s, CPU s)}, and the settings."""
    import warnings

    import cxlib
    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel

    warnings.simplefilter("ignore")
    out, clock = {}, (time.perf_counter(), time.process_time())

    def lap(name):
        nonlocal clock
        now = (time.perf_counter(), time.process_time())
        out[name] = (now[0] - clock[0], now[1] - clock[1])
        clock = now

    data = cxlib.load(path)
    lap("load")
    model = ChurnModel().fit(data)
    lap("fit the churn model")
    prepared = roi.prepare(data, model=model, draws=draws)
    lap("prepare (queries, engine, draws)")
    roi.evaluate_prepared(prepared, None, process_draws=0)
    lap("closed form on every draw and scenario")
    result = roi.evaluate_prepared(prepared, None, process_draws=process_draws)
    lap("realised futures")
    s = result.settings
    return {"steps": out, "runs": len(prepared._runs), "histories": s.get("known_histories"),
            "futures": s.get("process_futures", s.get("process_draws_used", 0) * (s.get("known_histories") or 0)),
            "segments": getattr(prepared.engine, "n_segments", None), "customers": prepared.engine.n_customers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--draws", type=int, nargs="+", default=[200])
    parser.add_argument("--process-draws", type=int, default=100)
    parser.add_argument("--phases", nargs=3, metavar=("PATH", "DRAWS", "PROCESS_DRAWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases:
        print(json.dumps(phases(args.phases[0], int(args.phases[1]), int(args.phases[2]))))
        return
    rows, steps = [], []
    for n in args.customers:
        path = dataset(n, "parquet")
        for draws in args.draws:
            argv = [PYTHON, "-m", "cxlib.run.cli", "roi", str(path), "--json", "--draws", str(draws),
                    "--process-draws", str(args.process_draws)]
            wall, cpu, peak_mb, _ = _child(argv)
            rows.append([f"{n:,}", draws, args.process_draws, f"{wall:.1f}", f"{cpu:.1f}", f"{peak_mb:,.0f}"])
            _, _, _, text = _child([PYTHON, __file__, "--phases", str(path), str(draws), str(args.process_draws)])
            info = json.loads(text.strip().splitlines()[-1])
            for step, (w, c) in info["steps"].items():
                steps.append(f"| {n:,} | {draws} | {step} | {w:.1f} | {c:.1f} |")
            steps.append(f"\nEngine runs (draws × distinct scenario inputs): {info['runs']:,}; segments of constant "
                         f"state: {info['segments']}; known histories: {info['histories']:,}; futures drawn: "
                         f"{info['futures']:,}; active customers: {info['customers']:,}.\n")
    write_section(
        "roi", "cx roi (ROI of service against experience)",
        f"python benchmarks/bench_roi.py --customers {' '.join(map(str, args.customers))} --draws "
        f"{' '.join(map(str, args.draws))} --process-draws {args.process_draws}",
        ["customers", "draws", "process draws", "wall seconds", "CPU seconds", "peak MB"], rows,
        notes="Default scenario file (4 scenarios, one not estimable on simulated data). Time includes loading "
              "the Parquet files, fitting the churn model and every draw. Where the time goes, step by step in "
              "one process:\n\n| customers | draws | step | wall seconds | CPU seconds |\n|---|---|---|---|---|\n"
              + "\n".join(steps)
              + f"\nThe machine was shared with other developers' work while this ran (load average "
                f"{os.getloadavg()[0]:.0f} on {os.cpu_count()} cores at the end): wall seconds are several times an idle "
                "machine's; CPU seconds are the process's own (DuckDB's threads included).",
    )


if __name__ == "__main__":
    main()
