"""What the numbers can and cannot say: one text for each caveat, used by every section.

The churn, ROI and risk sections each end with the caveats that bear on them and the report
closes with all of them (:func:`cxlib.present.summary.methods_and_caveats`): the same words
everywhere, kept here, so a caveat corrected once is corrected in all of them. Texts are our
own words with the run's parameters filled in (numbers only), never text from data.
"""

from __future__ import annotations

from cxlib.config import ENGAGEMENT_STEP_DAYS, HORIZON_DAYS

#: name -> (short title, text). ``{horizon_days}`` and ``{step_days}`` are filled in.
CAVEATS: dict[str, tuple[str, str]] = {
    "observational": (
        "Observational data",
        "Bad experiences and resolutions are not assigned at random: customers who have them may differ from "
        "those who do not in ways the data does not record. Read the hazard ratios, and the money built on "
        "them, as strong associations, not as the certain effect of an intervention.",
    ),
    "adjusted_for": (
        "What the model adjusts for",
        "Segment, tenure (new customers leave more often) and engagement: customers who use the product more "
        "have more experiences of every kind, good and bad, and are also more loyal, so the model compares "
        "customers with the same experience rate (known from the past only, brought up to date every "
        "{step_days} days) and the same number of experiences, good or bad, in the window the bad ones are "
        "counted in. It cannot adjust for anything else that drives both bad experiences and churn; the "
        "negative control and the E-values say how much that could matter. Customers already on their way out "
        "may complain more: service contacts are deliberately not adjusted for.",
    ),
    "resolution_selected": (
        "Resolution is not random either",
        "Customers who contact service are the ones who still care, so a resolved problem's lower hazard mixes "
        "the effect of resolving it with who gets it resolved.",
    ),
    "said_versus_did": (
        "The claims are survey answers",
        "The published figures are what people say they would do; the estimates here are what customers did, "
        "within {horizon_days} days. A share that left after a bad experience includes those who would have "
        "left anyway; the comparison with comparable customers without one shows how many.",
    ),
    "count_cap": (
        "Counts are capped",
        "Counts of bad experiences above the model's cap (5) are pooled with it.",
    ),
    "current_base": (
        "The current base only",
        "Customers who sign up later are left out, so investments that pay mostly through new customers "
        "(onboarding) are understated.",
    ),
    "service_through_resolution": (
        "Service pays through resolution",
        "Answering faster counts only if the data show faster answers resolving more problems; when they do "
        "not, the scenario is reported as not estimable rather than given an invented effect.",
    ),
    "what_intervals_carry": (
        "What the intervals carry",
        "The uncertainty of the hazard ratios and of the measured rates; what is actually retained also depends "
        "on who happens to have a bad experience, which the realised range adds.",
    ),
    "ranking_not_verdict": (
        "A ranking, not a verdict",
        "Churn within a few months is rare and noisy: even a good list catches a minority of leavers in its top "
        "10%. The validation in time is the honest figure of what it achieves going forward.",
    ),
    "reasons_are_associations": (
        "Reasons are associations",
        "\"2 unresolved delivery problems\" is what raises a customer's predicted risk most; that fixing it keeps "
        "the customer is the survival model's and the experiments' question, not the list's.",
    ),
    "past_only": (
        "Only the past",
        "Only data up to the day of the list enters a customer's features; the model learned only from churn "
        "that was already known.",
    ),
}

#: The caveats of each section, in the order they are shown.
SECTIONS: dict[str, tuple[str, ...]] = {
    "churn": ("observational", "adjusted_for", "resolution_selected", "said_versus_did", "count_cap"),
    "roi": ("observational", "adjusted_for", "current_base", "service_through_resolution", "what_intervals_carry"),
    "risk": ("ranking_not_verdict", "reasons_are_associations", "past_only"),
    "report": ("observational", "adjusted_for", "resolution_selected", "current_base"),
}


def caveat_texts(section: str, *, horizon_days: int = HORIZON_DAYS, step_days: int = ENGAGEMENT_STEP_DAYS
                 ) -> list[tuple[str, str]]:
    """The caveats of ``section`` (a key of :data:`SECTIONS`) as (title, text), parameters filled in."""
    if section not in SECTIONS:
        raise ValueError(f"section must be one of {', '.join(SECTIONS)}, not {section!r}")
    fill = {"horizon_days": int(horizon_days), "step_days": int(step_days)}
    return [(CAVEATS[name][0], CAVEATS[name][1].format(**fill)) for name in SECTIONS[section]]


def section(name: str, **parameters):
    """The caveats of section ``name`` as a Markdown list, for a notebook's closing cell."""
    from IPython.display import Markdown

    items = [f"- **{title}.** {text}" for title, text in caveat_texts(name, **parameters)]
    return Markdown("## What these numbers can and cannot say\n\n" + "\n".join(items))
