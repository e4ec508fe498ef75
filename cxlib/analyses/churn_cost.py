"""What a bad experience costs in customers, for the churn model's reference customer: churn
within a horizon with no, one resolved and one unresolved bad experience, with intervals from
draws of the fitted coefficients. Numbers only; the words are :func:`cxlib.present.summary.recommendation`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.config import HORIZON_DAYS


COST_DRAWS = 4000


SCENARIOS = ("no bad experience", "one resolved bad experience", "one unresolved bad experience")


def cost_of_bad_experience(
    model, *, horizon_days: int = HORIZON_DAYS, draws: int = COST_DRAWS, seed: int = 0, alpha: float | None = None
) -> pd.DataFrame:
    """Churn within ``horizon_days`` for the model's reference customer, by bad experience.

    The reference customer is the model's (its largest segment, the reference tenure band).
    A bad experience counts in the trailing window for ``model.window_days`` days, so its
    hazard ratio applies for ``min(horizon_days, window_days)`` days and the baseline
    hazard after that. Intervals come from ``draws`` draws of the coefficients from their
    estimated normal distribution (``params_``, ``cov_``).

    Index: :data:`SCENARIOS`. Columns: ``hazard_ratio``, ``hr_low``, ``hr_high``,
    ``churn``, ``churn_low``, ``churn_high`` (shares), ``extra_churn``, ``extra_low``,
    ``extra_high`` (against no bad experience, in share points), ``horizon_days``.
    """
    model._check_fitted()
    alpha = model.alpha if alpha is None else alpha
    horizon = float(horizon_days)
    if horizon <= 0:
        raise ValueError(f"horizon_days must be > 0, not {horizon_days}")
    names = ["baseline", "resolved", "unresolved"]
    mean = model.params_[names].to_numpy(dtype=float)
    cov = model.cov_.loc[names, names].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    # a term the data could not estimate has no variance: its row is 0, which Cholesky refuses
    method = "eigh" if getattr(model, "not_estimable_", None) else "cholesky"
    sample = rng.multivariate_normal(mean, cov, size=int(draws), method=method)
    sample = np.vstack([mean, sample])  # row 0: the point estimate
    exposed = min(horizon, float(model.window_days))

    def churn(log_hr):
        cumulative = np.exp(sample[:, 0]) * (np.exp(log_hr) * exposed + (horizon - exposed))
        return 1 - np.exp(-cumulative)

    log_hrs = {SCENARIOS[0]: np.zeros(len(sample)), SCENARIOS[1]: sample[:, 1], SCENARIOS[2]: sample[:, 2]}
    base = churn(log_hrs[SCENARIOS[0]])
    lo_q, hi_q = 100 * alpha / 2, 100 * (1 - alpha / 2)
    rows = []
    for scenario, log_hr in log_hrs.items():
        p = churn(log_hr)
        hr = np.exp(log_hr)
        extra = p - base
        rows.append(
            {
                "scenario": scenario,
                "hazard_ratio": hr[0],
                "hr_low": np.percentile(hr[1:], lo_q) if scenario != SCENARIOS[0] else 1.0,
                "hr_high": np.percentile(hr[1:], hi_q) if scenario != SCENARIOS[0] else 1.0,
                "churn": p[0],
                "churn_low": np.percentile(p[1:], lo_q),
                "churn_high": np.percentile(p[1:], hi_q),
                "extra_churn": extra[0],
                "extra_low": np.percentile(extra[1:], lo_q),
                "extra_high": np.percentile(extra[1:], hi_q),
            }
        )
    frame = pd.DataFrame(rows).set_index("scenario")
    # A hazard ratio the data could not estimate (model.not_estimable_) has no cost: NaN, with the reason.
    missing = getattr(model, "not_estimable_", None) or {}
    frame["not_estimable"] = ""
    for scenario, term in ((SCENARIOS[1], "resolved"), (SCENARIOS[2], "unresolved")):
        if term in missing:
            frame.loc[scenario, [c for c in frame.columns if c != "not_estimable"]] = np.nan
            frame.loc[scenario, "not_estimable"] = missing[term]
    frame["horizon_days"] = int(horizon_days)
    frame.attrs.update(
        {
            "segment": model.reference_["segment"],
            "tenure_band": model.reference_["tenure_band"],
            "window_days": int(model.window_days),
            "contrast": model.contrast("resolved", "unresolved"),
            "adjusted_for": adjusted_for(model),
        }
    )
    return frame


def adjusted_for(model) -> tuple[str, ...]:
    """What the fitted ``model``'s hazard ratios are adjusted for, in the order a reader meets them."""
    return ("segment", "tenure") + (("engagement",) if getattr(model, "engagement", False) else ())
