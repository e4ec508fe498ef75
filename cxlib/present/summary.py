"""The executive summary: what a manager reads in two minutes, one function per section.

Each function takes what the analyses already produce (a loaded dataset, the evaluated
claims, a fitted :class:`~cxlib.models.churn.ChurnModel`) and returns something small that the
summary notebook displays as it is:

- :func:`headline`: the headline metrics, one row each, formatted with their 95% interval;
- :func:`claims_overview` and :func:`claims_verdicts`: the published claims with verdicts;
- :func:`cost_headline` and :func:`cost_money_table`: what one more bad experience costs in
  revenue per active customer, per touchpoint (numbers from :mod:`cxlib.analyses.cost`);
- :func:`cost_table` (text of :func:`cxlib.analyses.churn_cost.cost_of_bad_experience`): the hazard
  ratios and churn of the model's reference customer, which the recommendation's advice rests on;
- :func:`recommendation`: the plain-words recommendation built from those numbers;
- :func:`roi_section` and :func:`roi_recommendation`: service against experience in money,
  side by side with intervals (from :func:`cxlib.analyses.roi.evaluate`);
- :func:`methods_and_caveats`: the report's closing section, filled with the run's parameters.

Tables are plain DataFrames (pandas' HTML repr escapes every cell and header). Markdown
returned here is built from numbers and our own words; any text that could come from the
data goes through :func:`escape_markdown` first, so a segment called ``<script>`` is shown,
never run.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from cxlib.config import HORIZON_DAYS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.analyses.churn_cost import SCENARIOS
from cxlib.present.caveats import caveat_texts
from cxlib.present.format import money_per_customer, money_per_customer_interval, number_interval, pct_interval
from cxlib.present.tables import one_header_row


_ORDINALS = {1: "first", 2: "second", 3: "third"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~])")


def escape_markdown(text) -> str:
    """Text from data made safe inside markdown: HTML escaped, markdown punctuation backslashed.

    An apostrophe stays as it is (harmless in text): escaped to ``&#x27;``, the backslash that
    markdown's ``#`` needs would break the entity and the reader would see ``&#x27;``.
    """
    escaped = html.escape(str(text), quote=False).replace('"', "&quot;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escaped)


def _markdown(text: str):
    from IPython.display import Markdown

    return Markdown(text)


# ---------------------------------------------------------------------------------------
# Headline metrics


def _share(row) -> str:
    return "–" if not row["n"] else pct_interval(row["value"], row["low"], row["high"])


def headline(data, *, resolution_days: int = RESOLUTION_DAYS, alpha: float = 0.05) -> pd.DataFrame:
    """The headline metrics of ``data`` (:func:`cxlib.analyses.headline.headline_numbers`) as text:
    value with its 95% interval, and what it rests on.

    Index ``measure``; columns ``value (95% interval)`` and ``based on``.
    """
    from cxlib.analyses.headline import headline_numbers

    numbers = headline_numbers(data, resolution_days=resolution_days, alpha=alpha).set_index("measure")
    n = numbers["n"].astype("int64")
    k = numbers["successes"].astype("int64")
    first, as_of = numbers.attrs["first_signup"], numbers.attrs["as_of"]
    since = "–" if first is None else f"{pd.Timestamp(first):%Y-%m-%d}"
    nps = numbers.loc["nps"]
    rows = [
        ("customers", f"{n['customers']:,}", f"signed up from {since}; data up to {as_of:%Y-%m-%d}"),
        ("churned so far", _share(numbers.loc["churned"]), f"{k['churned']:,} of {n['churned']:,} customers"),
        ("bad-experience rate", _share(numbers.loc["bad_rate"]),
         f"{k['bad_rate']:,} bad of {n['bad_rate']:,} experiences"),
        ("bad experiences followed by a service contact", _share(numbers.loc["contacted"]),
         f"within {int(resolution_days)} days, on the same touchpoint"),
        ("bad experiences resolved by customer service", _share(numbers.loc["resolved"]),
         f"of {n['resolved']:,} bad experiences"),
        ("resolution rate of contacts about a problem", _share(numbers.loc["problem_resolution"]),
         f"{n['problem_resolution']:,} contacts (routine questions excluded)"),
        ("service contacts caused by a bad experience", _share(numbers.loc["after_bad"]),
         f"of {n['after_bad']:,} service contacts"),
        ("CSAT (satisfied, 4–5 of 5)", _share(numbers.loc["csat"]), f"{n['csat']:,} answers after service contacts"),
        ("NPS (points, −100 to 100)", number_interval(nps["value"], nps["low"], nps["high"], digits=0),
         f"{n['nps']:,} answers"),
    ]
    return one_header_row(pd.DataFrame(rows, columns=["measure", "value (95% interval)", "based on"]).set_index("measure"))


# ---------------------------------------------------------------------------------------
# Claims


def claims_verdicts(results: pd.DataFrame) -> pd.DataFrame:
    """The evaluated claims (:func:`cxlib.analyses.claims.evaluate`) reduced to what a manager reads.

    Index ``claim`` (the statement as usually quoted); columns: which bad experience the
    churn is counted from (a statement tested twice appears twice), the claimed value, what
    the data show with its interval, comparable customers without a bad experience, and the
    verdict. Testable claims first, in the registry's order; the sources and the reasons are
    in the churn section's full table (:func:`cxlib.present.claims.claims_table`).
    """
    from cxlib.analyses.claims import ANCHORS, NOT_TESTABLE, TARP_GROUPS
    from cxlib.present.claims import claims_table

    table = claims_table(results)
    counted = []
    for cid, scale in zip(table["claim"], results.loc[table["claim"], "scale"]):
        if cid in ANCHORS:
            nth, unresolved_only = ANCHORS[cid]
            counted.append(f"{_ORDINALS.get(nth, f'{nth}th')} {'unresolved ' if unresolved_only else ''}bad experience")
        elif cid in TARP_GROUPS:
            counted.append(f"each bad experience: {TARP_GROUPS[cid]}")
        else:
            counted.append(_COUNTED_FROM.get(cid, "–"))
    table["counted from"] = counted
    table["_untestable"] = table["verdict"] == NOT_TESTABLE
    table = table.sort_values("_untestable", kind="stable")
    out = pd.DataFrame(
        {
            "claim": table["statement"].to_numpy(),
            "counted from": table["counted from"].to_numpy(),
            "claimed": table["claimed"].to_numpy(),
            "this data (95% interval)": table["estimate (95% interval)"].to_numpy(),
            "customers without a bad experience": table["without a bad experience"].to_numpy(),
            "verdict": table["verdict"].to_numpy(),
        }
    )
    return one_header_row(out.set_index("claim"))


_COUNTED_FROM = {
    "tarp_complaint_outcomes": "the four groups below, in order",
    "resolution_matters": "resolved against unresolved (churn model)",
    "recovery_does_not_offset": "resolved against none, and against unresolved (churn model)",
    "effort_drives_disloyalty": "two or more contacts against one that resolved",
}


def claims_overview(results: pd.DataFrame):
    """One paragraph (Markdown): how many claims the data support, contradict or cannot tell."""
    from cxlib.analyses.claims import CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, SUPPORTED

    counts = results["verdict"].value_counts()
    tested = int(len(results) - counts.get(NOT_TESTABLE, 0))
    parts = [f"**{int(counts.get(v, 0))} {v}**" for v in (SUPPORTED, CONTRADICTED, INCONCLUSIVE)]
    text = (
        f"Of the {tested} published claims this data can test, {parts[0]}, {parts[1]} and {parts[2]}; "
        f"{int(counts.get(NOT_TESTABLE, 0))} cannot be tested with interaction data (the table says why not in "
        "the churn section). A claim is contradicted when its figure lies outside the 95% interval of what "
        "customers actually did."
    )
    return _markdown(text)


# ---------------------------------------------------------------------------------------
# What a bad experience costs, and the recommendation


def cost_table(cost: pd.DataFrame) -> pd.DataFrame:
    """:func:`cost_of_bad_experience` as text: churn, extra churn per 1,000 customers, hazard ratio."""
    horizon = int(cost["horizon_days"].iloc[0])
    why = cost["not_estimable"] if "not_estimable" in cost else pd.Series("", index=cost.index)
    per_thousand = [
        "–" if s == SCENARIOS[0] else f"not estimable: {w}" if w else
        f"{_signed(1000 * e)} ({_signed(1000 * lo)} to {_signed(1000 * hi)})"
        for s, e, lo, hi, w in zip(cost.index, cost["extra_churn"], cost["extra_low"], cost["extra_high"], why)
    ]
    return one_header_row(pd.DataFrame(
        {
            f"churn within {horizon} days (95% interval)": [
                pct_interval(p, lo, hi) for p, lo, hi in zip(cost["churn"], cost["churn_low"], cost["churn_high"])
            ],
            "extra customers lost per 1,000": per_thousand,
            "hazard ratio (95% interval)": [
                "1 (reference)" if s == SCENARIOS[0] else "not estimable" if w else number_interval(h, lo, hi)
                for s, h, lo, hi, w in zip(cost.index, cost["hazard_ratio"], cost["hr_low"], cost["hr_high"], why)
            ],
        },
        index=pd.Index(cost.index, name="a typical customer with"),
    ))


def _and(words) -> str:
    """``a, b and c``."""
    words = list(words)
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def _signed(value: float) -> str:
    return f"{value:+.0f}".replace("-", "\u2212")


def _per_thousand(share: float) -> str:
    return f"{1000 * share:.0f}"


def recommendation(cost: pd.DataFrame, *, max_ratio_width: float = 0.25, facts: bool = True):
    """The recommendation in plain words (Markdown), from :func:`cost_of_bad_experience`.

    It compares what an unresolved and a resolved bad experience cost in customers, and
    says where the evidence points: service (resolve more of the problems that happen) or
    experience (prevent them). It rests on hazard ratios only; whether an investment pays
    depends on its cost, which the ROI section weighs. ``max_ratio_width``: the widest
    interval of the resolved/unresolved ratio read as "no difference" rather than "cannot
    tell" (the threshold of the ``resolution_matters`` claim). ``facts=False`` leaves out the
    reference customer's churn (the summary opens with the cost in money instead).
    """
    none, resolved, unresolved = (cost.loc[s] for s in SCENARIOS)
    horizon = int(cost["horizon_days"].iloc[0])
    c = cost.attrs["contrast"]
    who = (
        f"customers like the typical one here (segment {escape_markdown(cost.attrs['segment'])}, "
        f"tenure {escape_markdown(cost.attrs['tenure_band'])})"
    )
    churn_facts = (
        f"Out of 1,000 {who}, about **{_per_thousand(none['churn'])} leave within {horizon} days** without a bad "
        f"experience, **{_per_thousand(unresolved['churn'])}** after one the company left unresolved, and "
        f"**{_per_thousand(resolved['churn'])}** after one customer service resolved."
    )
    why = cost["not_estimable"] if "not_estimable" in cost else pd.Series("", index=cost.index)
    if why[SCENARIOS[2]]:
        return _markdown(
            "**This data cannot say what a bad experience costs in customers**: the churn model could not estimate "
            f"the hazard ratio of an unresolved bad experience ({escape_markdown(why[SCENARIOS[2]])}). No "
            "recommendation between resolving problems (customer service) and preventing them (customer "
            "experience) rests on churn here."
        )
    if why[SCENARIOS[1]]:
        return _markdown(
            f"Out of 1,000 {who}, about **{_per_thousand(none['churn'])} leave within {horizon} days** without a bad "
            f"experience and **{_per_thousand(unresolved['churn'])}** after one the company left unresolved. "
            "**Whether resolving a problem wins customers back, this data cannot estimate**: "
            f"{escape_markdown(why[SCENARIOS[1]])}. Preventing bad experiences (customer experience) avoids the cost "
            "that is measured; the case for resolving them (customer service) needs data with resolved problems."
        )
    unresolved_costs = unresolved["hr_low"] > 1
    if unresolved["hr_high"] < 1:
        advice = (
            "Customers with an unresolved bad experience leave *less* often than those without one. That is not a "
            "reason to let things go wrong: it most likely means the most engaged customers, who use the product "
            "most, also meet the most problems. Do not base an investment on churn in this data; look at the "
            "methods and caveats at the end."
        )
    elif not unresolved_costs:
        advice = (
            "This data shows no detectable churn cost of a bad experience (the hazard ratio's interval includes 1). "
            "Neither fixing service nor improving the experience can be justified by churn alone here; costs, "
            "contacts and satisfaction may still justify them."
        )
    elif c["ci_high"] < 1 and resolved["hr_low"] <= 1:
        advice = (
            "**Resolving a problem removes its churn cost**: a resolved bad experience costs no detectable customers. "
            "Customer service pays where problems still go unresolved: raise the resolution rate and reach the "
            "customers who do not contact you. Preventing the problem saves the same customers and the contact, "
            "so the experience investment wins wherever it costs less per bad experience avoided."
        )
    elif c["ci_high"] < 1:
        removed = 1 - resolved["extra_churn"] / unresolved["extra_churn"] if unresolved["extra_churn"] > 0 else np.nan
        share = "part" if not np.isfinite(removed) else f"about {100 * removed:.0f}%"
        advice = (
            f"**Resolving a problem removes {share} of its churn cost, not all of it**: a resolved bad experience "
            "still costs customers. Better service recovers some of them; **preventing bad experiences avoids the "
            "whole cost**. Fix the touchpoints that go bad most often first, and keep resolving what still goes "
            "wrong."
        )
    elif c["ci_low"] > 1:
        advice = (
            "**Resolved problems go with more churn than unresolved ones.** Resolving a problem does not make "
            "customers leave: those who contact customer service differ from those who do not (they are the ones "
            "still weighing whether to stay). This data cannot show that resolving problems saves customers; "
            "**preventing bad experiences** (customer experience) is the investment churn supports."
        )
    elif c["ci_high"] - c["ci_low"] > max_ratio_width:
        advice = (
            "**An unresolved bad experience costs customers; whether resolving it wins them back, this data cannot "
            "tell yet** (too few churn events: the interval of the comparison below is wide). Preventing bad "
            "experiences (customer experience) avoids the cost for certain; the case for resolving them afterwards "
            "(customer service) rests on more data."
        )
    else:
        advice = (
            "**Resolution makes no detectable difference to churn**: the cost lies in the bad experience itself. "
            "Money spent on **preventing bad experiences** (customer experience) saves customers; money spent on "
            "resolving them afterwards (customer service) cannot be shown to."
        )
    ratio = (
        f"A resolved bad experience carries {c['ratio']:.2f} times the daily risk of leaving of an unresolved one "
        f"(95% interval {c['ci_low']:.2f}–{c['ci_high']:.2f}), adjusted for {_and(cost.attrs.get('adjusted_for', ('segment', 'tenure')))}."
    )
    return _markdown("\n\n".join([*([churn_facts] if facts else []), advice, ratio]))


# ---------------------------------------------------------------------------------------
# What one bad experience costs in money, per touchpoint (cxlib.analyses.cost)


def cost_money_table(cost) -> pd.DataFrame:
    """:func:`cxlib.analyses.cost.evaluate` as text: per touchpoint, revenue lost per active customer, with intervals."""
    t, cur = cost.table, cost.currency
    months = f"{cost.settings['horizon_months']:g} months"
    level = f"{100 * (1 - cost.settings['alpha']):.0f}%"
    out = pd.DataFrame(
        {
            f"one left unresolved: revenue lost over {months} ({level} interval)": [
                money_per_customer_interval(v, lo, hi, cur) for v, lo, hi in zip(t["unresolved"], t["unresolved_low"], t["unresolved_high"])],
            "one that service resolves": [
                money_per_customer_interval(v, lo, hi, cur) for v, lo, hi in zip(t["resolved"], t["resolved_low"], t["resolved_high"])],
            "resolving one is worth": [
                money_per_customer_interval(v, lo, hi, cur) for v, lo, hi in zip(t["resolving"], t["resolving_low"], t["resolving_high"])],
            "extra customers lost per 1,000, one left unresolved": [
                number_interval(1000 * v, 1000 * lo, 1000 * hi, digits=1)
                for v, lo, hi in zip(t["churn_unresolved"], t["churn_unresolved_low"], t["churn_unresolved_high"])],
        },
        index=pd.Index(t["touchpoint"].to_numpy(), name=None),
    )
    out.columns.name = "one more bad experience at"
    return out


def cost_sentence(cost) -> str:
    """The first lines of the summary, as plain text with markdown emphasis (touchpoints escaped)."""
    t, cur, s = cost.table, cost.currency, cost.settings
    months = f"{s['horizon_months']:g} months"
    worst = t.sort_values("unresolved", ascending=False).iloc[0]
    best = t.sort_values("unresolved").iloc[0]
    if s.get("per_touchpoint") and worst["touchpoint"] != best["touchpoint"]:
        at = f" at {escape_markdown(worst['touchpoint'])}"
        where = (f" That is the most costly touchpoint; the least is {escape_markdown(best['touchpoint'])} "
                 f"({money_per_customer(best['unresolved'], cur)}); the table has each.")
    else:
        at = ""
        where = " The churn model has one coefficient for every touchpoint, so the cost is the same at each."
    return (
        f"**One bad experience{at} left unresolved costs "
        f"{money_per_customer_interval(worst['unresolved'], worst['unresolved_low'], worst['unresolved_high'], cur)} "
        f"of revenue per customer over {months}**, averaged over the {s['customers']:,} customers active at "
        f"{pd.Timestamp(s['as_of']):%Y-%m-%d} (95% interval).{where} One that customer service resolves costs "
        f"{money_per_customer_interval(worst['resolved'], worst['resolved_low'], worst['resolved_high'], cur)}: "
        f"**resolving one is worth {money_per_customer_interval(worst['resolving'], worst['resolving_low'], worst['resolving_high'], cur)}**, "
        f"and the most it is worth paying to prevent one is its whole cost, {money_per_customer(worst['unresolved'], cur)} "
        f"(preventing it also saves the contact)."
    )


def cost_headline(cost):
    """:func:`cost_sentence` as Markdown for the summary notebook."""
    return _markdown(cost_sentence(cost))


# ---------------------------------------------------------------------------------------
# Service against experience: the ROI section (cxlib.analyses.roi)


def roi_section(result) -> pd.DataFrame:
    """The investments side by side: net benefit with its interval, ROI, chance of being best.

    ``result``: what :func:`cxlib.analyses.roi.evaluate` returns (an ``ROIResult``). The table is
    :func:`cxlib.present.roi.side_by_side` with one header row; scenario names come from a YAML
    file, so they stay in cells, which pandas escapes.
    """
    from cxlib.present import roi as roi_text

    return one_header_row(roi_text.side_by_side(result))


def roi_recommendation(result):
    """:func:`cxlib.present.roi.recommendation` in plain words (Markdown, escaped: scenario names are user text)."""
    from cxlib.present import roi as roi_text

    lines = [roi_text.recommendation(result), *getattr(result, "notes", [])]
    return _markdown("\n\n".join(escape_markdown(line) for line in lines if line))


# ---------------------------------------------------------------------------------------
# Methods and caveats (the report's closing section)

METHODS_AND_CAVEATS: tuple[tuple[str, str], ...] = (
    (
        "Definitions",
        "A bad experience is an experience interaction with a bad outcome. It is resolved when customer service "
        "marks a contact by the same customer about the same touchpoint as resolved on the same calendar day or "
        "up to {resolution_days} days after; otherwise it is unresolved. Customers still active are followed up "
        "to the end of the data ({as_of}).",
    ),
    (
        "Intervals",
        "Every share carries a 95% Wilson interval, the NPS an adjusted Wald interval, hazard ratios the model's "
        "95% interval. Two figures whose intervals overlap may not differ at all.",
    ),
    (
        "The churn model",
        "A piecewise-exponential (Poisson) survival model of the daily risk of leaving, with the unresolved and "
        "the resolved bad experiences of the last {window_days} days as time-varying counts, adjusted for "
        "segment, tenure and engagement (the experience rate and the window's count of experiences), cross-checked against a Cox model (lifelines) "
        "on a sample. The cost of a bad "
        "experience in the summary is the revenue the customers active at the end of the data would lose, on "
        "average, if each had one more bad experience today: that model's hazard ratio applied to each customer's "
        "expected risk of leaving, over the ROI's horizon.",
    ),
    (
        "The claims",
        "Each published figure is tested on what customers did: the share who left within {horizon_days} days "
        "after their first (second, third) bad experience, held against the claimed figure and against "
        "comparable customers (same segment, tenure and experience rate) without one; the share still a customer "
        "{horizon_days} days after a bad experience by what customer service did about it (nothing, a contact that "
        "did not resolve it, a resolution, one the same day); churn after a bad experience that took two or more "
        "contacts; and the churn model's hazard ratios. A figure the data hold no information on is reported as "
        "not estimable, and the claims resting on it as inconclusive. The surveys asked what people say they "
        "would do; this data shows what they did.",
    ),
)


def methods_and_caveats(parameters: dict | None = None) -> list[tuple[str, str]]:
    """:data:`METHODS_AND_CAVEATS` with the run's parameters filled in: [(heading, paragraph)]."""
    params = {
        "window_days": WINDOW_DAYS,
        "resolution_days": RESOLUTION_DAYS,
        "horizon_days": HORIZON_DAYS,
        "as_of": "the latest timestamp in the data",
    }
    params.update({k: v for k, v in (parameters or {}).items() if k in params and v not in ("", None)})
    sections = [(heading, text.format(**params)) for heading, text in METHODS_AND_CAVEATS]
    caveats = caveat_texts("report", horizon_days=params["horizon_days"])
    return sections + [("Caveats", " ".join(f"{title}: {text}" for title, text in caveats))]
