"""The customer-time panel: person-time split where a trailing count changes, in DuckDB SQL.

Every customer is at risk from ``signup_at`` to ``churned_at`` or ``as_of``, whichever comes
first. Along the way two trailing counts change (design.md's definitions, written once in
:func:`cxlib.features.definitions.bad_experiences_sql`): a bad experience of day ``e`` counts as
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
of core), or Spark (:mod:`cxlib.data.spark`), which runs the same SQL text transpiled by sqlglot.
Time differences are written ``date_diff('day' | 'microsecond', a, b)`` rather than
``epoch(b - a)`` or ``CAST(b - a AS INTEGER)``: the same integers on both engines. Who is at
risk, the literals and the day checks are :mod:`cxlib.features.sql`'s, the one definition each.

The churn model's other inputs are here too: :func:`sample_customers` (a reproducible sample
for ``customers``), :func:`engagement_bands` (each customer's band on a day) and
:func:`bad_touchpoints` (the touchpoints of the per-touchpoint terms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.data.open import duckdb_connection
from cxlib.features import running, scope
from cxlib.features.definitions import (
    ROUTINE_TOUCHPOINT,
    bad_experiences_sql,
    check_lower_bounds,
    experience_rate_max_steps,
    experience_rate_sql,
    touches_sql,
    window_experience_band_sql,
)
from cxlib.features.sql import check_days, signed_up_before_sql, text_sql, timestamp_sql, utc_naive

#: Start of each tenure band, in whole days since the signup day.
TENURE_BANDS = (0, 90, 365)
#: Default count cap: trailing counts above it are pooled with it.
COUNT_CAP = 5
#: First day of each days-since band of a bad experience (days since its day): 1–30, 31–60, 61–window.
DAYS_SINCE_BANDS = (1, 31, 61)
#: How the trailing bad experiences are counted: one pair of counts, a pair per touchpoint, a pair per days-since band.
TERMS = ("pooled", "touchpoint", "days_since")
STATUSES = ("unresolved", "resolved")


def count_columns(terms: str = "pooled", *, touchpoints=(), days_since_bands=DAYS_SINCE_BANDS) -> list[str]:
    """Names of the panel's trailing-count columns: ``unresolved, resolved`` (pooled),
    ``unresolved_0, resolved_0, …`` (by touchpoint, in the order of ``touchpoints``; by
    days-since band, in the order of ``days_since_bands``)."""
    if terms == "pooled":
        return list(STATUSES)
    if terms not in TERMS:
        raise ValueError(f"terms must be one of {TERMS}, not {terms!r}")
    n = len(touchpoints) if terms == "touchpoint" else len(days_since_bands)
    return [f"{status}_{k}" for k in range(n) for status in STATUSES]


def days_since_labels(bands=DAYS_SINCE_BANDS, *, window_days: int = WINDOW_DAYS) -> list[str]:
    """``1–30 days``, ``31–60 days``, ``61–90 days`` for the default bands and window."""
    ends = [b - 1 for b in bands[1:]] + [int(window_days)]
    return [f"{lo}–{hi} days" for lo, hi in zip(bands, ends)]


def _check_days_since(bands, window_days) -> tuple[int, ...]:
    bands = tuple(check_days(**{f"days_since_bands[{k}]": b for k, b in enumerate(bands)}).values())
    if not bands or bands[0] != 1 or list(bands) != sorted(set(bands)) or bands[-1] > window_days:
        raise ValueError(f"days_since_bands must start at 1 and increase inside the window, not {bands}")
    return bands


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
    return check_lower_bounds(bands, "tenure", int)


def _band_case(expr: str, bands) -> str:
    labels = tenure_labels(bands)
    whens = " ".join(
        f"WHEN {expr} >= {lo} THEN '{label}'" for lo, label in reversed(list(zip(bands, labels)))
    )
    return f"CASE {whens} END"


def _customers_cte(as_of_sql: str, tables, *, resolution_days: int, keyed: bool = False) -> str:
    """The panel's first CTEs: the sample's tables (:func:`cxlib.features.scope.sample_tables`), ``cust``, the customers at
    risk before ``as_of_sql`` (when each one's time at risk ends, whether it ends in churn), and ``be``,
    their bad experiences before it. ``keyed``: the tables' ids are the customers' numbers
    (``numbered`` :func:`cxlib.features.scope.sample_tables`), ``cust`` names them ``k`` too, for the
    integer-keyed points of :func:`aggregate`'s running step.
    """
    ctes, people, source = tables
    return f"""{ctes}{_cust_cte(as_of_sql, people, keyed=keyed)}, be AS (
        SELECT b.customer_id, b.touchpoint, b.day, b.resolved_on
        FROM ({bad_experiences_sql(resolution_days=resolution_days, source=source)}) b
        WHERE b."at" < {as_of_sql}
    )"""


def _cust_cte(as_of_sql: str, people: str, *, keyed: bool = False) -> str:
    """``cust``: the customers at risk before ``as_of_sql``, when each one's time at risk ends and whether in churn."""
    k = "customer_id AS k, " if keyed else ""  # keyed: the ids are the customers' numbers (scope.sample_tables)
    return f"""cust AS (
        SELECT {k}customer_id, segment, signup_at, CAST(signup_at AS DATE) AS s0,
               least(coalesce(churned_at, {as_of_sql}), {as_of_sql}) AS end_at,
               coalesce(churned_at <= {as_of_sql}, false) AS churned
        FROM {people}
        WHERE {signed_up_before_sql(as_of_sql)}
    )"""


def intervals_sql(
    *, as_of, window_days: int = WINDOW_DAYS, resolution_days: int = RESOLUTION_DAYS, tenure_bands=TENURE_BANDS,
    customers: str | None = None, terms: str = "pooled", touchpoints=(), days_since_bands=DAYS_SINCE_BANDS,
    engagement: bool = False, engagement_steps: int = 1, good: bool = False, window_experiences: bool = False,
) -> str:
    """SQL for the unaggregated panel: one row per customer and interval.

    Columns: ``customer_id, segment, signup_at, start_at, stop_at, tenure_day`` (whole days
    since the signup day at the interval's start), ``tenure_band``, the trailing counts
    (:func:`count_columns` of ``terms``), ``exposure_days, event``; with ``engagement`` also
    ``engagement`` (the experience-rate band index of :func:`cxlib.features.definitions.experience_rate_sql`,
    which needs ``engagement_steps``: :func:`cxlib.features.definitions.experience_rate_max_steps`);
    with ``engagement`` and ``window_experiences`` also ``experiences`` (the trailing count of
    experiences of any outcome, :func:`cxlib.features.definitions.touches_sql`, in the same window as
    the bad ones); with ``good`` also ``good``, the trailing count of *good* experiences (the negative control).
    ``customers`` optionally names a table or view with a ``customer_id`` column: only those
    customers are in the panel (a sample).
    """
    ctes, counts = _points_sql(
        as_of=as_of, window_days=window_days, resolution_days=resolution_days, tenure_bands=tenure_bands,
        customers=customers, terms=terms, touchpoints=touchpoints, days_since_bands=days_since_bands,
        engagement=engagement, engagement_steps=engagement_steps, good=good, window_experiences=window_experiences,
    )
    return f"WITH {ctes}, {_running_window_cte(counts)}, {_spans_select(counts, tenure_bands)}"


def _points_sql(
    *, as_of, window_days, resolution_days, tenure_bands, customers, terms, touchpoints, days_since_bands,
    engagement, engagement_steps, good, window_experiences, keyed: bool = False,
) -> tuple[str, list[str]]:
    """The panel's CTEs up to ``points``, and the names of its trailing counts.

    ``points`` has one row per customer (``cust_key``: the id, or with ``keyed`` the number ``k`` of
    ``cust``) and change day ``d``: each count's change on that day, in a column ``d_<count>``. A
    running sum of each column over the customer's days (:func:`_running_window_cte` in SQL,
    :mod:`cxlib.features.running` in numpy) gives the counts from that day on.
    """
    days = check_days(window_days=window_days, resolution_days=resolution_days)
    w, r = days["window_days"], days["resolution_days"]
    bands = _check_bands(tenure_bands)
    if window_experiences and not engagement:
        raise ValueError("window_experiences is part of the engagement adjustment: it needs engagement=True")
    as_of_sql = timestamp_sql(utc_naive(as_of))
    tables = scope.sample_tables(customers, numbered=keyed)
    if terms != "pooled" or good:
        return _terms_points_sql(
            as_of_sql, w, r, bands, tables, terms, touchpoints,
            _check_days_since(days_since_bands, w) if terms == "days_since" else tuple(days_since_bands),
            engagement, engagement_steps, good, window_experiences, keyed,
        )
    band_values = ", ".join(f"({b})" for b in bands)
    # Resolved in time to count as resolved inside the window (always, when resolution_days < window_days).
    moves = f"(resolved_on IS NOT NULL AND resolved_on + 1 <= day + {w})"
    engagement_cte = _engagement_ctes(as_of_sql, engagement_steps, tables, engagement, window_experiences)
    de = engagement_rows = ""
    out_de, de_cols = [], []
    if engagement:
        de, engagement_rows = ", 0 AS de", "UNION ALL SELECT customer_id, d, 0, 0, delta FROM er_moves"
        out_de, de_cols = ["engagement"], ["ch.de"]
        if window_experiences:  # the trailing count of experiences of any outcome: +n the day after, -n after the window
            de = ", 0 AS de, 0 AS dx"
            engagement_rows = f"""UNION ALL SELECT customer_id, d, 0, 0, delta, 0 FROM er_moves
        UNION ALL SELECT customer_id, day + 1, 0, 0, 0, n FROM touch
        UNION ALL SELECT customer_id, day + {w + 1}, 0, 0, 0, -n FROM touch"""
            out_de, de_cols = [*out_de, "experiences"], [*de_cols, "ch.dx"]
    return f"""    {_customers_cte(as_of_sql, tables, resolution_days=r, keyed=keyed)}{engagement_cte}, changes AS (
        SELECT customer_id, day + 1 AS d, 1 AS du, 0 AS dr{de} FROM be
        UNION ALL
        SELECT customer_id, resolved_on + 1, -1, 1{de} FROM be WHERE {moves}
        UNION ALL
        SELECT customer_id, day + {w + 1},
               CASE WHEN {moves} THEN 0 ELSE -1 END, CASE WHEN {moves} THEN -1 ELSE 0 END{de}
        FROM be
        UNION ALL
        SELECT customer_id, s0 + b.start, 0, 0{de} FROM cust, (VALUES {band_values}) b(start)
        {engagement_rows}
    ), {_changed_ctes(keyed, ["ch.du", "ch.dr", *de_cols], [*STATUSES, *out_de])}""", [*STATUSES, *out_de]


def _terms_points_sql(as_of_sql, w, r, bands, tables, terms, touchpoints, since, engagement, steps, good,
                      window_experiences=False, keyed=False) -> tuple[str, list[str]]:
    """:func:`_points_sql` with trailing counts by touchpoint or by days-since band (and the good count).

    Each bad experience of day ``e`` is cut into sub-spans of constant (status, band): unresolved
    on days ``e+1 .. resolved_on`` (or ``e+window``), resolved from ``resolved_on + 1`` to
    ``e+window``, each cut again at the days-since bands; a sub-span adds 1 to its column from
    its first day and removes it the day after its last. The same event list as the pooled
    panel, one column per term (with ``window_experiences`` the trailing count of experiences of
    any outcome is one more, the last).
    """
    counts = count_columns(terms, touchpoints=touchpoints, days_since_bands=since)
    band_values = ", ".join(f"({b})" for b in bands)
    moves = f"(be.resolved_on IS NOT NULL AND be.resolved_on + 1 <= be.day + {w})"
    if terms == "days_since":
        ends = [b - 1 for b in since[1:]] + [w]
        cuts = list(zip(since, ends))
    else:
        cuts = [(1, w)]
    values = ", ".join(f"({st}, {lo}, {hi}, {b})" for b, (lo, hi) in enumerate(cuts) for st in (0, 1))
    if terms == "touchpoint":
        tp_index = "CASE be.touchpoint " + " ".join(
            f"WHEN {text_sql(tp)} THEN {k}" for k, tp in enumerate(touchpoints)) + " END"
        col = f"2 * ({tp_index}) + v.st"
    elif terms == "days_since":
        col = "2 * v.b + v.st"
    else:  # pooled counts beside the good count
        col = "v.st"
    k_good = len(counts)
    n_cols = k_good + (1 if good else 0)
    good_cte = ""
    if good:
        good_cte = f""", good_x AS (
        SELECT i.customer_id, CAST(i."at" AS DATE) AS day FROM {tables[2]} i
        WHERE i.kind = 'experience' AND i.outcome = 'good' AND i."at" < {as_of_sql}
    )"""
        good_rows = f"""UNION ALL SELECT customer_id, day + 1, {k_good}, 1 FROM good_x
        UNION ALL SELECT customer_id, day + {w + 1}, {k_good}, -1 FROM good_x"""
    else:
        good_rows = ""
    engagement_cte = _engagement_ctes(as_of_sql, steps, tables, engagement, window_experiences)
    engagement_rows = ""
    out_e = []
    if engagement:
        engagement_rows = "UNION ALL SELECT customer_id, d, -2, delta FROM er_moves"
        if window_experiences:
            engagement_rows += f"""
        UNION ALL SELECT customer_id, day + 1, {n_cols}, n FROM touch
        UNION ALL SELECT customer_id, day + {w + 1}, {n_cols}, -n FROM touch"""
        out_e = ["engagement"]
    names = [*counts, "good"] if good else counts
    if engagement and window_experiences:  # the trailing count of experiences of any outcome, the last column
        names, n_cols = [*names, "experiences"], n_cols + 1
    deltas = [f"CASE WHEN ch.col = {k} THEN ch.delta ELSE 0 END" for k in [*range(len(names)), *([-2] if engagement else [])]]
    return f"""{_customers_cte(as_of_sql, tables, resolution_days=r, keyed=keyed)}, sub AS (
        SELECT be.customer_id, {col} AS col,
               CASE WHEN v.st = 0 THEN be.day + v.lo ELSE greatest(be.day + v.lo, be.resolved_on + 1) END AS lo,
               CASE WHEN v.st = 0 THEN least(be.day + v.hi, CASE WHEN {moves} THEN be.resolved_on ELSE be.day + {w} END)
                    ELSE be.day + v.hi END AS hi
        FROM be, (VALUES {values}) v(st, lo, hi, b)
        WHERE v.st = 0 OR {moves}
    ){good_cte}{engagement_cte}, changes AS (
        SELECT customer_id, lo AS d, col, 1 AS delta FROM sub WHERE lo <= hi AND col IS NOT NULL
        UNION ALL
        SELECT customer_id, hi + 1, col, -1 FROM sub WHERE lo <= hi AND col IS NOT NULL
        {good_rows}
        UNION ALL
        SELECT customer_id, s0 + b.start, -1, 0 FROM cust, (VALUES {band_values}) b(start)
        {engagement_rows}
    ), {_changed_ctes(keyed, deltas, [*names, *out_e])}""", [*names, *out_e]


def _engagement_ctes(as_of_sql, steps, tables, engagement, window_experiences) -> str:
    """The engagement adjustment's CTEs (after a comma), or none: ``er_moves`` (``customer_id, d, delta``:
    the experience-rate band's change on its first day) and with ``window_experiences`` ``touch``."""
    if not engagement:
        return ""
    _, people, source = tables
    er = experience_rate_sql(as_of_sql=as_of_sql, max_steps=steps, source=source, customers=people, as_changes=True)
    ctes = f""", er_moves AS (SELECT customer_id, from_day AS d, delta FROM ({er}) er)"""
    if window_experiences:
        ctes += f", touch AS ({touches_sql(as_of_sql, source=source, per_day=False)})"
    return ctes


def _changed_ctes(keyed: bool, deltas: list[str], counts: list[str]) -> str:
    """``changed``: each row of ``changes`` inside its customer's time at risk, keyed (:func:`_key`), its
    change of each count in a column ``d_<count>`` (``deltas``: SQL over ``ch``); ``points``: their sums per
    customer and day."""
    cols = ", ".join(f"{delta} AS d_{name}" for delta, name in zip(deltas, counts, strict=True))
    sums = ", ".join(f"sum(d_{name}) AS d_{name}" for name in counts)
    return f"""changed AS (
        SELECT {_key(keyed)} AS cust_key, ch.d, {cols}
        FROM changes ch JOIN cust c ON c.customer_id = ch.customer_id
        WHERE CAST(ch.d AS TIMESTAMP) < c.end_at
    ), points AS (
        SELECT cust_key, d, {sums} FROM changed GROUP BY cust_key, d
    )"""


def _key(keyed: bool) -> str:
    """The points' customer key: ``cust``'s number ``k`` (keyed) or the id."""
    return "c.k" if keyed else "c.customer_id"


def _running_window_cte(counts) -> str:
    """``running``: each count from each change day on (a running SUM per customer), and the next change day."""
    runs = ", ".join(f"sum(d_{name}) OVER w AS {name}" for name in counts)
    return f"""running AS (
        SELECT cust_key, d, {runs},
               lead(d) OVER (PARTITION BY cust_key ORDER BY d) AS next_d
        FROM points
        WINDOW w AS (PARTITION BY cust_key ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    )"""


def _spans_select(counts, tenure_bands, *, keyed: bool = False) -> str:
    """The panel's last CTE and SELECT: ``running``'s rows (``cust_key, d, next_d`` and the counts) as
    time at risk (``start_at`` to ``stop_at``, ``exposure_days``), with the tenure band and the event."""
    cols = ", ".join(f"CAST(p.{name} AS INTEGER) AS {name}" for name in counts)
    return f"""spans AS (
        SELECT c.customer_id, c.segment, c.signup_at,
               greatest(c.signup_at, CAST(p.d AS TIMESTAMP)) AS start_at,
               CASE WHEN p.next_d IS NULL THEN c.end_at ELSE CAST(p.next_d AS TIMESTAMP) END AS stop_at,
               CAST(date_diff('day', c.s0, p.d) AS INTEGER) AS tenure_day,
               {cols},
               p.next_d IS NULL AND c.churned AS event
        FROM running p JOIN cust c ON {_key(keyed)} = p.cust_key
    )
    SELECT customer_id, segment, signup_at, start_at, stop_at, tenure_day,
           {_band_case('tenure_day', _check_bands(tenure_bands))} AS tenure_band,
           {", ".join(counts)},
           CAST(date_diff('microsecond', start_at, stop_at) AS DOUBLE) / 86400000000 AS exposure_days,
           event
    FROM spans
    """


def aggregate_sql(intervals: str, *, count_cap: int = COUNT_CAP, counts=STATUSES, engagement: bool = False,
                  window_experiences: bool = False) -> str:
    """Sufficient statistics of ``intervals`` (SQL): events and exposure per covariate pattern.

    ``counts``: the trailing-count columns (capped at ``count_cap``); ``engagement``: group by
    the experience-rate band too; ``window_experiences`` (with ``engagement``): and by the band
    (:func:`cxlib.features.definitions.window_experience_band_sql`) of the trailing count of experiences.
    """
    cap = int(count_cap)
    if cap < 1:
        raise ValueError(f"count_cap must be >= 1, not {count_cap}")
    counts = list(counts)
    touches = engagement and window_experiences
    keys = ["segment", "tenure_band", *(["engagement"] if engagement else []), *(["experiences"] if touches else []), *counts]
    capped = ", ".join(f"least({c}, {cap}) AS {c}" for c in counts)
    over = " OR ".join(f"{c} > {cap}" for c in counts)
    bands = ("engagement, " if engagement else "") + (
        f"{window_experience_band_sql('experiences')} AS experiences, " if touches else "")
    return f"""
    SELECT segment, tenure_band, {bands}{capped},
           CAST(count(*) FILTER (event) AS BIGINT) AS events,
           sum(exposure_days) AS exposure_days,
           count(*) AS intervals,
           count(*) FILTER ({over}) AS capped_intervals
    FROM ({intervals})
    GROUP BY ALL
    ORDER BY {", ".join(keys)}
    """


def intervals(
    data, *, window_days: int = WINDOW_DAYS, resolution_days: int = RESOLUTION_DAYS, tenure_bands=TENURE_BANDS,
    as_of=None, customers=None, terms: str = "pooled", touchpoints=(), days_since_bands=DAYS_SINCE_BANDS,
    engagement: bool = False, good: bool = False, window_experiences: bool = False,
) -> pd.DataFrame:
    """The unaggregated panel as a DataFrame (one row per customer and interval).

    For small data, a sample (``customers``: an iterable of customer ids) or tests; the
    model uses :func:`aggregate`, which never brings the intervals into Python.
    ``terms``, ``touchpoints``, ``days_since_bands``, ``engagement``, ``good``, ``window_experiences``: as in
    :func:`intervals_sql` (``experiences`` here is the count itself, not its band).
    """
    as_of = data.as_of if as_of is None else as_of
    steps = experience_rate_max_steps(data, as_of=as_of) if engagement else 1
    with scope.sample_view(data, customers) as view:
        sql = intervals_sql(
            as_of=as_of, window_days=window_days, resolution_days=resolution_days, tenure_bands=tenure_bands, customers=view,
            terms=terms, touchpoints=touchpoints, days_since_bands=days_since_bands, engagement=engagement,
            engagement_steps=steps, good=good, window_experiences=window_experiences,
        )
        frame = data.query(f"{sql} ORDER BY customer_id, start_at")
    frame["event"] = frame["event"].astype(bool)
    return frame


def aggregate(
    data, *, window_days: int = WINDOW_DAYS, resolution_days: int = RESOLUTION_DAYS, tenure_bands=TENURE_BANDS,
    count_cap: int = COUNT_CAP, as_of=None, customers=None, terms: str = "pooled", touchpoints=(),
    days_since_bands=DAYS_SINCE_BANDS, engagement: bool = False, good: bool = False, window_experiences: bool = False,
    running_in_numpy: bool = True,
) -> pd.DataFrame:
    """Events and exposure (days) per segment, tenure band and capped trailing counts.

    One GROUP BY over the panel in the data set's engine (DuckDB or Spark): the result has at most
    ``segments × bands × (cap + 1)²`` rows (pooled counts). ``capped_intervals`` counts intervals whose
    counts were above ``count_cap`` and pooled with it. ``terms`` (:data:`TERMS`) chooses the
    count columns (:func:`count_columns`); ``engagement`` adds the experience-rate band
    (``engagement``, an index: :func:`cxlib.features.definitions.experience_rate_labels`); with it,
    ``window_experiences`` the band of the trailing count of experiences (``experiences``, an index:
    :func:`cxlib.features.definitions.window_experience_labels`); ``good`` the trailing count of good experiences.

    Past :data:`cxlib.features.scope.PANEL_PART_CUSTOMERS` customers the panel is built and aggregated in parts of
    customers (contiguous ranges of their ids) whose tables are summed: the sufficient statistics
    of disjoint customers add up exactly, and the engine's window over every change point of a
    million customers (about 45 million with the window's count of experiences) does not fit
    DuckDB's memory limit at once.

    On DuckDB (``running_in_numpy``, the default) the running counts of the panel's change points are
    summed in numpy (:mod:`cxlib.features.running`) instead of by the SQL window: the same table, in a
    fraction of the time. ``running_in_numpy=False`` runs the SQL window, as on every other engine.
    """
    as_of = data.as_of if as_of is None else as_of
    steps = experience_rate_max_steps(data, as_of=as_of) if engagement else 1
    counts = count_columns(terms, touchpoints=touchpoints, days_since_bands=days_since_bands) + (["good"] if good else [])
    bands = [*(["engagement"] if engagement else []), *(["experiences"] if engagement and window_experiences else [])]
    settings = {"as_of": as_of, "window_days": window_days, "resolution_days": resolution_days,
                "tenure_bands": tenure_bands, "terms": terms, "touchpoints": touchpoints,
                "days_since_bands": days_since_bands, "engagement": engagement, "engagement_steps": steps, "good": good,
                "window_experiences": window_experiences}
    summing = {"count_cap": count_cap, "counts": counts, "engagement": engagement, "window_experiences": window_experiences}
    frames = []
    for part in (scope.customer_parts(data) if customers is None else [customers]):
        with scope.sample_view(data, part) as view:
            con = duckdb_connection(data) if running_in_numpy else None
            if con is not None:
                frames.append(_aggregate_running_in_numpy(con, view, settings, summing))
            else:
                frames.append(data.query(aggregate_sql(intervals_sql(customers=view, **settings), **summing)))
    frame = frames[0]
    if len(frames) > 1:
        keys = ["segment", "tenure_band", *bands, *counts]
        frame = (pd.concat(frames, ignore_index=True).groupby(keys, sort=True, as_index=False)
                 [["events", "exposure_days", "intervals", "capped_intervals"]].sum())
    for col in (*counts, *bands, "events", "intervals", "capped_intervals"):
        frame[col] = frame[col].astype("int64")
    frame["exposure_days"] = frame["exposure_days"].astype(float)
    return frame


def _aggregate_running_in_numpy(con, view, settings: dict, summing: dict) -> pd.DataFrame:
    """One part of :func:`aggregate` on DuckDB: the points from SQL, their running counts in numpy, the rest in SQL."""
    ctes, counts = _points_sql(customers=view, keyed=True, **settings)
    tables = scope.sample_tables(view, numbered=True)
    cust = tables[0] + _cust_cte(timestamp_sql(utc_naive(settings["as_of"])), tables[1], keyed=True)
    spans = _spans_select(counts, settings["tenure_bands"], keyed=True)
    return running.aggregate_points(
        con, ctes, counts, lambda table: aggregate_sql(f"WITH {cust}, running AS (SELECT * FROM {table}), {spans}", **summing))


# ---------------------------------------------------------------------- the churn model's other inputs


def sample_customers(data, sample: int | None, *, seed: int = 0) -> list[str] | None:
    """A reproducible random sample of customer ids (None: everyone)."""
    ids = data.query("SELECT customer_id FROM customers ORDER BY customer_id")["customer_id"].astype(str)
    if sample is None or sample >= len(ids):
        return None
    rng = np.random.default_rng(seed)
    return sorted(ids.to_numpy()[rng.choice(len(ids), size=int(sample), replace=False)].tolist())


def engagement_bands(data, *, as_of=None) -> pd.Series:
    """Each customer's experience-rate band index on the day of ``as_of`` (index: customer_id).

    The band the churn model adjusted for (:func:`cxlib.features.definitions.experience_rate_sql`, the
    panel's ``engagement`` column), for predictions customer by customer (the risk list's survival baseline).
    """
    as_of = data.as_of if as_of is None else as_of
    t = timestamp_sql(utc_naive(as_of))
    sql = experience_rate_sql(as_of_sql=t, max_steps=experience_rate_max_steps(data, as_of=as_of))
    frame = data.query(
        f"""SELECT customer_id, rate_band FROM ({sql}) er
        WHERE er.from_day <= CAST({t} AS DATE) AND (er.to_day IS NULL OR CAST({t} AS DATE) < er.to_day)"""
    )
    return pd.Series(frame["rate_band"].to_numpy(dtype=int), index=frame["customer_id"].astype(str).to_numpy(),
                     name="engagement")


def window_experience_bands(data, *, as_of=None, window_days: int = WINDOW_DAYS) -> pd.Series:
    """Each customer's band of the window's count of experiences on the day of ``as_of`` (index: customer_id).

    The band the churn model adjusted for with ``window_experiences`` (the panel's ``experiences``
    column: an experience of day ``e`` counts on days ``e+1 … e+window_days``), for predictions
    customer by customer (the risk list's survival baseline). Customers with none are left out (band 0).
    """
    as_of = data.as_of if as_of is None else as_of
    w = check_days(window_days=window_days)["window_days"]
    t = timestamp_sql(utc_naive(as_of))
    frame = data.query(
        f"""SELECT customer_id, {window_experience_band_sql('sum(n)')} AS band FROM ({touches_sql(t)}) x
        WHERE x.day >= CAST({t} AS DATE) - INTERVAL {w} DAY AND x.day < CAST({t} AS DATE)
        GROUP BY customer_id"""
    )
    return pd.Series(frame["band"].to_numpy(dtype=int), index=frame["customer_id"].astype(str).to_numpy(),
                     name="experiences")


def bad_touchpoints(data, *, as_of=None) -> list[str]:
    """Touchpoints with bad experiences before ``as_of``, the most frequent first: the churn model's
    per-touchpoint terms."""
    as_of = data.as_of if as_of is None else as_of
    frame = data.query(
        f"""SELECT touchpoint, count(*) AS n FROM interactions
        WHERE kind = 'experience' AND outcome = 'bad' AND "at" < {timestamp_sql(utc_naive(as_of))}
          AND touchpoint <> '{ROUTINE_TOUCHPOINT}'
        GROUP BY touchpoint ORDER BY n DESC, touchpoint"""
    )
    return frame["touchpoint"].astype(str).tolist()


def churned_share(data, as_of=None, customers=None) -> float | None:
    """Share of the customers (signed up before ``as_of``) who churned by then; None for a sample."""
    if customers is not None:
        return None
    t = timestamp_sql(utc_naive(data.as_of if as_of is None else as_of))
    frame = data.query(
        f"SELECT avg(CASE WHEN churned_at <= {t} THEN 1.0 ELSE 0.0 END) AS share FROM customers"
        f" WHERE {signed_up_before_sql(t)}"
    )
    value = frame["share"].iloc[0]
    return None if pd.isna(value) else float(value)
