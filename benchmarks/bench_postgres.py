"""Benchmark: `cx validate` from PostgreSQL tables beside the same data as contract files.

    python benchmarks/bench_postgres.py [--customers 1000000]

A throw-away server is started as the tests start theirs (tests/_postgres.py: Debian's
``postgresql``, ``initdb`` in a temporary folder, a loopback port); the simulated world is
written into typed tables (``timestamptz``, ``double precision``, ``boolean``,
``smallint``) with ADBC's bulk ingest (not timed as part of the load), then ``cx validate
--strict`` runs in a fresh process on the CSV files, the Parquet files and the PostgreSQL
schema. Peak memory is the ``cx`` process's own (``wait4``): the server is not its child,
so its memory is not counted. Target (issue 14): within 2× of loading the contract files.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import PYTHON, dataset, measure, write_section  # noqa: E402

CUSTOMERS_SQL = """SELECT customer_id, CAST(signup_at AS TIMESTAMPTZ) AS signup_at,
    CAST(churned_at AS TIMESTAMPTZ) AS churned_at, segment, CAST(monthly_value AS DOUBLE) AS monthly_value
    FROM read_parquet('{path}/customers.parquet')"""
INTERACTIONS_SQL = """SELECT interaction_id, customer_id, CAST("at" AS TIMESTAMPTZ) AS "at", kind, channel, touchpoint,
    outcome, CAST(resolved AS BOOLEAN) AS resolved, CAST(csat AS SMALLINT) AS csat, CAST(nps AS SMALLINT) AS nps,
    CAST(first_response_minutes AS DOUBLE) AS first_response_minutes, CAST(cost AS DOUBLE) AS cost
    FROM read_parquet('{path}/interactions.parquet')"""


def ingest(server, parquet: Path) -> float:
    """Write the world into schema ``bench``, streamed from Parquet; return the seconds it took."""
    import duckdb

    from tests._postgres import write_tables

    def reader(sql):  # one connection per stream: a DuckDB connection holds one open result
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        return con.sql(sql.format(path=parquet)).to_arrow_reader()

    start = time.perf_counter()
    write_tables(server, "bench", {"customers": reader(CUSTOMERS_SQL), "interactions": reader(INTERACTIONS_SQL)})
    with server.admin() as conn, conn.cursor() as cur:
        cur.execute("ANALYZE bench.customers")
        cur.execute("ANALYZE bench.interactions")
    return time.perf_counter() - start


def main() -> None:
    from tests._postgres import Server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.customers
    csv, parquet = dataset(n, "csv"), dataset(n, "parquet")
    interactions = json.loads((parquet / "truth.json").read_text())["realised"]["interactions_total"]
    server = Server()
    rows = []
    try:
        seconds_in = ingest(server, parquet)
        print(f"ingest into PostgreSQL: {seconds_in:.1f} s", flush=True)
        cases = [("csv files", str(csv)), ("parquet files", str(parquet)), ("postgresql", server.url("bench"))]
        for name, location in cases:
            with tempfile.TemporaryDirectory() as tmp:
                seconds, peak, _ = measure(
                    [PYTHON, "-m", "cxlib.run.cli", "validate", location, "--strict", "--rejects", f"{tmp}/rejects.csv"]
                )
            rows.append([f"{n:,}", name, f"{interactions:,}", f"{seconds:.1f}", f"{peak:,.0f}"])
            print(rows[-1], flush=True)
    finally:
        server.stop()
    files = min(float(r[3]) for r in rows[:2])
    pg = float(rows[2][3])
    write_section(
        "postgres",
        "cx validate from PostgreSQL beside the contract files",
        "python benchmarks/bench_postgres.py " + " ".join(sys.argv[1:]),
        ["customers", "source", "interactions", "seconds", "peak MB"],
        rows,
        "Whole command in a fresh process, once per source, on a machine shared with other work (2 cores): expect "
        "noise of tens of percent. PostgreSQL 15 on the same machine, on loopback, tables typed (timestamptz, "
        "double precision, boolean, smallint), read with ADBC as Arrow batches streamed into DuckDB; peak MB is "
        "the cx process's own (the server's memory is not counted, nor its CPU, which competes for the same 2 "
        f"cores). Writing the tables into PostgreSQL (ADBC bulk ingest from Parquet, not part of the load) took "
        f"{seconds_in:.0f} s. PostgreSQL ÷ fastest file format: {pg / files:.2f}× (target: within 2×).",
    )


if __name__ == "__main__":
    main()
