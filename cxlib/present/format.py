"""Formatting numbers for readers, the one place for it: shares, ratios and money, with intervals.

``pct(0.061)`` → ``6.1%``; ``pct_interval(0.061, 0.058, 0.064)`` → ``6.1% (5.8–6.4%)``;
``number_interval(1.3, 1.21, 1.4)`` → ``1.30 (1.21–1.40)``; ``money(12345)`` → ``EUR 12,300``.
A missing or non-finite value is ``–``.
"""

from __future__ import annotations

import math

import numpy as np


def pct(value, digits: int = 1) -> str:
    """A share as a percentage: ``6.1%``."""
    return "–" if value is None or not np.isfinite(value) else f"{100 * value:.{digits}f}%"


def pct_interval(value, low, high, digits: int = 1) -> str:
    """A share with its interval: ``6.1% (5.8–6.4%)``."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{100 * value:.{digits}f}% ({100 * low:.{digits}f}–{100 * high:.{digits}f}%)"


def number_interval(value, low, high, digits: int = 2) -> str:
    """A ratio with its interval: ``1.30 (1.21–1.40)``."""
    if value is None or not np.isfinite(value):
        return "–"
    return f"{value:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def money(value, currency: str = "EUR") -> str:
    """``EUR 12,300`` (three significant figures above a thousand); ``–`` when missing."""
    if value is None or not np.isfinite(value):
        return "–"
    v = float(value)
    digits = max(0, int(math.floor(math.log10(abs(v)))) - 2) if abs(v) >= 1000 else 0
    rounded = round(v, -digits) if digits else round(v)
    return f"{currency} {rounded:,.0f}".replace("-", "−")


def money_interval(value, low, high, currency: str = "EUR") -> str:
    """``EUR 12,300 (4,100 to 20,500)``."""
    if value is None or not np.isfinite(value):
        return "–"
    strip = len(currency) + 1
    return f"{money(value, currency)} ({money(low, currency)[strip:]} to {money(high, currency)[strip:]})"


def money_per_customer(value, currency: str = "EUR") -> str:
    """Money per customer: cents below 100 (``EUR 26.40``), else :func:`money`."""
    if value is None or not np.isfinite(value):
        return "–"
    if abs(value) >= 100:
        return money(value, currency)
    return f"{currency} {value:,.2f}".replace("-", "\u2212")


def money_per_customer_interval(value, low, high, currency: str = "EUR") -> str:
    """``EUR 26.40 (12.10 to 41.00)``: :func:`money_per_customer` with its interval."""
    if value is None or not np.isfinite(value):
        return "–"
    strip = len(currency) + 1
    low, high = (money_per_customer(v, currency)[strip:] for v in (low, high))
    return f"{money_per_customer(value, currency)} ({low} to {high})"
