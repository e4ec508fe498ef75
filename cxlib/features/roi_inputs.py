"""What the ROI's closed form needs from the data at ``as_of``: the base and the rates it changes.

:func:`measure` runs a few queries in the data's engine (DuckDB, or Spark through
:mod:`cxlib.data.spark`) and returns a :class:`Measured`: one row per customer active at
``as_of`` and per known bad experience still in the trailing window, the bad experiences per
touchpoint per customer-day (split into the first ``early_days`` of tenure and after), the
contact share, resolution rate and resolution delays among bad experiences whose resolution
window had closed, and the measured link from first response time to resolution
(:func:`first_response_link`). Nothing after ``as_of`` is read. Days are whole calendar days
relative to ``as_of``'s day; windows and delays are in days.

With ``engagement=True`` (a churn model adjusted for engagement) it also puts each active
customer in an **engagement class** and measures each class's relative rate of bad
experiences (:func:`engagement_classes`): heavy users meet more bad experiences, and the ROI
engine gives each class its own future rate and its own baseline.

The engine that turns these into expected revenue is :mod:`cxlib.models.roi_engine`; the
scenarios and the evaluation are :mod:`cxlib.analyses.roi`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.exceptions import DataError
from cxlib.features.definitions import (
    ROUTINE_TOUCHPOINT,
    bad_experiences_sql,
    experience_rate_max_steps,
    experience_rate_sql,
)
from cxlib.features.sql import active_at_sql, check_days, signed_up_before_sql, timestamp_sql, utc_naive

__all__ = [
    "ENGAGEMENT_CLASSES",
    "MONTH_DAYS",
    "Measured",
    "engagement_classes",
    "expit",
    "first_response_link",
    "measure",
    "rates_frame",
    "resolution_after_cut",
]

#: Days in a month (365.25 / 12), as in the simulator: horizons in months are this many days.
MONTH_DAYS = 30.4375

#: The most engagement classes of the ROI: the customers without a rate yet (band 0), and up to
#: this many minus one groups of adjacent experience-rate bands (:func:`engagement_classes`).
ENGAGEMENT_CLASSES = 6


@dataclass
class Measured:
    """The current base and the rates measured up to ``as_of`` (see :func:`measure`)."""

    as_of: pd.Timestamp
    customers: pd.DataFrame  # active at as_of: customer_id, segment, monthly_value, tenure_day
    known: pd.DataFrame  # their bad experiences still in the window: customer_id, e (rel. day), c (rel. resolved day or NaN)
    rates: pd.DataFrame  # touchpoint, experiences, bad, bad_early, bad_settled, bad_rate
    exposure_early: float
    exposure_settled: float
    follow_up: dict  # bad, contacted, resolved (window closed)
    delays: np.ndarray  # resolved bad experiences by delay 0..resolution_days
    first_response: dict  # the measured link first response → resolution
    window_days: int
    resolution_days: int
    early_days: int
    rate_days: int | None
    # with engagement=True: one row per experience-rate band (band, customers active at as_of in it,
    # bad settled experiences and settled customer-days spent in it over the rate period), and one
    # per engagement class (engagement_classes); customers then has rate_band and engagement_class
    bands: pd.DataFrame | None = None
    classes: pd.DataFrame | None = None

    @property
    def touchpoints(self) -> list[str]:
        return self.rates["touchpoint"].tolist()

    @property
    def contact_share(self) -> float:
        f = self.follow_up
        return f["contacted"] / f["bad"] if f["bad"] else float("nan")

    @property
    def resolution_rate(self) -> float:
        f = self.follow_up
        return f["resolved"] / f["contacted"] if f["contacted"] else float("nan")


def _seen(as_of_sql: str) -> str:
    """A CTE ``seen``: the interactions known at as_of (stamped before it)."""
    return f'seen AS (SELECT * FROM interactions WHERE "at" < {as_of_sql})'


def measure(
    data,
    *,
    as_of=None,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    rate_days: int | None = 365,
    early_days: int = 7,
    alpha: float = 0.05,
    engagement: bool = False,
) -> Measured:
    """The base at ``as_of`` and the rates the scenarios change, from data up to ``as_of`` only.

    - ``customers``: those active at ``as_of`` (signed up before, not churned by then), with
      segment, monthly value and tenure in whole days since the signup day;
    - ``known``: their bad experiences whose trailing window reaches past ``as_of``, with the
      day resolved as known at ``as_of``;
    - bad experiences per touchpoint per customer-day over the last ``rate_days`` days
      (``None``: all history), split into the first ``early_days`` of tenure and after;
    - contact share, resolution rate and resolution delays among bad experiences of that
      period whose resolution window had closed by ``as_of``;
    - the link from first response time to resolution (logistic regression within channel);
    - with ``engagement``: each active customer's experience-rate band at ``as_of`` and engagement
      class, and each class's relative rate of bad experiences (:func:`engagement_classes`).

    Every query runs in ``data``'s engine (``data.query``: DuckDB, or Spark through
    :mod:`cxlib.data.spark`); what comes back is one row per active customer and per known bad
    experience, and a few aggregated rows: never the interactions.
    """
    as_of = utc_naive(data.as_of if as_of is None or as_of == "" else as_of)
    days = check_days(window_days=window_days, resolution_days=resolution_days)
    w, r = days["window_days"], days["resolution_days"]
    lit = timestamp_sql(as_of)
    day0 = f"CAST({lit} AS DATE)"
    first = data.query(f"SELECT min(signup_at) AS first FROM customers WHERE {signed_up_before_sql(lit)}")["first"].iloc[0]
    if first is None or pd.isna(first):
        raise DataError(f"no customer signed up before as_of {as_of}")
    p0 = pd.Timestamp(first) if rate_days is None else max(pd.Timestamp(first), as_of - pd.Timedelta(days=int(rate_days)))
    p0_lit = timestamp_sql(p0)
    early = f"INTERVAL {int(early_days)} DAY"
    active = active_at_sql(lit)

    customers = data.query(
        f"""SELECT customer_id, segment, monthly_value, date_diff('day', CAST(signup_at AS DATE), {day0}) AS tenure_day
            FROM customers
            WHERE {active}
            ORDER BY customer_id"""
    )
    if customers.empty:
        raise DataError(f"no customer is active at as_of {as_of}: nothing to retain")
    customers["customer_id"] = customers["customer_id"].astype(str)
    customers["segment"] = customers["segment"].astype(str)
    customers["monthly_value"] = customers["monthly_value"].astype(float)
    customers["tenure_day"] = customers["tenure_day"].astype("int64")

    be_seen = bad_experiences_sql(resolution_days=r, source="seen")
    known = data.query(
        f"""WITH {_seen(lit)}
            SELECT b.customer_id, date_diff('day', {day0}, b.day) AS e,
                   date_diff('day', {day0}, b.resolved_on) AS c
            FROM ({be_seen}) b
            JOIN (SELECT customer_id FROM customers WHERE {active}) k ON k.customer_id = b.customer_id
            WHERE b.day >= {day0} - {w}
            ORDER BY b.customer_id, e, c"""
    )
    known["customer_id"] = known["customer_id"].astype(str)
    known["e"] = known["e"].astype("int64")
    known["c"] = known["c"].astype(float)

    # Exposure in days; microseconds summed as DOUBLE (a BIGINT sum overflows on Spark).
    exposure = data.query(
        f"""WITH c AS (
                SELECT signup_at AS s, signup_at + {early} AS m,
                       least(coalesce(churned_at, {lit}), {lit}) AS x
                FROM customers WHERE {signed_up_before_sql(lit)})
            SELECT sum(CAST(greatest(0, date_diff('microsecond', greatest(s, {p0_lit}), least(m, x))) AS DOUBLE))
                       / 86400e6 AS early,
                   sum(CAST(greatest(0, date_diff('microsecond', greatest(m, {p0_lit}), x)) AS DOUBLE))
                       / 86400e6 AS settled
            FROM c"""
    ).iloc[0]
    exposure_early = 0.0 if pd.isna(exposure["early"]) else float(exposure["early"])
    exposure_settled = 0.0 if pd.isna(exposure["settled"]) else float(exposure["settled"])

    rates = data.query(
        f"""WITH {_seen(lit)}
            SELECT i.touchpoint,
                   count(*) FILTER ("at" >= {p0_lit}) AS experiences,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad') AS bad,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad' AND "at" < k.signup_at + {early}) AS bad_early,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad' AND "at" >= k.signup_at + {early}) AS bad_settled
            FROM seen i JOIN customers k ON k.customer_id = i.customer_id
            WHERE i.kind = 'experience'
            GROUP BY i.touchpoint ORDER BY i.touchpoint"""
    )
    if rates.empty:
        raise DataError(f"no experience interactions before as_of {as_of}")
    for col in ("experiences", "bad", "bad_early", "bad_settled"):
        rates[col] = rates[col].astype("int64")
    rates["touchpoint"] = rates["touchpoint"].astype(str)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates["bad_rate"] = rates["bad"] / rates["experiences"].where(rates["experiences"] > 0)

    # Bad experiences of the period whose resolution window had closed, grouped by whether a
    # contact followed and by the delay to the resolving contact (NULL: never resolved).
    follow = data.query(
        f"""WITH {_seen(lit)},
            be AS ({be_seen}),
            contact AS (SELECT DISTINCT customer_id, touchpoint, CAST("at" AS DATE) AS day
                        FROM seen WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}'),
            closed AS (
                SELECT be.*, EXISTS (SELECT 1 FROM contact c WHERE c.customer_id = be.customer_id
                                     AND c.touchpoint = be.touchpoint AND c.day >= be.day AND c.day <= be.day + {r})
                             AS contacted
                FROM be WHERE be."at" >= {p0_lit} AND be.day + {r} < {day0})
            SELECT contacted OR resolved_on IS NOT NULL AS contacted,
                   date_diff('day', day, resolved_on) AS delay, count(*) AS n
            FROM closed GROUP BY ALL ORDER BY ALL"""
    )
    n = follow["n"].astype("int64")
    resolved = follow["delay"].notna()
    delay = follow.loc[resolved, "delay"].astype("int64").clip(0, r)
    delays = np.bincount(delay.to_numpy(), weights=n[resolved].to_numpy(), minlength=r + 1).astype(float)
    follow_up = {
        "bad": int(n.sum()),
        "contacted": int(n[follow["contacted"].astype(bool)].sum()),
        "resolved": int(n[resolved].sum()),
    }

    link = first_response_link(data, lit, p0_lit, alpha=alpha)
    measured = Measured(
        as_of=as_of, customers=customers, known=known, rates=rates, exposure_early=exposure_early,
        exposure_settled=exposure_settled, follow_up=follow_up, delays=delays, first_response=link,
        window_days=w, resolution_days=r, early_days=int(early_days), rate_days=rate_days,
    )
    if engagement:
        bands, now = _rate_bands(data, as_of, lit, p0_lit, early)
        customers["rate_band"] = customers["customer_id"].map(now).fillna(0).astype("int64")
        measured.bands = bands
        measured.classes, class_of = engagement_classes(measured)
        customers["engagement_class"] = customers["rate_band"].map(class_of).astype("int64")
    return measured


def _rate_bands(data, as_of, lit: str, p0_lit: str, early: str) -> tuple[pd.DataFrame, pd.Series]:
    """Per experience-rate band: active customers in it at ``as_of``, and the settled bad experiences
    and customer-days spent in it over the rate period; and each active customer's band at ``as_of``.

    The band of a day is the one :func:`cxlib.features.definitions.experience_rate_sql` gives
    (known from the experiences before its last update), so a band's rate is that of the days
    *after* a customer was put in it: what a customer in the band at ``as_of`` is expected to
    meet next, not the past that put them there (which would overstate the spread: a high count
    selects a lucky high past too).
    """
    steps = experience_rate_max_steps(data, as_of=as_of)
    er = experience_rate_sql(as_of_sql=lit, max_steps=steps)
    # one query (the rates' CTE once): per band its settled exposure and bad experiences over the
    # period (rows with customer_id NULL), and each active customer's band at as_of (exposure NULL)
    rows = data.query(
        f"""WITH {_seen(lit)}, er AS ({er}),
            c AS (SELECT customer_id, signup_at + {early} AS m, least(coalesce(churned_at, {lit}), {lit}) AS x,
                         {active_at_sql(lit)} AS active
                  FROM customers WHERE {signed_up_before_sql(lit)}),
            spans AS (
                SELECT e.customer_id, e.rate_band, e.to_day IS NULL AND c.active AS now,
                       greatest(CAST(e.from_day AS TIMESTAMP), c.m, {p0_lit}) AS a,
                       least(coalesce(CAST(e.to_day AS TIMESTAMP), c.x), c.x) AS b
                FROM er e JOIN c ON c.customer_id = e.customer_id),
            exposure AS (
                SELECT rate_band, sum(CAST(greatest(0, date_diff('microsecond', a, b)) AS DOUBLE)) / 86400e6 AS exposure
                FROM spans GROUP BY rate_band),
            bad AS (
                SELECT s.rate_band, count(*) AS bad
                FROM seen i JOIN spans s ON s.customer_id = i.customer_id AND i."at" >= s.a AND i."at" < s.b
                WHERE i.kind = 'experience' AND i.outcome = 'bad'
                GROUP BY s.rate_band)
            SELECT CAST(NULL AS VARCHAR) AS customer_id, x.rate_band, x.exposure, coalesce(bad.bad, 0) AS bad
            FROM exposure x LEFT JOIN bad ON bad.rate_band = x.rate_band
            UNION ALL
            SELECT CAST(customer_id AS VARCHAR), rate_band, CAST(NULL AS DOUBLE), CAST(NULL AS BIGINT) FROM spans WHERE now"""
    )
    per = rows["customer_id"].isna()
    now = rows.loc[~per].set_index(rows.loc[~per, "customer_id"].astype(str))["rate_band"].astype("int64")
    spans = rows.loc[per]
    bands = spans.assign(rate_band=spans["rate_band"].astype("int64"), exposure=spans["exposure"].astype(float),
                         bad=spans["bad"].astype("int64")).set_index("rate_band")[["exposure", "bad"]]
    bands = bands.join(now.value_counts().rename("customers"), how="outer").fillna(0).reset_index()
    bands["customers"] = bands["customers"].astype("int64")
    bands["bad"] = bands["bad"].astype("int64")
    return bands[["rate_band", "customers", "bad", "exposure"]], now


def engagement_classes(measured: Measured, max_classes: int = ENGAGEMENT_CLASSES) -> tuple[pd.DataFrame, dict]:
    """The engagement classes of the active customers and each class's relative rate of bad experiences.

    Rule: class 0 holds the customers without a rate yet (band 0: the first step of tenure, usage
    not known); the bands ``≥ 1`` of the active customers, in order, are cut into at most
    ``max_classes - 1`` groups of adjacent bands with roughly equal numbers of active customers
    (a band goes to the group its cumulative midpoint share falls in), so the ROI engine's
    states stay few whatever the number of bands.

    The relative rate ``r_c`` of a class is its bad experiences per settled customer-day (the
    days spent in its bands over the rate period, :func:`_rate_bands`) over the base's settled
    rate (``bad_settled / exposure_settled``, the ``λ`` the engine scales), so a class's future
    rate is ``λ·r_c`` and a scenario's cut scales every class alike. Class 0 has ``r = 1``: a
    customer of unknown usage meets bad experiences at the base's rate. A class without
    exposure (none in the rate period) also has ``r = 1``.

    Returns the classes (``engagement_class``, ``bands``: the tuple of its rate bands,
    ``customers``, ``bad``, ``exposure``, ``relative_rate``) and the class of each band.
    """
    if max_classes < 2:
        raise ValueError(f"max_classes must be >= 2 (band 0 and at least one group), not {max_classes}")
    bands = measured.bands.set_index("rate_band")
    later = bands[(bands.index > 0) & (bands["customers"] > 0)]
    class_of = {0: 0, **{int(b): 0 for b in bands.index}}
    if len(later):
        share = (later["customers"].cumsum() - later["customers"] / 2) / later["customers"].sum()
        group = np.minimum((share.to_numpy() * (max_classes - 1)).astype(int), max_classes - 2)
        _, group = np.unique(group, return_inverse=True)  # consecutive, no empty group
        for b, g in zip(later.index, group.ravel()):
            class_of[int(b)] = int(g) + 1
        # bands without an active customer join the class of the nearest band below (or above)
        for b in bands.index[(bands.index > 0) & (bands["customers"] == 0)]:
            below = later.index[later.index < b]
            class_of[int(b)] = class_of[int(below[-1] if len(below) else later.index[0])]
    settled = measured.rates["bad_settled"].sum() / measured.exposure_settled if measured.exposure_settled > 0 else 0.0
    rows = []
    for c in range(max(class_of.values()) + 1):
        members = tuple(b for b, k in sorted(class_of.items()) if k == c)
        part = bands.loc[[b for b in members if b in bands.index]]
        bad, exposure = int(part["bad"].sum()), float(part["exposure"].sum())
        rate = bad / exposure / settled if c > 0 and exposure > 0 and settled > 0 else 1.0
        rows.append({"engagement_class": c, "bands": members, "customers": int(part["customers"].sum()),
                     "bad": bad, "exposure": exposure, "relative_rate": float(rate)})
    return pd.DataFrame(rows), class_of


def first_response_link(data, lit: str, p0_lit: str, *, alpha: float, max_rows: int = 200_000) -> dict:
    """Logistic regression of *resolved* on log2(first response + 1 minute), within service channel.

    Past ``max_rows`` contacts, a sample: the ``max_rows`` with the smallest md5 of their id,
    a pseudo-random choice that is the same on every engine and every run.
    """
    frame = data.query(
        f"""SELECT channel, first_response_minutes AS frt, CAST(resolved AS INTEGER) AS resolved
            FROM interactions
            WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}' AND "at" < {lit} AND "at" >= {p0_lit}
              AND first_response_minutes IS NOT NULL AND resolved IS NOT NULL
            ORDER BY md5(interaction_id) LIMIT {int(max_rows)}"""
    )
    out = {"supported": False, "contacts": int(len(frame)), "slope": float("nan"), "se": float("nan"),
           "p_value": float("nan"), "odds_ratio_per_doubling": float("nan")}
    if len(frame) < 100 or frame["resolved"].nunique() < 2:
        out["reason"] = f"only {len(frame)} contacts with a first response time and an outcome"
        return out
    import statsmodels.api as sm

    x = np.log2(frame["frt"].to_numpy(dtype=float) + 1.0)
    dummies = pd.get_dummies(frame["channel"].astype(str), drop_first=False, dtype=float)
    X = np.column_stack([x, dummies.to_numpy()])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(frame["resolved"].to_numpy(dtype=float), X, family=sm.families.Binomial()).fit()
    except Exception as exc:  # pragma: no cover - a degenerate table
        out["reason"] = f"the regression failed: {exc}"
        return out
    slope, se = float(res.params[0]), float(res.bse[0])
    p = float(2 * stats.norm.sf(abs(slope / se))) if se > 0 else float("nan")
    out.update(slope=slope, se=se, p_value=p, odds_ratio_per_doubling=float(np.exp(slope)))
    out["_eta"] = np.asarray(X @ res.params, dtype=float)
    out["_x"] = x
    out["_frt"] = frame["frt"].to_numpy(dtype=float)
    lo, hi = np.exp(slope - 1.96 * se), np.exp(slope + 1.96 * se)
    measured = f"odds of resolution ×{np.exp(slope):.2f} per doubling of the first response (95% CI {lo:.2f}–{hi:.2f}, p = {p:.2g})"
    out["link"] = measured
    if p < alpha and slope < 0:
        out["supported"] = True
        out["reason"] = f"faster first responses resolve more often: {measured}"
    elif p < alpha:
        out["reason"] = f"slower first responses resolve more often in this data, not faster ones: {measured}"
    else:
        out["reason"] = f"no measurable link from first response time to resolution: {measured}"
    return out


def resolution_after_cut(link: dict, cut: float, slope: float) -> float:
    """Change of the mean resolution probability when every first response is cut by ``cut``."""
    eta = link["_eta"]
    x_new = np.log2(link["_frt"] * (1.0 - cut) + 1.0)
    new = eta + slope * (x_new - link["_x"])
    return float(np.mean(expit(new)) - np.mean(expit(eta)))


def expit(z):
    return 1.0 / (1.0 + np.exp(-z))


def rates_frame(measured: Measured, c_hat: float, r_hat: float, link: dict) -> pd.DataFrame:
    """The measured rates the scenarios change, one row each: measure, value, and how many observations."""
    rows = []
    ex = measured.exposure_early + measured.exposure_settled
    for t in measured.rates.itertuples():
        rows.append({"measure": f"bad experiences at {t.touchpoint} per customer-month",
                     "value": t.bad / ex * MONTH_DAYS if ex else np.nan, "n": int(t.bad)})
    f = measured.follow_up
    rows.append({"measure": "contact share (bad experiences followed by a contact in time)", "value": c_hat, "n": f["bad"]})
    rows.append({"measure": "resolution rate (of those contacts)", "value": r_hat, "n": f["contacted"]})
    rows.append({"measure": "resolved share of bad experiences", "value": c_hat * r_hat, "n": f["bad"]})
    rows.append({"measure": "first response → resolution: odds ratio per doubling",
                 "value": link.get("odds_ratio_per_doubling", np.nan), "n": link.get("contacts", 0)})
    return pd.DataFrame(rows)
