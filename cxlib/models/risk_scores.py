"""Scores of a risk model's rows with a few columns changed, without scoring every row again.

:meth:`cxlib.models.risk.RiskModel.contributions` resets each group of features of every
customer and :meth:`~cxlib.models.risk.RiskModel.group_importance` shuffles them; both need
the calibrated probability of the same rows with a few columns changed, a dozen times over.
:class:`AdditiveScores` gives it from per-column look-ups, since the boosting is additive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.features.risk import COUNT_COLUMNS, DAY_COLUMNS, touchpoint_buckets, touchpoint_column


class AdditiveScores:
    """Calibrated probabilities of a frame's rows, and of the same rows with some columns changed.

    The boosting has no interactions (``interaction_cst="no_interactions"``: every tree splits
    on one column), so each booster's log-odds is ``b + Σ_j f_j(x_j)`` and changing the columns
    ``J`` of a row changes it by ``Σ_{j∈J} f_j(z_j) − f_j(x_j)``. ``f_j`` is read off, per
    booster, by scoring one row per distinct value of column ``j`` with the other columns held
    at the first row's values (that constant cancels in the difference) and kept per column, so
    a change of a few columns costs a few table look-ups, not a scoring of every row. The
    probability is then each booster's calibration of its log-odds, averaged over the boosters
    as :class:`~sklearn.calibration.CalibratedClassifierCV` averages them (tested equal to
    ``predict_proba``).
    """

    def __init__(self, classifier, encoded: pd.DataFrame, frame: pd.DataFrame, *, ref_segment, threads):
        pairs = getattr(classifier, "calibrated_classifiers_", None)
        self.members = [(c.estimator, c.calibrators[0]) for c in pairs] if pairs is not None else [(classifier, None)]
        self.names = encoded.columns
        self.position = {c: i for i, c in enumerate(self.names)}
        self.X = encoded.to_numpy(dtype=float)
        self.n = len(self.X)
        self.frame = frame
        self.ref_segment = ref_segment
        self.threads = threads
        self.raw = self._raw(self.X)
        self._tables: dict[int, tuple[pd.Index, np.ndarray]] = {}  # column -> (distinct values, f per booster)
        self._base: dict[int, np.ndarray] = {}  # column -> f of the rows' own values, (boosters, rows)

    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        """Each booster's log-odds of the rows of an encoded matrix: (boosters, rows)."""
        if not len(matrix):
            return np.zeros((len(self.members), 0))
        frame = pd.DataFrame(matrix, columns=self.names, copy=False)  # the boosters were fitted on a frame
        with self.threads():
            return np.vstack([booster.decision_function(frame) for booster, _ in self.members])

    def _terms(self, j: int, values: np.ndarray) -> np.ndarray:
        """``f_j(values)`` per booster (up to a constant per column), from the column's table."""
        table, terms = self._tables.get(j, (pd.Index([], dtype=float), np.zeros((len(self.members), 0))))
        where = table.get_indexer(values)
        if (where < 0).any():
            new = pd.unique(values[where < 0])
            probe = np.repeat(self.X[:1], len(new), axis=0)
            probe[:, j] = new
            table, terms = table.append(pd.Index(new)), np.hstack([terms, self._raw(probe)])
            self._tables[j] = (table, terms)
            where = table.get_indexer(values)
        return terms[:, where]

    def column(self, name: str) -> np.ndarray:
        """The encoded column ``name`` of the rows."""
        return self.X[:, self.position[name]]

    def take(self, rows) -> AdditiveScores:
        """The scores of the rows ``rows`` (positions), sharing the tables read so far."""
        out = object.__new__(AdditiveScores)
        out.__dict__.update(self.__dict__)
        out.X, out.raw = self.X[rows], self.raw[:, rows]
        out.n = len(out.X)
        out.frame = self.frame.iloc[rows].reset_index(drop=True)
        out._base = {}
        return out

    def totals_with(self, touchpoint: str, rows, *, none_days: int) -> dict:
        """The totals over touchpoints with ``touchpoint``'s own columns reset (``rows`` None) or taken from ``rows``."""
        buckets = touchpoint_buckets(self.frame)
        rest = [b for b in buckets if b != touchpoint]
        out = {}
        for columns, combine, empty in ((COUNT_COLUMNS, np.sum, 0), (DAY_COLUMNS, np.min, none_days)):
            for c in columns:
                parts = [self.frame[touchpoint_column(c, b)].to_numpy(dtype=float) for b in rest]
                if rows is not None:
                    parts.append(self.frame[touchpoint_column(c, touchpoint)].to_numpy(dtype=float)[rows])
                out[c] = combine(np.vstack(parts), axis=0) if parts else np.full(self.n, float(empty))
        return out

    def probability(self, changes: dict | None = None) -> np.ndarray:
        """The calibrated probability of churn of the rows, with the encoded columns in ``changes`` replaced."""
        raw = self.raw
        if changes:
            raw = raw.copy()
            for name, values in changes.items():
                j = self.position[name]
                if j not in self._base:
                    self._base[j] = self._terms(j, self.X[:, j])
                raw += self._terms(j, np.asarray(values, dtype=float)) - self._base[j]
        from scipy.special import expit

        p = np.zeros(self.n)
        for (_, calibrator), r in zip(self.members, raw):
            q = expit(r) if calibrator is None else calibrator.predict(r)
            q[(1.0 < q) & (q <= 1.0 + 1e-5)] = 1.0  # as scikit-learn's calibrated classifier does
            p += q
        return p / len(self.members)
