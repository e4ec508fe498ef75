"""Proactive churn risk: who is at risk now, and why — a scikit-learn estimator on snapshot features.

Customer service reacts after a problem; customer experience acts before the customer
leaves. :class:`RiskModel` turns the bad experiences of the data into the probability that a
customer active on a day leaves within ``horizon_days``, ranks the customers by it and names,
for each, the group of features that raises it most. Numbers only: the features are
:mod:`cxlib.features.risk`'s, the honest validation in time is
:func:`cxlib.analyses.backtest.backtest`, the reasons in words are :mod:`cxlib.present.risk`'s.

The split rule
--------------
``RiskModel(...).fit(data, as_of=c)`` learns from ``snapshots`` training snapshots at
``t_k = day(c) - horizon_days - k * snapshot_step_days`` (k = 0, 1, ...): features at
``t_k`` and, as label, churn in ``(t_k, t_k + horizon_days]``. Every label window ends at or
before ``day(c)``, so **nothing the model learns comes from on or after its** ``as_of``: the
fitted model is the same whether or not the data holds rows after ``c`` (tested). The list of
today, :meth:`RiskModel.rank`, is the model fitted at the data's ``as_of``.

The model
---------
A scikit-learn :class:`~sklearn.pipeline.Pipeline`: the segment encoded for
:class:`~sklearn.ensemble.HistGradientBoostingClassifier`, boosted without interactions
between features (an additive model of the log-odds, as the hazard model is additive in the
log-hazard: each feature's effect is learned on its own, with far less noise) and with the
unresolved counts constrained to raise the risk; its probabilities are calibrated (Platt's
sigmoid by default) over ``calibration_folds`` (2) folds that keep each customer's snapshots
together (:class:`~sklearn.calibration.CalibratedClassifierCV`): each fold's booster learns
from the other fold and is calibrated on its own, and the probability averages the two. Two
folds instead of three halve the boosting (each booster learns from half the rows, not two
thirds, and there are two); on 100,000 simulated customers the backtest's ROC AUC, top-10%
capture, Brier score and calibration bins stayed within noise of three folds
(``benchmarks/results/risk.md``).

**Training on a sample** (:meth:`RiskModel.training_sample`). Past ``max_train_rows``
training rows the model learns from a case-control sample by a fixed rule: *every churner*
is kept; of the non-churners each stratum (training snapshot × segment) keeps the same
share ``f`` — enough to fill ``max_train_rows``, and at least ``negatives_per_churner`` (2)
non-churners per churner — chosen at random (seeded by ``random_state``), and each kept
non-churner weighs ``1/f`` (its stratum's rows over its kept rows) in the boosting and in the
calibration. The weighted sample has the full frame's churn rate in every stratum, so
the probabilities stay calibrated (tested); the ranking loses little because the churners,
the rare class that carries the information, are all there (two non-churners per churner
rank as well as four on 100,000 simulated customers, ``benchmarks/results/risk.md``).

Why
---
:meth:`RiskModel.group_importance` permutes a group of features together (a touchpoint's
bad experiences, the service contacts, tenure...) and measures the drop in ROC AUC;
removing a touchpoint's bad experiences also removes them from the totals, so a touchpoint
is credited with everything its problems contribute. :meth:`RiskModel.explain` gives each
customer the group whose removal (set to "none" or to a reference value) lowers the
predicted probability most, with the facts its words need
(:func:`cxlib.present.risk.reason_text`: "2 unresolved delivery problems in the last 30 days").
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.exceptions import DataError, NotFittedError
from cxlib.features.risk import (
    ANSWER_COLUMNS,
    CONTACT_COLUMNS,
    COUNT_COLUMNS,
    DAY_COLUMNS,
    RECENT_DAYS,
    TOUCHPOINT_GROUP,
    day_at_risk,
    feature_layout,
    features,
    snapshots,
    touchpoint_buckets,
    touchpoint_column,
    touchpoints_with_bad,
)
from cxlib.features.sql import check_days
from cxlib.models.risk_scores import AdditiveScores

#: A group's removal must lower the probability by more than this to be a customer's reason.
MIN_EFFECT = 0.001
#: The groups a team can act on: a customer's reason is one of them whenever one raises the risk.
ACTIONABLE_GROUPS = ("service contacts", "CSAT and NPS")
#: The facts of a touchpoint group that :meth:`RiskModel.explain` hands to the words.
REASON_COUNTS = ("unresolved", "unresolved_recent", "resolved")
#: The feature columns every explanation carries, for the words of the other groups.
REASON_FACTS = ("contacts", "unresolved_contacts", "last_csat", "last_nps", "tenure_days", "segment",
                "monthly_value", "experiences")


def is_actionable(group: str) -> bool:
    """A group a team can act on: a touchpoint's bad experiences, service contacts, CSAT and NPS."""
    return group.startswith(TOUCHPOINT_GROUP) or group in ACTIONABLE_GROUPS


class RiskModel(BaseEstimator):
    """Probability that a customer active on a day churns within ``horizon_days``, and why.

    Parameters
    ----------
    horizon_days:
        The list looks this many days ahead.
    window_days, resolution_days:
        design.md's trailing window and resolution rule for the bad-experience counts.
    recent_days:
        The "recent" counts look back this many days.
    snapshots, snapshot_step_days:
        Training snapshots at ``as_of - horizon_days - k * snapshot_step_days`` (see the
        module docstring's split rule); more snapshots, more examples of churn.
    calibration:
        ``"sigmoid"``, ``"isotonic"`` or None: how the probabilities are calibrated
        (isotonic regression overfits the few customers at the top of the list).
    calibration_folds:
        Folds of the calibration (customers kept together): each fold's booster learns from
        the others and is calibrated on it; the probability averages the folds' boosters.
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization:
        Settings of the HistGradientBoostingClassifier (early stopping on).
    random_state:
        Seed of the boosting's validation split, of the calibration folds and of the sample.
    max_train_rows, negatives_per_churner:
        Past ``max_train_rows`` training rows, learn from every churner and a weighted
        stratified sample of the non-churners (module docstring); None: every row.
    n_threads:
        OpenMP threads of the boosting (None: every core). The default 1: the trees are tiny
        (4 leaves), so starting threads costs more than it saves, and on a machine busy
        with other work more threads are much slower.

    Attributes (after ``fit``)
    --------------------------
    pipeline_: the fitted scikit-learn Pipeline.
    feature_names_, feature_groups_ (group -> its columns), touchpoints_.
    as_of_: the day at risk of the fit's ``as_of``; training_cutoffs_ and label_windows_
        (start, end] of the training snapshots; every end <= as_of_.
    n_train_ (rows learned from), n_rows_train_ (rows before sampling), n_churners_train_,
        churn_rate_train_ (weighted: the full frame's), sample_fraction_ (share of the
        non-churners kept; 1 without sampling).
    reference_: the values a group is reset to when explaining a customer's risk.
    """

    def __init__(
        self,
        horizon_days: int = HORIZON_DAYS,
        window_days: int = WINDOW_DAYS,
        resolution_days: int = RESOLUTION_DAYS,
        recent_days: int = RECENT_DAYS,
        snapshots: int = 8,
        snapshot_step_days: int = 30,
        calibration: str | None = "sigmoid",
        calibration_folds: int = 2,
        learning_rate: float = 0.1,
        max_iter: int = 300,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        random_state: int = 0,
        n_threads: int | None = 1,
        max_train_rows: int | None = 100_000,
        negatives_per_churner: float = 2.0,
    ):
        self.horizon_days = horizon_days
        self.window_days = window_days
        self.resolution_days = resolution_days
        self.recent_days = recent_days
        self.snapshots = snapshots
        self.snapshot_step_days = snapshot_step_days
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.n_threads = n_threads
        self.max_train_rows = max_train_rows
        self.negatives_per_churner = negatives_per_churner

    # ------------------------------------------------------------------ fitting

    def feature_settings(self) -> dict:
        """The settings :func:`cxlib.features.risk.features` takes from this model."""
        return {
            "window_days": self.window_days,
            "resolution_days": self.resolution_days,
            "recent_days": self.recent_days,
        }

    def training_cutoffs(self, *, as_of) -> list[pd.Timestamp]:
        """The training snapshots' days for a fit at ``as_of``, latest first."""
        d = check_days(
            horizon_days=self.horizon_days, snapshots=self.snapshots, snapshot_step_days=self.snapshot_step_days
        )
        t0 = day_at_risk(as_of) - pd.Timedelta(days=d["horizon_days"])
        return [t0 - pd.Timedelta(days=k * d["snapshot_step_days"]) for k in range(d["snapshots"])]

    def training_frame(self, data, *, as_of=None, progress: bool = False, reuse=()) -> pd.DataFrame:
        """The stacked training snapshots of a fit at ``as_of``: features, ``churned``, ``snapshot``.

        ``reuse``: snapshots already computed on the same data (:func:`cxlib.features.risk.snapshot`,
        e.g. a backtest's ``features``); one whose day, touchpoints, horizon and windows (its
        ``attrs``) are those of a training snapshot is taken instead of computing it again.
        """
        as_of = data.as_of if as_of is None else as_of
        cutoffs = self.training_cutoffs(as_of=as_of)
        touchpoints = touchpoints_with_bad(data, as_of=cutoffs[0])
        first = data.query("SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
        first = None if pd.isna(first) else first
        days = [t for t in cutoffs if first is not None and t > pd.Timestamp(first)]
        known = {t: self._reusable(reuse, t, touchpoints) for t in days}
        todo = [t for t in days if known[t] is None]
        computed = {}
        if todo:  # one query for every snapshot not at hand
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(todo), desc="risk: training snapshots", unit="snapshot")
            frames = snapshots(data, days=todo, horizon_days=self.horizon_days, touchpoints=touchpoints,
                               **self.feature_settings())
            computed = dict(zip(todo, frames))
            if bar is not None:
                bar.update(len(todo))
                bar.close()
        frames = []
        for t in days:
            if known[t] is not None:
                frames.append(known[t].assign(snapshot=t))  # a copy: the frame reused stays as it was
            else:
                computed[t]["snapshot"] = t
                frames.append(computed[t])
        if not frames:
            raise DataError(
                f"no customer was active at {cutoffs[0].date()} ({self.horizon_days} days before "
                f"{day_at_risk(as_of).date()}): the data is too short to train on"
            )
        frame = pd.concat(frames, ignore_index=True)
        frame.attrs.update(touchpoints=touchpoints, cutoffs=days)
        return frame

    def _reusable(self, frames, day, touchpoints) -> pd.DataFrame | None:
        """The first of ``frames`` that is this model's snapshot at ``day`` (by its ``attrs``), else None."""
        want = {"as_of": day, "horizon_days": int(self.horizon_days), "touchpoints": list(touchpoints),
                **{k: int(v) for k, v in self.feature_settings().items()}}
        for frame in frames:
            if all(frame.attrs.get(k) == v for k, v in want.items()):
                return frame
        return None

    def training_sample(self, train: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``train`` to learn from and their weights (module docstring's rule).

        Every churner (weight 1); of the non-churners, in each snapshot × segment stratum,
        ``round(f · n)`` of its ``n`` rows at random, weighing ``n / kept`` each. Without
        ``max_train_rows``, or when the frame is not larger, every row with weight 1.
        """
        y = train["churned"].to_numpy(dtype=bool)
        n = len(y)
        every = np.arange(n), np.ones(n)
        if self.max_train_rows is None or n <= int(self.max_train_rows):
            return every
        churners = int(y.sum())
        others = n - churners
        keep = max(int(self.max_train_rows) - churners, math.ceil(float(self.negatives_per_churner) * churners))
        if others == 0 or keep >= others:
            return every
        f = keep / others
        rng = np.random.default_rng([int(self.random_state), 7])
        snap, seg = pd.factorize(train["snapshot"])[0], pd.factorize(train["segment"])[0]
        strata = pd.factorize(snap.astype(np.int64) * (int(seg.max()) + 1) + seg)[0]  # one code per snapshot × segment
        neg = np.flatnonzero(~y)
        neg = neg[rng.permutation(len(neg))]  # random order within every stratum
        s = strata[neg]
        order = np.argsort(s, kind="stable")
        neg, s = neg[order], s[order]
        size = np.bincount(s)
        start = np.concatenate([[0], np.cumsum(size)[:-1]])
        rank = np.arange(len(neg)) - start[s]
        kept_n = np.maximum(1, np.rint(f * size)).astype(int)
        chosen = rank < kept_n[s]
        rows = np.concatenate([np.flatnonzero(y), neg[chosen]])
        weights = np.concatenate([np.ones(churners), (size / kept_n)[s[chosen]]])
        order = np.argsort(rows, kind="stable")
        return rows[order], weights[order]

    def fit(self, data, *, as_of=None, progress: bool = False, reuse=()) -> RiskModel:
        """Learn from snapshots whose churn windows end at or before ``as_of`` (default: the data's).

        ``progress``: tqdm bars for the snapshots and the boosting (JupyterLab). ``reuse``:
        snapshots of the same data already computed (:meth:`training_frame`), e.g. the
        backtest's at ``as_of - horizon_days``, the latest training snapshot of the list of today.
        """
        as_of = data.as_of if as_of is None else as_of
        if day_at_risk(as_of) > pd.Timestamp(data.as_of):
            raise ValueError(f"as_of {as_of} is after the data's as_of {data.as_of}")
        full = self.training_frame(data, as_of=as_of, progress=progress, reuse=reuse)
        rows, weights = self.training_sample(full)
        y_full = full["churned"].to_numpy(dtype=bool)
        train = full.iloc[rows].reset_index(drop=True) if len(rows) < len(full) else full
        train.attrs.update(full.attrs)
        y = train["churned"].to_numpy()
        if y.sum() < 2 or (~y).sum() < 2:
            raise DataError(
                f"{int(y.sum())} churner(s) among {len(y):,} training rows: too few of each class to learn from"
            )
        touchpoints = train.attrs["touchpoints"]
        names, groups = feature_layout(touchpoints)
        self.touchpoints_ = list(touchpoints)
        self.feature_names_ = names
        self.feature_groups_ = groups
        self.as_of_ = day_at_risk(as_of)
        self.training_cutoffs_ = list(train.attrs["cutoffs"])
        h = pd.Timedelta(days=int(self.horizon_days))
        self.label_windows_ = [(t, t + h) for t in self.training_cutoffs_]
        self.pipeline_ = self._pipeline(train)
        fit_params = {} if len(rows) == len(full) else {"classifier__sample_weight": weights}
        with self._threads():
            if progress:
                from tqdm.auto import tqdm

                with tqdm(total=1, desc=f"risk: boosting on {len(train):,} rows", unit="fit") as bar:
                    self.pipeline_.fit(self._matrix(train), y, **fit_params)
                    bar.update(1)
            else:
                self.pipeline_.fit(self._matrix(train), y, **fit_params)
        self.n_train_ = int(len(train))
        self.n_rows_train_ = int(len(full))
        self.n_churners_train_ = int(y.sum())
        self.churn_rate_train_ = float(y_full.mean())
        others = int((~y_full).sum())
        self.sample_fraction_ = float((~y).sum() / others) if others else 1.0
        self.segments_ = sorted(full["segment"].unique().tolist())
        self.reference_ = self._reference(full)
        return self

    def _pipeline(self, train: pd.DataFrame):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import GroupKFold
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OrdinalEncoder

        names = self.feature_names_
        encode = ColumnTransformer(
            [
                (
                    "segment",
                    OrdinalEncoder(
                        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
                    ),
                    ["segment"],
                )
            ],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        increasing = {n: 1 for n in names if n.startswith(("unresolved", "unresolved_recent"))}
        booster = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features=["segment"],
            monotonic_cst=increasing,
            interaction_cst="no_interactions",
            early_stopping=True,
            random_state=self.random_state,
        )
        if self.calibration is None:
            return Pipeline([("encode", encode), ("classifier", booster)])
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'isotonic', 'sigmoid' or None, not {self.calibration!r}")
        # Folds keep each customer's snapshots together, so calibration is judged on customers unseen.
        splits = list(
            GroupKFold(n_splits=int(self.calibration_folds), shuffle=True, random_state=self.random_state).split(
                train, groups=pd.factorize(train["customer_id"])[0]  # integer codes: isin on text is slow
            )
        )
        calibrated = CalibratedClassifierCV(booster, method=self.calibration, cv=splits, ensemble=True)
        return Pipeline([("encode", encode), ("classifier", calibrated)])

    def _reference(self, train: pd.DataFrame) -> dict:
        """What "without this group" means for :meth:`explain`."""
        rate = train.groupby("segment")["churned"].mean()
        return {
            "segment": str(rate.idxmin()),
            "tenure_days": float(train["tenure_days"].median()),
            "monthly_value": float(train["monthly_value"].median()),
            "experiences": float(train["experiences"].median()),
        }

    def _threads(self):
        from contextlib import nullcontext

        if self.n_threads is None:
            return nullcontext()
        from threadpoolctl import threadpool_limits

        return threadpool_limits(int(self.n_threads))

    def _check_fitted(self) -> None:
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("this RiskModel is not fitted yet: call fit(data) first")

    # ------------------------------------------------------------------ predictions

    def features(self, data, *, as_of=None) -> pd.DataFrame:
        """:func:`cxlib.features.risk.features` at ``as_of`` (default: the data's) with the fitted touchpoints."""
        self._check_fitted()
        return features(data, as_of=as_of, touchpoints=self.touchpoints_, **self.feature_settings())

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in frame.columns]
        if missing:
            raise ValueError(f"the features lack columns {missing[:5]}{'...' if len(missing) > 5 else ''}")
        # "no answer" as -1: a column without any answer would otherwise be all missing
        return frame[self.feature_names_].fillna({c: -1.0 for c in ANSWER_COLUMNS})

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Probabilities (n, 2) of staying / churning within the horizon for rows of :meth:`features`."""
        self._check_fitted()
        with self._threads():
            return self.pipeline_.predict_proba(self._matrix(frame))

    def predict_risk(self, frame: pd.DataFrame) -> pd.Series:
        """The probability of churn within ``horizon_days``, indexed like ``frame``."""
        return pd.Series(self.predict_proba(frame)[:, 1], index=frame.index, name="probability")

    def _scorer(self, frame: pd.DataFrame) -> AdditiveScores:
        """The additive scores of ``frame``'s rows: base and with columns changed (:class:`AdditiveScores`)."""
        self._check_fitted()
        encode, classifier = self.pipeline_[0], self.pipeline_[-1]
        with self._threads():
            encoded = encode.transform(self._matrix(frame))
            ref_segment = encode.transform(
                self._matrix(frame.iloc[:1].assign(segment=self.reference_["segment"]))
            )["segment"].iloc[0] if len(frame) else np.nan
        return AdditiveScores(classifier, encoded, frame, ref_segment=ref_segment, threads=self._threads)

    def _reset(self, scores: AdditiveScores, group: str) -> dict:
        """The encoded columns of ``group`` set to "none" or the reference (totals recomputed)."""
        n, none_days = scores.n, int(self.window_days) + 1
        out = {}
        for c in self.feature_groups_[group]:
            if c.startswith(COUNT_COLUMNS) or c in CONTACT_COLUMNS:
                out[c] = np.zeros(n)
            elif c.startswith(DAY_COLUMNS):
                out[c] = np.full(n, float(none_days))
            elif c in ANSWER_COLUMNS:
                out[c] = np.full(n, -1.0)  # "no answer", as _matrix encodes it
            elif c == "segment":
                out[c] = np.full(n, scores.ref_segment)
            else:
                out[c] = np.full(n, float(self.reference_[c]))
        if group.startswith(TOUCHPOINT_GROUP):
            out.update(scores.totals_with(group[len(TOUCHPOINT_GROUP) :], None, none_days=none_days))
        return out

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """For each row and group: predicted probability minus that with the group reset (same index).

        A group is reset to "none" (no bad experiences, no contacts, no answer) or to the
        reference value; a touchpoint's reset also takes its counts out of the totals. The
        boosting has no interactions between features, so each booster's log-odds is a sum of
        one function per column: a reset changes the log-odds by the change of the reset
        columns' functions, read off once per distinct value of a column
        (:class:`AdditiveScores`) instead of scoring every row again per group.
        """
        return self._contributions(self._scorer(frame), frame.index)

    def _contributions(self, scores: AdditiveScores, index) -> pd.DataFrame:
        p = scores.probability()
        out = {g: p - scores.probability(self._reset(scores, g)) for g in self.feature_groups_}
        return pd.DataFrame(out, index=index)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The main reason of each row's risk and the facts behind it (same index as ``frame``).

        ``reason_group``: the group whose removal lowers the probability most among those a
        team can act on (:func:`is_actionable`); when none raises it, the largest of the others
        (tenure, segment, value, activity); empty when no group lowers it by more than
        :data:`MIN_EFFECT`. ``reason_effect``: that drop in probability.
        ``reason_unresolved``, ``reason_unresolved_recent``, ``reason_resolved``: the counts of
        the reason's touchpoint (0 for another group); and the columns of :data:`REASON_FACTS`.
        """
        self._check_fitted()
        return self._explain(frame)

    def _explain(self, frame: pd.DataFrame, scores: AdditiveScores | None = None) -> pd.DataFrame:
        """:meth:`explain`, from the scores of ``frame``'s rows when already at hand."""
        n = len(frame)
        if n:
            contrib = self._contributions(self._scorer(frame) if scores is None else scores, frame.index)
        else:
            contrib = pd.DataFrame(columns=list(self.feature_groups_))
        values = contrib.to_numpy(dtype=float).copy()
        actionable = np.array([is_actionable(g) for g in contrib.columns], dtype=bool)
        act_best = values[:, actionable].max(axis=1) if actionable.any() and n else np.zeros(n)
        values[np.ix_(act_best > MIN_EFFECT, ~actionable)] = -np.inf  # an actionable driver wins
        best = values.argmax(axis=1) if n else np.array([], dtype=int)
        groups = np.asarray(contrib.columns, dtype=object)[best] if n else np.array([], dtype=object)
        effect = values[np.arange(n), best] if n else np.array([], dtype=float)
        driven = effect > MIN_EFFECT
        out = pd.DataFrame(
            {"reason_group": np.where(driven, groups, ""), "reason_effect": effect}, index=frame.index
        )
        for c in REASON_COUNTS:
            counts = np.zeros(n, dtype="int64")
            for tp in touchpoint_buckets(frame):
                rows = driven & (groups == TOUCHPOINT_GROUP + tp)
                counts[rows] = frame[touchpoint_column(c, tp)].to_numpy()[rows]
            out[f"reason_{c}"] = counts
        for c in REASON_FACTS:
            out[c] = frame[c].to_numpy()
        return out

    def rank(self, data, *, as_of=None, top: int | None = None) -> pd.DataFrame:
        """Customers active at ``as_of`` (default: the data's), most likely to churn first.

        Columns: ``rank, customer_id, probability, monthly_value, monthly_value_at_risk``
        (probability × monthly value), ``unresolved, resolved`` and :meth:`explain`'s reason
        and facts (:func:`cxlib.present.risk.risk_list` puts them in words). ``top`` keeps
        the first ``top`` rows (reasons are computed for those only). ``attrs``: ``as_of``
        (the day at risk), ``horizon_days``.
        """
        self._check_fitted()
        if top is not None and int(top) < 0:
            raise ValueError(f"top must be >= 0, not {top}")
        frame = self.features(data, as_of=as_of)
        scores = self._scorer(frame)  # one scoring of every row serves the ranking and the reasons
        p = scores.probability()
        order = np.lexsort((frame["customer_id"].to_numpy(), -p))
        if top is not None:
            order = order[: int(top)]
        chosen = frame.iloc[order].reset_index(drop=True)
        prob = p[order]
        why = self._explain(chosen, scores.take(order))
        out = pd.DataFrame(
            {
                "rank": np.arange(1, len(chosen) + 1),
                "customer_id": chosen["customer_id"].to_numpy(),
                "probability": prob,
                "monthly_value_at_risk": prob * chosen["monthly_value"].to_numpy(),
                "unresolved": chosen["unresolved"].to_numpy(),
                "resolved": chosen["resolved"].to_numpy(),
            }
        )
        out = pd.concat([out, why.reset_index(drop=True)], axis=1)
        out.attrs.update(as_of=day_at_risk(data.as_of if as_of is None else as_of),
                         horizon_days=int(self.horizon_days))
        return out

    def group_importance(
        self, frame: pd.DataFrame, y, *, n_repeats: int = 3, random_state: int = 0
    ) -> pd.DataFrame:
        """Permutation importance by feature group: the drop in ROC AUC when a group is shuffled.

        A group's columns are shuffled together (the same permutation of rows); shuffling a
        touchpoint's bad experiences also recomputes the totals. Columns: ``group,
        importance`` (mean drop), ``std``, ``n_features``; largest first.
        """
        from sklearn.metrics import roc_auc_score

        self._check_fitted()
        y = np.asarray(y, dtype=bool)
        if y.all() or not y.any():
            raise ValueError("permutation importance needs churners and non-churners")
        scores = self._scorer(frame)  # a shuffle changes a few columns: scored as in contributions
        base = roc_auc_score(y, scores.probability())
        rng = np.random.default_rng(random_state)
        rows = []
        for group, cols in self.feature_groups_.items():
            drops = []
            for _ in range(int(n_repeats)):
                idx = rng.permutation(len(frame))
                changes = {c: scores.column(c)[idx] for c in cols}
                if group.startswith(TOUCHPOINT_GROUP):
                    tp = group[len(TOUCHPOINT_GROUP) :]
                    changes.update(scores.totals_with(tp, idx, none_days=int(self.window_days) + 1))
                drops.append(base - roc_auc_score(y, scores.probability(changes)))
            rows.append((group, float(np.mean(drops)), float(np.std(drops)), len(cols)))
        out = pd.DataFrame(rows, columns=["group", "importance", "std", "n_features"])
        return out.sort_values("importance", ascending=False, ignore_index=True)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        state = (
            f"fitted at {self.as_of_.date()} on {self.n_train_:,} rows" if hasattr(self, "pipeline_") else "not fitted"
        )
        return f"RiskModel(horizon_days={self.horizon_days}, window_days={self.window_days}; {state})"

