"""CX metrics: functions that take a loaded :class:`~cxlib.io.Dataset` and return tidy frames.

Aggregation runs in DuckDB on the dataset's connection (one GROUP BY, never a Python loop
per row), so the functions work on a million customers; what comes back is small. Every
rate comes with its count and a 95% Wilson interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

OVERVIEW_COLUMNS = ["measure", "value"]


def wilson_interval(successes, n, *, alpha: float = 0.05):
    """Wilson score interval for a proportion; NaN where n is 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, centre - half, np.nan)
    high = np.where(n > 0, centre + half, np.nan)
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


def _with_interval(frame: pd.DataFrame, successes: str, n: str, rate: str) -> pd.DataFrame:
    frame = frame.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = frame[successes] / frame[n].where(frame[n] > 0)
    frame["ci_low"], frame["ci_high"] = wilson_interval(frame[successes], frame[n])
    return frame


def overview(data) -> pd.DataFrame:
    """Headline counts of a data set: customers, churn so far, interactions, rejects."""
    row = data.con.execute(
        """SELECT (SELECT count(*) FROM customers),
                  (SELECT count(churned_at) FROM customers),
                  (SELECT count(*) FROM interactions),
                  (SELECT count(*) FILTER (kind = 'experience') FROM interactions),
                  (SELECT count(*) FILTER (kind = 'service') FROM interactions),
                  (SELECT count(*) FILTER (kind = 'experience' AND outcome = 'bad') FROM interactions),
                  (SELECT min(signup_at) FROM customers)"""
    ).fetchall()[0]
    customers, churned, interactions, experiences, service, bad, first = row
    as_of = data.as_of
    return pd.DataFrame(
        [
            ("customers", customers),
            ("churned so far", churned),
            ("churned so far (%)", round(100 * churned / customers, 1) if customers else float("nan")),
            ("interactions", interactions),
            ("experience interactions", experiences),
            ("service contacts", service),
            ("bad experiences", bad),
            ("bad-experience rate (%)", round(100 * bad / experiences, 2) if experiences else float("nan")),
            ("first signup", pd.Timestamp(first).date() if first is not None else None),
            ("as of", as_of.date()),
            ("rows rejected at load", data.report.total_rejected),
        ],
        columns=OVERVIEW_COLUMNS,
    )


def interactions_by(data, by: str) -> pd.DataFrame:
    """Interactions counted by ``by`` (``channel`` or ``touchpoint``) and kind."""
    if by not in ("channel", "touchpoint", "outcome"):
        raise ValueError(f"by must be channel, touchpoint or outcome, not {by!r}")
    return data.con.execute(
        f"""SELECT "{by}", kind, count(*) AS interactions FROM interactions
            GROUP BY ALL ORDER BY kind, interactions DESC"""
    ).df()


def churn_by_segment(data) -> pd.DataFrame:
    """Customers and churn so far per segment, with a Wilson interval on the share churned."""
    frame = data.con.execute(
        """SELECT segment, count(*) AS customers, count(churned_at) AS churned,
                  median(monthly_value) AS median_monthly_value
           FROM customers GROUP BY segment ORDER BY customers DESC"""
    ).df()
    return _with_interval(frame, "churned", "customers", "churned_share")


def bad_rate(data, *, by=("touchpoint",)) -> pd.DataFrame:
    """Bad-experience rate of experience interactions by ``by`` (touchpoint and/or channel)."""
    by = [by] if isinstance(by, str) else list(by)
    for column in by:
        if column not in ("touchpoint", "channel"):
            raise ValueError(f"by takes touchpoint and channel, not {column!r}")
    keys = ", ".join(f'"{c}"' for c in by)
    frame = data.con.execute(
        f"""SELECT {keys}, count(*) AS experiences, count(*) FILTER (outcome = 'bad') AS bad
            FROM interactions WHERE kind = 'experience' GROUP BY {keys} ORDER BY {keys}"""
    ).df()
    return _with_interval(frame, "bad", "experiences", "bad_rate")


def recent_bad_experiences(data, *, window_days: int = 90, resolution_days: int = 3) -> pd.DataFrame:
    """Customers active at ``as_of`` by their bad experiences in the trailing window.

    Counts bad experiences on the ``window_days`` calendar days before ``as_of``'s day, and
    how many of them customer service had resolved by then (design.md's definition).
    """
    from cxlib.definitions import bad_experiences_sql

    as_of = data.as_of
    frame = data.con.execute(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=resolution_days)}),
            active AS (SELECT customer_id FROM customers
                       WHERE signup_at <= $as_of AND (churned_at IS NULL OR churned_at > $as_of)),
            counts AS (
                SELECT a.customer_id,
                       count(be.customer_id) AS bad,
                       count(be.customer_id) FILTER (be.resolved_on IS NULL OR be.resolved_on >= CAST($as_of AS DATE))
                           AS unresolved
                FROM active a LEFT JOIN be ON be.customer_id = a.customer_id
                 AND be.day >= CAST($as_of AS DATE) - {int(window_days)} AND be.day < CAST($as_of AS DATE)
                GROUP BY a.customer_id)
            SELECT CASE WHEN bad >= 3 THEN '3 or more' ELSE CAST(bad AS VARCHAR) END AS bad_experiences,
                   count(*) AS customers,
                   count(*) FILTER (unresolved > 0) AS with_unresolved
            FROM counts GROUP BY 1 ORDER BY 1""",
        {"as_of": as_of.to_pydatetime()},
    ).df()
    frame["share_of_active"] = frame["customers"] / frame["customers"].sum()
    return frame
