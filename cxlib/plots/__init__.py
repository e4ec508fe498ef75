"""Figures: each takes a tidy frame from :mod:`cxlib.metrics` or a model and returns its Axes.

Seaborn's conventions: data first, keyword-only options, ``ax=None`` last (the current Axes
then). Every figure has a title, labelled axes and units; nothing is shown or saved here.
One module per area; everything is importable from ``cxlib.plots``.
"""

from cxlib.plots.overview import plot_bad_rate, plot_churn_by_segment, plot_interactions

__all__ = ["plot_bad_rate", "plot_churn_by_segment", "plot_interactions"]
