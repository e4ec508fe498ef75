"""Benchmark: `cx validate` on simulated CSV and Parquet at 100,000 and 1,000,000 customers.

    python benchmarks/bench_validate.py [--customers 100000 1000000] [--formats csv parquet]

Target (issue 3): 1,000,000 customers (about 30 million interactions, CSV) in under a minute
and 4 GB.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, dataset, measure, write_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["csv", "parquet"])
    args = parser.parse_args()
    rows = []
    for n in args.customers:
        for fmt in args.formats:
            path = dataset(n, fmt)
            interactions = json.loads((path / "truth.json").read_text())["realised"]["interactions_total"]
            with tempfile.TemporaryDirectory() as tmp:
                seconds, peak, _ = measure(
                    [PYTHON, "-m", "cxlib.run.cli", "validate", str(path), "--strict", "--rejects", f"{tmp}/rejects.csv"]
                )
            rows.append([f"{n:,}", fmt, f"{interactions:,}", f"{seconds:.1f}", f"{peak:,.0f}"])
            print(rows[-1], flush=True)
    write_section(
        "validate",
        "cx validate (load + every contract check)",
        "python benchmarks/bench_validate.py " + " ".join(sys.argv[1:]),
        ["customers", "format", "interactions", "seconds", "peak MB"],
        rows,
        "Whole command in a fresh process: Python start, one streaming parse-and-check pass per table into an in-memory "
        "DuckDB database (2 GB limit, spilling past it), the cross-row checks, the rejects file. Target: 1,000,000 customers from CSV in < 60 s and < 4 GB.",
    )


if __name__ == "__main__":
    main()
