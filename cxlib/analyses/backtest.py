"""The honest validation of the risk list in time: fitted on the past, scored on what followed.

:func:`backtest` evaluates at a day ``e`` (``as_of``; default the data's ``as_of`` minus
``horizon_days``, the latest day whose next period is known): the risk model is fitted at
``e`` (its training labels end at or before ``e``, :mod:`cxlib.models.risk`'s split rule) and
the survival baseline on the person-time before ``e``; both score the customers active at
``e`` against the churn that followed in ``(e, e + horizon_days]``, next to "most recent
unresolved bad experience first". No period serves both for training and for scoring: the
figures are what the list would have achieved going forward.

**Why this analysis fits models.** Every other analysis takes a fitted model and never fits
one. A backtest cannot: the models it judges must be fitted *at the past day* ``e``, never on
the data after it, which is the point of the test. So it takes *estimators*, unfitted settings
(``RiskModel(...)``, ``ChurnModel(...)``), copies them unfitted (:func:`sklearn.base.clone`, or
the estimator's ``get_params`` where it is not a scikit-learn estimator), and fits the copies
at ``e``; the estimators passed in stay unfitted, and a fitted one is refused.

The scores of the three methods (:attr:`Backtest.scores`) give :func:`score_table` (ROC AUC,
average precision, Brier score, churners caught in the top 5% and 10%), :func:`calibration` and
:func:`capture_curve`; numbers only, their words are :mod:`cxlib.present.risk`'s.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxlib.config import HORIZON_DAYS, WINDOW_DAYS
from cxlib.exceptions import DataError
from cxlib.features.risk import day_at_risk, snapshot

#: Methods compared by :func:`backtest`, in the order of its tables.
METHODS = ("model", "survival model", "most recent unresolved first")
#: The method that ranks without predicting a probability.
RANKING_METHOD = METHODS[2]
#: The methods whose scores are probabilities.
PROBABILITY_METHODS = METHODS[:2]
TOP_SHARES = (0.05, 0.10)


def recency_score(frame: pd.DataFrame, *, window_days: int = WINDOW_DAYS) -> np.ndarray:
    """"Most recent unresolved bad experience first": higher for a more recent one, 0 with none."""
    days = frame["days_since_unresolved"].to_numpy(dtype=float)
    return np.clip(int(window_days) + 1 - days, 0.0, None)


def top_capture(y, score, share: float, *, seed: int = 0) -> float:
    """Share of the churners among the top ``share`` of the list (ties broken at random, reproducibly)."""
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=float)
    if not y.any():
        return float("nan")
    n_top = int(math.ceil(share * len(y)))
    tie = np.random.default_rng(seed).random(len(y))
    order = np.lexsort((tie, -score))
    return float(y[order[:n_top]].sum() / y.sum())


def score_table(scores: pd.DataFrame, *, label: str = "churned", methods=METHODS) -> pd.DataFrame:
    """One row per method: ROC AUC, average precision, Brier score, top-5%/10% capture.

    ``scores`` holds the label and one column of scores per method. Brier score and mean
    probability are given for methods whose scores are probabilities (not for a pure ranking
    such as recency).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = scores[label].to_numpy(dtype=bool)
    rows = []
    for m in methods:
        s = scores[m].to_numpy(dtype=float)
        probability = m != RANKING_METHOD and bool(np.all((s >= 0) & (s <= 1)))
        rows.append(
            {
                "method": m,
                "customers": len(y),
                "churners": int(y.sum()),
                "roc_auc": roc_auc_score(y, s),
                "average_precision": average_precision_score(y, s),
                "brier": brier_score_loss(y, s) if probability else np.nan,
                "mean_probability": float(s.mean()) if probability else np.nan,
                **{f"top_{round(100 * q)}pct_capture": top_capture(y, s, q) for q in TOP_SHARES},
            }
        )
    return pd.DataFrame(rows)


def calibration(
    scores: pd.DataFrame, *, label: str = "churned", methods=PROBABILITY_METHODS, bins: int = 10
) -> pd.DataFrame:
    """Predicted against observed churn in quantile bins of each method's probability.

    Columns: ``method, bin, predicted`` (mean probability), ``observed`` (churn share),
    ``ci_low, ci_high`` (95% Wilson), ``customers``.
    """
    from cxlib.features.metrics import wilson_interval

    y = scores[label].to_numpy(dtype=bool)
    rows = []
    for m in methods:
        s = scores[m].to_numpy(dtype=float)
        ranks = pd.Series(s).rank(method="first").to_numpy()
        b = np.minimum((ranks - 1) * bins // len(s), bins - 1).astype(int)
        frame = pd.DataFrame({"bin": b, "p": s, "y": y}).groupby("bin").agg(
            predicted=("p", "mean"), churners=("y", "sum"), customers=("y", "size")
        )
        low, high = wilson_interval(frame["churners"], frame["customers"])
        rows.append(
            pd.DataFrame(
                {
                    "method": m,
                    "bin": frame.index.to_numpy() + 1,
                    "predicted": frame["predicted"].to_numpy(),
                    "observed": (frame["churners"] / frame["customers"]).to_numpy(),
                    "ci_low": low,
                    "ci_high": high,
                    "customers": frame["customers"].to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def capture_curve(scores: pd.DataFrame, *, label: str = "churned", methods=METHODS, points: int = 100) -> pd.DataFrame:
    """Share of the churners caught against the share of the list contacted, per method."""
    y = scores[label].to_numpy(dtype=bool)
    shares = np.linspace(0, 1, points + 1)[1:]
    rows = []
    for m in methods:
        s = scores[m].to_numpy(dtype=float)
        tie = np.random.default_rng(0).random(len(y))
        caught = np.cumsum(y[np.lexsort((tie, -s))]) / max(int(y.sum()), 1)
        idx = np.ceil(shares * len(y)).astype(int) - 1
        rows.append(pd.DataFrame({"method": m, "share_of_list": shares, "share_of_churners": caught[idx]}))
    return pd.concat(rows, ignore_index=True)


def survival_probability(churn_model, frame: pd.DataFrame, *, horizon_days: int = HORIZON_DAYS) -> np.ndarray:
    """A fitted survival model's probability of churn within ``horizon_days`` for rows of the risk features.

    Segment and tenure as at the day (tenure moves on through its bands); the trailing
    counts and (a model adjusted for engagement, when ``frame`` has ``engagement``) the
    experience-rate band at the day and (with ``window_experiences``, when ``frame`` has
    ``experience_band``: :func:`cxlib.features.panel.window_experience_bands`) the band of the
    window's count of experiences are held fixed over the horizon (an approximation).
    """
    cov = pd.DataFrame(
        {
            "segment": frame["segment"].astype(str).to_numpy(),
            "tenure_days": frame["tenure_days"].to_numpy(dtype=float),
            "unresolved": frame["unresolved"].to_numpy(),
            "resolved": frame["resolved"].to_numpy(),
        }
    )
    known = set(churn_model.segments_)
    unknown = ~cov["segment"].isin(known)
    cov.loc[unknown, "segment"] = churn_model.reference_["segment"]
    levels = getattr(churn_model, "engagement_levels_", None)
    if getattr(churn_model, "engagement", False) and levels and "engagement" in frame:
        # the band at the day (held over the horizon); a band the model has no term for takes the reference
        ref = next(k for k, label in levels.items() if label == churn_model.reference_["engagement"])
        band = pd.to_numeric(pd.Series(frame["engagement"].to_numpy()), errors="coerce")
        cov["engagement"] = [int(b) if pd.notna(b) and int(b) in levels else ref for b in band]
    experience_levels = getattr(churn_model, "experience_levels_", None)
    if churn_model._window_experiences() and experience_levels and "experience_band" in frame:
        # the band of the window's count of experiences at the day (held over the horizon), as the model's
        ref = next(k for k, label in experience_levels.items() if label == churn_model.reference_["experiences"])
        band = pd.to_numeric(pd.Series(frame["experience_band"].to_numpy()), errors="coerce").fillna(0)
        cov["experiences"] = [int(b) if int(b) in experience_levels else ref for b in band]
    surv = churn_model.predict_survival(cov, [float(horizon_days)])
    return 1.0 - surv.iloc[0].to_numpy(dtype=float)


class Backtest:
    """A risk model and its baselines scored at one past day against the churn that followed.

    Built by :func:`backtest`. ``scores``: one row per customer active at ``as_of`` with
    ``churned`` (in the next ``horizon_days``) and a column per method; ``features``: the
    snapshot at that day (:func:`cxlib.features.risk.snapshot`: features and churn that
    followed), which a RiskModel fitted later learns from again without computing it
    (``fit(data, reuse=[check.features])``); ``model`` and ``baseline``: the RiskModel and
    ChurnModel fitted at the day.
    """

    def __init__(self, model, baseline, features_frame, scores, as_of, horizon_days):
        self.model = model
        self.baseline = baseline
        self.features = features_frame
        self.scores = scores
        self.as_of = as_of
        self.horizon_days = horizon_days

    @property
    def metrics(self) -> pd.DataFrame:
        """:func:`score_table` of the three methods at the day."""
        return score_table(self.scores)

    def calibration(self, bins: int = 10) -> pd.DataFrame:
        return calibration(self.scores, bins=bins)

    def capture_curve(self) -> pd.DataFrame:
        return capture_curve(self.scores)

    def importance(self, *, n_repeats: int = 3) -> pd.DataFrame:
        """Permutation importance by group at the day (held-out period)."""
        return self.model.group_importance(self.features, self.scores["churned"], n_repeats=n_repeats)

    def __repr__(self) -> str:
        return (
            f"Backtest(as_of={self.as_of.date()}, horizon_days={self.horizon_days}, "
            f"customers={len(self.scores):,})"
        )


def unfitted_copy(estimator, *, name: str):
    """A fresh, unfitted copy of ``estimator`` (its settings only); a fitted one is refused.

    :func:`sklearn.base.clone` for a scikit-learn estimator, ``type(e)(**e.get_params())``
    otherwise (the churn model keeps scikit-learn's settings convention without deriving from it).
    """
    from sklearn.base import BaseEstimator, clone

    if estimator is None:
        raise TypeError(f"backtest needs {name}=, an unfitted estimator whose settings it fits at the past day")
    if any(k.endswith("_") and not k.startswith("_") for k in vars(estimator)):
        raise ValueError(
            f"{name} is already fitted: the backtest fits its own copy at the past day, so pass the unfitted "
            f"settings ({type(estimator).__name__}(...)) instead"
        )
    if isinstance(estimator, BaseEstimator):
        return clone(estimator)
    return type(estimator)(**estimator.get_params())


def backtest(data, *, estimator, baseline, as_of=None, progress: bool = False) -> Backtest:
    """Fit copies of ``estimator`` and ``baseline`` at the past day ``as_of``, score the churn that followed.

    ``estimator``: an unfitted :class:`cxlib.models.risk.RiskModel` (its settings); ``baseline``:
    an unfitted :class:`cxlib.models.churn.ChurnModel`, fitted on the person-time before
    ``as_of``. ``as_of`` defaults to the data's ``as_of`` minus the estimator's ``horizon_days``
    (the latest day whose next period is known). Fitting here is this analysis's job (module
    docstring): copies are fitted, the arguments stay as they were.
    """
    from cxlib.features.panel import engagement_bands, window_experience_bands

    model = unfitted_copy(estimator, name="estimator")
    survival = unfitted_copy(baseline, name="baseline")
    h = int(model.horizon_days)
    e = day_at_risk(pd.Timestamp(data.as_of) - pd.Timedelta(days=h) if as_of is None else as_of)
    model.fit(data, as_of=e, progress=progress)
    test = snapshot(data, as_of=e, horizon_days=h, touchpoints=model.touchpoints_, **model.feature_settings())
    if not test["churned"].any():
        raise DataError(f"no customer active at {e.date()} churned in the next {h} days: nothing to evaluate")
    survival.fit(data, as_of=e)
    covariates = test
    if survival.engagement:  # each customer's experience-rate band at the day, as the model adjusted for it
        bands = engagement_bands(data, as_of=e)
        covariates = covariates.assign(engagement=bands.reindex(test["customer_id"].astype(str)).to_numpy())
    if survival._window_experiences():  # ... and the band of the window's count of experiences
        counts = window_experience_bands(data, as_of=e, window_days=survival.window_days)
        covariates = covariates.assign(
            experience_band=counts.reindex(test["customer_id"].astype(str)).fillna(0).to_numpy(dtype=int))
    scores = pd.DataFrame({"customer_id": test["customer_id"].to_numpy(), "churned": test["churned"].to_numpy()})
    scores["model"] = model.predict_risk(test).to_numpy()
    scores["survival model"] = survival_probability(survival, covariates, horizon_days=h)
    scores["most recent unresolved first"] = recency_score(test, window_days=model.window_days)
    return Backtest(model, survival, test, scores, e, h)
