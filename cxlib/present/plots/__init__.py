"""Figures: each takes a tidy frame from :mod:`cxlib.features.metrics` or a model and returns its Axes.

Seaborn's conventions: data first, keyword-only options, ``ax=None`` last (the current Axes
then). Every figure has a title, labelled axes and units; nothing is shown or saved here.
One module per area; everything is importable from ``cxlib.present.plots``.
"""

from cxlib.present.plots.overview import plot_bad_rate, plot_churn_by_segment, plot_interactions

__all__ = ["plot_bad_rate", "plot_churn_by_segment", "plot_interactions"]

from cxlib.present.plots.churn import plot_claims, plot_cross_check, plot_hazard_ratios, plot_survival_curves  # noqa: E402

__all__ += ["plot_claims", "plot_cross_check", "plot_hazard_ratios", "plot_survival_curves"]

from cxlib.present.plots.experience import plot_bad_rate_heatmap, plot_channel_consistency, plot_outcome_mix  # noqa: E402
from cxlib.present.plots.journeys import plot_churn_paths, plot_transitions  # noqa: E402
from cxlib.present.plots.service import plot_contact_causes, plot_follow_up, plot_service_metrics  # noqa: E402

__all__ += [
    "plot_bad_rate_heatmap",
    "plot_channel_consistency",
    "plot_churn_paths",
    "plot_contact_causes",
    "plot_follow_up",
    "plot_outcome_mix",
    "plot_service_metrics",
    "plot_transitions",
]

from cxlib.present.plots.roi import plot_net_benefit  # noqa: E402

__all__ += ["plot_net_benefit"]

from cxlib.present.plots.risk import plot_risk_calibration, plot_risk_capture, plot_risk_importance  # noqa: E402

__all__ += ["plot_risk_calibration", "plot_risk_capture", "plot_risk_importance"]
