"""Benchmark: `cx validate` on simulated CSV and Parquet at 100,000 and 1,000,000 customers.

    python benchmarks/bench_validate.py [--customers 100000 1000000] [--formats csv parquet]

Target (issue 3): 1,000,000 customers (about 30 million interactions, CSV) in under a minute
and 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, dataset, write_section  # noqa: E402


def run(argv: list[str]) -> tuple[float, float, float]:
    """Run ``argv`` in its own process: (wall seconds, CPU seconds user + system, peak RSS MB).

    The CPU seconds say how much work the command did whatever else the machine runs; the wall
    seconds on a shared machine depend on it.
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{proc.stderr.read().decode(errors='replace')[-2000:]}")
    proc.stderr.close()
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


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
            load_before = os.getloadavg()[0]
            with tempfile.TemporaryDirectory() as tmp:
                seconds, cpu, peak = run(
                    [PYTHON, "-m", "cxlib.run.cli", "validate", str(path), "--strict", "--rejects", f"{tmp}/rejects.csv"]
                )
            load = f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"
            rows.append([f"{n:,}", fmt, f"{interactions:,}", f"{seconds:.1f}", f"{cpu:.1f}", f"{peak:,.0f}", load])
            print(rows[-1], flush=True)
    write_section(
        "validate",
        "cx validate (load + every contract check)",
        "python benchmarks/bench_validate.py " + " ".join(sys.argv[1:]),
        ["customers", "format", "interactions", "seconds", "CPU seconds", "peak MB", "load average (1 min) before → after"],
        rows,
        "Whole command in a fresh process: Python start, one streaming parse-and-check pass per table into an in-memory "
        "DuckDB database (2 GB limit, spilling past it), the cross-row checks, the rejects file. Target (issue 16): 1,000,000 customers from CSV in ≤ 30 s. "
        "CPU seconds = user + system time of the process; on a shared machine (load average above 2 on 2 cores) "
        "the wall seconds are longer than on a quiet one.",
    )


if __name__ == "__main__":
    main()
