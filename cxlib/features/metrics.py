"""CX metrics: functions that take a loaded :class:`~cxlib.data.load.Dataset` and return tidy frames.

Aggregation runs in the data set's engine through ``data.query`` (DuckDB in process, or
Spark: :mod:`cxlib.data.spark`; one GROUP BY, never a Python loop per row), so the functions work
on a million customers; what comes back is small. The SQL is DuckDB's dialect, written in
forms that sqlglot transpiles to Spark faithfully (see :mod:`cxlib.data.spark`). Every
rate comes with its count and a 95% Wilson interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

OVERVIEW_COLUMNS = ["measure", "value"]


def _query(data, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run one aggregation in ``data``'s engine: ``data.query`` (DuckDB or Spark).

    An object holding only a DuckDB connection ``con`` (a bare test double) is served too.
    """
    query = getattr(data, "query", None)
    if query is None:
        return data.con.execute(sql, params or {}).df()
    return query(sql, params)


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
    how many of them customer service had resolved by then (design.md's definition).
    """
    from cxlib.features.definitions import bad_experiences_sql

    as_of = data.as_of
    frame = _query(data, 
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
    )
    frame["share_of_active"] = frame["customers"] / frame["customers"].sum()
    return frame.set_index("bad_experiences")


# =======================================================================================
# Service, experience, consistency and journey metrics (issue #4)
#
# Conventions of every function below:
# - ``data`` is a loaded Dataset (or a SparkDataset); the aggregation runs in its engine
#   through ``data.query`` and only the grouped result comes back to pandas;
# - ``by`` names the grouping: ``"channel"``, ``"month"`` (calendar month of ``at``, UTC),
#   ``"touchpoint"`` where it makes sense, a sequence of them, or ``None`` for one overall row;
# - every rate comes with the count it is built on and a 95% interval (``alpha``);
# - a group built on fewer than ``min_answers`` answers is kept and marked
#   (``few_answers = True``), never dropped; months without any answer are listed too.

from cxlib.config import RESOLUTION_DAYS  # noqa: E402
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql  # noqa: E402

MIN_ANSWERS = 30
SERVICE_CHANNELS_NOTE = "service contacts are rows with kind = 'service'"
_KEY_SQL = {
    "channel": '"channel"',
    "touchpoint": '"touchpoint"',
    "month": "CAST(date_trunc('month', \"at\") AS TIMESTAMP)",
}
CONTACT_GROUPS = ("all", "problem", "routine")


def _keys(by, allowed=("channel", "month")) -> list[str]:
    if by is None:
        return []
    keys = [by] if isinstance(by, str) else list(by)
    for key in keys:
        if key not in allowed:
            raise ValueError(f"by takes {', '.join(allowed)} (or None), not {key!r}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"by repeats a column: {keys}")
    return keys


def _select_keys(keys) -> str:
    return "".join(f"{_KEY_SQL[k]} AS {k}, " for k in keys)


def _group_by(keys) -> str:
    return f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _month_range(data) -> pd.DatetimeIndex:
    """Calendar months (UTC) from the first interaction's month to ``as_of``'s month."""
    first = _query(data, 'SELECT min("at") AS first FROM interactions')["first"].iloc[0]
    if first is None or pd.isna(first):
        return pd.DatetimeIndex([], name="month")
    start = pd.Timestamp(first).to_period("M").to_timestamp()
    end = (data.as_of - pd.Timedelta(microseconds=1)).to_period("M").to_timestamp()  # as_of itself is excluded
    return pd.date_range(start, max(start, end), freq="MS", name="month")


def _complete_months(data, frame: pd.DataFrame, keys: list[str], counts: list[str]) -> pd.DataFrame:
    """Add the months (× other key values) in which nothing was counted, with zero counts."""
    if "month" not in keys:
        return frame
    months = _month_range(data)
    others = [k for k in keys if k != "month"]
    if others:
        combos = frame[others].drop_duplicates()
        grid = combos.merge(pd.DataFrame({"month": months}), how="cross")
    else:
        grid = pd.DataFrame({"month": months})
    frame = frame.copy()
    frame["month"] = pd.to_datetime(frame["month"]).astype(grid["month"].dtype)
    out = grid.merge(frame, on=keys, how="left")
    for column in counts:
        out[column] = out[column].fillna(0).astype("int64")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)[frame.columns.tolist()]


def _proportion(frame: pd.DataFrame, successes: str, n: str, rate: str, *, alpha: float = 0.05) -> pd.DataFrame:
    frame = frame.copy()
    k = frame[successes].to_numpy(dtype=float)
    total = frame[n].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = np.where(total > 0, k / np.where(total > 0, total, 1), np.nan)
    frame["ci_low"], frame["ci_high"] = wilson_interval(k, total, alpha=alpha)
    return frame


def _few(frame: pd.DataFrame, n: str, min_answers: int) -> pd.DataFrame:
    frame["few_answers"] = (frame[n] < int(min_answers)).astype(bool)
    return frame


def nps_interval(promoters, detractors, n, *, alpha: float = 0.05):
    """Adjusted-Wald interval of the NPS, in points (−100…100); NaN where n is 0.

    The NPS is ``100 (P − D) / n``. Its variance is the multinomial variance of a difference
    of two shares of the same answers, ``(p_P + p_D − (p_P − p_D)²) / n``; the adjusted Wald
    interval (Rocks 2016, *The American Statistician*) adds 3/4 of an answer to promoters and
    to detractors and 3 to ``n`` before computing it, so that it does not collapse to a point
    when every answer is a detractor (or a promoter). Clipped to −100…100.
    """
    promoters = np.asarray(promoters, dtype=float)
    detractors = np.asarray(detractors, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(alpha)
    n_adj = n + 3
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    centre = p - d
    half = z * np.sqrt(np.maximum(p + d - centre**2, 0) / n_adj)
    low = np.where(n > 0, np.clip(centre - half, -1, 1) * 100, np.nan)
    high = np.where(n > 0, np.clip(centre + half, -1, 1) * 100, np.nan)
    return low, high


def poisson_interval(events, exposure, *, alpha: float = 0.05):
    """Exact (Garwood) interval of a rate ``events / exposure``; NaN where exposure is 0."""
    events = np.asarray(events, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(events > 0, stats.chi2.ppf(alpha / 2, 2 * events) / 2, 0.0) / exposure
        high = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2 / exposure
    return np.where(exposure > 0, low, np.nan), np.where(exposure > 0, high, np.nan)


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


def _exposure_sql(data, as_of: str) -> str:
    """Customer-months of exposure per calendar month: SQL over customers × months.

    The calendar months (from the first signup's month to the last one starting before
    ``as_of``) are listed as ``VALUES`` from Python, a form every engine reads alike; time
    at risk is counted in microseconds (``date_diff``), the same integers on every engine.
    """
    first = _query(data, "SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
    end = pd.Timestamp(as_of)
    starts = [] if first is None or pd.isna(first) else pd.date_range(
        pd.Timestamp(first).to_period("M").to_timestamp(), end, freq="MS"
    )
    stamp = "TIMESTAMP '{}'".format
    rows = ", ".join(
        f"({stamp(m.isoformat(sep=' '))}, {stamp((m + pd.offsets.MonthBegin(1)).isoformat(sep=' '))})"
        for m in starts
        if m < end
    ) or "(CAST(NULL AS TIMESTAMP), CAST(NULL AS TIMESTAMP))"
    return f"""
    months AS (SELECT * FROM (VALUES {rows}) m(month, month_end)),
    spans AS (
        SELECT signup_at AS s, least(coalesce(churned_at, TIMESTAMP '{as_of}'), TIMESTAMP '{as_of}') AS e
        FROM customers WHERE signup_at < TIMESTAMP '{as_of}'),
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
    as_of = data.as_of.isoformat(sep=" ")
    counted = [k for k in keys if k != "month"]
    select_counts = _select_keys(keys)
    exposure_sql = _exposure_sql(data, as_of)
    frame = _query(data, 
        f"""WITH {exposure_sql},
            c AS (SELECT {select_counts} count(*) AS contacts FROM interactions
                  WHERE kind = 'service' AND "at" < TIMESTAMP '{as_of}'{_contacts_filter(contacts)}
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
    days = _days(resolution_days)
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


def _days(resolution_days) -> int:
    days = int(resolution_days)
    if days < 0:
        raise ValueError(f"resolution_days must be >= 0, not {resolution_days}")
    return days


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
    days = _days(resolution_days)
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


# ---------------------------------------------------------------------------------------
# Journeys

START = "signup"
END_CHURNED = "churned"
END_ACTIVE = "still a customer"
SERVICE_STEP = "service contact"


def _step_sql(*, include_service: bool, mark_bad: bool) -> tuple[str, str]:
    label = "touchpoint || ' (bad)'" if mark_bad else "touchpoint"
    step = (
        f"CASE WHEN kind = 'service' THEN '{SERVICE_STEP}' "
        f"WHEN outcome = 'bad' THEN {label} ELSE touchpoint END"
        if mark_bad
        else f"CASE WHEN kind = 'service' THEN '{SERVICE_STEP}' ELSE touchpoint END"
    )
    where = "" if include_service else "AND i.kind = 'experience'"
    return step, where


def _journey_sql(data, *, include_service: bool, mark_bad: bool) -> str:
    """Customers' steps up to their end (churn, or ``as_of``), each with the customer's end state,
    and a window ``journey`` in time order (ties broken by ``interaction_id``)."""
    as_of = data.as_of.isoformat(sep=" ")
    step, where = _step_sql(include_service=include_service, mark_bad=mark_bad)
    return f"""
    ends AS (
        SELECT customer_id,
               CASE WHEN churned_at <= TIMESTAMP '{as_of}' THEN churned_at ELSE TIMESTAMP '{as_of}' END AS end_at,
               CASE WHEN churned_at <= TIMESTAMP '{as_of}' THEN '{END_CHURNED}' ELSE '{END_ACTIVE}' END AS end_state
        FROM customers WHERE signup_at <= TIMESTAMP '{as_of}'),
    steps AS (
        SELECT i.customer_id, i."at", i.interaction_id, {step} AS step, e.end_state
        FROM interactions i JOIN ends e ON e.customer_id = i.customer_id
        WHERE i."at" <= e.end_at {where})"""


_JOURNEY_WINDOW = 'WINDOW journey AS (PARTITION BY customer_id ORDER BY "at", interaction_id)'


def journey_transitions(data, *, include_service: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Transitions between consecutive steps of each customer's journey, with ``signup`` and the end.

    Steps are the touchpoints of experiences in time order (ties broken by
    ``interaction_id``), service contacts as one step ``service contact`` (unless
    ``include_service`` is False), from ``signup`` to ``churned`` or ``still a customer``
    (at ``as_of``). One window pass in SQL (``lag`` and ``lead`` over each customer's rows)
    aggregated at once to a table of a few dozen rows: the step before each row (``signup``
    for the first), and the end state after the last.

    Columns: ``from_step``, ``to_step``, ``transitions``, ``from_total``, ``share`` (of the
    transitions leaving ``from_step``), ``ci_low``, ``ci_high`` (Wilson).
    """
    frame = _query(data, 
        f"""WITH {_journey_sql(data, include_service=include_service, mark_bad=False)},
            w AS (
                SELECT lag(step) OVER journey AS prev, step, lead(step) OVER journey IS NULL AS is_last, end_state
                FROM steps {_JOURNEY_WINDOW}),
            agg AS (SELECT prev, step, is_last, end_state, count(*) AS n FROM w GROUP BY ALL),
            without_steps AS (
                SELECT e.end_state, e.customers - coalesce(a.with_steps, 0) AS n
                FROM (SELECT end_state, count(*) AS customers FROM ends GROUP BY ALL) e
                LEFT JOIN (SELECT end_state, sum(n) AS with_steps FROM agg WHERE prev IS NULL GROUP BY ALL) a
                  ON a.end_state = e.end_state),
            allt AS (
                SELECT coalesce(prev, '{START}') AS from_step, step AS to_step, n FROM agg
                UNION ALL SELECT step, end_state, n FROM agg WHERE is_last
                UNION ALL SELECT '{START}', end_state, n FROM without_steps WHERE n > 0)
            SELECT from_step, to_step, CAST(sum(n) AS BIGINT) AS transitions FROM allt GROUP BY ALL"""
    )
    frame["transitions"] = frame["transitions"].astype("int64")
    frame["from_total"] = frame.groupby("from_step")["transitions"].transform("sum").astype("int64")
    frame = frame.sort_values(["from_step", "transitions", "to_step"], ascending=[True, False, True])
    return _proportion(frame.reset_index(drop=True), "transitions", "from_total", "share", alpha=alpha)


def transition_matrix(frame: pd.DataFrame, *, value: str = "share") -> pd.DataFrame:
    """The transitions of :func:`journey_transitions` as a matrix: ``from_step`` rows, ``to_step`` columns.

    Rows start with ``signup``, columns end with the end states; absent transitions are 0.
    """
    matrix = frame.pivot_table(index="from_step", columns="to_step", values=value, aggfunc="sum", fill_value=0)
    steps = sorted(set(matrix.index) | set(matrix.columns) - {START, END_CHURNED, END_ACTIVE})
    rows = [START] + [s for s in steps if s in matrix.index and s != START]
    columns = [s for s in steps if s in matrix.columns and s != START] + [
        s for s in (END_CHURNED, END_ACTIVE) if s in matrix.columns
    ]
    return matrix.reindex(index=rows, columns=columns, fill_value=0)


def churn_paths(
    data,
    *,
    steps: int = 3,
    top: int = 10,
    include_service: bool = True,
    mark_bad: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The most common last ``steps`` steps before churn, against the last steps of retained customers.

    For a churned customer the path is the last ``steps`` steps before ``churned_at``; for a
    customer still active at ``as_of``, the last ``steps`` before ``as_of``. Steps as in
    :func:`journey_transitions`; with ``mark_bad`` a bad experience is labelled
    ``touchpoint (bad)``; a customer with fewer steps has a path starting at ``signup``.
    The ``top`` paths by number of churned customers are kept, each with its share among
    churned and among retained customers. One window pass in SQL: at each customer's last
    step, ``lag`` gives the steps before it.

    Long frame: ``path``, ``group`` (churned, retained), ``customers``, ``group_total``,
    ``share``, ``ci_low``, ``ci_high`` (Wilson), ``rank`` (1 = most common before churn).
    """
    k = int(steps)
    if k < 1:
        raise ValueError(f"steps must be >= 1, not {steps}")
    lags = "".join(f"lag(step, {j}) OVER journey AS l{j}, " for j in range(1, k))
    parts = ", ".join([f"CASE WHEN rn < {k} THEN '{START}' END"] + [f"l{j}" for j in range(k - 1, 0, -1)] + ["step"])
    frame = _query(data, 
        f"""WITH {_journey_sql(data, include_service=include_service, mark_bad=mark_bad)},
            last AS (
                SELECT end_state, {lags} step, row_number() OVER journey AS rn
                FROM steps {_JOURNEY_WINDOW}
                QUALIFY lead(step) OVER journey IS NULL),
            with_steps AS (SELECT end_state, concat_ws(' → ', {parts}) AS path, count(*) AS customers
                           FROM last GROUP BY ALL),
            totals AS (SELECT end_state, count(*) AS group_total FROM ends GROUP BY ALL),
            counted AS (
                SELECT path, end_state, customers FROM with_steps
                UNION ALL
                SELECT '{START}', t.end_state, t.group_total - coalesce(sum(w.customers), 0)
                FROM totals t LEFT JOIN with_steps w ON w.end_state = t.end_state
                GROUP BY t.end_state, t.group_total),
            ranked AS (
                SELECT path, row_number() OVER (ORDER BY customers DESC, path) AS rank
                FROM counted WHERE end_state = '{END_CHURNED}' AND customers > 0 QUALIFY rank <= {int(top)}),
            groups AS (SELECT g.end_state, coalesce(t.group_total, 0) AS group_total
                       FROM (VALUES ('{END_CHURNED}'), ('{END_ACTIVE}')) g(end_state)
                       LEFT JOIN totals t ON t.end_state = g.end_state)
            SELECT r.path, CASE WHEN g.end_state = '{END_CHURNED}' THEN 'churned' ELSE 'retained' END AS "group",
                   coalesce(c.customers, 0) AS customers, g.group_total, r.rank
            FROM ranked r CROSS JOIN groups g
            LEFT JOIN counted c ON c.path = r.path AND c.end_state = g.end_state
            ORDER BY r.rank, "group" """
    )
    frame = frame[["path", "group", "customers", "group_total", "rank"]]
    for column in ("customers", "group_total", "rank"):
        frame[column] = frame[column].astype("int64")
    return _proportion(frame, "customers", "group_total", "share", alpha=alpha)


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
    from cxlib.features.definitions import ROUTINE_TOUCHPOINT

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
