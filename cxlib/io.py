"""Reading and validating interaction data: the only module that reads data files.

``load(path)`` takes a folder holding ``customers.*`` and ``interactions.*`` (CSV or
Parquet) or a DuckDB database file holding tables of those names, and returns a
:class:`Dataset`: the validated, typed tables of design.md's data contract, held in an
in-process DuckDB database, with the rejected rows and the accounting of the load.

How it works, and why this way:

1. **Parsed and checked in one streaming pass per table.** A CSV is read with every column
   as text, so nothing is guessed (``00042`` stays ``00042``, ``NA`` stays ``NA``);
   ``row_number() OVER ()``, which DuckDB computes in file order, gives each row its number.
   Each column is parsed with ``TRY_CAST`` and every rule one row can break yields a
   problem (column, value, reason); the list of problems is built only for rows that break
   one. Parquet and DuckDB columns keep their own types (a stored timestamp is not turned
   into text and parsed back) and meet the same rules. A CSV line the reader cannot split
   into the header's columns is kept by DuckDB's ``store_rejects`` with its line number,
   and the row numbers of the other lines are shifted past it.
2. **Rules across rows on the typed table.** Duplicates come from one ``GROUP BY`` (the
   first occurrence is kept), unknown customers and interactions outside a customer's life
   from one join; both return only the offending rows.
3. **Split.** Every problem goes to ``rejects`` with the file, the row (header = row 1,
   first record = row 2, for CSV, Parquet and DuckDB tables alike), the column, the value
   and the reason; the rejected rows are deleted from the typed tables (cheap: there are
   few), and ``customers`` and ``interactions`` are views of the contract's columns.
   ``accepted + rejected = read`` is checked, not hoped.

The database is in memory, with a memory limit past which DuckDB spills to a temporary
folder: a million customers load in about 2 GB, without the cost of compressing every row
into a database file that is thrown away after the run.

Timestamps are converted to UTC (a value with an offset is shifted, a naive value is taken
as UTC) and stored as naive UTC ``TIMESTAMP``: one clock for every engine. Free-text codes
(``kind``, ``outcome``, ``channel``, ``touchpoint``) are trimmed and lower-cased, so ``Bad``
and `` good`` count as ``bad`` and ``good``; ``segment`` is only trimmed (missing → "all").
"""

from __future__ import annotations

import csv
import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cxlib.exceptions import DataError, RejectedRowsError

TABLES = ("customers", "interactions")
FORMATS = (".csv", ".csv.gz", ".parquet")

#: Required and optional columns of the contract (design.md), in the contract's order.
COLUMNS = {
    "customers": {
        "customer_id": True,
        "signup_at": True,
        "churned_at": True,  # the column must be there; its value is empty while active
        "segment": False,
        "monthly_value": True,
    },
    "interactions": {
        "interaction_id": True,
        "customer_id": True,
        "at": True,
        "kind": True,
        "channel": True,
        "touchpoint": True,
        "outcome": True,
        "resolved": False,
        "csat": False,
        "nps": False,
        "first_response_minutes": False,
        "cost": False,
    },
}
KINDS = ("experience", "service")
OUTCOMES = ("good", "neutral", "bad")
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")

REJECT_COLUMNS = ["file", "row", "column", "value", "reason"]


@dataclass
class LoadReport:
    """What a load read, accepted and set aside, per table."""

    files: dict[str, str]
    read: dict[str, int]
    accepted: dict[str, int]
    rejected: dict[str, int]
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        """The summary a person reads: one line a table."""
        out = []
        for t in TABLES:
            out.append(
                f"{t}: read {self.read[t]:,}, accepted {self.accepted[t]:,}, "
                f"rejected {self.rejected[t]:,}  ({self.files[t]})"
            )
            if self.ignored_columns.get(t):
                out.append(f"  columns not in the contract, ignored: {', '.join(self.ignored_columns[t])}")
        return out

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "ignored_columns": self.ignored_columns,
        }


def fingerprint(data, hashes: dict) -> dict:
    """A data set's fingerprint: accepted rows, first and last timestamps, and a digest of
    ``hashes`` (per table: row count and an order-independent sum of row hashes, computed by
    the engine that holds the rows)."""
    span = data.query(
        'SELECT least((SELECT min(signup_at) FROM customers), (SELECT min("at") FROM interactions)) AS first,'
        ' greatest((SELECT max(signup_at) FROM customers), (SELECT max(churned_at) FROM customers),'
        ' (SELECT max("at") FROM interactions)) AS last'
    ).iloc[0]
    digest = hashlib.sha256()
    for table in TABLES:
        count, total = hashes[table]
        digest.update(f"{table}:{count}:{total};".encode())
    report = data.report
    return {
        "customers": report.accepted["customers"],
        "interactions": report.accepted["interactions"],
        "rejected": report.total_rejected,
        **{k: None if pd.isna(span[k]) else pd.Timestamp(span[k]).isoformat() for k in ("first", "last")},
        "sha256": digest.hexdigest()[:16],
    }


class Dataset:
    """Validated tables in an in-process DuckDB database.

    ``con`` is the DuckDB connection holding the tables ``customers``, ``interactions`` and
    ``rejects``: the heavy steps of cxlib run SQL on it. The pandas properties convert on
    first use and cache; on a million customers prefer SQL on ``con``.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, source: Path, report: LoadReport, workdir: Path | None, as_of=None
    ):
        self.con = con
        self._as_of = None if as_of is None else utc_naive(as_of)
        self.source = source
        self.report = report
        self._workdir = workdir
        self._frames: dict[str, pd.DataFrame] = {}

    #: Which engine runs :meth:`query`; a Spark-backed data set says "spark".
    engine = "duckdb"

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run one aggregation (DuckDB SQL over ``customers`` and ``interactions``) and return
        its small result as a DataFrame. ``params`` bind ``$name`` placeholders.

        Every heavy step of cxlib goes through this method, so the same query text can run
        on another engine holding tables of the same names.
        """
        return self.con.execute(sql, params or {}).df()

    def _frame(self, table: str) -> pd.DataFrame:
        if table not in self._frames:
            self._frames[table] = self.con.table(table).df()
        return self._frames[table]

    @property
    def customers(self) -> pd.DataFrame:
        return self._frame("customers")

    @property
    def interactions(self) -> pd.DataFrame:
        return self._frame("interactions")

    @property
    def rejects(self) -> pd.DataFrame:
        columns = ", ".join(f'"{c}"' for c in REJECT_COLUMNS)
        return self.con.sql(f'SELECT {columns} FROM rejects ORDER BY file, row, "column"').df()

    @property
    def as_of(self) -> pd.Timestamp:
        """The censoring time: as given to :func:`load`, else the latest timestamp in the data."""
        if self._as_of is not None:
            return self._as_of
        value = self.con.execute(
            "SELECT greatest((SELECT max(signup_at) FROM customers), (SELECT max(churned_at) FROM customers),"
            " (SELECT max(\"at\") FROM interactions))"
        ).fetchall()[0][0]
        return pd.Timestamp(value)

    def fingerprint(self) -> dict:
        """Rows, date range and a content hash of the accepted data, for a report's footer."""
        hashes = {}
        for table in TABLES:
            # An order-independent hash of every row: the sum of per-row hashes, in SQL.
            hashes[table] = self.con.execute(
                f"SELECT count(*), coalesce(sum(hash(t) % 1000000007), 0) FROM {table} t"
            ).fetchall()[0]
        return fingerprint(self, hashes)

    def write_rejects(self, path) -> Path:
        """Write every rejected row's problems as CSV (file, row, column, value, reason)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.rejects.to_csv(path, index=False)
        return path

    def close(self) -> None:
        self.con.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        r = self.report
        return (
            f"Dataset({str(self.source)!r}: {r.accepted['customers']:,} customers, "
            f"{r.accepted['interactions']:,} interactions, {r.total_rejected:,} rejected rows)"
        )


def utc_naive(value) -> pd.Timestamp:
    """A timestamp as naive UTC, the one clock of cxlib: offsets converted, naive taken as UTC."""
    ts = pd.Timestamp(value)
    return ts.tz_localize(None) if ts.tzinfo is None else ts.tz_convert("UTC").tz_localize(None)


# ---------------------------------------------------------------------------------------
# Locating the input


def find_sources(path) -> dict[str, tuple[str, Path | str]]:
    """Map each table to ``(format, location)``; raise a DataError naming what is missing."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", file=path)
    if path.is_file():
        if path.suffix.lower() not in (".duckdb", ".db", ".ddb"):
            raise DataError(
                "expected a folder holding customers.* and interactions.*, or a DuckDB database file", file=path
            )
        return {t: ("duckdb", path) for t in TABLES}
    found = {}
    for table in TABLES:
        candidates = [path / f"{table}{ext}" for ext in FORMATS if (path / f"{table}{ext}").exists()]
        if not candidates:
            raise DataError(
                f"missing {table} file: expected {table}.csv, {table}.csv.gz or {table}.parquet in the folder",
                file=path / f"{table}.csv",
            )
        if len(candidates) > 1:
            raise DataError(
                f"more than one {table} file ({', '.join(c.name for c in candidates)}): keep one", file=candidates[0]
            )
        found[table] = ("parquet" if candidates[0].suffix == ".parquet" else "csv", candidates[0])
    return found


# ---------------------------------------------------------------------------------------
# Stage 1: read as text, parse and check each row in the same pass


def _csv_header(file: Path) -> list[str]:
    opener = open
    if file.name.endswith(".gz"):
        import gzip

        opener = gzip.open
    try:
        with opener(file, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc.reason}", file=file) from exc
    except OSError as exc:
        raise DataError(f"unreadable file: {exc}", file=file) from exc
    if not header or not any(h.strip() for h in header):
        raise DataError("empty file: no header row", file=file, row=1)
    return [h.strip() for h in header]


def _check_header(table: str, file, header: list[str]) -> list[str]:
    """Raise on duplicate or missing required columns; return the columns ignored."""
    seen = set()
    for name in header:
        if name in seen:
            raise DataError("duplicate column in the header", file=file, column=name, row=1)
        seen.add(name)
    for name, required in COLUMNS[table].items():
        if required and name not in seen:
            hint = ""
            if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
                hint = f"; the header is one column {header[0]!r}: the file must be comma-separated"
            raise DataError(f"missing required column{hint}", file=file, column=name)
    return [h for h in header if h not in COLUMNS[table]]


def _columns(table: str, present, *, as_text: bool) -> str:
    """Every contract column (as text for CSV, in its own type otherwise); absent ones as NULL."""
    def one(c):
        if c not in present:
            return f'NULL::VARCHAR AS "{c}"'
        return f'CAST("{c}" AS VARCHAR) AS "{c}"' if as_text else f'"{c}"'

    return ", ".join(one(c) for c in COLUMNS[table])


def _source(con, table: str, kind: str, location) -> tuple[str, list[str], dict[str, str]]:
    """SQL of a relation with ``_row`` and every contract column; the ignored columns; their types.

    ``_row`` is the row as in the file (header = row 1). For CSV it comes from
    ``row_number() OVER ()``, which DuckDB computes in file order while streaming; lines the
    reader itself rejects are accounted for afterwards (:func:`_shift_rows`). Parquet and
    DuckDB columns keep their own types, so a typed timestamp is not turned into text and
    parsed back.
    """
    if kind == "csv":
        header = _csv_header(location)
        ignored = _check_header(table, location, header)
        columns = "{" + ", ".join(f"'{h}': 'VARCHAR'" for h in header) + "}"
        scan = (
            f"read_csv('{_sql_path(location)}', header = true, delim = ',', quote = '\"', escape = '\"', "
            f"columns = {columns}, auto_detect = false, null_padding = false, strict_mode = true, "
            f"store_rejects = true, rejects_table = 'reader_rejects_{table}', rejects_scan = 'reader_scans_{table}')"
        )
        sql = f"SELECT row_number() OVER () + 1 AS _row, {_columns(table, header, as_text=True)} FROM {scan}"
        return sql, ignored, {c: "VARCHAR" for c in COLUMNS[table]}
    if kind == "parquet":
        try:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(location)]).fetchall()
        except duckdb.Error as exc:
            raise DataError(f"unreadable Parquet file: {str(exc).splitlines()[0]}", file=location) from exc
        scan, row = f"read_parquet('{_sql_path(location)}', file_row_number = true)", "file_row_number + 2"
    else:
        attached = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
        if "src" not in attached:
            try:
                con.execute(f"ATTACH '{_sql_path(location)}' AS src (READ_ONLY)")
            except duckdb.Error as exc:
                raise DataError(f"unreadable DuckDB database: {str(exc).splitlines()[0]}", file=location) from exc
        try:
            described = con.execute(f"DESCRIBE src.{table}").fetchall()
        except duckdb.Error as exc:
            raise DataError(f"no table named {table} in the database", file=location) from exc
        scan, row = f"src.{table}", "rowid + 2"
    types = {name: str(dtype) for name, dtype, *_ in described}
    ignored = _check_header(table, location, list(types))
    sql = f"SELECT {row} AS _row, {_columns(table, types, as_text=False)} FROM {scan}"
    return sql, ignored, {c: types.get(c, "VARCHAR") for c in COLUMNS[table]}


def _shift_rows(con, table: str) -> int:
    """Move row numbers past the lines the CSV reader rejected; return how many it rejected.

    Rejected line j (1-based, in file order) had a_j = line_j - 2 - (j - 1) accepted rows
    before it; accepted row k (0-based) is then row k + 2 + #{j : a_j <= k}.
    """
    n = con.execute(f"SELECT count(DISTINCT line) FROM reader_rejects_{table}").fetchall()[0][0]
    if n:
        con.execute(
            f"""CREATE TEMP TABLE shift_{table} AS
                SELECT line - 2 - (row_number() OVER (ORDER BY line) - 1) AS before, row_number() OVER (ORDER BY line) AS n
                FROM (SELECT DISTINCT line FROM reader_rejects_{table})"""
        )
        con.execute(
            f"""CREATE OR REPLACE TABLE staged_{table} AS
                SELECT s.* REPLACE (s._row + coalesce(h.n, 0) AS _row)
                FROM staged_{table} s ASOF LEFT JOIN shift_{table} h ON s._row - 2 >= h.before"""
        )
    return n


def _sql_list(words) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _sql_path(path) -> str:
    return str(path).replace("'", "''")


# ---------------------------------------------------------------------------------------
# The rules of the contract: a condition and a reason each


def _problem(condition: str, column: str, reason: str, value: str | None = None) -> str:
    """A SQL struct (column, value, reason) where ``condition`` holds, else NULL."""
    value = value or f'r."{column}"'
    return (
        f"CASE WHEN {condition} THEN {{'column': '{column}', 'value': CAST({value} AS VARCHAR), "
        f"'reason': {reason}}} END"
    )


TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATE")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "FLOAT", "DOUBLE", "REAL")


class RowRules:
    """SQL expressions of the contract's rules for columns of known source types.

    A text column (every column of a CSV) is trimmed, parsed with ``TRY_CAST`` and checked;
    a column a Parquet file or a DuckDB table already stores as a timestamp, a number or a
    boolean is used as it is, without a round trip through text.
    """

    def __init__(self, types: dict[str, str]):
        self.types = {c: t.upper() for c, t in types.items()}

    def _kind(self, column: str) -> str:
        t = self.types.get(column, "VARCHAR")
        if "WITH TIME ZONE" in t or t.startswith("TIMESTAMPTZ"):
            return "timestamptz"
        if t.startswith(TIMESTAMP_TYPES):
            return "timestamp"
        if t.startswith("DECIMAL") or t in NUMBER_TYPES:
            return "number"
        if t == "BOOLEAN":
            return "boolean"
        return "text"

    def raw(self, column: str) -> str:
        return f'r."{column}"'

    def text(self, column: str) -> str:
        """Trimmed text, empty → NULL."""
        if self._kind(column) == "text":
            return f"nullif(trim({self.raw(column)}), '')"
        return f"CAST({self.raw(column)} AS VARCHAR)"

    def code(self, column: str) -> str:
        return f"lower({self.text(column)})"

    def missing(self, column: str) -> str:
        return f"{self.text(column)} IS NULL" if self._kind(column) == "text" else f"{self.raw(column)} IS NULL"

    def timestamp(self, column: str) -> str:
        kind = self._kind(column)
        if kind == "timestamp":
            return f"CAST({self.raw(column)} AS TIMESTAMP)"
        if kind == "timestamptz":  # via TIMESTAMPTZ (any precision); the session's zone is UTC
            return f"CAST(CAST({self.raw(column)} AS TIMESTAMPTZ) AS TIMESTAMP)"
        return f"CAST(TRY_CAST({self.text(column)} AS TIMESTAMPTZ) AS TIMESTAMP)"

    def bad_timestamp(self, column: str) -> str:
        if self._kind(column) in ("timestamp", "timestamptz"):
            return "false"
        return f"({self.text(column)} IS NOT NULL AND TRY_CAST({self.text(column)} AS TIMESTAMPTZ) IS NULL)"

    def number(self, column: str) -> str:
        if self._kind(column) == "number":
            return f"CAST({self.raw(column)} AS DOUBLE)"
        return f"TRY_CAST({self.text(column)} AS DOUBLE)"

    def number_check(self, column: str, *, low=None, high=None, integer=False) -> tuple[str, str, str]:
        """(condition, column, reason) for a present value that is not a finite number in range."""
        n = self.number(column)
        parts = [f"{n} IS NULL", f"NOT isfinite({n})"]
        if low is not None:
            parts.append(f"{n} < {low}")
        if high is not None:
            parts.append(f"{n} > {high}")
        if integer:
            parts.append(f"{n} <> round({n})")
        what = "a whole number" if integer else "a number"
        if low is not None and high is not None:
            what += f" from {low:g} to {high:g}"
        elif low is not None:
            what += f" >= {low:g}"
        return f"(NOT ({self.missing(column)}) AND ({' OR '.join(parts)}))", column, f"'not {what}'"

    def boolean(self, column: str) -> str:
        if self._kind(column) == "boolean":
            return self.raw(column)
        true_words, false_words = _sql_list(TRUE_WORDS), _sql_list(FALSE_WORDS)
        return (
            f"CASE WHEN {self.code(column)} IN ({true_words}) THEN true "
            f"WHEN {self.code(column)} IN ({false_words}) THEN false END"
        )

    def bad_boolean(self, column: str) -> str:
        if self._kind(column) == "boolean":
            return "false"
        return f"{self.code(column)} NOT IN ({_sql_list(TRUE_WORDS + FALSE_WORDS)})"

    def row_checks(self, table: str) -> list[tuple[str, str, str]]:
        """(condition, column, reason) of every rule that one row can break on its own."""
        checks = [
            (self.missing(c), c, "'required value is missing'")
            for c, required in COLUMNS[table].items()
            if required and c != "churned_at"
        ]
        if table == "customers":
            return checks + [
                (self.bad_timestamp("signup_at"), "signup_at", "'unparsable timestamp'"),
                (self.bad_timestamp("churned_at"), "churned_at", "'unparsable timestamp'"),
                (
                    f"{self.timestamp('churned_at')} < {self.timestamp('signup_at')}",
                    "churned_at",
                    f"'churned before signup_at (' || {self.text('signup_at')} || ')'",
                ),
                self.number_check("monthly_value", low=0),
            ]
        experience = f"{self.code('kind')} = 'experience'"
        return checks + [
            (self.bad_timestamp("at"), "at", "'unparsable timestamp'"),
            (f"{self.code('kind')} NOT IN ({_sql_list(KINDS)})", "kind", f"'not one of {', '.join(KINDS)}'"),
            (f"{self.code('outcome')} NOT IN ({_sql_list(OUTCOMES)})", "outcome", f"'not one of {', '.join(OUTCOMES)}'"),
            (self.bad_boolean("resolved"), "resolved", "'not a boolean (true/false)'"),
            (
                f"NOT ({self.missing('resolved')}) AND {experience}",
                "resolved",
                "'set on an experience row: resolved is for service rows'",
            ),
            self.number_check("csat", low=1, high=5, integer=True),
            self.number_check("nps", low=0, high=10, integer=True),
            self.number_check("first_response_minutes", low=0),
            (
                f"NOT ({self.missing('first_response_minutes')}) AND {experience}",
                "first_response_minutes",
                "'set on an experience row: first_response_minutes is for service rows'",
            ),
            self.number_check("cost", low=0),
        ]

    def typed_columns(self, table: str) -> str:
        if table == "customers":
            return f"""{self.text('customer_id')} AS customer_id, {self.timestamp('signup_at')} AS signup_at,
                       {self.timestamp('churned_at')} AS churned_at, coalesce({self.text('segment')}, 'all') AS segment,
                       {self.number('monthly_value')} AS monthly_value"""
        return f"""{self.text('interaction_id')} AS interaction_id, {self.text('customer_id')} AS customer_id,
                   {self.timestamp('at')} AS "at", {self.code('kind')} AS kind, {self.code('channel')} AS channel,
                   {self.code('touchpoint')} AS touchpoint, {self.code('outcome')} AS outcome,
                   {self.boolean('resolved')} AS resolved,
                   CAST(round({self.number('csat')}) AS TINYINT) AS csat,
                   CAST(round({self.number('nps')}) AS TINYINT) AS nps,
                   {self.number('first_response_minutes')} AS first_response_minutes, {self.number('cost')} AS cost"""


def _stage(con, table: str, source_sql: str, types: dict[str, str]) -> None:
    """staged_<table>: _row, the typed columns, and the list of problems of a failing row.

    The conditions are evaluated once per row; the list of problems is built only for the
    rows that break a rule (CASE evaluates its branch on those rows alone).
    """
    rules = RowRules(types)
    checks = rules.row_checks(table)
    # TRY_CAST of a bad value is NULL: every condition is wrapped so NULL counts as "no problem".
    any_bad = " OR ".join(f"coalesce({c}, false)" for c, _, _ in checks)
    problems = ", ".join(_problem(f"coalesce({c}, false)", col, reason) for c, col, reason in checks)
    con.execute(
        f"""CREATE TABLE staged_{table} AS
            SELECT r._row, {rules.typed_columns(table)},
                   CASE WHEN {any_bad} THEN list_filter([{problems}], lambda p: p IS NOT NULL) END AS problems
            FROM ({source_sql}) r"""
    )


# ---------------------------------------------------------------------------------------
# Stage 2: rules across rows, on the typed table; then the split


def _relational_problems(con, table: str, label: str) -> None:
    """Duplicates, and for interactions their customer: only the offending rows come back."""
    f = label.replace("'", "''")
    key = "customer_id" if table == "customers" else "interaction_id"
    con.execute(
        f"""CREATE TEMP TABLE dup_{table} AS SELECT {key} AS id, min(_row) AS first_row
            FROM staged_{table} WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"""
    )
    con.execute(
        f"""INSERT INTO rejects SELECT '{f}', s._row, '{key}', s.{key},
                'duplicate {key} (first at row ' || d.first_row || ')'
            FROM staged_{table} s JOIN dup_{table} d ON s.{key} = d.id WHERE s._row > d.first_row"""
    )
    if table == "customers":
        return
    stamp = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"
    con.execute(
        f"""INSERT INTO rejects
            SELECT '{f}', _row, p.column, p.value, p.reason FROM (
                SELECT s._row, unnest(list_filter([
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': 'unknown customer_id: not in the customers file'}} END,
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NOT NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': 'customer_id was rejected in the customers file (row ' || rc.first_row || ')'}} END,
                    CASE WHEN s."at" < c.signup_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'before the customer''s signup_at (' || {stamp.format('c.signup_at')} || ')'}} END,
                    CASE WHEN s."at" > c.churned_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'after the customer churned (' || {stamp.format('c.churned_at')} || ')'}} END
                ], lambda p: p IS NOT NULL)) AS p
                FROM staged_interactions s
                LEFT JOIN customers c ON s.customer_id = c.customer_id
                LEFT JOIN rejected_customer_ids rc ON s.customer_id = rc.customer_id
                WHERE s.customer_id IS NOT NULL
                  AND (c.customer_id IS NULL OR s."at" < c.signup_at OR s."at" > c.churned_at))"""
    )


def _split(con, table: str, label: str) -> None:
    """Row problems to ``rejects``; rejected rows out of the staged table; the contract's view."""
    f = label.replace("'", "''")
    con.execute(
        f"""INSERT INTO rejects SELECT '{f}', _row, p.column, p.value, p.reason
            FROM (SELECT _row, unnest(problems) AS p FROM staged_{table} WHERE problems IS NOT NULL)"""
    )
    if table == "customers":
        # Interactions of a customer whose every row was rejected are set aside with that reason.
        con.execute(
            f"""CREATE TEMP TABLE rejected_customer_ids AS
                SELECT customer_id, min(_row) AS first_row FROM staged_customers
                WHERE customer_id IS NOT NULL AND _row IN (SELECT row FROM rejects WHERE file = '{f}')
                  AND customer_id NOT IN (
                      SELECT customer_id FROM staged_customers WHERE customer_id IS NOT NULL
                        AND _row NOT IN (SELECT row FROM rejects WHERE file = '{f}'))
                GROUP BY 1"""
        )
    con.execute(f"DELETE FROM staged_{table} WHERE _row IN (SELECT row FROM rejects WHERE file = '{f}')")
    columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
    con.execute(f"CREATE VIEW {table} AS SELECT {columns} FROM staged_{table}")


def _reader_rejects(con, table: str, file_label: str) -> None:
    """The CSV reader's own rejects (a line with too few or too many fields, bad quoting): one a line."""
    f = file_label.replace("'", "''")
    con.execute(
        f"""INSERT INTO rejects SELECT '{f}', line, coalesce(arg_min(column_name, column_idx), ''), any_value(csv_line),
                CASE any_value(error_type)
                  WHEN 'MISSING COLUMNS' THEN 'too few fields on the line'
                  WHEN 'TOO MANY COLUMNS' THEN 'too many fields on the line'
                  WHEN 'UNQUOTED VALUE' THEN 'badly quoted value'
                  WHEN 'INVALID ENCODING' THEN 'not UTF-8 text'
                  ELSE lower(CAST(any_value(error_type) AS VARCHAR)) END
            FROM reader_rejects_{table} GROUP BY line"""
    )


# ---------------------------------------------------------------------------------------
# The entry point


def load(path, *, strict: bool = False, rejects_path=None, as_of=None, memory_limit: str = "2GB") -> Dataset:
    """Read and validate a data set; return a :class:`Dataset`.

    Parameters
    ----------
    path:
        A folder holding ``customers.csv|.csv.gz|.parquet`` and ``interactions.*``, or a
        DuckDB database file with tables ``customers`` and ``interactions``.
    strict:
        Raise :class:`RejectedRowsError` when any row was set aside (after writing
        ``rejects_path`` if given). By default rejects are kept and the load goes on.
    rejects_path:
        Where to write the rejected rows as CSV (file, row, column, value, reason).
    as_of:
        Censoring time for customers still active (UTC if naive); default: the latest
        timestamp in the data (design.md).
    memory_limit:
        DuckDB's memory limit; past it, DuckDB spills to the temporary folder.

    Raises
    ------
    DataError
        A structural problem: a missing, empty or unreadable file, a missing required or a
        duplicate column. Its message names the file and the column.
    """
    source = Path(path)
    sources = find_sources(source)
    workdir = Path(tempfile.mkdtemp(prefix="cxlab-load-"))
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB prints a progress bar on stdout for a query over 2 s: it would corrupt every --json output.
        try:
            con.execute("SET enable_progress_bar = false")
        except duckdb.InvalidInputException:
            pass  # in a Jupyter kernel without ipywidgets DuckDB refuses any progress-bar setting, and draws none
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{_sql_path(workdir / 'spill')}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute('CREATE TABLE rejects (file VARCHAR, row BIGINT, "column" VARCHAR, value VARCHAR, reason VARCHAR)')
        files, read, accepted, rejected, ignored = {}, {}, {}, {}, {}
        for table in TABLES:
            kind, location = sources[table]
            label = f"{location}" if kind != "duckdb" else f"{location}:{table}"
            files[table] = label
            source_sql, ignored[table], types = _source(con, table, kind, location)
            try:
                _stage(con, table, source_sql, types)
            except duckdb.Error as exc:
                raise DataError(f"unreadable file: {str(exc).splitlines()[0]}", file=label) from exc
            reader_rejects = 0
            if kind == "csv":
                reader_rejects = _shift_rows(con, table)
                _reader_rejects(con, table, label)
            read[table] = con.execute(f"SELECT count(*) FROM staged_{table}").fetchall()[0][0] + reader_rejects
            if read[table] == 0:
                raise DataError("empty file: a header but no data rows", file=label, row=2)
            _relational_problems(con, table, label)
            _split(con, table, label)
            accepted[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            rejected[table] = con.execute(
                "SELECT count(DISTINCT row) FROM rejects WHERE file = ?", [label]
            ).fetchall()[0][0]
            if accepted[table] + rejected[table] != read[table]:  # pragma: no cover - a bug, not bad data
                raise AssertionError(
                    f"{label}: accepted {accepted[table]} + rejected {rejected[table]} != read {read[table]}"
                )
        if any(kind == "duckdb" for kind, _ in sources.values()):
            con.execute("DETACH src")
        report = LoadReport(files, read, accepted, rejected, {t: v for t, v in ignored.items() if v})
    except BaseException:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    data = Dataset(con, source, report, workdir, as_of=as_of)
    if rejects_path is not None:
        data.write_rejects(rejects_path)
    if strict and report.total_rejected:
        first = data.con.execute('SELECT file, row, "column", reason FROM rejects ORDER BY file, row LIMIT 1').fetchall()[0]
        data.close()
        raise RejectedRowsError(
            f"{report.total_rejected} row(s) rejected in strict mode; first: {first[3]}",
            file=first[0],
            row=first[1],
            column=first[2],
        )
    return data
