"""One chunk of customers drawn: their experiences, contacts, resolutions and churn times.

The compiled parameters (:class:`Params`), the draws in their fixed order (common random
numbers: see the package docstring) and the hazard that turns them into churn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterator

import numpy as np
import pandas as pd

from cxlib.data.contract import OUTCOMES
from cxlib.data.simulate.config import SECONDS_PER_DAY, SimulationConfig


@dataclass
class Params:
    """The config as arrays indexed by category codes."""

    cfg: SimulationConfig
    segments: list
    seg_cdf: np.ndarray
    log_value_median: np.ndarray
    base_daily: np.ndarray
    touchpoints: list
    tp_rate: np.ndarray  # NaN = once at signup
    exp_channels: list
    tp_channel_cdf: np.ndarray  # T x C
    bad: np.ndarray  # T x C
    svc_channels: list
    svc_cdf: np.ndarray
    p_resolve: np.ndarray
    log_frt_median: np.ndarray
    cost: np.ndarray
    delay_cdf: np.ndarray
    csat_cdf: np.ndarray  # rows: good, neutral, bad, unresolved, resolved
    nps_cdf: np.ndarray  # rows: good, neutral, bad
    after: Params | None = None  # the intervention's parameters ...
    from_day: int | None = None  # ... for experiences (and contacts) on or after this day

    @classmethod
    def build(cls, cfg: SimulationConfig) -> Params:
        segments = list(cfg.segment_shares)
        tps = list(cfg.touchpoints)
        exp_channels = list(dict.fromkeys(ch for spec in cfg.touchpoints.values() for ch in spec["channels"]))
        cidx = {ch: i for i, ch in enumerate(exp_channels)}
        shares = np.zeros((len(tps), len(exp_channels)))
        bad = np.zeros_like(shares)
        for t, tp in enumerate(tps):
            for ch, share in cfg.touchpoints[tp]["channels"].items():
                shares[t, cidx[ch]] = share
                bad[t, cidx[ch]] = cfg.touchpoints[tp]["bad_rate"][ch]
        svc = list(cfg.service_channels)
        csat_rows = [cfg.csat_probs[k] for k in (*OUTCOMES, "unresolved", "resolved")]
        return cls(
            cfg=cfg,
            segments=segments,
            seg_cdf=_cdf([cfg.segment_shares[s] for s in segments]),
            log_value_median=np.log([cfg.value_median[s] for s in segments]),
            base_daily=np.array([cfg.base_daily_hazard()[s] for s in segments]),
            touchpoints=tps,
            tp_rate=np.array([np.nan if cfg.touchpoints[tp]["rate_per_month"] is None
                              else cfg.touchpoints[tp]["rate_per_month"] for tp in tps], dtype=float),
            exp_channels=exp_channels,
            tp_channel_cdf=_cdf(shares),
            bad=bad,
            svc_channels=svc,
            svc_cdf=_cdf([cfg.service_channels[c] for c in svc]),
            p_resolve=np.array([cfg.p_resolve[c] for c in svc], dtype=float),
            log_frt_median=np.log([cfg.first_response_median_minutes[c] for c in svc]),
            cost=np.array([cfg.cost_by_channel[c] for c in svc], dtype=float),
            delay_cdf=_cdf(cfg.contact_delay_probs),
            csat_cdf=_cdf(csat_rows),
            nps_cdf=_cdf([cfg.nps_probs[k] for k in OUTCOMES]),
        )


def _cdf(probs) -> np.ndarray:
    """Cumulative sums along the last axis, the last forced to exactly 1."""
    cdf = np.cumsum(np.asarray(probs, dtype=float), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _pick(u: np.ndarray, cdf: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Inverse-CDF draw: index of the category of each uniform ``u`` (per-row CDFs if ``rows``)."""
    if rows is None:
        return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[-1] - 1)
    out = np.zeros(len(u), dtype=np.int64)
    for k in range(cdf.shape[-1] - 1):  # a handful of categories: loop over them, not rows
        out += u >= cdf[rows, k]
    return out


# --------------------------------------------------------------------------- one chunk


@dataclass
class Chunk:
    """One chunk as arrays: customers, then interactions (seconds since start)."""

    number: np.ndarray  # customer number (1-based, global)
    signup: np.ndarray  # int64 seconds
    churn: np.ndarray  # int64 seconds, -1 when active
    segment: np.ndarray
    value: np.ndarray
    # interactions
    row_id: np.ndarray  # global 1-based id
    cust: np.ndarray  # index of the customer within the chunk
    at: np.ndarray
    kind: np.ndarray  # 0 experience, 1 service
    channel: np.ndarray  # index into exp_channels + svc_channels
    touchpoint: np.ndarray  # index into touchpoints + [routine touchpoint]
    outcome: np.ndarray  # index into OUTCOMES
    resolved: np.ndarray  # int8: -1 missing, 0 false, 1 true
    csat: np.ndarray  # 0 = missing
    nps: np.ndarray  # -1 = missing
    frt: np.ndarray  # NaN = missing
    cost: np.ndarray  # NaN = missing
    n_potential_rows: int


def _simulate_chunk(p: Params, n: int, first_number: int, first_row: int, rng: np.random.Generator,
                    extra: np.random.Generator | None = None) -> Chunk:
    """One chunk of customers. The draws come in a fixed order: customers, counts,
    experiences with their potential contacts, routine contacts (see the module docstring).
    The complications (engagement, contacts before churn) draw from ``extra``, a stream of
    their own, so the main stream's draws stay those of the world without them."""
    customers = _draw_customers(p, n, rng)
    cfg = p.cfg
    usage = None
    if extra is not None:
        usage = extra.gamma(cfg.engagement_shape or 1.0, 1.0 / (cfg.engagement_shape or 1.0), n)
        if cfg.engagement_shape is None:
            usage = np.ones(n)
    counts, n_routine = _draw_counts(p, customers["span"], rng, usage)
    exp = _draw_experiences(p, customers, counts, rng)
    routine = _draw_routine(p, customers, n_routine, rng)
    bad, res = exp["outcome"] == 2, exp["contact"] & exp["c_resolved"]
    churn = _churn_times(p, customers["signup"], customers["segment"], customers["threshold"],
                         exp["cust"][bad], exp["tp"][bad], exp["day"][bad],
                         exp["cust"][res], exp["tp"][res], exp["c_day"][res], usage=usage)
    churn_sec = np.where(np.isnan(churn), -1, np.floor(np.nan_to_num(churn, nan=0.0))).astype(np.int64)
    n_potential = 2 * len(exp["cust"]) + len(routine["cust"])
    if extra is not None and cfg.pre_churn_contact_rate_per_month > 0:
        late = _draw_pre_churn(p, customers, churn_sec, extra)
        n_routine_rows = len(routine["cust"])
        n_potential += int(late.pop("index_count"))
        late["index"] = late["index"] + n_routine_rows
        routine = {k: np.concatenate([routine[k], late[k]]) for k in late if k != "index"}
        routine["index"] = np.concatenate([np.arange(n_routine_rows, dtype=np.int64), late["index"]])
    rows = _rows(p, exp, routine, first_row, churn_sec)
    return Chunk(
        number=first_number + np.arange(n, dtype=np.int64),
        signup=customers["signup"],
        churn=churn_sec,
        segment=customers["segment"],
        value=customers["value"],
        n_potential_rows=n_potential,
        **rows,
    )


def _draw_customers(p: Params, n: int, rng: np.random.Generator) -> dict:
    cfg = p.cfg
    end = cfg.days * SECONDS_PER_DAY
    signup = np.minimum((rng.random(n) * end).astype(np.int64), end - 1)
    segment = _pick(rng.random(n), p.seg_cdf)
    value = np.round(np.exp(p.log_value_median[segment] + cfg.value_sigma * rng.standard_normal(n)), 2)
    threshold = rng.standard_exponential(n)  # churn when the cumulative hazard reaches it
    return {"signup": signup, "segment": segment, "value": value, "threshold": threshold,
            "span": end - signup}  # seconds from signup to as_of, >= 1


def _draw_counts(p: Params, span: np.ndarray, rng: np.random.Generator,
                 usage: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Experiences per customer and touchpoint (Poisson over [signup, as_of)), routine contacts.

    ``usage``: each customer's usage multiplier of the rates (engagement), None for 1."""
    months = span / (SECONDS_PER_DAY * p.cfg.month_days)
    if usage is not None:
        months = months * usage
    once = np.isnan(p.tp_rate)
    counts = np.ones((len(span), len(p.touchpoints)), dtype=np.int64)
    if (~once).any():
        counts[:, ~once] = rng.poisson(months[:, None] * p.tp_rate[~once][None, :])
    return counts, rng.poisson(months * p.cfg.routine_rate_per_month)


def _draw_experiences(p: Params, customers: dict, counts: np.ndarray, rng: np.random.Generator) -> dict:
    """Experiences, each with its potential service contact: every uniform drawn for all."""
    cfg = p.cfg
    n, n_tp = counts.shape
    cust = np.repeat(np.arange(n), counts.sum(axis=1))
    tp = np.repeat(np.tile(np.arange(n_tp), n), counts.ravel())
    (u_time, u_channel, u_bad, u_good, u_csat_has, u_csat, u_nps_has, u_nps,
     u_contact, u_delay, u_tod, u_cchannel, u_res, u_ccsat_has, u_ccsat) = rng.random((15, len(cust)))
    z_frt = rng.standard_normal(len(cust))

    signup, span = customers["signup"][cust], customers["span"][cust]
    once = np.isnan(p.tp_rate)[tp]
    window = np.where(once, np.minimum(span, round(cfg.onboarding_window_days * SECONDS_PER_DAY)), span)
    at = signup + np.minimum((u_time * window).astype(np.int64), window - 1)
    channel = _pick(u_channel, p.tp_channel_cdf, tp)
    day = at // SECONDS_PER_DAY
    c_day = day + _pick(u_delay, p.delay_cdf)  # calendar days after the experience's day
    c_channel = _pick(u_cchannel, p.svc_cdf)
    # Thresholds, not draws, change with an intervention: the uniforms are the same either way.
    p_bad, p_contact, p_resolve = p.bad[tp, channel], np.full(len(cust), cfg.p_contact), p.p_resolve[c_channel]
    if p.after is not None:
        late, late_contact = day >= p.from_day, c_day >= p.from_day
        p_bad = np.where(late, p.after.bad[tp, channel], p_bad)
        p_contact = np.where(late, p.after.cfg.p_contact, p_contact)
        p_resolve = np.where(late_contact, p.after.p_resolve[c_channel], p_resolve)
    bad = u_bad < p_bad
    outcome = np.where(bad, 2, np.where(u_good < cfg.p_good_if_not_bad, 0, 1))
    c_resolved = u_res < p_resolve
    return {
        "cust": cust, "tp": tp, "at": at, "day": day, "channel": channel, "outcome": outcome,
        "csat": np.where(u_csat_has < cfg.csat_share_experience, 1 + _pick(u_csat, p.csat_cdf, outcome), 0),
        "nps": np.where(u_nps_has < cfg.nps_share_experience, _pick(u_nps, p.nps_cdf, outcome), -1),
        "contact": bad & (u_contact < p_contact) & (c_day < cfg.days),
        "c_day": c_day,
        "c_at": _contact_time(c_day, u_tod, signup),
        "c_channel": c_channel,
        "c_resolved": c_resolved,
        "c_csat": np.where(u_ccsat_has < cfg.csat_share_service, 1 + _pick(u_ccsat, p.csat_cdf, 3 + c_resolved), 0),
        "c_frt": np.round(np.exp(p.log_frt_median[c_channel] + cfg.first_response_sigma * z_frt), 1),
    }


def _draw_routine(p: Params, customers: dict, n_routine: np.ndarray, rng: np.random.Generator) -> dict:
    """Routine (how_to) contacts, uniform over [signup, as_of)."""
    cfg = p.cfg
    cust = np.repeat(np.arange(len(n_routine)), n_routine)
    u_time, u_channel, u_res, u_csat_has, u_csat = rng.random((5, len(cust)))
    z_frt = rng.standard_normal(len(cust))
    span = customers["span"][cust]
    channel = _pick(u_channel, p.svc_cdf)
    resolved = u_res < cfg.routine_p_resolve
    return {
        "cust": cust,
        "at": customers["signup"][cust] + np.minimum((u_time * span).astype(np.int64), span - 1),
        "channel": channel,
        "resolved": resolved,
        "csat": np.where(u_csat_has < cfg.csat_share_service, 1 + _pick(u_csat, p.csat_cdf, 3 + resolved), 0),
        "frt": np.round(np.exp(p.log_frt_median[channel] + cfg.first_response_sigma * z_frt), 1),
    }


def _draw_pre_churn(p: Params, customers: dict, churn_sec: np.ndarray, extra: np.random.Generator) -> dict:
    """Routine contacts of customers on their way out: Poisson over the ``pre_churn_days`` before churn.

    Drawn for every customer (churned or not: the draws do not depend on the outcome, so
    common random numbers hold); only those of churned customers, after signup, happen.
    """
    cfg = p.cfg
    n = len(churn_sec)
    window = cfg.pre_churn_days * SECONDS_PER_DAY
    k = extra.poisson(cfg.pre_churn_contact_rate_per_month * cfg.pre_churn_days / cfg.month_days, n)
    cust = np.repeat(np.arange(n), k)
    u_time, u_channel, u_res, u_csat_has, u_csat = extra.random((5, len(cust)))
    z_frt = extra.standard_normal(len(cust))
    at = churn_sec[cust] - np.minimum((u_time * window).astype(np.int64), window - 1)
    happens = (churn_sec[cust] >= 0) & (at >= customers["signup"][cust])
    channel = _pick(u_channel, p.svc_cdf)
    resolved = u_res < cfg.routine_p_resolve
    rows = {
        "cust": cust,
        "at": at,
        "channel": channel,
        "resolved": resolved,
        "csat": np.where(u_csat_has < cfg.csat_share_service, 1 + _pick(u_csat, p.csat_cdf, 3 + resolved), 0),
        "frt": np.round(np.exp(p.log_frt_median[channel] + cfg.first_response_sigma * z_frt), 1),
        "index": np.arange(len(cust), dtype=np.int64),  # number among the potential contacts
    }
    out = {key: values[happens] for key, values in rows.items()}
    out["index_count"] = len(cust)
    return out


def _rows(p: Params, exp: dict, routine: dict, first_row: int, churn_sec: np.ndarray) -> dict:
    """All interaction rows that happened (not after churn), sorted by customer and time.

    Ids number potential rows: experience j is ``first_row + 2j + 1``, its contact the next.
    A service row's outcome is the contact's own: good when resolved, bad otherwise.
    """
    n_exp, n_r = len(exp["cust"]), len(routine["cust"])
    ids = first_row + 2 * np.arange(n_exp, dtype=np.int64) + 1
    routine_index = routine.get("index", np.arange(n_r, dtype=np.int64))
    c = np.flatnonzero(exp["contact"])
    svc = len(p.exp_channels)  # service channel codes follow the experience channels
    c_channel = exp["c_channel"][c]
    parts = {
        "row_id": (ids, ids[c] + 1, first_row + 2 * n_exp + 1 + routine_index),
        "cust": (exp["cust"], exp["cust"][c], routine["cust"]),
        "at": (exp["at"], exp["c_at"][c], routine["at"]),
        "kind": (np.zeros(n_exp, np.int8), np.ones(len(c), np.int8), np.ones(n_r, np.int8)),
        "channel": (exp["channel"], svc + c_channel, svc + routine["channel"]),
        "touchpoint": (exp["tp"], exp["tp"][c], np.full(n_r, len(p.touchpoints))),
        "outcome": (exp["outcome"], np.where(exp["c_resolved"][c], 0, 2), np.where(routine["resolved"], 0, 2)),
        "resolved": (np.full(n_exp, -1, np.int8), exp["c_resolved"][c].astype(np.int8),
                     routine["resolved"].astype(np.int8)),
        "csat": (exp["csat"], exp["c_csat"][c], routine["csat"]),
        "nps": (exp["nps"], np.full(len(c), -1), np.full(n_r, -1)),
        "frt": (np.full(n_exp, np.nan), exp["c_frt"][c], routine["frt"]),
        "cost": (np.full(n_exp, np.nan), p.cost[c_channel], p.cost[routine["channel"]]),
    }
    rows = {name: np.concatenate(values) for name, values in parts.items()}
    churn = churn_sec[rows["cust"]]
    keep = np.flatnonzero((churn < 0) | (rows["at"] <= churn))
    order = keep[np.lexsort((rows["row_id"][keep], rows["at"][keep], rows["cust"][keep]))]
    return {name: values[order] for name, values in rows.items()}


def _contact_time(day: np.ndarray, u_tod: np.ndarray, signup: np.ndarray) -> np.ndarray:
    """A uniform second of calendar ``day``, not before ``signup`` when that is the signup day."""
    day_start = day * SECONDS_PER_DAY
    lower = np.clip(signup - day_start, 0, SECONDS_PER_DAY - 1)
    width = SECONDS_PER_DAY - lower
    return day_start + lower + np.minimum((u_tod * width).astype(np.int64), width - 1)


def _resolution_days(n_tp: int, days: int, resolution_days: int, bad_cust, bad_tp, bad_day,
                     res_cust, res_tp, res_day) -> np.ndarray:
    """Day ``c`` of the earliest resolved contact of the same customer and touchpoint with
    ``e <= c <= e + resolution_days`` for each bad experience on day ``e``; -1 when none.

    This is design.md's definition applied to the generated rows (any resolved contact of
    that touchpoint counts, whichever experience triggered it).
    """
    stride = days + resolution_days + 1  # room so that e + resolution_days stays in the group
    keys = np.sort((res_cust * n_tp + res_tp) * stride + res_day)
    base = (bad_cust * n_tp + bad_tp) * stride
    if len(keys) == 0:
        return np.full(len(bad_day), -1, dtype=np.int64)
    j = np.searchsorted(keys, base + bad_day, side="left")
    hit = keys[np.minimum(j, len(keys) - 1)]
    found = (j < len(keys)) & (hit <= base + bad_day + resolution_days)
    return np.where(found, hit - base, -1)


def _hazard_cells(p: Params, signup_day, segment, bad_cust, bad_day, res_day) -> tuple[np.ndarray, np.ndarray]:
    """Per customer and day, the index of its hazard cell in a table of daily rates.

    A cell is (segment, tenure band, U, R); band 0 means "not yet signed up" (rate 0).
    All terms are step functions of the day, so one integer difference array and one cumsum
    build the index: the segment from day 0, each tenure band from its first day, and each
    bad experience on day ``e`` adds to U on ``e+1 .. c`` and to R on ``c+1 .. e+window``
    when resolved on day ``c`` (design.md's definition), to U on ``e+1 .. e+window`` if not.
    Returns ``(index, rates)``: ``index`` is customers x days (int32), ``rates`` the table.
    """
    cfg = p.cfg
    n, days, window = len(signup_day), cfg.days, cfg.window_days
    width = days + window + 2
    found = res_day >= 0
    n_u = int(np.bincount(bad_cust, minlength=n).max(initial=0)) + 1 if n else 1  # bounds of U and R
    n_r = int(np.bincount(bad_cust[found], minlength=n).max(initial=0)) + 1 if n else 1
    starts = np.asarray(cfg.tenure_band_starts)
    n_band = len(starts) + 1
    s_u, s_band = n_r, n_u * n_r
    s_seg = n_band * s_band
    if len(p.segments) * s_seg >= 2**31:
        raise OverflowError("too many bad experiences per customer for the hazard table")

    rows = np.arange(n)
    unresolved_end = np.where(found, res_day, bad_day + window)
    band_cols = np.minimum(signup_day[:, None] + starts[None, :], width - 1)
    positions = [rows * width, (rows[:, None] * width + band_cols).ravel(),
                 bad_cust * width + bad_day + 1, bad_cust * width + unresolved_end + 1,
                 bad_cust[found] * width + res_day[found] + 1, bad_cust[found] * width + bad_day[found] + window + 1]
    weights = [segment * s_seg, np.full(band_cols.size, s_band),
               np.full(len(bad_day), s_u), np.full(len(bad_day), -s_u),
               np.ones(int(found.sum())), np.full(int(found.sum()), -1)]
    diff = np.zeros(n * width, dtype=np.int32)
    np.add.at(diff, np.concatenate(positions), np.concatenate(weights).astype(np.int32))
    index = np.cumsum(diff.reshape(n, width)[:, :days], axis=1, dtype=np.int32)

    log_ratio = (math.log(cfg.hr_unresolved) * np.arange(n_u)[:, None]
                 + math.log(cfg.hr_resolved) * np.arange(n_r)[None, :])
    tenure_hr = np.concatenate([[0.0], cfg.tenure_hr])
    rates = p.base_daily[:, None, None, None] * tenure_hr[None, :, None, None] * np.exp(log_ratio)[None, None]
    return index, rates.ravel()


def _daily_rates(p: Params, signup_day, segment, bad_tp, bad_cust, bad_day, res_day, usage) -> np.ndarray:
    """Customers x days: the daily hazard with the complications (the general path).

    ``log h(d) = log base[segment] + power log a + log tenure_hr[band(d)]
    + sum over bad experiences of factor[days-since band] x log HR[touchpoint, status(d)]``,
    times the season of day ``d``; 0 before the signup day. Every term is a step function of
    the day, so one float difference array and one cumsum build it (as :func:`_hazard_cells`).
    """
    cfg = p.cfg
    n, days, window = len(signup_day), cfg.days, cfg.window_days
    width = days + window + 2
    rows = np.arange(n)
    log_base = np.log(p.base_daily[segment])
    if usage is not None and cfg.engagement_shape is not None:
        log_base = log_base + cfg.engagement_churn_power * np.log(usage)
    starts = np.asarray(cfg.tenure_band_starts)
    steps = np.diff(np.concatenate([[0.0], np.log(cfg.tenure_hr)]))
    band_cols = np.minimum(signup_day[:, None] + starts[None, :], width - 1)
    positions = [rows * width, (rows[:, None] * width + band_cols).ravel()]
    weights = [log_base, np.tile(steps, n)]
    log_hr = {kind: np.log([cfg.touchpoint_hr(tp, kind) for tp in p.touchpoints])[bad_tp]
              for kind in ("unresolved", "resolved")}
    found = res_day >= 0
    unresolved_end = np.where(found, res_day, bad_day + window)  # last day counted as unresolved
    cuts = [0, *cfg.fade_band_days, window] if cfg.fade_log_hr else [0, window]
    factors = cfg.fade_log_hr or (1.0,)
    for b, factor in enumerate(factors):
        first, last = bad_day + cuts[b] + 1, bad_day + cuts[b + 1]  # the band's days, inclusive
        for kind, lo, hi, ok in (("unresolved", first, np.minimum(last, unresolved_end), True),
                                 ("resolved", np.maximum(first, res_day + 1), last, found)):
            m = ok & (lo <= hi)
            w = factor * log_hr[kind][m]
            positions += [bad_cust[m] * width + lo[m], bad_cust[m] * width + hi[m] + 1]
            weights += [w, -w]
    diff = np.zeros(n * width)
    np.add.at(diff, np.concatenate(positions), np.concatenate(weights))
    rate = np.exp(np.cumsum(diff.reshape(n, width)[:, :days], axis=1))
    rate[np.arange(days)[None, :] < signup_day[:, None]] = 0.0
    if cfg.seasonal_amplitude:
        start = cfg.start_datetime
        doy = np.array([(start + timedelta(days=d)).timetuple().tm_yday for d in range(days)], dtype=float)
        rate *= (1.0 + cfg.seasonal_amplitude * np.cos(2 * np.pi * (doy - cfg.seasonal_peak_day) / 365.25))[None, :]
    return rate


def _churn_times(p: Params, signup, segment, threshold, bad_cust, bad_tp, bad_day,
                 res_cust, res_tp, res_day, usage=None) -> np.ndarray:
    """Churn moment in seconds since start (float), NaN when the customer outlives as_of.

    The cumulative hazard is the cumsum of the daily rates times the exposure of each day
    (on the signup day: the part after ``signup_at``); churn is where it crosses the
    customer's Exp(1) threshold, linearly within that day.
    """
    cfg = p.cfg
    n = len(signup)
    if n == 0:
        return np.empty(0)
    c = _resolution_days(len(p.touchpoints), cfg.days, cfg.resolution_days, bad_cust, bad_tp, bad_day,
                         res_cust, res_tp, res_day)
    signup_day = signup // SECONDS_PER_DAY
    if cfg.complicated:
        return _crossing(_daily_rates(p, signup_day, segment, bad_tp, bad_cust, bad_day, c, usage),
                         signup, signup_day, threshold)
    index, rates = _hazard_cells(p, signup_day, segment, bad_cust, bad_day, c)
    cum = rates[index]  # the daily rate of each customer-day; becomes the cumulative hazard
    rows = np.arange(n)
    first_exposure = 1.0 - (signup - signup_day * SECONDS_PER_DAY) / SECONDS_PER_DAY
    cum[rows, signup_day] *= first_exposure
    np.cumsum(cum, axis=1, out=cum)
    thr = np.maximum(threshold, np.finfo(float).tiny)
    churned = cum[:, -1] >= thr
    day = np.argmax(cum >= thr[:, None], axis=1)
    before = np.where(day > 0, cum[rows, np.maximum(day - 1, 0)], 0.0)
    day_rate = rates[index[rows, day]]
    offset = np.where(day == signup_day, 1.0 - first_exposure, 0.0)  # exposure starts at signup_at
    with np.errstate(divide="ignore", invalid="ignore"):
        moment = (day + offset + (thr - before) / day_rate) * SECONDS_PER_DAY
    moment = np.clip(moment, signup, (day + 1) * SECONDS_PER_DAY - 1)
    return np.where(churned, moment, np.nan)


def _crossing(cum: np.ndarray, signup, signup_day, threshold) -> np.ndarray:
    """Churn moments from a customers x days matrix of daily rates (overwritten), as _churn_times."""
    n = len(signup)
    rows = np.arange(n)
    first_exposure = 1.0 - (signup - signup_day * SECONDS_PER_DAY) / SECONDS_PER_DAY
    cum[rows, signup_day] *= first_exposure
    np.cumsum(cum, axis=1, out=cum)
    thr = np.maximum(threshold, np.finfo(float).tiny)
    churned = cum[:, -1] >= thr
    day = np.argmax(cum >= thr[:, None], axis=1)
    before = np.where(day > 0, cum[rows, np.maximum(day - 1, 0)], 0.0)
    exposure = np.where(day == signup_day, first_exposure, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        day_rate = (cum[rows, day] - before) / exposure
        offset = np.where(day == signup_day, 1.0 - first_exposure, 0.0)  # exposure starts at signup_at
        moment = (day + offset + (thr - before) / day_rate) * SECONDS_PER_DAY
    moment = np.clip(np.nan_to_num(moment, nan=0.0), signup, (day + 1) * SECONDS_PER_DAY - 1)
    return np.where(churned, moment, np.nan)


def check_args(n_customers: int, chunk_size: int) -> None:
    if int(n_customers) != n_customers or n_customers < 0:
        raise ValueError(f"n_customers must be a non-negative integer, got {n_customers!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


#: What an intervention may change: the thresholds its uniforms are compared with.
INTERVENTION_FIELDS = ("touchpoints", "p_contact", "p_resolve")


def intervention_day(cfg: SimulationConfig, start) -> int:
    """Day index (from the period's start) on which an intervention starts."""
    if isinstance(start, (int, np.integer)):
        day = int(start)
    else:
        moment = pd.Timestamp(start)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        day = int((moment - pd.Timestamp(cfg.start_datetime)).days)
    if not 0 <= day <= cfg.days:
        raise ValueError(f"intervention_from must fall inside the simulated period, got {start!r}")
    return day


def _with_intervention(p: Params, intervention: SimulationConfig | None, start) -> Params:
    """Attach an intervention that applies from ``start``; it may change only INTERVENTION_FIELDS.

    Touchpoints may differ only in their bad rates (rates and channels drive the draws).
    """
    if intervention is None:
        if start is not None:
            raise ValueError("intervention_from needs an intervention config")
        return p
    base, new = p.cfg.to_dict(), intervention.to_dict()
    for key in set(base) | set(new):
        if key not in INTERVENTION_FIELDS and base.get(key) != new.get(key):
            raise ValueError(f"an intervention may change bad rates, p_contact and p_resolve only, not {key!r}")
    for tp, spec in base["touchpoints"].items():
        other = new["touchpoints"].get(tp, {})
        if {k: v for k, v in spec.items() if k != "bad_rate"} != {k: v for k, v in other.items() if k != "bad_rate"}:
            raise ValueError(f"an intervention may change touchpoint {tp!r}'s bad rate only")
    p.after = Params.build(intervention)
    p.from_day = 0 if start is None else intervention_day(p.cfg, start)
    return p


def _has_extra(cfg: SimulationConfig) -> bool:
    return cfg.engagement_shape is not None or cfg.pre_churn_contact_rate_per_month > 0


def draw_chunks(n_customers: int, seed: int, config: SimulationConfig | None,
            chunk_size: int, intervention=None, intervention_from=None) -> Iterator[tuple[Params, Chunk]]:
    check_args(n_customers, chunk_size)
    p = _with_intervention(Params.build(config or SimulationConfig()), intervention, intervention_from)
    first_row = 0
    for index, first in enumerate(range(0, n_customers, chunk_size)):
        n = min(chunk_size, n_customers - first)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), index]))
        extra = np.random.default_rng(np.random.SeedSequence([int(seed), index, 1])) if _has_extra(p.cfg) else None
        chunk = _simulate_chunk(p, n, first + 1, first_row, rng, extra)
        first_row += chunk.n_potential_rows
        yield p, chunk
