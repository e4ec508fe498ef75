"""What an estimator should recover from a simulated world: its true parameters and expected counts."""

from __future__ import annotations

import math
from datetime import datetime

from cxlib.data.simulate.config import SimulationConfig


def truth(config: SimulationConfig | None = None, *, n_customers: int, seed: int, chunk_size: int = 20_000) -> dict:
    """The true parameters of a simulation, as JSON-able data (no realised counts)."""
    cfg = config or SimulationConfig()
    tps = cfg.touchpoints
    delay = [float(p) for p in cfg.contact_delay_probs]
    p_within = float(sum(delay[: cfg.resolution_days + 1]))
    return {
        "n_customers": int(n_customers),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "start": iso_z(cfg.start_datetime),
        "as_of": iso_z(cfg.as_of_datetime),
        "days": int(cfg.days),
        "month_days": cfg.month_days,
        "segment_shares": dict(cfg.segment_shares),
        "monthly_value": {"median_by_segment": dict(cfg.value_median), "sigma": cfg.value_sigma,
                          "distribution": "lognormal, rounded to 2 decimals"},
        "touchpoints": {
            tp: {
                "rate_per_month": spec["rate_per_month"],
                "once_at_signup": spec["rate_per_month"] is None,
                "channels": dict(spec["channels"]),
                "bad_rate_by_channel": dict(spec["bad_rate"]),
                "expected_bad_rate": cfg.expected_bad_rate(tp),
            }
            for tp, spec in tps.items()
        },
        "onboarding_window_days": cfg.onboarding_window_days,
        "bad_rate_by_touchpoint": {tp: cfg.expected_bad_rate(tp) for tp in tps},
        "bad_rate_by_touchpoint_channel": {tp: dict(spec["bad_rate"]) for tp, spec in tps.items()},
        "outcome_if_not_bad": {"good": cfg.p_good_if_not_bad, "neutral": 1.0 - cfg.p_good_if_not_bad},
        "service_outcome": "good when resolved, bad otherwise",
        "service_channels": dict(cfg.service_channels),
        "p_contact": cfg.p_contact,
        "contact_delay_days": {str(d): p for d, p in enumerate(delay)},
        "p_contact_within_resolution_days": p_within,
        "p_resolve_by_channel": dict(cfg.p_resolve),
        "p_resolve_expected": cfg.expected_p_resolve(),
        # resolution of a bad experience by its own contact alone; other contacts of the same
        # touchpoint within resolution_days can add to it (resolution is defined from the rows)
        "p_resolved_by_own_contact": cfg.p_contact * p_within * cfg.expected_p_resolve(),
        "routine": {"touchpoint": cfg.routine_touchpoint, "rate_per_month": cfg.routine_rate_per_month,
                    "p_resolve": cfg.routine_p_resolve, "channels": dict(cfg.service_channels)},
        "optional_fields": {
            "csat_share_service": cfg.csat_share_service,
            "csat_share_experience": cfg.csat_share_experience,
            "nps_share_experience": cfg.nps_share_experience,
            "csat_probs": {k: list(v) for k, v in cfg.csat_probs.items()},
            "nps_probs": {k: list(v) for k, v in cfg.nps_probs.items()},
            "first_response_minutes": {"median_by_channel": dict(cfg.first_response_median_minutes),
                                       "sigma": cfg.first_response_sigma,
                                       "distribution": "lognormal, service rows, rounded to 1 decimal"},
            "cost_by_channel": dict(cfg.cost_by_channel),
        },
        "hazard": {
            "model": "h(d) = base_daily[segment] * tenure_hr[band] * hr_unresolved**U(d) * hr_resolved**R(d)",
            "base_monthly_churn": dict(cfg.base_monthly_churn),
            "base_daily": cfg.base_daily_hazard(),
            "tenure_bands": [
                {"from_day": int(lo), "to_day": int(hi) if hi is not None else None, "hr": float(hr)}
                for lo, hi, hr in zip(cfg.tenure_band_starts, [*cfg.tenure_band_starts[1:], None], cfg.tenure_hr)
            ],
            "tenure_reference_band": _reference_band(cfg),
            "hr_unresolved": cfg.hr_unresolved,
            "hr_resolved": cfg.hr_resolved,
            "log_hr_unresolved": math.log(cfg.hr_unresolved),
            "log_hr_resolved": math.log(cfg.hr_resolved),
            "window_days": int(cfg.window_days),
            "resolution_days": int(cfg.resolution_days),
            "hr_by_touchpoint": {tp: {k: cfg.touchpoint_hr(tp, k) for k in ("unresolved", "resolved")} for tp in tps},
            "engagement": None if cfg.engagement_shape is None else {
                "model": "usage multiplier a ~ Gamma(shape, scale 1/shape), mean 1: touchpoint and routine-contact "
                         "rates x a, baseline hazard x a**churn_power",
                "shape": float(cfg.engagement_shape), "scale": 1.0 / float(cfg.engagement_shape),
                "churn_power": float(cfg.engagement_churn_power),
            },
            "fade": None if not cfg.fade_log_hr else {
                "model": "log HR of a bad experience x factor of its days-since band",
                "bands": _fade_bands(cfg),
                "hr_by_band": {kind: [math.exp(f * math.log(hr)) for f in cfg.fade_log_hr]
                               for kind, hr in (("unresolved", cfg.hr_unresolved), ("resolved", cfg.hr_resolved))},
                "hr_by_touchpoint_band": {tp: {kind: [cfg.faded_hr(tp, kind, b) for b in range(len(cfg.fade_log_hr))]
                                               for kind in ("unresolved", "resolved")} for tp in tps},
            },
            "seasonality": None if not cfg.seasonal_amplitude else {
                "model": "baseline hazard x (1 + amplitude cos(2 pi (day of year - peak_day) / 365.25))",
                "amplitude": float(cfg.seasonal_amplitude), "peak_day": int(cfg.seasonal_peak_day),
            },
        },
        "pre_churn_contacts": None if not cfg.pre_churn_contact_rate_per_month else {
            "model": "extra routine contacts, Poisson at rate_per_month, uniform over the days before churned_at",
            "rate_per_month": float(cfg.pre_churn_contact_rate_per_month), "days": int(cfg.pre_churn_days),
        },
        "config": cfg.to_dict(),
    }


def _fade_bands(cfg: SimulationConfig) -> list:
    starts = [1, *(c + 1 for c in cfg.fade_band_days)]
    ends = [*cfg.fade_band_days, cfg.window_days]
    return [{"from_day": int(a), "to_day": int(b), "factor": float(f)} for a, b, f in zip(starts, ends, cfg.fade_log_hr)]


def _reference_band(cfg: SimulationConfig) -> int | None:
    for lo, hr in zip(cfg.tenure_band_starts, cfg.tenure_hr):
        if hr == 1.0:
            return int(lo)
    return None


def iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
