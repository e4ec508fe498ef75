"""Churn figures: hazard ratios, the Cox cross-check, survival curves and the claims.

Each takes a tidy frame from :mod:`cxlib.churn`, :mod:`cxlib.survival` or
:mod:`cxlib.claims` and returns its Axes; nothing is shown or saved here.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxlib.plots.axes import current_axes



_TICKS = (0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0)


def _log_ticks(ax) -> None:
    """Readable ticks on a log axis of ratios."""
    low, high = ax.get_xlim()
    ticks = [t for t in _TICKS if low <= t <= high]
    if len(ticks) >= 2:
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(plt.NullFormatter())


def plot_hazard_ratios(summary: pd.DataFrame, *, ax=None):
    """Hazard ratios with their intervals on a log scale (from ``ChurnModel.summary``)."""
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
    """Poisson and Cox hazard ratios side by side (from ``churn.cox_cross_check``)."""
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


def _claim_labels(frame: pd.DataFrame) -> list[str]:
    """The statements, wrapped; a statement tested more than once also names its claim id."""
    statements = frame["statement"].astype(str) if "statement" in frame else frame.index.astype(str)
    repeated = statements.duplicated(keep=False)
    return [
        textwrap.fill(text, 42) + (f"\n({cid})" if twice else "")
        for cid, text, twice in zip(frame.index.astype(str), statements, repeated)
    ]


def plot_claims(frame: pd.DataFrame, *, ax=None):
    """Each tested claim: the estimate with its interval against the claimed value (from ``claims.evaluate``)."""
    ax = current_axes(ax)
    frame = frame[frame["estimate"].notna() & (frame["scale"] == "share")].iloc[::-1]
    y = np.arange(len(frame))
    est = 100 * frame["estimate"].to_numpy(dtype=float)
    err = np.vstack([est - 100 * frame["ci_low"].to_numpy(dtype=float), 100 * frame["ci_high"].to_numpy(dtype=float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", capsize=3, color=sns.color_palette()[0], label="estimate (95% interval)")
    ax.scatter(100 * frame["claimed"].to_numpy(dtype=float), y, marker="x", color=sns.color_palette()[3], zorder=3, label="claimed")
    if "baseline" in frame:
        ax.scatter(100 * frame["baseline"].to_numpy(dtype=float), y, marker="|", s=200, color="grey", zorder=3,
                   label="comparable customers without one")
    ax.set_yticks(y, _claim_labels(frame))
    ax.set_xlim(0, 100)
    ax.set_title("Claims against the data: share who left within the horizon")
    ax.set_xlabel("churned within the horizon (% of qualifying customers)")
    ax.set_ylabel("claim")
    ax.legend(loc="best")
    return ax
