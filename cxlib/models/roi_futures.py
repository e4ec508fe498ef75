"""What a base of customers *actually* retains varies around its expectation: a Monte Carlo of that spread.

:func:`process_noise` draws futures of the base at the point estimates (future bad
experiences, their resolution and delay, a churn threshold), one set per distinct **known
history** rather than per customer, shared by the baseline and the scenarios (common random
numbers). :func:`cxlib.analyses.roi.evaluate` adds the covariance of the base's realised
difference from the baseline to the draws of the expected value: ``realised_low`` and
``realised_high``. Days throughout; numbers only.
"""

from __future__ import annotations

import math

import numpy as np

from cxlib.models.roi_engine import MONTH_DAYS, Engine, Inputs
from cxlib.models.roi_paths import sorted_unique_rows

__all__ = ["process_noise"]


def process_noise(engine: Engine, inp: Inputs, scenario_inputs: list, lam_tp: np.ndarray, cuts: list,
                   max_futures: int, rng: np.random.Generator, *, draws: int, expected_var=None, step_days: int = 7,
                   batch: int = 10, tol: float = 0.02, max_rows: int = 400_000) -> tuple[np.ndarray, int, int]:
    """What this base actually retains varies around its expectation: a Monte Carlo of that spread.

    A future of a customer (at the point estimates) draws its bad experiences (per
    touchpoint, Poisson), their resolution and delay, and a churn threshold ~ Exp(1); the churn
    time is where the cumulative hazard crosses it. Baseline and scenarios share every draw
    (common random numbers: a cut removes the experiences whose uniform falls below the cut,
    a resolution target resolves those whose uniform falls below ``q``). Counts are taken at
    the middle of ``step_days``-day steps.

    Customers are independent, and customers with the same **known history** — segment, the
    steps at which their tenure enters a new band, and their known bad experiences as the
    steps on which they count unresolved and resolved — have the same distribution of
    months retained. So the futures are drawn per distinct history, not per customer: the
    covariance (over scenarios) of a history's *difference* from the baseline, weighted by
    the sum of its customers' squared monthly values, summed over histories, is the
    covariance of the base's realised difference (a sum of many independent customers:
    normal).

    Importance sampling makes the cost independent of the number of histories too: each
    future is drawn for a history chosen with probability ``p_g`` proportional to its weight
    ``w_g``, so ``Σ_g w_g E_g[d d'] = (Σ w) · E_p[d d']`` is estimated by the mean of ``d d'``
    over the futures, times the total weight. This is the sum of the histories' second moments,
    not of their covariances: it exceeds the covariance by ``Σ_g w_g μ_g μ_g'`` (``μ_g`` a
    history's expected difference, tiny against its spread, since a difference is mostly 0 and
    now and then months), so the interval errs on the wide side by far less than the
    convergence tolerance.

    The histories are found by hashing each customer's key row and sorting only the distinct
    ones (:func:`cxlib.models.roi_paths.sorted_unique_rows`: ``np.unique``'s rows and order, so
    the same draws; it sorted all of a million customers' rows, several seconds).

    Futures are added ``batch × 1000`` at a time, up to ``max_futures`` per history on average,
    until the interval has converged: the spread of every scenario's realised value
    (``expected_var``, the variance of its expected value over the parameter draws, plus the
    process variance) moves by less than ``tol`` (relative) from one batch to the next.
    Returns ``draws`` residuals (draws × scenarios, NaN for scenarios that are not estimable)
    of the value-weighted months, the number of futures drawn and the number of histories.
    """
    W, cap, H = engine.W, engine.cap, engine.horizon_days
    n_steps = int(math.ceil(H / step_days))
    starts = np.arange(n_steps) * step_days
    length = np.minimum(starts + step_days, H) - starts
    mid = starts + 0.5 * length
    J = len(scenario_inputs)
    ok = np.array([q is not None for q in scenario_inputs], dtype=bool)
    out = np.full((int(draws), J), np.nan)
    if not ok.any() or max_futures < 1:
        return out, 0, 0

    # -- distinct known histories
    taus = np.arange(engine.tau_max + 1)
    band_rows = np.searchsorted(engine.band_starts, taus[:, None] + mid[None, :], side="right") - 1
    band_sig, tau_class = np.unique(band_rows, axis=0, return_inverse=True)
    tau_class = tau_class.ravel()
    n = len(engine.value)
    pos, ke, kc = engine.known_events
    kres = ~np.isnan(kc)
    kend = np.where(kres, kc, ke + W)
    lo_u = np.searchsorted(mid, ke + 1, side="left")
    hi_u = np.searchsorted(mid, kend, side="right")
    lo_r = np.searchsorted(mid, kend + 1, side="left")
    hi_r = np.where(kres, np.searchsorted(mid, ke + W, side="right"), lo_r)
    counts_u, counts_r = hi_u > lo_u, hi_r > lo_r
    live = counts_u | counts_r  # known events that still count on some step of the horizon
    S1 = n_steps + 1
    code = (((np.where(counts_u, lo_u, 0) * S1 + np.where(counts_u, hi_u, 0)) * S1
             + np.where(counts_r, lo_r, 0)) * S1 + np.where(counts_r, hi_r, 0))[live]
    p_live = pos[live]
    order = np.lexsort((code, p_live))
    p_live, code = p_live[order], code[order]
    per = np.bincount(p_live, minlength=n)
    width = int(per.max()) if len(per) else 0
    key = np.full((n, 2 + width), -1, dtype=np.int64)
    key[:, 0] = engine.group  # segment and engagement class
    key[:, 1] = tau_class[engine.tau]
    if width:
        first = np.concatenate([[0], np.cumsum(per)[:-1]])
        slot = np.arange(len(p_live)) - first[p_live]
        key[p_live, 2 + slot] = code
    hist, group = sorted_unique_rows(key)
    G = len(hist)
    weight = np.bincount(group, weights=engine.value ** 2, minlength=G)  # Σ value² per history
    U0 = np.zeros((G, S1), dtype=np.int64)
    R0 = np.zeros_like(U0)
    for col in range(width):
        c = hist[:, 2 + col]
        g = np.flatnonzero(c >= 0)
        c = c[g]
        hr, c = c % S1, c // S1
        lr, c = c % S1, c // S1
        hu, lu = c % S1, c // S1
        for arr, lo, hi in ((U0, lu, hu), (R0, lr, hr)):
            m = hi > lo
            np.add.at(arr, (g[m], lo[m]), 1)
            np.add.at(arr, (g[m], hi[m]), -1)
    log_base_g = engine.group_log_a(inp)[hist[:, 0][:, None], band_sig[hist[:, 1]]]  # G × steps
    rate_g = None if inp.class_rate is None else engine.group_rate(inp)[hist[:, 0]]  # λ·r_c of each history's class
    delay_cdf = np.cumsum(inp.delay)
    n_tp = len(lam_tp)
    qs = [inp.q] + [scenario_inputs[j] for j in np.flatnonzero(ok)]
    cut_list = [np.zeros(n_tp)] + [np.asarray(cuts[j]) for j in np.flatnonzero(ok)]

    def months(gid, events, q, cut, threshold):
        """Days retained over the horizon of each future (rows: one future of history ``gid``)."""
        rows_e, e, tp, u_keep, u_res, delta = events
        m = len(gid)
        U = U0[gid].copy()
        R = R0[gid].copy()
        kept = u_keep >= cut[tp]
        res = kept & (u_res < q)
        end = np.where(res, e + delta, e + W)
        for arr, sel, a, b in ((U, kept, e + 1, end), (R, res, end + 1, e + W)):
            lo = np.searchsorted(mid, a[sel], side="left")
            hi = np.searchsorted(mid, b[sel], side="right")
            good = hi > lo
            r = rows_e[sel][good]
            np.add.at(arr, (r, lo[good]), 1)
            np.add.at(arr, (r, hi[good]), -1)
        U = np.minimum(np.cumsum(U, axis=1)[:, :n_steps], cap)
        R = np.minimum(np.cumsum(R, axis=1)[:, :n_steps], cap)
        inc = np.exp(log_base_g[gid] + inp.log_hr_u * U + inp.log_hr_r * R) * length[None, :]
        C = np.cumsum(inc, axis=1)
        crossed = C[:, -1] >= threshold
        k = np.argmax(C >= threshold[:, None], axis=1)
        ar = np.arange(m)
        before = np.where(k > 0, C[ar, np.maximum(k - 1, 0)], 0.0)
        t = starts[k] + (threshold - before) / (inc[ar, k] / length[k])
        return np.where(crossed, np.minimum(t, H), H)

    n_ok = int(ok.sum())
    total_weight = float(weight.sum())
    p = weight / total_weight if total_weight > 0 else np.full(G, 1.0 / G)
    budget = int(max_futures) * G  # the most futures: max_futures per history, on average
    per_batch = int(min(budget, max(int(batch) * 1_000, 1)))
    s2 = np.zeros((n_ok, n_ok))
    futures, previous, cov = 0, None, np.zeros((n_ok, n_ok))
    while futures < budget:
        n_new = min(per_batch, budget - futures)
        for f0 in range(0, n_new, int(max_rows)):
            gid = np.sort(rng.choice(G, size=min(int(max_rows), n_new - f0), p=p))
            m = len(gid)
            lam = lam_tp[None, :] * H if rate_g is None else rate_g[gid][:, None] * lam_tp[None, :] * H
            counts = rng.poisson(lam, size=(m, n_tp))
            rows_e = np.repeat(np.repeat(np.arange(m), n_tp), counts.ravel())
            tp = np.tile(np.arange(n_tp), m).repeat(counts.ravel())
            e = np.floor(rng.random(len(rows_e)) * H)
            u_keep, u_res, u_delay = rng.random((3, len(rows_e)))
            delta = np.minimum(np.searchsorted(delay_cdf, u_delay, side="right"), len(delay_cdf) - 1)
            threshold = rng.standard_exponential(m)
            events = (rows_e, e, tp, u_keep, u_res, delta)
            base = months(gid, events, qs[0], cut_list[0], threshold)
            d = np.column_stack([months(gid, events, q, c, threshold) - base for q, c in zip(qs[1:], cut_list[1:])])
            s2 += d.T @ d
        futures += n_new
        cov = total_weight * s2 / futures / MONTH_DAYS**2
        sd = np.sqrt(np.clip(np.diag(cov), 0, None) + (0.0 if expected_var is None else np.asarray(expected_var)))
        if previous is not None and np.all(np.abs(sd - previous) <= tol * np.maximum(sd, 1e-12)):
            break
        previous = sd
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0, None))[None, :]
    out[:, ok] = rng.standard_normal((int(draws), n_ok)) @ root.T
    return out, futures, G
