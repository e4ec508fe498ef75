"""Journey figures: transitions between consecutive steps, and the paths before churn.

Each takes a tidy frame from :mod:`cxlib.features.metrics` and returns its Axes; every figure has a
title, labelled axes and units; nothing is shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from cxlib.features.metrics import transition_matrix
from cxlib.present.plots.service import grouped_barh

from cxlib.present.plots.axes import current_axes



def plot_transitions(frame: pd.DataFrame, *, ax=None, annot: bool = True):
    """Heatmap of the next step after each step (from ``metrics.journey_transitions``), % of the row."""
    ax = current_axes(ax)
    matrix = transition_matrix(frame, value="share") * 100
    sns.heatmap(matrix, annot=annot, fmt=".0f", cmap="Blues", ax=ax, linewidths=0.5, annot_kws={"fontsize": 7},
                cbar_kws={"label": "next step (% of the transitions from the step)"})
    ax.set_title("Journey transitions: where customers go after each step")
    ax.set_xlabel("next step")
    ax.set_ylabel("step")
    return ax


def plot_churn_paths(frame: pd.DataFrame, *, ax=None):
    """The paths most common before churn, churned against retained customers (``metrics.churn_paths``)."""
    ax = current_axes(ax)
    order = frame.sort_values("rank")["path"].drop_duplicates()
    palette = {"churned": sns.color_palette()[3], "retained": sns.color_palette()[0]}
    grouped_barh(frame, y="path", hue="group", value="share", ax=ax, order=order, palette=palette,
                 hue_order=[g for g in palette if g in set(frame["group"])])
    ax.set_title("Last steps before churn (or before as_of, retained), 95% interval")
    ax.set_xlabel("customers with this path (% of the group)")
    ax.set_ylabel("last steps, oldest first")
    ax.legend(title="customers", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax
