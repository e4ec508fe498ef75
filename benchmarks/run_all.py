"""Run every benchmark script and gather their sections into benchmarks/RESULTS.md.

    python benchmarks/run_all.py            # every step at its default sizes
    python benchmarks/run_all.py --only validate simulate

Each bench_<step>.py writes benchmarks/results/<step>.md with the machine, the date and the
command; this script runs them and concatenates the sections. Sections from steps not run
this time are kept as they were, with their own dates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main() -> None:
    scripts = sorted(HERE.glob("bench_*.py"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="steps to run (default: all)")
    parser.add_argument("--collect", action="store_true", help="only gather existing sections into RESULTS.md")
    args = parser.parse_args()
    if not args.collect:
        for script in scripts:
            step = script.stem.removeprefix("bench_")
            if args.only and step not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            subprocess.run([sys.executable, str(script)], check=True)
    sections = [p.read_text() for p in sorted(RESULTS.glob("*.md"))]
    header = (
        "# Benchmarks\n\nSpeed and peak memory of each step, measured by the scripts in this folder "
        "(`make bench` runs them all; each section names the command that produced it). "
        "Figures are measured, never asserted in tests.\n\n"
    )
    (HERE / "RESULTS.md").write_text(header + "\n".join(sections))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
