"""The CX literature's figures as testable statements, with verdicts from the data.

:data:`REGISTRY` carries each statement as usually quoted, what its source measured, the
source itself (or ``unverified`` where no primary source was found), and its operational
definition on interaction data (design.md, claims.md). :func:`evaluate` computes, for every
testable statement, the estimate, its 95% interval and a verdict with a one-sentence reason;
statements with no analogue in interaction data are listed as *not testable* with the reason,
never dropped.

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
experience yet, churn within ``horizon_days`` after it, per segment and tenure band,
standardised to the qualifying customers' mix of segment and tenure band. Its interval
accounts for the same customer appearing on several reference days (a ratio estimator with
customers as clusters).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cxlib import panel as _panel
from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.definitions import bad_experiences_sql
from cxlib.exceptions import ThinEvidenceWarning

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = "supported", "contradicted", "inconclusive", "not testable"

PWC_2018 = "PwC, Experience is everything: Here's how to get it right, 2018"


@dataclass(frozen=True)
class Claim:
    """A published statement and how cxlab tests it."""

    id: str
    statement: str  # as usually quoted
    measured: str  # what the source actually measured
    source: str  # the publication, or "unverified: ..." when no primary source was found
    definition: str  # operational definition on interaction data, or why it cannot be tested
    claimed: float | None = None  # the value held against the data
    testable: bool = True
    scale: str = "share"  # share (a proportion) or ratio (a hazard ratio)

    @property
    def verified(self) -> bool:
        return not self.source.startswith("unverified")


REGISTRY: tuple[Claim, ...] = (
    Claim(
        id="leave_after_one_bad",
        statement="One in three customers will leave a brand after one bad experience.",
        measured="Survey of 15,000 consumers in 12 countries: 32% would stop doing business with a brand they "
        "love after one bad experience (US 17%, Latin America 49%). A stated intention, not observed behaviour.",
        source=PWC_2018,
        definition="Among customers whose first bad experience happened at least {horizon} days before the "
        "end of the data, the share that churned within {horizon} days after it; held against 1/3.",
        claimed=1 / 3,
    ),
    Claim(
        id="leave_after_one_bad_us",
        statement="17% of US consumers would stop doing business with a brand after one bad experience.",
        measured="The US figure of the same survey (17% of US respondents).",
        source=PWC_2018,
        definition="The same share as leave_after_one_bad; held against 17%.",
        claimed=0.17,
    ),
    Claim(
        id="leave_after_several_bad_2",
        statement="Most customers will abandon a company after several bad experiences (also quoted as "
        "'two thirds').",
        measured="Same survey: 59% of US consumers would walk away after several bad experiences.",
        source=PWC_2018,
        definition="Among customers whose second bad experience happened at least {horizon} days before the "
        "end of the data, the share that churned within {horizon} days after it; held against 59%.",
        claimed=0.59,
    ),
    Claim(
        id="leave_after_several_bad_3",
        statement="Most customers will abandon a company after several bad experiences (also quoted as "
        "'two thirds').",
        measured="Same survey: 59% of US consumers would walk away after several bad experiences.",
        source=PWC_2018,
        definition="Among customers whose third bad experience happened at least {horizon} days before the "
        "end of the data, the share that churned within {horizon} days after it; held against 59%.",
        claimed=0.59,
    ),
    Claim(
        id="stop_after_three_poor_service",
        statement="92% of customers stop buying after three or fewer poor customer service experiences.",
        measured="Consumer survey (stated behaviour).",
        source="Gladly, Customer Expectations Report, 2018",
        definition="Among customers whose third unresolved bad experience (no contact, or a contact that did "
        "not solve it within {resolution} days) happened at least {horizon} days before the end of the data, "
        "the share that churned within {horizon} days after it; held against 92%.",
        claimed=0.92,
    ),
    Claim(
        id="resolution_matters",
        statement="A problem customer service resolves costs fewer customers than one left unresolved.",
        measured="The premise of investing in service recovery; no single published figure.",
        source="unverified: a common premise of the CX literature, not a figure from a primary source",
        definition="Hazard ratio of a resolved bad experience against an unresolved one in the last {window} "
        "days, from the survival model (adjusted for segment and tenure); supported when the interval lies "
        "below 1.",
        claimed=1.0,
        scale="ratio",
    ),
    Claim(
        id="buy_again_after_good_service",
        statement="88–89% of customers are more likely to buy again after good customer service.",
        measured="Widely attributed to Salesforce's State of the Connected Customer; the exact figure was not "
        "found in a primary source.",
        source="unverified: attributed to Salesforce, State of the Connected Customer; no primary source found",
        definition="Not testable: it is a stated likelihood in a survey, not a share of customers, and "
        "interaction data has no purchases; resolution_matters is the closest measurable question.",
        testable=False,
        scale="",
    ),
    Claim(
        id="expect_personalization",
        statement="71% of consumers expect personalized interactions.",
        measured="71% expect personalization, 76% are frustrated when it does not happen.",
        source="McKinsey, Next in Personalization, 2021",
        definition="Not testable: an expectation is an attitude, and interaction data records what happened, "
        "not what customers expected.",
        testable=False,
        scale="",
    ),
    Claim(
        id="cx_revenue_uplift",
        statement="Companies that prioritize customer experience see up to 25% more revenue.",
        measured="No primary source found.",
        source="unverified: no primary source found",
        definition="Not testable: it compares companies, and one company's data has no company to compare "
        "with.",
        testable=False,
        scale="",
    ),
)

#: Which bad experience each share claim counts from: (n-th, unresolved only).
ANCHORS = {
    "leave_after_one_bad": (1, False),
    "leave_after_one_bad_us": (1, False),
    "leave_after_several_bad_2": (2, False),
    "leave_after_several_bad_3": (3, False),
    "stop_after_three_poor_service": (3, True),
}

COLUMNS = [
    "claim", "statement", "source", "verified", "definition", "scale", "customers", "churned", "estimate",
    "ci_low", "ci_high", "claimed", "baseline", "baseline_ci_low", "baseline_ci_high", "excess", "excess_ci_low",
    "excess_ci_high", "verdict", "reason",
]


def registry() -> pd.DataFrame:
    """The registry as a table: id, statement, what was measured, source, verified, testable."""
    return pd.DataFrame([{**asdict(c), "verified": c.verified} for c in REGISTRY]).set_index("id")


def _ordinal(n: int) -> str:
    return {1: "first", 2: "second", 3: "third"}.get(n, f"{n}th")


# ---------------------------------------------------------------------- the shares


def churn_after_nth_bad(
    data,
    nth: int = 1,
    *,
    unresolved_only: bool = False,
    horizon_days: int = HORIZON_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    tenure_bands=_panel.TENURE_BANDS,
    as_of=None,
) -> pd.DataFrame:
    """Qualifying customers per segment and tenure band (at the experience) and how many churned.

    A customer qualifies when their ``nth`` bad experience (``nth`` unresolved one with
    ``unresolved_only``) happened at least ``horizon_days`` before ``as_of``; they count as
    churned when ``churned_at`` is at most ``horizon_days`` after that experience.
    """
    from cxlib.io import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, n = int(horizon_days), int(nth)
    if h < 1 or n < 1:
        raise ValueError("horizon_days and nth must be >= 1")
    only = "WHERE resolved_on IS NULL" if unresolved_only else ""
    band = _panel._band_case(
        "CAST(date_diff('day', CAST(c.signup_at AS DATE), r.day) AS INTEGER)", _panel._check_bands(tenure_bands)
    )
    return data.query(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=resolution_days)}),
            ranked AS (
                SELECT customer_id, "at", day,
                       row_number() OVER (PARTITION BY customer_id ORDER BY "at", interaction_id) AS k
                FROM be {only})
            SELECT c.segment, {band} AS tenure_band, count(*) AS customers,
                   count(*) FILTER (c.churned_at <= r."at" + INTERVAL {h} DAY) AS churned
            FROM ranked r JOIN customers c ON c.customer_id = r.customer_id
            WHERE r.k = {n} AND r."at" + INTERVAL {h} DAY <= $as_of
            GROUP BY ALL ORDER BY ALL""",
        {"as_of": as_of.to_pydatetime()},
    )


def reference_churn(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    step_days: int = 30,
    tenure_bands=_panel.TENURE_BANDS,
    as_of=None,
) -> pd.DataFrame:
    """Churn within ``horizon_days`` of customers without a bad experience, per segment and tenure band.

    Reference days run every ``step_days`` days from the first signup to ``as_of − horizon_days``;
    a customer counts on a reference day when active then and with no bad experience before
    it. Columns: segment, tenure_band, days (customer-days), customers, churned, rate, var
    (variance of the rate with customers as clusters).
    """
    from cxlib.io import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, step = int(horizon_days), int(step_days)
    if step < 1:
        raise ValueError("step_days must be >= 1")
    band = _panel._band_case(
        "CAST(date_diff('day', CAST(c.signup_at AS DATE), CAST(g.anchor_at AS DATE)) AS INTEGER)",
        _panel._check_bands(tenure_bands),
    )
    # The reference days, listed from Python as VALUES (a form both engines read alike).
    first = data.query("SELECT min(signup_at) AS first FROM customers")["first"].iloc[0]
    days = [] if first is None or pd.isna(first) else pd.date_range(
        pd.Timestamp(first).normalize() + pd.Timedelta(days=1), as_of - pd.Timedelta(days=h), freq=f"{step}D"
    )
    grid = ", ".join(f"(TIMESTAMP '{d.isoformat(sep=' ')}')" for d in days) or "(CAST(NULL AS TIMESTAMP))"
    frame = data.query(
        f"""WITH first_bad AS (
                SELECT customer_id, min("at") AS first_bad_at FROM interactions
                WHERE kind = 'experience' AND outcome = 'bad' GROUP BY customer_id),
            grid AS (SELECT * FROM (VALUES {grid}) g(anchor_at)),
            ref AS (
                SELECT c.customer_id, c.segment, {band} AS tenure_band,
                       coalesce(c.churned_at <= g.anchor_at + INTERVAL {h} DAY, false) AS churned
                FROM customers c LEFT JOIN first_bad f ON f.customer_id = c.customer_id
                JOIN grid g ON g.anchor_at >= c.signup_at
                 AND (c.churned_at IS NULL OR g.anchor_at < c.churned_at)
                 AND (f.first_bad_at IS NULL OR g.anchor_at <= f.first_bad_at)),
            per_customer AS (
                SELECT segment, tenure_band, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM ref GROUP BY ALL)
            SELECT segment, tenure_band, sum(m) AS days, count(*) AS customers, sum(y) AS churned,
                   sum(y * y) AS syy, sum(y * m) AS sym, sum(m * m) AS smm
            FROM per_customer GROUP BY ALL ORDER BY ALL"""
    )
    for col in ("days", "customers", "churned", "syy", "sym", "smm"):
        frame[col] = frame[col].astype(float)
    p = frame["churned"] / frame["days"]
    frame["rate"] = p
    frame["var"] = (frame["syy"] - 2 * p * frame["sym"] + p**2 * frame["smm"]) / frame["days"] ** 2
    return frame.drop(columns=["syy", "sym", "smm"])


def standardised(qualifying: pd.DataFrame, reference: pd.DataFrame) -> tuple[float, float, float]:
    """Reference churn standardised to the qualifying customers' segment × tenure mix: (rate, var, coverage)."""
    keys = ["segment", "tenure_band"]
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


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if np.isfinite(x) else "–"


def _claimed_text(claim: Claim) -> str:
    return "1 in 3" if abs(claim.claimed - 1 / 3) < 1e-9 else f"{100 * claim.claimed:.0f}%"


def _share_reason(claim, row, nth, unresolved_only, horizon, max_width) -> str:
    what = f"{_ordinal(nth)} {'unresolved ' if unresolved_only else ''}bad experience"
    if row["customers"] == 0:
        return f"No customer had a {what} at least {horizon} days before the end of the data, so there is nothing to test."
    share = (
        f"{_pct(row['estimate'])} of {row['customers']:,} customers left within {horizon} days of their {what} "
        f"(95% interval {_pct(row['ci_low'])}–{_pct(row['ci_high'])})"
    )
    base = ""
    if np.isfinite(row["baseline"]):
        base = f"; comparable customers without a bad experience left at {_pct(row['baseline'])} over the same span"
    claimed = _claimed_text(claim)
    if row["verdict"] == CONTRADICTED:
        side = "below" if row["ci_high"] < claim.claimed else "above"
        return f"{share}, well {side} the claimed {claimed}{base}."
    if row["verdict"] == SUPPORTED:
        return f"{share}, which is consistent with the claimed {claimed}{base}."
    return (
        f"{share}: the interval is wider than {_pct(max_width)}, too few customers qualify to tell whether "
        f"the claimed {claimed} holds{base}."
    )


def evaluate(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    max_width: float = 0.10,
    max_ratio_width: float = 0.25,
    alpha: float = 0.05,
    reference_step_days: int = 30,
    model=None,
    as_of=None,
) -> pd.DataFrame:
    """Every claim of :data:`REGISTRY` with estimate, interval, verdict and reason (index: claim id).

    ``max_width``: widest interval of a share (e.g. 0.10 = 10 points) that can support a
    claim; ``max_ratio_width``: the same for the resolved/unresolved hazard ratio. ``model``:
    a fitted :class:`cxlib.churn.ChurnModel` to reuse (else one is fitted with
    ``window_days`` and ``resolution_days``).
    """
    from cxlib.metrics import wilson_interval

    z = stats.norm.ppf(1 - alpha / 2)
    fmt = {"horizon": int(horizon_days), "window": int(window_days), "resolution": int(resolution_days)}
    reference = reference_churn(data, horizon_days=horizon_days, step_days=reference_step_days, as_of=as_of)
    cache: dict = {}
    rows = []
    for claim in REGISTRY:
        row = {c: np.nan for c in COLUMNS}
        row.update(
            claim=claim.id, statement=claim.statement, source=claim.source, verified=claim.verified,
            definition=claim.definition.format(**fmt), scale=claim.scale,
            claimed=claim.claimed if claim.claimed is not None else np.nan,
        )
        if not claim.testable:
            why = claim.definition.split(": ", 1)[-1]
            row.update(verdict=NOT_TESTABLE, reason=why[0].upper() + why[1:])
        elif claim.scale == "share":
            nth, unresolved_only = ANCHORS[claim.id]
            key = (nth, unresolved_only)
            if key not in cache:
                cache[key] = churn_after_nth_bad(
                    data, nth, unresolved_only=unresolved_only, horizon_days=horizon_days,
                    resolution_days=resolution_days, as_of=as_of,
                )
            q = cache[key]
            n, k = int(q["customers"].sum()), int(q["churned"].sum())
            low, high = (float(v) for v in wilson_interval(k, n, alpha=alpha))
            est = k / n if n else np.nan
            base, base_var, _ = standardised(q, reference)
            row.update(customers=n, churned=k, estimate=est, ci_low=low, ci_high=high, baseline=base,
                       baseline_ci_low=base - z * np.sqrt(base_var), baseline_ci_high=base + z * np.sqrt(base_var))
            if n and np.isfinite(base):
                se = np.sqrt(est * (1 - est) / n + base_var)
                row.update(excess=est - base, excess_ci_low=est - base - z * se, excess_ci_high=est - base + z * se)
            row["verdict"] = verdict(est, low, high, claim.claimed, max_width=max_width)
            row["reason"] = _share_reason(claim, row, nth, unresolved_only, int(horizon_days), max_width)
            if row["verdict"] == INCONCLUSIVE:
                warnings.warn(f"{claim.id}: {row['reason']}", ThinEvidenceWarning, stacklevel=2)
        else:  # resolution_matters: a ratio of hazard ratios from the model
            if model is None:
                from cxlib.churn import ChurnModel

                model = ChurnModel(window_days=window_days, resolution_days=resolution_days, alpha=alpha).fit(
                    data, as_of=as_of
                )
            c = model.contrast("resolved", "unresolved")
            row.update(estimate=c["ratio"], ci_low=c["ci_low"], ci_high=c["ci_high"], churned=model.n_events_)
            row["verdict"], row["reason"] = _ratio_verdict(c, max_ratio_width)
            if row["verdict"] == INCONCLUSIVE:
                warnings.warn(f"{claim.id}: {row['reason']}", ThinEvidenceWarning, stacklevel=2)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS).set_index("claim")
    frame.attrs.update({"horizon_days": int(horizon_days), "max_width": max_width, "alpha": alpha})
    return frame


def _ratio_verdict(c: dict, max_width: float) -> tuple[str, str]:
    text = (
        f"A customer with a resolved bad experience is {c['ratio']:.2f} times as likely to churn on a given day "
        f"as one whose bad experience went unresolved (95% interval {c['ci_low']:.2f}–{c['ci_high']:.2f})"
    )
    if c["ci_high"] < 1:
        return SUPPORTED, f"{text}: resolving a problem keeps customers who would otherwise leave."
    if c["ci_low"] > 1:
        return CONTRADICTED, f"{text}: resolved problems cost more customers than unresolved ones."
    if c["ci_high"] - c["ci_low"] <= max_width:
        return CONTRADICTED, f"{text}: resolution makes no detectable difference to churn."
    return INCONCLUSIVE, f"{text}: too few churn events to tell whether resolution matters."


def claims_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluated claims as text a manager reads."""
    from cxlib.tables import number_interval, pct_interval

    out = []
    for cid, r in frame.iterrows():
        if r["scale"] == "share":
            est = pct_interval(r["estimate"], r["ci_low"], r["ci_high"])
            claimed = f"{100 * r['claimed']:.0f}%"
            base = pct_interval(r["baseline"], r["baseline_ci_low"], r["baseline_ci_high"])
        elif r["scale"] == "ratio":
            est = number_interval(r["estimate"], r["ci_low"], r["ci_high"])
            claimed = "below 1"
            base = "–"
        else:
            est, claimed, base = "–", "–", "–"
        out.append(
            {
                "claim": cid,
                "statement": r["statement"],
                "source": r["source"],
                "qualifying customers": "–" if not np.isfinite(r["customers"]) else f"{int(r['customers']):,}",
                "estimate (95% interval)": est,
                "claimed": claimed,
                "without a bad experience": base,
                "verdict": r["verdict"],
                "reason": r["reason"],
            }
        )
    return pd.DataFrame(out)


def to_records(frame: pd.DataFrame) -> dict:
    """JSON-able: claim id → estimate, ci_low, ci_high, claimed, verdict, reason, … (NaN → None)."""
    out = {}
    for cid, r in frame.iterrows():
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
