"""Benchmark: how the whole report scales with the customer base, `cx run` at 10k, 100k and 1M customers.

    python benchmarks/bench_scaling.py [--sizes 10000 100000 1000000] [--csv-at 1000000]
                                       [--commands-at 100000] [--before SRC]

One script, one run. For each size, simulated customers (Parquet; also CSV at the sizes of
``--csv-at``) generated once into benchmarks/out/, then ``cx run --data DIR --out TMP`` in
its own process: wall time, peak memory of the whole process tree (the command, its
kernels and what they start; ``_common.PeakRSS``) and, from the run's ``run.json``, the
seconds of each notebook. At the sizes of ``--commands-at`` it also times ``cx roi`` and
``cx risk`` (the ranked list) on the same data; with ``--before SRC`` (a source tree of an
earlier cxlib, e.g. ``git archive REV | tar -x -C SRC``) each of those runs once with that
code too (``PYTHONPATH=SRC``), for a before/after.

Writes benchmarks/results/scaling.md and the log–log figure benchmarks/results/scaling.png
(seconds and peak memory against customers). Figures are written, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, RESULTS_DIR, PeakRSS, dataset, write_section  # noqa: E402

NOTEBOOKS = ("00_summary.ipynb", "01_overview.ipynb", "02_churn.ipynb", "03_roi.ipynb", "04_risk.ipynb")
#: Targets of issue 16 on 2 cores (seconds), shown beside the figures.
TARGETS = {10_000: 40, 100_000: 60, 1_000_000: 360}


def timed(argv: list[str], env=None) -> tuple[float, float]:
    """(seconds, peak MB of the process tree) of one command, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    with PeakRSS(proc.pid) as tree:
        _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - start, tree.peak


def run_report(data: Path) -> dict:
    out = Path(tempfile.mkdtemp(prefix="cx-bench-scaling-"))
    try:
        seconds, peak = timed([PYTHON, "-m", "cxlib.run.cli", "run", "--data", str(data), "--out", str(out)])
        record = json.loads(next(out.glob("*/run.json")).read_text())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    per = {n["notebook"]: n.get("seconds", float("nan")) for n in record["notebooks"]}
    return {"seconds": seconds, "peak_mb": peak, "notebooks": per,
            "fingerprint": record["timings"].get("fingerprint_seconds"), "render": record["timings"].get("render_seconds")}


def command_env(src: str | None):
    if not src:
        return None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(src).resolve()), env.get("PYTHONPATH")) if p)
    return env


def figure(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for fmt, marker in (("parquet", "o"), ("csv", "s")):
        pts = sorted((p for p in points if p["format"] == fmt), key=lambda p: p["customers"])
        if not pts:
            continue
        x = [p["customers"] for p in pts]
        left.plot(x, [p["seconds"] for p in pts], marker=marker, label=f"cx run, total ({fmt})")
        if fmt == "parquet":
            for nb in NOTEBOOKS:
                left.plot(x, [p["notebooks"].get(nb, float("nan")) for p in pts], marker=".", lw=1, alpha=0.7,
                          label=nb.removesuffix(".ipynb"))
        right.plot(x, [p["peak_mb"] / 1024 for p in pts], marker=marker, label=f"cx run ({fmt})")
    tx = sorted(TARGETS)
    left.plot(tx, [TARGETS[n] for n in tx], ls="--", color="grey", label="target (issue 16)")
    right.axhline(4, ls="--", color="grey", label="target at 1M (4 GB)")
    left.set(xscale="log", yscale="log", xlabel="customers", ylabel="seconds (wall)",
             title="cx run: seconds against customers")
    right.set(xscale="log", yscale="log", xlabel="customers", ylabel="peak memory of the process tree (GB)",
              title="cx run: peak memory against customers")
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=96)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--csv-at", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--commands-at", type=int, nargs="*", default=[100_000])
    parser.add_argument("--before", default=None, help="source tree of an earlier cxlib for the before/after of cx roi and cx risk")
    parser.add_argument("--note", default="", help="a sentence added to the results (e.g. how busy the machine was)")
    args = parser.parse_args(argv)

    points, commands = [], []
    for n in args.sizes:
        for fmt in ["parquet"] + (["csv"] if n in args.csv_at else []):
            data = dataset(n, fmt)
            print(f"cx run on {n:,} customers ({fmt}) ...", file=sys.stderr, flush=True)
            points.append({"customers": n, "format": fmt, **run_report(data)})
            write(points, commands, args)  # after every point: a long run stopped early keeps what it measured
        if n in args.commands_at:
            data = dataset(n, "parquet")
            for label, src in [("after", None)] + ([("before", args.before)] if args.before else []):
                for name, argv in (("cx roi", ["roi", str(data), "--json"]),
                                   ("cx risk", ["risk", str(data), "--out", os.devnull])):
                    print(f"{name} on {n:,} customers ({label}) ...", file=sys.stderr, flush=True)
                    seconds, peak = timed([PYTHON, "-m", "cxlib.run.cli", *argv], env=command_env(src))
                    commands.append([name, f"{n:,}", label, f"{seconds:.1f}", f"{peak:,.0f}"])
                    write(points, commands, args)
    return 0


def write(points: list[dict], commands: list[list], args) -> None:
    """The section benchmarks/results/scaling.md and the figure, from what has been measured so far."""
    header = ["customers", "format", "cx run s", "target s", "peak MB (tree)", "fingerprint s",
              *[nb.removesuffix(".ipynb") + " s" for nb in NOTEBOOKS], "render s"]
    rows = [[f"{p['customers']:,}", p["format"], f"{p['seconds']:.1f}", TARGETS.get(p["customers"], "–"),
             f"{p['peak_mb']:,.0f}", f"{p['fingerprint']:.1f}",
             *[f"{p['notebooks'].get(nb, float('nan')):.1f}" for nb in NOTEBOOKS], f"{p['render']:.1f}"]
            for p in points]
    figure(points, RESULTS_DIR / "scaling.png")
    notes = ("Each notebook's seconds include starting its kernel and loading the data; the summary runs last "
             "and reads the run's results (the report still shows it first). Peak MB sums the command and all its "
             "descendants, sampled every 50 ms. Figure: [scaling.png](results/scaling.png).\n\n![cx run: seconds and peak memory against customers, log–log](results/scaling.png)")
    if commands:
        notes += "\n\n| command | customers | code | seconds | peak MB |\n|---|---|---|---|---|\n" + "\n".join(
            "| " + " | ".join(r) + " |" for r in commands)
    if args.note:
        notes += "\n\n" + args.note
    sizes = " ".join(str(n) for n in args.sizes)
    write_section("scaling", "cx run against the size of the base (issue 16)",
                  f"python benchmarks/bench_scaling.py --sizes {sizes}"
                  + (f" --csv-at {' '.join(map(str, args.csv_at))}" if args.csv_at else " --csv-at")
                  + (f" --commands-at {' '.join(map(str, args.commands_at))}" if args.commands_at else "")
                  + (" --before SRC" if args.before else ""),
                  header, rows, notes=notes)


if __name__ == "__main__":
    raise SystemExit(main())
