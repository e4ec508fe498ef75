"""The ROI engine's paths as segments of constant state, summed for many runs at once (numbers only).

:class:`Segments` holds the structure (which state each segment of each path is in, and on
which days); :meth:`Segments.sums` turns the daily hazards of the states, one array per run
stacked on a leading axis, into each segment's cumulative hazard and days alive. Stacking runs
(draws × scenarios) on one axis makes each numpy call work on many runs instead of one: the
arithmetic of each run is unchanged, element by element and in the same order (the prefix sums
run along the days, the sums over segments along one run's segments), so a stacked run equals
the run made alone. See :mod:`cxlib.models.roi_engine` for the formulas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["Segments", "per_path", "sorted_unique_rows", "unique_rows"]


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``a`` (in order of first appearance) and each row's index among them.

    ``np.unique(a, axis=0)`` gives the same groups, sorted, but sorts whole rows; hashing each
    row's bytes is exact and several times faster on the wide rows of day-by-day counts.
    """
    a = np.ascontiguousarray(a)
    if not len(a):
        return a, np.zeros(0, dtype=np.int64)
    codes, uniques = pd.factorize(pd.Series([row.tobytes() for row in a]))
    first = np.full(len(uniques), -1)
    first[codes[::-1]] = np.arange(len(a))[::-1]  # the first row of each group
    return a[first], codes.astype(np.int64)


def sorted_unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` (rows sorted lexicographically), by hashing the rows.

    ``np.unique`` sorts all ``n`` rows; this hashes them (:func:`unique_rows`) and sorts only the
    distinct ones: the same rows in the same order, and the same inverse, several times faster
    on a million customers' histories.
    """
    rows, codes = unique_rows(a)
    if not len(rows):
        return rows, codes
    order = np.lexsort(rows.T[::-1])  # column 0 first, as np.unique's row order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rows[order], rank[codes]


def per_path(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """``np.bincount(index, weights[r], minlength=n)`` for every run ``r`` (rows of ``weights``): runs × n.

    One bincount over the runs' offset indices; each bin adds its weights in the same order as
    a run's own bincount, so the sums are the same to the last bit.
    """
    R = weights.shape[0]
    flat = (np.arange(R)[:, None] * n + index[None, :]).ravel()
    return np.bincount(flat, weights=weights.ravel(), minlength=R * n).reshape(R, n)


def _prefix_sums(h: np.ndarray, out: np.ndarray) -> None:
    """``out[:, d + 1] = out[:, d] + h[:, d]`` day by day (``h``: runs × days × states; ``out[:, 0]`` set).

    The additions of ``np.cumsum(h, axis=1)``, in the same order; a loop over the days adds whole
    rows of every run and state at once, where numpy's cumsum along that axis adds one element
    at a time (about ten times slower here).
    """
    for d in range(h.shape[1]):
        np.add(out[:, d], h[:, d], out=out[:, d + 1])


class Segments:
    """Paths as runs of constant state: ``path``, ``state``, ``d0``, ``d1`` per segment, path-major, in time order.

    ``dense_days``: the days before it are summed day by day; from it on every state's hazard
    is constant per unit of exposure (the engine's steady state), and a segment there is one
    geometric sum. The segments split at ``dense_days`` and at the last day (which may be a
    part of a day), so a segment lies wholly in one zone and has one exposure per day.
    """

    def __init__(self, codes: np.ndarray, split_at=(), dense_days: int | None = None, x: np.ndarray | None = None):
        """``codes``: paths × days, the state code of each day; a segment also starts at each of ``split_at``.

        ``x``: the exposure of each day (needed with ``dense_days``).
        """
        n_paths, n_days = codes.shape
        dense = n_days if dense_days is None else int(min(max(dense_days, 0), n_days))
        cuts = {int(d) for d in np.atleast_1d(split_at) if d is not None}
        if dense < n_days:
            cuts |= {dense, n_days - 1}
        starts = np.ones(codes.shape, dtype=bool)
        starts[:, 1:] = codes[:, 1:] != codes[:, :-1]
        for d in cuts:
            if 0 < d < n_days:
                starts[:, d] = True
        self.path, self.d0 = np.nonzero(starts)
        flat = self.path * n_days + self.d0
        nxt = np.append(flat[1:], n_paths * n_days)
        self.d1 = np.where(nxt // n_days == self.path, nxt % n_days, n_days)
        self.d1[np.append(self.path[1:] != self.path[:-1], True)] = n_days
        self.state_codes, self.state = np.unique(codes[self.path, self.d0], return_inverse=True)
        self.state = self.state.ravel()
        first = np.ones(len(self.path), dtype=bool)
        first[1:] = self.path[1:] != self.path[:-1]
        self.first = np.flatnonzero(first)
        self.path_first = np.repeat(self.first, np.diff(np.append(self.first, len(self.path))))
        self.n_paths = n_paths
        self.n_days = n_days
        self.dense_days = dense
        n_states = len(self.state_codes)
        # dense segments (path-major, like all): flat indices into the (dense days + 1) × states prefix sums
        dense_seg = self.d0 < dense
        self._d_path = self.path[dense_seg]
        st, d0, d1 = self.state[dense_seg], self.d0[dense_seg], self.d1[dense_seg]
        self._i0 = d0 * n_states + st
        self._i1 = d1 * n_states + st
        self._d_first = _first_of_path(self._d_path)
        self._d_d0 = d0
        # steady segments: state, days and exposure per day
        steady = ~dense_seg
        self._s_path = self.path[steady]
        self._s_state = self.state[steady]
        self._s_days = (self.d1 - self.d0)[steady].astype(float)
        self._s_x = np.zeros(int(steady.sum())) if x is None else np.asarray(x, dtype=float)[self.d0[steady]]
        self._s_first = _first_of_path(self._s_path)

    def path_sums(self, h: np.ndarray, x: np.ndarray, rate: np.ndarray | None = None,
                  split: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per run and path: cumulative hazard, the part of it before day ``split``, days alive, the part from ``split`` on.

        ``h``: runs × dense days × states (day-major: the prefix sums over days run across every
        state at once), the hazard of each day times its exposure ``x``; ``rate``: runs × states,
        each state's hazard per unit of exposure in the steady zone. Days alive are per unit
        survival at the path's start; ``split`` is a day where segments split (None: no later part).
        Four runs × paths arrays.

        A steady segment of ``n`` days of exposure ``x`` and hazard ``h = rate·x`` a day has
        ``n·h`` and days alive ``x·e^{-h/2}(1 - e^{-nh})/(1 - e^{-h})`` per unit survival at its
        start: the day-by-day midpoint sum in closed form (equal to rounding).
        """
        R, n_dense, n_states = h.shape
        P = self.n_paths
        H = np.empty((R, n_dense + 1, n_states))
        H[:, 0] = 0.0
        _prefix_sums(h, H)
        e = np.multiply(h, -0.5)
        e -= H[:, :-1]
        np.exp(e, out=e)
        e *= x[None, :n_dense, None]
        K = np.empty_like(H)
        K[:, 0] = 0.0
        _prefix_sums(e, K)
        H, K = H.reshape(R, -1), K.reshape(R, -1)
        h0 = H.take(self._i0, axis=1)
        over = H.take(self._i1, axis=1) - h0
        before = _before(over, self._d_first)
        # survival at the segment's start, exp(-before), times exp(H(d0)) ΔK: one exp
        alive = np.exp(h0 - before) * (K.take(self._i1, axis=1) - K.take(self._i0, axis=1))
        C_dense = per_path(self._d_path, over, P)
        C, days_alive = C_dense, per_path(self._d_path, alive, P)
        if split is None:
            late_alive, C_early = days_alive, C_dense
        else:  # a bin past the paths takes the segments of the other part
            late_alive = per_path(np.where(self._d_d0 >= split, self._d_path, P), alive, P + 1)[:, :P]
            C_early = per_path(np.where(self._d_d0 < split, self._d_path, P), over, P + 1)[:, :P]
        if len(self._s_path):
            hs = rate.take(self._s_state, axis=1) * self._s_x[None, :]
            n = self._s_days[None, :]
            over_s = n * hs
            # (1 - e^{-nh}) / (1 - e^{-h}): 1 for one day; else the denominator is the state's (x = 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                per_state = np.expm1(-rate)
                many = self._s_days > 1
                ratio = np.ones_like(hs)
                r_many = hs[:, many]
                ratio[:, many] = np.where(r_many > 0, np.expm1(-n[:, many] * r_many) / per_state.take(self._s_state[many], axis=1),
                                          n[:, many])
            before_s = C_dense.take(self._s_path, axis=1) + _before(over_s, self._s_first)
            alive_s = np.exp(-before_s - 0.5 * hs) * (self._s_x[None, :] * ratio)
            C = C_dense + per_path(self._s_path, over_s, P)
            s_alive = per_path(self._s_path, alive_s, P)
            days_alive = days_alive + s_alive
            late_alive = late_alive + s_alive
        return C, C_early, days_alive, late_alive


def _first_of_path(path: np.ndarray) -> np.ndarray:
    """For each segment (path-major), the index of its path's first segment."""
    if not len(path):
        return np.zeros(0, dtype=np.int64)
    first = np.ones(len(path), dtype=bool)
    first[1:] = path[1:] != path[:-1]
    starts = np.flatnonzero(first)
    return np.repeat(starts, np.diff(np.append(starts, len(path))))


def _before(over: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per run and segment, the sum of ``over`` of the segments before it in its path (path-major)."""
    before = np.cumsum(over, axis=1) - over  # over the segments before, of every path
    before -= before.take(first, axis=1)  # ... within the segment's own path
    return before
