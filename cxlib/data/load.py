"""Reading and validating interaction data: the only module that reads data files.

``load(path)`` takes a folder holding ``customers.*`` and ``interactions.*`` (CSV or
Parquet), a DuckDB database file holding tables of those names, or a ``postgresql://``
connection string whose schema holds them (read by :mod:`cxlib.data.postgres`), and returns a
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
   first record = row 2, for CSV, Parquet and DuckDB tables alike; none for a PostgreSQL
   table), the key of the row (``customer_id`` / ``interaction_id``: what names a database
   row), the column, the value and the reason; the rejected rows are deleted from the typed tables (cheap: there are
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

import codecs
import csv
import hashlib
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from cxlib.config import MAX_AMOUNT, MAX_RESPONSE_MINUTES
from cxlib.exceptions import DataError, RejectedRowsError
from cxlib.data.postgres import redact

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

#: A reject names its file and row (header = row 1), or for a database table its key; every
#: reject carries the key of its row where the row has one.
REJECT_COLUMNS = ["file", "row", "key", "column", "value", "reason"]
KEYS = {"customers": "customer_id", "interactions": "interaction_id"}


@dataclass
class LoadReport:
    """What a load read, accepted and set aside, per table; and the clock it read the data by."""

    files: dict[str, str]
    read: dict[str, int]
    accepted: dict[str, int]
    rejected: dict[str, int]
    ignored_columns: dict[str, list[str]] = field(default_factory=dict)
    #: The censoring time in effect (naive UTC, ISO 8601) and whether it was given.
    as_of: str | None = None
    as_of_given: bool = False
    #: The moment of loading (naive UTC): no signup or interaction may be after it.
    loaded_at: str | None = None
    #: Customers whose churned_at is after as_of (scheduled cancellations, far-future
    #: "active" values such as 9999-12-31): still customers at as_of.
    churned_after_as_of: int = 0
    #: churned_at values without a time of day, read as the end of that day.
    date_only_churned: int = 0
    timezone: str = "UTC"
    encoding: str = "utf-8"

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def lines(self) -> list[str]:
        """The summary a person reads: one line a table, then the clock."""
        out = []
        for t in TABLES:
            out.append(
                f"{t}: read {self.read[t]:,}, accepted {self.accepted[t]:,}, "
                f"rejected {self.rejected[t]:,}  ({self.files[t]})"
            )
            if self.ignored_columns.get(t):
                out.append(f"  columns not in the contract, ignored: {', '.join(self.ignored_columns[t])}")
        if self.as_of is not None:
            how = "as given" if self.as_of_given else (
                f"the latest value in the data not after the load at {self.loaded_at}Z"
            )
            out.append(f"as of {self.as_of}Z ({how})")
        out.append(
            f"clock: naive timestamps read as {self.timezone}, stored as UTC; a churned_at without a time "
            f"means the end of that day ({self.date_only_churned:,} such value(s)), a signup_at its start"
        )
        if self.churned_after_as_of:
            out.append(
                f"{self.churned_after_as_of:,} customer(s) with a churned_at after as_of (a scheduled "
                "cancellation or a far-future 'active' value such as 9999-12-31): still customers at as_of"
            )
        return out

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "read": self.read,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "ignored_columns": self.ignored_columns,
            "as_of": self.as_of,
            "as_of_given": self.as_of_given,
            "loaded_at": self.loaded_at,
            "churned_after_as_of": self.churned_after_as_of,
            "date_only_churned": self.date_only_churned,
            "timezone": self.timezone,
            "encoding": self.encoding,
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
        return _rejects_frame(self.con)

    @property
    def as_of(self) -> pd.Timestamp:
        """The censoring time: as given to :func:`load`, else the latest timestamp in the data
        that is not after the moment of loading."""
        if self._as_of is not None:
            return self._as_of
        value = self.con.execute(
            AS_OF_SQL.format(customers="customers", interactions="interactions"), {"now": load_moment()}
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
        return _write_rejects(self.rejects, path)

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
            f"Dataset({redact(self.source)!r}: {r.accepted['customers']:,} customers, "
            f"{r.accepted['interactions']:,} interactions, {r.total_rejected:,} rejected rows)"
        )


def utc_naive(value, *, timezone: str = "UTC") -> pd.Timestamp:
    """A timestamp as naive UTC, the one clock of cxlib: offsets converted, naive taken as in
    ``timezone`` (UTC by default)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"not a timestamp: {value!r} ({exc})") from None
    if pd.isna(ts):
        raise ValueError(f"not a timestamp: {value!r}")
    if ts.tzinfo is None:
        if timezone.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
            return ts
        ts = ts.tz_localize(timezone)
    return ts.tz_convert("UTC").tz_localize(None)


def _write_rejects(frame: pd.DataFrame, path) -> Path:
    """Rejected rows as CSV (file, row, column, value, reason)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------------------
# Locating the input


def find_sources(path) -> dict[str, tuple[str, Path | str]]:
    """Map each table to ``(format, location)``; raise a DataError naming what is missing."""
    from cxlib.data import postgres

    if postgres.is_postgres(path):
        tables = postgres.Tables(path)
        return {t: ("postgresql", tables) for t in TABLES}
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


def _opener(file: Path):
    if file.name.endswith(".gz"):
        import gzip

        return gzip.open
    return open


#: Encodings that need no conversion: DuckDB's reader reads UTF-8 (a byte-order mark is skipped).
UTF8_NAMES = ("utf-8", "utf8", "utf-8-sig", "utf_8", "utf_8_sig")


def _check_utf8(file: Path) -> None:
    """The whole file is UTF-8, or a DataError names its first line that is not.

    Decided once for the whole file, in one streaming pass: a file whose first odd byte is
    far down is refused like one whose first byte is odd, never read in part.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    try:
        with _opener(file)(file, "rb") as fh:
            head = fh.read(4)
            if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
                raise DataError("UTF-16 text, not UTF-8: save the file as UTF-8 or give encoding='utf-16'", file=file)
            chunk = head
            while True:
                try:
                    decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    at = max(0, min(exc.start, len(chunk) - 1))
                    bad = chunk[at:at + 1].hex() or "end of file"
                    where = line + chunk.count(b"\n", 0, at)
                    raise DataError(
                        f"not UTF-8 text: line {where} holds byte 0x{bad}; give the "
                        "file's encoding (encoding='latin-1' in cxlib.load, --encoding latin-1 on the commands) "
                        "or save it as UTF-8",
                        file=file,
                    ) from None
                if not chunk:
                    return
                line += chunk.count(b"\n")
                chunk = fh.read(1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"unreadable file: {getattr(exc, 'strerror', None) or exc}", file=file) from None


def _transcode(file: Path, encoding: str, target: Path) -> Path:
    """``file`` decoded from ``encoding``, written as UTF-8 to ``target`` (streamed)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    try:
        with _opener(file)(file, "rt", encoding=encoding, newline="") as src, open(
            target, "w", encoding="utf-8", newline=""
        ) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeDecodeError as exc:
        raise DataError(f"not {encoding} text: {exc.reason}", file=file) from None
    except OSError as exc:
        raise DataError(f"unreadable file: {exc.strerror or exc}", file=file) from None
    return target


def _csv_header(file: Path) -> list[str]:
    try:
        with _opener(file)(file, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc.reason}", file=file) from exc
    except csv.Error as exc:  # e.g. a first line of megabytes without a separator
        raise DataError(f"unreadable header (row 1): {exc}", file=file) from None
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


def quote_identifier(name: str) -> str:
    """A name as a DuckDB identifier, whatever it holds (quotes, expressions, ``it's``)."""
    return '"' + str(name).replace('"', '""') + '"'


def _columns(table: str, present, *, as_text: bool) -> str:
    """Every contract column (as text for CSV, in its own type otherwise); absent ones as NULL."""
    def one(c):
        q = quote_identifier(c)
        if c not in present:
            return f"NULL::VARCHAR AS {q}"
        return f"CAST({q} AS VARCHAR) AS {q}" if as_text else q

    return ", ".join(one(c) for c in COLUMNS[table])


def _source(con, table: str, kind: str, location, *, read_from=None) -> tuple[str, list[str], dict[str, str], dict]:
    """SQL of a relation with ``_row`` and every contract column; the ignored columns; their
    types; the values the SQL binds (paths and header names are parameters, never SQL text).

    ``_row`` is the row as in the file (header = row 1). For CSV it comes from
    ``row_number() OVER ()``, which DuckDB computes in file order while streaming; lines the
    reader itself rejects are accounted for afterwards (:func:`_shift_rows`). Parquet and
    DuckDB columns keep their own types, so a typed timestamp is not turned into text and
    parsed back. ``read_from``: the file actually read (a CSV converted to UTF-8), when
    it is not ``location``.
    """
    if kind == "sources":  # a sources file: the derived rows of its raw exports (cxlib.data.sources)
        return (*location.relation(con, table), {})
    if kind == "csv":
        file = Path(read_from or location)
        header = _csv_header(file)
        ignored = _check_header(table, location, header)
        scan = (
            "read_csv($path, header = true, delim = ',', quote = '\"', escape = '\"', "
            "columns = $columns, auto_detect = false, null_padding = false, strict_mode = true, "
            f"store_rejects = true, rejects_table = 'reader_rejects_{table}', rejects_scan = 'reader_scans_{table}')"
        )
        sql = f"SELECT row_number() OVER () + 1 AS _row, {_columns(table, header, as_text=True)} FROM {scan}"
        params = {"path": str(file), "columns": {h: "VARCHAR" for h in header}}
        return sql, ignored, {c: "VARCHAR" for c in COLUMNS[table]}, params
    if kind == "postgresql":
        from cxlib.data.postgres import source

        return (*source(con, table, location, COLUMNS[table]), {})
    params = {}
    if kind == "parquet":
        try:
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(location)]).fetchall()
        except duckdb.Error as exc:
            raise DataError(f"unreadable Parquet file: {str(exc).splitlines()[0]}", file=location) from exc
        scan, row, params = "read_parquet($path, file_row_number = true)", "file_row_number + 2", {"path": str(location)}
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
    return sql, ignored, {c: types.get(c, "VARCHAR") for c in COLUMNS[table]}, params


def _shift_rows(con, table: str) -> int:
    """Move row numbers past the lines the CSV reader rejected; return how many it rejected.

    Rejected line j (1-based, in file order) had a_j = line_j - 2 - (j - 1) accepted rows
    before it; accepted row k (0-based) is then row k + 2 + #{j : a_j <= k}.
    """
    n = con.execute(f"SELECT count(DISTINCT line) FROM reader_rejects_{table}").fetchall()[0][0]
    if n:
        con.execute(
            # Consecutive rejected lines share one ``before``: keep the largest count per value.
            f"""CREATE TEMP TABLE shift_{table} AS SELECT before, max(n) AS n FROM (
                SELECT line - 2 - (row_number() OVER (ORDER BY line) - 1) AS before, row_number() OVER (ORDER BY line) AS n
                FROM (SELECT DISTINCT line FROM reader_rejects_{table})) GROUP BY before"""
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


TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "FLOAT", "DOUBLE", "REAL")
#: Columns where a value without a time means the END of that day (the customer was a customer
#: that day, the cancellation call included); everywhere else it means the start of the day.
END_OF_DAY_COLUMNS = ("churned_at",)


class RowRules:
    """SQL expressions of the contract's rules for columns of known source types.

    A text column (every column of a CSV) is trimmed, parsed with ``TRY_CAST`` and checked;
    a column a Parquet file or a DuckDB table already stores as a timestamp, a number or a
    boolean is used as it is, without a round trip through text.

    ``timezone``: the zone of naive timestamps and of dates (values with an offset carry
    their own); every value comes out as naive UTC. Other than UTC, the expressions read the
    session's time zone, which the loader sets to it while it parses (DuckDB only).
    ``now``: the moment of loading (naive UTC); a signup or an interaction after it is a
    rejected row. Both engines build their rules from this class: one definition.
    """

    def __init__(self, types: dict[str, str], *, timezone: str = "UTC", now=None):
        self.types = {c: t.upper() for c, t in types.items()}
        self.utc = timezone.upper() in ("UTC", "Z", "ETC/UTC", "GMT")
        self.now = None if now is None else pd.Timestamp(now)

    def _kind(self, column: str) -> str:
        t = self.types.get(column, "VARCHAR")
        if "WITH TIME ZONE" in t or t.startswith("TIMESTAMPTZ"):
            return "timestamptz"
        if t.startswith(TIMESTAMP_TYPES):
            return "timestamp"
        if t == "DATE":
            return "date"
        if t.startswith("DECIMAL") or t in NUMBER_TYPES:
            return "number"
        if t == "BOOLEAN":
            return "boolean"
        return "text"

    def raw(self, column: str) -> str:
        return f"r.{quote_identifier(column)}"

    def text(self, column: str) -> str:
        """Trimmed text, empty → NULL."""
        if self._kind(column) == "text":
            return f"nullif(trim({self.raw(column)}), '')"
        return f"CAST({self.raw(column)} AS VARCHAR)"

    def code(self, column: str) -> str:
        return f"lower({self.text(column)})"

    def missing(self, column: str) -> str:
        return f"{self.text(column)} IS NULL" if self._kind(column) == "text" else f"{self.raw(column)} IS NULL"

    def _naive_utc(self, instant: str) -> str:
        """An instant (TIMESTAMPTZ) as naive UTC."""
        return f"CAST({instant} AS TIMESTAMP)" if self.utc else f"timezone('UTC', {instant})"

    def date_only(self, column: str) -> str:
        """The value has no time of day: a date-only text (no ``:``) or a DATE column."""
        kind = self._kind(column)
        if kind == "date":
            return f"{self.raw(column)} IS NOT NULL"
        if kind == "text":
            return f"({self.text(column)} IS NOT NULL AND strpos({self.text(column)}, ':') = 0)"
        return "false"

    def timestamp(self, column: str) -> str:
        kind = self._kind(column)
        end = column in END_OF_DAY_COLUMNS
        if kind == "timestamptz":  # via TIMESTAMPTZ (any precision)
            return self._naive_utc(f"CAST({self.raw(column)} AS TIMESTAMPTZ)")
        if kind == "timestamp":
            if self.utc:
                return f"CAST({self.raw(column)} AS TIMESTAMP)"
            return self._naive_utc(f"CAST(CAST({self.raw(column)} AS TIMESTAMP) AS TIMESTAMPTZ)")
        if kind == "date":
            start = f"CAST({self.raw(column)} AS TIMESTAMP)" if self.utc else f"CAST({self.raw(column)} AS TIMESTAMPTZ)"
        else:
            start = f"TRY_CAST({self.text(column)} AS TIMESTAMPTZ)"
            if self.utc:
                start = f"CAST({start} AS TIMESTAMP)"
        if end:  # the last microsecond of that day
            start = (
                f"CASE WHEN {self.date_only(column)} THEN {start} + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND "
                f"ELSE {start} END"
            )
        return start if self.utc else self._naive_utc(start)

    def bad_timestamp(self, column: str) -> str:
        if self._kind(column) in ("timestamp", "timestamptz", "date"):
            return "false"
        return f"({self.text(column)} IS NOT NULL AND TRY_CAST({self.text(column)} AS TIMESTAMPTZ) IS NULL)"

    def future_check(self, column: str) -> tuple[str, str, str]:
        """(condition, column, reason) for a value after the moment of loading."""
        if self.now is None:
            return "false", column, "''"
        now = self.now.strftime("%Y-%m-%d %H:%M:%S.%f")
        return (
            f"{self.timestamp(column)} > TIMESTAMP '{now}'",
            column,
            f"'in the future: after the moment of loading ({self.now.strftime('%Y-%m-%dT%H:%M:%SZ')})'",
        )

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
                self.future_check("signup_at"),
                self.number_check("monthly_value", low=0, high=MAX_AMOUNT),
            ]
        experience = f"{self.code('kind')} = 'experience'"
        return checks + [
            (self.bad_timestamp("at"), "at", "'unparsable timestamp'"),
            self.future_check("at"),
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
            self.number_check("first_response_minutes", low=0, high=MAX_RESPONSE_MINUTES),
            (
                f"NOT ({self.missing('first_response_minutes')}) AND {experience}",
                "first_response_minutes",
                "'set on an experience row: first_response_minutes is for service rows'",
            ),
            self.number_check("cost", low=0, high=MAX_AMOUNT),
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
                   TRY_CAST(round({self.number('csat')}) AS TINYINT) AS csat,
                   TRY_CAST(round({self.number('nps')}) AS TINYINT) AS nps,
                   {self.number('first_response_minutes')} AS first_response_minutes, {self.number('cost')} AS cost"""


def _stage(con, table: str, source_sql: str, types: dict[str, str], params: dict | None = None, *,
           derived: bool = False, timezone: str = "UTC", now=None) -> None:
    """staged_<table>: _row, the typed columns, and the list of problems of a failing row.

    The conditions are evaluated once per row; the list of problems is built only for the
    rows that break a rule (CASE evaluates its branch on those rows alone). Rows derived by a
    sources file (``derived``) bring their own ``_problems`` (a value not in a value map, a key
    not in a lookup); a contract problem on the same column is then left out as redundant.
    """
    rules = RowRules(types, timezone=timezone, now=now)
    checks = rules.row_checks(table)
    # TRY_CAST of a bad value is NULL: every condition is wrapped so NULL counts as "no problem".
    any_bad = " OR ".join(f"coalesce({c}, false)" for c, _, _ in checks)
    problems = ", ".join(_problem(f"coalesce({c}, false)", col, reason) for c, col, reason in checks)
    listed = f"list_filter([{problems}], lambda p: p IS NOT NULL)"
    if derived:
        any_bad = f"r._problems IS NOT NULL OR {any_bad}"
        listed = (f"list_concat(coalesce(r._problems, []), list_filter({listed}, lambda p: NOT "
                  f"list_contains(list_transform(coalesce(r._problems, []), lambda e: e.column), p.column)))")
    extra = f", {rules.date_only('churned_at')} AS _date_only" if table == "customers" else ""
    con.execute(
        f"""CREATE TABLE staged_{table} AS
            SELECT r._row, {rules.typed_columns(table)}{extra},
                   CASE WHEN {any_bad} THEN {listed} END AS problems
            FROM ({source_sql}) r""",
        params or {},
    )


# ---------------------------------------------------------------------------------------
# Stage 2: rules across rows, on the typed table; then the split


def _relational_problems(con, table: str, label: str, keyed: bool = False) -> None:
    """Duplicates, and for interactions their customer: only the offending rows come back.

    ``keyed``: the rows come from a database table, where a row is known by its key, not
    by a row number, so the reasons name no row.
    """
    key = KEYS[table]
    first = f"'duplicate {key} (another row with this {key} is kept)'" if keyed else (
        f"'duplicate {key} (first at row ' || d.first_row || ')'"
    )
    rejected_at = "'its customer row was rejected in the customers table'" if keyed else (
        "'its customer row was rejected (row ' || rc.first_row || ')'"
    )
    con.execute(
        f"""CREATE TEMP TABLE dup_{table} AS SELECT {key} AS id, min(_row) AS first_row
            FROM staged_{table} WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"""
    )
    con.execute(
        f"""INSERT INTO rejects SELECT $file, s._row, s.{key}, '{key}', s.{key}, {first}
            FROM staged_{table} s JOIN dup_{table} d ON s.{key} = d.id WHERE s._row > d.first_row""",
        {"file": label},
    )
    if table == "customers":
        return
    stamp = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"
    # The accepted customers (their rejected rows are already out of staged_customers), with
    # churned_at as given: an interaction after a churned_at is after it, whatever as_of is.
    con.execute(
        f"""INSERT INTO rejects
            SELECT $file, _row, interaction_id, p.column, p.value, p.reason FROM (
                SELECT s._row, s.interaction_id, unnest(list_filter([
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': 'unknown customer_id: not in the customers file'}} END,
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NOT NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': {rejected_at}}} END,
                    CASE WHEN s."at" < c.signup_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'before the customer''s signup_at (' || {stamp.format('c.signup_at')} || ')'}} END,
                    CASE WHEN s."at" > c.churned_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'after the customer churned (' || {stamp.format('c.churned_at')} || ')'}} END
                ], lambda p: p IS NOT NULL)) AS p
                FROM staged_interactions s
                LEFT JOIN staged_customers c ON s.customer_id = c.customer_id
                LEFT JOIN rejected_customer_ids rc ON s.customer_id = rc.customer_id
                WHERE s.customer_id IS NOT NULL
                  AND (c.customer_id IS NULL OR s."at" < c.signup_at OR s."at" > c.churned_at))""",
        {"file": label},
    )


def _split(con, table: str, label: str) -> None:
    """Row problems to ``rejects``; rejected rows out of the staged table."""
    con.execute(
        f"""INSERT INTO rejects SELECT $file, _row, {KEYS[table]}, p.column, p.value, p.reason
            FROM (SELECT _row, {KEYS[table]}, unnest(problems) AS p FROM staged_{table} WHERE problems IS NOT NULL)""",
        {"file": label},
    )
    if table == "customers":
        # Interactions of a customer whose every row was rejected are set aside with that reason.
        con.execute(
            """CREATE TEMP TABLE rejected_customer_ids AS
                SELECT customer_id, min(_row) AS first_row FROM staged_customers
                WHERE customer_id IS NOT NULL AND _row IN (SELECT row FROM rejects WHERE file = $file)
                  AND customer_id NOT IN (
                      SELECT customer_id FROM staged_customers WHERE customer_id IS NOT NULL
                        AND _row NOT IN (SELECT row FROM rejects WHERE file = $file))
                GROUP BY 1""",
            {"file": label},
        )
    con.execute(f"DELETE FROM staged_{table} WHERE _row IN (SELECT row FROM rejects WHERE file = $file)", {"file": label})


#: The default as_of: the latest value in the accepted data that is not after the moment of
#: loading (``$now``). Signups and interactions after it are rejected rows; a churned_at
#: after it (a scheduled cancellation, a far-future "active" value) does not count. One text
#: for both engines (``{customers}``, ``{interactions}``: the tables to read).
AS_OF_SQL = (
    "SELECT greatest((SELECT max(signup_at) FROM {customers}),"
    " (SELECT max(churned_at) FROM {customers} WHERE churned_at <= $now),"
    ' (SELECT max("at") FROM {interactions})) AS as_of'
)
#: The contract's view of customers at ``as_of``: a churned_at after it means still a customer.
CUSTOMERS_AT_SQL = (
    "SELECT customer_id, signup_at, CASE WHEN churned_at <= {as_of} THEN churned_at END AS churned_at,"
    " segment, monthly_value FROM {source}"
)


def timestamp_sql(value) -> str:
    """A naive-UTC timestamp as a SQL literal (our own value, never text from data)."""
    return f"TIMESTAMP '{pd.Timestamp(value).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def load_moment() -> pd.Timestamp:
    """The moment of loading, naive UTC: nothing in the data may be after it."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def _reader_rejects(con, table: str, file_label: str) -> None:
    """The CSV reader's own rejects (a line with too few or too many fields, bad quoting): one a line."""
    con.execute(
        f"""INSERT INTO rejects SELECT $file, line, NULL, coalesce(arg_min(column_name, column_idx), ''),
                left(any_value(csv_line), 200),
                CASE any_value(error_type)
                  WHEN 'MISSING COLUMNS' THEN 'too few fields on the line'
                  WHEN 'TOO MANY COLUMNS' THEN 'too many fields on the line'
                  WHEN 'UNQUOTED VALUE' THEN 'badly quoted value'
                  WHEN 'INVALID ENCODING' THEN 'not UTF-8 text'
                  WHEN 'LINE SIZE OVER MAXIMUM' THEN 'line longer than the reader''s maximum (2 MB)'
                  ELSE lower(CAST(any_value(error_type) AS VARCHAR)) END
            FROM reader_rejects_{table} GROUP BY line""",
        {"file": file_label},
    )


def _rejects_frame(con) -> pd.DataFrame:
    columns = ", ".join(f'"{c}"' for c in REJECT_COLUMNS)
    return con.sql(f'SELECT {columns} FROM rejects ORDER BY file, row, key, "column"').df()


def _check_timezone(con, timezone: str) -> str:
    if not isinstance(timezone, str) or not timezone.strip():
        raise ValueError(f"timezone must be a time zone name such as 'UTC' or 'Europe/Paris', not {timezone!r}")
    timezone = timezone.strip()
    known = con.execute("SELECT name FROM pg_timezone_names() WHERE lower(name) = lower(?)", [timezone]).fetchall()
    if not known:
        raise ValueError(f"unknown timezone {timezone!r}: give an IANA name such as 'UTC' or 'Europe/Paris'")
    return known[0][0]


# ---------------------------------------------------------------------------------------
# The entry point


def load(
    path,
    *,
    strict: bool = False,
    rejects_path=None,
    as_of=None,
    memory_limit: str = "2GB",
    timezone: str = "UTC",
    encoding: str = "utf-8",
) -> Dataset:
    """Read and validate a data set; return a :class:`Dataset`.

    Parameters
    ----------
    path:
        A folder holding ``customers.csv|.csv.gz|.parquet`` and ``interactions.*``, a
        DuckDB database file with tables ``customers`` and ``interactions``, or a
        PostgreSQL connection string ``postgresql://user[:password]@host:port/db[?schema=s]``
        whose schema holds those tables (:mod:`cxlib.data.postgres`; rejects name the key).
    strict:
        Raise :class:`RejectedRowsError` when any row was set aside (after writing
        ``rejects_path`` if given). By default rejects are kept and the load goes on.
    rejects_path:
        Where to write the rejected rows as CSV (file, row, key, column, value, reason).
    as_of:
        Censoring time for customers still active (in ``timezone`` if naive); default: the
        latest timestamp in the data that is not after the moment of loading (design.md).
        A ``churned_at`` after it means the customer was still a customer at ``as_of``.
    memory_limit:
        DuckDB's memory limit; past it, DuckDB spills to the temporary folder.
    timezone:
        The zone of naive timestamps and of dates without a time (an IANA name; default
        UTC). Values with an offset carry their own. Everything is stored as naive UTC.
    encoding:
        The text encoding of CSV files (default UTF-8, checked over the whole file); any
        other (``latin-1``, ``cp1252``, ``utf-16``…) is converted to UTF-8 first.

    Raises
    ------
    DataError
        A structural problem: a missing, empty or unreadable file, a missing required or a
        duplicate column, text that is not in the encoding, a table with no row accepted.
        Its message names the file and the column.
    """
    from cxlib.data.postgres import is_postgres
    from cxlib.data.sources import is_sources_file, open_plan

    source = redact(path) if is_postgres(path) else Path(path)
    if not is_postgres(path) and is_sources_file(source):  # a sources file: raw exports turned into both tables
        plan = open_plan(source, COLUMNS)
        sources = {t: ("sources", plan) for t in TABLES}
    else:
        sources = find_sources(path)
    workdir = Path(tempfile.mkdtemp(prefix="cxlab-load-"))
    con = duckdb.connect(":memory:")
    now = load_moment()
    try:
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB prints a progress bar on stdout for a query over 2 s: it would corrupt every --json output.
        try:
            con.execute("SET enable_progress_bar = false")
        except duckdb.InvalidInputException:
            pass  # in a Jupyter kernel without ipywidgets DuckDB refuses any progress-bar setting, and draws none
        timezone = _check_timezone(con, timezone)
        if not isinstance(encoding, str) or not encoding.strip():
            raise ValueError(f"encoding must be a name such as 'utf-8' or 'latin-1', not {encoding!r}")
        encoding = encoding.strip()
        utf8 = encoding.lower() in UTF8_NAMES
        if not utf8:
            try:
                codecs.lookup(encoding)
            except LookupError:
                raise ValueError(f"unknown encoding {encoding!r}") from None
        given_as_of = None if as_of is None or as_of == "" else utc_naive(as_of, timezone=timezone)
        con.execute(f"SET memory_limit = '{_sql_path(memory_limit)}'")
        con.execute(f"SET temp_directory = '{_sql_path(workdir / 'spill')}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            'CREATE TABLE rejects (file VARCHAR, row BIGINT, key VARCHAR, "column" VARCHAR, value VARCHAR, reason VARCHAR)'
        )
        files, read, accepted, rejected, ignored = {}, {}, {}, {}, {}
        for table in TABLES:
            kind, location = sources[table]
            keyed = kind == "postgresql"
            label = f"{location}" if kind != "duckdb" else f"{location}:{table}"
            if kind in ("sources", "postgresql"):
                label = location.label(table)
            files[table] = label
            read_from = None
            if kind == "csv":
                if utf8:
                    _check_utf8(location)
                else:
                    read_from = _transcode(location, encoding, workdir / f"{table}.csv")
            source_sql, ignored[table], types, params = _source(con, table, kind, location, read_from=read_from)
            con.execute(f"SET TimeZone = '{timezone}'")  # naive values are read in this zone
            try:
                _stage(con, table, source_sql, types, params, derived=kind == "sources", timezone=timezone, now=now)
            except duckdb.Error as exc:
                raise DataError(f"unreadable file: {str(exc).splitlines()[0]}", file=label) from exc
            finally:
                con.execute("SET TimeZone = 'UTC'")
            reader_rejects = 0
            if kind == "csv":
                reader_rejects = _shift_rows(con, table)
                _reader_rejects(con, table, label)
            read[table] = con.execute(f"SELECT count(*) FROM staged_{table}").fetchall()[0][0] + reader_rejects
            if read[table] == 0:
                if keyed:
                    raise DataError("empty table: no rows", file=label)
                raise DataError("empty file: a header but no data rows", file=label, row=2)
            _relational_problems(con, table, label, keyed)
            _split(con, table, label)
            accepted[table] = con.execute(f"SELECT count(*) FROM staged_{table}").fetchall()[0][0]
            rejected[table] = con.execute(
                "SELECT count(DISTINCT row) FROM rejects WHERE file = ?", [label]
            ).fetchall()[0][0]
            if accepted[table] + rejected[table] != read[table]:  # pragma: no cover - a bug, not bad data
                raise AssertionError(
                    f"{label}: accepted {accepted[table]} + rejected {rejected[table]} != read {read[table]}"
                )
            if accepted[table] == 0:
                if rejects_path is not None:
                    _write_rejects(_rejects_frame(con), rejects_path)
                first = con.execute(
                    'SELECT row, "column", reason FROM rejects WHERE file = ? ORDER BY row LIMIT 1', [label]
                ).fetchall()[0]
                raise DataError(
                    f"no row accepted: all {read[table]:,} rows were rejected; the first at row {first[0]}, "
                    f"column {first[1]!r}: {first[2]}" + (f" (every reject in {rejects_path})" if rejects_path else ""),
                    file=label,
                )
        if any(kind == "duckdb" for kind, _ in sources.values()):
            con.execute("DETACH src")
        if keyed:  # a database row has no row number: its key identifies it
            con.execute("UPDATE rejects SET row = NULL WHERE file IN (?, ?)", [files[t] for t in TABLES])
            for t in TABLES:
                con.unregister(f"pg_stream_{t}")
        if any(kind == "sources" for kind, _ in sources.values()):
            plan.relabel(con, files)  # rejects name the raw file and row, not the derived table's
        as_of_value = given_as_of
        if as_of_value is None:
            value = con.execute(
                AS_OF_SQL.format(customers="staged_customers", interactions="staged_interactions"), {"now": now}
            ).fetchall()[0][0]
            as_of_value = pd.Timestamp(value)
        cut = timestamp_sql(as_of_value)
        after, date_only = con.execute(
            f"SELECT count(*) FILTER (churned_at > {cut}), count(*) FILTER (_date_only) FROM staged_customers"
        ).fetchall()[0]
        con.execute(f"CREATE VIEW customers AS {CUSTOMERS_AT_SQL.format(as_of=cut, source='staged_customers')}")
        columns = ", ".join(f'"{c}"' for c in COLUMNS["interactions"])
        con.execute(f"CREATE VIEW interactions AS SELECT {columns} FROM staged_interactions")
        report = LoadReport(
            files, read, accepted, rejected, {t: v for t, v in ignored.items() if v},
            as_of=as_of_value.isoformat(), as_of_given=given_as_of is not None,
            loaded_at=now.isoformat(timespec="seconds"), churned_after_as_of=int(after),
            date_only_churned=int(date_only), timezone=timezone, encoding=encoding,
        )
    except BaseException:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        for kind, location in sources.values():
            if kind == "postgresql":
                location.close()
    data = Dataset(con, source, report, workdir, as_of=as_of_value)
    if rejects_path is not None:
        data.write_rejects(rejects_path)
    if strict and report.total_rejected:
        first = data.con.execute(
            'SELECT file, row, "column", reason, key FROM rejects ORDER BY file, row, key LIMIT 1'
        ).fetchall()[0]
        data.close()
        at = f" ({first[4]})" if first[1] is None and first[4] is not None else ""
        raise RejectedRowsError(
            f"{report.total_rejected} row(s) rejected in strict mode; first: {first[3]}{at}",
            file=first[0],
            row=first[1],
            column=first[2],
        )
    return data
