"""Reading and validating interaction data: :func:`load` and the :class:`Dataset` it returns.

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
2. **Rules across rows on the typed table.** Duplicates come from one sort of the keys' 64-bit
   hashes, then a ``GROUP BY`` of the few rows whose hash is shared (the
   first occurrence is kept), unknown customers and interactions outside a customer's life
   from one join; both return only the offending rows.
3. **Split.** Every problem goes to ``rejects`` with the file, the row (header = row 1,
   first record = row 2, for CSV, Parquet and DuckDB tables alike; none for a PostgreSQL
   table), the key of the row (``customer_id`` / ``interaction_id``: what names a database
   row), the column, the value and the reason; the rejected rows are deleted from the typed tables (cheap: there are
   few), and ``customers`` and ``interactions`` are views of the contract's columns. What served
   only the load (``_row``, the problem lists) is then dropped, and ``kind`` and ``outcome``, whose
   codes the contract fixes, are stored as ENUMs (one byte a row) and shown as text by the view.
   ``accepted + rejected = read`` is checked, not hoped.

The steps live below this module: :mod:`cxlib.data.inputs` finds and reads each table (1),
:mod:`cxlib.data.rules` holds the contract's rules and the split (1–3), and
:mod:`cxlib.data.contract` the names they check; :func:`load` runs them in order and keeps the
accounting.

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
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from cxlib.data.clock import load_moment, utc_naive
from cxlib.data.contract import COLUMNS, KEYS, REJECT_COLUMNS, TABLES
from cxlib.data.engine import LoadReport, fingerprint
from cxlib.data.inputs import (
    UTF8_NAMES,
    check_utf8,
    find_sources,
    insert_reader_rejects,
    relation,
    shift_rows,
    transcode,
)
from cxlib.data.literals import quote_identifier, sql_path, timestamp_sql
from cxlib.data.postgres import is_postgres, redact
from cxlib.data.rules import (
    AS_OF_SQL,
    CUSTOMERS_AT_SQL,
    LOAD_ONLY,
    RowRules,
    relational_problems,
    split,
    stage,
    text_columns,
)
from cxlib.data.sources import is_sources_file, open_plan
from cxlib.exceptions import DataError, RejectedRowsError

#: Names other floors import from here (their one definition is in the module named).
__all__ = [
    "AS_OF_SQL",
    "COLUMNS",
    "CUSTOMERS_AT_SQL",
    "KEYS",
    "TABLES",
    "Dataset",
    "LoadReport",
    "RowRules",
    "find_sources",
    "fingerprint",
    "load",
    "load_moment",
    "quote_identifier",
    "timestamp_sql",
    "utc_naive",
]


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

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """A small pandas frame (e.g. a sample of customer ids) as a view ``name`` of the connection."""
        self.con.register(name, frame)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

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


def _write_rejects(frame: pd.DataFrame, path) -> Path:
    """Rejected rows as CSV (file, row, column, value, reason)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


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


def _check_encoding(encoding) -> str:
    """The encoding's name, checked: a ValueError for an empty or unknown one."""
    if not isinstance(encoding, str) or not encoding.strip():
        raise ValueError(f"encoding must be a name such as 'utf-8' or 'latin-1', not {encoding!r}")
    encoding = encoding.strip()
    if encoding.lower() not in UTF8_NAMES:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
    return encoding


def _load_table(con, table: str, kind: str, location, *, encoding: str, workdir: Path, timezone: str, now,
                rejects_path) -> tuple[str, list[str], int, int, int]:
    """Read, stage, check and split one table; return its label, ignored columns, and the rows
    read, accepted and rejected (``accepted + rejected = read``, checked)."""
    keyed = kind == "postgresql"
    label = f"{location}" if kind != "duckdb" else f"{location}:{table}"
    if kind in ("sources", "postgresql"):
        label = location.label(table)
    read_from = None
    if kind == "csv":
        if encoding.lower() in UTF8_NAMES:
            check_utf8(location)
        else:
            read_from = transcode(location, encoding, workdir / f"{table}.csv")
    source_sql, ignored, types, params = relation(con, table, kind, location, read_from=read_from)
    con.execute(f"SET TimeZone = '{timezone}'")  # naive values are read in this zone
    try:
        stage(con, table, source_sql, types, params, derived=kind == "sources", timezone=timezone, now=now)
    except duckdb.Error as exc:
        raise DataError(f"unreadable file: {str(exc).splitlines()[0]}", file=label) from exc
    finally:
        con.execute("SET TimeZone = 'UTC'")
    reader_rejects = 0
    if kind == "csv":
        reader_rejects = shift_rows(con, table)
        insert_reader_rejects(con, table, label)
    read = con.execute(f"SELECT count(*) FROM staged_{table}").fetchall()[0][0] + reader_rejects
    if read == 0:
        if keyed:
            raise DataError("empty table: no rows", file=label)
        raise DataError("empty file: a header but no data rows", file=label, row=2)
    relational_problems(con, table, label, keyed)
    split(con, table, label)
    accepted = con.execute(f"SELECT count(*) FROM staged_{table}").fetchall()[0][0]
    rejected = con.execute("SELECT count(DISTINCT row) FROM rejects WHERE file = ?", [label]).fetchall()[0][0]
    if accepted + rejected != read:  # pragma: no cover - a bug, not bad data
        raise AssertionError(f"{label}: accepted {accepted} + rejected {rejected} != read {read}")
    if accepted == 0:
        if rejects_path is not None:
            _write_rejects(_rejects_frame(con), rejects_path)
        first = con.execute(
            'SELECT row, "column", reason FROM rejects WHERE file = ? ORDER BY row LIMIT 1', [label]
        ).fetchall()[0]
        raise DataError(
            f"no row accepted: all {read:,} rows were rejected; the first at row {first[0]}, "
            f"column {first[1]!r}: {first[2]}" + (f" (every reject in {rejects_path})" if rejects_path else ""),
            file=label,
        )
    return label, ignored, read, accepted, rejected


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
    source = redact(path) if is_postgres(path) else Path(path)
    if not is_postgres(path) and is_sources_file(source):  # a sources file: raw exports turned into both tables
        plan = open_plan(source)
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
        encoding = _check_encoding(encoding)
        given_as_of = None if as_of is None or as_of == "" else utc_naive(as_of, timezone=timezone)
        con.execute(f"SET memory_limit = '{sql_path(memory_limit)}'")
        con.execute(f"SET temp_directory = '{sql_path(workdir / 'spill')}'")
        con.execute("SET preserve_insertion_order = true")
        con.execute(
            'CREATE TABLE rejects (file VARCHAR, row BIGINT, key VARCHAR, "column" VARCHAR, value VARCHAR, reason VARCHAR)'
        )
        files, read, accepted, rejected, ignored = {}, {}, {}, {}, {}
        for table in TABLES:
            kind, location = sources[table]
            files[table], ignored[table], read[table], accepted[table], rejected[table] = _load_table(
                con, table, kind, location, encoding=encoding, workdir=workdir, timezone=timezone, now=now,
                rejects_path=rejects_path,
            )
        if any(kind == "duckdb" for kind, _ in sources.values()):
            con.execute("DETACH src")
        if any(kind == "postgresql" for kind, _ in sources.values()):  # a database row has no number: its key names it
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
        con.execute(f"CREATE VIEW interactions AS SELECT {text_columns('interactions')} FROM staged_interactions")
        for table in TABLES:  # what served only the load goes: the tables stay in memory for the run
            present = {r[0] for r in con.execute(f"DESCRIBE staged_{table}").fetchall()}
            for column in LOAD_ONLY:
                if column in present:
                    con.execute(f"ALTER TABLE staged_{table} DROP COLUMN {column}")
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
