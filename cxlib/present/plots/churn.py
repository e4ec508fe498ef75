"""Churn figures: hazard ratios, the Cox cross-check, survival curves and the claims.

Each takes a tidy frame (or a fitted model) from :mod:`cxlib.models.churn`, :mod:`cxlib.models.checks`,
:mod:`cxlib.models.survival` or :mod:`cxlib.analyses.claims` and returns its Axes; nothing is shown
or saved here.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.present.plots.axes import current_axes

_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0)


def _log_ticks(ax) -> None:
    """Readable ticks on a log axis of ratios."""
    low, high = ax.get_xlim()
    ticks = [t for t in _TICKS if low <= t <= high]
    if len(ticks) >= 2:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def plot_hazard_ratios(model, *, ax=None):
    """A fitted :class:`~cxlib.models.churn.ChurnModel`'s hazard ratios with their intervals, on a log scale.

    ``model`` may also be its ``summary`` frame (a model read back from a run's results, or a subset of rows).
    """
    summary = model if isinstance(model, pd.DataFrame) else model.summary
    ax = current_axes(ax)
    frame = summary.iloc[::-1]
    y = np.arange(len(frame))
    hr = frame["hazard_ratio"].to_numpy()
    err = np.vstack([hr - frame["ci_low"].to_numpy(), frame["ci_high"].to_numpy() - hr])
    ax.errorbar(hr, y, xerr=err, fmt="o", color=sns.color_palette()[0], capsize=3)
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, frame.index.astype(str))
    _log_ticks(ax)
    ax.set_title("Hazard ratios of churn (95% interval, log scale)")
    ax.set_xlabel("hazard ratio (1 = no difference; log scale)")
    ax.set_ylabel("covariate")
    return ax


def plot_cross_check(frame: pd.DataFrame, *, ax=None):
    """Poisson and Cox hazard ratios side by side (from ``checks.cox_cross_check``)."""
    ax = current_axes(ax)
    frame = frame.iloc[::-1]
    y = np.arange(len(frame))
    for offset, prefix, label, color in ((0.15, "poisson", "Poisson (cxlib)", 0), (-0.15, "cox", "Cox (lifelines)", 1)):
        hr = frame[f"{prefix}_hr"].to_numpy()
        err = np.vstack([hr - frame[f"{prefix}_ci_low"].to_numpy(), frame[f"{prefix}_ci_high"].to_numpy() - hr])
        ax.errorbar(hr, y + offset, xerr=err, fmt="o", capsize=3, label=label, color=sns.color_palette()[color])
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, frame.index.astype(str))
    _log_ticks(ax)
    ax.set_title("Poisson and Cox models on the same customers (95% intervals)")
    ax.set_xlabel("hazard ratio (log scale)")
    ax.set_ylabel("covariate")
    ax.legend(loc="best")
    return ax


def plot_survival_curves(frame: pd.DataFrame, *, ax=None):
    """Kaplan–Meier curves with confidence bands per group (from ``survival.kaplan_meier``)."""
    ax = current_axes(ax)
    palette = sns.color_palette(n_colors=frame["group"].nunique())
    for color, (group, g) in zip(palette, frame.groupby("group", sort=False)):
        n = int(g["at_risk"].iloc[0]) if len(g) else 0
        ax.step(g["days"], 100 * g["survival"], where="post", color=color, label=f"{group} (n={n:,})")
        ax.fill_between(g["days"], 100 * g["ci_low"], 100 * g["ci_high"], step="post", color=color, alpha=0.2)
    landmark = frame.attrs.get("landmark_days")
    title = "Still a customer, by early bad experiences (95% bands)"
    if landmark:
        title = f"Still a customer after day {landmark}, by bad experiences before it"
    ax.set_title(title)
    ax.set_xlabel(f"days since day {landmark} of tenure" if landmark else "days")
    ax.set_ylabel("still a customer (%)")
    ax.legend(title="bad experiences", loc="lower left")
    return ax


#: Inches per claim row, so that labels of two lines never overlap.
_CLAIM_ROW_INCHES = 0.5


def _claim_labels(frame: pd.DataFrame) -> list[str]:
    """The claims in a few words a manager reads (``label``; the statement where a frame has none), wrapped."""
    labels = frame["label"] if "label" in frame else frame["statement"]
    labels = [str(lab) if isinstance(lab, str) and lab else str(st) for lab, st in zip(labels, frame["statement"])]
    return [textwrap.fill(text, 46) for text in labels]


def plot_claims(frame: pd.DataFrame, *, ax=None):
    """Each claim with a share: the estimate with its interval against the claimed value (from ``claims.evaluate``).

    Shares of customers who left (``scale == "share"``) and who stayed (``"retained"``, TARP's
    groups) share one axis of percentages; each row's label says which it is. Given no
    ``ax``, a figure holding only this axes is made tall enough for one row per claim.
    """
    shown = frame[frame["estimate"].notna() & frame["scale"].isin(["share", "retained"])].iloc[::-1]
    if ax is None:
        ax = current_axes(ax)
        fig = ax.figure
        if len(fig.axes) == 1:
            width, height = fig.get_size_inches()
            fig.set_size_inches(max(width, 10.0), max(height, _CLAIM_ROW_INCHES * len(shown) + 1.8))
    frame = shown
    y = np.arange(len(frame))
    est = 100 * frame["estimate"].to_numpy(dtype=float)
    err = np.vstack([est - 100 * frame["ci_low"].to_numpy(dtype=float), 100 * frame["ci_high"].to_numpy(dtype=float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", capsize=3, color=sns.color_palette()[0], label="this data (95% interval)")
    ax.scatter(100 * frame["claimed"].to_numpy(dtype=float), y, marker="x", color=sns.color_palette()[3], zorder=3, label="claimed")
    if "baseline" in frame and frame["baseline"].notna().any():
        ax.scatter(100 * frame["baseline"].to_numpy(dtype=float), y, marker="|", s=200, color="grey", zorder=3,
                   label="comparable customers without a bad experience")
    ax.set_yticks(y, _claim_labels(frame))
    ax.set_ylim(-0.6, len(frame) - 0.4)
    ax.set_xlim(0, 100)
    ax.set_title("Published claims against what customers did")
    ax.set_xlabel("% of qualifying customers who left within the horizon (who stayed, for the 'stay' claims)")
    ax.set_ylabel("claim")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    return ax
