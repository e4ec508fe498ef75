"""Benchmark: ``cx roi`` end to end at 100,000 customers (load, churn model, ROI draws).

    python benchmarks/bench_roi.py [--customers 100000] [--draws 200]

Each case runs ``cx roi PATH --json`` in its own process (time and peak memory from
``os.wait4``), on simulated Parquet generated once and reused from benchmarks/out/; the
table goes to benchmarks/results/roi.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, dataset, measure, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000])
    parser.add_argument("--draws", type=int, nargs="+", default=[200])
    parser.add_argument("--process-draws", type=int, default=100)
    args = parser.parse_args()
    rows = []
    for n in args.customers:
        path = dataset(n, "parquet")
        for draws in args.draws:
            argv = [PYTHON, "-m", "cxlib.run.cli", "roi", str(path), "--json", "--draws", str(draws),
                    "--process-draws", str(args.process_draws)]
            seconds, peak_mb, _ = measure(argv)
            rows.append([f"{n:,}", draws, args.process_draws, f"{seconds:.1f}", f"{peak_mb:,.0f}"])
    write_section(
        "roi", "cx roi (ROI of service against experience)",
        f"python -m cxlib.run.cli roi PATH --json --draws D --process-draws {args.process_draws}",
        ["customers", "draws", "process draws", "seconds", "peak MB"], rows,
        notes="Default scenario file (4 scenarios, one not estimable on simulated data). Time includes loading "
              "the Parquet files, fitting the churn model and every draw.",
    )


if __name__ == "__main__":
    main()
