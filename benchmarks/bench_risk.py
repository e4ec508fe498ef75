"""The churn-risk list at scale: features at a cutoff, the fit, the ranked list with reasons.

    python benchmarks/bench_risk.py [--sizes 100000] [--format parquet]

Each size runs in its own process (its peak memory is its own); the child times each step
and writes them to a JSON file: ``cxlib.load``, the features at one cutoff (one DuckDB
query), ``RiskModel().fit`` (8 training snapshots, then 3 calibrated boosters), and
``rank`` (every active customer scored, with the reason in words).
Results go to ``benchmarks/results/risk.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import PYTHON, dataset, measure, write_section  # noqa: E402


def child(path: Path, out: Path) -> None:
    import cxlib
    from cxlib.features import risk
    from cxlib.models.risk import RiskModel
    from cxlib.present.risk import risk_list

    as_of = json.loads((path / "truth.json").read_text())["as_of"]
    times = {}
    t = time.perf_counter()
    data = cxlib.load(path, as_of=as_of)
    times["load"] = time.perf_counter() - t
    t = time.perf_counter()
    frame = risk.features(data)
    times["features"] = time.perf_counter() - t
    model = RiskModel()
    t = time.perf_counter()
    model.fit(data)
    times["fit"] = time.perf_counter() - t
    t = time.perf_counter()
    ranked = risk_list(model.rank(data), model)
    times["rank"] = time.perf_counter() - t
    times["active"] = len(frame)
    times["training_rows"] = model.n_train_
    times["listed"] = len(ranked)
    out.write_text(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    parser.add_argument("--child", nargs=2, metavar=("PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]))
        return
    rows = []
    for n in args.sizes:
        path = dataset(n, args.format)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "times.json"
            seconds, peak_mb, _ = measure([PYTHON, __file__, "--child", str(path), str(out)])
            t = json.loads(out.read_text())
        rows.append(
            [
                f"{n:,}",
                args.format,
                f"{t['active']:,}",
                f"{t['training_rows']:,}",
                f"{t['load']:.1f}",
                f"{t['features']:.1f}",
                f"{t['fit']:.1f}",
                f"{t['rank']:.1f}",
                f"{seconds:.1f}",
                f"{peak_mb:,.0f}",
            ]
        )
        print(rows[-1], flush=True)
    write_section(
        "risk",
        "Churn-risk list: features, fit, ranked list",
        "python benchmarks/bench_risk.py " + " ".join(sys.argv[1:]),
        [
            "customers",
            "format",
            "active at the cutoff",
            "training rows",
            "load (s)",
            "features at one cutoff (s)",
            "fit (s)",
            "rank with reasons (s)",
            "process total (s)",
            "peak RSS (MB)",
        ],
        rows,
        notes="fit = 8 training snapshots (features and labels in DuckDB) + 3 calibrated "
        "HistGradientBoosting models (one OpenMP thread); rank scores every active customer and "
        "explains each (one prediction per feature group).",
    )


if __name__ == "__main__":
    main()
