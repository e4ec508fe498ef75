"""Formatting tables for readers: numbers with units, intervals as "6.1% (5.8–6.4%)".

Formatting only: the numbers come from :mod:`cxlib.metrics` and the models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def pct(value, digits: int = 1) -> str:
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


def rate_table(frame: pd.DataFrame, *, rate: str, n: str, keys, label: str) -> pd.DataFrame:
    """Keys, count and the rate with its interval, as text a manager reads."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    out = frame[keys].copy()
    out[n] = frame[n].map("{:,}".format)
    out[label] = [pct_interval(v, lo, hi) for v, lo, hi in zip(frame[rate], frame["ci_low"], frame["ci_high"])]
    return out.set_index(keys)


#: What each measure of :func:`cxlib.metrics.slice_metrics` counts, in words.
SLICE_BASES = {"bad-experience rate": "experiences", "resolution rate": "contacts about a problem",
               "CSAT": "answers"}


def slice_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.metrics.slice_metrics` as text: the rate with its 95% interval and what it rests on."""
    out = pd.DataFrame(
        {
            "value (95% interval)": [pct_interval(v, lo, hi) for v, lo, hi in
                                     zip(frame["rate"], frame["ci_low"], frame["ci_high"])],
            "based on": [f"{n:,} {SLICE_BASES.get(m, '')}".strip() for m, n in zip(frame["measure"], frame["n"])],
        },
        index=pd.Index(frame["measure"].to_numpy(), name=None),
    )
    out.columns.name = "measure"
    return out
