"""Kaplan–Meier curves by the number of bad experiences early in a customer's life.

A landmark analysis: only customers still active ``landmark_days`` after signing up (and
observed that long before ``as_of``) are followed, from that landmark on, in groups fixed at
the landmark by their bad experiences in the first ``landmark_days`` (0, 1, 2, 3+). Fixing
the groups at the landmark avoids the immortal-time bias of grouping customers by what
happens to them later (a customer who stays longer has more time to have bad experiences).
Numbers only: :func:`cxlib.present.tables.survival_table` is their text.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cxlib.config import WINDOW_DAYS
from cxlib.exceptions import ThinEvidenceWarning


def landmark_cohort(data, *, landmark_days: int = WINDOW_DAYS, max_group: int = 3, as_of=None) -> pd.DataFrame:
    """One row per customer active at the landmark: group, days followed from it, churned.

    ``group`` is the number of bad experiences before ``signup_at + landmark_days`` as text,
    the last group pooling ``max_group`` and more (``3+``).
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    days = int(landmark_days)
    if days < 0:
        raise ValueError(f"landmark_days must be >= 0, not {landmark_days}")
    cap = int(max_group)
    frame = data.query(
        f"""WITH c AS (
                SELECT customer_id, signup_at + INTERVAL {days} DAY AS landmark_at, churned_at
                FROM customers WHERE signup_at + INTERVAL {days} DAY <= $as_of
                  AND (churned_at IS NULL OR churned_at > signup_at + INTERVAL {days} DAY)
            ), bad AS (
                SELECT i.customer_id, count(*) AS n FROM interactions i JOIN c ON c.customer_id = i.customer_id
                WHERE i.kind = 'experience' AND i.outcome = 'bad' AND i."at" < c.landmark_at
                GROUP BY i.customer_id
            )
            SELECT c.customer_id, coalesce(bad.n, 0) AS bad_experiences,
                   CAST(date_diff('microsecond', c.landmark_at, least(coalesce(c.churned_at, $as_of), $as_of)) AS DOUBLE)
                       / 86400000000 AS days,
                   coalesce(c.churned_at <= $as_of, false) AS churned
            FROM c LEFT JOIN bad ON bad.customer_id = c.customer_id
            ORDER BY c.customer_id""",
        {"as_of": as_of.to_pydatetime()},
    )
    n = frame["bad_experiences"].astype(int)
    frame["group"] = np.where(n >= cap, f"{cap}+", n.astype(str))
    frame["churned"] = frame["churned"].astype(bool)
    return frame


def group_order(max_group: int = 3) -> list[str]:
    return [str(i) for i in range(int(max_group))] + [f"{int(max_group)}+"]


def kaplan_meier(
    data, *, landmark_days: int = WINDOW_DAYS, max_group: int = 3, alpha: float = 0.05, as_of=None
) -> pd.DataFrame:
    """Tidy Kaplan–Meier curves: group, days (since the landmark), survival, ci_low, ci_high, at_risk.

    Fitted with lifelines' ``KaplanMeierFitter`` per group; ``attrs['landmark_days']`` keeps
    the landmark for the figure.
    """
    from lifelines import KaplanMeierFitter

    cohort = landmark_cohort(data, landmark_days=landmark_days, max_group=max_group, as_of=as_of)
    parts = []
    for group in group_order(max_group):
        g = cohort[cohort["group"] == group]
        if g.empty:
            continue
        if int(g["churned"].sum()) < 10:
            warnings.warn(
                f"group {group}: only {int(g['churned'].sum())} churn events; its curve is imprecise",
                ThinEvidenceWarning,
                stacklevel=2,
            )
        km = KaplanMeierFitter(alpha=alpha).fit(g["days"], event_observed=g["churned"], label=group)
        sf = km.survival_function_
        ci = km.confidence_interval_survival_function_
        table = km.event_table
        parts.append(
            pd.DataFrame(
                {
                    "group": group,
                    "days": sf.index.to_numpy(dtype=float),
                    "survival": sf.iloc[:, 0].to_numpy(),
                    "ci_low": ci.iloc[:, 0].to_numpy(),
                    "ci_high": ci.iloc[:, 1].to_numpy(),
                    "at_risk": table["at_risk"].reindex(sf.index).to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["group", "days", "survival", "ci_low", "ci_high", "at_risk"]
    )
    frame.attrs["landmark_days"] = int(landmark_days)
    return frame


def survival_at(curves: pd.DataFrame, days=(90, 180, 365)) -> pd.DataFrame:
    """Survival (with interval) of each group at given days after the landmark, read off the curves."""
    rows = []
    for group, g in curves.groupby("group", sort=False):
        g = g.sort_values("days")
        row = {"group": group, "customers": int(g["at_risk"].iloc[0])}
        for d in days:
            i = np.searchsorted(g["days"].to_numpy(), d, side="right") - 1
            if d > g["days"].max():
                row[f"survival_{d}d"] = np.nan
                continue
            row[f"survival_{d}d"] = float(g["survival"].iloc[i])
            row[f"ci_low_{d}d"] = float(g["ci_low"].iloc[i])
            row[f"ci_high_{d}d"] = float(g["ci_high"].iloc[i])
        rows.append(row)
    return pd.DataFrame(rows)
