"""design.md's definitions, written once as SQL so every analysis counts the same way.

- **bad experience**: an ``experience`` row with outcome ``bad``.
- **resolved bad experience**: a bad experience with a ``service`` row of the same customer
  and touchpoint with ``resolved = true`` on the same calendar day or up to
  ``resolution_days`` days after (calendar days, not timestamps: the systems that log
  experiences and contacts keep different clocks, and a same-day contact is often stamped
  before the experience). Routine contacts (``how_to``) are never a resolution.
- ``resolved_on`` is the calendar day of the earliest such contact. Time-varying analyses
  count a bad experience of day ``e`` as *unresolved* on days ``e+1 .. resolved_on`` and as
  *resolved* from ``resolved_on + 1``; with no resolving contact it stays unresolved. It
  counts in the trailing window of days ``e+1 .. e+window_days`` (the day at risk excluded).
  This is what is known on each day, so no count looks into the future.

Functions return DuckDB SQL text over the validated tables, in forms that :mod:`cxlib.data.spark`
transpiles to Spark SQL faithfully.
"""

from __future__ import annotations

from cxlib.config import RESOLUTION_DAYS
from cxlib.features.sql import check_days, utc_naive

ROUTINE_TOUCHPOINT = "how_to"
#: Survey answers recorded as rows of their own (the NPS template): feedback on a touch, not a
#: touch of the journey, so they never count towards a customer's experience rate.
SURVEY_TOUCHPOINT = "survey"


def bad_experiences_sql(*, resolution_days: int = RESOLUTION_DAYS, source: str = "interactions") -> str:
    """One row per bad experience: ids, customer, touchpoint, channel, at, day, resolved_on.

    ``source`` names the table or CTE of interactions to read (e.g. one cut at an analysis
    date); a name, never text from data.
    """
    days = check_days(resolution_days=resolution_days)["resolution_days"]
    if not source.isidentifier():
        raise ValueError(f"source must be a table name, not {source!r}")
    return f"""
    WITH bad AS (
        SELECT interaction_id, customer_id, touchpoint, channel, "at", CAST("at" AS DATE) AS day
        FROM {source} WHERE kind = 'experience' AND outcome = 'bad'
    ), fix AS (
        SELECT customer_id, touchpoint, CAST("at" AS DATE) AS day
        FROM {source}
        WHERE kind = 'service' AND resolved AND touchpoint <> '{ROUTINE_TOUCHPOINT}'
    )
    SELECT b.interaction_id, b.customer_id, b.touchpoint, b.channel, b."at", b.day,
           min(f.day) AS resolved_on
    FROM bad b LEFT JOIN fix f
      ON f.customer_id = b.customer_id AND f.touchpoint = b.touchpoint
     AND f.day >= b.day AND f.day <= b.day + {days}
    GROUP BY ALL
    """


def touches_sql(as_of_sql: str, *, source: str = "interactions", per_day: bool = True) -> str:
    """The experiences that measure engagement, per customer and day: ``customer_id, day, n``.

    ``experience`` rows of any outcome before ``as_of_sql``, survey answers of their own
    (:data:`SURVEY_TOUCHPOINT`) left out: the touches both :func:`experience_rate_sql` and the
    trailing count of experiences (:func:`window_experience_band_sql`) count. ``per_day=False``: one row per touch
    (``n`` = 1), for a caller that sums them anyway (the panel's change points).
    """
    if not source.isidentifier():
        raise ValueError(f"source must be a table name, not {source!r}")
    n, group = ("count(*)", "GROUP BY 1, 2") if per_day else ("1", "")
    return f"""
    SELECT i.customer_id, CAST(i."at" AS DATE) AS day, {n} AS n FROM {source} i
    WHERE {_TOUCH} AND i."at" < {as_of_sql}
    {group}
    """


#: An experience row that counts as a touch of the journey (alias ``i``).
_TOUCH = f"i.kind = 'experience' AND i.touchpoint IS DISTINCT FROM '{SURVEY_TOUCHPOINT}'"


def window_experience_labels(bands=None) -> list[str]:
    """Labels of the bands of the trailing count of experiences, by band index: ``0``, ``12–13``, ``30+``."""
    bands = check_lower_bounds(_default_window_bands() if bands is None else bands, "experience-count", int)
    labels = []
    for lo, hi in zip(bands, [*bands[1:], None]):
        labels.append(f"{lo}+" if hi is None else str(lo) if hi == lo + 1 else f"{lo}–{hi - 1}")
    return labels


def window_experience_band_sql(expr: str, bands=None) -> str:
    """SQL: the band index (of :func:`window_experience_labels`) of a trailing count of experiences ``expr``."""
    bands = check_lower_bounds(_default_window_bands() if bands is None else bands, "experience-count", int)
    whens = " ".join(f"WHEN {expr} >= {lo} THEN {i}" for i, lo in reversed(list(enumerate(bands))))
    return f"CASE {whens} END"


def _default_window_bands():
    from cxlib.config import WINDOW_EXPERIENCE_BANDS

    return WINDOW_EXPERIENCE_BANDS


def check_lower_bounds(bands, kind: str, number=float) -> tuple:
    """Band lower bounds as ``number``s: they must start at 0 and increase (``kind`` names them in the error)."""
    bands = tuple(number(b) for b in bands)
    if not bands or bands[0] != 0 or list(bands) != sorted(set(bands)):
        raise ValueError(f"{kind} bands must start at 0 and increase, not {bands}")
    return bands


def experience_rate_labels(bands=None, *, step_days: int | None = None) -> list[str]:
    """Labels of the experience-rate bands of :func:`experience_rate_sql`, by band index.

    Index 0 is the first ``step_days`` after signup (no history yet); index ``k`` the
    ``k``-th band of ``bands`` (lower bounds, experiences per
    :data:`~cxlib.config.EXPERIENCE_RATE_PER_DAYS` days).
    """
    from cxlib.config import ENGAGEMENT_STEP_DAYS, EXPERIENCE_RATE_BANDS

    bands = check_lower_bounds(EXPERIENCE_RATE_BANDS if bands is None else bands, "experience-rate")
    step = int(ENGAGEMENT_STEP_DAYS if step_days is None else step_days)
    labels = [f"first {step} days"]
    for lo, hi in zip(bands, [*bands[1:], None]):
        labels.append(f"{lo:g}+" if hi is None else f"{lo:g}–{hi:g}")
    return labels


def experience_rate_sql(
    *,
    as_of_sql: str,
    max_steps: int,
    step_days: int | None = None,
    bands=None,
    source: str = "interactions",
    customers: str = "customers",
    skip_days: int | None = None,
    as_changes: bool = False,
) -> str:
    """Engagement: each customer's experience-rate band, as spans of days where it is constant.

    The **experience rate** on a day at risk ``d`` is the number of the customer's
    ``experience`` rows (any outcome; survey answers of their own, :data:`SURVEY_TOUCHPOINT`, are
    feedback, not touches) on days before the day of the last update, per
    :data:`~cxlib.config.EXPERIENCE_RATE_PER_DAYS` days since the signup day. It is brought up
    to date on days ``s0 + k*step_days`` (``s0`` the signup day, ``k = 1, 2, …``), counting the
    experiences of days ``< s0 + k*step_days`` over ``k*step_days`` days: known from the past
    only, so it never looks into the future, and a step function with few steps, so the
    panel's person-time is split only where the band changes. Band 0 is the first
    ``step_days`` (no history); band ``i ≥ 1`` is the rate's band among ``bands`` (lower
    bounds; labels: :func:`experience_rate_labels`).

    Rows: ``customer_id, from_day, to_day, rate_band`` — the band holds on the days
    ``from_day <= day < to_day`` (``to_day`` NULL: to the end of the customer's time).
    Join a day ``d`` with ``from_day <= d AND (to_day IS NULL OR d < to_day)``.

    ``as_of_sql`` is a SQL timestamp literal (experiences at or after it are not counted and no
    update falls on or after it, nor after churn); ``max_steps`` bounds ``k`` (at least the
    longest tenure over ``step_days``: :func:`experience_rate_max_steps`). ``source`` and
    ``customers`` name the tables (or CTEs) of interactions and customers.

    ``as_changes``: rows ``customer_id, from_day, delta`` instead, the band's change on the day it
    changes (from 0 before the signup day): what a running sum over days needs (the churn panel).
    """
    from cxlib.config import ENGAGEMENT_SKIP_DAYS, ENGAGEMENT_STEP_DAYS, EXPERIENCE_RATE_PER_DAYS

    step = int(ENGAGEMENT_STEP_DAYS if step_days is None else step_days)
    skip = int(ENGAGEMENT_SKIP_DAYS if skip_days is None else skip_days)
    if not 0 <= skip < step:
        raise ValueError(f"skip_days must be in [0, step_days), not {skip_days}")
    if step < 1:
        raise ValueError(f"step_days must be >= 1, not {step_days}")
    bands = check_lower_bounds(_default_bands() if bands is None else bands, "experience-rate")
    for name in (source, customers):
        if not name.isidentifier():
            raise ValueError(f"table names must be identifiers, not {name!r}")
    steps = max(int(max_steps), 1)
    ks = ", ".join(f"({k})" for k in range(1, steps + 1))
    rate = f"CAST(n_before AS DOUBLE) * {EXPERIENCE_RATE_PER_DAYS} / (k * {step} - {skip})"
    whens = " ".join(f"WHEN {rate} >= {lo!r} THEN {i + 1}" for i, lo in reversed(list(enumerate(bands))))
    return f"""
    WITH er_cust AS (
        SELECT customer_id, CAST(signup_at AS DATE) AS s0,
               least(coalesce(churned_at, {as_of_sql}), {as_of_sql}) AS end_at
        FROM {customers} WHERE signup_at < {as_of_sql}
    ), er_counts AS (
        SELECT i.customer_id,
               CAST(floor(date_diff('day', c.s0, CAST(i."at" AS DATE)) / {step}) AS INTEGER) + 1 AS k,
               count(*) AS n
        FROM {source} i JOIN er_cust c ON c.customer_id = i.customer_id
        WHERE {_TOUCH} AND i."at" < {as_of_sql}
          AND date_diff('day', c.s0, CAST(i."at" AS DATE)) >= {skip}
        GROUP BY 1, 2
    ), er_grid AS (
        SELECT c.customer_id, c.s0, g.k FROM er_cust c, (VALUES {ks}) g(k)
        WHERE CAST(c.s0 + g.k * {step} AS TIMESTAMP) < c.end_at
    ), er_running AS (
        SELECT g.customer_id, g.s0, g.k,
               sum(coalesce(n.n, 0)) OVER (PARTITION BY g.customer_id ORDER BY g.k
                                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS n_before
        FROM er_grid g LEFT JOIN er_counts n ON n.customer_id = g.customer_id AND n.k = g.k
    ), er_bands AS (
        SELECT customer_id, s0 AS from_day, 0 AS k, 0 AS rate_band FROM er_cust
        UNION ALL
        SELECT customer_id, s0 + k * {step}, k, CASE {whens} END FROM er_running
    ), er_changes AS (
        SELECT customer_id, from_day, k, rate_band,
               lag(rate_band) OVER (PARTITION BY customer_id ORDER BY k) AS previous_band
        FROM er_bands
    )
    {_rate_rows(as_changes)}
    FROM er_changes
    WHERE previous_band IS NULL OR previous_band <> rate_band
    """


def _rate_rows(as_changes: bool) -> str:
    """The SELECT of :func:`experience_rate_sql`: the spans of a band, or its changes."""
    if as_changes:
        return "SELECT customer_id, from_day, CAST(rate_band - coalesce(previous_band, 0) AS INTEGER) AS delta"
    return """SELECT customer_id, from_day,
           lead(from_day) OVER (PARTITION BY customer_id ORDER BY k) AS to_day,
           CAST(rate_band AS INTEGER) AS rate_band"""


def _default_bands():
    from cxlib.config import EXPERIENCE_RATE_BANDS

    return EXPERIENCE_RATE_BANDS


def experience_rate_max_steps(data, *, as_of, step_days: int | None = None) -> int:
    """The ``max_steps`` :func:`experience_rate_sql` needs for ``data`` at ``as_of``: the longest tenure in steps."""
    from cxlib.config import ENGAGEMENT_STEP_DAYS

    step = int(ENGAGEMENT_STEP_DAYS if step_days is None else step_days)
    first = data.query("SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
    if first is None or _isna(first):
        return 1
    days = (utc_naive(as_of) - utc_naive(first)).total_seconds() / 86400.0
    return max(int(days // step) + 1, 1)


def _isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
