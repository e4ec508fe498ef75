"""Overview figures: each takes a tidy frame from :mod:`cxlib.features.metrics` and returns its Axes.

Seaborn's conventions: data first, keyword-only options, ``ax=None`` last (the current Axes
then). Every figure has a title, labelled axes and units; nothing is shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.present.plots.axes import current_axes



def plot_interactions(frame: pd.DataFrame, *, by: str, ax=None):
    """Bars of interactions by ``by``, one colour per kind (from ``metrics.interactions_by``)."""
    ax = current_axes(ax)
    order = frame.groupby(by)["interactions"].sum().sort_values(ascending=False).index
    sns.barplot(data=frame, y=by, x="interactions", hue="kind", order=order, ax=ax, orient="h")
    ax.set_title(f"Interactions by {by} and kind")
    ax.set_xlabel("interactions (count)")
    ax.set_ylabel(by)
    return ax


def plot_bad_rate(frame: pd.DataFrame, *, by: str = "touchpoint", ax=None):
    """Bad-experience rate by ``by`` with 95% Wilson intervals (from ``metrics.bad_rate``)."""
    ax = current_axes(ax)
    frame = frame.sort_values("bad_rate")
    y = np.arange(len(frame))
    rate = 100 * frame["bad_rate"].to_numpy()
    err = np.vstack([rate - 100 * frame["ci_low"].to_numpy(), 100 * frame["ci_high"].to_numpy() - rate])
    ax.barh(y, rate, xerr=err, color=sns.color_palette()[3], alpha=0.8, capsize=3)
    ax.set_yticks(y, frame[by].astype(str))
    ax.set_title(f"Bad-experience rate by {by} (95% interval)")
    ax.set_xlabel("bad experiences (% of experiences)")
    ax.set_ylabel(by)
    return ax


def plot_churn_by_segment(frame: pd.DataFrame, *, ax=None):
    """Share of customers churned so far per segment, with 95% intervals."""
    ax = current_axes(ax)
    y = np.arange(len(frame))
    share = 100 * frame["churned_share"].to_numpy()
    err = np.vstack([share - 100 * frame["ci_low"].to_numpy(), 100 * frame["ci_high"].to_numpy() - share])
    ax.barh(y, share, xerr=err, color=sns.color_palette()[0], capsize=3)
    ax.set_yticks(y, frame["segment"].astype(str))
    ax.set_title("Customers churned so far, by segment (95% interval)")
    ax.set_xlabel("churned (% of customers)")
    ax.set_ylabel("segment")
    return ax
