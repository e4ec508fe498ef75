"""Benchmark: one move of a what-if slider in 03_roi at 100,000 customers (target: under a second).

    python benchmarks/bench_widgets.py [--customers 100000] [--draws 20]

Loads simulated Parquet (generated once, reused from benchmarks/out/), fits the churn model
and prepares the ROI engine once (:func:`cxlib.analyses.roi.prepare`, with that model), as the notebook does; then
times what the panel does when one lever moves: :meth:`cxlib.present.whatif.WhatIf.table` after
a touchpoint's bad-rate cut, the resolution target and a yearly cost change (the median of
``--repeats`` moves to new values, each a value not seen before). The table goes to
benchmarks/results/widgets.md. The model is ``ChurnModel()``, adjusted for engagement: the
engine then runs on its engagement classes (issue 13), which is what a move costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dataset, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import cxlib
    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel
    from cxlib.present import whatif

    data = cxlib.load(dataset(args.customers, "parquet"))
    start = time.perf_counter()
    model = ChurnModel().fit(data)  # the notebook's model, fitted once (02_churn keeps it for 03_roi)
    prepared = roi.prepare(data, model=model, draws=args.draws)
    panel = whatif.WhatIf(prepared)
    panel.table()  # the default view, shown when the notebook runs
    setup = time.perf_counter() - start
    tp = panel.touchpoints[0]
    moves = {
        f"bad-rate cut of {tp}": [(whatif.cut_control(tp), 0.1 + 0.1 * i) for i in range(args.repeats)],
        "resolution target": [(whatif.RESOLUTION, 0.80 + 0.02 * i) for i in range(args.repeats)],
        "yearly cost": [(whatif.cost_control(whatif.SERVICE), 1000.0 * (i + 1)) for i in range(args.repeats)],
    }
    rows = []
    for what, values in moves.items():
        times, cpu = [], []
        for key, value in values:
            t0, c0 = time.perf_counter(), time.process_time()
            panel.table(**{key: value})
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        rows.append([f"{args.customers:,}", args.draws, what, f"{statistics.median(times):.2f}", f"{max(times):.2f}",
                     f"{statistics.median(cpu):.2f}"])
    write_section(
        "widgets", "What-if controls (one slider move in 03_roi)",
        f"python benchmarks/bench_widgets.py --customers {args.customers} --draws {args.draws}",
        ["customers", "draws", "lever moved", "median seconds", "slowest seconds", "median CPU seconds"], rows,
        notes=f"Preparing once (measured rates, churn model fit, draws, default view): {setup:.1f} s. A move "
              "re-runs only the scenario whose lever moved, on every draw; a cost moves no run at all. "
              "The machine was shared with other developers' work while this ran (load average "
              f"{os.getloadavg()[0]:.0f} on {os.cpu_count()} cores at the end): wall seconds are several times an idle "
              "machine's; CPU seconds are this process's own.",
    )


if __name__ == "__main__":
    main()
