"""Proactive churn risk: who is at risk now, and why — a scikit-learn model on features at a cutoff.

Customer service reacts after a problem; customer experience acts before the customer
leaves. This module turns the bad experiences of the data into a ranked list of the
customers active at a cutoff who are most likely to leave within ``horizon_days``, each
with the main reason in words, and measures honestly, in time, what such a list achieves.

Features at a cutoff (:func:`features`)
---------------------------------------
For every customer *active at the cutoff* (signed up before the cutoff's day, not churned by
the cutoff), one row built by a few GROUP BYs in the data set's engine (DuckDB, or Spark
through :mod:`cxlib.data.spark`; no per-customer Python loop):

- per touchpoint ``tp`` of bad experiences (design.md's definitions, from
  :func:`cxlib.features.definitions.bad_experiences_sql`): ``unresolved[tp]``, ``resolved[tp]`` in the
  trailing ``window_days``, the same in the last ``recent_days`` (``unresolved_recent[tp]``,
  ``resolved_recent[tp]``), ``days_since_bad[tp]`` and ``days_since_unresolved[tp]``
  (``window_days + 1`` when there is none in the window); and the same summed (minimum for
  days) over touchpoints. Bad experiences at a touchpoint the model was not trained on count
  under ``(other)``, in the totals only;
- service contacts in the window (``contacts``, ``unresolved_contacts``: not resolved,
  ``routine_contacts``: ``how_to``), experiences in the window (``experiences``);
- the latest CSAT and NPS answers before the cutoff (empty when never answered);
- ``tenure_days`` (whole days since the signup day), ``segment``, ``monthly_value``.

**Only data before the cutoff enters.** The features at cutoff ``c`` are those of the day
at risk, ``day(c)``: a bad experience counts if it happened on days ``day(c) - window_days
.. day(c) - 1`` and counts as *resolved* only if its resolving contact fell on a day before
``day(c)`` (design.md: resolved from ``resolved_on + 1``); contacts, experiences and
answers count if stamped before the midnight that starts ``day(c)``. Appending any row
stamped at or after that midnight leaves every feature unchanged (tested).

The split rule (:class:`RiskModel`, :func:`backtest`)
-----------------------------------------------------
``RiskModel(...).fit(data, cutoff=c)`` learns from ``snapshots`` training snapshots at
``t_k = day(c) - horizon_days - k * snapshot_step_days`` (k = 0, 1, ...): features at
``t_k`` and, as label, churn in ``(t_k, t_k + horizon_days]``. Every label window ends at or
before ``day(c)``, so **nothing the model learns comes from on or after its cutoff**: the
fitted model is the same whether or not the data holds rows after ``c`` (tested).

:func:`backtest` evaluates at a cutoff ``e`` (default: the data's ``as_of`` minus
``horizon_days``): the model is fitted with cutoff ``e`` and the survival baseline on the
person-time before ``e``; both score the customers active at ``e`` against the churn that
followed in ``(e, e + horizon_days]``. Training labels end at or before ``e``, where the
evaluation period's begin, so no period serves for both: the figures are what the list
would have achieved going forward. The list of today, :meth:`RiskModel.rank`, is the same
procedure moved on by ``horizon_days``.

The model and its baselines
---------------------------
The model is a scikit-learn :class:`~sklearn.pipeline.Pipeline`: the segment encoded for
:class:`~sklearn.ensemble.HistGradientBoostingClassifier`, boosted without interactions
between features (an additive model of the log-odds, as the hazard model is additive in the
log-hazard: each feature's effect is learned on its own, with far less noise) and with the
unresolved counts constrained to raise the risk; its probabilities are calibrated (Platt's
sigmoid by default) over folds that keep each customer's snapshots together
(:class:`~sklearn.calibration.CalibratedClassifierCV`).
**Training on a sample** (:meth:`RiskModel.training_sample`). Past ``max_train_rows``
training rows the model learns from a case-control sample by a fixed rule: *every churner*
is kept; of the non-churners each stratum (training snapshot × segment) keeps the same
share ``f`` — enough to fill ``max_train_rows``, and at least ``negatives_per_churner``
non-churners per churner — chosen at random (seeded by ``random_state``), and each kept
non-churner weighs ``1/f`` (its stratum's rows over its kept rows) in the boosting and in the
calibration. The weighted sample has the full frame's churn rate in every stratum, so
the probabilities stay calibrated (tested); the ranking loses little because the churners,
the rare class that carries the information, are all there.

Baselines on the same split: the survival model (:class:`cxlib.models.churn.ChurnModel`)'s
probability of churn within the horizon given the customer's segment, tenure (moving on
through its bands) and trailing counts at the cutoff *held fixed* (an approximation: the
counts change during the horizon); and "most recent unresolved bad experience first".

Why
---
:meth:`RiskModel.group_importance` permutes a group of features together (a touchpoint's
bad experiences, the service contacts, tenure...) and measures the drop in ROC AUC;
removing a touchpoint's bad experiences also removes them from the totals, so a touchpoint
is credited with everything its problems contribute. :meth:`RiskModel.explain` gives each
customer the group whose removal (set to "none" or to a reference value) lowers the
predicted probability most, as words: "2 unresolved delivery problems in the last 30 days".
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.exceptions import DataError, NotFittedError

RECENT_DAYS = 30
#: Bad experiences of a touchpoint the model has not seen in training count here.
OTHER_TOUCHPOINT = "(other)"
#: Per-touchpoint columns: name template -> what it is.
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
#: Methods compared by :func:`backtest`, in the order of its tables.
METHODS = ("model", "survival model", "most recent unresolved first")
TOP_SHARES = (0.05, 0.10)


def _col(name: str, touchpoint: str) -> str:
    return f"{name}[{touchpoint}]"


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_name(value: str) -> str:
    return '"' + str(value).replace('"', '""') + '"'


def _ts(value) -> str:
    return f"TIMESTAMP '{pd.Timestamp(value).isoformat(sep=' ')}'"


def cutoff_day(cutoff) -> pd.Timestamp:
    """The midnight (naive UTC) that starts the day at risk of ``cutoff``: data before it is known."""
    from cxlib.data.load import utc_naive

    return utc_naive(cutoff).floor("D")


def _check_days(**values) -> dict:
    out = {}
    for name, value in values.items():
        v = int(value)
        if v < (0 if name == "resolution_days" else 1):
            raise ValueError(f"{name} must be >= {0 if name == 'resolution_days' else 1}, not {value}")
        out[name] = v
    return out


def touchpoints_with_bad(data, before) -> list[str]:
    """Touchpoints with at least one bad experience before ``before`` (sorted)."""
    rows = data.query(
        "SELECT DISTINCT touchpoint FROM interactions WHERE kind = 'experience' AND outcome = 'bad' AND \"at\" < "
        + _ts(cutoff_day(before))
        + " ORDER BY touchpoint"
    )
    return [str(t) for t in rows["touchpoint"] if t is not None and not pd.isna(t)]


def features_sql(
    cutoff,
    touchpoints,
    *,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
) -> str:
    """SQL of :func:`features` (without the totals over touchpoints, added in pandas)."""
    from cxlib.data.load import utc_naive

    d = _check_days(window_days=window_days, resolution_days=resolution_days, recent_days=recent_days)
    w, r, recent = d["window_days"], d["resolution_days"], d["recent_days"]
    t0 = cutoff_day(cutoff)
    raw = utc_naive(cutoff)
    t0_sql, raw_sql = _ts(t0), _ts(raw)
    d0_sql = f"DATE '{t0.date().isoformat()}'"
    buckets = [*touchpoints, OTHER_TOUCHPOINT]
    known = ", ".join(_sql_text(t) for t in touchpoints) or "NULL"
    per_tp = []
    for tp in buckets:
        is_tp = f"tp = {_sql_text(tp)}"
        per_tp += [
            f"count(*) FILTER ({is_tp} AND NOT res) AS {_sql_name(_col('unresolved', tp))}",
            f"count(*) FILTER ({is_tp} AND res) AS {_sql_name(_col('resolved', tp))}",
            f"count(*) FILTER ({is_tp} AND NOT res AND age <= {recent}) AS {_sql_name(_col('unresolved_recent', tp))}",
            f"count(*) FILTER ({is_tp} AND res AND age <= {recent}) AS {_sql_name(_col('resolved_recent', tp))}",
            f"min(age) FILTER ({is_tp}) AS {_sql_name(_col('days_since_bad', tp))}",
            f"min(age) FILTER ({is_tp} AND NOT res) AS {_sql_name(_col('days_since_unresolved', tp))}",
        ]
    counts = [_sql_name(_col(c, tp)) for tp in buckets for c in COUNT_COLUMNS]
    days = [_sql_name(_col(c, tp)) for tp in buckets for c in DAY_COLUMNS]
    select_tp = [f"CAST(coalesce(p.{c}, 0) AS INTEGER) AS {c}" for c in counts]
    select_tp += [f"CAST(coalesce(p.{c}, {w + 1}) AS INTEGER) AS {c}" for c in days]
    return f"""
    WITH act AS (
        SELECT customer_id, segment, monthly_value, CAST(signup_at AS DATE) AS s0
        FROM customers
        WHERE signup_at < {t0_sql} AND (churned_at IS NULL OR churned_at > {raw_sql})
    ), be AS (
        SELECT b.customer_id,
               CASE WHEN b.touchpoint IN ({known}) THEN b.touchpoint ELSE {_sql_text(OTHER_TOUCHPOINT)} END AS tp,
               date_diff('day', b.day, {d0_sql}) AS age,
               coalesce(b.resolved_on < {d0_sql}, false) AS res
        FROM ({bad_experiences_sql(resolution_days=r)}) b
        WHERE b.day >= {d0_sql} - {w} AND b.day < {d0_sql}
    ), per_tp AS (
        SELECT customer_id, {', '.join(per_tp)}
        FROM be GROUP BY customer_id
    ), svc AS (
        SELECT customer_id,
               count(*) FILTER (touchpoint <> '{ROUTINE_TOUCHPOINT}') AS contacts,
               count(*) FILTER (touchpoint <> '{ROUTINE_TOUCHPOINT}' AND resolved IS NOT TRUE) AS unresolved_contacts,
               count(*) FILTER (touchpoint = '{ROUTINE_TOUCHPOINT}') AS routine_contacts
        FROM interactions
        WHERE kind = 'service' AND "at" >= {t0_sql} - INTERVAL {w} DAY AND "at" < {t0_sql}
        GROUP BY customer_id
    ), ex AS (
        SELECT customer_id, count(*) AS experiences
        FROM interactions
        WHERE kind = 'experience' AND "at" >= {t0_sql} - INTERVAL {w} DAY AND "at" < {t0_sql}
        GROUP BY customer_id
    ), answers AS (
        SELECT customer_id,
               arg_max(csat, "at") FILTER (csat IS NOT NULL) AS last_csat,
               arg_max(nps, "at") FILTER (nps IS NOT NULL) AS last_nps
        FROM interactions
        WHERE "at" < {t0_sql} AND (csat IS NOT NULL OR nps IS NOT NULL)
        GROUP BY customer_id
    )
    SELECT a.customer_id, a.segment, CAST(a.monthly_value AS DOUBLE) AS monthly_value,
           CAST(date_diff('day', a.s0, {d0_sql}) AS INTEGER) AS tenure_days,
           CAST(coalesce(x.experiences, 0) AS INTEGER) AS experiences,
           CAST(coalesce(s.contacts, 0) AS INTEGER) AS contacts,
           CAST(coalesce(s.unresolved_contacts, 0) AS INTEGER) AS unresolved_contacts,
           CAST(coalesce(s.routine_contacts, 0) AS INTEGER) AS routine_contacts,
           CAST(q.last_csat AS DOUBLE) AS last_csat, CAST(q.last_nps AS DOUBLE) AS last_nps,
           {', '.join(select_tp)}
    FROM act a
    LEFT JOIN per_tp p ON p.customer_id = a.customer_id
    LEFT JOIN svc s ON s.customer_id = a.customer_id
    LEFT JOIN ex x ON x.customer_id = a.customer_id
    LEFT JOIN answers q ON q.customer_id = a.customer_id
    ORDER BY a.customer_id
    """


def _buckets(frame: pd.DataFrame) -> list[str]:
    return [c[len("unresolved[") : -1] for c in frame.columns if c.startswith("unresolved[")]


def add_totals(frame: pd.DataFrame) -> pd.DataFrame:
    """(Re)compute the totals over touchpoints from the per-touchpoint columns, in place; return it."""
    buckets = _buckets(frame)
    for c in COUNT_COLUMNS:
        cols = [_col(c, tp) for tp in buckets]
        frame[c] = frame[cols].sum(axis=1).astype("int64") if cols else 0
    for c in DAY_COLUMNS:
        cols = [_col(c, tp) for tp in buckets]
        frame[c] = frame[cols].min(axis=1).astype("int64") if cols else frame.attrs.get("window_days", WINDOW_DAYS) + 1
    return frame


def features(
    data,
    cutoff=None,
    *,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
    touchpoints=None,
) -> pd.DataFrame:
    """Features of every customer active at ``cutoff`` (default: the data's ``as_of``), one row each.

    ``touchpoints``: the touchpoints that get their own columns (default: those with a bad
    experience before the cutoff); bad experiences elsewhere count under ``(other)``.
    Only rows stamped before the midnight starting the cutoff's day enter (module docstring).
    """
    cutoff = data.as_of if cutoff is None else cutoff
    if touchpoints is None:
        touchpoints = touchpoints_with_bad(data, cutoff)
    sql = features_sql(
        cutoff, list(touchpoints), window_days=window_days, resolution_days=resolution_days, recent_days=recent_days
    )
    frame = data.query(sql)
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["segment"] = frame["segment"].astype(str)
    frame = add_totals(frame)
    frame.attrs.update(
        cutoff=pd.Timestamp(cutoff_day(cutoff)), window_days=int(window_days), recent_days=int(recent_days)
    )
    return frame


def labels(data, cutoff, *, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """For each customer active at ``cutoff``: churned in ``(day(cutoff), day(cutoff) + horizon_days]``?

    Raises ValueError when that window ends after the data's ``as_of`` (its churn is not known yet).
    """
    h = _check_days(horizon_days=horizon_days)["horizon_days"]
    t0 = cutoff_day(cutoff)
    end = t0 + pd.Timedelta(days=h)
    if end > pd.Timestamp(data.as_of):
        raise ValueError(
            f"the churn of {t0.date()} + {h} days ({end.date()}) is not known: the data ends at {data.as_of}"
        )
    frame = data.query(
        f"""SELECT customer_id, coalesce(churned_at > {_ts(t0)} AND churned_at <= {_ts(end)}, false) AS churned
            FROM customers
            WHERE signup_at < {_ts(t0)} AND (churned_at IS NULL OR churned_at > {_ts(t0)})
            ORDER BY customer_id"""
    )
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["churned"] = frame["churned"].astype(bool)
    return frame


def snapshot(
    data,
    cutoff,
    *,
    horizon_days: int = HORIZON_DAYS,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    recent_days: int = RECENT_DAYS,
    touchpoints=None,
) -> pd.DataFrame:
    """:func:`features` at ``cutoff`` (a midnight) with the ``churned`` label of :func:`labels`."""
    t0 = cutoff_day(cutoff)
    x = features(
        data,
        t0,
        window_days=window_days,
        resolution_days=resolution_days,
        recent_days=recent_days,
        touchpoints=touchpoints,
    )
    y = labels(data, t0, horizon_days=horizon_days)
    out = x.merge(y, on="customer_id", how="left", validate="one_to_one")
    out["churned"] = out["churned"].fillna(False).astype(bool)
    out.attrs.update(x.attrs)
    return out


# ---------------------------------------------------------------------------------------
# The model


class RiskModel:
    """Probability that a customer active at a cutoff churns within ``horizon_days``, and why.

    Parameters
    ----------
    horizon_days:
        The list looks this many days ahead.
    window_days, resolution_days:
        design.md's trailing window and resolution rule for the bad-experience counts.
    recent_days:
        The "recent" counts look back this many days.
    snapshots, snapshot_step_days:
        Training snapshots at ``cutoff - horizon_days - k * snapshot_step_days`` (see the
        module docstring's split rule); more snapshots, more examples of churn.
    calibration:
        ``"sigmoid"``, ``"isotonic"`` or None: how the probabilities are calibrated
        (isotonic regression overfits the few customers at the top of the list).
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
    cutoff_: the day at risk of the fit's cutoff; training_cutoffs_ and label_windows_
        (start, end] of the training snapshots; every end <= cutoff_.
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
        learning_rate: float = 0.1,
        max_iter: int = 300,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 100,
        l2_regularization: float = 1.0,
        random_state: int = 0,
        n_threads: int | None = 1,
        max_train_rows: int | None = 100_000,
        negatives_per_churner: float = 4.0,
    ):
        self.horizon_days = horizon_days
        self.window_days = window_days
        self.resolution_days = resolution_days
        self.recent_days = recent_days
        self.snapshots = snapshots
        self.snapshot_step_days = snapshot_step_days
        self.calibration = calibration
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.n_threads = n_threads
        self.max_train_rows = max_train_rows
        self.negatives_per_churner = negatives_per_churner

    def get_params(self) -> dict:
        """The constructor's settings (as scikit-learn's ``get_params``)."""
        import inspect

        return {name: getattr(self, name) for name in list(inspect.signature(type(self)).parameters)}

    # ------------------------------------------------------------------ fitting

    def training_cutoffs(self, cutoff) -> list[pd.Timestamp]:
        """The training snapshots' cutoffs for a fit at ``cutoff``, latest first."""
        d = _check_days(
            horizon_days=self.horizon_days, snapshots=self.snapshots, snapshot_step_days=self.snapshot_step_days
        )
        t0 = cutoff_day(cutoff) - pd.Timedelta(days=d["horizon_days"])
        return [t0 - pd.Timedelta(days=k * d["snapshot_step_days"]) for k in range(d["snapshots"])]

    def _settings(self) -> dict:
        return {
            "window_days": self.window_days,
            "resolution_days": self.resolution_days,
            "recent_days": self.recent_days,
        }

    def training_frame(self, data, cutoff=None, *, progress: bool = False) -> pd.DataFrame:
        """The stacked training snapshots of a fit at ``cutoff``: features, ``churned``, ``snapshot``."""
        cutoff = data.as_of if cutoff is None else cutoff
        cutoffs = self.training_cutoffs(cutoff)
        touchpoints = touchpoints_with_bad(data, cutoffs[0])
        first = data.query("SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
        first = None if pd.isna(first) else first
        frames = []
        steps = cutoffs
        if progress:
            from tqdm.auto import tqdm

            steps = tqdm(cutoffs, desc="risk: training snapshots", unit="snapshot")
        for t in steps:
            if first is None or t <= pd.Timestamp(first):
                continue
            s = snapshot(data, t, horizon_days=self.horizon_days, touchpoints=touchpoints, **self._settings())
            s["snapshot"] = t
            frames.append(s)
        if not frames:
            raise DataError(
                f"no customer was active at {cutoffs[0].date()} ({self.horizon_days} days before the cutoff "
                f"{cutoff_day(cutoff).date()}): the data is too short to train on"
            )
        frame = pd.concat(frames, ignore_index=True)
        frame.attrs.update(touchpoints=touchpoints, cutoffs=[f["snapshot"].iloc[0] for f in frames])
        return frame

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
        strata = pd.factorize(pd.MultiIndex.from_arrays([train["snapshot"].to_numpy(), train["segment"].to_numpy()]))[0]
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

    def fit(self, data, cutoff=None, *, progress: bool = False) -> RiskModel:
        """Learn from snapshots whose churn windows end at or before ``cutoff`` (default: the data's as_of).

        ``progress``: tqdm bars for the snapshots and the boosting (JupyterLab).
        """
        cutoff = data.as_of if cutoff is None else cutoff
        if cutoff_day(cutoff) > pd.Timestamp(data.as_of):
            raise ValueError(f"cutoff {cutoff} is after the data's as_of {data.as_of}")
        full = self.training_frame(data, cutoff, progress=progress)
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
        names, groups = _feature_layout(touchpoints)
        self.touchpoints_ = list(touchpoints)
        self.feature_names_ = names
        self.feature_groups_ = groups
        self.cutoff_ = cutoff_day(cutoff)
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
            GroupKFold(n_splits=3, shuffle=True, random_state=self.random_state).split(
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

    def features(self, data, cutoff=None) -> pd.DataFrame:
        """:func:`features` at ``cutoff`` (default: the data's as_of) with the fitted touchpoints."""
        self._check_fitted()
        return features(data, cutoff, touchpoints=self.touchpoints_, **self._settings())

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

    def _without(self, frame: pd.DataFrame, group: str) -> pd.DataFrame:
        """``frame`` with ``group`` reset: no bad experiences, no contacts, no answer, or a reference value."""
        out = frame.copy()
        cols = self.feature_groups_[group]
        for c in cols:
            if c.startswith(COUNT_COLUMNS) or c in CONTACT_COLUMNS:
                out[c] = 0
            elif c.startswith(DAY_COLUMNS):
                out[c] = int(self.window_days) + 1
            elif c in ANSWER_COLUMNS:
                out[c] = np.nan
            else:
                out[c] = self.reference_[c]
        if group.startswith("bad experiences"):
            add_totals(out)
        return out

    def contributions(self, frame: pd.DataFrame) -> pd.DataFrame:
        """For each row and group: predicted probability minus that with the group reset (same index).

        The frame is encoded once; each group's reset is a change of a few columns of that
        matrix (totals over touchpoints recomputed in numpy), scored by the calibrated
        boosters directly: no copy of the frame per group.
        """
        self._check_fitted()
        encode, classifier = self.pipeline_[0], self.pipeline_[-1]
        with self._threads():
            base = encode.transform(self._matrix(frame))
            cols = {c: i for i, c in enumerate(base.columns)}
            X = base.to_numpy(dtype=float)
            names = base.columns

            def score(matrix):  # the boosters were fitted on a frame: give them its column names
                return classifier.predict_proba(pd.DataFrame(matrix, columns=names, copy=False))[:, 1]

            p = score(X)
            buckets = [tp for tp in _buckets(frame)]
            ref_segment = encode.transform(
                self._matrix(frame.iloc[:1].assign(segment=self.reference_["segment"]))
            )["segment"].iloc[0]
            out = {}
            for group, members in self.feature_groups_.items():
                Z = X.copy()
                for c in members:
                    if c.startswith(COUNT_COLUMNS) or c in CONTACT_COLUMNS:
                        Z[:, cols[c]] = 0
                    elif c.startswith(DAY_COLUMNS):
                        Z[:, cols[c]] = int(self.window_days) + 1
                    elif c in ANSWER_COLUMNS:
                        Z[:, cols[c]] = -1.0  # "no answer", as _matrix encodes it
                    elif c == "segment":
                        Z[:, cols[c]] = ref_segment
                    else:
                        Z[:, cols[c]] = self.reference_[c]
                if group.startswith("bad experiences at "):
                    tp = group[len("bad experiences at ") :]
                    rest = [b for b in buckets if b != tp]
                    for c in COUNT_COLUMNS:
                        Z[:, cols[c]] = frame[[_col(c, b) for b in rest]].to_numpy().sum(axis=1) if rest else 0
                    for c in DAY_COLUMNS:
                        Z[:, cols[c]] = (frame[[_col(c, b) for b in rest]].to_numpy().min(axis=1) if rest
                                         else int(self.window_days) + 1)
                out[group] = p - score(Z)
        return pd.DataFrame(out, index=frame.index)

    def explain(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The main reason of each row's risk, in words: ``reason``, ``reason_group``, ``reason_effect``.

        The reason is the group whose removal lowers the probability most among those a team
        can act on (a touchpoint's bad experiences, service contacts, CSAT and NPS); when none
        raises it, the largest of the others (tenure, segment, value, activity).
        ``reason_effect`` is that drop in probability.
        """
        if len(frame) == 0:
            self._check_fitted()
            return pd.DataFrame({"reason": [], "reason_group": [], "reason_effect": []}, index=frame.index)
        contrib = self.contributions(frame)
        values = contrib.to_numpy().copy()
        actionable = np.array([_actionable(g) for g in contrib.columns], dtype=bool)
        act_best = values[:, actionable].max(axis=1) if actionable.any() and len(values) else np.zeros(len(values))
        # rows with an actionable driver choose among those only
        values[np.ix_(act_best > 0.001, ~actionable)] = -np.inf
        best = values.argmax(axis=1) if len(contrib) else np.array([], dtype=int)
        groups = np.asarray(contrib.columns, dtype=object)[best] if len(contrib) else np.array([], dtype=object)
        effect = values[np.arange(len(values)), best] if len(values) else np.array([])
        reasons = np.full(len(frame), "no single driver: the usual risk of similar customers", dtype=object)
        driven = effect > 0.001
        for group in np.unique(groups[driven]) if driven.any() else []:
            rows = np.flatnonzero(driven & (groups == group))
            used = self._words_columns(group)
            part = frame.iloc[rows][used].reset_index(drop=True)
            distinct = part.drop_duplicates()
            distinct = distinct.assign(_words=[self._words(group, r) for r in distinct.to_dict("records")])
            reasons[rows] = part.merge(distinct, on=used, how="left", validate="many_to_one")["_words"].to_numpy()
        reasons = list(reasons)
        return pd.DataFrame(
            {"reason": reasons, "reason_group": np.where(effect > 0.001, groups, ""), "reason_effect": effect},
            index=frame.index,
        )

    def _words_columns(self, group: str) -> list[str]:
        """The columns :meth:`_words` reads for ``group``."""
        if group.startswith("bad experiences at "):
            tp = group[len("bad experiences at ") :]
            return [_col("unresolved", tp), _col("unresolved_recent", tp), _col("resolved", tp)]
        return {
            "service contacts": ["unresolved_contacts", "contacts"],
            "CSAT and NPS": ["last_csat", "last_nps"],
            "tenure": ["tenure_days"],
            "segment": ["segment"],
            "monthly value": ["monthly_value"],
        }.get(group, ["experiences"])

    def _words(self, group: str, row) -> str:
        w, recent = int(self.window_days), int(self.recent_days)
        if group.startswith("bad experiences at "):
            tp = group[len("bad experiences at ") :]
            name = tp.replace("_", " ")
            u, ur = int(row[_col("unresolved", tp)]), int(row[_col("unresolved_recent", tp)])
            r = int(row[_col("resolved", tp)])
            if u:
                if ur == u:
                    text = f"{_n(u, f'unresolved {name} problem')} in the last {recent} days"
                elif ur:
                    text = f"{_n(u, f'unresolved {name} problem')} in the last {w} days ({ur} in the last {recent})"
                else:
                    text = f"{_n(u, f'unresolved {name} problem')} in the last {w} days"
                return text + (f", {r} more resolved" if r else "")
            return f"{_n(r, f'{name} problem')} in the last {w} days, resolved"
        if group == "service contacts":
            k, n = int(row["unresolved_contacts"]), int(row["contacts"])
            if k:
                return f"{_n(k, 'service contact')} that did not solve the problem in the last {w} days"
            return f"{_n(n, 'service contact')} in the last {w} days"
        if group == "CSAT and NPS":
            parts = []
            if pd.notna(row["last_csat"]):
                parts.append(f"latest CSAT {int(row['last_csat'])}/5")
            if pd.notna(row["last_nps"]):
                parts.append(f"latest NPS {int(row['last_nps'])}/10")
            return " and ".join(parts) or "no CSAT or NPS answer"
        if group == "tenure":
            return f"new customer: {int(row['tenure_days'])} days since signup"
        if group == "segment":
            return f"segment {row['segment']}: churns more than {self.reference_['segment']}"
        if group == "monthly value":
            low = row["monthly_value"] < self.reference_["monthly_value"]
            return f"{'low ' if low else ''}monthly value ({row['monthly_value']:,.0f})"
        return f"{int(row['experiences'])} experiences in the last {w} days"

    def rank(self, data, cutoff=None, *, top: int | None = None) -> pd.DataFrame:
        """Customers active at ``cutoff`` (default: the data's as_of), most likely to churn first.

        Columns: ``rank, customer_id, probability, reason, monthly_value, monthly_value_at_risk``
        (probability × monthly value), ``segment, tenure_days, unresolved, resolved``,
        ``reason_group``. ``top`` keeps the first ``top`` rows (reasons are computed for those only).
        """
        self._check_fitted()
        frame = self.features(data, cutoff)
        p = self.predict_risk(frame)
        order = np.lexsort((frame["customer_id"].to_numpy(), -p.to_numpy()))
        if top is not None:
            if int(top) < 0:
                raise ValueError(f"top must be >= 0, not {top}")
            order = order[: int(top)]
        chosen = frame.iloc[order].reset_index(drop=True)
        prob = p.to_numpy()[order]
        why = self.explain(chosen)
        out = pd.DataFrame(
            {
                "rank": np.arange(1, len(chosen) + 1),
                "customer_id": chosen["customer_id"].to_numpy(),
                "probability": prob,
                "reason": why["reason"].to_numpy(),
                "monthly_value": chosen["monthly_value"].to_numpy(),
                "monthly_value_at_risk": prob * chosen["monthly_value"].to_numpy(),
                "segment": chosen["segment"].to_numpy(),
                "tenure_days": chosen["tenure_days"].to_numpy(),
                "unresolved": chosen["unresolved"].to_numpy(),
                "resolved": chosen["resolved"].to_numpy(),
                "reason_group": why["reason_group"].to_numpy(),
            }
        )
        out.attrs.update(
            cutoff=cutoff_day(data.as_of if cutoff is None else cutoff), horizon_days=int(self.horizon_days)
        )
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
        base = roc_auc_score(y, self.predict_risk(frame))
        rng = np.random.default_rng(random_state)
        rows = []
        for group, cols in self.feature_groups_.items():
            drops = []
            for _ in range(int(n_repeats)):
                shuffled = frame.copy()
                idx = rng.permutation(len(frame))
                for c in cols:
                    shuffled[c] = frame[c].to_numpy()[idx]
                if group.startswith("bad experiences"):
                    add_totals(shuffled)
                drops.append(base - roc_auc_score(y, self.predict_risk(shuffled)))
            rows.append((group, float(np.mean(drops)), float(np.std(drops)), len(cols)))
        out = pd.DataFrame(rows, columns=["group", "importance", "std", "n_features"])
        return out.sort_values("importance", ascending=False, ignore_index=True)

    def __repr__(self) -> str:
        state = (
            f"fitted at {self.cutoff_.date()} on {self.n_train_:,} rows" if hasattr(self, "pipeline_") else "not fitted"
        )
        return f"RiskModel(horizon_days={self.horizon_days}, window_days={self.window_days}; {state})"


def _actionable(group: str) -> bool:
    return group.startswith("bad experiences at ") or group in ("service contacts", "CSAT and NPS")


def _n(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _feature_layout(touchpoints) -> tuple[list[str], dict[str, list[str]]]:
    """The model's columns and their groups (a touchpoint's group holds its columns, not the totals)."""
    groups: dict[str, list[str]] = {}
    for tp in touchpoints:
        groups[f"bad experiences at {tp}"] = [_col(c, tp) for c in TOUCHPOINT_COLUMNS]
    groups["service contacts"] = list(CONTACT_COLUMNS)
    groups["CSAT and NPS"] = list(ANSWER_COLUMNS)
    groups["activity"] = ["experiences"]
    groups["tenure"] = ["tenure_days"]
    groups["segment"] = ["segment"]
    groups["monthly value"] = ["monthly_value"]
    names = ["segment", *COUNT_COLUMNS, *DAY_COLUMNS]
    for g, cols in groups.items():
        names += [c for c in cols if c not in names]
    return names, groups


# ---------------------------------------------------------------------------------------
# Honest validation in time


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


def evaluate(scores: pd.DataFrame, *, label: str = "churned", methods=METHODS) -> pd.DataFrame:
    """One row per method: ROC AUC, average precision, Brier score, top-5%/10% capture.

    ``scores`` holds the label and one column of scores per method. Brier score is given
    for methods whose scores are probabilities (not for a pure ranking such as recency).
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = scores[label].to_numpy(dtype=bool)
    rows = []
    for m in methods:
        s = scores[m].to_numpy(dtype=float)
        probability = bool(np.all((s >= 0) & (s <= 1))) and m != "most recent unresolved first"
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


def calibration(scores: pd.DataFrame, *, label: str = "churned", methods=METHODS[:2], bins: int = 10) -> pd.DataFrame:
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


class Backtest:
    """A model and its baselines scored at one evaluation cutoff against the churn that followed.

    Built by :func:`backtest`. ``scores``: one row per customer active at ``cutoff`` with
    ``churned`` (in the next ``horizon_days``) and a column per method; ``features``: the
    features at the cutoff; ``model`` and ``baseline``: the fitted RiskModel and ChurnModel.
    """

    def __init__(self, model, baseline, features_frame, scores, cutoff, horizon_days):
        self.model = model
        self.baseline = baseline
        self.features = features_frame
        self.scores = scores
        self.cutoff = cutoff
        self.horizon_days = horizon_days

    @property
    def metrics(self) -> pd.DataFrame:
        """:func:`evaluate` of the three methods on the evaluation cutoff."""
        return evaluate(self.scores)

    def metrics_table(self) -> pd.DataFrame:
        """The metrics as text a manager reads."""
        from cxlib.present.format import pct

        m = self.metrics
        out = pd.DataFrame({"method": m["method"]})
        out["ROC AUC"] = m["roc_auc"].map("{:.3f}".format)
        out["average precision"] = m["average_precision"].map("{:.3f}".format)
        out["Brier score"] = m["brier"].map(lambda v: "–" if pd.isna(v) else f"{v:.4f}")
        for q in TOP_SHARES:
            out[f"churners caught in top {round(100 * q)}%"] = m[f"top_{round(100 * q)}pct_capture"].map(pct)
        return out.set_index("method")

    def calibration(self, bins: int = 10) -> pd.DataFrame:
        return calibration(self.scores, bins=bins)

    def capture_curve(self) -> pd.DataFrame:
        return capture_curve(self.scores)

    def importance(self, *, n_repeats: int = 3) -> pd.DataFrame:
        """Permutation importance by group on the evaluation cutoff (held-out period)."""
        return self.model.group_importance(self.features, self.scores["churned"], n_repeats=n_repeats)

    def __repr__(self) -> str:
        return (
            f"Backtest(cutoff={self.cutoff.date()}, horizon_days={self.horizon_days}, "
            f"customers={len(self.scores):,})"
        )


def backtest(data, *, cutoff=None, model: RiskModel | None = None, progress: bool = False) -> Backtest:
    """Fit on the past, score at ``cutoff`` against the churn of the next ``horizon_days``.

    ``cutoff`` defaults to the data's ``as_of`` minus the model's ``horizon_days`` (the latest
    cutoff whose next period is known). ``model``: an unfitted :class:`RiskModel` giving
    the settings (default ``RiskModel()``); it is fitted here with cutoff ``cutoff``.
    The survival baseline is fitted on the person-time before ``cutoff``.
    """
    from cxlib.features.panel import engagement_bands
    from cxlib.models.churn import ChurnModel

    model = RiskModel() if model is None else model
    h = int(model.horizon_days)
    e = cutoff_day(pd.Timestamp(data.as_of) - pd.Timedelta(days=h)) if cutoff is None else cutoff_day(cutoff)
    fitted = RiskModel(**model.get_params())
    fitted.fit(data, cutoff=e, progress=progress)
    test = snapshot(data, e, horizon_days=h, touchpoints=fitted.touchpoints_, **fitted._settings())
    if not test["churned"].any():
        raise DataError(f"no customer active at {e.date()} churned in the next {h} days: nothing to evaluate")
    baseline = ChurnModel(window_days=model.window_days, resolution_days=model.resolution_days).fit(data, as_of=e)
    if baseline.engagement:  # each customer's experience-rate band at the cutoff, as the model adjusted for it
        bands = engagement_bands(data, as_of=e)
        test = test.assign(engagement=bands.reindex(test["customer_id"].astype(str)).to_numpy())
    scores = pd.DataFrame({"customer_id": test["customer_id"].to_numpy(), "churned": test["churned"].to_numpy()})
    scores["model"] = fitted.predict_risk(test).to_numpy()
    scores["survival model"] = survival_probability(baseline, test, horizon_days=h)
    scores["most recent unresolved first"] = recency_score(test, window_days=model.window_days)
    return Backtest(fitted, baseline, test, scores, e, h)


def survival_probability(churn_model, frame: pd.DataFrame, *, horizon_days: int = HORIZON_DAYS) -> np.ndarray:
    """The survival model's probability of churn within ``horizon_days`` for rows of :func:`features`.

    Segment and tenure as at the cutoff (tenure moves on through its bands); the trailing
    counts and (a model adjusted for engagement, when ``frame`` has ``engagement``) the
    experience-rate band at the cutoff are held fixed over the horizon (an approximation).
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
        # the band at the cutoff (held over the horizon); a band the model has no term for takes the reference
        ref = next(k for k, label in levels.items() if label == churn_model.reference_["engagement"])
        band = pd.to_numeric(pd.Series(frame["engagement"].to_numpy()), errors="coerce")
        cov["engagement"] = [int(b) if pd.notna(b) and int(b) in levels else ref for b in band]
    surv = churn_model.predict_survival(cov, [float(horizon_days)])
    return 1.0 - surv.iloc[0].to_numpy(dtype=float)


def reason_summary(ranked: pd.DataFrame) -> pd.DataFrame:
    """What the listed customers' main reasons are about: customers, churn expected, value at risk per group.

    Takes :meth:`RiskModel.rank`'s list; returns no customer-level data (for a report).
    """
    group = ranked["reason_group"].replace("", "no single driver")
    out = (
        ranked.assign(group=group)
        .groupby("group")
        .agg(
            customers=("customer_id", "size"),
            expected_churners=("probability", "sum"),
            monthly_value_at_risk=("monthly_value_at_risk", "sum"),
        )
        .sort_values("expected_churners", ascending=False)
    )
    out["expected_churners"] = out["expected_churners"].round(1)
    out["monthly_value_at_risk"] = out["monthly_value_at_risk"].round(0)
    out.index.name = "main reason"
    return out
