"""Churn against bad experiences: a piecewise-exponential (Poisson) survival model.

The hazard of churn on a day is modelled as::

    h = baseline × HR_segment × HR_tenure_band × HR_unresolved^U × HR_resolved^R

where ``U`` and ``R`` are the unresolved and resolved bad experiences of the trailing
``window_days`` (design.md's definitions, see :mod:`cxlib.features.panel`). The hazard is constant
between the change points of the panel, so the log-likelihood of the survival model is that
of a Poisson regression of events on the covariates with ``log(exposure)`` as offset; and
since the likelihood only depends on events and exposure summed per covariate pattern, the
fit runs on :func:`cxlib.features.panel.aggregate`'s small table (statsmodels' GLM), whatever the
number of customers.

Why the model adjusts for engagement (``engagement=True``, the default)
----------------------------------------------------------------------
Customers who use the product more meet more touchpoints, so they have more bad experiences
of every kind; and they are also the loyal ones. Left alone, that common cause makes bad
experiences look harmless (on the simulator's confounded world, truths 1.8 and 1.1 come out
as 1.46 and 0.88: a false "service recovery paradox"). The adjustment adds the customer's
**experience rate** (experiences of any outcome per 30 days since signup, counted on days
before the last 30-day step of tenure: :func:`cxlib.features.definitions.experience_rate_sql`) as a
banded covariate. Why this covariate and not another:

- it measures the confounder itself, usage, with what the data always has (the experience
  rows), whatever the outcome, so it is not a consequence of the bad experiences' effect;
- given a customer's number of experiences up to a day, which of them were bad is a
  thinning that does not depend on usage; conditioning on the rate (with tenure) therefore
  blocks the path usage → counts, and the remaining variation in counts is as good as random
  with respect to usage;
- it is known from the past only (no count of the future enters the day at risk), and bands
  keep the model a GROUP BY to sufficient statistics: one more key in the aggregated table;
- it does not adjust for service contacts, which customers on their way out make more of
  (adjusting for them would condition on a consequence of the coming churn).

The rate alone is not enough: it is brought up to date every 30 days of tenure and a band is a
range of rates, so each experience of the window, bad or good, still tells of usage (on that
world 1.77 and 1.06). ``window_experiences`` (on by default, ``config.WINDOW_EXPERIENCES``)
therefore adds the trailing count of experiences of any outcome in the bad counts' own window,
banded (``config.WINDOW_EXPERIENCE_BANDS``): given it, which of the window's experiences were
bad is a thinning independent of usage, so the bad counts compare customers who met as many
touchpoints. One more GROUP BY key, known at the day at risk. On the confounded world (20 seeds
of 20,000 customers, ``benchmarks/results/churn_coverage.md``) the unresolved HR went 1.742 →
1.791 (truth 1.8), its interval covering the truth 10/20 → 20/20 (resolved 18/20 → 20/20); worlds
without confounding recover as before. Like the rate, it counts experiences only
(:func:`cxlib.features.definitions.touches_sql`). ``window_experiences=False`` keeps the rate
alone. :func:`negative_control` measures the confounding left: the adjusted HR of *good*
experiences should be 1. ``unadjusted_`` is the model without the adjustment, fitted on the
same table summed over the bands, so a reader sees what it changed.

The reviewer's checks (the Cox cross-check, E-values, the negative control) are in
:mod:`cxlib.models.checks`; the model's text and figure are :func:`cxlib.present.tables.churn_summary_table`
and :func:`cxlib.present.plots.plot_hazard_ratios`. Each :meth:`ChurnModel.fit` logs one line
"churn model fitted" on the ``cxlib.models.churn`` logger (INFO), so a run can count its fits.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator

from cxlib.config import EXPERIENCE_RATE_PER_DAYS, RESOLUTION_DAYS, WINDOW_DAYS, WINDOW_EXPERIENCES
from cxlib.exceptions import DataError, NotFittedError, ThinEvidenceWarning
from cxlib.features import panel as _panel
from cxlib.features.definitions import experience_rate_labels, window_experience_labels

_log = logging.getLogger(__name__)

INTERCEPT = "baseline"
COUNTS = ("unresolved", "resolved")
#: Below this many churn events a fit is flagged with a ThinEvidenceWarning.
MIN_EVENTS = 50


def _segment_column(level: str) -> str:
    return f"segment[{level}]"


def _tenure_column(level: str) -> str:
    return f"tenure[{level}]"


def not_estimable_terms(X: pd.DataFrame, events: np.ndarray, *, count_terms) -> dict[str, str]:
    """Terms (columns of the design ``X`` of the aggregated table) without information: term → reason.

    A Poisson model cannot estimate a term whose covariate never varies over the time at risk
    (no customer ever had a resolved bad experience: no service row resolved one), nor one
    whose level or count has no churn event at all (its coefficient runs off to minus
    infinity). With fewer churn events than the model has terms, no term is estimable. Such a
    term is left out of the fit and reported, never shown as a precise hazard ratio of 1.
    ``count_terms``: the names of the trailing-count columns; every other term but the
    baseline is a 0/1 indicator (segment, tenure, engagement band).
    """
    events = np.asarray(events, dtype=float)
    total = int(events.sum())
    terms = [c for c in X.columns if c != INTERCEPT]
    if total < X.shape[1]:
        reason = f"only {total} churn event{'s' if total != 1 else ''} for {X.shape[1]} terms in the model"
        return {c: reason for c in terms}
    out: dict[str, str] = {}
    counts = [c for c in terms if c in set(count_terms)]
    no_bad = all((X[c] == 0).all() for c in counts)
    for c in counts:
        kind, _, level = c.partition("[")
        of = f" of {level[:-1]}" if level else ""
        values = X[c].to_numpy()
        if no_bad:
            out[c] = "no customer had a bad experience in a trailing window"
        elif (values == 0).all():
            out[c] = (f"no bad experience{of} was resolved (no service contact on its touchpoint resolved it in time)"
                      if kind == "resolved" else f"no bad experience{of} stayed unresolved")
        elif len(np.unique(values)) < 2:
            out[c] = f"every customer-day has the same {kind} count{of}, so its effect cannot be told from the baseline"
        elif events[values > 0].sum() == 0:
            out[c] = f"no churn event while a customer had a {kind} bad experience{of} in the trailing window"
    for c in terms:
        if c not in counts and events[X[c].to_numpy() > 0].sum() == 0:
            out[c] = f"no churn event in {c.replace('[', ' ').rstrip(']')}"
    return out


def _engagement_column(level: str) -> str:
    return f"engagement[{level}]"


_experiences_column = "experiences[{}]".format  # a term of the trailing count of experiences


def _term(kind: str, level: str | None) -> str:
    """The ``params_`` name of a trailing-count term: ``unresolved`` or ``unresolved[delivery]``."""
    return kind if level is None else f"{kind}[{level}]"


class ChurnModel(BaseEstimator):
    """Hazard ratios of churn for trailing bad experiences, adjusted for segment and tenure.

    Parameters
    ----------
    window_days:
        Trailing window of the bad-experience counts, in days.
    resolution_days:
        Calendar days after a bad experience in which a resolved contact resolves it.
    count_cap:
        Trailing counts above the cap are pooled with it (a count of 7 counts as ``count_cap``).
    alpha:
        1 − confidence level of the intervals.
    tenure_bands:
        Start of each tenure band in whole days since the signup day.
    tenure_reference:
        Index of the reference tenure band (default 1: ``90–364 days``).
    segment_reference:
        Reference segment; default the segment with the most exposure.
    window_experiences:
        With ``engagement``, adjust also for the banded trailing count of experiences (``experiences[...]``
        terms; on by default; the module docstring says why: coverage 10/20 → 20/20 on the confounded world).

    Attributes (after ``fit``)
    --------------------------
    panel_: the aggregated table the model was fitted on.
    params_, cov_: log hazard-ratio coefficients (``baseline`` = log daily hazard of the
        reference pattern) and their covariance, for simulation-based uses (ROI).
    hazard_ratios_, confidence_intervals_, p_values_, standard_errors_.
    baseline_hazard_: daily hazard of the reference pattern (no bad experiences).
    n_events_, exposure_days_, n_intervals_, capped_share_, log_likelihood_, as_of_.
    not_estimable_: term → reason, for the terms the data hold no information on
        (:func:`not_estimable_terms`); their hazard ratio is NaN, and they count as no effect
        (coefficient 0, no variance) in predictions.
    """

    def __init__(
        self,
        window_days: int = WINDOW_DAYS,
        resolution_days: int = RESOLUTION_DAYS,
        count_cap: int = _panel.COUNT_CAP,
        alpha: float = 0.05,
        tenure_bands=_panel.TENURE_BANDS,
        tenure_reference: int = 1,
        segment_reference: str | None = None,
        engagement: bool = True,
        by_touchpoint: bool = False,
        by_days_since: bool = False,
        window_experiences: bool = WINDOW_EXPERIENCES,
    ):
        self.engagement = engagement
        self.window_experiences = window_experiences
        self.by_touchpoint = by_touchpoint
        self.by_days_since = by_days_since
        self.window_days = window_days
        self.resolution_days = resolution_days
        self.count_cap = count_cap
        self.alpha = alpha
        self.tenure_bands = tenure_bands
        self.tenure_reference = tenure_reference
        self.segment_reference = segment_reference

    # ------------------------------------------------------------------ fitting

    def fit(self, data, *, as_of=None, customers=None) -> ChurnModel:
        """Build the aggregated panel of ``data`` in its engine and fit on it.

        ``data`` is a :class:`cxlib.Dataset` (DuckDB) or a :class:`cxlib.data.spark.SparkDataset`:
        the aggregation runs where the data is; only the aggregated table comes to Python.

        ``customers`` restricts the fit to those customer ids (a sample).
        """
        terms = self._terms()
        touchpoints = _panel.bad_touchpoints(data, as_of=as_of) if terms == "touchpoint" else ()
        table = _panel.aggregate(
            data,
            window_days=self.window_days,
            resolution_days=self.resolution_days,
            tenure_bands=self.tenure_bands,
            count_cap=self.count_cap,
            as_of=as_of,
            customers=customers,
            terms=terms,
            touchpoints=touchpoints,
            engagement=bool(self.engagement),
            window_experiences=self._window_experiences(),
        )
        table.attrs["touchpoints"] = list(touchpoints)
        self.fit_aggregated(table, as_of=data.as_of if as_of is None else as_of)
        self.churned_share_ = _panel.churned_share(data, as_of, customers)
        _log_fit(self, data, customers=customers)
        return self

    def _window_experiences(self) -> bool:
        """Whether the adjustment has the window's count of experiences: part of the engagement
        adjustment, so never without ``engagement`` (the unadjusted model, whatever ``window_experiences`` says)."""
        return bool(self.window_experiences and self.engagement)

    def _terms(self) -> str:
        if self.by_touchpoint and self.by_days_since:
            raise ValueError("by_touchpoint and by_days_since cannot both be on: choose one split of the counts")
        return "touchpoint" if self.by_touchpoint else "days_since" if self.by_days_since else "pooled"

    def _count_terms(self, table: pd.DataFrame) -> dict:
        """``params_`` name → panel column of each trailing-count term."""
        terms = self._terms()
        if terms == "pooled":
            return {c: c for c in COUNTS}
        if terms == "touchpoint":
            levels = list(table.attrs.get("touchpoints", []))
            if not levels:
                raise DataError("an aggregated panel by touchpoint must name its touchpoints in attrs['touchpoints']")
        else:
            levels = _panel.days_since_labels(window_days=self.window_days)
        return {
            _term(kind, level): f"{kind}_{k}" for k, level in enumerate(levels) for kind in COUNTS
        }

    def fit_aggregated(self, table: pd.DataFrame, *, as_of=None) -> ChurnModel:
        """Fit on an aggregated panel (columns of :func:`cxlib.features.panel.aggregate`), e.g. built by another engine."""
        import statsmodels.api as sm

        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1, not {self.alpha}")
        count_terms = self._count_terms(table)
        needed = {"segment", "tenure_band", *count_terms.values(), "events", "exposure_days"}
        if self.engagement:
            needed.add("engagement")
        if self._window_experiences():
            needed.add("experiences")
        missing = needed - set(table.columns)
        if missing:
            raise DataError(f"the aggregated panel lacks columns {sorted(missing)}")
        attrs = dict(table.attrs)
        table = table.reset_index(drop=True)
        table.attrs.update(attrs)
        dropped = table["exposure_days"] <= 0
        if table.loc[dropped, "events"].sum() > 0:
            warnings.warn(f"{int(table.loc[dropped, 'events'].sum())} churn event(s) with no time at risk "
                          "(churned at the signup moment) are left out of the fit", ThinEvidenceWarning, stacklevel=2)
        fit_table = table.loc[~dropped].reset_index(drop=True)
        n_events = int(fit_table["events"].sum())
        if n_events == 0:
            raise DataError("no churn events in the panel: hazard ratios cannot be estimated")

        labels = _panel.tenure_labels(self.tenure_bands)
        exposure_by_band = fit_table.groupby("tenure_band")["exposure_days"].sum()
        bands = [b for b in labels if exposure_by_band.get(b, 0) > 0]
        ref_band = labels[self.tenure_reference] if 0 <= self.tenure_reference < len(labels) else labels[0]
        if ref_band not in bands:
            ref_band = bands[0]
        exposure_by_segment = fit_table.groupby("segment")["exposure_days"].sum().sort_index()
        segments = list(exposure_by_segment.index)
        ref_segment = self.segment_reference
        if ref_segment is None or ref_segment not in segments:
            ref_segment = str(exposure_by_segment.idxmax())

        self.segments_ = segments
        self.tenure_labels_ = bands
        self.count_terms_ = count_terms
        self.reference_ = {"segment": ref_segment, "tenure_band": ref_band, "unresolved": 0, "resolved": 0}
        columns = [INTERCEPT, *count_terms]
        columns += [_segment_column(s) for s in segments if s != ref_segment]
        columns += [_tenure_column(b) for b in bands if b != ref_band]
        # reference of the experience rate: the band with the most exposure after the first step (band
        # 0 is the first 30 days of tenure, a band of time rather than of usage); of the window's count: the most
        for key, on, labels_k, column, attr in (
            ("engagement", self.engagement, experience_rate_labels, _engagement_column, "engagement_levels_"),
            ("experiences", self._window_experiences(), window_experience_labels, _experiences_column, "experience_levels_"),
        ):
            if on:
                labels_k, exposure = labels_k(), fit_table.groupby(key)["exposure_days"].sum()
                later = exposure[exposure.index != 0] if key == "engagement" else exposure
                ref = int((later if len(later) else exposure).idxmax())
                setattr(self, attr, {int(k): labels_k[int(k)] for k in exposure.index if exposure[k] > 0})
                self.reference_[key] = labels_k[ref]
                columns += [column(label) for k, label in getattr(self, attr).items() if k != ref]
        self.columns_ = columns

        X = self._design(fit_table)
        self.not_estimable_ = not_estimable_terms(X, fit_table["events"].to_numpy(), count_terms=list(count_terms))
        fitted = [c for c in columns if c not in self.not_estimable_]
        X = X[fitted]
        model = sm.GLM(
            fit_table["events"].to_numpy(dtype=float),
            X,
            family=sm.families.Poisson(),
            offset=np.log(fit_table["exposure_days"].to_numpy(dtype=float)),
        )
        result = model.fit()
        if not result.converged:  # pragma: no cover - Poisson GLMs on such tables converge
            warnings.warn("the Poisson regression did not converge", RuntimeWarning, stacklevel=2)

        z = stats.norm.ppf(1 - self.alpha / 2)
        # A term without information has no effect in predictions (coefficient 0, no variance), and no
        # estimate in the results: its hazard ratio, interval, standard error and p-value are NaN.
        params = pd.Series(0.0, index=columns, name="coef")
        params[fitted] = np.asarray(result.params)
        cov = pd.DataFrame(0.0, index=columns, columns=columns)
        cov.loc[fitted, fitted] = np.asarray(result.cov_params())
        se = pd.Series(np.sqrt(np.diag(cov)), index=columns, name="se")
        se[list(self.not_estimable_)] = np.nan
        covariates = columns[1:]
        self.panel_ = table
        self.as_of_ = None if as_of is None else pd.Timestamp(as_of)
        self.params_ = params
        self.cov_ = cov
        self.standard_errors_ = se
        self.hazard_ratios_ = np.exp(params[covariates]).where(se[covariates].notna()).rename("hazard_ratio")
        self.confidence_intervals_ = pd.DataFrame(
            {"ci_low": np.exp(params[covariates] - z * se[covariates]), "ci_high": np.exp(params[covariates] + z * se[covariates])}
        )
        self.p_values_ = pd.Series(2 * stats.norm.sf(np.abs(params / se)), index=columns, name="p_value")[covariates]
        self.baseline_hazard_ = float(np.exp(params[INTERCEPT]))
        self.n_events_ = n_events
        self.exposure_days_ = float(fit_table["exposure_days"].sum())
        self.n_intervals_ = int(table["intervals"].sum()) if "intervals" in table else None
        capped = table["capped_intervals"].sum() if "capped_intervals" in table else 0
        self.capped_share_ = float(capped / self.n_intervals_) if self.n_intervals_ else 0.0
        self.log_likelihood_ = float(result.llf)
        self.result_ = result
        if n_events < MIN_EVENTS:
            warnings.warn(f"only {n_events} churn events: hazard ratios are imprecise", ThinEvidenceWarning, stacklevel=2)
        self.unadjusted_ = None
        if self.engagement:
            # the same panel without the engagement split: the figures the adjustment changed
            keys = [c for c in table.columns if c in ("segment", "tenure_band", *count_terms.values())]
            sums = [c for c in ("events", "exposure_days", "intervals", "capped_intervals") if c in table.columns]
            collapsed = table.groupby(keys, as_index=False, sort=True)[sums].sum()
            collapsed.attrs.update(table.attrs)
            params = {k: v for k, v in self.get_params().items() if k not in ("engagement", "window_experiences")}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ThinEvidenceWarning)  # warned above for the same events
                self.unadjusted_ = ChurnModel(**params, engagement=False).fit_aggregated(collapsed, as_of=as_of)
        return self

    def count_term(self, kind: str, touchpoint: str | None = None) -> str:
        """The ``params_`` name of the coefficient for one bad experience of ``kind`` on ``touchpoint``.

        ``kind`` is ``"unresolved"`` or ``"resolved"``. Without per-touchpoint terms (or with
        ``touchpoint=None``) it is the pooled ``"unresolved"``/``"resolved"``; with them,
        ``"unresolved[delivery]"``. With days-since terms it is the term of the first band
        (days 1–30), the effect right after the experience. A touchpoint the model has no term
        for (no bad experience of it in the data) raises a KeyError.
        """
        self._check_fitted()
        if kind not in COUNTS:
            raise ValueError(f"kind must be one of {COUNTS}, not {kind!r}")
        if self.by_days_since:
            return _term(kind, _panel.days_since_labels(window_days=self.window_days)[0])
        if not self.by_touchpoint or touchpoint is None:
            if kind in self.params_.index:
                return kind
            raise KeyError(f"this model has per-touchpoint terms only; name a touchpoint ({self.touchpoints_})")
        name = _term(kind, str(touchpoint))
        if name not in self.params_.index:
            raise KeyError(f"no term for touchpoint {touchpoint!r}; the model has {self.touchpoints_}")
        return name

    @property
    def touchpoints_(self) -> list[str]:
        """The touchpoints with their own terms (empty without per-touchpoint terms)."""
        self._check_fitted()
        if not self.by_touchpoint:
            return []
        return [name[len("unresolved["):-1] for name in self.count_terms_ if name.startswith("unresolved[")]

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError("this ChurnModel is not fitted yet: call fit(data) first")

    def _design(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Design matrix in ``columns_`` order for rows with segment, tenure_band, unresolved, resolved."""
        cap = int(self.count_cap)
        X = pd.DataFrame(index=frame.index)
        X[INTERCEPT] = 1.0
        for name, column in self.count_terms_.items():
            source = column if column in frame else name
            X[name] = np.minimum(frame[source].to_numpy(dtype=float), cap)
        seg = frame["segment"].astype(str).to_numpy()
        band = frame["tenure_band"].astype(str).to_numpy()
        eng = touches = None
        if self.engagement:
            labels = experience_rate_labels()
            eng = np.array(labels, dtype=object)[frame["engagement"].to_numpy(dtype=int)]
        if self._window_experiences():
            touches = np.array(window_experience_labels(), dtype=object)[frame["experiences"].to_numpy(dtype=int)]
        for col in self.columns_[1 + len(self.count_terms_) :]:
            if col.startswith("segment["):
                X[col] = (seg == col[len("segment[") : -1]).astype(float)
            elif col.startswith("engagement["):
                X[col] = (eng == col[len("engagement[") : -1]).astype(float)
            elif col.startswith("experiences["):
                X[col] = (touches == col[len("experiences[") : -1]).astype(float)
            else:
                X[col] = (band == col[len("tenure[") : -1]).astype(float)
        return X[self.columns_]

    # ------------------------------------------------------------------ results

    def _meaning(self, column: str) -> str:
        for kind in COUNTS:
            if column == kind:
                return f"each {kind} bad experience in the last {self.window_days} days"
            if column.startswith(f"{kind}["):
                level = column[len(kind) + 1 : -1]
                if self.by_days_since:
                    return f"each {kind} bad experience {level} ago"
                return f"each {kind} bad experience of {level} in the last {self.window_days} days"
        if column.startswith("segment["):
            return f"segment {column[8:-1]} against {self.reference_['segment']}"
        if column.startswith("engagement["):
            return (f"experience rate {column[11:-1]} a {EXPERIENCE_RATE_PER_DAYS} days against "
                    f"{self.reference_['engagement']}")
        if column.startswith("experiences["):
            return (f"{column[12:-1]} experiences of any outcome in the last {self.window_days} days against "
                    f"{self.reference_['experiences']}")
        return f"tenure {column[7:-1]} against {self.reference_['tenure_band']}"

    @property
    def summary(self) -> pd.DataFrame:
        """Hazard ratio, interval and p-value per covariate (index: covariate).

        With the engagement adjustment, ``unadjusted_hr``, ``unadjusted_ci_low`` and
        ``unadjusted_ci_high`` give the same covariate's estimate without it (NaN for the
        engagement bands themselves): what the adjustment changed.
        """
        self._check_fitted()
        covariates = self.columns_[1:]
        frame = pd.DataFrame(
            {
                "meaning": [self._meaning(c) for c in covariates],
                "hazard_ratio": self.hazard_ratios_,
                "ci_low": self.confidence_intervals_["ci_low"],
                "ci_high": self.confidence_intervals_["ci_high"],
                "p_value": self.p_values_,
                "coef": self.params_[covariates].where(self.standard_errors_[covariates].notna()),
                "se": self.standard_errors_[covariates],
                "not_estimable": [self.not_estimable_.get(c, "") for c in covariates],
            },
            index=pd.Index(covariates, name="covariate"),
        )
        if getattr(self, "unadjusted_", None) is not None:
            u = self.unadjusted_
            frame["unadjusted_hr"] = u.hazard_ratios_.reindex(covariates)
            frame["unadjusted_ci_low"] = u.confidence_intervals_["ci_low"].reindex(covariates)
            frame["unadjusted_ci_high"] = u.confidence_intervals_["ci_high"].reindex(covariates)
        return frame

    def contrast(self, numerator: str, denominator: str) -> dict:
        """Ratio of two hazard ratios (e.g. resolved against unresolved) with a delta-method interval."""
        self._check_fitted()
        for c in (numerator, denominator):
            if c not in self.columns_[1:]:
                raise KeyError(f"no covariate {c!r}; the model has {self.columns_[1:]}")
        missing = [c for c in (numerator, denominator) if c in self.not_estimable_]
        if missing:
            nan = float("nan")
            return {"ratio": nan, "ci_low": nan, "ci_high": nan, "p_value": nan, "log_ratio": nan, "se": nan,
                    "not_estimable": "; ".join(f"{c}: {self.not_estimable_[c]}" for c in missing)}
        d = self.params_[numerator] - self.params_[denominator]
        var = self.cov_.loc[numerator, numerator] + self.cov_.loc[denominator, denominator]
        var -= 2 * self.cov_.loc[numerator, denominator]
        se = float(np.sqrt(var))
        z = stats.norm.ppf(1 - self.alpha / 2)
        return {
            "ratio": float(np.exp(d)),
            "ci_low": float(np.exp(d - z * se)),
            "ci_high": float(np.exp(d + z * se)),
            "p_value": float(2 * stats.norm.sf(abs(d) / se)),
            "log_ratio": float(d),
            "se": se,
        }

    # ------------------------------------------------------------------ predictions

    def _rows(self, covariates: pd.DataFrame) -> pd.DataFrame:
        frame = pd.DataFrame(covariates).copy()
        for name, column in self.count_terms_.items():
            if name not in frame and column not in frame:
                frame[name] = 0
        if self.engagement and "engagement" not in frame:
            ref = self.reference_["engagement"]
            frame["engagement"] = next(k for k, label in self.engagement_levels_.items() if label == ref)
        if self._window_experiences() and "experiences" not in frame:
            ref = self.reference_["experiences"]
            frame["experiences"] = next(k for k, label in self.experience_levels_.items() if label == ref)
        if "segment" not in frame:
            frame["segment"] = self.reference_["segment"]
        unknown = set(frame["segment"].astype(str)) - set(self.segments_)
        if unknown:
            raise ValueError(f"unknown segment(s) {sorted(unknown)}; the model knows {self.segments_}")
        if "tenure_band" not in frame:
            if "tenure_days" in frame:
                frame["tenure_band"] = _panel.tenure_band_of(frame["tenure_days"].to_numpy(), self.tenure_bands)
            else:
                frame["tenure_band"] = self.reference_["tenure_band"]
        unknown = set(frame["tenure_band"].astype(str)) - set(self.tenure_labels_)
        if unknown:
            raise ValueError(f"tenure band(s) {sorted(unknown)} had no exposure in the data; known: {self.tenure_labels_}")
        return frame

    def predict_hazard(self, covariates: pd.DataFrame) -> pd.Series:
        """Daily churn hazard for rows of covariates.

        Columns: the count terms (``unresolved``, ``resolved`` or ``unresolved[delivery]``…,
        default 0), ``segment`` (default the reference), ``tenure_band`` or ``tenure_days``
        (default the reference band), ``engagement`` (experience-rate band index, default the
        reference band); with ``window_experiences``, ``experiences`` (band index of the trailing
        count of experiences, default the reference band).
        """
        self._check_fitted()
        frame = self._rows(covariates)
        X = self._design(frame)
        return pd.Series(np.exp(X.to_numpy() @ self.params_.to_numpy()), index=frame.index, name="daily_hazard")

    def predict_survival(self, covariates: pd.DataFrame, days) -> pd.DataFrame:
        """Probability of still being a customer after each of ``days`` (index) for each row (columns).

        Counts are held fixed. If a row gives ``tenure_days`` (and no ``tenure_band``), the
        tenure band moves on as the days pass; otherwise the band is held fixed too.
        """
        self._check_fitted()
        frame = self._rows(covariates)
        t = np.atleast_1d(np.asarray(days, dtype=float))
        if np.any(t < 0):
            raise ValueError("days must be >= 0")
        given = pd.DataFrame(covariates)
        moving = "tenure_days" in given and "tenure_band" not in given
        if not moving:
            cum = np.outer(t, self.predict_hazard(frame).to_numpy())
        else:
            t0 = frame["tenure_days"].to_numpy(dtype=float)
            edges = np.append(np.asarray(_panel._check_bands(self.tenure_bands), dtype=float), np.inf)
            cum = np.zeros((len(t), len(frame)))
            known = self.tenure_labels_[0]
            for lo, hi, label in zip(edges[:-1], edges[1:], _panel.tenure_labels(self.tenure_bands)):
                # a band with no exposure in the data takes the hazard of the last band before it
                known = label if label in self.tenure_labels_ else known
                h = self.predict_hazard(frame.assign(tenure_band=known)).to_numpy()
                overlap = np.clip(np.minimum(t0[None, :] + t[:, None], hi) - np.maximum(t0[None, :], lo), 0, None)
                cum += overlap * h[None, :]
        out = pd.DataFrame(np.exp(-cum), index=pd.Index(t, name="days"), columns=frame.index)
        return out

    def __repr__(self) -> str:
        state = f"{self.n_events_:,} events" if hasattr(self, "params_") else "not fitted"
        return f"ChurnModel(window_days={self.window_days}, resolution_days={self.resolution_days}, count_cap={self.count_cap}; {state})"


def _log_fit(model: ChurnModel, data, *, customers) -> None:
    """One INFO line "churn model fitted" per fit, attributed to the fit's caller (``funcName``);
    ``record.churn_fit`` holds the facts a counter filters on (as of, the data's as of, sample)."""
    facts = {
        "as_of": str(model.as_of_), "data_as_of": str(data.as_of), "sample": customers is not None,
        "events": int(model.n_events_), "engagement": bool(model.engagement),
    }
    who = "all customers" if customers is None else "a sample of customers"
    _log.info("churn model fitted: %s events, %s, as of %s", f"{model.n_events_:,}", who, facts["as_of"],
              extra={"churn_fit": facts}, stacklevel=3)

