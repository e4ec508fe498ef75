"""What every figure function shares."""

from __future__ import annotations

import matplotlib.pyplot as plt


def current_axes(ax=None):
    """``ax``, or the current Axes when it is None (seaborn's convention)."""
    return ax if ax is not None else plt.gca()
