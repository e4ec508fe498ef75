"""The Spark engine: cxlib's heavy aggregations where the data lives, on Apache Spark.

DuckDB, in process, stays the default engine (:func:`cxlib.load`). :func:`open_spark`
(reached through :func:`cxlib.data.open.open_data` with ``engine="spark"``) returns a
:class:`SparkDataset` that implements :class:`cxlib.data.engine.Engine` as the DuckDB
:class:`~cxlib.data.load.Dataset` does — ``query(sql, params)``, ``register``, ``as_of``,
``report``, ``fingerprint()``, ``close()`` — so :mod:`cxlib.features.panel`,
:mod:`cxlib.features.metrics`, :mod:`cxlib.analyses.claims`, :mod:`cxlib.models.survival`, :mod:`cxlib.analyses.roi`,
:mod:`cxlib.models.risk`, :class:`cxlib.models.churn.ChurnModel`, the notebooks and ``cx run`` run
unchanged on either engine. What crosses back to Python is the result of each query: an
aggregated table, or for the ROI and the risk list one row per active customer (their counts
and features, which those models need customer by customer); the interactions never go to
the driver.

**One definition of each query: DuckDB SQL, transpiled with sqlglot.** The queries of cxlib
are DuckDB SQL text, tested against the simulator's truth. :func:`to_spark_sql` parses that
text with sqlglot (``read="duckdb"``), binds ``$name`` parameters as literals, and writes
Spark SQL. We chose this over a portable dataframe layer (Ibis) because it keeps the one
tested text as the definition (no rewrite of the panel and the metrics into another API, no
second copy to keep in step), adds one small pure-Python dependency instead of a backend
framework, and the result of the transpilation can be printed and read. Where sqlglot's
Spark output was wrong for a construct, the DuckDB SQL was rewritten into a form both engines
read the same way, rather than patched here:

- ``epoch(b - a)`` of an interval (sqlglot: ``UNIX_TIMESTAMP`` of an interval) →
  ``CAST(date_diff('microsecond', a, b) AS DOUBLE)``, the same integers on both engines;
- ``CAST(date_b - date_a AS INTEGER)`` → ``date_diff('day', date_a, date_b)``;
- ``INTERVAL (n) DAY`` (a parenthesised count Spark cannot parse) → ``INTERVAL n DAY``;
- ``range(…)`` / ``generate_series(…)`` of timestamps (sqlglot's ``EXPLODE(SEQUENCE(…))``
  fails to compare a month interval with 0) → the few calendar months or reference days
  listed as ``VALUES`` from Python; ``unnest`` with ``generate_subscripts`` (no Spark
  equivalent) → ``VALUES``;
- ``QUALIFY``, ``GROUP BY ALL``, ``ORDER BY ALL``, ``FILTER (WHERE …)``, ``GROUPING SETS``,
  window functions with a named ``WINDOW``, correlated ``EXISTS``, ``median``,
  ``list_filter`` with a lambda, ``date + int``, ``CAST(x AS DATE)``, ``TIMESTAMP '…'`` are
  transpiled correctly by sqlglot and kept as they were.

One fix is made on sqlglot's tree instead, because no spelling is both portable and exact:
DuckDB's ``quantile_cont(x, q)`` (exact, interpolating) becomes Spark's ``percentile(x, q)``
(sqlglot writes ``PERCENTILE_CONT(x, q)``, which Spark rejects, and turns ``percentile_cont
… WITHIN GROUP`` into the approximate ``PERCENTILE_APPROX``).

``tests/data/test_spark.py`` runs the panel, the churn model and the metrics on both engines over
the same Parquet files and requires identical tables.

**What the Spark path checks, and what it does not.** Validation with a rejects file (file,
row, column, reason; ``accepted + rejected = read``) is the DuckDB loader's job
(:func:`cxlib.load`, ``cx validate``): run it on an extract, or upstream where the lake is
fed. :func:`open_spark` checks the structure (both tables present, every required column
there: a :class:`~cxlib.exceptions.DataError` naming the table and the column otherwise) and
applies the loader's normalisation with the loader's own expressions
(:class:`cxlib.data.rules.RowRules`, transpiled by :func:`normalise_sql`): codes trimmed and
lower-cased, empty text as missing, ``segment`` missing → ``all``, numbers and booleans typed,
timestamps converted to UTC and held as ``TIMESTAMP_NTZ`` (naive UTC, the loader's clock). A row that breaks one of the
contract's **row-level** rules (a required value missing or unparsable, an unknown ``kind`` or
``outcome``, a value out of range, a service field on an experience row, churn before signup)
is left out of the views and counted in ``report.rejected``, so ``accepted + rejected = read``
holds; but there is no row number and no reason per row. Parquet timestamps must be in
micro- or milliseconds: Spark does not read nanosecond timestamps (pandas' default); such a
file stops with a ``DataError`` naming it. **Not checked** on Spark: duplicate
ids, interactions of unknown customers, interactions before signup or after churn (rules
across rows, which need a shuffle of the whole data).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import numbers
import os
import shutil
from pathlib import Path

import pandas as pd

from cxlib.data.clock import load_moment, utc_naive
from cxlib.data.contract import COLUMNS, TABLES
from cxlib.data.engine import LoadReport, fingerprint
from cxlib.data.literals import timestamp_sql
from cxlib.data.rules import AS_OF_SQL, CUSTOMERS_AT_SQL, RowRules
from cxlib.exceptions import DataError

#: Environment variables read when a parameter is not given.
ENV_MASTER = "CXLAB_SPARK_MASTER"
ENV_INPUT = "CXLAB_SPARK_INPUT"
ENV_LOG_LEVEL = "CXLAB_SPARK_LOG_LEVEL"
ENV_CACHE = "CXLAB_SPARK_CACHE"
DEFAULT_MASTER = "local[2]"
#: Log level of a session cxlib creates (Spark's WARN lines would fill every notebook's output).
DEFAULT_LOG_LEVEL = "ERROR"
#: Settings of a session cxlib creates itself (a session passed in is used as it is, but
#: its time zone is set to UTC for the session).
DEFAULT_CONF = {
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}
INSTALL_HINT = "run `make spark` (pip install -e '.[spark]' and Debian's openjdk-17-jre-headless)"

#: Per session: which SparkDataset the views ``customers`` and ``interactions`` point at.
_ACTIVE: dict[int, str] = {}


# ---------------------------------------------------------------------------------------
# One SQL text, two dialects


def _literal(value):
    """A sqlglot expression for a Python parameter value (timestamps as naive UTC)."""
    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, numbers.Real):  # int, float and numpy numbers
        return exp.Literal.number(value.item() if hasattr(value, "item") else value)
    if isinstance(value, (_dt.datetime, pd.Timestamp)):
        text = utc_naive(value).isoformat(sep=" ")
        return exp.Cast(this=exp.Literal.string(text), to=exp.DataType.build("TIMESTAMP"))
    if isinstance(value, _dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("DATE"))
    return exp.Literal.string(str(value))


def to_spark_sql(sql: str, params: dict | None = None) -> str:
    """DuckDB SQL (with ``$name`` parameters bound from ``params``) as Spark SQL, via sqlglot."""
    import sqlglot
    from sqlglot import exp

    params = params or {}
    tree = sqlglot.parse_one(sql, read="duckdb")

    def bind(node):
        if isinstance(node, (exp.Placeholder, exp.Parameter)):
            name = node.name
            if name not in params:
                raise KeyError(f"the query has a parameter ${name} that was not given")
            return _literal(params[name])
        return node

    def fix(node):
        # isfinite(x) has no Spark twin: NOT (isnan(x) OR abs(x) = infinity).
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "isfinite":
            x = node.expressions[0]
            return exp.Not(this=exp.Paren(this=sqlglot.parse_one(
                f"isnan({x.sql('spark')}) OR abs({x.sql('spark')}) = double('infinity')", read="spark")))
        # DuckDB's quantile_cont(x, q) is exact and interpolating: Spark's percentile(x, q), not
        # PERCENTILE_CONT(x, q) (a WITHIN GROUP function in Spark) nor PERCENTILE_APPROX.
        if isinstance(node, exp.PercentileCont) and node.expression is not None and not isinstance(
            node.parent, exp.WithinGroup
        ):
            return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
        return node

    tree = tree.transform(bind).transform(fix)
    return tree.sql(dialect="spark")


# ---------------------------------------------------------------------------------------
# The session


def _require_spark():
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"the Spark engine needs pyspark: {INSTALL_HINT}") from exc
    if not (os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists()) and not shutil.which(
        "java"
    ):
        raise RuntimeError(f"the Spark engine needs Java 17 (no `java` on PATH, no JAVA_HOME): {INSTALL_HINT}")


def active_session():
    """The active SparkSession, or None (also when pyspark is not installed)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def spark_session(master: str | None = None, *, conf: dict | None = None):
    """The active SparkSession, or a new one on ``master`` (parameter, ``$CXLAB_SPARK_MASTER``,
    else ``local[2]``) with small shuffles, no UI and UTC as its time zone.

    Under ``spark-submit`` or on Databricks/EMR a session already exists (its master set by
    the cluster): it is used as it is.
    """
    _require_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        active.conf.set("spark.sql.session.timeZone", "UTC")
        return active
    builder = SparkSession.builder.appName("cxlab").master(master or os.environ.get(ENV_MASTER) or DEFAULT_MASTER)
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    session.sparkContext.setLogLevel(os.environ.get(ENV_LOG_LEVEL, DEFAULT_LOG_LEVEL))
    return session


# ---------------------------------------------------------------------------------------
# Normalisation: the loader's row rules (cxlib.data.rules.RowRules), transpiled

#: Spark's type names as the DuckDB types :class:`cxlib.data.rules.RowRules` knows (Spark's TIMESTAMP is
#: an instant, DuckDB's TIMESTAMPTZ; TIMESTAMP_NTZ is a wall clock, DuckDB's TIMESTAMP).
DUCKDB_TYPES = {
    "string": "VARCHAR", "varchar": "VARCHAR", "char": "VARCHAR",
    "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP", "date": "DATE",
    "boolean": "BOOLEAN", "byte": "TINYINT", "short": "SMALLINT", "integer": "INTEGER", "long": "BIGINT",
    "float": "FLOAT", "double": "DOUBLE", "decimal": "DECIMAL",
}


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def normalise_sql(table: str, types: dict[str, str], source: str, *, now=None) -> str:
    """Spark SQL that types ``source``'s rows as the loader does and flags those breaking a row rule.

    The expressions are the DuckDB loader's own (:class:`cxlib.data.rules.RowRules`: the typed columns
    and every rule one row can break), transpiled like every query: one definition of the
    contract's row rules for both engines. ``types``: Spark type name of each contract
    column of ``source`` (all present; absent optional ones added as NULL strings).
    """
    rules = RowRules({c: DUCKDB_TYPES.get(t.split("(")[0], "VARCHAR") for c, t in types.items()}, now=now)
    bad = " OR ".join(f"coalesce({condition}, false)" for condition, _, _ in rules.row_checks(table))
    return to_spark_sql(f"SELECT {rules.typed_columns(table)}, ({bad}) AS cx_rejected FROM {source} r")


# ---------------------------------------------------------------------------------------
# The data set


class SparkDataset:
    """``customers`` and ``interactions`` as Spark temporary views: cxlib's heavy steps on Spark.

    An :class:`cxlib.data.engine.Engine`, as :class:`cxlib.Dataset` is: :meth:`query`,
    :meth:`register`, ``as_of``, ``report``, :meth:`fingerprint`, :meth:`close`. Row-level pandas access
    (``customers``, ``interactions``, ``rejects``) is not offered: on Spark the tables stay
    where they are.
    """

    engine = "spark"

    def __init__(self, spark, source: str, raw: dict, as_of=None, cache: bool = True):
        self.spark = spark
        self.source = source
        self._raw = raw  # table -> (label, Spark DataFrame as read)
        self._as_of = None if as_of is None else utc_naive(as_of)
        self._as_of_data = None
        self._report = None
        self._registered: set[str] = set()
        self._loaded_at = load_moment()  # signups and interactions after it are left out
        # Views of this data set have their own names; ``customers`` and ``interactions`` (the
        # names the SQL uses) point at the data set that runs a query, so several data sets
        # can share one session.
        self._suffix = f"{id(self):x}"
        from pyspark.sql import functions as F

        for table in TABLES:
            label, frame = raw[table]
            absent = [c for c in COLUMNS[table] if c not in frame.columns]  # optional ones: open_spark checked
            frame = frame.select(*(c for c in COLUMNS[table] if c in frame.columns),
                                 *(F.lit(None).cast("string").alias(c) for c in absent))
            types = {f.name: f.dataType.typeName() for f in frame.schema.fields}
            frame.createOrReplaceTempView(self._view("raw", table))
            spark.sql(
                f"CREATE OR REPLACE TEMP VIEW {self._view('checked', table)} AS "
                + normalise_sql(table, types, self._view("raw", table), now=self._loaded_at)
            )
            if cache:  # lazily, on first use; dropping the view (close) uncaches it
                spark.catalog.cacheTable(self._view("checked", table))
        self.cached = bool(cache)
        self._activate()

    def _view(self, kind: str, table: str) -> str:
        return f"cx_{kind}_{table}_{self._suffix}"

    def _activate(self) -> None:
        """Point ``customers`` and ``interactions`` at this data set's rows (metadata only)."""
        if _ACTIVE.get(id(self.spark)) == self._suffix:
            return
        for table in TABLES:
            names = ", ".join(_quote(c) for c in COLUMNS[table])
            rows = f"SELECT {names} FROM {self._view('checked', table)} WHERE NOT cx_rejected"
            if table == "customers":  # a churned_at after as_of means still a customer (cxlib.data.load)
                inner = f"(SELECT * FROM {self._view('checked', table)} WHERE NOT cx_rejected)"
                rows = to_spark_sql(CUSTOMERS_AT_SQL.format(as_of=timestamp_sql(self.as_of), source=inner))
            self.spark.sql(f"CREATE OR REPLACE TEMP VIEW {table} AS {rows}")
        _ACTIVE[id(self.spark)] = self._suffix

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run one aggregation written in DuckDB SQL on Spark; return its (small) result.

        The text is transpiled by :func:`to_spark_sql`; ``$name`` placeholders are bound from
        ``params`` as literals. Only the query's result comes back to the driver.
        """
        self._activate()
        frame = self.spark.sql(to_spark_sql(sql, params)).toPandas()
        for column in frame.columns:  # Spark's DECIMAL results come back as Python Decimals
            values = frame[column].dropna()
            if frame[column].dtype == object and len(values) and isinstance(values.iloc[0], decimal.Decimal):
                frame[column] = frame[column].astype(float)
        return frame

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """A small pandas frame (e.g. a sample of customer ids) as a temporary view ``name``."""
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)
        self._registered.add(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)
        self._registered.discard(name)

    @property
    def as_of(self) -> pd.Timestamp:
        """The censoring time: as given to :func:`open_spark`, else the latest timestamp in the data
        not after the moment of opening (the loader's definition, :data:`cxlib.data.load.AS_OF_SQL`)."""
        if self._as_of is not None:
            return self._as_of
        if self._as_of_data is None:  # the loader's definition, on the accepted rows
            accepted = {t: f"(SELECT * FROM {self._view('checked', t)} WHERE NOT cx_rejected)" for t in TABLES}
            sql = to_spark_sql(AS_OF_SQL.format(**accepted), {"now": self._loaded_at})
            self._as_of_data = pd.Timestamp(self.spark.sql(sql).collect()[0]["as_of"])
        return self._as_of_data

    @property
    def report(self) -> LoadReport:
        """Rows read, accepted and left out (row-level rules) per table; counted on first use (one scan each)."""
        if self._report is None:
            read, accepted, rejected = {}, {}, {}
            for table in TABLES:
                row = self.spark.sql(
                    f"SELECT count(*) AS n, count_if(cx_rejected) AS bad FROM {self._view('checked', table)}"
                ).collect()[0]
                read[table], rejected[table] = int(row["n"]), int(row["bad"])
                accepted[table] = read[table] - rejected[table]
            files = {t: self._raw[t][0] for t in TABLES}
            self._report = LoadReport(files, read, accepted, rejected)
        return self._report

    def fingerprint(self) -> dict:
        """Rows, date range and a content hash of the accepted rows (:func:`cxlib.data.load.fingerprint`),
        hashed by Spark: the same data always gives the same value on Spark, but not the value
        DuckDB's loader gives. Nothing but two numbers per table is collected."""
        self._activate()
        hashes = {}
        for table in TABLES:
            names = ", ".join(_quote(c) for c in COLUMNS[table])
            row = self.spark.sql(
                f"SELECT count(*) AS n, coalesce(sum(pmod(xxhash64({names}), 1000000007)), 0) AS h FROM {table}"
            ).collect()[0]
            hashes[table] = (int(row["n"]), int(row["h"]))
        return fingerprint(self, hashes)

    def close(self) -> None:
        """Drop the temporary views (the session stays: it may be shared)."""
        names = [*self._registered, *(self._view(k, t) for k in ("checked", "raw") for t in TABLES)]
        if _ACTIVE.get(id(self.spark)) == self._suffix:
            names += list(TABLES)
            del _ACTIVE[id(self.spark)]
        for name in names:
            try:
                self.spark.catalog.dropTempView(name)
            except Exception:  # pragma: no cover - a stopped session
                pass
        self._registered.clear()

    def __enter__(self) -> SparkDataset:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SparkDataset({self.source!r}, master={self.spark.sparkContext.master!r})"


def is_path(source: str) -> bool:
    """Is ``source`` a path or URI (not the name of a schema in the Spark catalog)?"""
    return "://" in source or source.startswith(("/", ".", "~", "dbfs:")) or os.sep in source or Path(source).exists()


def _read_table(spark, source: str, table: str):
    """(label, DataFrame) of one table from a folder of Parquet (or CSV), or from the catalog."""
    if not is_path(source):
        name = f"{source}.{table}"
        if not spark.catalog.tableExists(name):
            raise DataError(f"no table {name} in the Spark catalog", file=name)
        return name, spark.table(name)
    base = source.rstrip("/")
    local = Path(base).expanduser()
    if "://" not in base and not base.startswith("dbfs:"):
        if not local.exists():
            raise DataError("no such file or folder", file=local)
        candidates = [local / f"{table}{ext}" for ext in (".parquet", "", ".csv") if (local / f"{table}{ext}").exists()]
        if not candidates:
            raise DataError(
                f"missing {table}: expected {table}.parquet (a file or a folder of part files) or {table}.csv",
                file=local / f"{table}.parquet",
            )
        location = str(candidates[0].resolve())
    else:
        location = f"{base}/{table}.parquet"
    if location.endswith(".csv"):
        frame = (
            spark.read.option("header", True).option("inferSchema", False)
            .option("quote", '"').option("escape", '"').option("encoding", "UTF-8").csv(location)
        )
    else:
        try:
            frame = spark.read.parquet(location)
        except Exception as exc:
            raise DataError(f"unreadable Parquet: {str(exc).splitlines()[0]}", file=location) from exc
    return location, frame


def open_spark(
    source: str | None = None, *, spark=None, master: str | None = None, as_of=None, conf=None, cache=None
) -> SparkDataset:
    """Open ``customers`` and ``interactions`` on Spark; return a :class:`SparkDataset`.

    Parameters
    ----------
    source:
        A folder (local path or a URI: ``s3://…``, ``hdfs://…``, ``abfss://…``, ``dbfs:/…``)
        holding ``customers.parquet`` and ``interactions.parquet`` — each a file or a folder
        of part files as Spark writes them (a local folder may hold ``customers.csv`` too) —
        or the name of a database/schema in the Spark catalog holding tables ``customers``
        and ``interactions`` (e.g. ``cx`` or ``main.cx``). Default: ``$CXLAB_SPARK_INPUT``.
    spark:
        A SparkSession to use; default the active one (spark-submit, Databricks), else a new
        local one (see :func:`spark_session`).
    master:
        ``spark.master`` of a new session; default ``$CXLAB_SPARK_MASTER``, else ``local[2]``.
    as_of:
        Censoring time (UTC if naive); default the latest timestamp in the data.
    conf:
        Extra Spark settings for a new session (e.g. ``{"spark.driver.memory": "4g"}``).
    cache:
        Cache the normalised tables (Spark's MEMORY_AND_DISK, filled by the first query):
        an analysis runs dozens of queries over them, each of which would otherwise read
        and parse the files again. Default ``$CXLAB_SPARK_CACHE`` (``0`` turns it off), else on.
    """
    source = source or os.environ.get(ENV_INPUT)
    if not source:
        raise DataError(f"no input for the Spark engine: give a path or table prefix, or set ${ENV_INPUT}")
    source = str(source)
    from cxlib.data.sources import is_sources_file

    if is_sources_file(source) and "://" not in source:
        raise DataError("a sources file is read by the DuckDB engine (cxlib.load): validate and load it there, "
                        "or write its tables as Parquet for Spark", file=source)
    if spark is None:
        spark = spark_session(master, conf=conf)
    else:
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    raw = {}
    for table in TABLES:
        label, frame = _read_table(spark, source, table)
        present = set(frame.columns)
        for column, required in COLUMNS[table].items():
            if required and column not in present:
                raise DataError("missing required column", file=label, column=column)
        raw[table] = (label, frame)
    if cache is None:
        cache = os.environ.get(ENV_CACHE, "1").strip().lower() not in ("0", "false", "no", "off")
    return SparkDataset(spark, source, raw, as_of=as_of, cache=cache)
