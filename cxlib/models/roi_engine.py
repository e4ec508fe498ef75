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

Two more savings (issue 16), neither an approximation. From day ``W + early_days`` on, the
future bad experiences' means are steady (the window holds only settled days of full
exposure), so every state's hazard per unit of exposure is constant there: the tables are
built over the first ``W + early_days + 1`` days only (about a quarter of a year's horizon),
and a segment in the steady zone is one geometric sum (:class:`cxlib.models.roi_paths.Segments`).
And :meth:`Engine.run_many` stacks the runs of many draws and scenarios on one array axis,
in small batches, so each numpy call does several runs' work; a run's numbers are the same
alone or stacked (``tests/models/test_roi_paths.py``). Against the engine before these changes
(day by day over the whole horizon, one run at a time) the values agree to floating-point
rounding (about 1e-11 relative on the retained revenue of the default scenarios at 100,000
customers; the same seed gives the same draws).

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
    class_shifts_all,
    class_weights,
    effective_bands,
    engagement_shift,
    engagement_weights,
    has_engagement,
    log_baseline,
    log_baselines,
    touchpoint_log_hrs,
)
from cxlib.models.roi_paths import Segments, unique_rows

__all__ = [
    "MIN_BAND_EVENTS",
    "MONTH_DAYS",
    "Engine",
    "Inputs",
    "class_shifts",
    "class_shifts_all",
    "class_weights",
    "effective_bands",
    "engagement_shift",
    "engagement_weights",
    "has_engagement",
    "log_baseline",
    "log_baselines",
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
        small = max(int(grp.max(initial=0)), int(tau.max(initial=0)), self.cap) < 2**15
        key = np.empty((len(k_rows), 2 + 2 * self.Wk), dtype=np.int16 if small else np.int32)  # compact: a million rows
        key[:, 0], key[:, 1], key[:, 2:2 + self.Wk], key[:, 2 + self.Wk:] = grp[k_rows], tau[k_rows], ku, kr
        del ku, kr
        if len(key):
            key, group = unique_rows(key)
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
        cell, size = grp[rest] * (self.tau_max + 1) + tau[rest], n_grp * (self.tau_max + 1)  # as np.add.at sums
        self.V = np.bincount(cell, weights=value[rest], minlength=size).reshape(n_grp, self.tau_max + 1)
        self.N = np.bincount(cell, minlength=size).astype(float).reshape(n_grp, self.tau_max + 1)
        self.n_customers = len(cust)
        self.n_known = len(k_rows)

        # the paths as segments of constant state (see the module docstring)
        E1, C1 = self.early + 1, self.cap + 1
        base_code = (np.arange(n_grp)[:, None, None] * self.n_band + self.band[None, :, :]) * E1 \
            + self.mu_class[None, :, None]  # group × tau × day: state (group, band, rate class) without known counts
        # from day W + early_days on, the future bad experiences' means are steady (the window holds
        # only settled days of full exposure): every state's hazard is constant there (per unit of
        # exposure), and the segments in it are summed in closed form (roi_paths.Segments)
        self.dense_days = int(min(self.n_days, self.W + self.early + 1))
        self._common = Segments(base_code.reshape(n_grp * (self.tau_max + 1), self.n_days), split_at=(self.Wk,),
                                dense_days=self.dense_days, x=self.x)
        self._common_late = self._common.d0 >= self.Wk
        sc = self._common.state_codes
        self._common_state = (sc // E1 // self.n_band, sc // E1 % self.n_band, sc % E1)  # group, band, rate class
        if self.n_groups:
            known_code = ((base_code[self.k_group, self.k_tau, : self.Wk] * C1 + k_u) * C1 + k_r)
            # groups whose states agree day by day over the window share that part of the path
            # (they differ only in tenure beyond it, which the common path's tail carries)
            window_paths, self._window_path = unique_rows(known_code)
            self._window_path = self._window_path.ravel()
            self._known = Segments(window_paths)
            kc = self._known.state_codes
            kr_, rest_ = kc % C1, kc // C1
            ku_, rest_ = rest_ % C1, rest_ // C1
            self._known_state = (rest_ // E1 // self.n_band, rest_ // E1 % self.n_band, rest_ % E1, ku_, kr_)
        self.n_segments = len(self._common.path) + (len(self._known.path) if self.n_groups else 0)

    def _counts(self, n_rows: int, start, stop, rows) -> np.ndarray:
        """Known counts per row and day 0..Wk-1: +1 on days start..stop (relative, inclusive), capped.

        In 16-bit integers when no row has 2^15 events (a million customers' rows × window days
        in int64 were 0.3 GB each, and fresh memory costs time), the changes added per distinct cell.
        """
        W1 = self.Wk + 1
        lo = np.clip(start, 0, self.Wk)
        hi = np.clip(stop + 1, 0, self.Wk)
        ok = hi > lo
        rows, lo, hi = rows[ok], lo[ok], hi[ok]
        dtype = np.int16 if not len(rows) or np.bincount(rows).max() < 2**15 else np.int64
        delta = np.zeros(n_rows * W1, dtype=dtype)
        for day, sign in ((lo, 1), (hi, -1)):
            cell, n = np.unique(rows * W1 + day, return_counts=True)
            delta[cell] += (sign * n).astype(dtype)
        out = np.cumsum(delta.reshape(n_rows, W1)[:, : self.Wk], axis=1, dtype=dtype)
        return np.minimum(out, self.cap, out=out)

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
        """
        mu = np.asarray(mu, dtype=float)
        T = self._tables(mu.T[None], np.array([log_hr]), np.array([log_hr if log_hr_known is None else log_hr_known]))
        return T[0].reshape(mu.shape[1], self.cap + 1, mu.shape[0]).transpose(2, 1, 0)

    def _tables(self, mu: np.ndarray, log_hr: np.ndarray, log_hr_known: np.ndarray) -> np.ndarray:
        """:meth:`multiplier_table` of each run, day-major: ``mu`` runs × days × rows → runs × days × ((cap + 1) · rows).

        Column ``k · rows + row`` of day ``d`` is ``F[row, k, d]``; ``log_hr_known``: the ratio of
        the known ones (equal to ``log_hr`` where they have the future ones' ratio).
        """
        R, n, rows = mu.shape
        cap = self.cap
        out = np.empty((R, n, cap + 1, rows))
        if not cap:
            out[:, :, 0] = 1.0
            return out.reshape(R, n, rows)
        # F[k] = HR_k^k · (Σ_{x<m} HR^x P(X = x) + P(X >= m) · HR^m), m = cap - k: sums over x < m,
        # accumulated once for m = 1 … cap
        lh = np.asarray(log_hr, dtype=float)[:, None, None]
        lk = np.asarray(log_hr_known, dtype=float)[:, None, None]
        pmf = np.exp(-mu)  # P(X = 0)
        below = np.zeros_like(mu)  # Σ_{x<m} HR^x P(X = x)
        mass = np.zeros_like(mu)  # P(X < m)
        out[:, :, cap] = np.exp(lk * cap)  # m = 0: every known one counts, none of the future ones
        for m in range(1, cap + 1):
            x = m - 1
            if x:
                pmf *= mu
                pmf /= x
            below += np.exp(lh * x) * pmf
            mass += pmf
            k = cap - m
            out[:, :, k] = np.exp(lk * k) * (below + np.clip(1.0 - mass, 0.0, 1.0) * np.exp(lh * m))
        return out.reshape(R, n, (cap + 1) * rows)

    def daily_hazards(self, inp: Inputs) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected hazard of each day times the day's exposure, per state of the paths (states × days).

        ``common``: the states (group, band, future-rate class) of customers without a known bad
        experience, over the whole horizon; ``known``: the states with known counts, over the
        first ``Wk`` days (after that a known customer's path is the common one).
        """
        common, rate, known = self._hazards([inp])
        steady = rate[0][:, None] * self.x[None, self.dense_days:]
        return np.hstack([common[0].T, steady]), None if known is None else known[0].T

    def _hazards(self, inps: list) -> tuple[np.ndarray, np.ndarray | None]:
        """The daily hazards of several runs, day-major: runs × dense days × states (common), the common states'
        steady rate (runs × states) and runs × Wk × states (known)."""
        means = [self.class_means(inp) for inp in inps]
        hrs = np.array([self.pooled_log_hrs(inp) for inp in inps], dtype=float).reshape(len(inps), 2)
        kn = [self.known_log_hrs(inp) for inp in inps]
        known_hrs = np.array([[h if k is None else k for h, k in zip(hr, ks)] for hr, ks in zip(hrs, kn)],
                             dtype=float).reshape(len(inps), 2)
        D = self.dense_days
        Tu = self._tables(np.stack([m[0][:, :D].T for m in means]), hrs[:, 0], known_hrs[:, 0])
        Tr = self._tables(np.stack([m[1][:, :D].T for m in means]), hrs[:, 1], known_hrs[:, 1])
        a = np.exp(np.stack([self.group_log_a(inp) for inp in inps]))
        s, b, c = self._common_state
        c = self._f_row(s, c)
        common = a[:, s, b][:, None, :] * Tu[:, :, c] * Tr[:, :, c]  # per unit of exposure
        rate = common[:, -1].copy()  # the last dense day is steady: the rate of the days after it
        common *= self.x[None, : self.dense_days, None]
        known = None
        if self.n_groups:
            s, b, c, ku, kr = self._known_state
            c = self._f_row(s, c)
            rows = Tu.shape[2] // (self.cap + 1)
            Wk = self.Wk
            known = a[:, s, b][:, None, :] * Tu[:, :Wk, ku * rows + c] * Tr[:, :Wk, kr * rows + c]
            known *= self.x[None, :Wk, None]
        return common, rate, known

    def _totals(self, common: np.ndarray, rate: np.ndarray, known: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Value-weighted months and survivors, per run, from the day-major daily hazards of the states.

        No matrix product here: a BLAS product this small spreads over threads, which on a shared
        machine waits for them (a vector product took 14 ms against 0.1 ms for the sum).
        """
        seg = self._common
        R = common.shape[0]
        shape = (R,) + self.V.shape
        C_end, C_w, days_alive, late_alive = seg.path_sums(common, self.x, rate, split=self.Wk)
        value_months = (days_alive * self.V.ravel()).sum(axis=1) / MONTH_DAYS
        survivors = (np.exp(-C_end) * self.N.ravel()).sum(axis=1)
        if self.n_groups:
            # alive from day Wk on, per unit survival at its start (the common path restarted there)
            tail = (late_alive * np.exp(C_w)).reshape(shape)
            lam, _, alive, _ = self._known.path_sums(known, self.x[: self.Wk])
            wp = self._window_path
            alive_w, lam_w = alive.take(wp, axis=1), lam.take(wp, axis=1)
            s, t = self.k_group, self.k_tau
            months_k = (alive_w + np.exp(-lam_w) * tail[:, s, t]) / MONTH_DAYS
            surv_k = np.exp(-lam_w - (C_end - C_w).reshape(shape)[:, s, t])
            value_months = value_months + (months_k * self.k_value).sum(axis=1)
            survivors = survivors + (surv_k * self.k_count).sum(axis=1)
        return value_months, survivors

    #: the most state-days (of every run stacked) in one batch of :meth:`run_many` (about 3 MB per array: larger ones cost more in fresh memory than they save)
    BATCH_CELLS = 400_000

    def run(self, inp: Inputs) -> tuple[float, float]:
        """Expected value-weighted months retained over the horizon, and expected survivors at its end.

        Within a day the hazard is constant, so the time alive in it is ``x·exp(-C - h·x/2)``
        to second order (midpoint rule; the error is below 1e-6 of a day for daily hazards of
        churn).
        """
        v, s = self.run_many([inp])
        return float(v[0]), float(s[0])

    def run_many(self, inps: list, progress=None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`run` of each of ``inps`` (draws × scenarios), their runs stacked in small batches.

        Stacking makes each numpy call do several runs' work; a run's arithmetic is the same
        alone or stacked. ``progress``: called with the number of runs done after each batch.
        """
        cells = len(self._common.state_codes) * self.dense_days + \
            (len(self._known.state_codes) * self.Wk if self.n_groups else 0)
        size = max(1, int(self.BATCH_CELLS // max(cells, 1)))
        value_months = np.empty(len(inps))
        survivors = np.empty(len(inps))
        for i in range(0, len(inps), size):
            part = inps[i:i + size]
            value_months[i:i + len(part)], survivors[i:i + len(part)] = self._totals(*self._hazards(part))
            if progress is not None:
                progress(len(part))
        return value_months, survivors

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
        common, rate, known = self._hazards([inp])
        c = np.repeat(common, len(M), axis=0)
        c[:, :Wk, :] *= M[:, :, None]
        return self._totals(c, np.repeat(rate, len(M), axis=0), None if known is None else known * M[:, :, None])

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
