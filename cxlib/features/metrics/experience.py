"""Experience metrics and where service meets experience: the outcome mix per journey step, what
service contacts follow, what happened after bad experiences, and consistency across channels."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.config import RESOLUTION_DAYS
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.features.metrics.groups import _KEY_SQL, MIN_ANSWERS, _keys, _query, _select_keys
from cxlib.features.metrics.intervals import _proportion
from cxlib.features.sql import check_days

# ---------------------------------------------------------------------------------------
# Experience metrics


def outcome_mix(data, *, by="touchpoint", alpha: float = 0.05) -> pd.DataFrame:
    """Good / neutral / bad shares of experiences by journey step (``touchpoint``) or channel.

    Every outcome is listed for every group, with a zero count where it never happened.
    Columns: ``by``, ``outcome``, ``experiences`` (of that outcome), ``total`` (of the group),
    ``share``, ``ci_low``, ``ci_high`` (Wilson).
    """
    (key,) = _keys(by, allowed=("touchpoint", "channel", "month"))
    frame = _query(data, 
        f"""WITH g AS (SELECT {_KEY_SQL[key]} AS {key}, outcome, count(*) AS experiences
                       FROM interactions WHERE kind = 'experience' GROUP BY ALL),
                 k AS (SELECT DISTINCT {key} FROM g),
                 o AS (SELECT * FROM (VALUES ('good', 1), ('neutral', 2), ('bad', 3)) v(outcome, pos))
            SELECT k.{key}, o.outcome, coalesce(g.experiences, 0) AS experiences,
                   sum(coalesce(g.experiences, 0)) OVER (PARTITION BY k.{key}) AS total
            FROM k CROSS JOIN o LEFT JOIN g ON g.{key} = k.{key} AND g.outcome = o.outcome
            ORDER BY k.{key}, o.pos"""
    )
    frame["total"] = frame["total"].astype("int64")
    return _proportion(frame, "experiences", "total", "share", alpha=alpha)


# ---------------------------------------------------------------------------------------
# Where service meets experience

CAUSE_AFTER_BAD = "after a bad experience"
CAUSE_ROUTINE = "routine (how_to)"
CAUSE_OTHER = "no bad experience before it"
CAUSES = (CAUSE_AFTER_BAD, CAUSE_OTHER, CAUSE_ROUTINE)


def contact_causes(data, *, by=None, resolution_days: int = RESOLUTION_DAYS, alpha: float = 0.05) -> pd.DataFrame:
    """What service contacts follow: a bad experience, or nothing broken (routine questions).

    A contact is *after a bad experience* when the same customer had a bad experience on the
    contact's touchpoint on the same calendar day or up to ``resolution_days`` days before
    it (the window of design.md's resolution rule, seen from the contact). Routine contacts
    (``how_to``) are their own cause; a contact about a touchpoint with no bad experience in
    the window is *no bad experience before it*. The share of the first is the measured
    version of "service is what happens when the experience breaks down".

    Columns: the ``by`` keys (``channel``, ``month``), ``cause``, ``contacts``, ``total``
    (contacts of the group), ``share``, ``ci_low``, ``ci_high``.
    """
    keys = _keys(by)
    days = check_days(resolution_days=resolution_days)["resolution_days"]
    inner_keys = "".join(f"s.{k}, " for k in keys)
    frame = _query(data, 
        f"""WITH s AS (SELECT {_select_keys(keys)} customer_id, touchpoint, CAST("at" AS DATE) AS day
                       FROM interactions WHERE kind = 'service'),
                 bad AS (SELECT DISTINCT customer_id, touchpoint, CAST("at" AS DATE) AS day
                         FROM interactions WHERE kind = 'experience' AND outcome = 'bad'),
                 tagged AS (
                    SELECT {inner_keys}
                           CASE WHEN s.touchpoint = '{ROUTINE_TOUCHPOINT}' THEN '{CAUSE_ROUTINE}'
                                WHEN EXISTS (SELECT 1 FROM bad b WHERE b.customer_id = s.customer_id
                                             AND b.touchpoint = s.touchpoint
                                             AND b.day <= s.day AND b.day >= s.day - {days})
                                THEN '{CAUSE_AFTER_BAD}' ELSE '{CAUSE_OTHER}' END AS cause
                    FROM s)
            SELECT {"".join(f"{k}, " for k in keys)} cause, count(*) AS contacts FROM tagged GROUP BY ALL"""
    )
    # every cause in every group, zero where none
    groups = frame[keys].drop_duplicates() if keys else pd.DataFrame(index=[0])
    grid = groups.merge(pd.DataFrame({"cause": list(CAUSES)}), how="cross")
    frame = grid.merge(frame, on=keys + ["cause"], how="left")
    frame["contacts"] = frame["contacts"].fillna(0).astype("int64")
    frame["cause"] = pd.Categorical(frame["cause"], categories=list(CAUSES), ordered=True)
    frame = frame.sort_values(keys + ["cause"]).reset_index(drop=True)
    frame["cause"] = frame["cause"].astype(str)
    frame["total"] = frame.groupby(keys)["contacts"].transform("sum") if keys else frame["contacts"].sum()
    frame["total"] = frame["total"].astype("int64")
    return _proportion(frame, "contacts", "total", "share", alpha=alpha)


FOLLOW_UP_STAGES = ("contacted service", "resolved, of those who contacted", "resolved, of all bad experiences")


def bad_experience_follow_up(
    data, *, by="touchpoint", resolution_days: int = RESOLUTION_DAYS, alpha: float = 0.05
) -> pd.DataFrame:
    """What happened after bad experiences: how many led to a contact, and how many were resolved.

    *Contacted*: a service contact of the same customer on the same touchpoint on the same
    calendar day or up to ``resolution_days`` after. *Resolved*: design.md's definition,
    from :func:`cxlib.features.definitions.bad_experiences_sql` (a resolved contact in that window;
    a resolved bad experience is always a contacted one). With ``by`` (``touchpoint`` or
    ``channel``, the experience's) a row ``all`` is added for every stage.

    Long frame: the ``by`` key, ``stage`` (contacted service; resolved, of those who
    contacted; resolved, of all bad experiences), ``count``, ``base``, ``share``,
    ``ci_low``, ``ci_high``.
    """
    keys = _keys(by, allowed=("touchpoint", "channel"))
    days = check_days(resolution_days=resolution_days)["resolution_days"]
    group = f"GROUPING SETS (({keys[0]}), ())" if keys else ""
    key_select = f"coalesce(be.{keys[0]}, 'all') AS {keys[0]}, " if keys else ""
    frame = _query(data, 
        f"""WITH be AS ({bad_experiences_sql(resolution_days=days)}),
                 contact AS (SELECT DISTINCT customer_id, touchpoint, CAST("at" AS DATE) AS day
                             FROM interactions WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}'),
                 flagged AS (
                    SELECT be.*, EXISTS (SELECT 1 FROM contact c WHERE c.customer_id = be.customer_id
                                         AND c.touchpoint = be.touchpoint
                                         AND c.day >= be.day AND c.day <= be.day + {days}) AS contacted
                    FROM be)
            SELECT {key_select} count(*) AS bad, count(*) FILTER (contacted) AS contacted,
                   count(*) FILTER (resolved_on IS NOT NULL) AS resolved
            FROM flagged be {"GROUP BY " + group if keys else ""}"""
    )
    if keys:
        key = keys[0]
        frame["_all"] = frame[key] == "all"
        frame = frame.sort_values(["_all", key]).drop(columns="_all").reset_index(drop=True)
    rows = []
    for stage, count, base in zip(FOLLOW_UP_STAGES, ("contacted", "resolved", "resolved"), ("bad", "contacted", "bad")):
        part = frame[keys].copy()
        part["stage"] = stage
        part["count"] = frame[count].astype("int64")
        part["base"] = frame[base].astype("int64")
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    if keys:
        order = {v: i for i, v in enumerate(frame[keys[0]])}
        out["_o"] = out[keys[0]].map(order)
        out = out.sort_values(["_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return _proportion(out, "count", "base", "share", alpha=alpha)


# ---------------------------------------------------------------------------------------
# Consistency across channels


def channel_consistency(data, *, alpha: float = 0.05, min_experiences: int = MIN_ANSWERS) -> pd.DataFrame:
    """Does a touchpoint go bad equally often whatever channel serves it? Flags the channels that differ.

    For every touchpoint reached through two or more channels (each with at least
    ``min_experiences`` experiences; the others are listed with ``tested = False``):

    1. the bad rate of each channel with its Wilson interval, the touchpoint's pooled rate and
       the spread (highest minus lowest channel rate);
    2. a chi-square test of homogeneity of the bad rate across the channels
       (``chi2``, ``dof``, ``p_value``), **Bonferroni-corrected** across the touchpoints tested
       (``p_adjusted = min(1, m p)``, m = number of touchpoints tested);
    3. if it rejects at ``alpha``, a step-down search for the channels that differ: the channel
       with the largest absolute adjusted (Haberman) residual, i.e. the one farthest from the
       pooled rate of the others, is flagged and removed, and the test is repeated on the rest
       at the same corrected level until the remaining channels are homogeneous or one is left.
       Comparing each channel with the pooled rate of *all* channels would also flag the
       channels that are fine (the pool is pulled by the outlier); the step-down keeps the
       flag on the channels that differ.

    Columns: ``touchpoint``, ``channel``, ``experiences``, ``bad``, ``bad_rate``, ``ci_low``,
    ``ci_high``, ``pooled_rate``, ``spread``, ``residual`` (adjusted residual in the full
    table), ``chi2``, ``dof``, ``p_value``, ``p_adjusted`` (touchpoint's first test),
    ``reference_rate`` (pooled rate of the unflagged channels), ``tested``, ``flagged``.
    """
    frame = _query(data, 
        """SELECT touchpoint, channel, count(*) AS experiences, count(*) FILTER (outcome = 'bad') AS bad
           FROM interactions WHERE kind = 'experience' GROUP BY ALL ORDER BY touchpoint, channel"""
    )
    frame = _proportion(frame, "bad", "experiences", "bad_rate", alpha=alpha)
    frame["tested"] = frame["experiences"] >= int(min_experiences)
    n_channels = frame[frame["tested"]].groupby("touchpoint")["channel"].transform("count")
    frame["tested"] &= n_channels.reindex(frame.index).fillna(0) >= 2
    touchpoints = sorted(frame.loc[frame["tested"], "touchpoint"].unique())
    m = max(len(touchpoints), 1)
    for column in ("pooled_rate", "spread", "residual", "chi2", "p_value", "p_adjusted", "reference_rate"):
        frame[column] = np.nan
    frame["dof"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["flagged"] = False
    for tp in frame["touchpoint"].unique():
        rows = frame.index[frame["touchpoint"] == tp]
        sub = frame.loc[rows]
        frame.loc[rows, "pooled_rate"] = sub["bad"].sum() / sub["experiences"].sum()
        frame.loc[rows, "spread"] = sub["bad_rate"].max() - sub["bad_rate"].min()
        frame.loc[rows, "reference_rate"] = sub["bad"].sum() / sub["experiences"].sum()
    for tp in touchpoints:
        rows = frame.index[(frame["touchpoint"] == tp) & frame["tested"]]
        chi2, dof, p, resid = _homogeneity(frame.loc[rows, "bad"], frame.loc[rows, "experiences"])
        frame.loc[rows, "chi2"] = chi2
        frame.loc[rows, "dof"] = dof
        frame.loc[rows, "p_value"] = p
        frame.loc[rows, "p_adjusted"] = min(1.0, m * p)
        frame.loc[rows, "residual"] = resid
        remaining = list(rows)
        while len(remaining) >= 2:
            _, _, p, resid = _homogeneity(frame.loc[remaining, "bad"], frame.loc[remaining, "experiences"])
            if not np.isfinite(p) or min(1.0, m * p) >= alpha:
                break
            worst = remaining[int(np.nanargmax(np.abs(resid)))]
            frame.loc[worst, "flagged"] = True
            remaining.remove(worst)
        kept = frame.loc[remaining]
        frame.loc[frame["touchpoint"] == tp, "reference_rate"] = kept["bad"].sum() / kept["experiences"].sum()
    frame["flagged"] = frame["flagged"].astype(bool)
    frame["tested"] = frame["tested"].astype(bool)
    return frame


def _homogeneity(bad, n):
    """Chi-square test of equal proportions over groups, and each group's adjusted residual."""
    bad = np.asarray(bad, dtype=float)
    n = np.asarray(n, dtype=float)
    total, total_bad = n.sum(), bad.sum()
    p = total_bad / total if total > 0 else np.nan
    if not (0 < p < 1):
        return 0.0, len(n) - 1, 1.0, np.zeros(len(n))
    expected = n * p
    chi2 = float(np.sum((bad - expected) ** 2 / (expected * (1 - p))))
    dof = len(n) - 1
    resid = (bad - expected) / np.sqrt(n * p * (1 - p) * (1 - n / total))
    return chi2, dof, float(stats.chi2.sf(chi2, dof)), resid
