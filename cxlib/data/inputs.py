"""Locating the input and reading each table as a relation with ``_row`` and the contract's columns.

A folder of CSV or Parquet files, a DuckDB database file, a PostgreSQL schema
(:mod:`cxlib.data.postgres`) or a sources file (:mod:`cxlib.data.sources`): each becomes, per
table, SQL of a relation that :func:`cxlib.data.rules.stage` checks with the contract's rules.
A CSV file is checked to be UTF-8 over its whole length first (or converted from the
encoding given), and its lines the reader itself rejects are accounted for.
"""

from __future__ import annotations

import codecs
import csv
import shutil
import zlib
from pathlib import Path

import duckdb

from cxlib.data import postgres
from cxlib.data.contract import COLUMNS, TABLES
from cxlib.data.literals import sql_path
from cxlib.data.rules import check_header, contract_columns
from cxlib.exceptions import DataError

FORMATS = (".csv", ".csv.gz", ".parquet")


def find_sources(path) -> dict[str, tuple[str, Path | str]]:
    """Map each table to ``(format, location)``; raise a DataError naming what is missing."""
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


def _opener(file: Path):
    if file.name.endswith(".gz"):
        import gzip

        return gzip.open
    return open


#: Encodings that need no conversion: DuckDB's reader reads UTF-8 (a byte-order mark is skipped).
UTF8_NAMES = ("utf-8", "utf8", "utf-8-sig", "utf_8", "utf_8_sig")


def check_utf8(file: Path) -> None:
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
                    # Plain ASCII (the common case) is UTF-8 as it stands: only a chunk that holds
                    # other bytes, or follows one that ended inside a character, is decoded.
                    if not (chunk and chunk.isascii() and not decoder.getstate()[0]):
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
                chunk = fh.read(1 << 22)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"unreadable file: {getattr(exc, 'strerror', None) or exc}", file=file) from None


def transcode(file: Path, encoding: str, target: Path) -> Path:
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


def relation(con, table: str, kind: str, location, *, read_from=None) -> tuple[str, list[str], dict[str, str], dict]:
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
        ignored = check_header(table, location, header)
        scan = (
            "read_csv($path, header = true, delim = ',', quote = '\"', escape = '\"', "
            "columns = $columns, auto_detect = false, null_padding = false, strict_mode = true, "
            f"store_rejects = true, rejects_table = 'reader_rejects_{table}', rejects_scan = 'reader_scans_{table}')"
        )
        sql = f"SELECT row_number() OVER () + 1 AS _row, {contract_columns(table, header, as_text=True)} FROM {scan}"
        params = {"path": str(file), "columns": {h: "VARCHAR" for h in header}}
        return sql, ignored, {c: "VARCHAR" for c in COLUMNS[table]}, params
    if kind == "postgresql":
        return (*postgres.source(con, table, location, COLUMNS[table]), {})
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
                con.execute(f"ATTACH '{sql_path(location)}' AS src (READ_ONLY)")
            except duckdb.Error as exc:
                raise DataError(f"unreadable DuckDB database: {str(exc).splitlines()[0]}", file=location) from exc
        try:
            described = con.execute(f"DESCRIBE src.{table}").fetchall()
        except duckdb.Error as exc:
            raise DataError(f"no table named {table} in the database", file=location) from exc
        scan, row = f"src.{table}", "rowid + 2"
    types = {name: str(dtype) for name, dtype, *_ in described}
    ignored = check_header(table, location, list(types))
    sql = f"SELECT {row} AS _row, {contract_columns(table, types, as_text=False)} FROM {scan}"
    return sql, ignored, {c: types.get(c, "VARCHAR") for c in COLUMNS[table]}, params


def shift_rows(con, table: str) -> int:
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


def insert_reader_rejects(con, table: str, file_label: str) -> None:
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
