"""PostgreSQL as a source, on a real server (tests/_postgres.py): the same figures and the
same rejects as the files, rejects keyed by table and key, and a password that is never shown."""

from __future__ import annotations

import json
import re

import duckdb
import nbformat
import pandas as pd
import pytest

import cxlib
from cxlib.run.cli import main as cx
from cxlib.data.contract import COLUMNS, KEYS, TABLES
from cxlib.data.postgres import password_of, redact
from cxlib.run.runner import run
from tests._postgres import PASSWORD, write_tables

TYPED_CUSTOMERS = """SELECT customer_id, CAST(signup_at AS TIMESTAMPTZ) AS signup_at,
    CAST(churned_at AS TIMESTAMPTZ) AS churned_at, segment, CAST(monthly_value AS DECIMAL(12, 2)) AS monthly_value
    FROM customers"""
TYPED_INTERACTIONS = """SELECT * REPLACE (CAST("at" AS TIMESTAMPTZ) AS "at", CAST(csat AS SMALLINT) AS csat,
    CAST(nps AS SMALLINT) AS nps) FROM interactions"""


def _arrow(con, sql):
    return con.sql(sql).to_arrow_table()


@pytest.fixture(scope="module")
def demo_schema(postgres_server, small_world):
    """The 2,000-customer world of the CSV files as typed PostgreSQL tables (timestamptz,
    numeric, smallint, boolean), in schema ``demo``."""
    with cxlib.load(small_world) as data:
        assert data.report.total_rejected == 0
        data.con.execute("SET TimeZone = 'UTC'")
        tables = {"customers": _arrow(data.con, TYPED_CUSTOMERS), "interactions": _arrow(data.con, TYPED_INTERACTIONS)}
    write_tables(postgres_server, "demo", tables)
    return postgres_server.url("demo")


def _churn_json(location, capsys) -> dict:
    assert cx(["churn", str(location), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_postgres_tables_give_the_same_hazard_ratios_as_the_csv_files(demo_schema, small_world, capsys):
    from_csv = _churn_json(small_world, capsys)
    from_pg = _churn_json(demo_schema, capsys)
    assert from_pg["events"] == from_csv["events"] > 0
    assert from_pg["exposure_days"] == pytest.approx(from_csv["exposure_days"], rel=1e-12)
    assert set(from_pg["covariates"]) == set(from_csv["covariates"])
    for name, c in from_csv["covariates"].items():
        for field in ("hazard_ratio", "ci_low", "ci_high"):
            assert from_pg["covariates"][name][field] == pytest.approx(c[field], abs=1e-9), (name, field)


def test_typed_columns_arrive_typed_not_as_text(demo_schema):
    """The row rules get a timestamptz, a smallint, a boolean as such (numeric as double), not as text."""
    from cxlib.data import postgres

    tables, con = postgres.Tables(demo_schema), duckdb.connect()
    try:
        types = {}
        for table in TABLES:
            _, ignored, types[table] = postgres.source(con, table, tables, COLUMNS[table])
            assert ignored == []
            con.unregister(f"pg_stream_{table}")
    finally:
        tables.close()
    assert types["customers"]["signup_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["customers"]["monthly_value"] == "DOUBLE", "numeric is read as double precision"
    assert types["interactions"]["csat"] == "SMALLINT" and types["interactions"]["resolved"] == "BOOLEAN"
    with cxlib.load(demo_schema) as data:
        assert data.report.files["customers"] == f"demo.customers at {redact(demo_schema.split('?')[0])}"
        assert data.report.rejected == {"customers": 0, "interactions": 0}


# ---------------------------------------------------------------------------------------
# Broken rows: the same rejects as the same rows in CSV, keyed by table and key

BAD_CUSTOMERS = [
    "CX1,2024-01-01T00:00:00Z,,consumer,-5",  # negative monthly_value
    "CX2,2024-05-01T00:00:00Z,2024-02-01T00:00:00Z,consumer,10",  # churned before signup
    "CX3,not a date,,smb,10",  # unparsable signup_at
    "CX4,,,smb,",  # missing signup_at and monthly_value
    "{dup},2024-01-01T00:00:00Z,,consumer,10",  # duplicate customer_id
    ",2024-01-01T00:00:00Z,,consumer,10",  # no customer_id: no key to name it by
]
BAD_INTERACTIONS = [
    "IX1,NOPE,2025-01-01T00:00:00Z,experience,web,website,bad,,,,,",  # unknown customer
    "IX2,{cid},2025-01-01T00:00:00Z,complaint,web,website,bad,,,,,",  # kind not in the contract
    "IX3,{cid},2025-01-01T00:00:00Z,service,phone,billing,good,maybe,9,,,",  # resolved and csat out of range
    "IX4,CX1,2025-01-01T00:00:00Z,experience,web,website,bad,,,,,",  # its customer was rejected
    "{iid},{cid},2025-01-01T00:00:00Z,experience,web,website,good,,,,,",  # duplicate interaction_id
]


@pytest.fixture(scope="module")
def broken(postgres_server, tmp_path_factory):
    """A small world with broken rows appended, as CSV files and as text tables in schema ``broken``."""
    from cxlib.data.simulate import write_dataset

    path = tmp_path_factory.mktemp("broken_world")
    write_dataset(path, 300, seed=3, fmt="csv")
    customers, interactions = pd.read_csv(path / "customers.csv", dtype=str), pd.read_csv(path / "interactions.csv", dtype=str)
    cid, iid = customers.customer_id.iloc[0], interactions.interaction_id.iloc[0]
    assert list(customers.columns) == list(COLUMNS["customers"])
    with open(path / "customers.csv", "a") as fh:
        fh.write("\n".join(line.format(dup=cid) for line in BAD_CUSTOMERS) + "\n")
    with open(path / "interactions.csv", "a") as fh:
        fh.write("\n".join(line.format(cid=cid, iid=iid) for line in BAD_INTERACTIONS) + "\n")
    con = duckdb.connect()
    tables = {t: _arrow(con, f"SELECT * FROM read_csv('{path / t}.csv', all_varchar = true)") for t in TABLES}
    write_tables(postgres_server, "broken", tables)
    return path, postgres_server.url("broken")


def _keyed(data) -> set:
    """Every problem as (table, key, column, value, reason), with the row numbers a file's reasons cite removed."""
    table_of = {label: t for t, label in data.report.files.items()}
    out = set()
    for r in data.rejects.itertuples(index=False):
        reason = re.sub(r" \(first at row \d+\)", " (another row with this {key} is kept)", r.reason)
        reason = reason.replace("{key}", KEYS[table_of[r.file]])
        reason = re.sub(r"its customer row was rejected \(row \d+\)", "its customer row was rejected in the customers table", reason)
        out.add((table_of[r.file], r.key, r.column, r.value, reason))
    return out


def test_broken_rows_give_the_same_rejects_keyed_by_table_and_key(broken):
    path, url = broken
    with cxlib.load(path) as from_csv, cxlib.load(url) as from_pg:
        assert from_pg.report.read == from_csv.report.read
        assert from_pg.report.rejected == from_csv.report.rejected == {"customers": 6, "interactions": 5}
        assert _keyed(from_pg) == _keyed(from_csv)
        rejects = from_pg.rejects
        assert rejects["row"].isna().all(), "a database row has no row number: its key names it"
        assert rejects["key"].isna().sum() == 1, "every row is named by its key, but the one without a customer_id"
        assert {"CX1", "CX2", "CX3", "CX4", "IX1", "IX2", "IX3", "IX4"} <= set(rejects["key"])
        assert from_csv.rejects["row"].notna().all(), "files keep their row numbers"


def test_cx_validate_names_table_and_key_and_never_the_password(broken, tmp_path, capsys):
    _, url = broken
    assert PASSWORD in url
    rejects = tmp_path / "rejects.csv"
    assert cx(["validate", url, "--rejects", str(rejects), "--show", "20"]) == 0
    shown = capsys.readouterr()
    assert "broken.customers customer_id=CX1, column 'monthly_value'" in shown.out
    assert "broken.interactions interaction_id=IX1, column 'customer_id': unknown customer_id" in shown.out
    written = rejects.read_text()
    assert list(pd.read_csv(rejects).columns) == ["file", "row", "key", "column", "value", "reason"]
    assert shown.err == ""
    for text in (shown.out, written):
        assert PASSWORD not in text and "cxtest@127.0.0.1" in text


# ---------------------------------------------------------------------------------------
# Structural errors: clear, named, and without the password


def test_wrong_password_unreachable_server_missing_schema_table_and_column(postgres_server, demo_schema, capsys):
    wrong = demo_schema.replace(PASSWORD, "not-the-Pa55word")
    assert cx(["validate", wrong]) == 2
    err = capsys.readouterr().err
    assert "authentication failed" in err and "not-the-Pa55word" not in err

    closed = re.sub(r":\d+/", ":1/", demo_schema)
    with pytest.raises(cxlib.DataError, match="server unreachable") as exc:
        cxlib.load(closed)
    assert PASSWORD not in str(exc.value)

    with pytest.raises(cxlib.DataError, match="no schema named 'nowhere'"):
        cxlib.load(postgres_server.url("nowhere"))
    with postgres_server.admin() as conn, conn.cursor() as cur:
        cur.execute("DROP SCHEMA IF EXISTS partial CASCADE")
        cur.execute("CREATE SCHEMA partial")
        cur.execute("CREATE TABLE partial.customers AS SELECT customer_id, signup_at, churned_at FROM demo.customers")
    with pytest.raises(cxlib.DataError, match="missing required column") as exc:
        cxlib.load(postgres_server.url("partial"))
    assert exc.value.column == "monthly_value" and "partial.customers" in str(exc.value)
    with postgres_server.admin() as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE partial.customers ADD COLUMN monthly_value float8 DEFAULT 1")
    with pytest.raises(cxlib.DataError, match="no table named interactions in schema 'partial'") as exc:
        cxlib.load(postgres_server.url("partial"))
    assert PASSWORD not in str(exc.value)


def test_the_password_can_come_from_the_libpq_environment(postgres_server, demo_schema, monkeypatch):
    bare = postgres_server.url("demo", password=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(cxlib.DataError, match="asks for a password"):
        cxlib.load(bare)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    with cxlib.load(bare) as data:
        assert data.report.accepted["customers"] == 2_000


def test_redact_drops_every_form_of_password():
    assert redact("postgresql://ann:s3cr%40t@db:5432/crm?schema=cx") == "postgresql://ann@db:5432/crm?schema=cx"
    assert redact("postgres://ann@db/crm?password=s3cret&sslmode=require") == "postgres://ann@db/crm?sslmode=require"
    assert redact("/srv/cx/export") == "/srv/cx/export"
    assert password_of("postgresql://ann:s3cr%40t@db:5432/crm") == "s3cr@t"
    assert password_of("postgresql://ann@db:5432/crm") is None


# ---------------------------------------------------------------------------------------
# cx run on PostgreSQL: the notebooks read it, nothing the run writes holds the password


def _reading_notebook(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell('data: str = ""  # data', metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(
                "from cxlib.run.notebook import load_summary, open_data\n"
                "dataset = open_data(data)\nprint(dataset.report.lines()[0])\nload_summary(dataset)"
            ),
        ],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    )
    path = tmp_path / "reads.ipynb"
    nbformat.write(nb, str(path))
    return path


def test_cx_run_reads_postgres_and_records_no_password(demo_schema, tmp_path, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    out = tmp_path / "reports"
    result = run(demo_schema, out=out, notebooks=[_reading_notebook(tmp_path)])
    assert result.status == "ok"
    record = json.loads((result.run_dir / "run.json").read_text())
    assert record["parameters"]["data"] == redact(demo_schema) and record["data"]["customers"] == 2_000
    executed = (result.run_dir / "notebooks" / "reads.ipynb").read_text()
    assert "customers: read 2,000, accepted 2,000" in executed, "the kernel connected with the password from the run"
    for path in [p for p in out.rglob("*") if p.is_file()]:
        assert PASSWORD not in path.read_text(errors="replace"), path
    assert "PGPASSWORD" not in __import__("os").environ, "the run restores the environment"

    wrong = demo_schema.replace(PASSWORD, "not-the-Pa55word")
    with pytest.raises(cxlib.DataError, match="authentication failed"):
        run(wrong, out=out, notebooks=[_reading_notebook(tmp_path)])
    for path in [p for p in out.rglob("*") if p.is_file()]:
        assert "not-the-Pa55word" not in path.read_text(errors="replace"), path
    failed = max(out.glob("*/run.json"), key=lambda p: p.parent.name)
    assert json.loads(failed.read_text())["status"] == "failed"


# ---------------------------------------------------------------------------------------
# A sources file whose sources are SQL queries on a connection

QUERY_SOURCES = """version: 1
connections:
  crm: {url}
sources:
  accounts:
    table: customers
    connection: {direct}
    query: "SELECT customer_id, signup_at, churned_at, segment, monthly_value FROM demo.customers
      UNION ALL SELECT 'QX1', TIMESTAMPTZ '2024-03-01 00:00:00+00', NULL, 'consumer', -1 ORDER BY customer_id"
    columns: {{customer_id: customer_id, signup_at: signup_at, churned_at: churned_at, segment: segment,
              monthly_value: monthly_value}}
  contacts:
    table: interactions
    connection: crm
    query: "SELECT *, upper(outcome) AS result FROM demo.interactions WHERE kind = 'service' ORDER BY interaction_id"
    values:
      result: {{GOOD: good, NEUTRAL: neutral, BAD: bad}}
    columns: {{interaction_id: interaction_id, customer_id: customer_id, at: '"at"', kind: kind, channel: channel,
              touchpoint: touchpoint, outcome: result, resolved: resolved, csat: csat, nps: nps,
              first_response_minutes: first_response_minutes, cost: cost}}
  journey:
    table: interactions
    connection: crm
    query: "SELECT * FROM demo.interactions WHERE kind = 'experience' ORDER BY interaction_id"
    columns: {{interaction_id: interaction_id, customer_id: customer_id, at: '"at"', kind: kind, channel: channel,
              touchpoint: touchpoint, outcome: outcome, resolved: resolved, csat: csat, nps: nps,
              first_response_minutes: first_response_minutes, cost: cost}}
"""


def test_a_sources_file_of_queries_gives_the_same_tables(postgres_server, demo_schema, small_world, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PASSWORD)  # the named connection carries none: libpq's environment gives it
    path = tmp_path / "sources.yaml"
    path.write_text(QUERY_SOURCES.format(url=postgres_server.url(password=False), direct=postgres_server.url()))
    count = "SELECT kind, outcome, count(*) AS n, sum(epoch(\"at\")) AS t FROM interactions GROUP BY ALL ORDER BY ALL"
    with cxlib.load(small_world) as files, cxlib.load(path) as queried:
        assert queried.report.accepted == files.report.accepted
        assert queried.report.rejected == {"customers": 1, "interactions": 0}
        (reject,) = queried.rejects.itertuples(index=False)
        assert reject.file == f"query 'accounts' on {redact(postgres_server.url().split('?')[0])}"
        assert (reject.key, reject.column, reject.row) == ("QX1", "monthly_value", 2_001), "position in the result"
        assert queried.fingerprint()["sha256"] == files.fingerprint()["sha256"]
        pd.testing.assert_frame_equal(files.query(count), queried.query(count))
        assert PASSWORD not in repr(queried.report.to_dict()) + repr(queried.rejects.to_dict())

    path.write_text(QUERY_SOURCES.format(url=postgres_server.url(password=False), direct=postgres_server.url())
                    .replace("FROM demo.customers", "FROM demo.nope"))
    with pytest.raises(cxlib.DataError, match="source 'accounts': .*relation \"demo.nope\" does not exist") as exc:
        cxlib.load(path)
    assert PASSWORD not in str(exc.value)
