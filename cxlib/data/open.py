"""The one way in: :func:`open_data` opens a data set on an engine and returns an :class:`Engine`.

Every caller opens data through here — the notebooks (:func:`cxlib.run.notebook.open_data`),
the commands (:func:`cxlib.run.commands.options.open_data`) and the runner — and keeps only
its own default for an empty location (the notebooks' and the runner's: the demo data set).
Which engine reads what is decided here, once:

- ``duckdb`` (default): :func:`cxlib.data.load.load` — a folder of CSV or Parquet, a DuckDB
  file, a ``postgresql://`` schema or a sources file, validated with a rejects file;
- ``spark``: :func:`cxlib.data.spark.open_spark` — Parquet (a local folder or a lake URI) or
  a catalog schema; an empty location means ``$CXLAB_SPARK_INPUT``. The DuckDB loader's
  reading settings (``timezone``, ``encoding``) have no Spark twin, and a PostgreSQL source
  or a sources file is the DuckDB engine's: asking Spark for them is an error that says so.
"""

from __future__ import annotations

import codecs
import os
from contextlib import contextmanager
from pathlib import Path

from cxlib.data.clock import is_utc
from cxlib.data.engine import Engine
from cxlib.data.load import load
from cxlib.data.postgres import is_postgres, redact
from cxlib.data.spark import ENV_INPUT, active_session, is_path, open_spark
from cxlib.exceptions import DataError

ENGINES = ("duckdb", "spark")
#: Why Spark refuses a ``postgresql://`` location (the DuckDB loader streams it over ADBC).
POSTGRES_ON_SPARK = "a PostgreSQL source is read by the duckdb engine, not spark"


def in_process(engine: str) -> bool:
    """Whether ``engine`` holds its tables in this process (DuckDB: they can be copied to a file, and a
    query's rows handed to numpy cheaply) rather than elsewhere (Spark: a JVM of its own, two cores by itself)."""
    return check_engine(engine) == "duckdb"


def duckdb_connection(data: Engine):
    """The in-process DuckDB connection of ``data`` (a :class:`cxlib.Dataset`), or None on another engine."""
    return data.con if in_process(data.engine) else None


def check_engine(engine: str) -> str:
    """``engine`` if it is one of :data:`ENGINES`, else a ValueError naming them."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    return engine


def as_location(text) -> Path | str:
    """A data location as given on a command line: a Path, or a connection string kept as
    text (a Path would fold its ``//``)."""
    return str(text) if is_postgres(text) else Path(text)


def is_lake(text: str) -> bool:
    """Is ``text`` a place only Spark resolves: a URI (``s3://``, ``abfss://``, ``dbfs:/``…) or
    the name of a schema in the Spark catalog (not a path)?"""
    return "://" in text or text.startswith("dbfs:") or not is_path(text)


def locate(location, *, engine: str = "duckdb") -> str | None:
    """Where ``engine`` will read ``location``, resolved so another process (a notebook's
    kernel in another folder) reads the same: a local path made absolute; a connection
    string, a lake URI or a catalog schema kept as text. Empty: on Spark
    ``$CXLAB_SPARK_INPUT`` if set, else None (the caller's default applies)."""
    check_engine(engine)
    if not location and engine == "spark":
        location = os.environ.get(ENV_INPUT) or None
    if not location:
        return None
    text = str(location)
    if is_postgres(text):
        if engine == "spark":
            raise DataError(POSTGRES_ON_SPARK, file=redact(text))
        return text  # a connection string: libpq resolves it
    if engine == "spark" and is_lake(text):
        return text
    return str(Path(text).expanduser().resolve())


def open_data(location, *, engine: str = "duckdb", as_of=None, spark_master: str | None = None,
              **reading) -> Engine:
    """Open ``location`` on ``engine``, censored at ``as_of``; return the :class:`Engine`.

    Parameters
    ----------
    location:
        What :func:`cxlib.data.load.load` reads (``engine="duckdb"``), or what
        :func:`cxlib.data.spark.open_spark` reads (``engine="spark"``; empty:
        ``$CXLAB_SPARK_INPUT``).
    as_of:
        The censoring time; None or ``""``: the latest timestamp in the data.
    spark_master:
        ``spark.master`` of a Spark session cxlib starts (default ``$CXLAB_SPARK_MASTER``,
        else ``local[2]``); DuckDB starts none and has no use for it.
    reading:
        The DuckDB loader's settings (``timezone``, ``encoding``, ``strict``,
        ``rejects_path``, ``memory_limit``). On Spark only their defaults are accepted.
    """
    check_engine(engine)
    as_of = as_of or None
    if engine == "duckdb":
        return load(location, as_of=as_of, **reading)
    changed = sorted(name for name, value in reading.items() if not _spark_reads(name, value))
    if changed:
        what = "is a setting" if len(changed) == 1 else "are settings"
        raise ValueError(f"{' and '.join(changed)} {what} of the DuckDB loader; on Spark, give UTC timestamps "
                         "or offsets and UTF-8 files")
    if location not in (None, "") and is_postgres(location):
        raise DataError(POSTGRES_ON_SPARK, file=redact(location))
    return open_spark(None if location in (None, "") else str(location), as_of=as_of, master=spark_master)


@contextmanager
def open_briefly(location, *, engine: str = "duckdb", **options):
    """:func:`open_data` for one look (a run's fingerprint of its data): closed afterwards,
    and on Spark a session it had to start is stopped again (each notebook's kernel starts
    its own; a second idle driver would only hold memory)."""
    started = check_engine(engine) == "spark" and active_session() is None
    try:
        with open_data(location, engine=engine, **options) as data:
            yield data
    finally:
        session = active_session() if started else None
        if session is not None:
            session.stop()


def _spark_reads(name: str, value) -> bool:
    """Does Spark read by this loader setting? Only by its default: UTC, UTF-8."""
    if name == "timezone":
        return isinstance(value, str) and is_utc(value.strip())
    if name == "encoding":
        try:
            return codecs.lookup(value.strip()).name == "utf-8"
        except (LookupError, AttributeError):
            return False
    return False
