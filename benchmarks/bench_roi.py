"""Benchmark: ``cx roi`` at 10,000 and 100,000 customers, one what-if slider move, 03_roi in papermill; before and after.

    python benchmarks/bench_roi.py [--before REF] [--customers 10000 100000] [--draws 200] [--process-draws 100]
                                   [--slider-draws 20] [--notebook-customers 10000]

Every case runs in its own process (wall time, CPU time and peak memory from ``os.wait4``), on
simulated Parquet generated once and reused from benchmarks/out/. With ``--before REF`` each
case runs twice back to back, first on the code of git commit ``REF`` (exported with ``git
archive`` to a temporary folder and put first on ``PYTHONPATH``), then on this checkout's, so
both see the same load. The cases:

* ``cx roi PATH --json`` (loading, churn model, queries, every draw and the realised futures);
* the steps of cx roi one by one in one process (``--phases``): loading, fitting the churn model,
  :func:`cxlib.analyses.roi.prepare`, the closed form on every draw and scenario
  (``evaluate_prepared`` with ``process_draws=0``) and the Monte Carlo of realised futures (the
  same again: the closed-form runs are kept, so only the futures are new); then one move of a
  what-if slider (:meth:`cxlib.present.whatif.WhatIf.table` on ``--slider-draws`` draws after a
  touchpoint's bad-rate cut moves to a value not seen before: the median of three moves); then
  the ROI's own steps on the active base copied ``--replicate`` times under new ids (14 copies of
  the 100,000 world's base: about a million active customers, with the same model and draws);
* 03_roi executed by papermill on ``--notebook-customers`` customers (no run-results folder:
  it fits its churn model itself, as a notebook run alone does).

CPU seconds are reported beside wall seconds because the machine is shared: the wall time of
one process depends on what else runs, its CPU time much less. The tables go to
benchmarks/results/roi.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, dataset, write_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _child(argv: list[str], tree: Path) -> tuple[float, float, float, str]:
    """Run ``argv`` with ``tree`` first on PYTHONPATH; return (wall seconds, CPU seconds, peak RSS MB, stdout).

    CPU and peak memory are the child's own and its children's (``os.wait4``; a kernel counts
    when its process has been waited for).
    """
    env = {**os.environ, "PYTHONPATH": str(tree), "CXLAB_RUN": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        text, error = out.read().decode(), err.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{error[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


def phases(path: str, draws: int, process_draws: int, slider_draws: int, replicate: int = 1) -> dict:
    """The steps of cx roi one by one in this process, then one slider move: {step: (wall s, CPU s)}, and counts."""
    import warnings

    import cxlib
    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel
    from cxlib.present import whatif

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
    panel = whatif.WhatIf(prepared.subset(slider_draws))
    panel.table()  # the default view, shown when the notebook runs
    clock = (time.perf_counter(), time.process_time())
    moves = []
    for value in (0.15, 0.25, 0.35):
        t0, c0 = time.perf_counter(), time.process_time()
        panel.table(**{whatif.cut_control(panel.touchpoints[0]): value})
        moves.append((time.perf_counter() - t0, time.process_time() - c0))
    out[f"one slider move ({slider_draws} draws, median of 3)"] = (statistics.median(m[0] for m in moves),
                                                                    statistics.median(m[1] for m in moves))
    if replicate > 1:  # the active base copied `replicate` times (new ids): the ROI's own steps at that size
        import dataclasses

        import pandas as pd

        from cxlib.models.roi_engine import Engine

        m = prepared.measured
        big = dataclasses.replace(
            m, customers=pd.concat([m.customers.assign(customer_id=m.customers["customer_id"] + f"-{i}")
                                    for i in range(replicate)], ignore_index=True),
            known=pd.concat([m.known.assign(customer_id=m.known["customer_id"] + f"-{i}") for i in range(replicate)],
                            ignore_index=True))
        clock = (time.perf_counter(), time.process_time())
        copy = dataclasses.replace(prepared, measured=big, engine=Engine(big, model, prepared.horizon_days), _runs={},
                                   _log_a={}, _log_shift={}, _coefficients={})
        size = f"{len(big.customers):,} active customers ({replicate} copies)"
        lap(f"{size}: the engine's structure")
        roi.evaluate_prepared(copy, None, process_draws=0)
        lap(f"{size}: closed form on every draw and scenario")
        big_result = roi.evaluate_prepared(copy, None, process_draws=process_draws)
        lap(f"{size}: realised futures ({big_result.settings['process_futures']:,} futures, "
            f"{big_result.settings['known_histories']:,} histories)")
    s = result.settings
    return {"steps": out, "runs": len(prepared._runs), "histories": s.get("known_histories"),
            "futures": s.get("process_futures"), "segments": getattr(prepared.engine, "n_segments", None),
            "customers": prepared.engine.n_customers}


def _notebook(path: str) -> None:
    """03_roi through papermill on ``path`` (a child process of the benchmark)."""
    import papermill as pm

    from cxlib.config import NOTEBOOKS_DIR

    with tempfile.TemporaryDirectory() as tmp:
        pm.execute_notebook(str(Path(NOTEBOOKS_DIR) / "03_roi.ipynb"), str(Path(tmp) / "03_roi.ipynb"),
                            parameters={"data": path}, kernel_name="python3", progress_bar=False)


def _export(ref: str) -> Path:
    """The cxlib of git commit ``ref``, exported to a temporary folder (no checkout, no worktree)."""
    folder = Path(tempfile.mkdtemp(prefix=f"cx-before-{ref[:8]}-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "cxlib"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="git commit to compare with (run back to back with this checkout)")
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--process-draws", type=int, default=100)
    parser.add_argument("--slider-draws", type=int, default=20)
    parser.add_argument("--notebook-customers", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of every case (medians reported)")
    parser.add_argument("--replicate", type=int, default=14,
                        help="after the steps, the largest base copied this many times (14: about a million customers)")
    parser.add_argument("--phases", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--notebook", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases:
        p, d, pd_, sd, rep = args.phases
        print(json.dumps(phases(p, int(d), int(pd_), int(sd), int(rep))))
        return
    if args.notebook:
        _notebook(args.notebook)
        return
    trees = ([("before", _export(args.before))] if args.before else []) + [("after", ROOT)]
    label = {"before": f"before ({args.before})", "after": "after"}
    rows, steps, counts, loads = [], {}, {}, []

    def cases(what: str, argv: list[str]) -> None:
        """``argv`` on every tree, ``--repeats`` rounds interleaved; one row per tree (medians)."""
        runs = {name: [] for name, _ in trees}
        for _ in range(args.repeats):
            for name, tree in trees:
                runs[name].append(_child(argv, tree)[:3])
                loads.append(os.getloadavg()[0])
        for name, _ in trees:
            r = runs[name]
            rows.append([what, label[name], f"{statistics.median(x[0] for x in r):.1f}",
                         f"{statistics.median(x[1] for x in r):.1f}", f"{max(x[2] for x in r):,.0f}"])

    for n in args.customers:
        cases(f"cx roi --json, {n:,} customers",
              [PYTHON, "-m", "cxlib.run.cli", "roi", str(dataset(n, "parquet")), "--json", "--draws", str(args.draws),
               "--process-draws", str(args.process_draws)])
    cases(f"03_roi in papermill, {args.notebook_customers:,} customers",
          [PYTHON, __file__, "--notebook", str(dataset(args.notebook_customers, "parquet"))])
    n = max(args.customers)
    path = dataset(n, "parquet")
    for _ in range(args.repeats):
        for name, tree in trees:
            _, _, _, text = _child([PYTHON, __file__, "--phases", str(path), str(args.draws), str(args.process_draws),
                                    str(args.slider_draws), str(args.replicate)], tree)
            info = json.loads(text.strip().splitlines()[-1])
            loads.append(os.getloadavg()[0])
            for step, (w, c) in info["steps"].items():
                steps.setdefault(step, {}).setdefault(name, []).append((w, c))
            counts[name] = (f"{label[name]}: engine runs (draws × distinct scenario inputs) {info['runs']:,}; segments "
                            f"of constant state {info['segments']:,}; known histories {info['histories']:,}; futures "
                            f"drawn {info['futures']:,}; active customers {info['customers']:,}.")
    steps = {step: {t: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for t, v in by.items()}
             for step, by in steps.items()}
    step_lines = [f"| {n:,} | {step} | " + " | ".join(
        f"{by[t][0]:.2f} / {by[t][1]:.2f}" if t in by else "–" for t, _ in trees) + " |" for step, by in steps.items()]
    write_section(
        "roi", "cx roi (ROI of service against experience)",
        "python benchmarks/bench_roi.py" + (f" --before {args.before}" if args.before else "")
        + f" --customers {' '.join(map(str, args.customers))} --draws {args.draws} --process-draws "
        f"{args.process_draws} --slider-draws {args.slider_draws} --notebook-customers {args.notebook_customers} "
        f"--repeats {args.repeats} --replicate {args.replicate}",
        ["case", "code", "wall seconds", "CPU seconds", "peak MB"], rows,
        notes="Default scenario file (4 scenarios, one not estimable on simulated data); the churn model is "
              "`ChurnModel()` (adjusted for engagement: the engine runs on its engagement classes). Medians of "
              f"{args.repeats} rounds, before and after interleaved in each. CPU seconds "
              "include the kernel's for 03_roi (a child of papermill's process). Where the time of cx roi goes, step "
              "by step in one process (wall / CPU seconds):\n\n| customers | step | "
              + " | ".join(label[t] for t, _ in trees) + " |\n|---|---|" + "---|" * len(trees) + "\n"
              + "\n".join(step_lines) + "\n\n" + "\n".join(f"- {c}" for c in counts.values())
              + f"\n\nThe machine is shared with other developers' work (load average {min(loads + [9e9]):.1f}–"
                f"{max(loads + [0]):.1f} on {os.cpu_count()} cores after the cases): wall seconds are above an idle "
                "machine's; CPU seconds are the processes' own (DuckDB's threads included) and compare before with "
                "after more fairly.",
    )


if __name__ == "__main__":
    main()
