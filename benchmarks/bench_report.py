"""Benchmark: `make report` on the demo data, which must take less than 3 minutes on 2 cores.

    python benchmarks/bench_report.py [--customers 10000] [--seed 42] [--out benchmarks/results/report.md]

Does what `make report` does on a fresh machine, each step in its own process: generate the
demo data set (``cx simulate --customers 10000 --seed 42``) into a temporary folder, then
``cx run --data DIR --out TMP``. Reports the wall time and peak memory of each command
(``os.wait4``: the peak of the largest process, the runner or one of its kernels) and, from
the run's ``run.json``, the seconds of each notebook, of the data fingerprint and of the
rendering. Figures are written, never asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, RESULTS_DIR, measure, write_section  # noqa: E402

#: The budget of `make report` on 2 cores, in seconds (issue #7).
BUDGET_SECONDS = 180


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "report.md")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="cx-bench-report-"))
    try:
        data, reports = work / "demo", work / "reports"
        cx = [PYTHON, "-m", "cxlib.cli"]
        sim_s, sim_mb, _ = measure(
            [*cx, "simulate", "--customers", str(args.customers), "--seed", str(args.seed), "--out", str(data)]
        )
        run_s, run_mb, _ = measure([*cx, "run", "--data", str(data), "--out", str(reports)])
        record = json.loads(next(reports.glob("*/run.json")).read_text())
        size_kb = (reports / "latest.html").stat().st_size / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = f"{args.customers:,}"
    rows = [
        [f"cx simulate (demo data, seed {args.seed})", n, f"{sim_s:.1f}", f"{sim_mb:,.0f}"],
        ["cx run: total (load, notebooks, report)", n, f"{run_s:.1f}", f"{run_mb:,.0f}"],
        ["· data fingerprint", n, f"{record['timings']['fingerprint_seconds']:.1f}", ""],
    ]
    rows += [[f"· {nb['notebook']}", n, f"{nb['seconds']:.1f}", ""] for nb in record["notebooks"]]
    rows += [
        ["· render the HTML report", n, f"{record['timings']['render_seconds']:.1f}", ""],
        ["make report (simulate + run)", n, f"{sim_s + run_s:.1f}", f"{max(sim_mb, run_mb):,.0f}"],
    ]
    within = "within" if sim_s + run_s < BUDGET_SECONDS else "OVER"
    notes = (
        f"`make report` took {sim_s + run_s:.0f} s: {within} the budget of {BUDGET_SECONDS} s on 2 cores. "
        f"The report is {size_kb:,.0f} KB (figures embedded). Rows marked · come from the run's run.json; each "
        "notebook's time includes starting its kernel. Peak MB is that of the largest single process."
    )
    write_section("report", "make report on the demo data", "python benchmarks/bench_report.py",
                  ["step", "customers", "seconds", "peak MB"], rows, notes)
    if args.out != RESULTS_DIR / "report.md":
        shutil.copyfile(RESULTS_DIR / "report.md", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
