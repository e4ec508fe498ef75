"""The ROI's closed form: expected months retained by a base of customers, in numbers only.

The fitted :class:`cxlib.models.churn.ChurnModel` says that on a day ``d`` a customer's hazard is::

    h(d) = a(segment, tenure band of d) × HR_u^min(U(d), cap) × HR_r^min(R(d), cap)

with ``U(d)``, ``R(d)`` the unresolved and resolved bad experiences of the trailing window
(design.md's definitions). Over the horizon, ``U`` and ``R`` have two parts:

* **known**: the bad experiences each customer already had before ``as_of`` and whose window
  reaches into the horizon, with their resolution as known at ``as_of``. They are read from
  the data, customer by customer, and are the same in every scenario;
* **future**: bad experiences that have not happened yet. Measured rates give ``λ`` bad
  experiences per customer-day (per touchpoint, separately for the first ``early_days`` of
  tenure, so one-off touchpoints such as onboarding are not spread over the whole base);
  each is resolved with probability ``q = contact share × resolution rate`` (both measured
  among bad experiences whose resolution window had closed), on ``δ`` days after it, ``δ``
  drawn from the measured resolution delays (0 … ``resolution_days``).

**Engagement classes** (a model adjusted for engagement, ``ChurnModel(engagement=True)``, the
default). Customers differ in usage, and usage moves both sides of the ROI: a heavy user meets
more bad experiences (more touches) *and* has a lower baseline hazard (the model's
experience-rate and window-count bands). Giving every customer the base's mean rate and mean
baseline puts the many bad experiences of the heavy users on the high baseline of the light
ones, so a fix was overvalued (on the confounded world of ``tests/analyses/test_roi_truth.py``
by about 40% for resolution and 30% for a delivery fix; with the classes about 20% and 10%,
within the realised intervals). So each active customer has an
engagement class ``c`` (:func:`cxlib.features.roi_inputs.engagement_classes`: their
experience-rate band at ``as_of``, bands grouped into at most six classes; class 0, no rate
yet, is a customer of unknown usage), and per class:

* the baseline ``a(segment, band) · exp(s_c)``, ``s_c`` the log of the exposure-weighted mean
  hazard ratio of the model's cells (rate band × window-count band) of the class's bands in the
  model's panel (:func:`class_shifts`; class 0: all cells, the base's mix). It moves with each
  draw of the coefficients. A customer's cell is the same in every scenario (a scenario turns
  bad experiences into good ones, or unresolved into resolved, never changes the number of
  experiences), so the shift is too;
* the future bad experiences arrive at ``λ·r_c``, ``r_c`` the class's measured relative rate
  (bad experiences per customer-day spent in its bands, each day's band known from the past
  only, over the base's settled rate; the same in every draw); a scenario's cut of ``λ``
  scales every class alike. The known bad experiences are each customer's own, as before.

The class is the band at ``as_of``, kept over the horizon (usage changes slowly; a class-0
customer keeps the base's mix). Without the adjustment there is one class with ``s = 0``,
``r = 1``: the engine is then exactly what it was without classes.

The future bad experiences form a Poisson process in time, each marked *resolved on lag δ* or
*never resolved*. By design.md's rule an experience of day ``e`` counts as unresolved on days
``e+1 … e+δ`` and resolved on ``e+δ+1 … e+W``. On day ``d`` an experience of day ``e`` is
therefore unresolved with probability ``P_U(L) = (1-q) + q·P(δ ≥ L)`` and resolved with
``P_R(L) = q·P(δ ≤ L-1)``, ``L = d - e``. Marking (thinning) a Poisson process
independently gives independent Poisson processes, so the future parts of ``U(d)`` and ``R(d)``
are **independent Poisson** counts with means::

    μ_U(d) = Σ_e λ(e) P_U(d-e),     μ_R(d) = Σ_e λ(e) P_R(d-e)     (1 ≤ d-e ≤ W)

and the expected hazard multiplier, with ``k_u``, ``k_r`` the known counts, is **exactly**::

    E[HR_u^min(k_u+X_u, cap)] · E[HR_r^min(k_r+X_r, cap)],   X ~ Poisson(μ)

each a finite sum over the Poisson probabilities (the cap makes the tail one term). Without
the cap, without known counts and in steady state (``d > W``) this is the probability
generating function of the two Poisson counts::

    exp(λ[(W(1-q) + q·E[δ])(HR_u - 1) + q(W - E[δ])(HR_r - 1)])

i.e. the hint's ``exp(λW[(1-q)(HR_u-1) + q(HR_r-1)])`` corrected for the ``E[δ]`` days an
eventually resolved experience spends unresolved first; the sums above keep both the timing
and the cap exactly (checked against simulated event paths in ``tests/analyses/test_roi.py``).

Expected survival is then ``S(t) = exp(-∫ E[h])``, and a customer's expected months retained
over the horizon is ``∫ S(t) dt / 30.4375``, valued at ``monthly_value``. This step is the one
approximation: ``E[exp(-Λ)] ≥ exp(-E[Λ])`` (Jensen), with a gap of about ``Var(Λ)/2`` — below
1% of the survival for churn rates of a few percent a month, and of second order on the
*difference* between two scenarios, which is what the ROI uses. ``tests/analyses/test_roi.py`` checks
the closed form against a brute-force Monte Carlo of future paths (timing and cap included),
and ``tests/analyses/test_roi_truth.py`` against the revenue actually retained in simulated worlds.

Why closed form rather than Monte Carlo: it has no simulation noise, so a scenario that
changes nothing retains exactly 0 and every draw of the uncertainty is one cheap pass.

How it is computed (why it is fast): the expected hazard of a customer on a day depends only
on the customer's **state** that day (segment, engagement class, tenure band, future-rate class,
known counts ``k_u``, ``k_r``) and on the day; segment and engagement class together form the
path's **group** (``segment · n_class + class``), so the classes multiply the states, and the
cost, by at most their number. A customer's path over the horizon is a few **segments** of
constant state (the known counts change when a known experience leaves the window, the band
when tenure crosses a band start). For a segment ``[d0, d1)`` of state ``σ``, with ``H_σ`` the
prefix sums of the state's daily hazard and ``K_σ`` those of the time alive in each day::

    cumulative hazard over it  = H_σ(d1) - H_σ(d0)
    days alive in it           = exp(-C(d0)) · exp(H_σ(d0)) · (K_σ(d1) - K_σ(d0))

so a run costs (states × days) for the tables plus one step per segment, whatever the number
of customers (before, it cost customers with a known bad experience × window days, plus
segments × tenure days × horizon days, per draw and scenario): customers with the same group, tenure and known counts share one path, and
the paths of customers without a known bad experience are one per group and tenure day.
These sums equal the day-by-day midpoint rule exactly (within a day the hazard is constant:
the time alive in it is ``x·exp(-C - h·x/2)``, ``x`` the day's exposure).

Units: days throughout (``horizon_days``, the window and the delays); :data:`MONTH_DAYS` turns
days into months. Nothing here formats or draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxlib.exceptions import DataError
from cxlib.features import panel as _panel
from cxlib.features.roi_inputs import MONTH_DAYS, Measured
from cxlib.models.roi_baseline import (
    MIN_BAND_EVENTS,
    class_shifts,
    class_weights,
    effective_bands,
    engagement_shift,
    engagement_weights,
    has_engagement,
    log_baseline,
)

__all__ = [
    "MIN_BAND_EVENTS",
    "MONTH_DAYS",
    "Engine",
    "Inputs",
    "class_shifts",
    "class_weights",
    "effective_bands",
    "engagement_shift",
    "engagement_weights",
    "has_engagement",
    "log_baseline",
    "pooled_hr",
    "pooled_terms",
    "touchpoint_log_hrs",
]


@dataclass
class Inputs:
    """What one evaluation needs: coefficients and rates (one draw, one scenario)."""

    log_a: np.ndarray  # segments × bands: log daily hazard without bad experiences
    log_hr_u: float
    log_hr_r: float
    lam_early: float  # bad experiences per customer-day, first early_days of tenure
    lam_settled: float
    q: float  # P(a bad experience gets resolved)
    delay: np.ndarray  # P(δ = 0..R | resolved)
    # per-touchpoint effects (a model with by_touchpoint): log HRs (touchpoints × unresolved, resolved)
    # and the scenario's settled rate of each touchpoint, which weighs them; None: log_hr_u/r as given
    log_hr_tp: np.ndarray | None = None
    lam_tp: np.ndarray | None = None
    # the settled rates that weigh the per-touchpoint effects of the *known* bad experiences: the
    # base's (the past is the same in every scenario); None: lam_tp
    lam_tp_known: np.ndarray | None = None
    # engagement classes (an engine built on a base with classes): each class's log baseline shift,
    # added to log_a, and its relative rate of future bad experiences r_c (λ·r_c); None: 0 and 1
    log_shift: np.ndarray | None = None
    class_rate: np.ndarray | None = None


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


class _Segments:
    """Paths as runs of constant state: ``path``, ``state``, ``d0``, ``d1`` per segment, path-major, in time order."""

    def __init__(self, codes: np.ndarray, split_at: int | None = None):
        """``codes``: paths × days, the state code of each day; a segment also starts at ``split_at``."""
        n_paths, n_days = codes.shape
        starts = np.ones(codes.shape, dtype=bool)
        starts[:, 1:] = codes[:, 1:] != codes[:, :-1]
        if split_at is not None and 0 < split_at < n_days:
            starts[:, split_at] = True
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
        # flat indices into the states × (days + 1) prefix sums, computed once
        self._i0 = self.state * (n_days + 1) + self.d0
        self._i1 = self.state * (n_days + 1) + self.d1

    def sums(self, h: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per segment: cumulative hazard before it (within its path), over it, and days alive in it per unit survival.

        ``h``: states × days, the hazard of each day times its exposure ``x``.
        """
        n_states, n_days = h.shape
        H = np.zeros((n_states, n_days + 1))
        np.cumsum(h, axis=1, out=H[:, 1:])
        K = np.zeros_like(H)
        np.cumsum(x[None, :n_days] * np.exp(-H[:, :-1] - 0.5 * h), axis=1, out=K[:, 1:])
        H, K = H.ravel(), K.ravel()
        h0 = H.take(self._i0)
        over = H.take(self._i1) - h0
        alive = np.exp(h0) * (K.take(self._i1) - K.take(self._i0))
        before = np.cumsum(over) - over  # cumulative over the segments before, of every path
        before -= before.take(self.path_first)  # ... within the segment's own path
        return before, over, alive


class Engine:
    """Precomputed structure of the base; :meth:`run` gives expected months and survivors.

    ``horizon_days``: the horizon in days (the engine's unit; :mod:`cxlib.analyses.roi` takes months).
    """

    def __init__(self, measured: Measured, model, horizon_days: float):
        self.W = measured.window_days
        self.R = measured.resolution_days
        self.cap = int(model.count_cap)
        self.early = measured.early_days
        as_of = measured.as_of
        f0 = (as_of - as_of.normalize()) / pd.Timedelta(days=1)
        self.n_days = int(math.ceil(f0 + horizon_days - 1e-9))
        d = np.arange(self.n_days, dtype=float)
        self.x = np.clip(np.minimum(d + 1, f0 + horizon_days) - np.maximum(d, f0), 0.0, 1.0)  # exposure per day
        self.y = np.where(d == 0, 1.0 - f0, 1.0)  # share of each day in which future experiences can happen

        self.segments = list(model.segments_)
        seg_index = {s: i for i, s in enumerate(self.segments)}
        cust = measured.customers
        unknown = set(cust["segment"]) - set(seg_index)
        if unknown:
            raise DataError(f"segment(s) {sorted(unknown)} of active customers are not in the churn model")
        self.band_starts = np.asarray(_panel._check_bands(model.tenure_bands))
        self.tau_max = int(max(self.band_starts[-1], self.early))
        seg = cust["segment"].map(seg_index).to_numpy()
        # engagement classes (roi_inputs.engagement_classes): a path's group is (segment, class)
        classes = getattr(measured, "classes", None)
        has_class = classes is not None and "engagement_class" in cust
        self.n_class = int(len(classes)) if has_class else 1
        cls = cust["engagement_class"].to_numpy(dtype=np.int64) if has_class else np.zeros(len(cust), dtype=np.int64)
        if len(cls) and (cls.min() < 0 or cls.max() >= self.n_class):
            raise DataError(f"engagement classes must be 0 … {self.n_class - 1}")
        grp = seg * self.n_class + cls
        tau = np.minimum(cust["tenure_day"].to_numpy(), self.tau_max)
        value = cust["monthly_value"].to_numpy(dtype=float)
        taus = np.arange(self.tau_max + 1)
        self.band = np.searchsorted(self.band_starts, taus[:, None] + np.arange(self.n_days)[None, :], side="right") - 1
        self.n_band = int(self.band.max()) + 1
        self.mu_class = np.minimum(taus, self.early)  # customers settled after early_days share the future rates

        # customers with a known bad experience reaching into the horizon
        self.Wk = min(self.W + 1, self.n_days)
        kn = measured.known
        kn = kn[kn["e"] + self.W >= 0]
        pos = pd.Index(cust["customer_id"]).get_indexer(kn["customer_id"])
        kn = kn[pos >= 0]
        pos = pos[pos >= 0]
        has = np.zeros(len(cust), dtype=bool)
        has[pos] = True
        k_rows = np.flatnonzero(has)
        row_of = np.full(len(cust), -1)
        row_of[k_rows] = np.arange(len(k_rows))
        e = kn["e"].to_numpy()
        c = kn["c"].to_numpy()
        resolved = ~np.isnan(c) & (c <= 0)  # known at as_of: resolved on a day before as_of's day (or that day)
        c_int = np.where(resolved, c, e + self.W).astype(np.int64)
        rows = row_of[pos]
        ku = self._counts(len(k_rows), e + 1, c_int, rows)
        kr = self._counts(len(k_rows), c_int[resolved] + 1, e[resolved] + self.W, rows[resolved])
        # Customers with the same segment, class, tenure and day-by-day known counts share their
        # expected path exactly: one row per such group, weighted by its value and its size.
        key = np.column_stack([grp[k_rows], tau[k_rows], ku, kr]).astype(np.int32)
        if len(key):
            key, group = _unique_rows(key)
            group = group.ravel()
        else:
            group = np.zeros(0, dtype=np.int64)
        self.k_group, self.k_tau = key[:, 0].astype(np.int64), key[:, 1].astype(np.int64)
        k_u, k_r = key[:, 2:2 + self.Wk].astype(np.int64), key[:, 2 + self.Wk:].astype(np.int64)
        self.k_value = np.bincount(group, weights=value[k_rows], minlength=len(key))
        self.k_count = np.bincount(group, minlength=len(key)).astype(float)
        self.n_groups = len(key)
        self.horizon_days = float(horizon_days)
        # per customer, for the Monte Carlo of what is actually retained (process_noise)
        self.seg, self.tau, self.value = seg, tau, value
        self.cls, self.group = cls, grp
        self.known_events = (pos, e, np.where(resolved, c, np.nan))

        # everyone else, grouped by segment, engagement class and tenure class
        rest = ~has
        n_grp = len(self.segments) * self.n_class
        self.V = np.zeros((n_grp, self.tau_max + 1))
        self.N = np.zeros_like(self.V)
        np.add.at(self.V, (grp[rest], tau[rest]), value[rest])
        np.add.at(self.N, (grp[rest], tau[rest]), 1.0)
        self.n_customers = len(cust)
        self.n_known = len(k_rows)

        # the paths as segments of constant state (see the module docstring)
        E1, C1 = self.early + 1, self.cap + 1
        base_code = (np.arange(n_grp)[:, None, None] * self.n_band + self.band[None, :, :]) * E1 \
            + self.mu_class[None, :, None]  # group × tau × day: state (group, band, rate class) without known counts
        self._common = _Segments(base_code.reshape(n_grp * (self.tau_max + 1), self.n_days), split_at=self.Wk)
        self._common_late = self._common.d0 >= self.Wk
        sc = self._common.state_codes
        self._common_state = (sc // E1 // self.n_band, sc // E1 % self.n_band, sc % E1)  # group, band, rate class
        if self.n_groups:
            known_code = ((base_code[self.k_group, self.k_tau, : self.Wk] * C1 + k_u) * C1 + k_r)
            # groups whose states agree day by day over the window share that part of the path
            # (they differ only in tenure beyond it, which the common path's tail carries)
            window_paths, self._window_path = _unique_rows(known_code)
            self._window_path = self._window_path.ravel()
            self._known = _Segments(window_paths)
            kc = self._known.state_codes
            kr_, rest_ = kc % C1, kc // C1
            ku_, rest_ = rest_ % C1, rest_ // C1
            self._known_state = (rest_ // E1 // self.n_band, rest_ // E1 % self.n_band, rest_ % E1, ku_, kr_)
        self.n_segments = len(self._common.path) + (len(self._known.path) if self.n_groups else 0)

    def _counts(self, n_rows: int, start, stop, rows) -> np.ndarray:
        """Known counts per row and day 0..Wk-1: +1 on days start..stop (relative, inclusive), capped."""
        arr = np.zeros((n_rows, self.Wk + 1), dtype=np.int64)
        lo = np.clip(start, 0, self.Wk)
        hi = np.clip(stop + 1, 0, self.Wk)
        ok = hi > lo
        np.add.at(arr, (rows[ok], lo[ok]), 1)
        np.add.at(arr, (rows[ok], hi[ok]), -1)
        return np.minimum(np.cumsum(arr, axis=1)[:, : self.Wk], self.cap)

    # -- pieces ------------------------------------------------------------------------
    def group_log_a(self, inp: Inputs) -> np.ndarray:
        """log daily hazard without bad experiences per group (segment × class, ``segment·n_class + class``) and band."""
        if inp.log_shift is None and self.n_class == 1:
            return inp.log_a
        shift = np.zeros(self.n_class) if inp.log_shift is None else np.asarray(inp.log_shift, dtype=float)
        if shift.shape != (self.n_class,):
            raise ValueError(f"log_shift must have one value per engagement class ({self.n_class}), not {shift.shape}")
        la = np.asarray(inp.log_a, dtype=float)
        return (la[:, None, :] + shift[None, :, None]).reshape(la.shape[0] * self.n_class, la.shape[1])

    def group_rate(self, inp: Inputs) -> np.ndarray:
        """The relative rate of future bad experiences of each group (its class's ``r_c``)."""
        r = np.ones(self.n_class) if inp.class_rate is None else np.asarray(inp.class_rate, dtype=float)
        if r.shape != (self.n_class,):
            raise ValueError(f"class_rate must have one value per engagement class ({self.n_class}), not {r.shape}")
        return np.tile(r, len(self.segments))

    def class_means(self, inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
        """μ_U, μ_R per (engagement class, future-rate class): row ``class·(early_days + 1) + k``, and day.

        The future bad experiences of class ``c`` are the Poisson process of rate ``λ·r_c``: its
        means are ``r_c`` times those of :meth:`future_means` (linear in ``λ``).
        """
        mu_u, mu_r = self.future_means(inp)
        if inp.class_rate is None and self.n_class == 1:
            return mu_u, mu_r
        r = self.group_rate(inp)[: self.n_class]
        return tuple((r[:, None, None] * m[None]).reshape(self.n_class * m.shape[0], m.shape[1]) for m in (mu_u, mu_r))

    def _f_row(self, group: np.ndarray, rate_class: np.ndarray) -> np.ndarray:
        """The row of :meth:`class_means` (and of the multiplier tables) of a state's group and rate class."""
        if self.n_class == 1:
            return rate_class
        return group % self.n_class * (self.early + 1) + rate_class

    def lag_probs(self, q: float, delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(unresolved), P(resolved) on lag L = 0..W of an experience (lag 0: not counted yet)."""
        lag = np.arange(self.W + 1)
        cdf = np.cumsum(delay)  # P(δ <= k)
        p_le = np.where(lag - 1 >= 0, cdf[np.clip(lag - 1, 0, len(cdf) - 1)], 0.0)  # P(δ <= L-1)
        p_le = np.where(lag - 1 >= len(cdf) - 1, 1.0, p_le)
        pu = (1.0 - q) + q * (1.0 - p_le)
        pr = q * p_le
        pu[0] = pr[0] = 0.0
        return pu, pr

    def future_means(self, inp: Inputs) -> tuple[np.ndarray, np.ndarray]:
        """μ_U, μ_R per future-rate class (tenure 0..early_days) and day."""
        pu, pr = self.lag_probs(inp.q, inp.delay)
        n, E = self.n_days, self.early
        # class k has rate λ_early on days e < E - k, λ_settled after: the convolution is
        # λ_settled · (y * p) plus (λ_early - λ_settled) · the first E - k terms of y * p
        out = []
        for p in (pu, pr):
            full = np.convolve(self.y, p)[:n]
            first = np.zeros((E + 1, n))  # first[m]: Σ_{e < m} y[e] p[d - e]
            for e in range(min(E, n)):
                stop = min(n, e + len(p))
                first[e + 1] = first[e]
                first[e + 1, e:stop] += self.y[e] * p[: stop - e]
            first[min(E, n) + 1:] = first[min(E, n)]  # a horizon shorter than early_days
            out.append(inp.lam_settled * full[None, :] + (inp.lam_early - inp.lam_settled) * first[E - np.arange(E + 1)])
        return out[0], out[1]

    @staticmethod
    def pooled_log_hrs(inp: Inputs) -> tuple[float, float]:
        """The log HRs of one future bad experience, pooled over touchpoints by the scenario's rates.

        With per-touchpoint effects, the future bad experiences of touchpoint ``t`` are an
        independent Poisson process of rate ``λ_t`` with its own HR ``h_t``. Below the cap, the
        expected multiplier of independent Poisson counts is ``Π exp(μ_t (h_t − 1)) =
        exp(μ (h̄ − 1))`` with ``μ = Σ μ_t`` and ``h̄ = Σ λ_t h_t / Σ λ_t``: one Poisson count with
        the rate-weighted HR, exact when the touchpoints share the timing of their rates. So a
        fix of touchpoint ``t`` is valued with ``h_t``: cutting ``λ_t`` moves ``h̄`` towards the
        other touchpoints' effects. Known bad experiences take ``h̄`` of the base's rates
        (:meth:`known_log_hrs`): they have happened, the same in every scenario, so a cut must not
        move their effect (it did: a delivery fix lowered the ratio of every known bad experience,
        and was overvalued by that).
        """
        if inp.log_hr_tp is None:
            return inp.log_hr_u, inp.log_hr_r
        lam = np.asarray(inp.lam_tp, dtype=float)
        total = lam.sum()
        w = lam / total if total > 0 else np.full(len(lam), 1.0 / max(len(lam), 1))
        hr = np.exp(np.asarray(inp.log_hr_tp, dtype=float))
        return float(np.log(w @ hr[:, 0])), float(np.log(w @ hr[:, 1]))

    def known_log_hrs(self, inp: Inputs) -> tuple[float | None, float | None]:
        """Pooled log HRs of the known bad experiences (the base's rates), None where the future ones' equal them."""
        if inp.log_hr_tp is None or inp.lam_tp_known is None:
            return None, None
        known = self.pooled_log_hrs(Inputs(**{**inp.__dict__, "lam_tp": inp.lam_tp_known}))
        future = self.pooled_log_hrs(inp)
        return tuple(k if k != f else None for k, f in zip(known, future))

    def multiplier_table(self, mu: np.ndarray, log_hr: float, log_hr_known: float | None = None) -> np.ndarray:
        """F[class, k, d] = E[HR^min(k + X, cap)], X ~ Poisson(mu[class, d]), k = 0..cap.

        With ``log_hr_known`` the ``k`` known bad experiences have their own ratio:
        ``F = HR_k^k · E[HR^min(X, cap - k)]`` (the known ones first under the cap).

        Rows beyond ``early_days + 1`` (engagement classes) go in blocks of that many: the products
        stay as small as one class's, which BLAS runs on one thread (a larger one it spreads over
        threads, several times slower on a shared machine), with one class's arithmetic exactly.
        """
        block = self.early + 1
        if mu.shape[0] > block:
            return np.concatenate([self.multiplier_table(mu[i:i + block], log_hr, log_hr_known)
                                   for i in range(0, mu.shape[0], block)], axis=0)
        cap = self.cap
        pmf = np.empty((cap,) + mu.shape)  # x × class × day
        if cap:
            pmf[0] = np.exp(-mu)
            for x in range(1, cap):
                pmf[x] = pmf[x - 1] * mu / x
        hr_pow = np.exp(log_hr * np.arange(2 * cap + 1))
        k, x = np.arange(cap + 1)[:, None], np.arange(cap)[None, :]
        below = x < cap - k  # X < cap - k stays below the cap
        weight = np.where(below, hr_pow[np.minimum(k + x, 2 * cap)], 0.0)  # (cap + 1) × cap
        mass = np.tensordot(below.astype(float), pmf, axes=1)  # P(X < cap - k): (cap + 1) × class × day
        tail = hr_pow[cap]
        if log_hr_known is not None:
            n_known = np.arange(cap + 1)
            weight = np.where(below, np.exp(log_hr_known * k + log_hr * x), 0.0)
            tail = np.exp(log_hr_known * n_known + log_hr * (cap - n_known))[:, None, None]
        out = np.tensordot(weight, pmf, axes=1) + np.clip(1.0 - mass, 0.0, 1.0) * tail
        return out.transpose(1, 0, 2)

    def daily_hazards(self, inp: Inputs) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected hazard of each day times the day's exposure, per state of the paths.

        ``common``: the states (group, band, future-rate class) of customers without a known bad
        experience, over the whole horizon; ``known``: the states with known counts, over the
        first ``Wk`` days (after that a known customer's path is the common one).
        """
        mu_u, mu_r = self.class_means(inp)
        log_hr_u, log_hr_r = self.pooled_log_hrs(inp)
        known_u, known_r = self.known_log_hrs(inp)
        Fu = self.multiplier_table(mu_u, log_hr_u, known_u)
        Fr = self.multiplier_table(mu_r, log_hr_r, known_r)
        a = np.exp(self.group_log_a(inp))
        s, b, c = self._common_state
        c = self._f_row(s, c)
        common = a[s, b][:, None] * Fu[c, 0, :] * Fr[c, 0, :] * self.x[None, :]
        known = None
        if self.n_groups:
            s, b, c, ku, kr = self._known_state
            c = self._f_row(s, c)
            Wk = self.Wk
            known = a[s, b][:, None] * Fu[c, ku, :Wk] * Fr[c, kr, :Wk] * self.x[None, :Wk]
        return common, known

    def _totals(self, common: np.ndarray, known: np.ndarray | None) -> tuple[float, float]:
        """Value-weighted months and survivors from the daily hazards of the states."""
        seg = self._common
        before, over, alive = seg.sums(common, self.x)
        shape = self.V.shape
        w = np.exp(-before) * alive
        days_alive = np.bincount(seg.path, weights=w, minlength=seg.n_paths).reshape(shape)
        C_end = np.bincount(seg.path, weights=over, minlength=seg.n_paths).reshape(shape)
        value_months = float((self.V * days_alive).sum()) / MONTH_DAYS
        survivors = float((self.N * np.exp(-C_end)).sum())
        if self.n_groups:
            late = self._common_late
            C_w = np.bincount(seg.path[~late], weights=over[~late], minlength=seg.n_paths)
            # alive from day Wk on, per unit survival at its start (the common path restarted there)
            tail = np.bincount(seg.path[late], weights=np.exp(-(before[late] - C_w[seg.path[late]])) * alive[late],
                               minlength=seg.n_paths).reshape(shape)
            C_w = C_w.reshape(shape)
            k = self._known
            kb, ko, ka = k.sums(known, self.x[: self.Wk])
            wp = self._window_path
            alive_w = np.bincount(k.path, weights=np.exp(-kb) * ka, minlength=k.n_paths)[wp]
            lam_w = np.bincount(k.path, weights=ko, minlength=k.n_paths)[wp]
            s, t = self.k_group, self.k_tau
            months_k = (alive_w + np.exp(-lam_w) * tail[s, t]) / MONTH_DAYS
            surv_k = np.exp(-lam_w - (C_end - C_w)[s, t])
            value_months += float((self.k_value * months_k).sum())
            survivors += float((self.k_count * surv_k).sum())
        return value_months, survivors

    def run(self, inp: Inputs) -> tuple[float, float]:
        """Expected value-weighted months retained over the horizon, and expected survivors at its end.

        Within a day the hazard is constant, so the time alive in it is ``x·exp(-C - h·x/2)``
        to second order (midpoint rule; the error is below 1e-6 of a day for daily hazards of
        churn).
        """
        return self._totals(*self.daily_hazards(inp))

    def run_multiplied(self, inp: Inputs, multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`run` with every customer's hazard multiplied, day by day, by each row of ``multipliers``.

        ``multipliers``: K × ``Wk`` (days 0 … Wk-1 of the horizon; 1 after). Row k is what one
        more bad experience does to the hazard (its hazard ratio on the days it counts), so
        ``run(inp)`` minus row k's value is what that experience costs. Returns the value-weighted
        months and the survivors, one per row.
        """
        M = np.asarray(multipliers, dtype=float)
        Wk = self.Wk
        if M.ndim != 2 or M.shape[1] != Wk:
            raise ValueError(f"multipliers must be K × {Wk}, not {M.shape}")
        common, known = self.daily_hazards(inp)
        value_months = np.empty(len(M))
        survivors = np.empty(len(M))
        for k, m in enumerate(M):
            c = common.copy()
            c[:, :Wk] *= m[None, :]
            value_months[k], survivors[k] = self._totals(c, None if known is None else known * m[None, :])
        return value_months, survivors


def touchpoint_log_hrs(model, beta: pd.Series, touchpoints: list[str]) -> np.ndarray | None:
    """Touchpoints × (unresolved, resolved) log HRs of a per-touchpoint model for coefficients ``beta``.

    None for a model with pooled terms. A touchpoint without a term of its own (no bad
    experience of it when the model was fitted) takes the mean of the others.
    """
    if not getattr(model, "by_touchpoint", False):
        return None
    out = np.full((len(touchpoints), 2), np.nan)
    for i, tp in enumerate(touchpoints):
        for j, kind in enumerate(("unresolved", "resolved")):
            try:
                out[i, j] = float(beta[model.count_term(kind, tp)])
            except KeyError:
                pass
    means = np.nanmean(out, axis=0)
    return np.where(np.isnan(out), means[None, :], out)


def pooled_terms(model, beta: pd.Series, touchpoints: list[str], lam_tp) -> tuple[float, float, dict]:
    """(log HR unresolved, log HR resolved, extra Inputs fields) of one draw of the coefficients."""
    tp = touchpoint_log_hrs(model, beta, touchpoints)
    if tp is None:
        return float(beta["unresolved"]), float(beta["resolved"]), {}
    extra = {"log_hr_tp": tp, "lam_tp": np.asarray(lam_tp, dtype=float)}
    u, r = Engine.pooled_log_hrs(Inputs(log_a=np.zeros(0), log_hr_u=0.0, log_hr_r=0.0, lam_early=0.0,
                                        lam_settled=0.0, q=0.0, delay=np.zeros(1), **extra))
    return u, r, extra


def pooled_hr(model, beta: pd.Series, touchpoints: list[str], lam_tp, kind: str) -> float:
    """The pooled hazard ratio of ``kind`` for the result's record; NaN when the model could not estimate it."""
    missing = getattr(model, "not_estimable_", None) or {}
    if any(t.partition("[")[0] == kind for t in missing):
        return float("nan")
    u, r, _ = pooled_terms(model, beta, touchpoints, lam_tp)
    return float(np.exp(u if kind == "unresolved" else r))
