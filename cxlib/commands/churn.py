"""cx churn: fit the survival model of churn against bad experiences, print the hazard ratios."""

from __future__ import annotations

import json

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS

HELP = "Hazard ratios of churn for unresolved and resolved bad experiences, adjusted for segment and tenure."


def add_arguments(parser) -> None:
    parser.add_argument(
        "path",
        help="folder with customers.* and interactions.*, or a DuckDB file; with --engine spark also a "
        "URI (s3://, hdfs://, abfss://, dbfs:/) of Parquet or a catalog schema holding both tables",
    )
    parser.add_argument("--window-days", type=int, default=WINDOW_DAYS, help=f"trailing window of the counts (default {WINDOW_DAYS})")
    parser.add_argument("--resolution-days", type=int, default=RESOLUTION_DAYS, help=f"days in which a contact resolves (default {RESOLUTION_DAYS})")
    parser.add_argument("--count-cap", type=int, default=5, help="pool trailing counts above this (default 5)")
    parser.add_argument("--as-of", default=None, help="censoring time (ISO 8601, UTC); default: the latest timestamp in the data")
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON object")
    parser.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb",
        help="where the aggregations run: duckdb (in process, default) or spark (a SparkSession)",
    )
    parser.add_argument(
        "--spark-master", default=None,
        help="spark.master of a new session (default $CXLAB_SPARK_MASTER, else local[2]; under spark-submit the session's)",
    )


def result_object(model) -> dict:
    s = model.summary
    return {
        "model": "piecewise-exponential (Poisson) regression",
        "window_days": int(model.window_days),
        "resolution_days": int(model.resolution_days),
        "count_cap": int(model.count_cap),
        "as_of": None if model.as_of_ is None else model.as_of_.isoformat(),
        "events": int(model.n_events_),
        "exposure_days": float(model.exposure_days_),
        "baseline_daily_hazard": float(model.baseline_hazard_),
        "reference": {k: (v if isinstance(v, str) else int(v)) for k, v in model.reference_.items()},
        "covariates": {
            name: {
                "hazard_ratio": float(r.hazard_ratio),
                "ci_low": float(r.ci_low),
                "ci_high": float(r.ci_high),
                "p_value": float(r.p_value),
                "meaning": r.meaning,
            }
            for name, r in s.iterrows()
        },
    }


def main(args) -> int:
    from cxlib.churn import ChurnModel
    from cxlib.spark import open_engine

    opts = {"master": args.spark_master} if args.engine == "spark" else {}
    with open_engine(args.path, engine=args.engine, as_of=args.as_of, **opts) as data:
        model = ChurnModel(
            window_days=args.window_days, resolution_days=args.resolution_days, count_cap=args.count_cap
        ).fit(data)
        if args.json:
            print(json.dumps(result_object(model), indent=2))
        else:
            model.print_summary()
    return 0
