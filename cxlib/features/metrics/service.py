"""Service metrics: CSAT, NPS, first response, resolution rate and contacts per customer-month,
each by channel, by month or overall, with the count it rests on and a 95% interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.features.definitions import ROUTINE_TOUCHPOINT
from cxlib.features.metrics.groups import MIN_ANSWERS, _complete_months, _few, _group_by, _keys, _query, _select_keys
from cxlib.features.metrics.intervals import _proportion, _z, nps_interval, poisson_interval
from cxlib.features.sql import signed_up_before_sql, timestamp_sql, utc_naive

SERVICE_CHANNELS_NOTE = "service contacts are rows with kind = 'service'"
CONTACT_GROUPS = ("all", "problem", "routine")


# ---------------------------------------------------------------------------------------
# Service metrics


def csat(data, *, by="channel", kind: str | None = "service", min_answers: int = MIN_ANSWERS, alpha: float = 0.05):
    """CSAT: the share of CSAT answers of 4 or 5, with the number of answers and a Wilson interval.

    ``kind`` is ``"service"`` (answers about service contacts, the default), ``"experience"``
    or ``None`` (every answer). Columns: the ``by`` keys, ``answers``, ``satisfied``, ``csat``
    (a share, 0–1), ``ci_low``, ``ci_high``, ``few_answers`` (fewer than ``min_answers``).
    A group without answers is kept with ``answers = 0`` and a missing ``csat``.
    """
    keys = _keys(by)
    where = _kind_filter(kind)
    frame = _query(data, 
        f"""SELECT {_select_keys(keys)} count(csat) AS answers, count(*) FILTER (csat >= 4) AS satisfied
            FROM interactions {where} {_group_by(keys)}"""
    )
    frame = _complete_months(data, frame, keys, ["answers", "satisfied"])
    frame = _proportion(frame, "satisfied", "answers", "csat", alpha=alpha)
    return _few(frame, "answers", min_answers)


def _kind_filter(kind) -> str:
    if kind is None:
        return ""
    if kind not in ("service", "experience"):
        raise ValueError(f"kind must be 'service', 'experience' or None, not {kind!r}")
    return f"WHERE kind = '{kind}'"


def nps(data, *, by="channel", kind: str | None = None, min_answers: int = MIN_ANSWERS, alpha: float = 0.05):
    """NPS: promoters (9–10) minus detractors (0–6), in points (−100…100), with counts and interval.

    ``kind`` as in :func:`csat`, by default every answer (the NPS question is about the
    company, whatever interaction it was asked after). The interval is the adjusted Wald
    interval of :func:`nps_interval`. Columns: the ``by`` keys, ``answers``, ``promoters``,
    ``passives``, ``detractors``, ``nps``, ``ci_low``, ``ci_high``, ``few_answers``.
    """
    keys = _keys(by)
    frame = _query(data, 
        f"""SELECT {_select_keys(keys)} count(nps) AS answers,
                   count(*) FILTER (nps >= 9) AS promoters,
                   count(*) FILTER (nps BETWEEN 7 AND 8) AS passives,
                   count(*) FILTER (nps <= 6) AS detractors
            FROM interactions {_kind_filter(kind)} {_group_by(keys)}"""
    )
    frame = _complete_months(data, frame, keys, ["answers", "promoters", "passives", "detractors"])
    n = frame["answers"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["nps"] = np.where(
            n > 0, 100 * (frame["promoters"].to_numpy() - frame["detractors"].to_numpy()) / np.where(n > 0, n, 1), np.nan
        )
    frame["ci_low"], frame["ci_high"] = nps_interval(frame["promoters"], frame["detractors"], n, alpha=alpha)
    return _few(frame, "answers", min_answers)


def first_response(data, *, by="channel", min_answers: int = MIN_ANSWERS, alpha: float = 0.05):
    """First response time of service contacts, in minutes: median and 90th percentile.

    Each quantile has a distribution-free interval from order statistics: the values at the
    ranks ``n q ∓ z √(n q (1 − q))`` of the sorted times (the binomial interval of a quantile),
    computed in SQL with a window over the contacts. Columns: the ``by`` keys, ``contacts``
    (contacts with a measured time), ``median_minutes``, ``median_ci_low``, ``median_ci_high``,
    ``p90_minutes``, ``p90_ci_low``, ``p90_ci_high``, ``few_answers``.
    """
    keys = _keys(by)
    z = _z(alpha)
    part = f"PARTITION BY {', '.join(keys)}" if keys else ""
    bounds = []
    for name, q in (("median", 0.5), ("p90", 0.9)):
        lo = f"floor(n * {q} - {z} * sqrt(n * {q * (1 - q)}))"
        hi = f"ceil(n * {q} + {z} * sqrt(n * {q * (1 - q)})) + 1"
        bounds.append(
            f"""quantile_cont(m, {q}) AS {name}_minutes,
                CASE WHEN any_value({lo}) >= 1 THEN max(m) FILTER (rk <= {lo}) END AS {name}_ci_low,
                CASE WHEN any_value({hi}) <= any_value(n) THEN min(m) FILTER (rk >= {hi}) END AS {name}_ci_high"""
        )
    frame = _query(data, 
        f"""WITH t AS (
                SELECT {_select_keys(keys)} first_response_minutes AS m
                FROM interactions WHERE kind = 'service' AND first_response_minutes IS NOT NULL),
            r AS (SELECT *, row_number() OVER ({part} ORDER BY m) AS rk, count(*) OVER ({part}) AS n FROM t)
            SELECT {"".join(f"{k}, " for k in keys)} count(*) AS contacts, {", ".join(bounds)}
            FROM r {_group_by(keys)}"""
    )
    if not keys and len(frame) and frame["contacts"].iloc[0] == 0:
        frame.loc[:, [c for c in frame.columns if c != "contacts"]] = np.nan
    frame = _complete_months(data, frame, keys, ["contacts"])
    for column in frame.columns:
        if column.endswith(("_minutes", "_ci_low", "_ci_high")):
            frame[column] = frame[column].astype(float)
    return _few(frame, "contacts", min_answers)


def _contacts_filter(contacts: str) -> str:
    if contacts not in CONTACT_GROUPS:
        raise ValueError(f"contacts must be one of {CONTACT_GROUPS}, not {contacts!r}")
    if contacts == "problem":
        return f" AND touchpoint <> '{ROUTINE_TOUCHPOINT}'"
    if contacts == "routine":
        return f" AND touchpoint = '{ROUTINE_TOUCHPOINT}'"
    return ""


def resolution_rate(
    data, *, by="channel", contacts: str = "all", min_answers: int = MIN_ANSWERS, alpha: float = 0.05
):
    """Share of service contacts marked ``resolved``, with the count and a Wilson interval.

    ``contacts``: ``"all"``, ``"problem"`` (contacts about a touchpoint, i.e. not routine
    ``how_to`` questions) or ``"routine"``. Contacts with ``resolved`` empty count as not
    resolved. Columns: the ``by`` keys, ``contacts``, ``resolved``, ``resolution_rate``,
    ``ci_low``, ``ci_high``, ``few_answers`` (fewer than ``min_answers`` contacts).
    """
    keys = _keys(by)
    frame = _query(data, 
        f"""SELECT {_select_keys(keys)} count(*) AS contacts, count(*) FILTER (resolved) AS resolved
            FROM interactions WHERE kind = 'service'{_contacts_filter(contacts)} {_group_by(keys)}"""
    )
    frame = _complete_months(data, frame, keys, ["contacts", "resolved"])
    frame = _proportion(frame, "resolved", "contacts", "resolution_rate", alpha=alpha)
    return _few(frame, "contacts", min_answers)


def _exposure_sql(data, as_of) -> str:
    """Customer-months of exposure per calendar month: SQL over customers × months.

    The calendar months (from the first signup's month to the last one starting before
    ``as_of``) are listed as ``VALUES`` from Python, a form every engine reads alike; time
    at risk is counted in microseconds (``date_diff``), the same integers on every engine.
    """
    first = _query(data, "SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
    end = utc_naive(as_of)
    t = timestamp_sql(end)
    starts = [] if first is None or pd.isna(first) else pd.date_range(
        pd.Timestamp(first).to_period("M").to_timestamp(), end, freq="MS"
    )
    rows = ", ".join(
        f"({timestamp_sql(m)}, {timestamp_sql(m + pd.offsets.MonthBegin(1))})"
        for m in starts
        if m < end
    ) or "(CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP))"
    return f"""
    months AS (SELECT * FROM (VALUES {rows}) m(month, month_end)),
    spans AS (
        SELECT signup_at AS s, least(coalesce(churned_at, {t}), {t}) AS e
        FROM customers WHERE {signed_up_before_sql(t)}),
    exposure AS (
        SELECT m.month,
               sum(CAST(date_diff('microsecond', greatest(sp.s, m.month), least(sp.e, m.month_end)) AS DOUBLE))
                   / any_value(CAST(date_diff('microsecond', m.month, m.month_end) AS DOUBLE)) AS customer_months
        FROM months m JOIN spans sp ON sp.s < m.month_end AND sp.e > m.month
        GROUP BY m.month)"""


def contact_rate(data, *, by="month", contacts: str = "all", min_answers: int = MIN_ANSWERS, alpha: float = 0.05):
    """Service contacts per 100 customers per month, with an exact Poisson interval.

    The denominator is exposure in customer-months: for every calendar month, the part of
    the month each customer was a customer (from ``signup_at`` to ``churned_at`` or
    ``as_of``), summed; by channel, over every month up to ``as_of``. Contacts after ``as_of``
    are not counted. Columns: the ``by`` keys, ``contacts``, ``customer_months``,
    ``contacts_per_100``, ``ci_low``, ``ci_high``, ``few_answers`` (fewer than
    ``min_answers`` contacts).
    """
    keys = _keys(by)
    as_of = data.as_of
    counted = [k for k in keys if k != "month"]
    select_counts = _select_keys(keys)
    exposure_sql = _exposure_sql(data, as_of)
    frame = _query(data, 
        f"""WITH {exposure_sql},
            c AS (SELECT {select_counts} count(*) AS contacts FROM interactions
                  WHERE kind = 'service' AND "at" < {timestamp_sql(utc_naive(as_of))}{_contacts_filter(contacts)}
                  {"GROUP BY " + ", ".join(keys) if keys else ""})
            SELECT {"".join(f"c.{k}, " for k in keys)} c.contacts,
                   {"e.customer_months" if "month" in keys else "(SELECT sum(customer_months) FROM exposure)"}
                       AS customer_months
            FROM c {"JOIN exposure e ON e.month = c.month" if "month" in keys else ""}
            {"ORDER BY " + ", ".join(f"c.{k}" for k in keys) if keys else ""}"""
    )
    if "month" in keys:
        exposure = _query(data, f"WITH {exposure_sql} SELECT month, customer_months FROM exposure")
        exposure["month"] = pd.to_datetime(exposure["month"])
        frame = _complete_months(data, frame.drop(columns="customer_months"), keys, ["contacts"])
        frame = frame.merge(exposure.astype({"month": frame["month"].dtype}), on="month", how="left")
        frame = frame[frame["customer_months"].notna()].reset_index(drop=True)
    elif not len(frame) and not counted:
        frame = pd.DataFrame({"contacts": [0], "customer_months": [np.nan]})
    exposure = frame["customer_months"].to_numpy(dtype=float)
    events = frame["contacts"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["contacts_per_100"] = np.where(exposure > 0, 100 * events / exposure, np.nan)
    low, high = poisson_interval(events, exposure, alpha=alpha)
    frame["ci_low"], frame["ci_high"] = 100 * low, 100 * high
    return _few(frame, "contacts", min_answers)


SERVICE_METRICS = {
    "CSAT": "% answers 4–5",
    "NPS": "points (−100…100)",
    "first response, median": "minutes",
    "first response, 90th percentile": "minutes",
    "resolution rate": "% of contacts",
    "contacts per 100 customers a month": "per 100 customer-months",
}


def service_metrics(data, *, by="month", min_answers: int = MIN_ANSWERS, alpha: float = 0.05) -> pd.DataFrame:
    """Every service metric in one long frame, ready for a small-multiples figure.

    One row per ``by`` group and metric: ``metric``, ``value``, ``ci_low``, ``ci_high``,
    ``n`` (the answers or contacts behind it), ``unit`` and ``few_answers``. Shares are in
    percent here (CSAT, resolution rate), the NPS in points, times in minutes. The metrics
    are those of :func:`csat` (service answers), :func:`nps` (every answer),
    :func:`first_response`, :func:`resolution_rate` (all contacts) and :func:`contact_rate`.
    """
    keys = _keys(by)
    parts = []

    def add(frame, metric, value, n, low="ci_low", high="ci_high", scale=1.0):
        part = frame[keys].copy()
        part["metric"] = metric
        part["value"] = frame[value].astype(float) * scale
        part["ci_low"] = frame[low].astype(float) * scale
        part["ci_high"] = frame[high].astype(float) * scale
        part["n"] = frame[n].astype("int64")
        part["unit"] = SERVICE_METRICS[metric]
        part["few_answers"] = frame["few_answers"].astype(bool)
        parts.append(part)

    kw = {"by": by, "min_answers": min_answers, "alpha": alpha}
    add(csat(data, **kw), "CSAT", "csat", "answers", scale=100)
    add(nps(data, **kw), "NPS", "nps", "answers")
    fr = first_response(data, **kw)
    add(fr, "first response, median", "median_minutes", "contacts", "median_ci_low", "median_ci_high")
    add(fr, "first response, 90th percentile", "p90_minutes", "contacts", "p90_ci_low", "p90_ci_high")
    add(resolution_rate(data, **kw), "resolution rate", "resolution_rate", "contacts", scale=100)
    add(contact_rate(data, **kw), "contacts per 100 customers a month", "contacts_per_100", "contacts")
    return pd.concat(parts, ignore_index=True)
