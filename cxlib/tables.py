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


def negative_control_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.churn.negative_control` as text: the HR of each good experience, adjusted and not."""
    names = {"adjusted": "adjusted for engagement", "unadjusted": "not adjusted"}
    return pd.DataFrame(
        {
            "model": [names.get(i, i) for i in frame.index],
            "hazard ratio of each good experience (95% interval)": [
                number_interval(h, lo, hi) for h, lo, hi in zip(frame["hazard_ratio"], frame["ci_low"], frame["ci_high"])
            ],
            "interval includes 1": ["yes" if c else "no" for c in frame["covers_one"]],
        }
    )


def negative_control_text(frame: pd.DataFrame) -> str:
    """One sentence on the negative control: is confounding left after the adjustment?"""
    r = frame.loc["adjusted"]
    hr = number_interval(r["hazard_ratio"], r["ci_low"], r["ci_high"])
    if r["covers_one"]:
        return (f"A good experience should not change the risk of leaving, and adjusted it does not: hazard ratio {hr}. "
                "No sign of confounding the adjustment left behind.")
    return (f"A good experience should not change the risk of leaving, yet adjusted its hazard ratio is {hr}: "
            "unmeasured confounding remains, so read the hazard ratios of bad experiences as approximate "
            f"({'likely understated' if r['hazard_ratio'] < 1 else 'possibly overstated'}).")


def e_value_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.churn.e_values` as text."""
    return pd.DataFrame(
        {
            "covariate": frame.index,
            "hazard ratio (95% interval)": [
                number_interval(h, lo, hi) for h, lo, hi in zip(frame["hazard_ratio"], frame["ci_low"], frame["ci_high"])
            ],
            "E-value": [f"{v:.2f}" for v in frame["e_value"]],
            "E-value of the interval's limit": [f"{v:.2f}" for v in frame["e_value_ci"]],
        }
    )


def e_value_text(frame: pd.DataFrame) -> str:
    """One sentence on what the E-value of the unresolved hazard ratio means."""
    r = frame.iloc[0]
    return (f"To explain away the hazard ratio of {frame.index[0]} bad experiences ({r['hazard_ratio']:.2f}), an unmeasured "
            f"confounder would have to raise both the chance of such an experience and the risk of leaving by a factor of "
            f"{r['e_value']:.2f} each (VanderWeele & Ding's E-value; {r['e_value_ci']:.2f} to move the interval to 1), "
            "beyond what segment, tenure and engagement already account for.")
