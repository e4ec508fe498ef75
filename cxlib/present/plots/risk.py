"""Churn-risk figures: calibration, churners caught along the list, importance by feature group.

Each takes a tidy frame from :mod:`cxlib.analyses.backtest` (a :class:`~cxlib.analyses.backtest.Backtest`'s
``calibration()``, ``capture_curve()``, ``importance()``) and returns its Axes; nothing is
shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.present.plots.axes import current_axes



def plot_risk_calibration(frame: pd.DataFrame, *, ax=None):
    """Predicted against observed churn per bin of predicted probability, one line per method."""
    ax = current_axes(ax)
    methods = list(dict.fromkeys(frame["method"]))
    palette = sns.color_palette(n_colors=len(methods))
    for color, method in zip(palette, methods):
        g = frame[frame["method"] == method]
        err = np.vstack([g["observed"] - g["ci_low"], g["ci_high"] - g["observed"]]) * 100
        ax.errorbar(
            100 * g["predicted"], 100 * g["observed"], yerr=err, fmt="o-", capsize=2, color=color, label=method
        )
    high = 100 * float(np.nanmax(frame[["predicted", "ci_high"]].to_numpy())) * 1.05 if len(frame) else 1.0
    ax.plot([0, high], [0, high], color="grey", lw=1, ls="--", label="perfect calibration")
    ax.set_xlim(0, high)
    ax.set_ylim(0, high)
    ax.set_title("Calibration on the later period: predicted against observed churn (95% intervals)")
    ax.set_xlabel("predicted probability of churn within the horizon (%)")
    ax.set_ylabel("observed churn (%)")
    ax.legend(loc="upper left")
    return ax


def plot_risk_capture(frame: pd.DataFrame, *, ax=None):
    """Share of the next period's churners caught against the share of the list contacted."""
    ax = current_axes(ax)
    methods = list(dict.fromkeys(frame["method"]))
    palette = sns.color_palette(n_colors=len(methods))
    for color, method in zip(palette, methods):
        g = frame[frame["method"] == method]
        ax.plot(100 * g["share_of_list"], 100 * g["share_of_churners"], color=color, label=method)
    ax.plot([0, 100], [0, 100], color="grey", lw=1, ls="--", label="random order")
    for share in (5, 10):
        ax.axvline(share, color="grey", lw=0.8, ls=":")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.set_title("Churners of the next period caught by contacting the top of the list")
    ax.set_xlabel("share of the list contacted, highest risk first (%)")
    ax.set_ylabel("share of the churners caught (%)")
    ax.legend(loc="lower right")
    return ax


def plot_risk_importance(frame: pd.DataFrame, *, ax=None):
    """Permutation importance by feature group: the drop in ROC AUC when the group is shuffled."""
    ax = current_axes(ax)
    g = frame.sort_values("importance")
    y = np.arange(len(g))
    colors = [
        sns.color_palette()[0] if str(name).startswith("bad experiences") else sns.color_palette()[7]
        for name in g["group"]
    ]
    ax.barh(y, g["importance"], xerr=g["std"], color=colors, capsize=2)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, g["group"].astype(str))
    ax.set_title("What the risk model relies on (permutation importance by group)")
    ax.set_xlabel("drop in ROC AUC when the group is shuffled")
    ax.set_ylabel("feature group")
    return ax
