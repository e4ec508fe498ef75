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
experience yet, churn within ``horizon_days`` after it, per segment, tenure band and
engagement band (the experience rate known that day, :func:`cxlib.features.definitions.experience_rate_sql`),
standardised to the qualifying customers' mix of the three. Without the engagement band the
comparison would be with the less active customers, who meet fewer touchpoints (so have
fewer bad experiences) and are often less loyal: the excess churn would be understated. Its interval
accounts for the same customer appearing on several reference days (a ratio estimator with
customers as clusters).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.features import panel as _panel
from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.exceptions import ThinEvidenceWarning
from cxlib.features.metrics import wilson_interval

SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = "supported", "contradicted", "inconclusive", "not testable"

PWC_2018 = "PwC, Experience is everything: Here's how to get it right, 2018"
ZENDESK_2020 = "Zendesk, Customer Experience Trends Report 2020 (press release of 14 January 2020)"
TARP = (
    "secondary reports only: TARP (Technical Assistance Research Programs), consumer studies for the US Office of "
    "Consumer Affairs, late 1970s–1980s; no primary source was found"
)
TARP_MEASURED = (
    "Consumer studies for the US Office of Consumer Affairs: of customers with a problem of small loss, the share who "
    "would buy again, by what happened to the problem; known through secondary reports."
)
#: Sources that are not primary: the registry says so and ``Claim.verified`` is False.
UNVERIFIED = ("unverified", "secondary reports only")


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
    #: share: churned within the horizon; retained: still a customer after it; ratio: a ratio (hazard
    #: or churn) against 1; order: a ranking of groups (the claimed value is the rise between them, 0)
    scale: str = "share"
    label: str = ""  # the claim in a few words, distinct from every other row (figures, summary)
    claimed_text: str = ""  # how the claimed value reads, where a number alone does not say it

    @property
    def verified(self) -> bool:
        return not self.source.startswith(UNVERIFIED)


REGISTRY: tuple[Claim, ...] = (
    Claim(
        id="leave_after_one_bad",
        label="1 in 3 leave after one bad experience (PwC)",
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
        label="17% of US consumers leave after one bad experience (PwC)",
        statement="17% of US consumers would stop doing business with a brand after one bad experience.",
        measured="The US figure of the same survey (17% of US respondents).",
        source=PWC_2018,
        definition="The same share as leave_after_one_bad; held against 17%.",
        claimed=0.17,
    ),
    Claim(
        id="leave_after_several_bad_2",
        label="59% leave after several bad experiences, from the second (PwC)",
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
        label="59% leave after several bad experiences, from the third (PwC)",
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
        label="92% stop after three poor service experiences (Gladly)",
        statement="92% of customers stop buying after three or fewer poor customer service experiences.",
        measured="Consumer survey (stated behaviour).",
        source="Gladly, Customer Expectations Report, 2018",
        definition="Among customers whose third unresolved bad experience (no contact, or a contact that did "
        "not solve it within {resolution} days) happened at least {horizon} days before the end of the data, "
        "the share that churned within {horizon} days after it; held against 92%.",
        claimed=0.92,
    ),
    Claim(
        id="switch_after_one_bad_zendesk",
        label="Half switch to a competitor after one bad experience (Zendesk)",
        statement="Half of customers will switch to a competitor after one bad experience.",
        measured="Survey of customers plus data from Zendesk accounts: about 50% would switch after one bad "
        "experience, 80% after more than one. A stated intention, not observed behaviour.",
        source=ZENDESK_2020,
        definition="As leave_after_one_bad: among customers whose first bad experience happened at least {horizon} "
        "days before the end of the data, the share that churned within {horizon} days after it; held against 50%.",
        claimed=0.50,
    ),
    Claim(
        id="switch_after_several_bad_zendesk",
        label="80% switch after more than one bad experience (Zendesk)",
        statement="80% of customers will switch to a competitor after more than one bad experience.",
        measured="The second figure of the same report (80% after more than one bad experience).",
        source=ZENDESK_2020,
        definition="Among customers whose second bad experience happened at least {horizon} days before the end of "
        "the data, the share that churned within {horizon} days after it; held against 80%.",
        claimed=0.80,
    ),
    Claim(
        id="tarp_complaint_outcomes",
        label="Complaining, resolution and speed each keep more customers (TARP)",
        statement="Of customers with a problem, 37% of those who did not complain buy again, 46% of those whose "
        "complaint was not resolved, 70% of those whose complaint was resolved and 95% of those whose complaint "
        "was resolved quickly.",
        measured=TARP_MEASURED,
        source=TARP,
        definition="The order of the four groups of bad experiences (no service contact, contacted but not "
        "resolved, resolved, resolved on the same calendar day; see the four tarp_complaint_outcomes_ rows): "
        "supported when the share still a customer {horizon} days later rises from each group to the next, "
        "contradicted when a step goes down or is too small to see.",
        claimed=0.0,
        scale="order",
        claimed_text="each group above the one before",
    ),
    Claim(
        id="tarp_complaint_outcomes_none",
        label="37% stay after a problem they did not complain about (TARP)",
        statement="37% of customers with a problem who did not complain buy again.",
        measured=TARP_MEASURED,
        source=TARP,
        definition="Among bad experiences at least {horizon} days before the end of the data with no service "
        "contact on their touchpoint within {resolution} days, the share whose customer was still a customer "
        "{horizon} days later; held against 37%.",
        claimed=0.37,
        scale="retained",
    ),
    Claim(
        id="tarp_complaint_outcomes_unresolved",
        label="46% stay after a complaint that was not resolved (TARP)",
        statement="46% of customers whose complaint was not resolved buy again.",
        measured=TARP_MEASURED,
        source=TARP,
        definition="The same share among bad experiences followed by a service contact within {resolution} days "
        "that did not resolve them; held against 46%.",
        claimed=0.46,
        scale="retained",
    ),
    Claim(
        id="tarp_complaint_outcomes_resolved",
        label="70% stay after a complaint that was resolved (TARP)",
        statement="70% of customers whose complaint was resolved buy again.",
        measured=TARP_MEASURED,
        source=TARP,
        definition="The same share among bad experiences resolved one to {resolution} days after they happened; "
        "held against 70%.",
        claimed=0.70,
        scale="retained",
    ),
    Claim(
        id="tarp_complaint_outcomes_quick",
        label="95% stay after a complaint resolved quickly (TARP)",
        statement="95% of customers whose complaint was resolved quickly buy again.",
        measured=TARP_MEASURED,
        source=TARP,
        definition="The same share among bad experiences resolved on the calendar day they happened; held against "
        "95%.",
        claimed=0.95,
        scale="retained",
    ),
    Claim(
        id="resolution_matters",
        label="A resolved problem costs fewer customers than an unresolved one",
        statement="A problem customer service resolves costs fewer customers than one left unresolved.",
        measured="The premise of investing in service recovery; no single published figure.",
        source="unverified: a common premise of the CX literature, not a figure from a primary source",
        definition="Hazard ratio of a resolved bad experience against an unresolved one in the last {window} "
        "days, from the survival model (adjusted for segment and tenure); supported when the interval lies "
        "below 1.",
        claimed=1.0,
        scale="ratio",
        claimed_text="below 1",
    ),
    Claim(
        id="recovery_does_not_offset",
        label="Service recovery counters a complaint's damage but does not offset it (Knox & van Oest)",
        statement="Service recovery counters the damage of a complaint but almost never fully offsets it.",
        measured="Purchase and complaint histories of 20,000 new customers of an internet and catalogue retailer "
        "over 2.5 years (observed behaviour).",
        source="Knox & van Oest, Customer complaints and recovery effectiveness, Journal of Marketing 78(5), 2014",
        definition="Hazard ratio of a resolved bad experience in the last {window} days, from the survival model: "
        "supported when its interval lies above 1 (the damage is not fully offset) and the resolved/unresolved "
        "ratio's interval below 1 (recovery counters part of it).",
        claimed=1.0,
        scale="ratio",
        claimed_text="above 1, below the unresolved hazard ratio",
    ),
    Claim(
        id="effort_drives_disloyalty",
        label="High-effort service makes customers disloyal (CEB)",
        statement="96% of customers with high-effort service interactions become more disloyal, against 9% with "
        "low effort.",
        measured="Survey of more than 75,000 customers: stated disloyalty (intent), not observed churn.",
        source="Dixon, Freeman & Toman, Stop Trying to Delight Your Customers, Harvard Business Review, July 2010 (CEB)",
        definition="Churn within {horizon} days after a high-effort bad experience (two or more service contacts on "
        "its touchpoint within {resolution} days) against a bad experience resolved with one contact, as a ratio "
        "of shares: supported when its interval lies above 1. The survey's 96% is stated intent, so the verdict is "
        "on the direction and the size, not on 96%.",
        claimed=1.0,
        scale="ratio",
        claimed_text="above 1 (survey: 96% against 9%)",
    ),
    Claim(
        id="buy_again_after_good_service",
        label="88–89% buy again after good service (unverified)",
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
        label="71% expect personalized interactions (McKinsey)",
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
        label="CX leaders see up to 25% more revenue (unverified)",
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
    "switch_after_one_bad_zendesk": (1, False),
    "switch_after_several_bad_zendesk": (2, False),
}

#: TARP's four groups of bad experiences, in the claimed order (claim id → group of outcome_groups).
TARP_GROUPS = {
    "tarp_complaint_outcomes_none": "no contact",
    "tarp_complaint_outcomes_unresolved": "contacted, not resolved",
    "tarp_complaint_outcomes_resolved": "resolved",
    "tarp_complaint_outcomes_quick": "resolved the same day",
}
_TARP_PHRASES = dict(zip(TARP_GROUPS.values(), (
    "no service contact", "a contact that did not resolve them", "a resolution one day or more later",
    "a resolution the same day")))
#: The effort survey's ratio: 96% against 9% became more disloyal.
SURVEY_EFFORT_RATIO = 0.96 / 0.09
#: The effort study's two groups: high effort against low effort.
EFFORT_GROUPS = ("two or more contacts", "resolved with one contact")

COLUMNS = [
    "claim", "label", "statement", "source", "verified", "definition", "scale", "customers", "churned", "estimate",
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
    engagement: bool = True,
    as_of=None,
) -> pd.DataFrame:
    """Qualifying customers per segment, tenure band and engagement band (at the experience) and how many churned.

    A customer qualifies when their ``nth`` bad experience (``nth`` unresolved one with
    ``unresolved_only``) happened at least ``horizon_days`` before ``as_of``; they count as
    churned when ``churned_at`` is at most ``horizon_days`` after that experience. With
    ``engagement``, ``engagement`` is the customer's experience-rate band on the day of the
    experience (:func:`cxlib.features.definitions.experience_rate_sql`: known from the past only).
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, n = int(horizon_days), int(nth)
    if h < 1 or n < 1:
        raise ValueError("horizon_days and nth must be >= 1")
    only = "WHERE resolved_on IS NULL" if unresolved_only else ""
    band = _panel._band_case(
        "CAST(date_diff('day', CAST(c.signup_at AS DATE), r.day) AS INTEGER)", _panel._check_bands(tenure_bands)
    )
    er_cte, er_join, er_col = _engagement_sql(data, as_of, "r.customer_id", "r.day", engagement)
    return data.query(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=resolution_days)}),
            ranked AS (
                SELECT customer_id, "at", day,
                       row_number() OVER (PARTITION BY customer_id ORDER BY "at", interaction_id) AS k
                FROM be {only}){er_cte}
            SELECT c.segment, {band} AS tenure_band{er_col}, count(*) AS customers,
                   count(*) FILTER (c.churned_at <= r."at" + INTERVAL {h} DAY) AS churned
            FROM ranked r JOIN customers c ON c.customer_id = r.customer_id {er_join}
            WHERE r.k = {n} AND r."at" + INTERVAL {h} DAY <= $as_of
            GROUP BY ALL ORDER BY ALL""",
        {"as_of": as_of.to_pydatetime()},
    )


def _engagement_sql(data, as_of, customer: str, day: str, engagement: bool) -> tuple[str, str, str]:
    """(CTE, join, select column) that add the experience-rate band of ``customer`` on ``day``; empty when off."""
    if not engagement:
        return "", "", ""
    from cxlib.features.definitions import experience_rate_max_steps, experience_rate_sql
    from cxlib.features.sql import timestamp_sql, utc_naive

    spans = experience_rate_sql(as_of_sql=timestamp_sql(utc_naive(as_of)),
                                max_steps=experience_rate_max_steps(data, as_of=as_of))
    join = (f"LEFT JOIN er ON er.customer_id = {customer} AND er.from_day <= {day} "
            f"AND (er.to_day IS NULL OR {day} < er.to_day)")
    return f", er AS ({spans})", join, ", coalesce(er.rate_band, 0) AS engagement"


def reference_churn(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    step_days: int = 30,
    tenure_bands=_panel.TENURE_BANDS,
    engagement: bool = True,
    as_of=None,
) -> pd.DataFrame:
    """Churn within ``horizon_days`` of customers without a bad experience, per segment, tenure and engagement band.

    Reference days run every ``step_days`` days from the first signup to ``as_of − horizon_days``;
    a customer counts on a reference day when active then and with no bad experience before
    it. Columns: segment, tenure_band, engagement (the experience-rate band that day, with
    ``engagement``), days (customer-days), customers, churned, rate, var (variance of the rate
    with customers as clusters).
    """
    from cxlib.data.load import utc_naive

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
    er_cte, er_join, er_col = _engagement_sql(data, as_of, "c.customer_id", "CAST(g.anchor_at AS DATE)", engagement)
    keys = "segment, tenure_band" + (", engagement" if engagement else "")
    frame = data.query(
        f"""WITH first_bad AS (
                SELECT customer_id, min("at") AS first_bad_at FROM interactions
                WHERE kind = 'experience' AND outcome = 'bad' GROUP BY customer_id),
            grid AS (SELECT * FROM (VALUES {grid}) g(anchor_at)){er_cte},
            ref AS (
                SELECT c.customer_id, c.segment, {band} AS tenure_band{er_col},
                       coalesce(c.churned_at <= g.anchor_at + INTERVAL {h} DAY, false) AS churned
                FROM customers c LEFT JOIN first_bad f ON f.customer_id = c.customer_id
                JOIN grid g ON g.anchor_at >= c.signup_at
                 AND (c.churned_at IS NULL OR g.anchor_at < c.churned_at)
                 AND (f.first_bad_at IS NULL OR g.anchor_at <= f.first_bad_at)
                {er_join}),
            per_customer AS (
                SELECT {keys}, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM ref GROUP BY ALL)
            SELECT {keys}, sum(m) AS days, count(*) AS customers, sum(y) AS churned,
                   sum(y * y) AS syy, sum(y * m) AS sym, sum(m * m) AS smm
            FROM per_customer GROUP BY ALL ORDER BY ALL"""
    )
    for col in ("days", "customers", "churned", "syy", "sym", "smm"):
        frame[col] = frame[col].astype(float)
    p = frame["churned"] / frame["days"]
    frame["rate"] = p
    frame["var"] = (frame["syy"] - 2 * p * frame["sym"] + p**2 * frame["smm"]) / frame["days"] ** 2
    return frame.drop(columns=["syy", "sym", "smm"])


def outcome_groups(
    data,
    *,
    horizon_days: int = HORIZON_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    as_of=None,
) -> pd.DataFrame:
    """Churn within ``horizon_days`` after a bad experience, by what service did about it.

    Every bad experience at least ``horizon_days`` before ``as_of`` counts once, with the
    service contacts of its customer on its touchpoint from its calendar day to
    ``resolution_days`` after (routine contacts excluded), in two splits:

    - ``tarp``: *no contact*, *contacted, not resolved*, *resolved* (one to
      ``resolution_days`` days later), *resolved the same day* (design.md's resolution rule);
    - ``effort``: *two or more contacts* (high effort) and *resolved with one contact*; the
      other bad experiences belong to neither.

    Columns: split, group, experiences, customers, churned, rate (churned / experiences) and
    var, its variance with customers as clusters (a customer can have several bad
    experiences), as in :func:`reference_churn`.
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None else as_of)
    h, days = int(horizon_days), int(resolution_days)
    if h < 1:
        raise ValueError("horizon_days must be >= 1")
    none, unresolved, resolved, quick = TARP_GROUPS.values()
    high, low = EFFORT_GROUPS
    frame = data.query(
        f"""WITH be AS ({bad_experiences_sql(resolution_days=days)}),
            contacts AS (
                SELECT customer_id, touchpoint, CAST("at" AS DATE) AS day FROM interactions
                WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}'),
            tagged AS (
                SELECT b.interaction_id, b.customer_id, b."at", b.day, b.resolved_on, count(s.day) AS contacts
                FROM be b LEFT JOIN contacts s
                  ON s.customer_id = b.customer_id AND s.touchpoint = b.touchpoint
                 AND s.day >= b.day AND s.day <= b.day + {days}
                WHERE b."at" + INTERVAL {h} DAY <= $as_of
                GROUP BY b.interaction_id, b.customer_id, b."at", b.day, b.resolved_on),
            outcome AS (
                SELECT t.customer_id,
                       CASE WHEN t.contacts = 0 THEN '{none}' WHEN t.resolved_on IS NULL THEN '{unresolved}'
                            WHEN t.resolved_on = t.day THEN '{quick}' ELSE '{resolved}' END AS tarp,
                       CASE WHEN t.contacts >= 2 THEN '{high}'
                            WHEN t.contacts = 1 AND t.resolved_on IS NOT NULL THEN '{low}' END AS effort,
                       coalesce(c.churned_at <= t."at" + INTERVAL {h} DAY, false) AS churned
                FROM tagged t JOIN customers c ON c.customer_id = t.customer_id),
            per_customer AS (
                SELECT 'tarp' AS split, tarp AS grp, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM outcome GROUP BY tarp, customer_id
                UNION ALL
                SELECT 'effort' AS split, effort AS grp, customer_id, count(*) AS m, count(*) FILTER (churned) AS y
                FROM outcome WHERE effort IS NOT NULL GROUP BY effort, customer_id)
            SELECT split, grp AS "group", sum(m) AS experiences, count(*) AS customers, sum(y) AS churned,
                   sum(y * y) AS syy, sum(y * m) AS sym, sum(m * m) AS smm
            FROM per_customer GROUP BY split, grp ORDER BY split, grp""",
        {"as_of": as_of.to_pydatetime()},
    )
    wanted = pd.DataFrame(
        [("tarp", g) for g in TARP_GROUPS.values()] + [("effort", g) for g in EFFORT_GROUPS], columns=["split", "group"]
    )
    frame = wanted.merge(frame, on=["split", "group"], how="left")
    for col in ("experiences", "customers", "churned", "syy", "sym", "smm"):
        frame[col] = frame[col].astype(float).fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = frame["churned"] / frame["experiences"].where(frame["experiences"] > 0)
        frame["rate"] = p
        frame["var"] = (frame["syy"] - 2 * p * frame["sym"] + p**2 * frame["smm"]) / frame["experiences"] ** 2
    frame = frame.drop(columns=["syy", "sym", "smm"])
    frame.attrs["horizon_days"] = h
    return frame


def outcome_table(groups: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`outcome_groups` as text a manager reads: per group, bad experiences, customers, churn with its interval."""
    from cxlib.present.format import pct_interval

    horizon = groups.attrs.get("horizon_days", HORIZON_DAYS)
    splits = {"tarp": "what service did (TARP)", "effort": "service effort (CEB)"}
    rows = []
    for r in groups.itertuples(index=False):
        low, high = clustered_interval(r.rate, r.var, r.experiences, alpha=alpha)
        rows.append({"comparison": splits[r.split], "bad experiences followed by": r.group,
                     "bad experiences": f"{int(r.experiences):,}", "customers": f"{int(r.customers):,}",
                     f"churned within {horizon} days (95% interval)": pct_interval(r.rate, low, high)})
    from cxlib.present.tables import one_header_row

    # one header row: the comparison stays the index, the group a column of its own
    return one_header_row(pd.DataFrame(rows).set_index("comparison"))


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


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if np.isfinite(x) else "–"


def _claimed_text(claim: Claim) -> str:
    return "1 in 3" if abs(claim.claimed - 1 / 3) < 1e-9 else f"{100 * claim.claimed:.0f}%"


def _share_reason(claim, row, nth, unresolved_only, horizon, max_width, engagement=True) -> str:
    what = f"{_ordinal(nth)} {'unresolved ' if unresolved_only else ''}bad experience"
    if row["customers"] == 0:
        return f"No customer had a {what} at least {horizon} days before the end of the data, so there is nothing to test."
    share = (
        f"{_pct(row['estimate'])} of {row['customers']:,} customers left within {horizon} days of their {what} "
        f"(95% interval {_pct(row['ci_low'])}–{_pct(row['ci_high'])})"
    )
    base = ""
    if np.isfinite(row["baseline"]):
        like = "segment, tenure and experience rate" if engagement else "segment and tenure"
        base = (f"; comparable customers without a bad experience (same {like}) left at {_pct(row['baseline'])} "
                "over the same span")
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
    engagement: bool = True,
    model=None,
    as_of=None,
) -> pd.DataFrame:
    """Every claim of :data:`REGISTRY` with estimate, interval, verdict and reason (index: claim id).

    ``engagement``: the comparable customers without a bad experience are matched on the
    experience-rate band too (else they are mostly the less active customers, who meet fewer
    touchpoints and, in many businesses, leave more often).

    ``max_width``: widest interval of a share (e.g. 0.10 = 10 points) that can support a
    claim; ``max_ratio_width``: the same for a ratio (hazard ratios, the effort ratio).
    ``model``: a fitted :class:`cxlib.models.churn.ChurnModel` to reuse (else one is fitted with
    ``window_days`` and ``resolution_days``). A term the model could not estimate
    (``model.not_estimable_``) makes the claims that rest on it inconclusive, with its reason.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    h = int(horizon_days)
    fmt = {"horizon": h, "window": int(window_days), "resolution": int(resolution_days)}
    reference = reference_churn(data, horizon_days=horizon_days, step_days=reference_step_days, engagement=engagement,
                                as_of=as_of)
    cache: dict = {}

    def qualifying(nth, unresolved_only):
        if (nth, unresolved_only) not in cache:
            cache[nth, unresolved_only] = churn_after_nth_bad(
                data, nth, unresolved_only=unresolved_only, horizon_days=horizon_days,
                resolution_days=resolution_days, engagement=engagement, as_of=as_of,
            )
        return cache[nth, unresolved_only]

    def groups():
        if "groups" not in cache:
            cache["groups"] = outcome_groups(data, horizon_days=horizon_days, resolution_days=resolution_days,
                                             as_of=as_of).set_index("group")
        return cache["groups"]

    def fitted():
        nonlocal model
        if model is None:
            from cxlib.models.churn import ChurnModel

            model = ChurnModel(window_days=window_days, resolution_days=resolution_days, alpha=alpha).fit(
                data, as_of=as_of
            )
        return model

    rows = []
    for claim in REGISTRY:
        row = {c: np.nan for c in COLUMNS}
        row.update(
            claim=claim.id, label=claim.label, statement=claim.statement, source=claim.source,
            verified=claim.verified, definition=claim.definition.format(**fmt), scale=claim.scale,
            claimed=claim.claimed if claim.claimed is not None else np.nan,
        )
        if not claim.testable:
            why = claim.definition.split(": ", 1)[-1]
            row.update(verdict=NOT_TESTABLE, reason=why[0].upper() + why[1:])
        elif claim.id in ANCHORS:
            nth, unresolved_only = ANCHORS[claim.id]
            q = qualifying(nth, unresolved_only)
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
            row["reason"] = _share_reason(claim, row, nth, unresolved_only, h, max_width, engagement)
        elif claim.id in TARP_GROUPS:
            row.update(_retained_row(claim, groups().loc[TARP_GROUPS[claim.id]], h, alpha, max_width))
        elif claim.scale == "order":
            row.update(_order_row(groups(), h, z, max_width))
        elif claim.id == "effort_drives_disloyalty":
            row.update(_effort_row(groups(), h, z, max_ratio_width))
        else:  # resolution_matters, recovery_does_not_offset: from the churn model
            m = fitted()
            row["churned"] = m.n_events_
            row.update(_model_row(claim.id, m, max_ratio_width))
        if row["verdict"] == INCONCLUSIVE:
            warnings.warn(f"{claim.id}: {row['reason']}", ThinEvidenceWarning, stacklevel=2)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS).set_index("claim")
    frame.attrs.update({"horizon_days": h, "max_width": max_width, "alpha": alpha, "engagement": bool(engagement)})
    return frame


def _signed_points(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "\u2212") + " points"


def _retained_row(claim: Claim, g: pd.Series, horizon: int, alpha: float, max_width: float) -> dict:
    """A TARP group: the share of its bad experiences whose customer was still a customer ``horizon`` days on."""
    what = TARP_GROUPS[claim.id]
    n = int(g["experiences"])
    row = {"customers": int(g["customers"]), "churned": int(g["churned"])}
    if n == 0:
        row.update(verdict=INCONCLUSIVE, reason=f"No bad experience at least {horizon} days before the end of the "
                   f"data was in the group '{what}', so there is nothing to test.")
        return row
    low, high = clustered_interval(float(g["rate"]), float(g["var"]), n, alpha=alpha)
    est, low, high = 1 - float(g["rate"]), 1 - high, 1 - low
    row.update(estimate=est, ci_low=low, ci_high=high)
    row["verdict"] = verdict(est, low, high, claim.claimed, max_width=max_width)
    share = (f"{_pct(est)} of {n:,} bad experiences with {_TARP_PHRASES[what]} ({row['customers']:,} customers) "
             f"were followed by a customer still there {horizon} days later (95% interval {_pct(low)}–{_pct(high)})")
    claimed = f"{100 * claim.claimed:.0f}%"
    if row["verdict"] == CONTRADICTED:
        side = "below" if high < claim.claimed else "above"
        row["reason"] = f"{share}, well {side} the claimed {claimed}."
    elif row["verdict"] == SUPPORTED:
        row["reason"] = f"{share}, consistent with the claimed {claimed}."
    else:
        row["reason"] = (f"{share}: the interval is wider than {_pct(max_width)}, too few bad experiences to tell "
                         f"whether the claimed {claimed} holds.")
    return row


def _order_row(groups: pd.DataFrame, horizon: int, z: float, max_width: float) -> dict:
    """TARP's order: the share still a customer rises from each group to the next.

    Each step is the difference of two groups' shares, with the variances added (the small
    covariance of a customer in both groups is left out). Supported when every step's interval
    lies above 0; contradicted when one lies below 0, or contains 0 and is narrower than
    ``max_width`` (no rise to see); inconclusive otherwise. The row's estimate is the step the
    verdict turns on.
    """
    names = list(TARP_GROUPS.values())
    empty = [g for g in names if groups.loc[g, "experiences"] == 0]
    if empty:
        return {"verdict": INCONCLUSIVE, "reason": f"No bad experience at least {horizon} days before the end of the "
                f"data was in the group '{empty[0]}', so the order of the four groups cannot be tested."}
    steps = []
    for before, after in zip(names[:-1], names[1:]):
        d = float(groups.loc[before, "rate"] - groups.loc[after, "rate"])  # rise of the share still a customer
        se = float(np.sqrt(groups.loc[before, "var"] + groups.loc[after, "var"]))
        steps.append((before, after, d, d - z * se, d + z * se))
    shares = "; ".join(f"{_pct(1 - groups.loc[g, 'rate'])} {g}" for g in names)
    shares = f"Still a customer {horizon} days after a bad experience: {shares}"
    reversed_ = [s for s in steps if s[4] < 0]
    flat = [s for s in steps if s[3] <= 0 <= s[4] and s[4] - s[3] <= max_width]
    if all(s[3] > 0 for s in steps):
        step, result = min(steps, key=lambda s: s[3]), SUPPORTED
        text = "each group stays more often than the one before, as claimed"
    elif reversed_:
        step, result = reversed_[0], CONTRADICTED
        text = f"'{step[1]}' stays less often than '{step[0]}' ({_signed_points(step[2])})"
    elif flat:
        step, result = flat[0], CONTRADICTED
        text = (f"'{step[1]}' stays no more often than '{step[0]}' ({_signed_points(step[2])}, 95% interval "
                f"{_signed_points(step[3])} to {_signed_points(step[4])}), where the claim has a clear rise")
    else:
        step, result = min(steps, key=lambda s: s[3]), INCONCLUSIVE
        text = (f"the rise from '{step[0]}' to '{step[1]}' ({_signed_points(step[2])}) is too uncertain to tell "
                "whether the order holds")
    return {"estimate": step[2], "ci_low": step[3], "ci_high": step[4], "verdict": result,
            "customers": int(groups.loc[names, "customers"].sum()), "churned": int(groups.loc[names, "churned"].sum()),
            "reason": f"{shares}: {text}."}


def _effort_row(groups: pd.DataFrame, horizon: int, z: float, max_width: float) -> dict:
    """CEB's effort study: churn after a high-effort bad experience over churn after one resolved with one contact."""
    high, low = (groups.loc[g] for g in EFFORT_GROUPS)
    row = {"customers": int(high["customers"]), "churned": int(high["churned"])}
    survey = "the survey reported 96% against 9% becoming more disloyal (stated intent, not churn)"
    if high["experiences"] == 0 or low["experiences"] == 0 or high["churned"] == 0 or low["churned"] == 0:
        which = "high-effort bad experience (two or more contacts)" if high["experiences"] == 0 else (
            "bad experience resolved with one contact" if low["experiences"] == 0 else "churn in one of the groups")
        row.update(verdict=INCONCLUSIVE, reason=f"No {which} at least {horizon} days before the end of the data, so "
                   f"the two cannot be compared; {survey}.")
        return row
    ph, pl = float(high["rate"]), float(low["rate"])
    log_ratio = np.log(ph / pl)
    se = float(np.sqrt(high["var"] / ph**2 + low["var"] / pl**2))
    ratio, lo, hi = float(np.exp(log_ratio)), float(np.exp(log_ratio - z * se)), float(np.exp(log_ratio + z * se))
    row.update(estimate=ratio, ci_low=lo, ci_high=hi)
    text = (f"{_pct(ph)} of {int(high['experiences']):,} high-effort bad experiences were followed by churn within "
            f"{horizon} days against {_pct(pl)} of {int(low['experiences']):,} resolved with one contact: "
            f"{ratio:.2f} times as many (95% interval {lo:.2f}–{hi:.2f}); {survey}")
    if lo > 1:
        margin = ", by a smaller margin than in the survey" if ratio < SURVEY_EFFORT_RATIO else ""
        row.update(verdict=SUPPORTED, reason=f"{text}. High effort goes with more churn{margin}.")
    elif hi < 1:
        row.update(verdict=CONTRADICTED, reason=f"{text}. High-effort bad experiences are followed by less churn.")
    elif hi - lo <= max_width:
        row.update(verdict=CONTRADICTED, reason=f"{text}. Effort makes no detectable difference to churn.")
    else:
        row.update(verdict=INCONCLUSIVE, reason=f"{text}. Too few high-effort bad experiences to tell.")
    return row


def _not_estimable_reason(model, terms) -> str | None:
    """The model's reason why one of ``terms`` has no estimate, as a sentence end; None when all are estimated."""
    missing = getattr(model, "not_estimable_", {}) or {}
    hit = [t for t in terms if t in missing]
    if not hit:
        return None
    return "; ".join(f"the {t} hazard ratio is not estimable from this data: {missing[t]}" for t in hit)


def _model_row(claim_id: str, model, max_width: float) -> dict:
    """resolution_matters and recovery_does_not_offset, from the churn model's hazard ratios."""
    why = _not_estimable_reason(model, ("unresolved", "resolved"))
    if why:
        return {"verdict": INCONCLUSIVE, "reason": f"Cannot be tested: {why}."}
    c = model.contrast("resolved", "unresolved")
    if claim_id == "resolution_matters":
        result, reason = _ratio_verdict(c, max_width)
        return {"estimate": c["ratio"], "ci_low": c["ci_low"], "ci_high": c["ci_high"], "verdict": result,
                "reason": reason}
    s = model.summary.loc["resolved"]
    hr, lo, hi = float(s["hazard_ratio"]), float(s["ci_low"]), float(s["ci_high"])
    text = (f"A resolved bad experience multiplies the daily risk of leaving by {hr:.2f} (95% interval "
            f"{lo:.2f}–{hi:.2f}) against no bad experience, and by {c['ratio']:.2f} ({c['ci_low']:.2f}–"
            f"{c['ci_high']:.2f}) against one left unresolved")
    if lo > 1 and c["ci_high"] < 1:
        result, end = SUPPORTED, "recovery removes part of the damage, not all of it"
    elif c["ci_low"] > 1:
        result, end = CONTRADICTED, "resolved problems cost more customers than unresolved ones, so recovery does not counter the damage"
    elif hi < 1:
        result, end = CONTRADICTED, "a resolved problem leaves customers more loyal than no problem at all"
    elif lo <= 1 <= hi and hi - lo <= max_width:
        result, end = CONTRADICTED, "recovery offsets the damage fully: a resolved problem costs no detectable customers"
    else:
        result, end = INCONCLUSIVE, "too few churn events to tell whether recovery offsets the damage"
    return {"estimate": hr, "ci_low": lo, "ci_high": hi, "verdict": result, "reason": f"{text}: {end}."}


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


def _claimed_display(claim_id: str, r) -> str:
    text = _CLAIMED_TEXT.get(claim_id)
    if text:
        return text
    if r["scale"] in ("share", "retained") and np.isfinite(r["claimed"]):
        return f"{100 * r['claimed']:.0f}%"
    return "–"


_CLAIMED_TEXT = {c.id: c.claimed_text for c in REGISTRY if c.claimed_text}


def claims_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The evaluated claims as text a manager reads."""
    from cxlib.present.format import number_interval, pct_interval

    out = []
    for cid, r in frame.iterrows():
        base = "–"
        if r["scale"] in ("share", "retained"):
            est = pct_interval(r["estimate"], r["ci_low"], r["ci_high"])
            base = pct_interval(r["baseline"], r["baseline_ci_low"], r["baseline_ci_high"])
        elif r["scale"] == "ratio":
            est = number_interval(r["estimate"], r["ci_low"], r["ci_high"])
        elif r["scale"] == "order" and np.isfinite(r["estimate"]):
            est = f"{_signed_points(r['estimate'])} ({_signed_points(r['ci_low'])[:-7]} to {_signed_points(r['ci_high'])[:-7]})"
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
