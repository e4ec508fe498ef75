"""Options several subcommands share, defined once so they read and default the same everywhere."""

from __future__ import annotations

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS

DATA_HELP = (
    "folder with customers.* and interactions.*, a DuckDB file, or postgresql://user@host:port/db[?schema=s] "
    "(password from PGPASSWORD or ~/.pgpass, or in the string: never shown)"
)


def add_data(parser, *, engine: bool = False) -> None:
    """The data set; with ``engine``, also where the aggregations run."""
    if not engine:
        parser.add_argument("path", type=_location, help=DATA_HELP)
        return
    parser.add_argument(
        "path",
        help=f"{DATA_HELP}; with --engine spark also a URI (s3://, hdfs://, abfss://, dbfs:/) of Parquet "
        "or a catalog schema holding both tables",
    )
    parser.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb",
        help="where the aggregations run: duckdb (in process, default) or spark (a SparkSession)",
    )
    parser.add_argument(
        "--spark-master", default=None,
        help="spark.master of a new session (default $CXLAB_SPARK_MASTER, else local[2]; under spark-submit the session's)",
    )
    add_reading(parser)


def add_reading(parser) -> None:
    """How text files are read: the zone of naive timestamps, the encoding (cxlib.load's settings)."""
    parser.add_argument(
        "--timezone", default="UTC",
        help="time zone of naive timestamps and dates without a time (IANA name, default UTC)",
    )
    parser.add_argument(
        "--encoding", default="utf-8",
        help="text encoding of the CSV files (default utf-8, checked over the whole file; e.g. latin-1, cp1252)",
    )


def reading(args) -> dict:
    """The keyword arguments of :func:`cxlib.load` that :func:`add_reading` set."""
    return {"timezone": args.timezone, "encoding": args.encoding}


def _location(text: str):
    """A path, or a connection string kept as text (:func:`cxlib.data.open.as_location`)."""
    from cxlib.data.open import as_location

    return as_location(text)


def open_data(args):
    """The data set of a command that took :func:`add_data` with ``engine`` and an ``--as-of`` option."""
    from cxlib.data.open import open_data as open_engine

    return open_engine(args.path, engine=args.engine, as_of=args.as_of, spark_master=args.spark_master,
                       **reading(args))


def add_definitions(parser) -> None:
    """design.md's trailing window and resolution days."""
    parser.add_argument(
        "--window-days", type=int, default=WINDOW_DAYS, help=f"trailing window of the counts (default {WINDOW_DAYS})"
    )
    parser.add_argument(
        "--resolution-days", type=int, default=RESOLUTION_DAYS,
        help=f"days in which a contact resolves (default {RESOLUTION_DAYS})",
    )


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON object")
