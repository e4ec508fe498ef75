"""The customer-time panel: person-time split where a trailing count changes, in DuckDB SQL.

Every customer is at risk from ``signup_at`` to ``churned_at`` or ``as_of``, whichever comes
first. Along the way two trailing counts change (design.md's definitions, written once in
:func:`cxlib.definitions.bad_experiences_sql`): a bad experience of day ``e`` counts as
*unresolved* on days ``e+1 .. resolved_on``, as *resolved* from ``resolved_on + 1``, and only
within days ``e+1 .. e+window_days``. The tenure band (whole days since the signup day)
changes at its boundaries. Between two such change points the hazard of a
piecewise-exponential model is constant, so the panel needs one row per customer and
interval, not one per customer and day.

How the SQL does it (an event list, no calendar of days):

1. each bad experience yields *change points*: ``(+1 unresolved)`` on ``e+1``;
   ``(-1 unresolved, +1 resolved)`` on ``resolved_on + 1`` when that falls inside the window;
   and ``(-1 of whichever it then is)`` on ``e + window_days + 1``;
2. every customer also gets a zero change on the signup day and on each tenure-band start;
3. change points are summed per customer and day, a running ``SUM`` ordered by day gives
   the counts from each change point on, and ``lead(day)`` ends each interval;
4. exposure is the time at risk inside each interval, in days (the signup day counts from
   ``signup_at``, the last interval stops at ``churned_at`` or ``as_of``); the churn event
   falls in a churned customer's last interval.

:func:`aggregate` then sums events and exposure per covariate pattern (segment, tenure band,
capped counts): for a Poisson likelihood those sums are sufficient statistics, so the model
fits on a table of a few hundred rows whatever the number of customers. Everything runs in
the data set's engine through ``data.query``: DuckDB in process (it scans CSV or Parquet out
of core), or Spark (:mod:`cxlib.spark`), which runs the same SQL text transpiled by sqlglot.
Time differences are written ``date_diff('day' | 'microsecond', a, b)`` rather than
``epoch(b - a)`` or ``CAST(b - a AS INTEGER)``: the same integers on both engines.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.definitions import bad_experiences_sql

#: Start of each tenure band, in whole days since the signup day.
TENURE_BANDS = (0, 90, 365)
#: Default count cap: trailing counts above it are pooled with it.
COUNT_CAP = 5


def tenure_labels(bands=TENURE_BANDS) -> list[str]:
    """Labels of the tenure bands: ``0–89 days``, ``90–364 days``, ``365+ days``."""
    bands = _check_bands(bands)
    labels = []
    for lo, hi in zip(bands, [*bands[1:], None]):
        labels.append(f"{lo}+ days" if hi is None else f"{lo}–{hi - 1} days")
    return labels


def tenure_band_of(days, bands=TENURE_BANDS):
    """The band label of whole days of tenure (scalar or array-like)."""
    bands = _check_bands(bands)
    labels = np.array(tenure_labels(bands), dtype=object)
    idx = np.searchsorted(np.asarray(bands), np.asarray(days), side="right") - 1
    idx = np.clip(idx, 0, len(bands) - 1)
    return labels[idx] if np.ndim(idx) else labels[int(idx)]


def _check_bands(bands) -> tuple[int, ...]:
    bands = tuple(int(b) for b in bands)
    if not bands or bands[0] != 0 or list(bands) != sorted(set(bands)):
        raise ValueError(f"tenure_bands must start at 0 and increase, not {bands}")
    return bands


def _check(window_days, resolution_days) -> tuple[int, int]:
    w, r = int(window_days), int(resolution_days)
    if w < 1:
        raise ValueError(f"window_days must be >= 1, not {window_days}")
    if r < 0:
        raise ValueError(f"resolution_days must be >= 0, not {resolution_days}")
    return w, r


def _band_case(expr: str, bands) -> str:
    labels = tenure_labels(bands)
    whens = " ".join(
        f"WHEN {expr} >= {lo} THEN '{label}'" for lo, label in reversed(list(zip(bands, labels)))
    )
    return f"CASE {whens} END"


def _timestamp_literal(as_of) -> str:
    from cxlib.io import utc_naive

    return f"TIMESTAMP '{utc_naive(as_of).isoformat(sep=' ')}'"


def intervals_sql(
    as_of,
    *,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=TENURE_BANDS,
    customers: str | None = None,
) -> str:
    """SQL for the unaggregated panel: one row per customer and interval.

    Columns: ``customer_id, segment, signup_at, start_at, stop_at, tenure_day`` (whole days
    since the signup day at the interval's start), ``tenure_band, unresolved, resolved,
    exposure_days, event``. ``customers`` optionally names a table or view with a
    ``customer_id`` column: only those customers are in the panel (a sample).
    """
    w, r = _check(window_days, resolution_days)
    bands = _check_bands(tenure_bands)
    as_of_sql = _timestamp_literal(as_of)
    only = f"AND customer_id IN (SELECT customer_id FROM {customers})" if customers else ""
    band_values = ", ".join(f"({b})" for b in bands)
    # Resolved in time to count as resolved inside the window (always, when resolution_days < window_days).
    moves = f"(resolved_on IS NOT NULL AND resolved_on + 1 <= day + {w})"
    return f"""
    WITH cust AS (
        SELECT customer_id, segment, signup_at, CAST(signup_at AS DATE) AS s0,
               least(coalesce(churned_at, {as_of_sql}), {as_of_sql}) AS end_at,
               coalesce(churned_at <= {as_of_sql}, false) AS churned
        FROM customers
        WHERE signup_at < {as_of_sql} {only}
    ), be AS (
        SELECT b.customer_id, b.day, b.resolved_on
        FROM ({bad_experiences_sql(resolution_days=r)}) b
        WHERE b."at" < {as_of_sql} {only.replace('customer_id IN', 'b.customer_id IN')}
    ), changes AS (
        SELECT customer_id, day + 1 AS d, 1 AS du, 0 AS dr FROM be
        UNION ALL
        SELECT customer_id, resolved_on + 1, -1, 1 FROM be WHERE {moves}
        UNION ALL
        SELECT customer_id, day + {w + 1},
               CASE WHEN {moves} THEN 0 ELSE -1 END, CASE WHEN {moves} THEN -1 ELSE 0 END
        FROM be
        UNION ALL
        SELECT customer_id, s0 + b.start, 0, 0 FROM cust, (VALUES {band_values}) b(start)
    ), points AS (
        SELECT ch.customer_id, ch.d, sum(ch.du) AS du, sum(ch.dr) AS dr
        FROM changes ch JOIN cust c ON c.customer_id = ch.customer_id
        WHERE CAST(ch.d AS TIMESTAMP) < c.end_at
        GROUP BY ch.customer_id, ch.d
    ), running AS (
        SELECT customer_id, d,
               sum(du) OVER w AS unresolved,
               sum(dr) OVER w AS resolved,
               lead(d) OVER (PARTITION BY customer_id ORDER BY d) AS next_d
        FROM points
        WINDOW w AS (PARTITION BY customer_id ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ), spans AS (
        SELECT c.customer_id, c.segment, c.signup_at,
               greatest(c.signup_at, CAST(p.d AS TIMESTAMP)) AS start_at,
               CASE WHEN p.next_d IS NULL THEN c.end_at ELSE CAST(p.next_d AS TIMESTAMP) END AS stop_at,
               CAST(date_diff('day', c.s0, p.d) AS INTEGER) AS tenure_day,
               CAST(p.unresolved AS INTEGER) AS unresolved,
               CAST(p.resolved AS INTEGER) AS resolved,
               p.next_d IS NULL AND c.churned AS event
        FROM running p JOIN cust c ON c.customer_id = p.customer_id
    )
    SELECT customer_id, segment, signup_at, start_at, stop_at, tenure_day,
           {_band_case('tenure_day', bands)} AS tenure_band,
           unresolved, resolved,
           CAST(date_diff('microsecond', start_at, stop_at) AS DOUBLE) / 86400000000 AS exposure_days,
           event
    FROM spans
    """


def aggregate_sql(intervals: str, *, count_cap: int = COUNT_CAP) -> str:
    """Sufficient statistics of ``intervals`` (SQL): events and exposure per covariate pattern."""
    cap = int(count_cap)
    if cap < 1:
        raise ValueError(f"count_cap must be >= 1, not {count_cap}")
    return f"""
    SELECT segment, tenure_band,
           least(unresolved, {cap}) AS unresolved, least(resolved, {cap}) AS resolved,
           CAST(count(*) FILTER (event) AS BIGINT) AS events,
           sum(exposure_days) AS exposure_days,
           count(*) AS intervals,
           count(*) FILTER (unresolved > {cap} OR resolved > {cap}) AS capped_intervals
    FROM ({intervals})
    GROUP BY ALL
    ORDER BY segment, tenure_band, unresolved, resolved
    """


@contextmanager
def _sample_view(data, customers):
    """Register a list of customer ids as a temporary view in ``data``'s engine; yield its name (or None)."""
    if customers is None:
        yield None
        return
    name = "cx_panel_sample"
    frame = pd.DataFrame({"customer_id": pd.Series(list(customers), dtype=object).astype(str)})
    target = data.con if getattr(data, "engine", "duckdb") == "duckdb" else data
    target.register(name, frame)
    try:
        yield name
    finally:
        target.unregister(name)


def intervals(
    data,
    *,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=TENURE_BANDS,
    as_of=None,
    customers=None,
) -> pd.DataFrame:
    """The unaggregated panel as a DataFrame (one row per customer and interval).

    For small data, a sample (``customers``: an iterable of customer ids) or tests; the
    model uses :func:`aggregate`, which never brings the intervals into Python.
    """
    as_of = data.as_of if as_of is None else as_of
    with _sample_view(data, customers) as view:
        sql = intervals_sql(
            as_of, window_days=window_days, resolution_days=resolution_days, tenure_bands=tenure_bands, customers=view
        )
        frame = data.query(f"{sql} ORDER BY customer_id, start_at")
    frame["event"] = frame["event"].astype(bool)
    return frame


def aggregate(
    data,
    *,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=TENURE_BANDS,
    count_cap: int = COUNT_CAP,
    as_of=None,
    customers=None,
) -> pd.DataFrame:
    """Events and exposure (days) per segment, tenure band and capped trailing counts.

    One GROUP BY over the panel in the data set's engine (DuckDB or Spark): the result has at most
    ``segments × bands × (cap + 1)²`` rows. ``capped_intervals`` counts intervals whose
    counts were above ``count_cap`` and pooled with it.
    """
    as_of = data.as_of if as_of is None else as_of
    with _sample_view(data, customers) as view:
        sql = intervals_sql(
            as_of, window_days=window_days, resolution_days=resolution_days, tenure_bands=tenure_bands, customers=view
        )
        frame = data.query(aggregate_sql(sql, count_cap=count_cap))
    for col in ("unresolved", "resolved", "events", "intervals", "capped_intervals"):
        frame[col] = frame[col].astype("int64")
    frame["exposure_days"] = frame["exposure_days"].astype(float)
    return frame
