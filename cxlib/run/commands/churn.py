"""cx churn: fit the survival model of churn against bad experiences, print the hazard ratios."""

from __future__ import annotations

import json

from cxlib.run.commands import options

HELP = "Hazard ratios of churn for unresolved and resolved bad experiences, adjusted for segment, tenure and engagement."


def add_arguments(parser) -> None:
    options.add_data(parser, engine=True)
    options.add_definitions(parser)
    parser.add_argument("--count-cap", type=int, default=5, help="pool trailing counts above this (default 5)")
    parser.add_argument(
        "--no-engagement", action="store_true", help="do not adjust for the experience rate (the unadjusted model)"
    )
    parser.add_argument("--by-touchpoint", action="store_true", help="a pair of hazard ratios per touchpoint")
    parser.add_argument(
        "--by-days-since", action="store_true", help="hazard ratios by days since the bad experience (1–30, 31–60, 61–90)"
    )
    parser.add_argument("--as-of", default=None, help="censoring time (ISO 8601, UTC); default: the latest timestamp in the data")
    options.add_json(parser)


def result_object(model) -> dict:
    s = model.summary
    return {
        "model": "piecewise-exponential (Poisson) regression",
        "window_days": int(model.window_days),
        "resolution_days": int(model.resolution_days),
        "count_cap": int(model.count_cap),
        "as_of": None if model.as_of_ is None else model.as_of_.isoformat(),
        "events": int(model.n_events_),
        "exposure_days": float(model.exposure_days_),
        "baseline_daily_hazard": float(model.baseline_hazard_),
        "reference": {k: (v if isinstance(v, str) else int(v)) for k, v in model.reference_.items()},
        "covariates": {
            name: {
                "hazard_ratio": _number(r.hazard_ratio),
                "ci_low": _number(r.ci_low),
                "ci_high": _number(r.ci_high),
                "p_value": _number(r.p_value),
                "meaning": r.meaning,
                **({"not_estimable": r.not_estimable} if r.not_estimable else {}),
            }
            for name, r in s.iterrows()
        },
        "not_estimable": dict(model.not_estimable_),
        "engagement_adjusted": bool(model.engagement),
        "unadjusted": None if model.unadjusted_ is None else {
            name: {
                "hazard_ratio": _number(r.hazard_ratio),
                "ci_low": _number(r.ci_low),
                "ci_high": _number(r.ci_high),
                "p_value": _number(r.p_value),
                "meaning": r.meaning,
            }
            for name, r in model.unadjusted_.summary.iterrows()
        },
    }


def _number(value) -> float | None:
    """A float for JSON; None where the data could not estimate it (never NaN, which is not JSON)."""
    return None if value is None or value != value else float(value)


def main(args) -> int:
    from cxlib.models.churn import ChurnModel
    from cxlib.present.tables import churn_summary_text

    with options.open_data(args) as data:
        model = ChurnModel(
            window_days=args.window_days, resolution_days=args.resolution_days, count_cap=args.count_cap,
            engagement=not args.no_engagement, by_touchpoint=args.by_touchpoint, by_days_since=args.by_days_since,
        ).fit(data)
        if args.json:
            print(json.dumps(result_object(model), indent=2))
        else:
            print(churn_summary_text(model))
    return 0
