"""The ROI as a manager reads it: tables with formatted money and intervals, and the recommendation in words.

Each function takes what :func:`cxlib.analyses.roi.evaluate` returns (an ``ROIResult``, numbers
only) and gives text: :func:`roi_table` (every figure with its interval), :func:`rates_table`
(the measured rates), :func:`beats_table` (the probability that one investment beats another),
:func:`side_by_side` (the summary's small table), :func:`recommendation` (plain words that
say when the evidence does not separate the options), :func:`describe` (what a scenario
changes) and :func:`as_dict` (the result's numbers with the recommendation, as ``cx roi --json``
prints them). Money and percentages are formatted by :mod:`cxlib.present.format`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.analyses.roi import ROIResult
from cxlib.analyses.roi_scenarios import ALL_TOUCHPOINTS, Scenario
from cxlib.present.format import money, money_interval, pct

__all__ = ["as_dict", "beats_table", "describe", "rates_table", "recommendation", "roi_table", "side_by_side",
           "signed_pct", "summary_section"]


def describe(scenario: Scenario) -> str:
    """What the scenario changes, in words: ``resolution rate → 90%``."""
    c = scenario.change
    parts = []
    if "resolution_rate" in c:
        parts.append(f"resolution rate → {pct(c['resolution_rate'], 0)}")
    if "contact_share" in c:
        parts.append(f"contact share → {pct(c['contact_share'], 0)}")
    if "first_response_cut" in c:
        parts.append(f"first response −{pct(c['first_response_cut'], 0)}")
    if "bad_rate_cut" in c:
        where = "every touchpoint" if c["touchpoint"] == ALL_TOUCHPOINTS else c["touchpoint"]
        parts.append(f"bad rate of {where} −{pct(c['bad_rate_cut'], 0)}")
    return ", ".join(parts)


def signed_pct(x) -> str:
    """A ratio as a whole percentage with a true minus sign and no negative zero: ``−12%``."""
    text = pct(x, 0)
    return "0%" if text == "-0%" else text.replace("-", "−")


def as_dict(result: ROIResult) -> dict:
    """:meth:`ROIResult.to_dict` with what each scenario changes and the recommendation, in words."""
    out = result.to_dict()
    by_name = {s.name: s for s in result.scenarios}
    for row in out["scenarios"]:
        row["what"] = describe(by_name[row["scenario"]])
    out["recommendation"] = recommendation(result)
    return out


def roi_table(result: ROIResult) -> pd.DataFrame:
    """The full table as text a manager reads: one row per scenario, every figure with its interval."""
    t = result.table
    cur = result.currency
    by_name = {s.name: s for s in result.scenarios}
    level = f"{100 * (1 - result.settings['alpha']):.0f}%"
    months = f"{result.settings['horizon_months']:g} months"
    out = pd.DataFrame({
        "scenario": t["scenario"],
        "kind": t["kind"],
        "what it changes": [describe(by_name[n]) if n in by_name else "" for n in t["scenario"]],
        "yearly cost": [money(v, cur) for v in t["yearly_cost"]],
        f"churn avoided, customers ({level} interval)": [
            "not estimable" if not ok else f"{v:.1f} ({lo:.1f} to {hi:.1f})"
            for ok, v, lo, hi in zip(t["estimable"], t["churn_avoided"], t["churn_avoided_low"], t["churn_avoided_high"])],
        f"revenue retained over {months}": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["retained_revenue"], t["retained_revenue_low"], t["retained_revenue_high"])],
        "net benefit": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["net_benefit"], t["net_benefit_low"], t["net_benefit_high"])],
        "ROI": [_roi_text(ok, v, lo, hi) for ok, v, lo, hi in zip(t["estimable"], t["roi"], t["roi_low"], t["roi_high"])],
        "break-even yearly cost": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["break_even_cost"], t["break_even_cost_low"], t["break_even_cost_high"])],
        "P(net benefit > 0)": [pct(p, 0) for p in t["p_positive"]],
        "P(best)": [pct(p, 0) for p in t["p_best"]],
    })
    return out.set_index("scenario")


def _roi_text(ok, v, lo, hi) -> str:
    if not ok:
        return "not estimable"
    if not np.isfinite(v):
        return "– (no cost)"
    return f"{signed_pct(v)} ({signed_pct(lo)} to {signed_pct(hi)})"


def rates_table(result: ROIResult) -> pd.DataFrame:
    """The measured rates the scenarios change, as text: rates with three significant figures, shares in %."""
    r = result.rates
    per = "per customer-month"
    measures = [m.replace(per, "per 1,000 customers a month") for m in r["measure"]]
    values = [pct(v) if ("share" in m or "rate (" in m) else "–" if not np.isfinite(v)
              else f"{1000 * v:,.1f}" if per in m else f"{v:.2f}" for m, v in zip(r["measure"], r["value"])]
    out = pd.DataFrame({"value": values, "based on": r["n"].map("{:,}".format).to_numpy()},
                       index=pd.Index(measures))
    out.columns.name = "measured before the analysis date"
    return out


def beats_table(result: ROIResult) -> pd.DataFrame:
    """P(row's net benefit > column's), over the draws, as percentages."""
    out = result.beats.map(lambda p: pct(p, 0))
    out.columns.name, out.index.name = "beats →", None  # one header row
    return out


def side_by_side(result: ROIResult) -> pd.DataFrame:
    """The small table for the executive summary: scenario, kind, net benefit (interval), ROI, P(best)."""
    t = result.table
    cur = result.currency
    return pd.DataFrame({
        "scenario": t["scenario"],
        "kind": t["kind"],
        f"net benefit over {result.settings['horizon_months']:g} months": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["net_benefit"], t["net_benefit_low"], t["net_benefit_high"])],
        "ROI": [_roi_text(ok, v, lo, hi) if ok else "not estimable"
                for ok, v, lo, hi in zip(t["estimable"], t["roi"], t["roi_low"], t["roi_high"])],
        "probability of being best": [pct(p, 0) for p in t["p_best"]],
    }).set_index("scenario")


def recommendation(result: ROIResult, *, level: float | None = None) -> str:
    """A plain-words recommendation that says when the evidence does not separate the options.

    ``level``: how sure "better" must be (default ``1 - alpha``, 95%), as the share of draws.
    """
    level = 1 - result.settings["alpha"] if level is None else level
    t = result.table
    cur = result.currency
    months = f"{result.settings['horizon_months']:g} months"
    ok = t[t["estimable"]].sort_values("net_benefit", ascending=False)
    out = []
    if ok.empty:
        out.append("No scenario could be estimated from this data.")
    else:
        b = ok.iloc[0]
        kind = f"({b['kind']})"
        net = money_interval(b["net_benefit"], b["net_benefit_low"], b["net_benefit_high"], cur)
        if b["p_positive"] <= 1 - level:
            out.append(
                f"None of the investments pays for itself within {months}: the best, {b['scenario']} {kind}, "
                f"retains {money(b['retained_revenue'], cur)} for a cost of {money(b['cost'], cur)}; "
                f"it would break even at a yearly cost of {money(b['break_even_cost'], cur)}."
            )
        elif len(ok) == 1:
            out.append(f"{b['scenario']} {kind}: net benefit {net} over {months}.")
        else:
            s = ok.iloc[1]
            p = result.beats.loc[b["scenario"], s["scenario"]]
            if p >= level:
                out.append(
                    f"{b['scenario']} {kind} is the better investment: net benefit {net} over {months}, "
                    f"ahead of {s['scenario']} ({s['kind']}) in {100 * p:.0f}% of the draws."
                )
            else:
                net2 = money_interval(s["net_benefit"], s["net_benefit_low"], s["net_benefit_high"], cur)
                out.append(
                    f"The evidence does not separate {b['scenario']} ({b['kind']}) and {s['scenario']} ({s['kind']}): "
                    f"the first is ahead in only {100 * p:.0f}% of the draws (net benefit {net} against {net2} over {months}). "
                    "Decide on other grounds, or gather more data: more customers or a longer history narrow the intervals."
                )
        if level > b["p_positive"] > 1 - level:
            out.append(
                f"Whether {b['scenario']} pays for its cost is not settled: its net benefit is positive in "
                f"{100 * b['p_positive']:.0f}% of the draws."
            )
        losers = ok[(ok["p_positive"] <= 1 - level)]
        losers = losers[losers["scenario"] != b["scenario"]]
        if len(losers) and b["p_positive"] > 1 - level:
            out.append(
                "Not worth its cost: "
                + "; ".join(f"{r['scenario']} (break-even at {money(r['break_even_cost'], cur)} a year)" for _, r in losers.iterrows())
                + "."
            )
    missing = t[~t["estimable"]]
    for _, r in missing.iterrows():
        out.append(f"Not estimated: {r['scenario']}: {r['note']}.")
    return " ".join(out)


def summary_section(result: ROIResult) -> tuple[pd.DataFrame, str]:
    """For the executive summary: the side-by-side table and the recommendation sentence."""
    return side_by_side(result), recommendation(result)
