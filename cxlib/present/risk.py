"""The risk list in words: each customer's reason as a sentence, the list a team reads, the backtest's table.

:meth:`cxlib.models.risk.RiskModel.explain` names the group of features that raises a
customer's risk most and hands on the facts behind it; :func:`reason_text` writes them as a
team reads them ("2 unresolved delivery problems in the last 30 days"), once per distinct
combination of facts (a list of a million customers has a few hundred). :func:`risk_list` is
:meth:`~cxlib.models.risk.RiskModel.rank`'s list with that sentence; :func:`reason_summary`
what the reasons of a list are about; :func:`backtest_table` the backtest's scores as text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.analyses.backtest import TOP_SHARES
from cxlib.features.risk import TOUCHPOINT_GROUP
from cxlib.present.format import pct

#: The reason of a customer whose risk no single group raises.
NO_SINGLE_DRIVER = "no single driver: the usual risk of similar customers"
#: The columns of the list a team reads, in order (:func:`risk_list`).
LIST_COLUMNS = ("rank", "customer_id", "probability", "reason", "monthly_value", "monthly_value_at_risk", "segment",
                "tenure_days", "unresolved", "resolved", "reason_group")


def _n(k: int, noun: str) -> str:
    return f"{k} {noun}{'' if k == 1 else 's'}"


def _columns(group: str) -> list[str]:
    """The facts of :meth:`~cxlib.models.risk.RiskModel.explain` that the words of ``group`` read."""
    if group.startswith(TOUCHPOINT_GROUP):
        return ["reason_unresolved", "reason_unresolved_recent", "reason_resolved"]
    return {
        "service contacts": ["unresolved_contacts", "contacts"],
        "CSAT and NPS": ["last_csat", "last_nps"],
        "tenure": ["tenure_days"],
        "segment": ["segment"],
        "monthly value": ["monthly_value"],
    }.get(group, ["experiences"])


def _words(group: str, row: dict, *, window_days: int, recent_days: int, reference: dict) -> str:
    w, recent = int(window_days), int(recent_days)
    if group.startswith(TOUCHPOINT_GROUP):
        name = group[len(TOUCHPOINT_GROUP) :].replace("_", " ")
        u, ur, r = int(row["reason_unresolved"]), int(row["reason_unresolved_recent"]), int(row["reason_resolved"])
        if u:
            if ur == u:
                text = f"{_n(u, f'unresolved {name} problem')} in the last {recent} days"
            elif ur:
                text = f"{_n(u, f'unresolved {name} problem')} in the last {w} days ({ur} in the last {recent})"
            else:
                text = f"{_n(u, f'unresolved {name} problem')} in the last {w} days"
            return text + (f", {r} more resolved" if r else "")
        return f"{_n(r, f'{name} problem')} in the last {w} days, resolved"
    if group == "service contacts":
        k, n = int(row["unresolved_contacts"]), int(row["contacts"])
        if k:
            return f"{_n(k, 'service contact')} that did not solve the problem in the last {w} days"
        return f"{_n(n, 'service contact')} in the last {w} days"
    if group == "CSAT and NPS":
        parts = []
        if pd.notna(row["last_csat"]):
            parts.append(f"latest CSAT {int(row['last_csat'])}/5")
        if pd.notna(row["last_nps"]):
            parts.append(f"latest NPS {int(row['last_nps'])}/10")
        return " and ".join(parts) or "no CSAT or NPS answer"
    if group == "tenure":
        return f"new customer: {int(row['tenure_days'])} days since signup"
    if group == "segment":
        return f"segment {row['segment']}: churns more than {reference['segment']}"
    if group == "monthly value":
        low = row["monthly_value"] < reference["monthly_value"]
        return f"{'low ' if low else ''}monthly value ({row['monthly_value']:,.0f})"
    return f"{int(row['experiences'])} experiences in the last {w} days"


def reason_text(explained: pd.DataFrame, model) -> pd.Series:
    """Each row's main reason as a sentence (same index as ``explained``).

    ``explained``: :meth:`~cxlib.models.risk.RiskModel.explain` (or the list of
    :meth:`~cxlib.models.risk.RiskModel.rank`); ``model``: the fitted model, for its windows and
    its reference values. The words are written once per distinct group and facts.
    """
    reasons = np.full(len(explained), NO_SINGLE_DRIVER, dtype=object)
    groups = explained["reason_group"].to_numpy(dtype=object)
    settings = {"window_days": model.window_days, "recent_days": model.recent_days, "reference": model.reference_}
    for group in pd.unique(groups[groups != ""]):
        rows = np.flatnonzero(groups == group)
        used = _columns(group)
        part = explained.iloc[rows][used].reset_index(drop=True)
        distinct = part.drop_duplicates()
        distinct = distinct.assign(_words=[_words(group, r, **settings) for r in distinct.to_dict("records")])
        reasons[rows] = part.merge(distinct, on=used, how="left", validate="many_to_one")["_words"].to_numpy()
    return pd.Series(reasons, index=explained.index, name="reason")


def risk_list(ranked: pd.DataFrame, model) -> pd.DataFrame:
    """:meth:`~cxlib.models.risk.RiskModel.rank`'s list with each reason in words (:data:`LIST_COLUMNS`)."""
    out = ranked.assign(reason=reason_text(ranked, model))[list(LIST_COLUMNS)]
    out.attrs.update(ranked.attrs)
    return out


def reason_summary(ranked: pd.DataFrame) -> pd.DataFrame:
    """What the listed customers' main reasons are about: customers, churn expected, value at risk per group.

    Takes a risk list (:func:`risk_list` or :meth:`~cxlib.models.risk.RiskModel.rank`); returns
    no customer-level data (for a report; :func:`cxlib.present.tables.reason_table` as text).
    """
    group = ranked["reason_group"].replace("", "no single driver")
    out = (
        ranked.assign(group=group)
        .groupby("group")
        .agg(
            customers=("customer_id", "size"),
            expected_churners=("probability", "sum"),
            monthly_value_at_risk=("monthly_value_at_risk", "sum"),
        )
        .sort_values("expected_churners", ascending=False)
    )
    out["expected_churners"] = out["expected_churners"].round(1)
    out["monthly_value_at_risk"] = out["monthly_value_at_risk"].round(0)
    out.index.name = "main reason"
    return out


def backtest_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """A backtest's :attr:`~cxlib.analyses.backtest.Backtest.metrics` as text a manager reads (index: method)."""
    out = pd.DataFrame({"method": metrics["method"]})
    out["ROC AUC"] = metrics["roc_auc"].map("{:.3f}".format)
    out["average precision"] = metrics["average_precision"].map("{:.3f}".format)
    out["Brier score"] = metrics["brier"].map(lambda v: "–" if pd.isna(v) else f"{v:.4f}")
    for q in TOP_SHARES:
        out[f"churners caught in top {round(100 * q)}%"] = metrics[f"top_{round(100 * q)}pct_capture"].map(pct)
    return out.set_index("method")
