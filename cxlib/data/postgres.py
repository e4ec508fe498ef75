"""PostgreSQL as a source: tables ``customers`` and ``interactions`` read into DuckDB as Arrow.

``cxlib.load("postgresql://user[:password]@host:port/db[?schema=s]")`` reads the two tables
of the contract from schema ``s`` (default: the connection's ``current_schema()``, usually
``public``) and validates them with the same row rules as a file; :mod:`cxlib.data.load` calls
:func:`find_tables` and :func:`source` of this module for a ``postgresql://`` location.

How, and why this way:

1. **The ADBC PostgreSQL driver** (``adbc-driver-postgresql``, Apache Arrow's, on libpq).
   It runs the query as ``COPY … TO STDOUT (FORMAT binary)`` and decodes the binary rows
   straight into Arrow record batches, so no value becomes a Python object or a text
   round trip: a ``TIMESTAMPTZ`` arrives as a UTC Arrow timestamp, a ``DATE`` as a date, a
   ``float8`` as a double, and DuckDB scans the batches as they come. A row-oriented driver
   (psycopg) would build a Python tuple per value; DuckDB's own ``postgres`` extension would
   be fetched from the network at run time. Because it is libpq, the standard environment
   works as with ``psql``: ``PGPASSWORD``, ``~/.pgpass`` (``PGPASSFILE``), ``PGSSLMODE``….
2. **Streamed, held once.** ``fetch_record_batch`` returns a ``RecordBatchReader`` that
   DuckDB consumes batch by batch while it builds the staged table, so a million rows are
   never held both as Arrow and in DuckDB.
3. **Typed columns keep their types.** Only the contract's columns are selected; a
   ``numeric`` is read as ``double precision`` and a type the contract has no use for
   (``uuid``, ``json``…) as text; timestamps, dates, numbers and booleans are used as they
   are by :class:`cxlib.data.rules.RowRules`.
4. **Rejects keyed.** A database row has no row number: a rejected row is identified by
   its table and key (``customers`` / ``customer_id``, ``interactions`` /
   ``interaction_id``), in the ``key`` column of the rejects.
5. **The password is never shown.** :func:`redact` is the one function through which a data
   location is displayed or recorded (reports, ``run.json``, the run index, messages): it
   drops the password of the userinfo and any ``password=`` parameter. A run hands its
   notebooks the redacted location and the password in ``PGPASSWORD``
   (:func:`password_in_environment`), so it is not in the executed notebooks either.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from cxlib.data.literals import quote_identifier
from cxlib.data.rules import check_header, contract_columns
from cxlib.exceptions import DataError

SCHEMES = ("postgresql", "postgres")
#: Query parameters of a libpq URI that carry a secret.
SECRET_PARAMETERS = ("password", "sslpassword")
#: Seconds libpq waits for a server that does not answer (unless the location says otherwise).
CONNECT_TIMEOUT = 10
#: PostgreSQL types read as they are; ``numeric`` becomes double precision, anything else text.
NATIVE_TYPES = {
    "text", "character varying", "character", "smallint", "integer", "bigint", "real", "double precision",
    "boolean", "date", "timestamp with time zone", "timestamp without time zone",
}


def is_postgres(location) -> bool:
    """Is ``location`` a ``postgresql://`` (or ``postgres://``) connection string?"""
    return isinstance(location, str) and location.split("://", 1)[0].lower() in SCHEMES and "://" in location


def redact(location) -> str:
    """``location`` as it may be shown or recorded: without the password (of any URL).

    ``postgresql://ann:s3cret@db:5432/crm?password=x&schema=cx`` →
    ``postgresql://ann@db:5432/crm?schema=cx``. A path or a URL without a secret comes back
    unchanged; one that does not parse comes back as its scheme only.
    """
    text = str(location)
    if "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text.split("://", 1)[0] + "://…"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hosts = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{hosts}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(k.lower() in SECRET_PARAMETERS for k, _ in pairs):
        query = urlencode([(k, v) for k, v in pairs if k.lower() not in SECRET_PARAMETERS])
    if netloc == parts.netloc and query == parts.query:
        return text
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def password_of(location) -> str | None:
    """The password a ``postgresql://`` location carries (userinfo or ``password=``), decoded."""
    if not is_postgres(location):
        return None
    parts = urlsplit(location)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "password":
            return value
    userinfo = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    if ":" in userinfo:
        return unquote(userinfo.split(":", 1)[1])
    return None


@contextmanager
def password_in_environment(location):
    """While the block runs, the password of ``location`` (if any) is libpq's ``PGPASSWORD``.

    A run passes its notebooks the redacted location; their kernels inherit this
    environment, so they connect without the password being written anywhere.
    """
    password = password_of(location)
    if password is None:
        yield
        return
    before = os.environ.get("PGPASSWORD")
    os.environ["PGPASSWORD"] = password
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PGPASSWORD", None)
        else:
            os.environ["PGPASSWORD"] = before


@dataclass
class Location:
    """A parsed ``postgresql://`` location: what libpq gets, the schema, and what is shown."""

    uri: str  # for libpq: without ``schema``, with a connect timeout; may hold the password
    schema: str | None
    shown: str  # redacted, without ``schema``

    @classmethod
    def parse(cls, location: str) -> Location:
        try:
            parts = urlsplit(location)
        except ValueError as exc:
            raise DataError(f"not a PostgreSQL connection string: {exc}", file=redact(location)) from None
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        schema = next((v for k, v in pairs if k == "schema"), None)
        libpq = [(k, v) for k, v in pairs if k != "schema"]
        if not any(k == "connect_timeout" for k, _ in libpq):
            libpq.append(("connect_timeout", str(CONNECT_TIMEOUT)))
        uri = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(libpq), ""))
        shown = redact(urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode([(k, v) for k, v in pairs if k != "schema"]), "")))
        return cls(uri, schema or None, shown)


class Tables:
    """An open connection and the schema that holds ``customers`` and ``interactions``."""

    def __init__(self, location: str):
        self.location = Location.parse(location)
        self.password = password_of(location)
        self._conn = None
        self._cursors = []  # a reader lives as long as its cursor: kept until close()
        self.schema = self.location.schema

    # -- connection and errors --------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """A driver's message, without the password should it ever quote the location."""
        text = text.replace(self.location.uri, self.location.shown)
        if self.password:
            text = text.replace(self.password, "***")
        return " ".join(text.split())

    def _error(self, exc, what: str, table: str | None = None) -> DataError:
        message = self._scrub(str(exc))
        for prefix in ("IO: ", "INVALID_ARGUMENT: ", "[libpq] "):
            message = message.replace(prefix, "")
        lowered = message.lower()
        if "password authentication failed" in lowered or "authentication failed" in lowered:
            reason = "authentication failed (wrong user or password; a password can come from PGPASSWORD or ~/.pgpass)"
        elif "no password supplied" in lowered:
            reason = "the server asks for a password: put it in PGPASSWORD or ~/.pgpass (or the connection string)"
        elif "connection refused" in lowered or "could not translate host name" in lowered or "timeout" in lowered:
            reason = "server unreachable"
        elif "does not exist" in lowered and "database" in lowered:
            reason = "no such database"
        else:
            reason = what
        return DataError(f"{reason}: {message}", file=self.label(table) if table else self.location.shown)

    def connect(self):
        if self._conn is None:
            import adbc_driver_postgresql.dbapi as pg

            try:
                self._conn = pg.connect(self.location.uri, autocommit=True)
            except Exception as exc:  # the driver's errors: OperationalError, ProgrammingError…
                raise self._error(exc, "cannot connect") from None
        return self._conn

    def _rows(self, sql: str, params=(), table: str | None = None) -> list[tuple]:
        cur = self.connect().cursor()
        try:
            cur.execute(sql, params or None)
            return cur.fetchall()
        except Exception as exc:
            raise self._error(exc, "query failed", table) from None
        finally:
            cur.close()

    def close(self) -> None:
        for cur in self._cursors:
            try:
                cur.close()
            except Exception:  # noqa: BLE001 - a cursor of a failed read may refuse to close; the connection goes anyway
                pass
        self._cursors = []
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    # -- what is there ----------------------------------------------------------------

    def label(self, table: str) -> str:
        """How a table is named in the load's report and the rejects: ``schema.table at location``."""
        return f"{self.schema}.{table} at {self.location.shown}"

    def resolve_schema(self) -> str:
        if self.schema is None:
            self.schema = self._rows("SELECT current_schema()")[0][0] or "public"
        return self.schema

    def columns(self, table: str) -> dict[str, str]:
        """Column name → PostgreSQL type of ``schema.table``; a DataError if the schema or table is missing."""
        schema = self.resolve_schema()
        rows = self._rows(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
            (schema, table),
            table,
        )
        if not rows:
            if not self._rows("SELECT 1 FROM pg_namespace WHERE nspname = $1", (schema,)):
                raise DataError(f"no schema named {schema!r} in the database", file=self.location.shown)
            raise DataError(f"no table named {table} in schema {schema!r}", file=self.label(table))
        return {name: dtype for name, dtype in rows}

    def reader(self, table: str, columns: list[tuple[str, str]]):
        """A RecordBatchReader of ``columns`` (name, PostgreSQL type) of the table, streamed."""
        select = ", ".join(_select(name, dtype) for name, dtype in columns)
        sql = f"SELECT {select} FROM {quote_identifier(self.schema)}.{quote_identifier(table)}"
        cur = self.connect().cursor()
        self._cursors.append(cur)
        try:
            cur.execute(sql)
            return cur.fetch_record_batch()
        except Exception as exc:
            raise self._error(exc, "cannot read the table", table) from None


    def query(self, sql: str, what: str):
        """A RecordBatchReader of any query's result (a sources file's ``query:``), streamed."""
        cur = self.connect().cursor()
        self._cursors.append(cur)
        try:
            cur.execute(sql)
            return cur.fetch_record_batch()
        except Exception as exc:
            error = self._error(exc, "the query failed")
            raise DataError(f"{what}: {error}", file=None) from None


def _select(name: str, dtype: str) -> str:
    if dtype in NATIVE_TYPES:
        return quote_identifier(name)
    if dtype == "numeric":
        return f"CAST({quote_identifier(name)} AS double precision) AS {quote_identifier(name)}"
    return f"CAST({quote_identifier(name)} AS text) AS {quote_identifier(name)}"


def source(con, table: str, tables: Tables, columns: dict) -> tuple[str, list[str], dict[str, str]]:
    """What :func:`cxlib.data.inputs.relation` returns for a PostgreSQL table: the SQL of a relation with
    ``_row`` and every contract column, the ignored columns, and the columns' DuckDB types.

    ``_row`` is the order in which the server sent the rows; it serves only to keep the first
    of duplicate keys (rejects name the key, not this number).
    """
    present = tables.columns(table)
    ignored = check_header(table, tables.label(table), list(present))
    wanted = [(c, present[c]) for c in columns if c in present]
    reader = tables.reader(table, wanted)
    name = f"pg_stream_{table}"
    con.register(name, reader)
    con.register(f"{name}_schema", reader.schema.empty_table())
    described = con.execute(f"DESCRIBE SELECT * FROM {name}_schema").fetchall()
    con.unregister(f"{name}_schema")
    types = {n: str(t) for n, t, *_ in described}
    sql = f"SELECT row_number() OVER () + 1 AS _row, {contract_columns(table, types, as_text=False)} FROM {name}"
    return sql, ignored, {c: types.get(c, "VARCHAR") for c in columns}
