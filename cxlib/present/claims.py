"""The claims in words: each verdict's reason, the table a manager reads, the outcome groups as text.

:func:`cxlib.analyses.claims.evaluate` decides every verdict and keeps, per claim, the
evidence it turned on (``evidence``: the numbers, the groups, which branch of the rule);
:func:`reason` writes that as one sentence ending in a full stop, :func:`reasons` for every
claim, :func:`with_reasons` adds them as the ``reason`` column (for ``cx claims --json``),
:func:`claims_table` is the full table of the churn section, :func:`outcome_table` the TARP
and CEB groups as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.analyses.claims import (
    CONTRADICTED,
    NOT_TESTABLE,
    REGISTRY,
    SUPPORTED,
    SURVEY_EFFORT_RATIO,
    clustered_interval,
)
from cxlib.config import HORIZON_DAYS
from cxlib.present.format import number_interval, pct, pct_interval
from cxlib.present.tables import one_header_row

#: How each TARP group reads after "bad experiences with".
TARP_PHRASES = {
    "no contact": "no service contact",
    "contacted, not resolved": "a contact that did not resolve them",
    "resolved": "a resolution one day or more later",
    "resolved the same day": "a resolution the same day",
}
#: Which group of the effort study had nothing, as the sentence names it.
EFFORT_MISSING = {
    "high": "high-effort bad experience (two or more contacts)",
    "low": "bad experience resolved with one contact",
    "churn": "churn in one of the groups",
}
_CLAIMED_TEXT = {c.id: c.claimed_text for c in REGISTRY if c.claimed_text}
_BY_ID = {c.id: c for c in REGISTRY}


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


def signed_points(x: float) -> str:
    """A difference of shares in points, with its sign: ``+2.1 points``, ``−0.4 points``."""
    return f"{100 * x:+.1f}".replace("-", "\u2212") + " points"


def _claimed_share(claimed: float) -> str:
    return "1 in 3" if abs(claimed - 1 / 3) < 1e-9 else f"{100 * claimed:.0f}%"


def _share_reason(row, ev: dict, horizon: int, max_width: float, engagement: bool) -> str:
    what = f"{_ordinal(ev['nth'])} {'unresolved ' if ev['unresolved_only'] else ''}bad experience"
    if row["customers"] == 0:
        return f"No customer had a {what} at least {horizon} days before the end of the data, so there is nothing to test."
    share = (
        f"{pct(row['estimate'])} of {int(row['customers']):,} customers left within {horizon} days of their {what} "
        f"(95% interval {pct(row['ci_low'])}–{pct(row['ci_high'])})"
    )
    base = ""
    if np.isfinite(row["baseline"]):
        like = "segment, tenure and experience rate" if engagement else "segment and tenure"
        base = (f"; comparable customers without a bad experience (same {like}) left at {pct(row['baseline'])} "
                "over the same span")
    claimed = _claimed_share(row["claimed"])
    if row["verdict"] == CONTRADICTED:
        side = "below" if row["ci_high"] < row["claimed"] else "above"
        return f"{share}, well {side} the claimed {claimed}{base}."
    if row["verdict"] == SUPPORTED:
        return f"{share}, which is consistent with the claimed {claimed}{base}."
    return (
        f"{share}: the interval is wider than {pct(max_width)}, too few customers qualify to tell whether "
        f"the claimed {claimed} holds{base}."
    )


def _retained_reason(row, ev: dict, horizon: int, max_width: float) -> str:
    what = ev["group"]
    if ev["experiences"] == 0:
        return (f"No bad experience at least {horizon} days before the end of the data was in the group '{what}', "
                "so there is nothing to test.")
    share = (f"{pct(row['estimate'])} of {ev['experiences']:,} bad experiences with {TARP_PHRASES[what]} "
             f"({int(row['customers']):,} customers) were followed by a customer still there {horizon} days later "
             f"(95% interval {pct(row['ci_low'])}–{pct(row['ci_high'])})")
    claimed = f"{100 * row['claimed']:.0f}%"
    if row["verdict"] == CONTRADICTED:
        side = "below" if row["ci_high"] < row["claimed"] else "above"
        return f"{share}, well {side} the claimed {claimed}."
    if row["verdict"] == SUPPORTED:
        return f"{share}, consistent with the claimed {claimed}."
    return (f"{share}: the interval is wider than {pct(max_width)}, too few bad experiences to tell "
            f"whether the claimed {claimed} holds.")


def _order_reason(row, ev: dict, horizon: int) -> str:
    if ev.get("empty"):
        return (f"No bad experience at least {horizon} days before the end of the data was in the group "
                f"'{ev['empty']}', so the order of the four groups cannot be tested.")
    shares = "; ".join(f"{pct(share)} {g}" for g, share in ev["shares"].items())
    shares = f"Still a customer {horizon} days after a bad experience: {shares}"
    before, after = ev["step"]
    step, low, high = row["estimate"], row["ci_low"], row["ci_high"]
    text = {
        "rise": "each group stays more often than the one before, as claimed",
        "reversed": f"'{after}' stays less often than '{before}' ({signed_points(step)})",
        "flat": (f"'{after}' stays no more often than '{before}' ({signed_points(step)}, 95% interval "
                 f"{signed_points(low)} to {signed_points(high)}), where the claim has a clear rise"),
        "uncertain": (f"the rise from '{before}' to '{after}' ({signed_points(step)}) is too uncertain to tell "
                      "whether the order holds"),
    }[ev["finding"]]
    return f"{shares}: {text}."


def _effort_reason(row, ev: dict, horizon: int) -> str:
    survey = "the survey reported 96% against 9% becoming more disloyal (stated intent, not churn)"
    if ev.get("missing"):
        return (f"No {EFFORT_MISSING[ev['missing']]} at least {horizon} days before the end of the data, so "
                f"the two cannot be compared; {survey}.")
    ratio, lo, hi = row["estimate"], row["ci_low"], row["ci_high"]
    text = (f"{pct(ev['high_rate'])} of {ev['high_experiences']:,} high-effort bad experiences were followed by churn "
            f"within {horizon} days against {pct(ev['low_rate'])} of {ev['low_experiences']:,} resolved with one "
            f"contact: {ratio:.2f} times as many (95% interval {lo:.2f}–{hi:.2f}); {survey}")
    if ev["finding"] == "more":
        margin = ", by a smaller margin than in the survey" if ratio < SURVEY_EFFORT_RATIO else ""
        return f"{text}. High effort goes with more churn{margin}."
    return text + {
        "less": ". High-effort bad experiences are followed by less churn.",
        "none": ". Effort makes no detectable difference to churn.",
        "uncertain": ". Too few high-effort bad experiences to tell.",
    }[ev["finding"]]


def _model_reason(cid: str, row, ev: dict) -> str:
    if ev.get("not_estimable"):
        why = "; ".join(f"the {t} hazard ratio is not estimable from this data: {reason}"
                        for t, reason in ev["not_estimable"].items())
        return f"Cannot be tested: {why}."
    c = ev["contrast"]
    if cid == "resolution_matters":
        text = (
            f"A customer with a resolved bad experience is {c['ratio']:.2f} times as likely to churn on a given day "
            f"as one whose bad experience went unresolved (95% interval {c['ci_low']:.2f}–{c['ci_high']:.2f})"
        )
        return text + {
            "lower": ": resolving a problem keeps customers who would otherwise leave.",
            "higher": ": resolved problems cost more customers than unresolved ones.",
            "none": ": resolution makes no detectable difference to churn.",
            "uncertain": ": too few churn events to tell whether resolution matters.",
        }[ev["finding"]]
    text = (f"A resolved bad experience multiplies the daily risk of leaving by {row['estimate']:.2f} (95% interval "
            f"{row['ci_low']:.2f}–{row['ci_high']:.2f}) against no bad experience, and by {c['ratio']:.2f} "
            f"({c['ci_low']:.2f}–{c['ci_high']:.2f}) against one left unresolved")
    end = {
        "partial": "recovery removes part of the damage, not all of it",
        "worse": "resolved problems cost more customers than unresolved ones, so recovery does not counter the damage",
        "more loyal": "a resolved problem leaves customers more loyal than no problem at all",
        "offset": "recovery offsets the damage fully: a resolved problem costs no detectable customers",
        "uncertain": "too few churn events to tell whether recovery offsets the damage",
    }[ev["finding"]]
    return f"{text}: {end}."


def reason(cid: str, row, attrs: dict) -> str:
    """One claim's verdict in a sentence, from its row of :func:`cxlib.analyses.claims.evaluate`."""
    ev = row["evidence"]
    horizon = int(attrs.get("horizon_days", HORIZON_DAYS))
    max_width = attrs.get("max_width", 0.10)
    kind = ev["kind"]
    if kind == NOT_TESTABLE:
        why = row["definition"].split(": ", 1)[-1]
        return why[0].upper() + why[1:]
    if kind == "share":
        return _share_reason(row, ev, horizon, max_width, attrs.get("engagement", True))
    if kind == "retained":
        return _retained_reason(row, ev, horizon, max_width)
    if kind == "order":
        return _order_reason(row, ev, horizon)
    if kind == "effort":
        return _effort_reason(row, ev, horizon)
    return _model_reason(cid, row, ev)


def reasons(frame: pd.DataFrame) -> pd.Series:
    """Every claim's reason (index: claim id)."""
    return pd.Series([reason(cid, r, frame.attrs) for cid, r in frame.iterrows()], index=frame.index, name="reason")


def with_reasons(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluated claims with their ``reason`` after the verdict (for ``cx claims --json``, exports)."""
    out = frame.copy()
    out.insert(list(out.columns).index("verdict") + 1, "reason", reasons(frame))
    out.attrs.update(frame.attrs)
    return out


def _claimed_display(claim_id: str, r) -> str:
    text = _CLAIMED_TEXT.get(claim_id)
    if text:
        return text
    if r["scale"] in ("share", "retained") and np.isfinite(r["claimed"]):
        return f"{100 * r['claimed']:.0f}%"
    return "–"


def claims_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluated claims as text a manager reads."""
    why = reasons(frame)
    out = []
    for cid, r in frame.iterrows():
        base = "–"
        if r["scale"] in ("share", "retained"):
            est = pct_interval(r["estimate"], r["ci_low"], r["ci_high"])
            base = pct_interval(r["baseline"], r["baseline_ci_low"], r["baseline_ci_high"])
        elif r["scale"] == "ratio":
            est = number_interval(r["estimate"], r["ci_low"], r["ci_high"])
        elif r["scale"] == "order" and np.isfinite(r["estimate"]):
            est = f"{signed_points(r['estimate'])} ({signed_points(r['ci_low'])[:-7]} to {signed_points(r['ci_high'])[:-7]})"
        else:
            est = "–"
        out.append(
            {
                "claim": cid,
                "statement": r["statement"],
                "source": r["source"],
                "qualifying customers": "–" if not np.isfinite(r["customers"]) else f"{int(r['customers']):,}",
                "estimate (95% interval)": est,
                "claimed": _claimed_display(cid, r),
                "without a bad experience": base,
                "verdict": r["verdict"],
                "reason": why[cid],
            }
        )
    return pd.DataFrame(out)


def outcome_table(groups: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`cxlib.analyses.claims.outcome_groups` as text: per group, bad experiences, customers, churn with its interval."""
    horizon = groups.attrs.get("horizon_days", HORIZON_DAYS)
    splits = {"tarp": "what service did (TARP)", "effort": "service effort (CEB)"}
    rows = []
    for r in groups.itertuples(index=False):
        low, high = clustered_interval(r.rate, r.var, r.experiences, alpha=alpha)
        rows.append({"comparison": splits[r.split], "bad experiences followed by": r.group,
                     "bad experiences": f"{int(r.experiences):,}", "customers": f"{int(r.customers):,}",
                     f"churned within {horizon} days (95% interval)": pct_interval(r.rate, low, high)})
    # one header row: the comparison stays the index, the group a column of its own
    return one_header_row(pd.DataFrame(rows).set_index("comparison"))
