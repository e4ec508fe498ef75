"""The intervals every rate of the metrics comes with: Wilson for shares, adjusted Wald for the NPS,
exact (Garwood) for rates per exposure; 95% unless ``alpha`` says otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def wilson_interval(successes, n, *, alpha: float = 0.05):
    """Wilson score interval for a proportion; NaN where n is 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = np.where(n > 0, centre - half, np.nan)
    high = np.where(n > 0, centre + half, np.nan)
    return np.clip(low, 0, 1), np.clip(high, 0, 1)


def _with_interval(frame: pd.DataFrame, successes: str, n: str, rate: str) -> pd.DataFrame:
    frame = frame.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = frame[successes] / frame[n].where(frame[n] > 0)
    frame["ci_low"], frame["ci_high"] = wilson_interval(frame[successes], frame[n])
    return frame


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _proportion(frame: pd.DataFrame, successes: str, n: str, rate: str, *, alpha: float = 0.05) -> pd.DataFrame:
    frame = frame.copy()
    k = frame[successes].to_numpy(dtype=float)
    total = frame[n].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame[rate] = np.where(total > 0, k / np.where(total > 0, total, 1), np.nan)
    frame["ci_low"], frame["ci_high"] = wilson_interval(k, total, alpha=alpha)
    return frame


def nps_interval(promoters, detractors, n, *, alpha: float = 0.05):
    """Adjusted-Wald interval of the NPS, in points (−100…100); NaN where n is 0.

    The NPS is ``100 (P − D) / n``. Its variance is the multinomial variance of a difference
    of two shares of the same answers, ``(p_P + p_D − (p_P − p_D)²) / n``; the adjusted Wald
    interval (Rocks 2016, *The American Statistician*) adds 3/4 of an answer to promoters and
    to detractors and 3 to ``n`` before computing it, so that it does not collapse to a point
    when every answer is a detractor (or a promoter). Clipped to −100…100.
    """
    promoters = np.asarray(promoters, dtype=float)
    detractors = np.asarray(detractors, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(alpha)
    n_adj = n + 3
    p = (promoters + 0.75) / n_adj
    d = (detractors + 0.75) / n_adj
    centre = p - d
    half = z * np.sqrt(np.maximum(p + d - centre**2, 0) / n_adj)
    low = np.where(n > 0, np.clip(centre - half, -1, 1) * 100, np.nan)
    high = np.where(n > 0, np.clip(centre + half, -1, 1) * 100, np.nan)
    return low, high


def poisson_interval(events, exposure, *, alpha: float = 0.05):
    """Exact (Garwood) interval of a rate ``events / exposure``; NaN where exposure is 0."""
    events = np.asarray(events, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(events > 0, stats.chi2.ppf(alpha / 2, 2 * events) / 2, 0.0) / exposure
        high = stats.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2 / exposure
    return np.where(exposure > 0, low, np.nan), np.where(exposure > 0, high, np.nan)
