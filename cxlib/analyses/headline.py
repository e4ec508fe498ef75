"""The headline numbers of a data set: customers, churn so far, the bad-experience rate, how
customer service follows up, CSAT and NPS, each with its interval. Numbers only; the summary's
table of them is :func:`cxlib.present.summary.headline`.
"""

from __future__ import annotations

import pandas as pd

from cxlib.config import RESOLUTION_DAYS
from cxlib.features import metrics
from cxlib.features.metrics import wilson_interval

#: The measures of :func:`headline_numbers`, in order.
MEASURES = ("customers", "churned", "bad_rate", "contacted", "resolved", "problem_resolution", "after_bad", "csat", "nps")


def _share(measure: str, successes: int, n: int, alpha: float) -> dict:
    low, high = wilson_interval(successes, n, alpha=alpha) if n else (float("nan"), float("nan"))
    value = successes / n if n else float("nan")
    return {"measure": measure, "successes": int(successes), "n": int(n), "value": value,
            "low": float(low), "high": float(high)}


def headline_numbers(data, *, resolution_days: int = RESOLUTION_DAYS, alpha: float = 0.05) -> pd.DataFrame:
    """One row per measure of :data:`MEASURES`: ``successes`` of ``n`` with ``value``, ``low``,
    ``high`` (a share with its Wilson interval; the NPS in points with its adjusted Wald interval,
    :mod:`cxlib.features.metrics`; ``customers`` is a count in ``n``). ``attrs``: ``first_signup``
    (None for an empty base) and ``as_of``.
    """
    row = data.query(
        """SELECT (SELECT count(*) FROM customers) AS customers,
                  (SELECT count(churned_at) FROM customers) AS churned,
                  (SELECT min(signup_at) FROM customers) AS first_signup,
                  (SELECT count(*) FILTER (kind = 'experience') FROM interactions) AS experiences,
                  (SELECT count(*) FILTER (kind = 'experience' AND outcome = 'bad') FROM interactions) AS bad"""
    ).iloc[0]
    customers, churned, experiences, bad = (int(row[k]) for k in ("customers", "churned", "experiences", "bad"))
    causes = metrics.contact_causes(data, resolution_days=resolution_days, alpha=alpha)
    after_bad = causes[causes["cause"] == metrics.CAUSE_AFTER_BAD].iloc[0]
    follow = metrics.bad_experience_follow_up(data, by=None, resolution_days=resolution_days, alpha=alpha)
    follow = follow.set_index("stage")
    problem = metrics.resolution_rate(data, by=None, contacts="problem", alpha=alpha).iloc[0]
    satisfaction = metrics.csat(data, by=None, alpha=alpha).iloc[0]
    promoter = metrics.nps(data, by=None, alpha=alpha).iloc[0]
    contacted, resolved = follow.loc["contacted service"], follow.loc["resolved, of all bad experiences"]
    rows = [
        {"measure": "customers", "successes": customers, "n": customers, "value": float(customers),
         "low": float("nan"), "high": float("nan")},
        _share("churned", churned, customers, alpha),
        _share("bad_rate", bad, experiences, alpha),
        _share("contacted", int(contacted["count"]), int(contacted["base"]), alpha),
        _share("resolved", int(resolved["count"]), int(resolved["base"]), alpha),
        _share("problem_resolution", int(problem["resolved"]), int(problem["contacts"]), alpha),
        _share("after_bad", int(after_bad["contacts"]), int(after_bad["total"]), alpha),
        _share("csat", int(satisfaction["satisfied"]), int(satisfaction["answers"]), alpha),
        {"measure": "nps", "successes": int(promoter["answers"]), "n": int(promoter["answers"]),
         "value": float(promoter["nps"]), "low": float(promoter["ci_low"]), "high": float(promoter["ci_high"])},
    ]
    frame = pd.DataFrame(rows)
    frame.attrs.update({"first_signup": None if pd.isna(row["first_signup"]) else row["first_signup"],
                        "as_of": data.as_of})
    return frame
