"""The panel's running counts in numpy: :func:`cxlib.features.panel.aggregate`'s step on DuckDB.

The panel's SQL (:mod:`cxlib.features.panel`) lists, per customer and change day, how each
trailing count changes on that day (its ``points``). The count from a day on is the running sum
of its changes up to that day; the interval of a day ends at the customer's next change day. In
SQL that is a window (``SUM(...) OVER (PARTITION BY customer ORDER BY day)`` and ``lead``), and on
DuckDB that window is most of the churn step's time: with the window's count of experiences a
million customers have 45 million change points, and the window sorts and scans them per
partition (at 100,000 customers it took 3.9 of the query's 10.6 CPU seconds, the GROUP BY that
feeds it another 3.3 with text keys). Over the same points sorted by customer and day, each
running sum is one ``np.cumsum`` less the customer's sum before its first point, and the next
change day is the next row's day when it is the same customer's.

Only that mechanical step is here. Which change points exist and what each count means is the
panel's SQL, shared with the SQL engines (Spark runs the window); the time at risk, the tenure
band, the event and the aggregation are the panel's SQL too, run by DuckDB over the table
returned here. The two paths give the same table (tests/features/test_panel.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa


def aggregate_points(con, ctes: str, counts: list[str], aggregate: Callable[[str], str]) -> pd.DataFrame:
    """Run the panel's change points (``ctes``: its CTEs, keyed by integers; their ``changed``) on the
    DuckDB connection ``con``, sum them into running counts here (:func:`running_counts`), register
    those as a view and return the query ``aggregate(view name)`` over it."""
    changes = ", ".join(f"CAST(d_{name} AS SMALLINT) AS d_{name}" for name in counts)
    points = con.execute(  # cust_key: cust's row number, an INTEGER for a part of customers
        f"""WITH {ctes} SELECT CAST(cust_key AS INTEGER) AS cust_key, CAST(date_diff('day', DATE '1970-01-01', d) AS INTEGER) AS day, {changes}
        FROM changed ORDER BY cust_key, d"""
    ).fetchnumpy()
    table = running_counts(points.pop("cust_key"), points.pop("day"), {name: points.pop(f"d_{name}") for name in counts})
    del points
    name = "cx_panel_running"
    con.register(name, table)
    try:
        return con.execute(aggregate(name)).df()
    finally:
        con.unregister(name)


def running_counts(cust_key: np.ndarray, day: np.ndarray, changes: dict[str, np.ndarray]) -> pa.Table:
    """Each count from each change day on, and the next change day, as an Arrow table.

    ``cust_key`` (integers) and ``day`` (days since 1970-01-01) are the change points sorted by
    customer, then day (several on one day are summed); ``changes`` maps each count's name to its
    change at that point. One row per customer and change day, columns: ``cust_key``, ``d`` and
    ``next_d`` (dates; ``next_d`` null on a customer's last day), then one int32 column per count,
    named as in ``changes``: the SQL window's ``running`` (:func:`cxlib.features.panel.intervals_sql`).

    Written to touch little fresh memory (a million customers have tens of millions of points): one
    buffer serves every count; one ``np.cumsum`` runs over everyone, and each point then takes away
    what the customers before its own left in that sum (the sum at the point before its customer's
    first), gathered through each point's customer index: cheaper than ``np.add.reduceat`` per count.
    """
    cust_key = np.asarray(cust_key)
    day = np.asarray(day, dtype=np.int32)
    n = len(cust_key)
    if len(day) != n or any(len(v) != n for v in changes.values()):
        raise ValueError("cust_key, day and every change column must have one value per point")
    new_customer = cust_key[1:] != cust_key[:-1]
    if np.any(cust_key[1:] < cust_key[:-1]) or np.any(~new_customer & (day[1:] < day[:-1])):
        raise ValueError("change points must be sorted by customer, then day")
    last = np.ones(n, dtype=bool)  # the last point of its customer and day: the counts from that day on
    last[:-1] = new_customer | (day[1:] != day[:-1])
    starts = np.flatnonzero(np.concatenate(([n > 0], new_customer)))  # each customer's first point
    del new_customer
    key, first_day = cust_key[last], day[last]
    next_valid = np.ones(len(key), dtype=bool)  # a next change day of the same customer
    if len(key):
        np.equal(key[1:], key[:-1], out=next_valid[:-1])
        next_valid[-1] = False
    next_day = np.empty_like(first_day)
    next_day[:-1] = first_day[1:]
    columns = {"cust_key": pa.array(key), "d": _dates(first_day), "next_d": _dates(next_day, valid=next_valid)}
    running = np.empty(n, dtype=np.int32)  # one buffer for every count
    owner = np.repeat(np.arange(len(starts), dtype=np.int32), np.diff(np.append(starts, n)))  # each point's customer
    before = np.zeros(len(starts), dtype=np.int32)  # the running sum of the customers before each one
    for name, change in changes.items():
        np.cumsum(change, dtype=np.int32, out=running)
        before[1:] = running[starts[1:] - 1]
        np.subtract(running, before[owner], out=running)
        columns[name] = pa.array(running[last])
    return pa.table(columns)


def _dates(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """int32 days since 1970-01-01 as an Arrow date32 array without a copy (null where not ``valid``)."""
    days = np.ascontiguousarray(days, dtype=np.int32)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    nulls = 0 if valid is None else int(len(valid) - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.date32(), len(days), [bitmap, pa.py_buffer(days)], null_count=nulls)
