"""The registry of the CX literature's published figures: each statement, what its source measured, how cxlab tests it.

:data:`REGISTRY` carries each statement as usually quoted, what its source measured, the
source itself (or ``unverified`` where no primary source was found), and its operational
definition on interaction data (design.md, claims.md). Statements with no analogue in
interaction data are listed as *not testable* with the reason, never dropped.
:mod:`cxlib.analyses.claims` computes the estimates and verdicts; :mod:`cxlib.present.claims`
writes them in words.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

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
#: The effort survey's ratio: 96% against 9% became more disloyal.
SURVEY_EFFORT_RATIO = 0.96 / 0.09
#: The effort study's two groups: high effort against low effort.
EFFORT_GROUPS = ("two or more contacts", "resolved with one contact")


def registry() -> pd.DataFrame:
    """The registry as a table: id, statement, what was measured, source, verified, testable."""
    return pd.DataFrame([{**asdict(c), "verified": c.verified} for c in REGISTRY]).set_index("id")

