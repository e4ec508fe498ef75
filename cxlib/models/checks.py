"""The reviewer's checks of the churn model: a Cox cross-check, E-values and a negative control.

Each check stands beside the estimate it questions (DoWhy's split of an estimate from its
refutations) and returns numbers only; their text is in :mod:`cxlib.present.tables`.

- :func:`cox_cross_check` fits the churn model's covariates with lifelines'
  ``CoxTimeVaryingFitter`` on a sample of customers (tenure as the time scale, so the tenure
  bands are absorbed by the Cox baseline), side by side with the Poisson model on the same sample.
- :func:`e_value` / :func:`e_values`: how strong an unmeasured confounder would have to be to
  explain a hazard ratio away (VanderWeele & Ding 2017).
- :func:`negative_control`: the hazard ratio of *good* experiences, which should be 1 once the
  model adjusts for what makes customers differ (the residual confounding the adjustment left).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS, WINDOW_EXPERIENCE_BANDS, WINDOW_EXPERIENCES
from cxlib.exceptions import ThinEvidenceWarning
from cxlib.features import panel as _panel
from cxlib.features.panel import sample_customers
from cxlib.models.churn import ChurnModel, _engagement_column, _experiences_column, _segment_column

# ---------------------------------------------------------------------- Cox cross-check


def cox_long_table(intervals: pd.DataFrame, *, count_cap: int, segment_reference: str, segments,
                   engagement_levels=None, engagement_reference: str | None = None,
                   experience_levels=None, experience_reference: str | None = None) -> pd.DataFrame:
    """lifelines' long format from panel intervals: tenure (days since signup_at) as the time scale.

    ``engagement_levels`` (band index → label, e.g. a fitted model's ``engagement_levels_``)
    adds the experience-rate bands other than ``engagement_reference`` as indicators;
    ``experience_levels`` (``experience_levels_``, with ``window_experiences``) the bands of the
    trailing count of experiences (the panel's ``experiences``) other than ``experience_reference``.
    """
    long = pd.DataFrame(
        {
            "customer_id": intervals["customer_id"].to_numpy(),
            "start": (intervals["start_at"] - intervals["signup_at"]).dt.total_seconds().to_numpy() / 86400.0,
            "stop": (intervals["stop_at"] - intervals["signup_at"]).dt.total_seconds().to_numpy() / 86400.0,
            "event": intervals["event"].astype(int).to_numpy(),
            "unresolved": np.minimum(intervals["unresolved"].to_numpy(), count_cap),
            "resolved": np.minimum(intervals["resolved"].to_numpy(), count_cap),
        }
    )
    seg = intervals["segment"].astype(str).to_numpy()
    for s in segments:
        if s != segment_reference:
            long[_segment_column(s)] = (seg == s).astype(float)
    if engagement_levels:
        band = intervals["engagement"].to_numpy(dtype=int)
        for k, label in engagement_levels.items():
            # band 0 (the first 30 days) is a function of tenure, Cox's time scale: its baseline absorbs it
            if label != engagement_reference and int(k) != 0:
                long[_engagement_column(label)] = (band == int(k)).astype(float)
    if experience_levels:
        band = np.searchsorted(np.asarray(WINDOW_EXPERIENCE_BANDS), intervals["experiences"].to_numpy(), side="right") - 1
        for k, label in experience_levels.items():
            if label != experience_reference:
                long[_experiences_column(label)] = (band == int(k)).astype(float)
    return long[long["stop"] > long["start"]].reset_index(drop=True)


def _estimable(model, levels, column) -> dict | None:
    """The band levels whose term the model could estimate (a band without a churn event has no Cox term either)."""
    if not levels:
        return levels
    return {k: label for k, label in levels.items() if column(label) not in model.not_estimable_}


def fit_cox(long: pd.DataFrame, *, alpha: float = 0.05):
    """lifelines' CoxTimeVaryingFitter on a long table from :func:`cox_long_table`.

    Fitted with one BLAS thread. For each event time lifelines multiplies the covariates of the
    customers at risk (a few thousand rows by a few dozen columns) with a separate BLAS call;
    calls that small gain nothing from a second thread and lose a lot to waiting for it: on
    the demo world's 5,000-customer sample, 2 cores shared (load average 7–10), the fit took 495 s
    with OpenBLAS's two threads and 19 s with one (the same estimates to the last digit the report shows;
    benchmarks/results/report_before_after.md).
    """
    from lifelines import CoxTimeVaryingFitter
    from threadpoolctl import threadpool_limits

    ctv = CoxTimeVaryingFitter(alpha=alpha)
    with threadpool_limits(1, user_api="blas"):
        ctv.fit(long, id_col="customer_id", event_col="event", start_col="start", stop_col="stop")
    return ctv


#: Customers sampled for the Cox cross-check (lifelines; its cost grows with the square of them) ...
COX_SAMPLE = 2_500
#: ... and for the negative control (a Poisson fit: its cost grows with the rows, not their square).
NEGATIVE_CONTROL_SAMPLE = 5_000


def cox_cross_check(
    data,
    *,
    sample: int | None = COX_SAMPLE,
    seed: int = 0,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    count_cap: int = _panel.COUNT_CAP,
    alpha: float = 0.05,
    as_of=None,
    engagement: bool = True,
    window_experiences: bool = WINDOW_EXPERIENCES,
) -> pd.DataFrame:
    """Hazard ratios of the Poisson model and of lifelines' Cox model on the same sample.

    The Cox model uses tenure as its time scale, so its baseline absorbs the tenure bands;
    both models adjust for the segments and (``engagement``, the default, as the churn model)
    for the experience-rate bands: the same adjusted covariates; the rows compared are the
    trailing counts and the segments (the first band, the first 30 days of tenure, is absorbed
    by the Cox baseline, so the bands' own ratios are not compared). ``window_experiences`` (as the
    churn model's) adds the bands of the trailing count of experiences to both; then only the bands
    the Poisson model could estimate go to Cox (a band without a churn event makes the Cox fit singular).
    ``ratio`` is the Cox hazard ratio over the Poisson one (1 = agreement).

    Why a sample of 2,500 by default (:data:`COX_SAMPLE`): lifelines' time-varying fitter scans
    every row of the long table at every event time, so its cost grows with the square of the
    customers. On the demo world (2 cores, one BLAS thread, load ~7) 2,500 customers took 8 s and
    5,000 took 19 s with the experience rate alone; the window's count of experiences (the default
    adjustment) changes at every experience and doubles the rows (5,000: 22 s → 47 s at load ~5).
    The check's point is agreement of the two models on the same sample, which a smaller sample
    shows as well (with wider intervals for both), not precision: the churn model itself uses every customer.
    """
    ids = sample_customers(data, sample, seed=seed)
    window_experiences = bool(window_experiences and engagement)  # part of the engagement adjustment, as in ChurnModel
    model = ChurnModel(window_days=window_days, resolution_days=resolution_days, count_cap=count_cap, alpha=alpha,
                       engagement=engagement, window_experiences=window_experiences)
    model.fit(data, as_of=as_of, customers=ids)
    iv = _panel.intervals(
        data, window_days=window_days, resolution_days=resolution_days, tenure_bands=model.tenure_bands,
        as_of=as_of, customers=ids, engagement=engagement, window_experiences=window_experiences,
    )
    engagement_levels = getattr(model, "engagement_levels_", None)
    experience_levels = None
    if window_experiences:
        engagement_levels = _estimable(model, engagement_levels, _engagement_column)
        experience_levels = _estimable(model, model.experience_levels_, _experiences_column)
    long = cox_long_table(
        iv, count_cap=count_cap, segment_reference=model.reference_["segment"], segments=model.segments_,
        engagement_levels=engagement_levels, engagement_reference=model.reference_.get("engagement"),
        experience_levels=experience_levels, experience_reference=model.reference_.get("experiences"),
    )
    ctv = fit_cox(long, alpha=alpha)
    cs = ctv.summary
    covariates = [c for c in model.columns_[1:] if c in cs.index and not c.startswith(("engagement[", "experiences["))]
    lo, hi = f"exp(coef) lower {100 * (1 - alpha):.0f}%", f"exp(coef) upper {100 * (1 - alpha):.0f}%"
    ps = model.summary.loc[covariates]
    frame = pd.DataFrame(
        {
            "meaning": ps["meaning"],
            "poisson_hr": ps["hazard_ratio"],
            "poisson_ci_low": ps["ci_low"],
            "poisson_ci_high": ps["ci_high"],
            "cox_hr": cs.loc[covariates, "exp(coef)"].to_numpy(),
            "cox_ci_low": cs.loc[covariates, lo].to_numpy(),
            "cox_ci_high": cs.loc[covariates, hi].to_numpy(),
        },
        index=pd.Index(covariates, name="covariate"),
    )
    frame["ratio"] = frame["cox_hr"] / frame["poisson_hr"]
    frame.attrs.update(
        {"customers": int(long["customer_id"].nunique()), "events": int(long["event"].sum()), "intervals": len(long)}
    )
    return frame


# ---------------------------------------------------------------------- reviewer's checks


def e_value(hr: float, ci_low: float | None = None, ci_high: float | None = None, *, common: bool = False) -> dict:
    """The E-value of a hazard ratio and of its interval's limit nearest 1 (VanderWeele & Ding 2017).

    The minimum strength of association, on the risk-ratio scale, that an unmeasured
    confounder would need with both the exposure and the outcome to explain the estimate
    away. For a rare outcome the HR is taken as a risk ratio; for a common one (``common``:
    more than 15% have the outcome by the end of follow-up) it is first turned into one with
    their approximation ``RR = (1 − 0.5^√HR) / (1 − 0.5^√(1/HR))``. A ratio below 1 is
    inverted first. The interval's E-value is 1 when the interval includes 1.
    """

    def rr(h):
        h = float(h)
        if common:
            return (1 - 0.5 ** np.sqrt(h)) / (1 - 0.5 ** np.sqrt(1 / h))
        return h

    def ev(r):
        r = 1 / r if r < 1 else r
        return float(r + np.sqrt(r * (r - 1)))

    if not (np.isfinite(hr) and hr > 0):
        return {"e_value": np.nan, "e_value_ci": np.nan}
    point = ev(rr(hr))
    if ci_low is None or ci_high is None or not (np.isfinite(ci_low) and np.isfinite(ci_high)):
        return {"e_value": point, "e_value_ci": np.nan}
    if ci_low <= 1 <= ci_high:
        limit = 1.0
    else:
        limit = ev(rr(ci_low if hr > 1 else ci_high))
    return {"e_value": point, "e_value_ci": limit}


def e_values(model: ChurnModel, *, common: bool | None = None) -> pd.DataFrame:
    """E-values of the model's trailing-count hazard ratios (index: covariate).

    ``common`` (None: decided from the panel) says whether churn is common over the follow-up
    (more than 15% of the customers churned), which changes the conversion of the HR.
    Columns: ``hazard_ratio, ci_low, ci_high, e_value, e_value_ci``.
    """
    model._check_fitted()
    if common is None:
        common = _churned_share(model) > 0.15
    s = model.summary.loc[list(model.count_terms_)]
    rows = [e_value(r.hazard_ratio, r.ci_low, r.ci_high, common=common) for r in s.itertuples()]
    frame = pd.concat([s[["meaning", "hazard_ratio", "ci_low", "ci_high"]], pd.DataFrame(rows, index=s.index)], axis=1)
    frame.attrs["common_outcome"] = bool(common)
    return frame


def _churned_share(model: ChurnModel) -> float:
    """Share of the model's customers who churned by ``as_of`` (1 when unknown: the common-outcome
    conversion, which gives the smaller, more cautious E-value for a HR above 1)."""
    share = getattr(model, "churned_share_", None)
    return 1.0 if share is None else float(share)


class _GoodControlModel(ChurnModel):
    """The churn model with one more trailing count: *good* experiences (the negative control)."""

    def _count_terms(self, table: pd.DataFrame) -> dict:
        return {**super()._count_terms(table), "good": "good"}

    def fit(self, data, *, as_of=None, customers=None) -> ChurnModel:
        table = _panel.aggregate(
            data, window_days=self.window_days, resolution_days=self.resolution_days, tenure_bands=self.tenure_bands,
            count_cap=self.count_cap, as_of=as_of, customers=customers, engagement=bool(self.engagement), good=True,
            window_experiences=self._window_experiences(),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ThinEvidenceWarning)
            return self.fit_aggregated(table, as_of=data.as_of if as_of is None else as_of)


def negative_control(
    data,
    *,
    sample: int | None = NEGATIVE_CONTROL_SAMPLE,
    seed: int = 0,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    count_cap: int = 20,
    alpha: float = 0.05,
    as_of=None,
    window_experiences: bool = WINDOW_EXPERIENCES,
) -> pd.DataFrame:
    """The negative control: the HR of each *good* experience in the trailing window.

    A good experience does not drive a customer away, so once the model adjusts for what
    makes customers differ, its hazard ratio should be 1. The trailing count of good
    experiences is added to the churn model's covariates, on a sample of customers (good
    experiences are most rows, which splits the person-time finely), adjusted for engagement
    and, for comparison, not. Rows ``adjusted``, ``unadjusted``; columns ``hazard_ratio,
    ci_low, ci_high, p_value, covers_one``. ``count_cap`` caps the good count (default 20:
    good experiences are frequent). ``window_experiences``: the adjusted model's, as the churn model's.

    With the window's count of experiences in the adjustment (the default), the good count is
    that count less the bad ones wherever a count band is one wide, so it is identified only
    where the bands are wider or the counts capped: its interval is wider (on the confounded
    test world 0.98–1.12, against 0.97–1.03 with the rate alone) and it measures the confounding
    left inside the count's bands. The unadjusted row is the same in both.
    """
    ids = sample_customers(data, sample, seed=seed)
    out = {}
    for name, engagement in (("adjusted", True), ("unadjusted", False)):
        model = _GoodControlModel(window_days=window_days, resolution_days=resolution_days, count_cap=count_cap,
                                  alpha=alpha, engagement=engagement,
                                  window_experiences=window_experiences and engagement).fit(data, as_of=as_of, customers=ids)
        r = model.summary.loc["good"]
        out[name] = {"hazard_ratio": float(r.hazard_ratio), "ci_low": float(r.ci_low), "ci_high": float(r.ci_high),
                     "p_value": float(r.p_value), "covers_one": bool(r.ci_low <= 1 <= r.ci_high)}
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame.index.name = "model"
    frame.attrs["customers"] = len(ids) if ids is not None else None
    return frame
