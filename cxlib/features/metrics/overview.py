"""The overview of a data set: headline counts, churn by segment, bad-experience rates, recent bad
experiences of the active customers, and one slice of the data (the overview's slice control)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.features.metrics.groups import _query
from cxlib.features.metrics.intervals import _with_interval, wilson_interval
from cxlib.features.sql import active_at_sql, check_days

OVERVIEW_COLUMNS = ["measure", "value"]


def overview(data) -> pd.DataFrame:
    """Headline counts of a data set: customers, churn so far, interactions, rejects."""
    row = _query(data, 
        """SELECT (SELECT count(*) FROM customers) AS customers,
                  (SELECT count(churned_at) FROM customers) AS churned,
                  (SELECT count(*) FROM interactions) AS interactions,
                  (SELECT count(*) FILTER (kind = 'experience') FROM interactions) AS experiences,
                  (SELECT count(*) FILTER (kind = 'service') FROM interactions) AS service,
                  (SELECT count(*) FILTER (kind = 'experience' AND outcome = 'bad') FROM interactions) AS bad,
                  (SELECT min(signup_at) FROM customers) AS first_signup"""
    ).iloc[0].tolist()
    first = row[-1]
    first = None if first is None or pd.isna(first) else first
    row = [int(v) for v in row[:-1]] + [first]
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
    ).set_index("measure")


def interactions_by(data, by: str) -> pd.DataFrame:
    """Interactions counted by ``by`` (``channel`` or ``touchpoint``) and kind."""
    if by not in ("channel", "touchpoint", "outcome"):
        raise ValueError(f"by must be channel, touchpoint or outcome, not {by!r}")
    return _query(data, 
        f"""SELECT "{by}", kind, count(*) AS interactions FROM interactions
            GROUP BY ALL ORDER BY kind, interactions DESC"""
    )


def churn_by_segment(data) -> pd.DataFrame:
    """Customers and churn so far per segment, with a Wilson interval on the share churned."""
    frame = _query(data, 
        """SELECT segment, count(*) AS customers, count(churned_at) AS churned,
                  median(monthly_value) AS median_monthly_value
           FROM customers GROUP BY segment ORDER BY customers DESC"""
    )
    return _with_interval(frame, "churned", "customers", "churned_share")


def bad_rate(data, *, by=("touchpoint",)) -> pd.DataFrame:
    """Bad-experience rate of experience interactions by ``by`` (touchpoint and/or channel)."""
    by = [by] if isinstance(by, str) else list(by)
    for column in by:
        if column not in ("touchpoint", "channel"):
            raise ValueError(f"by takes touchpoint and channel, not {column!r}")
    keys = ", ".join(f'"{c}"' for c in by)
    frame = _query(data, 
        f"""SELECT {keys}, count(*) AS experiences, count(*) FILTER (outcome = 'bad') AS bad
            FROM interactions WHERE kind = 'experience' GROUP BY {keys} ORDER BY {keys}"""
    )
    return _with_interval(frame, "bad", "experiences", "bad_rate")


def recent_bad_experiences(data, *, window_days: int = 90, resolution_days: int = 3) -> pd.DataFrame:
    """Customers active at ``as_of`` by their bad experiences in the trailing window.

    Counts bad experiences on the ``window_days`` calendar days before ``as_of``'s day, and
    how many of them customer service had resolved by then (design.md's definition). Active at
    ``as_of``: :func:`cxlib.features.sql.active_at_sql`, the panel's rule.
    """
    days = check_days(window_days=window_days, resolution_days=resolution_days)
    as_of = data.as_of
    frame = _query(data, 
        f"""WITH be AS ({bad_experiences_sql(resolution_days=days["resolution_days"])}),
            active AS (SELECT customer_id FROM customers WHERE {active_at_sql("$as_of")}),
            counts AS (
                SELECT a.customer_id,
                       count(be.customer_id) AS bad,
                       count(be.customer_id) FILTER (be.resolved_on IS NULL OR be.resolved_on >= CAST($as_of AS DATE))
                           AS unresolved
                FROM active a LEFT JOIN be ON be.customer_id = a.customer_id
                 AND be.day >= CAST($as_of AS DATE) - {days["window_days"]} AND be.day < CAST($as_of AS DATE)
                GROUP BY a.customer_id)
            SELECT CASE WHEN bad >= 3 THEN '3 or more' ELSE CAST(bad AS VARCHAR) END AS bad_experiences,
                   count(*) AS customers,
                   count(*) FILTER (unresolved > 0) AS with_unresolved
            FROM counts GROUP BY 1 ORDER BY 1""",
        {"as_of": as_of.to_pydatetime()},
    )
    frame["share_of_active"] = frame["customers"] / frame["customers"].sum()
    return frame.set_index("bad_experiences")


# ---------------------------------------------------------------------------------------
# One slice of the data (the overview's slice control)

#: What a slice can be restricted to: a segment, a channel, a touchpoint, a month (YYYY-MM).
SLICE_KEYS = ("segment", "channel", "touchpoint", "period")


def slice_options(data) -> dict[str, list[str]]:
    """The values each slice key takes in ``data``: segments, channels, touchpoints, months."""
    out = {}
    for key, sql in (
        ("segment", "SELECT DISTINCT segment AS v FROM customers"),
        ("channel", "SELECT DISTINCT channel AS v FROM interactions"),
        ("touchpoint", "SELECT DISTINCT touchpoint AS v FROM interactions"),
        ("period", """SELECT DISTINCT strftime(date_trunc('month', "at"), '%Y-%m') AS v FROM interactions"""),
    ):
        values = _query(data, sql)["v"].dropna().astype(str)
        out[key] = sorted(values.tolist())
    return out


def slice_metrics(data, *, segment=None, channel=None, touchpoint=None, period=None,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Bad-experience rate, resolution rate of problem contacts and CSAT of one slice, with Wilson intervals.

    Each of ``segment``, ``channel``, ``touchpoint`` and ``period`` (a month, ``YYYY-MM``)
    restricts the interactions counted; ``None`` keeps all. Rows: ``bad-experience rate``,
    ``resolution rate`` (service contacts about a problem, routine questions excluded),
    ``CSAT`` (share of answers of 4–5 of 5); columns ``successes``, ``n``, ``rate``,
    ``ci_low``, ``ci_high``. Values are bound as parameters, never pasted into the SQL.
    """
    where, params = ["TRUE"], {}
    for key, column, value in (("segment", "k.segment", segment), ("channel", "i.channel", channel),
                               ("touchpoint", "i.touchpoint", touchpoint)):
        if value is not None:
            where.append(f"{column} = ${key}")
            params[key] = str(value)
    if period is not None:
        where.append("""strftime(date_trunc('month', i."at"), '%Y-%m') = $period""")
        params["period"] = str(period)
    row = _query(
        data,
        f"""SELECT count(*) FILTER (i.kind = 'experience') AS experiences,
                   count(*) FILTER (i.kind = 'experience' AND i.outcome = 'bad') AS bad,
                   count(*) FILTER (i.kind = 'service' AND i.touchpoint <> '{ROUTINE_TOUCHPOINT}'
                                    AND i.resolved IS NOT NULL) AS contacts,
                   count(*) FILTER (i.kind = 'service' AND i.touchpoint <> '{ROUTINE_TOUCHPOINT}'
                                    AND i.resolved) AS resolved,
                   count(i.csat) AS answers, count(*) FILTER (i.csat >= 4) AS satisfied
            FROM interactions i JOIN customers k ON k.customer_id = i.customer_id
            WHERE {' AND '.join(where)}""",
        params,
    ).iloc[0]
    frame = pd.DataFrame(
        {
            "measure": ["bad-experience rate", "resolution rate", "CSAT"],
            "successes": [int(row["bad"]), int(row["resolved"]), int(row["satisfied"])],
            "n": [int(row["experiences"]), int(row["contacts"]), int(row["answers"])],
        }
    )
    low, high = wilson_interval(frame["successes"].to_numpy(), frame["n"].to_numpy(), alpha=alpha)
    n = frame["n"].to_numpy(dtype=float)
    frame["rate"] = np.where(n > 0, frame["successes"] / np.where(n > 0, n, 1), np.nan)
    frame["ci_low"], frame["ci_high"] = low, high
    return frame
