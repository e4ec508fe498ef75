"""CX metrics: functions that take a loaded :class:`~cxlib.data.load.Dataset` and return tidy frames.

Aggregation runs in the data set's engine through ``data.query`` (DuckDB in process, or
Spark: :mod:`cxlib.data.spark`; one GROUP BY, never a Python loop per row), so the functions work
on a million customers; what comes back is small. The SQL is DuckDB's dialect, written in
forms that sqlglot transpiles to Spark faithfully (see :mod:`cxlib.data.spark`). Every
rate comes with its count and a 95% interval.

One package, read as one module (``from cxlib.features import metrics; metrics.csat(data)``):

- :mod:`~cxlib.features.metrics.overview`: headline counts, churn by segment, bad-experience
  rates, recent bad experiences, one slice of the data;
- :mod:`~cxlib.features.metrics.service`: CSAT, NPS, first response, resolution and contact rates;
- :mod:`~cxlib.features.metrics.experience`: the outcome mix, what contacts follow, the follow-up
  of bad experiences, consistency across channels;
- :mod:`~cxlib.features.metrics.journeys`: transitions between steps, the paths before churn;
- :mod:`~cxlib.features.metrics.groups` and :mod:`~cxlib.features.metrics.intervals`: what they share.

Who counts at a moment is :mod:`cxlib.features.sql`'s rule (signed up strictly before it), as in the panel.
"""

from cxlib.features.metrics.experience import (
    CAUSE_AFTER_BAD,
    CAUSE_OTHER,
    CAUSE_ROUTINE,
    CAUSES,
    FOLLOW_UP_STAGES,
    bad_experience_follow_up,
    channel_consistency,
    contact_causes,
    outcome_mix,
)
from cxlib.features.metrics.groups import MIN_ANSWERS
from cxlib.features.metrics.intervals import nps_interval, poisson_interval, wilson_interval
from cxlib.features.metrics.journeys import (
    END_ACTIVE,
    END_CHURNED,
    SERVICE_STEP,
    START,
    churn_paths,
    journey_transitions,
    transition_matrix,
)
from cxlib.features.metrics.overview import (
    OVERVIEW_COLUMNS,
    SLICE_KEYS,
    bad_rate,
    churn_by_segment,
    interactions_by,
    overview,
    recent_bad_experiences,
    slice_metrics,
    slice_options,
)
from cxlib.features.metrics.service import (
    CONTACT_GROUPS,
    SERVICE_CHANNELS_NOTE,
    SERVICE_METRICS,
    contact_rate,
    csat,
    first_response,
    nps,
    resolution_rate,
    service_metrics,
)

__all__ = [
    "CAUSES", "CAUSE_AFTER_BAD", "CAUSE_OTHER", "CAUSE_ROUTINE", "CONTACT_GROUPS", "END_ACTIVE", "END_CHURNED",
    "FOLLOW_UP_STAGES", "MIN_ANSWERS", "OVERVIEW_COLUMNS", "SERVICE_CHANNELS_NOTE", "SERVICE_METRICS", "SERVICE_STEP",
    "SLICE_KEYS", "START", "bad_experience_follow_up", "bad_rate", "channel_consistency", "churn_by_segment",
    "churn_paths", "contact_causes", "contact_rate", "csat", "first_response", "interactions_by", "journey_transitions",
    "nps", "nps_interval", "outcome_mix", "overview", "poisson_interval", "recent_bad_experiences", "resolution_rate",
    "service_metrics", "slice_metrics", "slice_options", "transition_matrix", "wilson_interval",
]
