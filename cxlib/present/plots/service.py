"""Service figures, and where service meets experience: each takes a tidy frame from
:mod:`cxlib.features.metrics` and returns its Axes (a Figure for small multiples).

Seaborn's conventions: data first, keyword-only options, ``ax=None`` last (the current Axes
then). Every figure has a title, labelled axes and units; nothing is shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.present.plots.axes import current_axes



def grouped_barh(frame: pd.DataFrame, *, y: str, hue: str, value: str, scale: float = 100.0, ax, order=None,
                 hue_order=None, palette=None):
    """Horizontal bars of ``value`` by ``y`` and ``hue`` with the frame's ``ci_low``/``ci_high`` as whiskers."""
    order = list(dict.fromkeys(frame[y])) if order is None else list(order)
    hue_order = list(dict.fromkeys(frame[hue])) if hue_order is None else list(hue_order)
    colors = sns.color_palette(palette, len(hue_order)) if not isinstance(palette, dict) else [
        palette[h] for h in hue_order
    ]
    height = 0.8 / max(len(hue_order), 1)
    base = np.arange(len(order))
    for j, (level, color) in enumerate(zip(hue_order, colors)):
        part = frame[frame[hue] == level].set_index(y).reindex(order)
        pos = base - 0.4 + height * (j + 0.5)
        v = scale * part[value].to_numpy(dtype=float)
        err = np.vstack([v - scale * part["ci_low"].to_numpy(dtype=float),
                         scale * part["ci_high"].to_numpy(dtype=float) - v])
        ax.barh(pos, np.nan_to_num(v), height=height, xerr=np.nan_to_num(err), color=color, label=str(level),
                capsize=2, error_kw={"elinewidth": 1})
    ax.set_yticks(base, [str(o) for o in order])
    ax.invert_yaxis()
    return ax


def plot_service_metrics(frame: pd.DataFrame, *, by: str = "month", fig=None):
    """Small multiples of :func:`cxlib.features.metrics.service_metrics`: one panel per metric.

    By month: a line with its 95% band; months with fewer answers than ``min_answers`` are
    drawn as hollow markers. By a category (channel): a point with its 95% interval per
    category, hollow where answers are few. Returns the Figure.
    """
    metrics = list(dict.fromkeys(frame["metric"]))
    if fig is None:
        fig = plt.figure(figsize=(11, 2.6 * ((len(metrics) + 2) // 3)))
    axes = fig.subplots((len(metrics) + 2) // 3, 3, squeeze=False).ravel()
    color = sns.color_palette()[0]
    for ax, metric in zip(axes, metrics):
        part = frame[frame["metric"] == metric]
        unit = part["unit"].iloc[0]
        few = part["few_answers"].to_numpy(dtype=bool)
        if by == "month":
            x = pd.to_datetime(part["month"])
            ax.plot(x, part["value"], color=color, lw=1.2)
            ax.fill_between(x, part["ci_low"], part["ci_high"], color=color, alpha=0.2, lw=0)
            ax.scatter(x[~few], part["value"][~few], color=color, s=10, zorder=3)
            ax.scatter(x[few], part["value"][few], facecolors="white", edgecolors=color, s=14, zorder=3)
            ax.set_xlabel("month (UTC)")
            ax.set_ylabel(unit)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        else:
            y = np.arange(len(part))
            v = part["value"].to_numpy(dtype=float)
            err = np.vstack([v - part["ci_low"].to_numpy(dtype=float), part["ci_high"].to_numpy(dtype=float) - v])
            ax.errorbar(v, y, xerr=np.nan_to_num(err), fmt="none", ecolor=color, capsize=3)
            ax.scatter(v[~few], y[~few], color=color, zorder=3)
            ax.scatter(v[few], y[few], facecolors="white", edgecolors=color, zorder=3)
            ax.set_yticks(y, part[by].astype(str))
            ax.invert_yaxis()
            ax.set_xlabel(unit)
            ax.set_ylabel(by)
        ax.set_title(metric, fontsize=10)
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    fig.suptitle(f"Service metrics by {by} (95% intervals; hollow markers: too few answers)")
    fig.tight_layout()
    return fig


def plot_contact_causes(frame: pd.DataFrame, *, by: str | None = None, ax=None):
    """What service contacts follow (from :func:`cxlib.features.metrics.contact_causes`): shares with 95% intervals."""
    ax = current_axes(ax)
    if by is None:
        frame = frame.assign(_group="all contacts")
        by = "_group"
    palette = {"after a bad experience": sns.color_palette()[3], "no bad experience before it": "0.6",
               "routine (how_to)": sns.color_palette()[0]}
    grouped_barh(frame, y=by, hue="cause", value="share", ax=ax, palette=palette,
                 hue_order=[c for c in palette if c in set(frame["cause"])])
    ax.set_title("What service contacts follow (95% interval)")
    ax.set_xlabel("service contacts (% of contacts)")
    ax.set_ylabel("service contacts" if by == "_group" else by)
    ax.legend(title="contact", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax


def plot_follow_up(frame: pd.DataFrame, *, by: str = "touchpoint", ax=None):
    """After a bad experience: contacted service, resolved (from :func:`cxlib.features.metrics.bad_experience_follow_up`)."""
    ax = current_axes(ax)
    grouped_barh(frame, y=by, hue="stage", value="share", ax=ax, palette="crest")
    ax.set_title("What happened after bad experiences (95% interval)")
    ax.set_xlabel("bad experiences (%; of those who contacted for the middle bar)")
    ax.set_ylabel(by)
    ax.set_xlim(0, 100)
    ax.legend(title="", loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return ax
