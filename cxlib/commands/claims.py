"""cx claims: the CX literature's figures held against the data, with verdicts."""

from __future__ import annotations

import json

from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS

HELP = "Test the published CX claims (one in three leave after one bad experience, ...) against the data."


def add_arguments(parser) -> None:
    parser.add_argument(
        "path",
        help="folder with customers.* and interactions.*, or a DuckDB file; with --engine spark also a "
        "URI (s3://, hdfs://, abfss://, dbfs:/) of Parquet or a catalog schema holding both tables",
    )
    parser.add_argument("--horizon-days", type=int, default=HORIZON_DAYS, help=f"churn counted within this many days (default {HORIZON_DAYS})")
    parser.add_argument("--window-days", type=int, default=WINDOW_DAYS, help=f"trailing window of the model (default {WINDOW_DAYS})")
    parser.add_argument("--resolution-days", type=int, default=RESOLUTION_DAYS, help=f"days in which a contact resolves (default {RESOLUTION_DAYS})")
    parser.add_argument("--max-width", type=float, default=0.10, help="widest 95%% interval of a share that can support a claim (default 0.10)")
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


def main(args) -> int:
    import warnings

    from cxlib import claims
    from cxlib.exceptions import ThinEvidenceWarning
    from cxlib.spark import open_engine

    opts = {"master": args.spark_master} if args.engine == "spark" else {}
    with open_engine(args.path, engine=args.engine, as_of=args.as_of, **opts) as data, warnings.catch_warnings():
        if args.json:  # the verdicts say it; keep stdout and stderr clean for machines
            warnings.simplefilter("ignore", ThinEvidenceWarning)
        frame = claims.evaluate(
            data,
            horizon_days=args.horizon_days,
            window_days=args.window_days,
            resolution_days=args.resolution_days,
            max_width=args.max_width,
        )
        if args.json:
            print(json.dumps({"horizon_days": args.horizon_days, "as_of": data.as_of.isoformat(),
                              "claims": claims.to_records(frame)}, indent=2))
        else:
            for r in claims.claims_table(frame).itertuples(index=False):
                print(f"{r.claim}: {r.verdict.upper()}")
                print(f"  claim:    {r.statement}")
                print(f"  source:   {r.source}")
                if r.verdict != claims.NOT_TESTABLE:
                    print(f"  estimate: {r._4} (claimed {r.claimed}; without a bad experience {r._6})")
                print(f"  why:      {r.reason}")
    return 0
