"""The CX literature's figures held against the data: estimates, intervals and verdicts (numbers).

:data:`REGISTRY` (:mod:`cxlib.analyses.claims_registry`) carries each published statement and
its operational definition. :func:`evaluate` computes, for every testable statement, the
estimate, its 95% interval, a verdict and the evidence the verdict turned on; statements with
no analogue in interaction data are listed as *not testable*, never dropped. The verdicts and
their evidence in words (the reason of each claim, the tables a manager reads) are
:mod:`cxlib.present.claims`'s.

Verdicts (claims.md):

- **contradicted** when the 95% interval excludes the claimed value;
- **supported** when the interval contains it and is narrower than ``max_width``;
- **inconclusive** when it contains it but is wider than ``max_width`` (too few customers
  qualify), or when no customer qualifies; a :class:`ThinEvidenceWarning` says so.

An interval that excludes the claimed value is evidence against it whatever its width, so
width only decides between *supported* and *inconclusive*.

"Churned within ``horizon_days`` after a bad experience" is measured from the experience's
timestamp, among customers observed that long (the experience at least ``horizon_days``
before ``as_of``). Since some of them would have left anyway, each share is held against the
churn over the same span of **comparable customers without a bad experience**: on reference
days every ``reference_step_days`` days, customers active that day who had had no bad
experience yet, churn within ``horizon_days`` after it, per segment, tenure band and
engagement band (the experience rate known that day, :func:`cxlib.features.definitions.experience_rate_sql`),
standardised to the qualifying customers' mix of the three. Without the engagement band the
comparison would be with the less active customers, who meet fewer touchpoints (so have
fewer bad experiences) and are often less loyal: the excess churn would be understated. Its interval
accounts for the same customer appearing on several reference days (a ratio estimator with
customers as clusters).

The two claims about resolution rest on the churn model's hazard ratios: :func:`evaluate`
takes a *fitted* :class:`cxlib.models.churn.ChurnModel` (``model=``, required) and never fits one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.analyses.claim_groups import (  # noqa: F401  (the groups' counts, where callers look for them)
    churn_after_nth_bad,
    churn_after_nth_bads,
    outcome_groups,
    reference_churn,
)
from cxlib.analyses.claims_registry import (  # noqa: F401  (the registry's names, where callers look for them)
    ANCHORS,
    CONTRADICTED,
    EFFORT_GROUPS,
    INCONCLUSIVE,
    NOT_TESTABLE,
    REGISTRY,
    SUPPORTED,
    SURVEY_EFFORT_RATIO,
    TARP_GROUPS,
    Claim,
    registry,
)
from cxlib.config import HORIZON_DAYS
from cxlib.exceptions import NotFittedError, ThinEvidenceWarning
from cxlib.features.metrics import wilson_interval

#: ``evidence``: per claim, the numbers and groups its verdict turned on (a dict with ``kind``:
#: share, retained, order, effort, model or not testable; :mod:`cxlib.present.claims` words it).
COLUMNS = [
    "claim", "label", "statement", "source", "verified", "definition", "scale", "customers", "churned", "estimate",
    "ci_low", "ci_high", "claimed", "baseline", "baseline_ci_low", "baseline_ci_high", "excess", "excess_ci_low",
    "excess_ci_high", "verdict", "evidence",
]


# ---------------------------------------------------------------------- the verdicts


def clustered_interval(rate: float, var: float, n: float, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson interval of a share whose variance ``var`` accounts for clusters.

    The Wilson interval is taken at the effective sample size ``rate(1-rate)/var`` (``n``
    units when every cluster is one unit), so a share near 0 or 1 keeps an interval inside
    [0, 1] that does not collapse to a point.
    """
    if not n or not np.isfinite(rate):
        return float("nan"), float("nan")
    n_eff = rate * (1 - rate) / var if var > 0 and 0 < rate < 1 else n
    low, high = wilson_interval(rate * n_eff, n_eff, alpha=alpha)
    return float(low), float(high)


def standardised(qualifying: pd.DataFrame, reference: pd.DataFrame) -> tuple[float, float, float]:
    """Reference churn standardised to the qualifying customers' mix: (rate, var, coverage).

    The mix is of segment × tenure band, and × engagement band where both frames have one.
    ``coverage``: the share of qualifying customers whose cell has reference customers.
    """
    keys = ["segment", "tenure_band"] + (["engagement"] if "engagement" in qualifying and "engagement" in reference else [])
    merged = qualifying[keys + ["customers"]].merge(reference[keys + ["rate", "var"]], on=keys, how="left")
    have = merged["rate"].notna()
    total = merged["customers"].sum()
    if total == 0 or not have.any():
        return float("nan"), float("nan"), 0.0
    w = merged.loc[have, "customers"] / merged.loc[have, "customers"].sum()
    rate = float((w * merged.loc[have, "rate"]).sum())
    var = float((w**2 * merged.loc[have, "var"]).sum())
    return rate, var, float(merged.loc[have, "customers"].sum() / total)


# ---------------------------------------------------------------------- verdicts


def verdict(estimate, low, high, claimed, *, max_width: float) -> str:
    """claims.md's rule: contradicted if excluded; supported if inside a narrow interval; else inconclusive."""
    if estimate is None or not np.isfinite(estimate):
        return INCONCLUSIVE
    if claimed < low or claimed > high:
        return CONTRADICTED
    return SUPPORTED if high - low <= max_width else INCONCLUSIVE

# ---------------------------------------------------------------------- the rows of evaluate


def evaluate(
    data,
    *,
    model,
    horizon_days: int = HORIZON_DAYS,
    window_days: int | None = None,
    resolution_days: int | None = None,
    max_width: float = 0.10,
    max_ratio_width: float = 0.25,
    alpha: float = 0.05,
    reference_step_days: int = 30,
    engagement: bool = True,
    as_of=None,
) -> pd.DataFrame:
    """Every claim of :data:`REGISTRY` with estimate, interval, verdict and its evidence (index: claim id).

    ``model``: a fitted :class:`cxlib.models.churn.ChurnModel` (required: this analysis never
    fits one; fit it with the ``as_of`` given here). ``window_days`` and ``resolution_days``
    are the model's (None, the default); given, they must be the model's, else a ValueError
    (the claims' definitions and the model's hazard ratios would speak of different counts). A
    term the model could not estimate (``model.not_estimable_``) makes the claims that rest on
    it inconclusive, with its reason.

    ``engagement``: the comparable customers without a bad experience are matched on the
    experience-rate band too (else they are mostly the less active customers, who meet fewer
    touchpoints and, in many businesses, leave more often).

    ``max_width``: widest interval of a share (e.g. 0.10 = 10 points) that can support a
    claim; ``max_ratio_width``: the same for a ratio (hazard ratios, the effort ratio).
    ``attrs``: ``horizon_days``, ``window_days``, ``resolution_days``, ``max_width``,
    ``max_ratio_width``, ``alpha``, ``engagement``. The reasons in words:
    :func:`cxlib.present.claims.reasons`.
    """
    if model is None:
        raise TypeError(
            "claims.evaluate needs model=, a fitted ChurnModel: fit it first, e.g. "
            "ChurnModel(window_days=..., resolution_days=...).fit(data, as_of=...)"
        )
    if not hasattr(model, "hazard_ratios_"):
        raise NotFittedError("claims.evaluate needs a fitted ChurnModel: call model.fit(data) first")
    for name, given in (("window_days", window_days), ("resolution_days", resolution_days)):
        if given is not None and int(given) != int(getattr(model, name)):
            raise ValueError(f"claims.evaluate: {name}={given}, but the churn model was fitted with "
                             f"{name}={getattr(model, name)}: pass the model's or leave it out")
    window_days, resolution_days = int(model.window_days), int(model.resolution_days)
    z = stats.norm.ppf(1 - alpha / 2)
    h = int(horizon_days)
    fmt = {"horizon": h, "window": int(window_days), "resolution": int(resolution_days)}
    reference = reference_churn(data, horizon_days=horizon_days, step_days=reference_step_days, engagement=engagement,
                                as_of=as_of)
    cache: dict = {}

    def qualifying(nth, unresolved_only):
        if "qualifying" not in cache:  # every claim's anchor in one query (each costs a pass over the bad experiences)
            anchors = sorted({ANCHORS[c.id] for c in REGISTRY if c.testable and c.id in ANCHORS})
            cache["qualifying"] = churn_after_nth_bads(
                data, anchors, horizon_days=horizon_days, resolution_days=resolution_days, engagement=engagement,
                as_of=as_of,
            )
        return cache["qualifying"][nth, unresolved_only]

    def groups():
        if "groups" not in cache:
            cache["groups"] = outcome_groups(data, horizon_days=horizon_days, resolution_days=resolution_days,
                                             as_of=as_of).set_index("group")
        return cache["groups"]

    rows = []
    for claim in REGISTRY:
        row = {c: np.nan for c in COLUMNS}
        row.update(
            claim=claim.id, label=claim.label, statement=claim.statement, source=claim.source,
            verified=claim.verified, definition=claim.definition.format(**fmt), scale=claim.scale,
            claimed=claim.claimed if claim.claimed is not None else np.nan,
        )
        if not claim.testable:
            row.update(verdict=NOT_TESTABLE, evidence={"kind": "not testable"})
        elif claim.id in ANCHORS:
            row.update(_share_row(claim, qualifying(*ANCHORS[claim.id]), reference, z, alpha, max_width))
        elif claim.id in TARP_GROUPS:
            row.update(_retained_row(claim, groups().loc[TARP_GROUPS[claim.id]], alpha, max_width))
        elif claim.scale == "order":
            row.update(_order_row(groups(), z, max_width))
        elif claim.id == "effort_drives_disloyalty":
            row.update(_effort_row(groups(), z, max_ratio_width))
        else:  # resolution_matters, recovery_does_not_offset: from the churn model
            row["churned"] = model.n_events_
            row.update(_model_row(claim.id, model, max_ratio_width))
        if row["verdict"] == INCONCLUSIVE:
            warnings.warn(f"{claim.id}: {_thin_evidence(row['evidence'], max_width)}", ThinEvidenceWarning,
                          stacklevel=2)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS).set_index("claim")
    frame.attrs.update({"horizon_days": h, "window_days": int(window_days), "resolution_days": int(resolution_days),
                        "max_width": max_width, "max_ratio_width": max_ratio_width, "alpha": alpha,
                        "engagement": bool(engagement)})
    return frame


def _thin_evidence(evidence: dict, max_width: float) -> str:
    """Why a claim is inconclusive, in the few words of a warning (the reason proper is present.claims')."""
    if evidence.get("empty") or evidence.get("missing") or evidence.get("not_estimable"):
        return "nothing in the data qualifies to test it"
    if evidence["kind"] in ("share", "retained"):
        return f"the 95% interval is wider than {100 * max_width:.0f} points: too few qualify to tell"
    return "the interval is too wide to tell"


def _share_row(claim: Claim, q: pd.DataFrame, reference: pd.DataFrame, z: float, alpha: float,
               max_width: float) -> dict:
    """A share claim: churn within the horizon after the n-th bad experience, against comparable customers."""
    nth, unresolved_only = ANCHORS[claim.id]
    n, k = int(q["customers"].sum()), int(q["churned"].sum())
    low, high = (float(v) for v in wilson_interval(k, n, alpha=alpha))
    est = k / n if n else np.nan
    base, base_var, _ = standardised(q, reference)
    row = {"customers": n, "churned": k, "estimate": est, "ci_low": low, "ci_high": high, "baseline": base,
           "baseline_ci_low": base - z * np.sqrt(base_var), "baseline_ci_high": base + z * np.sqrt(base_var),
           "evidence": {"kind": "share", "nth": nth, "unresolved_only": unresolved_only, "empty": n == 0}}
    if n and np.isfinite(base):
        se = np.sqrt(est * (1 - est) / n + base_var)
        row.update(excess=est - base, excess_ci_low=est - base - z * se, excess_ci_high=est - base + z * se)
    row["verdict"] = verdict(est, low, high, claim.claimed, max_width=max_width)
    return row


def _retained_row(claim: Claim, g: pd.Series, alpha: float, max_width: float) -> dict:
    """A TARP group: the share of its bad experiences whose customer was still a customer ``horizon`` days on."""
    n = int(g["experiences"])
    row = {"customers": int(g["customers"]), "churned": int(g["churned"]),
           "evidence": {"kind": "retained", "group": TARP_GROUPS[claim.id], "experiences": n, "empty": n == 0}}
    if n == 0:
        row["verdict"] = INCONCLUSIVE
        return row
    low, high = clustered_interval(float(g["rate"]), float(g["var"]), n, alpha=alpha)
    est, low, high = 1 - float(g["rate"]), 1 - high, 1 - low
    row.update(estimate=est, ci_low=low, ci_high=high)
    row["verdict"] = verdict(est, low, high, claim.claimed, max_width=max_width)
    return row


def _order_row(groups: pd.DataFrame, z: float, max_width: float) -> dict:
    """TARP's order: the share still a customer rises from each group to the next.

    Each step is the difference of two groups' shares, with the variances added (the small
    covariance of a customer in both groups is left out). Supported when every step's interval
    lies above 0 (finding ``rise``); contradicted when one lies below 0 (``reversed``), or
    contains 0 and is narrower than ``max_width`` (``flat``: no rise to see); inconclusive
    otherwise (``uncertain``). The row's estimate is the step the verdict turns on (``step``).
    """
    names = list(TARP_GROUPS.values())
    empty = [g for g in names if groups.loc[g, "experiences"] == 0]
    if empty:
        return {"verdict": INCONCLUSIVE, "evidence": {"kind": "order", "empty": empty[0]}}
    steps = []
    for before, after in zip(names[:-1], names[1:]):
        d = float(groups.loc[before, "rate"] - groups.loc[after, "rate"])  # rise of the share still a customer
        se = float(np.sqrt(groups.loc[before, "var"] + groups.loc[after, "var"]))
        steps.append((before, after, d, d - z * se, d + z * se))
    reversed_ = [s for s in steps if s[4] < 0]
    flat = [s for s in steps if s[3] <= 0 <= s[4] and s[4] - s[3] <= max_width]
    if all(s[3] > 0 for s in steps):
        step, result, finding = min(steps, key=lambda s: s[3]), SUPPORTED, "rise"
    elif reversed_:
        step, result, finding = reversed_[0], CONTRADICTED, "reversed"
    elif flat:
        step, result, finding = flat[0], CONTRADICTED, "flat"
    else:
        step, result, finding = min(steps, key=lambda s: s[3]), INCONCLUSIVE, "uncertain"
    evidence = {"kind": "order", "finding": finding, "step": (step[0], step[1]),
                "shares": {g: float(1 - groups.loc[g, "rate"]) for g in names}}
    return {"estimate": step[2], "ci_low": step[3], "ci_high": step[4], "verdict": result,
            "customers": int(groups.loc[names, "customers"].sum()), "churned": int(groups.loc[names, "churned"].sum()),
            "evidence": evidence}


def _effort_row(groups: pd.DataFrame, z: float, max_width: float) -> dict:
    """CEB's effort study: churn after a high-effort bad experience over churn after one resolved with one contact.

    Findings: ``more`` (the ratio's interval above 1: supported), ``less`` (below 1), ``none``
    (contains 1 and is narrower than ``max_width``: contradicted), ``uncertain`` (inconclusive);
    ``missing``: ``high``, ``low`` or ``churn`` when a group or its churn is empty.
    """
    high, low = (groups.loc[g] for g in EFFORT_GROUPS)
    evidence = {"kind": "effort", "high_experiences": int(high["experiences"]),
                "low_experiences": int(low["experiences"])}
    row = {"customers": int(high["customers"]), "churned": int(high["churned"]), "evidence": evidence}
    if high["experiences"] == 0 or low["experiences"] == 0 or high["churned"] == 0 or low["churned"] == 0:
        evidence["missing"] = "high" if high["experiences"] == 0 else ("low" if low["experiences"] == 0 else "churn")
        row["verdict"] = INCONCLUSIVE
        return row
    ph, pl = float(high["rate"]), float(low["rate"])
    log_ratio = np.log(ph / pl)
    se = float(np.sqrt(high["var"] / ph**2 + low["var"] / pl**2))
    ratio, lo, hi = float(np.exp(log_ratio)), float(np.exp(log_ratio - z * se)), float(np.exp(log_ratio + z * se))
    evidence.update(high_rate=ph, low_rate=pl)
    row.update(estimate=ratio, ci_low=lo, ci_high=hi)
    if lo > 1:
        row["verdict"], evidence["finding"] = SUPPORTED, "more"
    elif hi < 1:
        row["verdict"], evidence["finding"] = CONTRADICTED, "less"
    elif hi - lo <= max_width:
        row["verdict"], evidence["finding"] = CONTRADICTED, "none"
    else:
        row["verdict"], evidence["finding"] = INCONCLUSIVE, "uncertain"
    return row


def _model_row(claim_id: str, model, max_width: float) -> dict:
    """resolution_matters and recovery_does_not_offset, from the churn model's hazard ratios.

    ``resolution_matters`` (the resolved/unresolved contrast): finding ``lower`` (interval below
    1: supported), ``higher`` (above 1), ``none`` (contains 1, narrower than ``max_width``),
    ``uncertain``. ``recovery_does_not_offset`` (the resolved hazard ratio against none, and the
    contrast): ``partial`` (HR above 1 and contrast below 1: supported), ``worse`` (contrast above
    1), ``more loyal`` (HR below 1), ``offset`` (HR's interval around 1 and narrow), ``uncertain``.
    ``not_estimable``: term → the model's reason, when a term the claim rests on has no estimate.
    """
    missing = getattr(model, "not_estimable_", {}) or {}
    hit = {t: missing[t] for t in ("unresolved", "resolved") if t in missing}
    if hit:
        return {"verdict": INCONCLUSIVE, "evidence": {"kind": "model", "not_estimable": hit}}
    c = model.contrast("resolved", "unresolved")
    contrast = {"ratio": float(c["ratio"]), "ci_low": float(c["ci_low"]), "ci_high": float(c["ci_high"])}
    evidence = {"kind": "model", "contrast": contrast}
    if claim_id == "resolution_matters":
        if contrast["ci_high"] < 1:
            result, evidence["finding"] = SUPPORTED, "lower"
        elif contrast["ci_low"] > 1:
            result, evidence["finding"] = CONTRADICTED, "higher"
        elif contrast["ci_high"] - contrast["ci_low"] <= max_width:
            result, evidence["finding"] = CONTRADICTED, "none"
        else:
            result, evidence["finding"] = INCONCLUSIVE, "uncertain"
        return {"estimate": contrast["ratio"], "ci_low": contrast["ci_low"], "ci_high": contrast["ci_high"],
                "verdict": result, "evidence": evidence}
    s = model.summary.loc["resolved"]
    hr, lo, hi = float(s["hazard_ratio"]), float(s["ci_low"]), float(s["ci_high"])
    if lo > 1 and contrast["ci_high"] < 1:
        result, evidence["finding"] = SUPPORTED, "partial"
    elif contrast["ci_low"] > 1:
        result, evidence["finding"] = CONTRADICTED, "worse"
    elif hi < 1:
        result, evidence["finding"] = CONTRADICTED, "more loyal"
    elif lo <= 1 <= hi and hi - lo <= max_width:
        result, evidence["finding"] = CONTRADICTED, "offset"
    else:
        result, evidence["finding"] = INCONCLUSIVE, "uncertain"
    return {"estimate": hr, "ci_low": lo, "ci_high": hi, "verdict": result, "evidence": evidence}


def to_records(frame: pd.DataFrame) -> dict:
    """JSON-able: claim id → estimate, ci_low, ci_high, claimed, verdict, … (NaN → None; ``evidence`` left out).

    With :func:`cxlib.present.claims.with_reasons` first, each record carries its ``reason``.
    """
    out = {}
    for cid, r in frame.drop(columns=["evidence"], errors="ignore").iterrows():
        rec = {}
        for k, v in r.items():
            if k in ("customers", "churned") and isinstance(v, (float, np.floating)):
                rec[k] = None if not np.isfinite(v) else int(v)
            elif isinstance(v, (float, np.floating)):
                rec[k] = None if not np.isfinite(v) else float(v)
            elif isinstance(v, (np.integer,)):
                rec[k] = int(v)
            elif isinstance(v, np.bool_):
                rec[k] = bool(v)
            else:
                rec[k] = v
        out[str(cid)] = rec
    return out
