"""The risk list's features: one row per customer active on a day, built in the data set's engine.

For every customer *active at* ``as_of`` (signed up before the midnight that starts its day,
not churned by ``as_of``), one row built by a few GROUP BYs in the data set's engine (DuckDB,
or Spark through :mod:`cxlib.data.spark`; no per-customer Python loop):

- per touchpoint ``tp`` of bad experiences (design.md's definitions, from
  :func:`cxlib.features.definitions.bad_experiences_sql`): ``unresolved[tp]``, ``resolved[tp]`` in the
  trailing ``window_days``, the same in the last ``recent_days`` (``unresolved_recent[tp]``,
  ``resolved_recent[tp]``), ``days_since_bad[tp]`` and ``days_since_unresolved[tp]``
  (``window_days + 1`` when there is none in the window); and the same summed (minimum for
  days) over touchpoints. Bad experiences at a touchpoint the model was not trained on count
  under ``(other)``, in the totals only;
- service contacts in the window (``contacts``, ``unresolved_contacts``: not resolved,
  ``routine_contacts``: ``how_to``), experiences in the window (``experiences``);
- the latest CSAT and NPS answers before the day (empty when never answered);
- ``tenure_days`` (whole days since the signup day), ``segment``, ``monthly_value``.

**Only data before the day enters.** The features at ``as_of`` are those of the day at risk,
``day(as_of)`` (:func:`day_at_risk`): a bad experience counts if it happened on days
``day - window_days .. day - 1`` and counts as *resolved* only if its resolving contact fell on
a day before ``day`` (design.md: resolved from ``resolved_on + 1``); contacts, experiences and
answers count if stamped before the midnight that starts ``day``. Appending any row stamped at
or after that midnight leaves every feature unchanged (tested).

:func:`labels` says who of them churned in ``(day, day + horizon_days]``; :func:`snapshot` is
both, the training and test rows of :class:`cxlib.models.risk.RiskModel` and of
:func:`cxlib.analyses.backtest.backtest`. :func:`feature_layout` names the model's columns and
their groups (what :meth:`~cxlib.models.risk.RiskModel.explain` removes together).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.features.sql import (
    active_at_sql,
    check_days,
    quote_identifier,
    signed_up_before_sql,
    text_sql,
    timestamp_sql,
    utc_naive,
)

RECENT_DAYS = 30
#: Bad experiences of a touchpoint the model has not seen in training count here.
OTHER_TOUCHPOINT = "(other)"
#: Per-touchpoint columns (``unresolved[delivery]``, ...).
TOUCHPOINT_COLUMNS = (
    "unresolved",
    "resolved",
    "unresolved_recent",
    "resolved_recent",
    "days_since_bad",
    "days_since_unresolved",
)
COUNT_COLUMNS = ("unresolved", "resolved", "unresolved_recent", "resolved_recent")
DAY_COLUMNS = ("days_since_bad", "days_since_unresolved")
CONTACT_COLUMNS = ("contacts", "unresolved_contacts", "routine_contacts")
ANSWER_COLUMNS = ("last_csat", "last_nps")
OTHER_COLUMNS = ("experiences", "tenure_days", "monthly_value")
#: The group of a touchpoint's bad experiences is named this prefix and the touchpoint.
TOUCHPOINT_GROUP = "bad experiences at "


def touchpoint_column(name: str, touchpoint: str) -> str:
    """The per-touchpoint column ``name[touchpoint]``."""
    return f"{name}[{touchpoint}]"


def day_at_risk(as_of) -> pd.Timestamp:
    """The midnight (naive UTC) that starts the day at risk of ``as_of``: data before it is known."""
    return utc_naive(as_of).floor("D")


def touchpoints_with_bad(data, *, as_of) -> list[str]:
    """Touchpoints with at least one bad experience before the day of ``as_of`` (sorted)."""
    rows = data.query(
        "SELECT DISTINCT touchpoint FROM interactions WHERE kind = 'experience' AND outcome = 'bad' AND \"at\" < "
        + timestamp_sql(day_at_risk(as_of))
        + " ORDER BY touchpoint"
    )
    return [str(t) for t in rows["touchpoint"] if t is not None and not pd.isna(t)]


def features_sql(
    touchpoints,
    *,
    as_of,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
    horizon_days: int | None = None,
) -> str:
    """SQL of :func:`features` (without the totals over touchpoints, added in pandas).

    ``as_of``: one day, or a list of them (:func:`snapshots`): then one query gives the rows of
    every day, the day's position in the list in a column ``cut``, ordered by it and
    customer; the interactions are read once for all days. ``horizon_days``: also the
    ``churned`` label of :func:`labels` (churned in ``(day, day + horizon_days]``).
    """
    d = check_days(window_days=window_days, resolution_days=resolution_days, recent_days=recent_days)
    w, r, recent = d["window_days"], d["resolution_days"], d["recent_days"]
    days = list(as_of) if isinstance(as_of, (list, tuple)) else [as_of]
    if not days:
        raise ValueError("features_sql needs at least one day")
    # per day: its midnight (what is known), the raw as_of (not churned by it), the date
    cuts = ", ".join(
        f"({k}, {timestamp_sql(day_at_risk(t))}, {timestamp_sql(utc_naive(t))}, DATE '{day_at_risk(t).date().isoformat()}')"
        for k, t in enumerate(days)
    )
    buckets = [*touchpoints, OTHER_TOUCHPOINT]
    known = ", ".join(text_sql(t) for t in touchpoints) or "NULL"

    def name(column, tp):
        return quote_identifier(touchpoint_column(column, tp))

    per_tp = []
    for tp in buckets:
        is_tp = f"tp = {text_sql(tp)}"
        per_tp += [
            f"count(*) FILTER ({is_tp} AND NOT res) AS {name('unresolved', tp)}",
            f"count(*) FILTER ({is_tp} AND res) AS {name('resolved', tp)}",
            f"count(*) FILTER ({is_tp} AND NOT res AND age <= {recent}) AS {name('unresolved_recent', tp)}",
            f"count(*) FILTER ({is_tp} AND res AND age <= {recent}) AS {name('resolved_recent', tp)}",
            f"min(age) FILTER ({is_tp}) AS {name('days_since_bad', tp)}",
            f"min(age) FILTER ({is_tp} AND NOT res) AS {name('days_since_unresolved', tp)}",
        ]
    counts = [name(c, tp) for tp in buckets for c in COUNT_COLUMNS]
    day_cols = [name(c, tp) for tp in buckets for c in DAY_COLUMNS]
    select_tp = [f"CAST(coalesce(p.{c}, 0) AS INTEGER) AS {c}" for c in counts]
    select_tp += [f"CAST(coalesce(p.{c}, {w + 1}) AS INTEGER) AS {c}" for c in day_cols]
    label = ""
    if horizon_days is not None:
        h = check_days(horizon_days=horizon_days)["horizon_days"]
        label = f", coalesce(x.churned_at > c.t0 AND x.churned_at <= c.t0 + INTERVAL {h} DAY, false) AS churned"
    # known at the day's midnight, and not churned by as_of itself
    active = f"{signed_up_before_sql('c.t0', table='x')} AND (x.churned_at IS NULL OR x.churned_at > c.raw)"
    window = f'i."at" >= c.t0 - INTERVAL {w} DAY AND i."at" < c.t0'
    return f"""
    WITH cuts AS (
        SELECT * FROM (VALUES {cuts}) AS v(cut, t0, raw, d0)
    ), act AS (
        SELECT c.cut, c.d0, x.customer_id, x.segment, x.monthly_value, CAST(x.signup_at AS DATE) AS s0{label}
        FROM customers x JOIN cuts c ON {active}
    ), be AS (
        SELECT c.cut, b.customer_id,
               CASE WHEN b.touchpoint IN ({known}) THEN b.touchpoint ELSE {text_sql(OTHER_TOUCHPOINT)} END AS tp,
               date_diff('day', b.day, c.d0) AS age,
               coalesce(b.resolved_on < c.d0, false) AS res
        FROM ({bad_experiences_sql(resolution_days=r)}) b JOIN cuts c ON b.day >= c.d0 - {w} AND b.day < c.d0
    ), per_tp AS (
        SELECT cut, customer_id, {', '.join(per_tp)}
        FROM be GROUP BY cut, customer_id
    ), svc AS (
        SELECT c.cut, i.customer_id,
               count(*) FILTER (i.touchpoint <> '{ROUTINE_TOUCHPOINT}') AS contacts,
               count(*) FILTER (i.touchpoint <> '{ROUTINE_TOUCHPOINT}' AND i.resolved IS NOT TRUE) AS unresolved_contacts,
               count(*) FILTER (i.touchpoint = '{ROUTINE_TOUCHPOINT}') AS routine_contacts
        FROM interactions i JOIN cuts c ON {window}
        WHERE i.kind = 'service'
        GROUP BY c.cut, i.customer_id
    ), ex AS (
        SELECT c.cut, i.customer_id, count(*) AS experiences
        FROM interactions i JOIN cuts c ON {window}
        WHERE i.kind = 'experience'
        GROUP BY c.cut, i.customer_id
    ), answers AS (
        SELECT c.cut, i.customer_id,
               arg_max(i.csat, i."at") FILTER (i.csat IS NOT NULL) AS last_csat,
               arg_max(i.nps, i."at") FILTER (i.nps IS NOT NULL) AS last_nps
        FROM interactions i JOIN cuts c ON i."at" < c.t0
        WHERE i.csat IS NOT NULL OR i.nps IS NOT NULL
        GROUP BY c.cut, i.customer_id
    )
    SELECT a.cut, a.customer_id, a.segment, CAST(a.monthly_value AS DOUBLE) AS monthly_value,
           CAST(date_diff('day', a.s0, a.d0) AS INTEGER) AS tenure_days,
           CAST(coalesce(e.experiences, 0) AS INTEGER) AS experiences,
           CAST(coalesce(s.contacts, 0) AS INTEGER) AS contacts,
           CAST(coalesce(s.unresolved_contacts, 0) AS INTEGER) AS unresolved_contacts,
           CAST(coalesce(s.routine_contacts, 0) AS INTEGER) AS routine_contacts,
           CAST(q.last_csat AS DOUBLE) AS last_csat, CAST(q.last_nps AS DOUBLE) AS last_nps,
           {', '.join(select_tp)}{', a.churned' if label else ''}
    FROM act a
    LEFT JOIN per_tp p ON p.cut = a.cut AND p.customer_id = a.customer_id
    LEFT JOIN svc s ON s.cut = a.cut AND s.customer_id = a.customer_id
    LEFT JOIN ex e ON e.cut = a.cut AND e.customer_id = a.customer_id
    LEFT JOIN answers q ON q.cut = a.cut AND q.customer_id = a.customer_id
    ORDER BY a.cut, a.customer_id
    """


def touchpoint_buckets(frame: pd.DataFrame) -> list[str]:
    """The touchpoints (and ``(other)``) that have columns in a frame of :func:`features`."""
    return [c[len("unresolved[") : -1] for c in frame.columns if c.startswith("unresolved[")]


def add_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """(Re)compute the totals over touchpoints from the per-touchpoint columns, in place; return it."""
    buckets = touchpoint_buckets(frame)
    for c in COUNT_COLUMNS:
        cols = [touchpoint_column(c, tp) for tp in buckets]
        frame[c] = frame[cols].sum(axis=1).astype("int64") if cols else 0
    for c in DAY_COLUMNS:
        cols = [touchpoint_column(c, tp) for tp in buckets]
        frame[c] = frame[cols].min(axis=1).astype("int64") if cols else frame.attrs.get("window_days", WINDOW_DAYS) + 1
    return frame


def features(
    data,
    *,
    as_of=None,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
    touchpoints=None,
) -> pd.DataFrame:
    """Features of every customer active at ``as_of`` (default: the data's ``as_of``), one row each.

    ``touchpoints``: the touchpoints that get their own columns (default: those with a bad
    experience before the day); bad experiences elsewhere count under ``(other)``. Only rows
    stamped before the midnight starting the day of ``as_of`` enter (module docstring).
    ``attrs``: ``as_of`` (that midnight), ``window_days``, ``recent_days``, ``resolution_days``,
    ``touchpoints`` (those with their own columns).
    """
    as_of = data.as_of if as_of is None else as_of
    if touchpoints is None:
        touchpoints = touchpoints_with_bad(data, as_of=as_of)
    touchpoints = [str(t) for t in touchpoints]
    sql = features_sql(
        touchpoints, as_of=as_of, window_days=window_days, resolution_days=resolution_days,
        recent_days=recent_days,
    )
    frame = _typed(data.query(sql).drop(columns="cut"))
    frame.attrs.update(as_of=day_at_risk(as_of), window_days=int(window_days), recent_days=int(recent_days),
                       resolution_days=int(resolution_days), touchpoints=touchpoints)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The query's frame as :func:`features` gives it: ids and segments as text, the totals added."""
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["segment"] = frame["segment"].astype(str)
    return add_totals(frame)


def _check_known(data, t0: pd.Timestamp, horizon_days: int) -> pd.Timestamp:
    """The end of the label window of ``t0``; ValueError when the data does not reach it."""
    end = t0 + pd.Timedelta(days=int(horizon_days))
    if end > pd.Timestamp(data.as_of):
        raise ValueError(
            f"the churn of {t0.date()} + {int(horizon_days)} days ({end.date()}) is not known: the data ends at {data.as_of}"
        )
    return end


def labels(data, *, as_of, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """For each customer active at the day of ``as_of``: churned in ``(day, day + horizon_days]``?

    Raises ValueError when that window ends after the data's ``as_of`` (its churn is not known yet).
    """
    h = check_days(horizon_days=horizon_days)["horizon_days"]
    t0 = day_at_risk(as_of)
    end = _check_known(data, t0, h)
    t0_sql, end_sql = timestamp_sql(t0), timestamp_sql(end)
    frame = data.query(
        f"""SELECT customer_id, coalesce(churned_at > {t0_sql} AND churned_at <= {end_sql}, false) AS churned
            FROM customers
            WHERE {active_at_sql(t0_sql)}
            ORDER BY customer_id"""
    )
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["churned"] = frame["churned"].astype(bool)
    return frame


def snapshot(
    data,
    *,
    as_of,
    horizon_days: int = HORIZON_DAYS,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
    touchpoints=None,
) -> pd.DataFrame:
    """:func:`features` at the day of ``as_of`` with the ``churned`` label of :func:`labels`.

    ``attrs``: those of :func:`features` and ``horizon_days``: what makes two snapshots the same.
    """
    t0 = day_at_risk(as_of)
    if touchpoints is None:
        touchpoints = touchpoints_with_bad(data, as_of=t0)
    return snapshots(data, days=[t0], horizon_days=horizon_days, window_days=window_days,
                     resolution_days=resolution_days, recent_days=recent_days, touchpoints=touchpoints)[0]


def snapshots(
    data,
    *,
    days,
    touchpoints,
    horizon_days: int = HORIZON_DAYS,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
) -> list[pd.DataFrame]:
    """:func:`snapshot` at each of ``days`` (the same frames, in that order) from one query.

    The training snapshots of a risk model share ``touchpoints``; one query reads the
    interactions once for all of them instead of once per day.
    """
    h = check_days(horizon_days=horizon_days)["horizon_days"]
    days = [day_at_risk(t) for t in days]
    for t in days:
        _check_known(data, t, h)
    touchpoints = [str(t) for t in touchpoints]
    sql = features_sql(touchpoints, as_of=days, window_days=window_days, resolution_days=resolution_days,
                       recent_days=recent_days, horizon_days=h)
    frame = data.query(sql)
    cut = frame.pop("cut").to_numpy()
    churned = frame.pop("churned").fillna(False).astype(bool)
    frame = _typed(frame)
    frame["churned"] = churned
    out = []
    for k, t in enumerate(days):
        part = frame.iloc[np.flatnonzero(cut == k)].reset_index(drop=True)
        part.attrs = {"as_of": t, "window_days": int(window_days), "recent_days": int(recent_days),
                      "resolution_days": int(resolution_days), "touchpoints": list(touchpoints), "horizon_days": h}
        out.append(part)
    return out


def feature_layout(touchpoints) -> tuple[list[str], dict[str, list[str]]]:
    """The model's columns and their groups (a touchpoint's group holds its columns, not the totals)."""
    groups: dict[str, list[str]] = {}
    for tp in touchpoints:
        groups[TOUCHPOINT_GROUP + tp] = [touchpoint_column(c, tp) for c in TOUCHPOINT_COLUMNS]
    groups["service contacts"] = list(CONTACT_COLUMNS)
    groups["CSAT and NPS"] = list(ANSWER_COLUMNS)
    groups["activity"] = ["experiences"]
    groups["tenure"] = ["tenure_days"]
    groups["segment"] = ["segment"]
    groups["monthly value"] = ["monthly_value"]
    names = ["segment", *COUNT_COLUMNS, *DAY_COLUMNS]
    for cols in groups.values():
        names += [c for c in cols if c not in names]
    return names, groups
