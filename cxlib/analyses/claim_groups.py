"""The groups of customers the claims compare, counted in the data set's engine (numbers).

:func:`churn_after_nth_bads`: the customers whose ``nth`` (unresolved) bad experience is old
enough to see ``horizon_days`` after it, and how many of them churned, per segment, tenure and
engagement band; :func:`reference_churn`: the comparable customers without a bad experience;
:func:`outcome_groups`: churn after a bad experience by what service did about it. What the
claims make of them (estimates, intervals, verdicts) is :mod:`cxlib.analyses.claims`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.analyses.claims_registry import EFFORT_GROUPS, TARP_GROUPS
from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS
from cxlib.features import panel as _panel
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql


def churn_after_nth_bad(
    data,
    nth: int = 1,
    *,
    unresolved_only: bool = False,
    horizon_days: int = HORIZON_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=_panel.TENURE_BANDS,
    engagement: bool = True,
    as_of=None,
) -> pd.DataFrame:
    """Qualifying customers per segment, tenure band and engagement band (at the experience) and how many churned.

    A customer qualifies when their ``nth`` bad experience (``nth`` unresolved one with
    ``unresolved_only``) happened at least ``horizon_days`` before ``as_of``; they count as
    churned when ``churned_at`` is at most ``horizon_days`` after that experience. With
    ``engagement``, ``engagement`` is the customer's experience-rate band on the day of the
    experience (:func:`cxlib.features.definitions.experience_rate_sql`: known from the past only).
    One anchor of :func:`churn_after_nth_bads`.
    """
    return churn_after_nth_bads(
        data, [(nth, unresolved_only)], horizon_days=horizon_days, resolution_days=resolution_days,
        tenure_bands=tenure_bands, engagement=engagement, as_of=as_of,
    )[int(nth), bool(unresolved_only)]


def churn_after_nth_bads(
    data,
    anchors,
    *,
    horizon_days: int = HORIZON_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=_panel.TENURE_BANDS,
    engagement: bool = True,
    as_of=None,
) -> dict[tuple[int, bool], pd.DataFrame]:
    """:func:`churn_after_nth_bad` for each ``(nth, unresolved_only)`` of ``anchors``, in one query.

    Each anchor's table is what :func:`churn_after_nth_bad` returns for it. One query ranks the bad
    experiences once (all of them, and the unresolved ones among themselves) and joins the
    experience-rate bands once, instead of a pass over the bad experiences per anchor (at a
    million customers each such pass took about 13 s).
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    anchors = [(int(n), bool(u)) for n, u in anchors]
    h = int(horizon_days)
    if h < 1 or any(n < 1 for n, _ in anchors):
        raise ValueError("horizon_days and nth must be >= 1")
    if not anchors:
        return {}
    band = _panel._band_case(
        "CAST(date_diff('day', CAST(c.signup_at AS DATE), r.day) AS INTEGER)", _panel._check_bands(tenure_bands)
    )
    er_cte, er_join, er_col = _engagement_sql(data, as_of, "r.customer_id", "r.day", engagement)
    picked = " UNION ALL ".join(
        f"SELECT {i} AS anchor, customer_id, \"at\", day FROM ranked WHERE {'k_unresolved' if u else 'k'} = {n}"
        for i, (n, u) in enumerate(anchors)
    )
    frame = data.query(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=resolution_days)}),
            ranked AS (
                SELECT customer_id, "at", day,
                       row_number() OVER (PARTITION BY customer_id ORDER BY "at", interaction_id) AS k,
                       CASE WHEN resolved_on IS NULL THEN row_number() OVER (
                           PARTITION BY customer_id, resolved_on IS NULL ORDER BY "at", interaction_id) END AS k_unresolved
                FROM be),
            picked AS ({picked}){er_cte}
            SELECT r.anchor, c.segment, {band} AS tenure_band{er_col}, count(*) AS customers,
                   count(*) FILTER (c.churned_at <= r."at" + INTERVAL {h} DAY) AS churned
            FROM picked r JOIN customers c ON c.customer_id = r.customer_id {er_join}
            WHERE r."at" + INTERVAL {h} DAY <= $as_of
            GROUP BY ALL ORDER BY ALL""",
        {"as_of": as_of.to_pydatetime()},
    )
    out = {}
    for i, anchor in enumerate(anchors):
        part = frame[frame["anchor"] == i].drop(columns="anchor").reset_index(drop=True)
        out[anchor] = part
    return out


def _engagement_sql(data, as_of, customer: str, day: str, engagement: bool) -> tuple[str, str, str]:
    """(CTE, join, select column) that add the experience-rate band of ``customer`` on ``day``; empty when off."""
    if not engagement:
        return "", "", ""
    from cxlib.features.definitions import experience_rate_max_steps, experience_rate_sql
    from cxlib.features.sql import timestamp_sql, utc_naive

    spans = experience_rate_sql(as_of_sql=timestamp_sql(utc_naive(as_of)),
                                max_steps=experience_rate_max_steps(data, as_of=as_of))
    join = (f"LEFT JOIN er ON er.customer_id = {customer} AND er.from_day <= {day} "
            f"AND (er.to_day IS NULL OR {day} < er.to_day)")
    return f", er AS ({spans})", join, ", coalesce(er.rate_band, 0) AS engagement"


def reference_churn(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    step_days: int = 30,
    tenure_bands=_panel.TENURE_BANDS,
    engagement: bool = True,
    as_of=None,
) -> pd.DataFrame:
    """Churn within ``horizon_days`` of customers without a bad experience, per segment, tenure and engagement band.

    Reference days run every ``step_days`` days from the first signup to ``as_of − horizon_days``;
    a customer counts on a reference day when active then and with no bad experience before
    it. Columns: segment, tenure_band, engagement (the experience-rate band that day, with
    ``engagement``), days (customer-days), customers, churned, rate, var (variance of the rate
    with customers as clusters).
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, step = int(horizon_days), int(step_days)
    if step < 1:
        raise ValueError("step_days must be >= 1")
    band = _panel._band_case(
        "CAST(date_diff('day', CAST(c.signup_at AS DATE), CAST(g.anchor_at AS DATE)) AS INTEGER)",
        _panel._check_bands(tenure_bands),
    )
    # The reference days, listed from Python as VALUES (a form both engines read alike).
    first = data.query("SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
    days = [] if first is None or pd.isna(first) else pd.date_range(
        pd.Timestamp(first).normalize() + pd.Timedelta(days=1), as_of - pd.Timedelta(days=h), freq=f"{step}D"
    )
    grid = ", ".join(f"(TIMESTAMP '{d.isoformat(sep=' ')}')" for d in days) or "(CAST(NULL AS TIMESTAMP))"
    er_cte, er_join, er_col = _engagement_sql(data, as_of, "c.customer_id", "CAST(g.anchor_at AS DATE)", engagement)
    keys = "segment, tenure_band" + (", engagement" if engagement else "")
    frame = data.query(
        f"""WITH first_bad AS (
                SELECT customer_id, min("at") AS first_bad_at FROM interactions
                WHERE kind = 'experience' AND outcome = 'bad' GROUP BY customer_id),
            grid AS (SELECT * FROM (VALUES {grid}) g(anchor_at)){er_cte},
            ref AS (
                SELECT c.customer_id, c.segment, {band} AS tenure_band{er_col},
                       coalesce(c.churned_at <= g.anchor_at + INTERVAL {h} DAY, false) AS churned
                FROM customers c LEFT JOIN first_bad f ON f.customer_id = c.customer_id
                JOIN grid g ON g.anchor_at >= c.signup_at
                 AND (c.churned_at IS NULL OR g.anchor_at < c.churned_at)
                 AND (f.first_bad_at IS NULL OR g.anchor_at <= f.first_bad_at)
                {er_join}),
            per_customer AS (
                SELECT {keys}, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM ref GROUP BY ALL)
            SELECT {keys}, sum(m) AS days, count(*) AS customers, sum(y) AS churned,
                   sum(y * y) AS syy, sum(y * m) AS sym, sum(m * m) AS smm
            FROM per_customer GROUP BY ALL ORDER BY ALL"""
    )
    for col in ("days", "customers", "churned", "syy", "sym", "smm"):
        frame[col] = frame[col].astype(float)
    p = frame["churned"] / frame["days"]
    frame["rate"] = p
    frame["var"] = (frame["syy"] - 2 * p * frame["sym"] + p**2 * frame["smm"]) / frame["days"] ** 2
    return frame.drop(columns=["syy", "sym", "smm"])


def outcome_groups(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    as_of=None,
) -> pd.DataFrame:
    """Churn within ``horizon_days`` after a bad experience, by what service did about it.

    Every bad experience at least ``horizon_days`` before ``as_of`` counts once, with the
    service contacts of its customer on its touchpoint from its calendar day to
    ``resolution_days`` after (routine contacts excluded), in two splits:

    - ``tarp``: *no contact*, *contacted, not resolved*, *resolved* (one to
      ``resolution_days`` days later), *resolved the same day* (design.md's resolution rule);
    - ``effort``: *two or more contacts* (high effort) and *resolved with one contact*; the
      other bad experiences belong to neither.

    Columns: split, group, experiences, customers, churned, rate (churned / experiences) and
    var, its variance with customers as clusters (a customer can have several bad
    experiences), as in :func:`reference_churn`.
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, days = int(horizon_days), int(resolution_days)
    if h < 1:
        raise ValueError("horizon_days must be >= 1")
    none, unresolved, resolved, quick = TARP_GROUPS.values()
    high, low = EFFORT_GROUPS
    frame = data.query(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=days)}),
            contacts AS (
                SELECT customer_id, touchpoint, CAST("at" AS DATE) AS day FROM interactions
                WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}'),
            tagged AS (
                SELECT b.interaction_id, b.customer_id, b."at", b.day, b.resolved_on, count(s.day) AS contacts
                FROM be b LEFT JOIN contacts s
                  ON s.customer_id = b.customer_id AND s.touchpoint = b.touchpoint
                 AND s.day >= b.day AND s.day <= b.day + {days}
                WHERE b."at" + INTERVAL {h} DAY <= $as_of
                GROUP BY b.interaction_id, b.customer_id, b."at", b.day, b.resolved_on),
            outcome AS (
                SELECT t.customer_id,
                       CASE WHEN t.contacts = 0 THEN '{none}' WHEN t.resolved_on IS NULL THEN '{unresolved}'
                            WHEN t.resolved_on = t.day THEN '{quick}' ELSE '{resolved}' END AS tarp,
                       CASE WHEN t.contacts >= 2 THEN '{high}'
                            WHEN t.contacts = 1 AND t.resolved_on IS NOT NULL THEN '{low}' END AS effort,
                       coalesce(c.churned_at <= t."at" + INTERVAL {h} DAY, false) AS churned
                FROM tagged t JOIN customers c ON c.customer_id = t.customer_id),
            per_customer AS (
                SELECT 'tarp' AS split, tarp AS grp, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM outcome GROUP BY tarp, customer_id
                UNION ALL
                SELECT 'effort' AS split, effort AS grp, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM outcome WHERE effort IS NOT NULL GROUP BY effort, customer_id)
            SELECT split, grp AS "group", sum(m) AS experiences, count(*) AS customers, sum(y) AS churned,
                   sum(y * y) AS syy, sum(y * m) AS sym, sum(m * m) AS smm
            FROM per_customer GROUP BY split, grp ORDER BY split, grp""",
        {"as_of": as_of.to_pydatetime()},
    )
    wanted = pd.DataFrame(
        [("tarp", g) for g in TARP_GROUPS.values()] + [("effort", g) for g in EFFORT_GROUPS], columns=["split", "group"]
    )
    frame = wanted.merge(frame, on=["split", "group"], how="left")
    for col in ("experiences", "customers", "churned", "syy", "sym", "smm"):
        frame[col] = frame[col].astype(float).fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = frame["churned"] / frame["experiences"].where(frame["experiences"] > 0)
        frame["rate"] = p
        frame["var"] = (frame["syy"] - 2 * p * frame["sym"] + p**2 * frame["smm"]) / frame["experiences"] ** 2
    frame = frame.drop(columns=["syy", "sym", "smm"])
    frame.attrs["horizon_days"] = h
    return frame
