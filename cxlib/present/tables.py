"""Formatting tables for readers: numbers with units, intervals as "6.1% (5.8–6.4%)".

Formatting only: the numbers come from :mod:`cxlib.features.metrics` and the models
(:class:`cxlib.models.churn.ChurnModel`'s ``summary``, :mod:`cxlib.models.checks`,
:mod:`cxlib.models.survival`), which hand back numbers and never format them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.models.survival import survival_at
from cxlib.present.format import number_interval, pct, pct_interval


def rate_table(frame: pd.DataFrame, *, rate: str, n: str, keys, label: str) -> pd.DataFrame:
    """Keys, count and the rate with its interval, as text a manager reads."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    out = frame[keys].copy()
    out[n] = frame[n].map("{:,}".format)
    out[label] = [pct_interval(v, lo, hi) for v, lo, hi in zip(frame[rate], frame["ci_low"], frame["ci_high"])]
    out = out.set_index(keys)
    return one_header_row(out) if len(keys) == 1 else out


def churn_summary_table(model) -> pd.DataFrame:
    """A fitted :class:`~cxlib.models.churn.ChurnModel`'s summary as text a manager reads: ``1.30 (1.21–1.40)``."""
    s = model.summary
    level = f"hazard ratio ({100 * (1 - model.alpha):.0f}% interval)"
    table = pd.DataFrame(
        {
            "covariate": s.index,
            "meaning": s["meaning"].to_numpy(),
            level: [
                f"not estimable: {why}" if why else number_interval(h, lo, hi)
                for h, lo, hi, why in zip(s["hazard_ratio"], s["ci_low"], s["ci_high"], s["not_estimable"])
            ],
            "p-value": [_format_p(p) for p in s["p_value"]],
        }
    )
    if "unadjusted_hr" in s:
        table["not adjusted for engagement"] = [
            "–" if not np.isfinite(h) else number_interval(h, lo, hi)
            for h, lo, hi in zip(s["unadjusted_hr"], s["unadjusted_ci_low"], s["unadjusted_ci_high"])
        ]
    return table


def churn_summary_text(model) -> str:
    """A fitted churn model in plain text (``cx churn``): one line on its events and baseline, then the table."""
    head = (
        f"ChurnModel: {model.n_events_:,} churn events over {model.exposure_days_ / 365.25:,.0f} customer-years; "
        f"baseline daily hazard {model.baseline_hazard_:.2e} ({model.reference_['segment']}, "
        f"{model.reference_['tenure_band']}, no bad experience)"
    )
    return head + "\n" + churn_summary_table(model).to_string(index=False)


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def cross_check_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.models.checks.cox_cross_check` as text: both hazard ratios with intervals, side by side."""
    return pd.DataFrame(
        {
            "covariate": frame.index,
            "Poisson (all of the sample's person-time)": [
                number_interval(*v) for v in zip(frame["poisson_hr"], frame["poisson_ci_low"], frame["poisson_ci_high"])
            ],
            "Cox (lifelines)": [number_interval(*v) for v in zip(frame["cox_hr"], frame["cox_ci_low"], frame["cox_ci_high"])],
            "Cox / Poisson": [f"{r:.3f}" for r in frame["ratio"]],
        }
    )


def survival_table(curves: pd.DataFrame, days=(90, 180, 365)) -> pd.DataFrame:
    """:func:`cxlib.models.survival.survival_at` as text: ``91.2% (90.5–91.9%)`` per group and day."""
    at = survival_at(curves, days)
    out = pd.DataFrame({"bad experiences": at["group"], "customers": at["customers"].map("{:,}".format)})
    for d in days:
        if f"ci_low_{d}d" in at:
            out[f"still a customer after {d} days"] = [
                pct_interval(v, lo, hi) for v, lo, hi in zip(at[f"survival_{d}d"], at[f"ci_low_{d}d"], at[f"ci_high_{d}d"])
            ]
    return out


def negative_control_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.models.checks.negative_control` as text: the HR of each good experience, adjusted and not."""
    names = {"adjusted": "adjusted for engagement", "unadjusted": "not adjusted"}
    return pd.DataFrame(
        {
            "model": [names.get(i, i) for i in frame.index],
            "hazard ratio of each good experience (95% interval)": [
                number_interval(h, lo, hi) for h, lo, hi in zip(frame["hazard_ratio"], frame["ci_low"], frame["ci_high"])
            ],
            "interval includes 1": ["yes" if c else "no" for c in frame["covers_one"]],
        }
    )


def negative_control_text(frame: pd.DataFrame) -> str:
    """One sentence on the negative control: is confounding left after the adjustment?"""
    r = frame.loc["adjusted"]
    hr = number_interval(r["hazard_ratio"], r["ci_low"], r["ci_high"])
    if r["covers_one"]:
        return (f"A good experience should not change the risk of leaving, and adjusted it does not: hazard ratio {hr}. "
                "No sign of confounding the adjustment left behind.")
    return (f"A good experience should not change the risk of leaving, yet adjusted its hazard ratio is {hr}: "
            "unmeasured confounding remains, so read the hazard ratios of bad experiences as approximate "
            f"({'likely understated' if r['hazard_ratio'] < 1 else 'possibly overstated'}).")


def e_value_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.models.checks.e_values` as text."""
    return pd.DataFrame(
        {
            "covariate": frame.index,
            "hazard ratio (95% interval)": [
                number_interval(h, lo, hi) for h, lo, hi in zip(frame["hazard_ratio"], frame["ci_low"], frame["ci_high"])
            ],
            "E-value": [f"{v:.2f}" for v in frame["e_value"]],
            "E-value of the interval's limit": [f"{v:.2f}" for v in frame["e_value_ci"]],
        }
    )


def e_value_text(frame: pd.DataFrame) -> str:
    """One sentence on what the E-value of the unresolved hazard ratio means."""
    r = frame.iloc[0]
    return (f"To explain away the hazard ratio of {frame.index[0]} bad experiences ({r['hazard_ratio']:.2f}), an unmeasured "
            f"confounder would have to raise both the chance of such an experience and the risk of leaving by a factor of "
            f"{r['e_value']:.2f} each (VanderWeele & Ding's E-value; {r['e_value_ci']:.2f} to move the interval to 1), "
            "beyond what segment, tenure and engagement already account for.")


#: What each measure of :func:`cxlib.features.metrics.slice_metrics` counts, in words.
SLICE_BASES = {"bad-experience rate": "experiences", "resolution rate": "contacts about a problem",
               "CSAT": "answers"}


def slice_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.features.metrics.slice_metrics` as text: the rate with its 95% interval and what it rests on."""
    out = pd.DataFrame(
        {
            "value (95% interval)": [pct_interval(v, lo, hi) for v, lo, hi in
                                     zip(frame["rate"], frame["ci_low"], frame["ci_high"])],
            "based on": [f"{n:,} {SLICE_BASES.get(m, '')}".strip() for m, n in zip(frame["measure"], frame["n"])],
        },
        index=pd.Index(frame["measure"].to_numpy(), name=None),
    )
    out.columns.name = "measure"
    return out


def one_header_row(frame: pd.DataFrame) -> pd.DataFrame:
    """The index's name moved to the columns' name, so pandas draws one header row, not two."""
    frame = frame.copy()
    frame.columns.name, frame.index.name = frame.index.name, None
    return frame


def overview_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.features.metrics.overview` as text: counts with thousands separators, shares with 95% intervals."""
    from cxlib.features.metrics import wilson_interval

    v = frame["value"]
    rows = []
    for measure, value in v.items():
        if measure == "churned so far (%)":
            low, high = wilson_interval(int(v["churned so far"]), int(v["customers"]))
            rows.append(("share churned so far (95% interval)", pct_interval(int(v["churned so far"]) / int(v["customers"]),
                                                                          float(low), float(high))))
        elif measure == "bad-experience rate (%)":
            low, high = wilson_interval(int(v["bad experiences"]), int(v["experience interactions"]))
            rows.append(("bad-experience rate (95% interval)",
                         pct_interval(int(v["bad experiences"]) / int(v["experience interactions"]), float(low), float(high))))
        elif isinstance(value, (int, np.integer)):
            rows.append((measure, f"{int(value):,}"))
        else:
            rows.append((measure, "–" if value is None else str(value)))
    out = pd.DataFrame(rows, columns=["measure", "value"]).set_index("measure")
    return one_header_row(out)


def recent_table(frame: pd.DataFrame, *, window_days: int) -> pd.DataFrame:
    """:func:`cxlib.features.metrics.recent_bad_experiences` as text: counts and the share of active customers."""
    from cxlib.features.metrics import wilson_interval

    total = int(frame["customers"].sum())
    low, high = wilson_interval(frame["customers"].to_numpy(), np.full(len(frame), total))
    out = pd.DataFrame(
        {
            "customers": frame["customers"].map("{:,}".format).to_numpy(),
            "share of active customers (95% interval)": [pct_interval(c / total, lo, hi) for c, lo, hi in
                                                         zip(frame["customers"], low, high)],
            "with an unresolved one": frame["with_unresolved"].map("{:,}".format).to_numpy(),
        },
        index=pd.Index(frame.index.astype(str)).rename(None),
    )
    out.columns.name = f"bad experiences in the last {int(window_days)} days"
    return out


def service_table(frame: pd.DataFrame, *, by: str) -> pd.DataFrame:
    """:func:`cxlib.features.metrics.service_metrics` as text: one row per group and metric, the value with its interval."""
    def fmt(v, lo, hi):
        if not np.isfinite(v):
            return "–"
        d = 0 if abs(v) >= 100 else 1
        return f"{v:.{d}f} ({lo:.{d}f}–{hi:.{d}f})".replace("-", "\u2212")

    out = pd.DataFrame(
        {
            by: frame[by].astype(str).to_numpy(),
            "measure": [f"{m}, {u}" if u else m for m, u in zip(frame["metric"], frame["unit"])],
            "value (95% interval)": [fmt(v, lo, hi) for v, lo, hi in zip(frame["value"], frame["ci_low"], frame["ci_high"])],
            "based on": [f"{int(n):,}" + (" (few)" if few else "") for n, few in zip(frame["n"], frame["few_answers"])],
        }
    )
    return out.set_index([by, "measure"]).reset_index(level="measure").pipe(one_header_row)


def consistency_table(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`cxlib.features.metrics.channel_consistency` (tested rows) as text a manager reads."""
    t = frame[frame["tested"]]
    out = pd.DataFrame(
        {
            "touchpoint": t["touchpoint"].astype(str).to_numpy(),
            "channel": t["channel"].astype(str).to_numpy(),
            "experiences": t["experiences"].map("{:,}".format).to_numpy(),
            "bad rate (95% interval)": [pct_interval(v, lo, hi) for v, lo, hi in zip(t["bad_rate"], t["ci_low"], t["ci_high"])],
            "rate of the other channels": [pct(v) for v in t["reference_rate"]],
            "p (adjusted)": ["–" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}") for p in t["p_adjusted"]],
            "differs beyond noise": ["yes" if f else "no" for f in t["flagged"]],
        }
    )
    return out.set_index("touchpoint").pipe(one_header_row)


def reason_table(frame: pd.DataFrame, currency: str = "EUR") -> pd.DataFrame:
    """:func:`cxlib.present.risk.reason_summary` as text: customers, churn expected and monthly value at risk per reason."""
    out = pd.DataFrame(
        {
            "customers": frame["customers"].map("{:,}".format).to_numpy(),
            "customers expected to leave": frame["expected_churners"].map("{:,.1f}".format).to_numpy(),
            f"monthly value at risk ({currency})": frame["monthly_value_at_risk"].map("{:,.0f}".format).to_numpy(),
        },
        index=pd.Index(frame.index.astype(str)).rename(None),
    )
    out.columns.name = "main reason"
    return out
