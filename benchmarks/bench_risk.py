"""The churn-risk list at scale: `cx risk`, the 04_risk notebook, and the backtest's quality, before and after.

    python benchmarks/bench_risk.py [--sizes 100000] [--format parquet] [--data PATH] [--before SRC]

For each size (or the data set at ``--data``) and each code (this checkout; with ``--before``
also the cxlib of the source tree ``SRC``, e.g. ``git archive 66f1961 cxlib | tar -x -C SRC``):

- ``cx risk PATH --out FILE``: seconds and peak RSS of the command (its own process);
- the ``04_risk`` notebook alone through papermill, as ``cx run`` runs it (``$CXLAB_RUN=1``):
  seconds of the papermill process and its kernel, and of each code cell;
- the backtest's quality (a child process): ROC AUC, average precision, Brier score,
  churners caught in the top 5% and 10%, mean probability against the churn observed, and
  the calibration bins (10 quantile bins: the largest |predicted − observed| in units of
  the bin's 95% half-interval), with the training rows the model learned from.

The load average (1 min) is written beside each figure: the machine may be shared.
Results go to ``benchmarks/results/risk.md``.
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PYTHON, PeakRSS, dataset, measure, write_section  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "cxlib" / "run" / "notebooks" / "04_risk.ipynb"


def quality_child(path: Path, out: Path, src: str) -> None:
    """The backtest at the default evaluation day, with the RiskModel's and ChurnModel's defaults."""
    sys.path.insert(0, src)  # the code measured, before this checkout
    import cxlib
    from cxlib.analyses import backtest
    from cxlib.models.churn import ChurnModel
    from cxlib.models.risk import RiskModel

    data = cxlib.load(path)
    t = time.perf_counter()
    check = backtest.backtest(data, estimator=RiskModel(), baseline=ChurnModel())
    seconds = time.perf_counter() - t
    m = check.metrics.set_index("method").loc["model"]
    cal = check.calibration(bins=10)
    cal = cal[cal["method"] == "model"]
    gap = ((cal["predicted"] - cal["observed"]).abs() / ((cal["ci_high"] - cal["ci_low"]) / 2)).max()
    out.write_text(json.dumps({
        "cxlib": cxlib.__file__, "backtest_s": seconds, "training_rows": int(check.model.n_train_),
        "roc_auc": float(m["roc_auc"]), "average_precision": float(m["average_precision"]),
        "brier": float(m["brier"]), "top5": float(m["top_5pct_capture"]), "top10": float(m["top_10pct_capture"]),
        "mean_probability": float(m["mean_probability"]), "observed": float(m["churners"] / m["customers"]),
        "calibration_gap": float(gap),
    }))


def code_env(src: str | None) -> dict:
    """The environment that imports cxlib from ``src`` (this checkout when None)."""
    env = dict(os.environ)
    root = Path(src).resolve() if src else Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


def notebook(path: Path, env: dict, src: str | None) -> tuple[float, float, dict]:
    """Seconds and peak MB (process tree) of 04_risk through papermill, and each code cell's seconds."""
    import nbformat

    source = (Path(src) / "cxlib" / "run" / "notebooks" / "04_risk.ipynb") if src else NOTEBOOK
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "04_risk.ipynb"
        argv = [PYTHON, "-m", "papermill", str(source), str(out), "-p", "data", str(path), "--log-level", "WARNING"]
        start = time.perf_counter()
        proc = subprocess.Popen(argv, env={**env, "CXLAB_RUN": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with PeakRSS(proc.pid) as peak:
            _, err = proc.communicate()
        seconds = time.perf_counter() - start
        if proc.returncode:
            raise RuntimeError(f"papermill exited {proc.returncode}:\n{err.decode(errors='replace')[-2000:]}")
        nb = nbformat.read(out, as_version=4)
    cells = {c.get("id", str(i)): round(c.metadata.get("papermill", {}).get("duration") or 0.0, 1)
             for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    return seconds, peak.peak, cells


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=None, help="a simulated data set to use instead of --sizes")
    parser.add_argument("--before", default=None, help="source tree of an earlier cxlib, measured the same way")
    parser.add_argument("--no-notebook", action="store_true", help="leave out the 04_risk notebook")
    parser.add_argument("--quality-child", nargs=3, metavar=("PATH", "OUT", "SRC"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quality_child:
        quality_child(Path(args.quality_child[0]), Path(args.quality_child[1]), args.quality_child[2])
        return
    worlds = [args.data] if args.data else [dataset(n, args.format, seed=args.seed) for n in args.sizes]
    codes = [("before", args.before)] if args.before else []
    codes.append(("after", None))
    rows, cells = [], {}
    for path in worlds:
        customers = int(json.loads((path / "truth.json").read_text())["n_customers"])
        for name, src in codes:
            env = code_env(src)
            with tempfile.TemporaryDirectory() as tmp:
                l0 = load()
                risk_s, risk_mb, _ = measure([PYTHON, "-m", "cxlib.run.cli", "risk", str(path), "--out",
                                              str(Path(tmp) / "list.csv")], env=env)
                l1 = load()
                nb_s, nb_mb, per_cell = (float("nan"), float("nan"), {}) if args.no_notebook else notebook(path, env, src)
                l2 = load()
                out = Path(tmp) / "quality.json"
                root = str(Path(src).resolve()) if src else str(Path(__file__).resolve().parents[1])
                subprocess.run([PYTHON, __file__, "--quality-child", str(path), str(out), root], env=env, check=True,
                               stdout=subprocess.DEVNULL)
                q = json.loads(out.read_text())
                l3 = load()
            cells[f"{customers:,} {name}"] = per_cell
            rows.append([
                f"{customers:,}", name, f"{risk_s:.1f}", f"{risk_mb:,.0f}", f"{nb_s:.1f}", f"{nb_mb:,.0f}",
                f"{q['training_rows']:,}", f"{q['roc_auc']:.4f}", f"{q['average_precision']:.4f}",
                f"{q['brier']:.5f}", f"{q['top5']:.4f}", f"{q['top10']:.4f}",
                f"{q['mean_probability']:.4f} / {q['observed']:.4f}", f"{q['calibration_gap']:.2f}",
                f"{l0:.1f} / {l1:.1f} / {l2:.1f} / {l3:.1f}",
            ])
            print(q["cxlib"], rows[-1], per_cell, flush=True)
    cell_lines = "; ".join(f"{k}: " + ", ".join(f"{c} {s}" for c, s in v.items() if s >= 0.5) for k, v in cells.items())
    write_section(
        "risk",
        "Churn-risk list: cx risk, the 04_risk notebook, the backtest's quality",
        "python benchmarks/bench_risk.py " + " ".join(sys.argv[1:]),
        ["customers", "code", "cx risk (s)", "cx risk peak MB", "04_risk (s)", "04_risk peak MB (tree)",
         "training rows", "ROC AUC", "average precision", "Brier", "top 5% capture", "top 10% capture",
         "mean probability / churn observed", "largest calibration gap (half-intervals)",
         "load average before / after cx risk / after 04_risk / after quality"],
        rows,
        notes="cx risk: the whole command (load, 8 training snapshots, the calibrated boosters, every active "
        "customer scored and explained, the CSV). 04_risk: papermill with its kernel, as in `cx run` "
        "(`$CXLAB_RUN=1`, no results folder). Quality: the backtest at the default evaluation day "
        "(as_of − 90 days) on the same world, the model's row of its score table; calibration gap: the "
        "largest of the 10 bins' |predicted − observed| over the bin's 95% half-interval (≤ 1: every bin "
        "within its interval). Seconds of the code cells over 0.5 s (cell id, s): " + cell_lines,
    )


if __name__ == "__main__":
    main()
