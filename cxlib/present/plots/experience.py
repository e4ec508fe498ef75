"""Experience figures: bad rates by touchpoint × channel, outcome mix, consistency across channels.

Each takes a tidy frame from :mod:`cxlib.features.metrics` and returns its Axes; every figure has a
title, labelled axes and units; nothing is shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.present.plots.axes import current_axes

OUTCOME_COLORS = {"good": "#4c9a6a", "neutral": "#b8b8b8", "bad": "#c44e52"}



def plot_bad_rate_heatmap(frame: pd.DataFrame, *, ax=None, annot: bool = True):
    """Bad-experience rate by touchpoint × channel (from ``metrics.bad_rate(by=("touchpoint", "channel"))``).

    Cells are coloured by the rate; each is annotated with the rate and the number of
    experiences behind it; blank cells are channels that do not serve the touchpoint.
    """
    ax = current_axes(ax)
    rate = frame.pivot(index="touchpoint", columns="channel", values="bad_rate") * 100
    n = frame.pivot(index="touchpoint", columns="channel", values="experiences")
    labels = None
    if annot:
        labels = np.where(rate.notna(), [[_cell(r, k) for r, k in zip(rr, kk)] for rr, kk in zip(rate.to_numpy(),
                                                                                          n.to_numpy())], "")
    sns.heatmap(rate, annot=labels if annot else False, fmt="", cmap="Reds", ax=ax, linewidths=0.5,
                cbar_kws={"label": "bad experiences (% of experiences)"}, annot_kws={"fontsize": 8})
    ax.set_title("Bad-experience rate by touchpoint and channel")
    ax.set_xlabel("channel")
    ax.set_ylabel("touchpoint")
    return ax


def _cell(rate, n) -> str:
    if not np.isfinite(rate):
        return ""
    return f"{rate:.1f}%\nn={int(n):,}"


def plot_outcome_mix(frame: pd.DataFrame, *, by: str = "touchpoint", ax=None):
    """Good / neutral / bad shares per journey step, stacked (from ``metrics.outcome_mix``).

    Steps are sorted by their bad share; the bad segment carries its 95% interval.
    """
    ax = current_axes(ax)
    wide = frame.pivot(index=by, columns="outcome", values="share").reindex(columns=list(OUTCOME_COLORS)) * 100
    bad = frame[frame["outcome"] == "bad"].set_index(by)
    wide = wide.loc[bad["share"].sort_values(ascending=False).index]
    y = np.arange(len(wide))
    left = np.zeros(len(wide))
    for outcome, color in OUTCOME_COLORS.items():
        values = wide[outcome].fillna(0).to_numpy()
        if outcome == "bad":
            b = bad.loc[wide.index]
            err = np.vstack([values - 100 * b["ci_low"].to_numpy(), 100 * b["ci_high"].to_numpy() - values])
            ax.barh(y, values, left=left, color=color, label=outcome, xerr=np.nan_to_num(err), capsize=2)
        else:
            ax.barh(y, values, left=left, color=color, label=outcome)
        left += values
    ax.set_yticks(y, wide.index.astype(str))
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_title(f"Outcome of experiences by {by} (bad: 95% interval)")
    ax.set_xlabel("experiences (% of the step's experiences)")
    ax.set_ylabel(by)
    ax.legend(title="outcome", loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncols=3, frameon=False)
    ax.set_title(ax.get_title(), pad=42)  # the legend sits between the title and the bars, never on them
    return ax


def plot_channel_consistency(frame: pd.DataFrame, *, ax=None):
    """Bad rate of each channel of each multi-channel touchpoint (from ``metrics.channel_consistency``).

    Points with 95% intervals; the grey tick is the pooled rate of the channels that agree
    (the reference); channels that differ beyond noise are red.
    """
    ax = current_axes(ax)
    part = frame[frame["tested"]].reset_index(drop=True)
    y = np.arange(len(part))
    v = 100 * part["bad_rate"].to_numpy(dtype=float)
    err = np.vstack([v - 100 * part["ci_low"].to_numpy(dtype=float), 100 * part["ci_high"].to_numpy(dtype=float) - v])
    colors = [sns.color_palette()[3] if f else sns.color_palette()[0] for f in part["flagged"].to_numpy(dtype=bool)]
    for i in range(len(part)):
        ax.errorbar(v[i], y[i], xerr=err[:, [i]], fmt="o", color=colors[i], capsize=3)
    for tp, rows in part.groupby("touchpoint").groups.items():
        rows = list(rows)
        ax.vlines(100 * part.loc[rows[0], "reference_rate"], min(rows) - 0.4, max(rows) + 0.4, colors="0.5",
                  linestyles="--", lw=1)
    ax.set_yticks(y, [f"{t} · {c}" for t, c in zip(part["touchpoint"], part["channel"])])
    ax.invert_yaxis()
    ax.set_title("Consistency across channels: bad rate per channel (95% interval; red = differs)")
    ax.set_xlabel("bad experiences (% of experiences; dashed = rate of the agreeing channels)")
    ax.set_ylabel("touchpoint · channel")
    return ax
