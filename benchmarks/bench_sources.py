"""Benchmark: loading 1,000,000 customers through a sources file, beside the contract files.

    python benchmarks/bench_sources.py [--customers 1000000] [--layout zendesk+stripe+events]

The same simulated world (seed 1) as contract CSV files and as the layout's vendor exports
(Zendesk tickets, users and ticket metrics as JSON lines, Stripe subscriptions and customers as
CSV, Segment tracks as Parquet), each loaded by ``cxlib.load`` in its own process (``cx
validate --strict``): seconds and peak memory of the whole command. Target (issue 14): the
sources file within 2x of the contract files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA_DIR, PYTHON, PeakRSS, dataset, write_section  # noqa: E402


def _layout(contract: Path, customers: int, layout: str) -> Path:
    """The contract world written in ``layout`` once (reused between runs)."""
    out = DATA_DIR / f"sim-{customers}-{layout.replace('+', '_')}-s1"
    if not (out / "sources.yaml").exists():
        subprocess.run(
            [PYTHON, "-c", "import sys; from cxlib.data.simulate.layouts import write_layout; "
             "write_layout(sys.argv[1], sys.argv[2], sys.argv[3])", str(contract), str(out), layout],
            check=True,
        )
    return out


def _run(argv: list[str]) -> tuple[float, float]:
    import time

    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with PeakRSS(proc.pid) as peak:
        _, err = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return seconds, peak.peak


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--layout", default="zendesk+stripe+events")
    args = parser.parse_args()
    contract = dataset(args.customers, "csv")
    layout = _layout(contract, args.customers, args.layout)
    interactions = json.loads((contract / "truth.json").read_text())["realised"]["interactions_total"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in (("contract files (CSV)", contract), (f"sources file ({args.layout})", layout / "sources.yaml")):
            size = _size_mb(contract if path == contract else layout)
            seconds, peak = _run([PYTHON, "-m", "cxlib.run.cli", "validate", str(path), "--strict",
                                  "--rejects", f"{tmp}/rejects.csv"])
            rows.append([name, f"{args.customers:,}", f"{interactions:,}", f"{size:,.0f}", f"{seconds:.1f}", f"{peak:,.0f}"])
            print(rows[-1], flush=True)
    ratio = float(rows[1][4]) / float(rows[0][4])
    write_section(
        "sources",
        "Loading through a sources file (vendors' exports) against the contract files",
        "python benchmarks/bench_sources.py " + " ".join(sys.argv[1:]),
        ["input", "customers", "interactions", "files (MB)", "seconds", "peak MB"],
        rows,
        f"Each `cx validate --strict` in a fresh process (peak = summed RSS of the process tree, sampled every 50 ms). "
        f"The sources file took {ratio:.2f}x the contract files' time (target: within 2x). Layout: Zendesk tickets, "
        "users and ticket metrics as JSON lines, Stripe subscriptions and customers as CSV, Segment tracks as Parquet; "
        "measured once, on a machine shared with other jobs at the same time, so the seconds are an upper bound.",
    )


if __name__ == "__main__":
    main()
