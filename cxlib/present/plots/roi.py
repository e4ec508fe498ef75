"""ROI figures: the net benefit of each investment side by side, with its intervals.

Each takes the tidy table of :func:`cxlib.analyses.roi.evaluate` (``result.table``) and returns its
Axes; nothing is shown or saved here.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

KIND_COLORS = {"service": 0, "experience": 1}


def plot_net_benefit(table: pd.DataFrame, *, currency: str = "EUR", horizon_months: float = 12, ax=None):
    """Net benefit (revenue retained − cost over the horizon) per scenario, with 95% intervals.

    The thick bar is the interval of the expected net benefit, the thin line the wider
    interval of what may actually be retained (when present); scenarios the data cannot
    estimate are listed and marked "not estimable".
    """
    ax = ax if ax is not None else plt.gca()
    frame = table.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(frame))
    palette = sns.color_palette()
    for i, row in frame.iterrows():
        if not row["estimable"]:
            ax.text(0, i, "  not estimable", va="center", ha="left", color="grey", fontsize=9)
            continue
        color = palette[KIND_COLORS.get(row["kind"], 2)]
        if "realised_low" in row and np.isfinite(row.get("realised_low", np.nan)):
            ax.hlines(i, row["realised_low"] - row["cost"], row["realised_high"] - row["cost"], color=color, lw=1, alpha=0.6)
        ax.hlines(i, row["net_benefit_low"], row["net_benefit_high"], color=color, lw=6, alpha=0.5)
        ax.plot(row["net_benefit"], i, "o", color=color, ms=8)
    ax.axvline(0, color="grey", lw=1, ls="--")
    ax.set_yticks(y, [f"{s}\n({k})" for s, k in zip(frame["scenario"], frame["kind"])])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    handles = [plt.Line2D([], [], color=palette[c], marker="o", lw=6, alpha=0.6, label=k) for k, c in KIND_COLORS.items()
               if k in set(frame["kind"])]
    if handles:
        ax.legend(handles=handles, title="kind", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title(f"Net benefit over {horizon_months:g} months: revenue retained minus cost (95% intervals)")
    ax.set_xlabel(f"net benefit ({currency}); right of the dashed line the investment pays for itself")
    ax.set_ylabel("investment")
    return ax
