"""Reading and validating interaction data: the only module that reads data files.

``load(path)`` takes a folder holding ``customers.*`` and ``interactions.*`` (CSV or
Parquet) or a DuckDB database file holding tables of those names, and returns a
:class:`Dataset`: the validated, typed tables of design.md's data contract, held in an
in-process DuckDB database, with the rejected rows and the accounting of the load.

How it works, and why this way:

1. **Raw, as text.** Every column is read as text (``all_varchar``) into a temporary
   on-disk DuckDB database, so nothing is guessed (``00042`` stays ``00042``, ``NA`` stays
   ``NA``) and the table's ``rowid`` keeps the order of the file. A CSV line the reader
   cannot split into the header's columns is kept by DuckDB's ``store_rejects`` with its
   line number; the row numbers of the accepted lines are shifted past those.
2. **Checked in one SQL pass per table.** Each column is parsed with ``TRY_CAST`` and
   every rule of the contract yields a problem (column, value, reason) where it fails.
   Duplicates are found with one ``GROUP BY`` (the first occurrence is kept), customers of
   interactions with one join.
3. **Split.** Rows without a problem form the typed tables ``customers`` and
   ``interactions``; every problem of the others goes to ``rejects`` with the file, the row
   (header = row 1, first record = row 2, for CSV, Parquet and DuckDB tables alike), the
   column, the value and the reason. ``accepted + rejected = read`` is checked, not hoped.

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
        return self.con.sql('SELECT file, row, "column", value, reason FROM rejects ORDER BY file, row, "column"').df()

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
        (first, last) = self.con.execute(
            "SELECT least((SELECT min(signup_at) FROM customers), (SELECT min(\"at\") FROM interactions)),"
            " greatest((SELECT max(signup_at) FROM customers), (SELECT max(churned_at) FROM customers),"
            " (SELECT max(\"at\") FROM interactions))"
        ).fetchall()[0]
        digest = hashlib.sha256()
        for table, key in (("customers", "customer_id"), ("interactions", "interaction_id")):
            # An order-independent hash of every row: the sum of per-row hashes, in SQL.
            row_hash = self.con.execute(
                f"SELECT count(*), coalesce(sum(hash(t) % 1000000007), 0) FROM {table} t"
            ).fetchall()[0]
            digest.update(f"{table}:{row_hash[0]}:{row_hash[1]};".encode())
        return {
            "customers": self.report.accepted["customers"],
            "interactions": self.report.accepted["interactions"],
            "rejected": self.report.total_rejected,
            "first": None if first is None else pd.Timestamp(first).isoformat(),
            "last": None if last is None else pd.Timestamp(last).isoformat(),
            "sha256": digest.hexdigest()[:16],
        }

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
# Stage 1: raw text with file row numbers


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


def _raw_csv(con, table: str, file: Path) -> tuple[int, list[str]]:
    """Read a CSV as text into raw_<table> with a _row column; return (lines rejected by the reader, ignored)."""
    header = _csv_header(file)
    ignored = _check_header(table, file, header)
    columns = "{" + ", ".join(f"'{h}': 'VARCHAR'" for h in header) + "}"
    try:
        con.execute(
            f"""CREATE TABLE raw_{table}_text AS SELECT * FROM read_csv(?, header = true, delim = ',', quote = '"',
                escape = '"', columns = {columns}, auto_detect = false, null_padding = false, strict_mode = true,
                store_rejects = true, rejects_table = 'reader_rejects_{table}', rejects_scan = 'reader_scans_{table}',
                encoding = 'utf-8')""",
            [str(file)],
        )
    except duckdb.Error as exc:
        raise DataError(f"unreadable CSV: {str(exc).splitlines()[0]}", file=file) from exc
    # Accepted line k (rowid, 0-based) sits after the reader's rejected lines that came before
    # it. Rejected line j (1-based, in file order) had a_j = line_j - 2 - (j - 1) accepted
    # rows before it; so row(k) = k + 2 + #{j : a_j <= k}. Computed as a join on a small table.
    con.execute(
        f"""CREATE TEMP TABLE shift_{table} AS
            SELECT line - 2 - (row_number() OVER (ORDER BY line) - 1) AS before, row_number() OVER (ORDER BY line) AS n
            FROM (SELECT DISTINCT line FROM reader_rejects_{table})"""
    )
    n_reader_rejects = con.execute(f"SELECT count(*) FROM shift_{table}").fetchall()[0][0]
    if n_reader_rejects == 0:
        row_expr = "r.rowid + 2"
        join = ""
    else:
        row_expr = "r.rowid + 2 + coalesce(s.n, 0)"
        join = f"ASOF LEFT JOIN shift_{table} s ON r.rowid >= s.before"
    select = ", ".join(f'r."{c}"' if c in header else f'NULL::VARCHAR AS "{c}"' for c in COLUMNS[table])
    con.execute(f"CREATE TABLE raw_{table} AS SELECT {row_expr} AS _row, {select} FROM raw_{table}_text r {join}")
    con.execute(f"DROP TABLE raw_{table}_text")
    return n_reader_rejects, ignored


def _raw_relation(con, table: str, location, kind: str) -> list[str]:
    """Parquet or a DuckDB table: read as text into raw_<table>; return ignored columns."""
    if kind == "parquet":
        try:
            names = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(location)]).fetchall()]
        except duckdb.Error as exc:
            raise DataError(f"unreadable Parquet file: {str(exc).splitlines()[0]}", file=location) from exc
        source = f"read_parquet('{_sql_path(location)}', file_row_number = true)"
        row_expr = "file_row_number + 2"
    else:
        if not any(r[0] == "src" for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()):
            try:
                con.execute(f"ATTACH '{_sql_path(location)}' AS src (READ_ONLY)")
            except duckdb.Error as exc:
                raise DataError(f"unreadable DuckDB database: {str(exc).splitlines()[0]}", file=location) from exc
        try:
            names = [r[0] for r in con.execute(f"DESCRIBE src.{table}").fetchall()]
        except duckdb.Error as exc:
            raise DataError(f"no table named {table} in the database", file=location) from exc
        source = f"src.{table}"
        row_expr = "rowid + 2"
    ignored = _check_header(table, location, names)
    select = ", ".join(
        f'CAST("{c}" AS VARCHAR) AS "{c}"' if c in names else f'NULL::VARCHAR AS "{c}"' for c in COLUMNS[table]
    )
    con.execute(f"CREATE TABLE raw_{table} AS SELECT {row_expr} AS _row, {select} FROM {source}")
    return ignored


def _sql_path(path) -> str:
    return str(path).replace("'", "''")


# ---------------------------------------------------------------------------------------
# Stage 2: the rules of the contract, one problem per broken rule


def _problem(condition: str, column: str, reason: str) -> str:
    """A SQL struct (column, value, reason) where ``condition`` holds, else NULL."""
    return (
        f"CASE WHEN {condition} THEN {{'column': '{column}', 'value': r.\"{column}\", "
        f"'reason': {reason}}} END"
    )


def _text(column: str) -> str:
    """Trimmed text, empty → NULL."""
    return f"nullif(trim(r.\"{column}\"), '')"


def _code(column: str) -> str:
    return f"lower({_text(column)})"


def _missing(column: str) -> str:
    return f"{_text(column)} IS NULL"


def _timestamp(column: str) -> str:
    return f"CAST(TRY_CAST({_text(column)} AS TIMESTAMPTZ) AS TIMESTAMP)"


def _bad_timestamp(column: str) -> str:
    return f"({_text(column)} IS NOT NULL AND TRY_CAST({_text(column)} AS TIMESTAMPTZ) IS NULL)"


def _number(column: str) -> str:
    return f"TRY_CAST({_text(column)} AS DOUBLE)"


def _bad_number(column: str, *, low: float | None = None, high: float | None = None, integer=False) -> tuple[str, str]:
    """(condition, reason) for a present value that is not a finite number in its range."""
    n = _number(column)
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
    condition = f"({_text(column)} IS NOT NULL AND ({' OR '.join(parts)}))"
    return condition, f"'not {what}'"


def _customer_checks() -> list[str]:
    value_bad, value_reason = _bad_number("monthly_value", low=0)
    checks = [
        _problem(_missing("customer_id"), "customer_id", "'required value is missing'"),
        _problem(_missing("signup_at"), "signup_at", "'required value is missing'"),
        _problem(_bad_timestamp("signup_at"), "signup_at", "'unparsable timestamp'"),
        _problem(_bad_timestamp("churned_at"), "churned_at", "'unparsable timestamp'"),
        _problem(
            f"{_timestamp('churned_at')} < {_timestamp('signup_at')}",
            "churned_at",
            f"'churned before signup_at (' || {_text('signup_at')} || ')'",
        ),
        _problem(_missing("monthly_value"), "monthly_value", "'required value is missing'"),
        _problem(value_bad, "monthly_value", value_reason),
        _problem(
            "d.first_row IS NOT NULL AND r._row > d.first_row",
            "customer_id",
            "'duplicate customer_id (first at row ' || d.first_row || ')'",
        ),
    ]
    return checks


def _interaction_checks() -> list[str]:
    service = f"{_code('kind')} = 'service'"
    csat_bad, csat_reason = _bad_number("csat", low=1, high=5, integer=True)
    nps_bad, nps_reason = _bad_number("nps", low=0, high=10, integer=True)
    frm_bad, frm_reason = _bad_number("first_response_minutes", low=0)
    cost_bad, cost_reason = _bad_number("cost", low=0)
    bools = ", ".join(f"'{w}'" for w in TRUE_WORDS + FALSE_WORDS)
    at = _timestamp("at")
    checks = [
        _problem(_missing("interaction_id"), "interaction_id", "'required value is missing'"),
        _problem(
            "d.first_row IS NOT NULL AND r._row > d.first_row",
            "interaction_id",
            "'duplicate interaction_id (first at row ' || d.first_row || ')'",
        ),
        _problem(_missing("customer_id"), "customer_id", "'required value is missing'"),
        _problem(
            f"{_text('customer_id')} IS NOT NULL AND c.customer_id IS NULL AND rc.first_row IS NULL",
            "customer_id",
            "'unknown customer_id: not in the customers file'",
        ),
        _problem(
            f"c.customer_id IS NULL AND rc.first_row IS NOT NULL",
            "customer_id",
            "'customer_id was rejected in the customers file (row ' || rc.first_row || ')'",
        ),
        _problem(_missing("at"), "at", "'required value is missing'"),
        _problem(_bad_timestamp("at"), "at", "'unparsable timestamp'"),
        _problem(
            f"{at} < c.signup_at",
            "at",
            "'before the customer''s signup_at (' || strftime(c.signup_at, '%Y-%m-%dT%H:%M:%SZ') || ')'",
        ),
        _problem(
            f"{at} > c.churned_at",
            "at",
            "'after the customer churned (' || strftime(c.churned_at, '%Y-%m-%dT%H:%M:%SZ') || ')'",
        ),
        _problem(_missing("kind"), "kind", "'required value is missing'"),
        _problem(
            f"{_code('kind')} NOT IN ('experience', 'service')",
            "kind",
            "'not one of experience, service'",
        ),
        _problem(_missing("channel"), "channel", "'required value is missing'"),
        _problem(_missing("touchpoint"), "touchpoint", "'required value is missing'"),
        _problem(_missing("outcome"), "outcome", "'required value is missing'"),
        _problem(
            f"{_code('outcome')} NOT IN ('good', 'neutral', 'bad')",
            "outcome",
            "'not one of good, neutral, bad'",
        ),
        _problem(
            f"{_code('resolved')} IS NOT NULL AND {_code('resolved')} NOT IN ({bools})",
            "resolved",
            "'not a boolean (true/false)'",
        ),
        _problem(
            f"{_code('resolved')} IS NOT NULL AND {_code('kind')} = 'experience'",
            "resolved",
            "'set on an experience row: resolved is for service rows'",
        ),
        _problem(csat_bad, "csat", csat_reason),
        _problem(nps_bad, "nps", nps_reason),
        _problem(frm_bad, "first_response_minutes", frm_reason),
        _problem(
            f"{_text('first_response_minutes')} IS NOT NULL AND NOT ({service})",
            "first_response_minutes",
            "'set on an experience row: first_response_minutes is for service rows'",
        ),
        _problem(cost_bad, "cost", cost_reason),
    ]
    return checks


def _checked(con, table: str, file_label: str) -> None:
    """Create checked_<table>: typed columns plus the list of problems of each row."""
    f = file_label.replace("'", "''")
    if table == "customers":
        con.execute(
            """CREATE TEMP TABLE dup_customers AS SELECT nullif(trim(customer_id), '') AS id, min(_row) AS first_row
               FROM raw_customers GROUP BY 1 HAVING count(*) > 1 AND id IS NOT NULL"""
        )
        problems = ", ".join(_customer_checks())
        con.execute(
            f"""CREATE TABLE checked_customers AS
            SELECT r._row,
                   {_text('customer_id')} AS customer_id,
                   {_timestamp('signup_at')} AS signup_at,
                   {_timestamp('churned_at')} AS churned_at,
                   coalesce({_text('segment')}, 'all') AS segment,
                   {_number('monthly_value')} AS monthly_value,
                   list_filter([{problems}], lambda p: p IS NOT NULL) AS problems
            FROM raw_customers r LEFT JOIN dup_customers d ON {_text('customer_id')} = d.id"""
        )
    else:
        con.execute(
            """CREATE TEMP TABLE dup_interactions AS SELECT nullif(trim(interaction_id), '') AS id, min(_row) AS first_row
               FROM raw_interactions GROUP BY 1 HAVING count(*) > 1 AND id IS NOT NULL"""
        )
        # Customers rejected in their own file: their interactions are set aside with that reason.
        con.execute(
            """CREATE TEMP TABLE rejected_customer_ids AS SELECT customer_id, min(_row) AS first_row
               FROM checked_customers WHERE len(problems) > 0 AND customer_id IS NOT NULL
                 AND customer_id NOT IN (SELECT customer_id FROM customers) GROUP BY 1"""
        )
        problems = ", ".join(_interaction_checks())
        resolved = (
            f"CASE WHEN {_code('resolved')} IN ({', '.join(repr(w) for w in TRUE_WORDS)}) THEN true "
            f"WHEN {_code('resolved')} IN ({', '.join(repr(w) for w in FALSE_WORDS)}) THEN false END"
        )
        con.execute(
            f"""CREATE TABLE checked_interactions AS
            SELECT r._row,
                   {_text('interaction_id')} AS interaction_id,
                   {_text('customer_id')} AS customer_id,
                   {_timestamp('at')} AS at,
                   {_code('kind')} AS kind,
                   {_code('channel')} AS channel,
                   {_code('touchpoint')} AS touchpoint,
                   {_code('outcome')} AS outcome,
                   {resolved} AS resolved,
                   CAST({_number('csat')} AS TINYINT) AS csat,
                   CAST({_number('nps')} AS TINYINT) AS nps,
                   {_number('first_response_minutes')} AS first_response_minutes,
                   {_number('cost')} AS cost,
                   list_filter([{problems}], lambda p: p IS NOT NULL) AS problems
            FROM raw_interactions r
            LEFT JOIN dup_interactions d ON {_text('interaction_id')} = d.id
            LEFT JOIN customers c ON {_text('customer_id')} = c.customer_id
            LEFT JOIN rejected_customer_ids rc ON {_text('customer_id')} = rc.customer_id"""
        )
    # Stage 3: split. Problems of rejected rows go to `rejects`, one line each.
    con.execute(
        f"""INSERT INTO rejects SELECT '{f}', _row, p.column, p.value, p.reason
            FROM (SELECT _row, unnest(problems) AS p FROM checked_{table} WHERE len(problems) > 0)"""
    )
    columns = ", ".join(f'"{c}"' for c in COLUMNS[table])
    con.execute(f"CREATE TABLE {table} AS SELECT {columns} FROM checked_{table} WHERE len(problems) = 0 ORDER BY _row")


def _reader_rejects(con, table: str, file_label: str) -> None:
    """The CSV reader's own rejects (a line with too few or too many fields, bad quoting)."""
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


def load(path, *, strict: bool = False, rejects_path=None, as_of=None, memory_limit: str = "3GB") -> Dataset:
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
    con = duckdb.connect(str(workdir / "validated.duckdb"))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{_sql_path(workdir / 'spill')}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            "CREATE TABLE rejects (file VARCHAR, row BIGINT, \"column\" VARCHAR, value VARCHAR, reason VARCHAR)"
        )
        files, read, accepted, rejected, ignored = {}, {}, {}, {}, {}
        for table in TABLES:
            kind, location = sources[table]
            label = f"{location}" if kind != "duckdb" else f"{location}:{table}"
            files[table] = label
            reader_rejects = 0
            if kind == "csv":
                reader_rejects, ignored[table] = _raw_csv(con, table, location)
                _reader_rejects(con, table, label)
            else:
                ignored[table] = _raw_relation(con, table, location, kind)
            n_raw = con.execute(f"SELECT count(*) FROM raw_{table}").fetchall()[0][0]
            if n_raw + reader_rejects == 0:
                raise DataError("empty file: a header but no data rows", file=label, row=2)
            _checked(con, table, label)
            read[table] = n_raw + reader_rejects
            accepted[table] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            rejected[table] = con.execute(
                "SELECT count(DISTINCT row) FROM rejects WHERE file = ?", [label]
            ).fetchall()[0][0]
            if accepted[table] + rejected[table] != read[table]:  # pragma: no cover - a bug, not bad data
                raise AssertionError(
                    f"{label}: accepted {accepted[table]} + rejected {rejected[table]} != read {read[table]}"
                )
            con.execute(f"DROP TABLE raw_{table}")
        for table in TABLES:
            con.execute(f"DROP TABLE checked_{table}")
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
        first = data.con.execute(
            'SELECT file, row, "column", reason FROM rejects ORDER BY file, row LIMIT 1'
        ).fetchall()[0]
        data.close()
        raise RejectedRowsError(
            f"{report.total_rejected} row(s) rejected in strict mode; first: {first[3]}",
            file=first[0],
            row=first[1],
            column=first[2],
        )
    return data
