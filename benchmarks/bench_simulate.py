"""Time ``cxlib.data.simulate.write_dataset`` and measure its peak memory.

Each case runs in a fresh subprocess, which reports its own peak RSS
(``getrusage(RUSAGE_SELF).ru_maxrss`` at its end, the figure ``RUSAGE_CHILDREN`` would give
for that one child). Prints one markdown table row per case::

    python benchmarks/bench_simulate.py --customers 100000 1000000 --format csv parquet
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_section  # noqa: E402

_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {project!r})
from cxlib.data.simulate import write_dataset
t0 = time.perf_counter()
truth = write_dataset({out!r}, {n}, seed=0, fmt={fmt!r})
seconds = time.perf_counter() - t0
peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": seconds, "interactions": truth["realised"]["interactions_total"], "peak_kb": peak_kb}}))
"""



def run_case(n: int, fmt: str) -> dict:
    """Run one case in a subprocess; return its figures."""
    with tempfile.TemporaryDirectory(prefix="bench_simulate_") as tmp:
        code = _CHILD.format(project=str(PROJECT), out=tmp, n=n, fmt=fmt)
        wall = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - wall
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    result = json.loads(done.stdout.strip().splitlines()[-1])
    peak_kb = result["peak_kb"]  # kilobytes on Linux
    return {"customers": n, "format": fmt, "interactions": result["interactions"],
            "seconds": result["seconds"], "wall": wall, "peak_mb": peak_kb / 1024, "size_mb": size / 2**20}


def row(r: dict) -> list:
    return [f"{r['customers']:,}", r["format"], f"{r['interactions']:,}", f"{r['seconds']:.1f}",
            f"{r['peak_mb']:.0f}", f"{r['size_mb']:.0f}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--format", nargs="+", choices=["csv", "parquet"], default=["csv", "parquet"])
    args = parser.parse_args(argv)
    rows = []
    for n, fmt in [(n, fmt) for n in args.customers for fmt in args.format]:
        rows.append(row(run_case(n, fmt)))
        print(rows[-1], flush=True)
    write_section(
        "simulate",
        "cx simulate (generate and write a customer base)",
        "python benchmarks/bench_simulate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        ["customers", "format", "interactions", "seconds", "peak MB", "size MB"],
        rows,
        "write_dataset in a fresh process; seconds exclude Python start. Target: 1,000,000 customers "
        "in < 3 minutes and < 4 GB. Memory depends on chunk_size (20,000 customers), not on the total.",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
