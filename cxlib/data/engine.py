"""The engine protocol: what the heavy steps of cxlib ask of a data set, on any engine.

:func:`cxlib.data.open.open_data` returns an :class:`Engine`: a :class:`cxlib.data.load.Dataset`
(DuckDB in process, the default) or a :class:`cxlib.data.spark.SparkDataset` (Spark). The
panel, the metrics and the models use only this protocol, so they run unchanged on either:
they send DuckDB SQL text to :meth:`Engine.query` (Spark transpiles it), register a small
frame of their own as a view (:meth:`Engine.register`), and read the censoring time, the
load's accounting and the data's fingerprint. What both engines share lives here too: the
:class:`LoadReport` and the :func:`fingerprint` built from the engine's row hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

from cxlib.data.contract import TABLES


@runtime_checkable
class Engine(Protocol):
    """A validated data set on one engine: the tables ``customers`` and ``interactions``."""

    #: The engine's name: ``"duckdb"`` or ``"spark"`` (for records and messages, never for a branch).
    engine: str

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """Run one query (DuckDB SQL, ``$name`` parameters bound from ``params``); return its small result."""
        ...

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """A small pandas frame as a view ``name`` that later queries can read."""
        ...

    def unregister(self, name: str) -> None:
        """Drop the view :meth:`register` made."""
        ...

    @property
    def as_of(self) -> pd.Timestamp:
        """The censoring time (naive UTC)."""
        ...

    @property
    def report(self) -> LoadReport:
        """What was read, accepted and left out, per table."""
        ...

    def fingerprint(self) -> dict:
        """Rows, date range and a content hash of the accepted data."""
        ...

    def close(self) -> None:
        """Release what the data set holds (a connection, temporary views, a spill folder)."""
        ...

    def __enter__(self): ...

    def __exit__(self, *exc) -> None: ...


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
