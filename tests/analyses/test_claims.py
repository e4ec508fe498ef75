"""Claims: the registry, the verdict rule, the estimates against an independent computation, and their words."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.analyses import claims
from cxlib.exceptions import NotFittedError, ThinEvidenceWarning
from cxlib.models.churn import ChurnModel
from cxlib.present import claims as words
from tests._worlds import RECOVERY_SEEDS

CLAIMS_MD_IDS = {
    "leave_after_one_bad", "stop_after_three_poor_service", "buy_again_after_good_service",
    "expect_personalization", "cx_revenue_uplift",
}


@pytest.fixture(scope="module")
def evaluated(recovery_worlds):  # noqa: F811
    data, truth, path = recovery_worlds[RECOVERY_SEEDS[0]]
    model = ChurnModel().fit(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinEvidenceWarning)
        frame = claims.evaluate(data, model=model)
    return frame, model, truth, path


def test_registry_carries_every_claim_with_its_source():
    reg = claims.registry()
    assert CLAIMS_MD_IDS <= set(reg.index)
    assert any(i.startswith("leave_after_several_bad") for i in reg.index)
    assert "PwC" in reg.loc["leave_after_one_bad", "source"]
    assert "Gladly" in reg.loc["stop_after_three_poor_service", "source"]
    assert "McKinsey" in reg.loc["expect_personalization", "source"]
    for cid in ("buy_again_after_good_service", "cx_revenue_uplift"):
        assert reg.loc[cid, "source"].startswith("unverified") and not reg.loc[cid, "verified"]
    for cid in ("buy_again_after_good_service", "expect_personalization", "cx_revenue_uplift"):
        assert not reg.loc[cid, "testable"] and reg.loc[cid, "definition"].startswith("Not testable:")


def test_verdict_rule():
    assert claims.verdict(0.11, 0.10, 0.12, 1 / 3, max_width=0.1) == claims.CONTRADICTED
    assert claims.verdict(0.32, 0.30, 0.34, 1 / 3, max_width=0.1) == claims.SUPPORTED
    assert claims.verdict(0.30, 0.10, 0.50, 1 / 3, max_width=0.1) == claims.INCONCLUSIVE
    assert claims.verdict(0.05, 0.01, 0.30, 1 / 3, max_width=0.1) == claims.CONTRADICTED
    assert claims.verdict(float("nan"), float("nan"), float("nan"), 1 / 3, max_width=0.1) == claims.INCONCLUSIVE


def test_every_claim_has_a_verdict_and_a_reason(evaluated):
    frame, *_ = evaluated
    assert set(claims.registry().index) == set(frame.index)
    assert frame["verdict"].isin([claims.SUPPORTED, claims.CONTRADICTED, claims.INCONCLUSIVE, claims.NOT_TESTABLE]).all()
    reasons = words.reasons(frame)
    assert list(reasons.index) == list(frame.index)
    assert reasons.str.len().gt(20).all() and reasons.str.endswith(".").all()
    testable = frame[frame["verdict"] != claims.NOT_TESTABLE]
    assert (testable["ci_low"] <= testable["estimate"]).all() and (testable["estimate"] <= testable["ci_high"]).all()
    # the simulated world's churn after a bad experience is ~11%, far from 1 in 3
    assert frame.loc["leave_after_one_bad", "verdict"] == claims.CONTRADICTED
    assert frame.loc["stop_after_three_poor_service", "verdict"] == claims.CONTRADICTED
    table = words.claims_table(frame)
    assert list(table["claim"]) == list(frame.index) and list(table["reason"]) == list(reasons)


def test_leave_after_one_bad_matches_an_independent_pandas_computation(evaluated):
    frame, _, truth, path = evaluated
    customers = pd.read_parquet(path / "customers.parquet")
    interactions = pd.read_parquet(path / "interactions.parquet", columns=["customer_id", "at", "kind", "outcome"])
    for col in ("signup_at", "churned_at"):
        customers[col] = pd.to_datetime(customers[col], utc=True).dt.tz_localize(None)
    interactions["at"] = pd.to_datetime(interactions["at"], utc=True).dt.tz_localize(None)
    as_of = pd.Timestamp(truth["as_of"]).tz_convert("UTC").tz_localize(None)
    bad = interactions[(interactions.kind == "experience") & (interactions.outcome == "bad")]
    horizon = pd.Timedelta(days=90)
    for nth, cid in ((1, "leave_after_one_bad"), (2, "leave_after_several_bad_2"), (3, "leave_after_several_bad_3")):
        nth_bad = bad.sort_values("at").groupby("customer_id").nth(nth - 1).set_index("customer_id")["at"]
        eligible = nth_bad[nth_bad + horizon <= as_of]
        churned_at = customers.set_index("customer_id").loc[eligible.index, "churned_at"]
        left = (churned_at <= eligible + horizon).fillna(False)
        share = left.mean()
        row = frame.loc[cid]
        assert row["customers"] == len(eligible) and row["churned"] == int(left.sum())
        assert row["ci_low"] <= share <= row["ci_high"]
        assert row["estimate"] == pytest.approx(share)


def test_every_anchor_in_one_query_matches_pandas_over_the_bad_experiences(evaluated):
    """churn_after_nth_bads ranks all bad experiences and the unresolved ones among themselves in one query:
    each anchor's qualifying customers and churners as pandas counts them over the same bad experiences."""
    from cxlib.data.load import utc_naive
    from cxlib.features.definitions import bad_experiences_sql

    _, _, truth, path = evaluated
    anchors = [(2, False), (1, True), (3, True), (1, False)]
    with cxlib.load(path) as data:
        tables = claims.churn_after_nth_bads(data, anchors)
        be = data.query(bad_experiences_sql())
        customers = data.query("SELECT customer_id, churned_at FROM customers").set_index("customer_id")
        single = claims.churn_after_nth_bad(data, 3, unresolved_only=True)
        as_of = utc_naive(data.as_of)
    horizon = pd.Timedelta(days=90)
    assert list(tables) == anchors
    for nth, unresolved_only in anchors:
        pool = be[be["resolved_on"].isna()] if unresolved_only else be
        nth_at = pool.sort_values(["at", "interaction_id"]).groupby("customer_id").nth(nth - 1).set_index("customer_id")["at"]
        eligible = nth_at[nth_at + horizon <= as_of]
        left = (customers.loc[eligible.index, "churned_at"] <= eligible + horizon).fillna(False)
        q = tables[nth, unresolved_only]
        assert len(eligible) > 30, (nth, unresolved_only)
        assert (int(q["customers"].sum()), int(q["churned"].sum())) == (len(eligible), int(left.sum())), (nth, unresolved_only)
    pd.testing.assert_frame_equal(single, tables[3, True])


def test_excess_over_comparable_customers_is_positive_but_small(evaluated):
    """In the simulated world a bad experience raises the hazard by 1.08–1.30 for 90 days: churn after
    one is above that of comparable customers without one, by far less than the claims say."""
    frame, *_ = evaluated
    row = frame.loc["leave_after_one_bad"]
    assert row["baseline_ci_low"] < row["baseline"] < row["baseline_ci_high"]
    assert 0 < row["excess_ci_low"] and row["excess_ci_high"] < 0.06
    assert row["baseline"] < row["estimate"]


def test_resolution_matters_uses_the_model(evaluated):
    frame, model, truth, _ = evaluated
    row = frame.loc["resolution_matters"]
    c = model.contrast("resolved", "unresolved")
    assert row["estimate"] == pytest.approx(c["ratio"])
    true_ratio = truth["hazard"]["hr_resolved"] / truth["hazard"]["hr_unresolved"]
    assert row["ci_low"] <= true_ratio <= row["ci_high"]
    assert row["verdict"] == claims.SUPPORTED


def test_thin_evidence_is_inconclusive_and_warns(tiny_world):  # noqa: F811
    path, truth = tiny_world
    with cxlib.load(path, as_of=truth["as_of"]) as data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ThinEvidenceWarning)
            model = ChurnModel().fit(data)
        with pytest.warns(ThinEvidenceWarning):
            frame = claims.evaluate(data, model=model, max_width=0.05)
    # 400 customers: the shares' intervals are wider than 5 points; the claimed values are far off,
    # so each is contradicted or inconclusive, never supported on such thin evidence
    shares = frame[frame["scale"] == "share"]
    assert not (shares["verdict"] == claims.SUPPORTED).any()
    wide = shares[(shares["ci_high"] - shares["ci_low"]) > 0.05]
    inside = wide[(wide["ci_low"] <= wide["claimed"]) & (wide["claimed"] <= wide["ci_high"])]
    assert (inside["verdict"] == claims.INCONCLUSIVE).all()


def test_claimed_value_inside_a_wide_interval_is_inconclusive():
    frame = pd.DataFrame({"segment": ["x"], "tenure_band": ["0–89 days"], "customers": [10], "churned": [3]})
    from cxlib.features.metrics import wilson_interval

    low, high = (float(v) for v in wilson_interval(3, 10))
    assert claims.verdict(0.3, low, high, 1 / 3, max_width=0.10) == claims.INCONCLUSIVE
    assert np.isfinite(claims.standardised(frame, frame.assign(rate=0.1, var=0.0))[0])


def test_records_are_json_ready(evaluated):
    import json

    frame, *_ = evaluated
    records = claims.to_records(frame)
    text = json.dumps(records)
    assert "NaN" not in text
    assert records["leave_after_one_bad"]["verdict"] in ("supported", "contradicted", "inconclusive")
    assert isinstance(records["leave_after_one_bad"]["customers"], int)
    assert "reason" not in records["leave_after_one_bad"] and "evidence" not in records["leave_after_one_bad"]
    spoken = claims.to_records(words.with_reasons(frame))
    assert "NaN" not in json.dumps(spoken)
    assert spoken["leave_after_one_bad"]["reason"] == words.reasons(frame)["leave_after_one_bad"]


def test_evaluate_takes_a_fitted_model_and_never_fits_one(recovery_worlds):  # noqa: F811
    data, *_ = recovery_worlds[RECOVERY_SEEDS[0]]
    with pytest.raises(TypeError, match="model="):
        claims.evaluate(data, model=None)
    with pytest.raises(TypeError):
        claims.evaluate(data)  # model= is required
    with pytest.raises(NotFittedError):
        claims.evaluate(data, model=ChurnModel())


def test_evaluate_takes_its_window_and_resolution_from_the_model(evaluated, recovery_worlds):
    """The claims' counts are the model's: other days than the model's are refused, none given are the model's."""
    frame, model, *_ = evaluated
    data, *_ = recovery_worlds[RECOVERY_SEEDS[0]]
    assert (frame.attrs["window_days"], frame.attrs["resolution_days"]) == (model.window_days, model.resolution_days)
    with pytest.raises(ValueError, match=f"window_days={model.window_days + 30}.*fitted with window_days={model.window_days}"):
        claims.evaluate(data, model=model, window_days=model.window_days + 30)
    with pytest.raises(ValueError, match="resolution_days"):
        claims.evaluate(data, model=model, resolution_days=model.resolution_days + 1)


# ---------------------------------------------------------------------- the statements added 2026-12-01

NEW_IDS = {"switch_after_one_bad_zendesk", "tarp_complaint_outcomes", "recovery_does_not_offset",
           "effort_drives_disloyalty"}


def test_new_statements_carry_their_real_source():
    reg = claims.registry()
    assert NEW_IDS <= set(reg.index)
    assert "Zendesk" in reg.loc["switch_after_one_bad_zendesk", "source"]
    assert "2020" in reg.loc["switch_after_one_bad_zendesk", "source"]
    assert "Knox & van Oest" in reg.loc["recovery_does_not_offset", "source"]
    assert "Journal of Marketing" in reg.loc["recovery_does_not_offset", "source"]
    assert "Harvard Business Review" in reg.loc["effort_drives_disloyalty", "source"]
    tarp = reg[reg.index.str.startswith("tarp_complaint_outcomes")]
    assert len(tarp) == 5  # the order, and each of the four groups against its figure
    assert tarp["source"].str.startswith("secondary reports only").all() and not tarp["verified"].any()
    assert sorted(tarp["claimed"].dropna().round(2))[1:] == [0.37, 0.46, 0.70, 0.95]
    assert reg.loc["switch_after_several_bad_zendesk", "claimed"] == pytest.approx(0.80)


def test_every_row_has_a_distinct_label_without_internal_ids():
    reg = claims.registry()
    assert reg["label"].str.len().gt(10).all()
    assert not reg["label"].duplicated().any()
    for cid in reg.index:
        assert not any(cid in label for label in reg["label"]), cid


def test_new_statements_against_the_simulators_truth(evaluated):
    """What the simulator's parameters say each new statement should find (seed 11, 20,000 customers):

    - churn within 90 days after a bad experience is ~11% (base hazards of 1–3% a month, HR 1.30):
      far from Zendesk's 50% and 80%;
    - a contact that resolves nothing has no effect of its own (the hazard depends on resolution only),
      so TARP's first step (no complaint → unresolved complaint) is absent and the order fails, while
      every group stays far more often than TARP's 37/46/70%;
    - hr_resolved 1.08 lies above 1 and below hr_unresolved 1.30: recovery counters the damage and does
      not offset it;
    - effort has no effect of its own in the simulator: never "supported".
    """
    frame, model, truth, _ = evaluated
    hazard = truth["hazard"]
    for cid in ("switch_after_one_bad_zendesk", "switch_after_several_bad_zendesk"):
        assert frame.loc[cid, "verdict"] == claims.CONTRADICTED and frame.loc[cid, "ci_high"] < 0.2
    assert frame.loc["switch_after_one_bad_zendesk", "estimate"] == frame.loc["leave_after_one_bad", "estimate"]

    groups = [f"tarp_complaint_outcomes_{g}" for g in ("none", "unresolved", "resolved", "quick")]
    assert (frame.loc[groups, "scale"] == "retained").all()
    assert (frame.loc[groups[:3], "ci_low"] > 0.8).all()
    assert (frame.loc[groups[:3], "verdict"] == claims.CONTRADICTED).all()
    order = frame.loc["tarp_complaint_outcomes"]
    assert order["verdict"] == claims.CONTRADICTED
    reasons = words.reasons(frame)
    assert order["evidence"]["finding"] == "flat" and order["evidence"]["step"] == ("no contact", "contacted, not resolved")
    assert "'contacted, not resolved' stays no more often than 'no contact'" in reasons["tarp_complaint_outcomes"]
    assert order["ci_low"] < 0 < order["ci_high"]
    none, unresolved, resolved, quick = (frame.loc[g, "estimate"] for g in groups)
    assert min(resolved, quick) > max(none, unresolved)  # resolution lowers the hazard: 1.08 against 1.30

    assert hazard["hr_unresolved"] > hazard["hr_resolved"] > 1
    row = frame.loc["recovery_does_not_offset"]
    assert row["verdict"] == claims.SUPPORTED
    assert row["ci_low"] <= hazard["hr_resolved"] <= row["ci_high"]
    assert row["estimate"] == pytest.approx(model.hazard_ratios_["resolved"])

    effort = frame.loc["effort_drives_disloyalty"]
    assert effort["verdict"] != claims.SUPPORTED and effort["ci_low"] < 1 < effort["ci_high"]
    assert "96% against 9%" in reasons["effort_drives_disloyalty"]


def test_outcome_groups_match_an_independent_pandas_computation(evaluated):
    frame, _, truth, path = evaluated
    inter = pd.read_parquet(path / "interactions.parquet",
                            columns=["interaction_id", "customer_id", "at", "kind", "touchpoint", "outcome", "resolved"])
    customers = pd.read_parquet(path / "customers.parquet", columns=["customer_id", "churned_at"])
    inter["at"] = pd.to_datetime(inter["at"], utc=True).dt.tz_localize(None)
    customers["churned_at"] = pd.to_datetime(customers["churned_at"], utc=True).dt.tz_localize(None)
    inter["day"] = inter["at"].dt.normalize()
    as_of = pd.Timestamp(truth["as_of"]).tz_convert("UTC").tz_localize(None)
    bad = inter[(inter.kind == "experience") & (inter.outcome == "bad")]
    bad = bad[bad["at"] + pd.Timedelta(days=90) <= as_of]
    svc = inter[(inter.kind == "service") & (inter.touchpoint != "how_to")][["customer_id", "touchpoint", "day", "resolved"]]
    pairs = bad.merge(svc, on=["customer_id", "touchpoint"], how="left", suffixes=("", "_c"))
    lag = (pairs["day_c"] - pairs["day"]).dt.days
    pairs = pairs[lag.between(0, 3) | pairs["day_c"].isna()]
    within = pairs[pairs["day_c"].notna()]
    contacts = within.groupby("interaction_id").size().reindex(bad["interaction_id"], fill_value=0)
    fixes = within[within["resolved_c"] == True]  # noqa: E712
    first_fix = fixes.groupby("interaction_id")["day_c"].min()
    b = bad.set_index("interaction_id")
    b["contacts"] = contacts
    b["fix_lag"] = (first_fix.reindex(b.index) - b["day"]).dt.days
    churned_at = customers.set_index("customer_id")["churned_at"].reindex(b["customer_id"]).to_numpy()
    b["churned"] = pd.Series(churned_at <= (b["at"] + pd.Timedelta(days=90)).to_numpy(), index=b.index).fillna(False)
    groups = {
        "none": b["contacts"] == 0,
        "unresolved": (b["contacts"] > 0) & b["fix_lag"].isna(),
        "resolved": b["fix_lag"] > 0,
        "quick": b["fix_lag"] == 0,
    }
    for name, mask in groups.items():
        row = frame.loc[f"tarp_complaint_outcomes_{name}"]
        assert row["estimate"] == pytest.approx(1 - b.loc[mask, "churned"].mean()), name
        assert row["customers"] == b.loc[mask, "customer_id"].nunique(), name
    high = b["contacts"] >= 2
    low = (b["contacts"] == 1) & b["fix_lag"].notna()
    ratio = b.loc[high, "churned"].mean() / b.loc[low, "churned"].mean()
    assert frame.loc["effort_drives_disloyalty", "estimate"] == pytest.approx(ratio)


def test_order_and_effort_rules():
    def groups(rates, n=5000.0):
        names = [*claims.TARP_GROUPS.values(), *claims.EFFORT_GROUPS]
        return pd.DataFrame({"experiences": n, "customers": n, "churned": [r * n for r in rates],
                             "rate": rates, "var": [r * (1 - r) / n for r in rates]}, index=names)

    def said(claim_id, row):
        return words.reason(claim_id, row, {"horizon_days": 90})

    z = 1.96
    rising = groups([0.60, 0.50, 0.30, 0.05, 0.30, 0.10])
    assert claims._order_row(rising, z, 0.10)["verdict"] == claims.SUPPORTED
    flat = groups([0.30, 0.30, 0.20, 0.05, 0.10, 0.10])
    row = claims._order_row(flat, z, 0.10)
    assert row["verdict"] == claims.CONTRADICTED and "no more often" in said("tarp_complaint_outcomes", row)
    reversed_ = groups([0.30, 0.20, 0.40, 0.05, 0.10, 0.10])
    row = claims._order_row(reversed_, z, 0.10)
    assert row["verdict"] == claims.CONTRADICTED and "less often" in said("tarp_complaint_outcomes", row)
    assert row["estimate"] == pytest.approx(-0.20)
    thin = groups([0.30, 0.25, 0.20, 0.05, 0.10, 0.10], n=40.0)
    assert claims._order_row(thin, z, 0.10)["verdict"] == claims.INCONCLUSIVE
    row = claims._effort_row(rising, z, 0.25)
    assert row["verdict"] == claims.SUPPORTED and "High effort goes with more churn" in said("effort_drives_disloyalty", row)
    row = claims._effort_row(groups([0.3] * 4 + [0.10, 0.10], n=20000.0), z, 0.25)
    assert row["verdict"] == claims.CONTRADICTED and "no detectable difference" in said("effort_drives_disloyalty", row)
    row = claims._effort_row(groups([0.3] * 4 + [0.0, 0.10]), z, 0.25)
    assert row["verdict"] == claims.INCONCLUSIVE and "churn in one of the groups" in said("effort_drives_disloyalty", row)


def test_claims_figure_rows_are_distinct_statements_without_internal_ids(evaluated):
    import re

    import matplotlib.pyplot as plt

    from cxlib.present import plots

    frame, *_ = evaluated
    plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 96})  # the notebooks' settings
    ax = plots.plot_claims(frame)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    shown = frame[frame["scale"].isin(["share", "retained"]) & frame["estimate"].notna()]
    assert len(labels) == len(shown) >= 11
    flat = [" ".join(label.split()) for label in labels]
    assert len(set(flat)) == len(flat), "two rows carry the same statement"
    for label in flat:
        assert not re.search(r"\b[a-z]+(?:_[a-z0-9]+)+\b", label), f"internal id in {label!r}"
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    fig = ax.figure
    assert fig.get_size_inches()[0] * fig.dpi <= 1280
    fig.canvas.draw()
    boxes = sorted((t.get_window_extent() for t in ax.get_yticklabels()), key=lambda b: b.y0)
    for below, above in zip(boxes, boxes[1:]):
        assert below.y1 <= above.y0, "claim labels overlap"


# ---------------------------------------------------------------------- engagement: a confounded world


@pytest.fixture(scope="module")
def confounded_world(tmp_path_factory):
    """8,000 customers whose usage differs (heavy users meet more touchpoints and churn less), and the
    same world with no effect of bad experiences (common random numbers): the truth of the excess."""
    from cxlib.data.simulate import preset, write_dataset

    cfg = preset("confounded")
    path, null = tmp_path_factory.mktemp("claims_confounded"), tmp_path_factory.mktemp("claims_confounded_null")
    truth = write_dataset(path, 8_000, seed=22, config=cfg, fmt="parquet")
    write_dataset(null, 8_000, seed=22, config=cfg.with_changes(hr_unresolved=1.0, hr_resolved=1.0), fmt="parquet")
    with cxlib.load(path, as_of=truth["as_of"]) as data:
        yield data, truth, path, null


def _true_excess(path, null, truth, nth: int) -> float:
    """Churn within 90 days after the nth bad experience, minus the same customers' churn had no bad experience
    had any effect (the null world draws the same customers, experiences and churn thresholds)."""
    bad = pd.read_parquet(path / "interactions.parquet", columns=["customer_id", "at", "outcome", "interaction_id"],
                          filters=[("kind", "==", "experience"), ("outcome", "==", "bad")])
    bad = bad.sort_values(["at", "interaction_id"])
    at = bad.groupby("customer_id")["at"].nth(nth - 1)
    at = pd.Series(at.to_numpy(), index=bad.loc[at.index, "customer_id"])
    at = at[at + pd.Timedelta(days=90) <= pd.Timestamp(truth["as_of"])]
    end = at + pd.Timedelta(days=90)
    factual = pd.read_parquet(path / "customers.parquet").set_index("customer_id").loc[at.index, "churned_at"]
    counter = pd.read_parquet(null / "customers.parquet").set_index("customer_id").loc[at.index, "churned_at"]
    return float((factual <= end).mean() - (counter <= end).mean())


def test_comparable_customers_are_matched_on_engagement(confounded_world):
    """Without the engagement band the customers without a bad experience are the less active ones, who
    churn more in this world: the reference is too high and the excess churn of a bad experience too small.
    Matched on the experience rate, the reference comes down and the excess moves towards the truth."""
    data, truth, path, null = confounded_world
    matched = claims.reference_churn(data)
    unmatched = claims.reference_churn(data, engagement=False)
    assert "engagement" in matched and "engagement" not in unmatched
    assert matched["churned"].sum() == unmatched["churned"].sum()  # the same customer-days, split further
    for nth, gap in ((1, 0.002), (2, 0.01)):
        q = claims.churn_after_nth_bad(data, nth)
        q_plain = claims.churn_after_nth_bad(data, nth, engagement=False)
        share = q["churned"].sum() / q["customers"].sum()
        base, _, coverage = claims.standardised(q, matched)
        base_plain, _, _ = claims.standardised(q_plain, unmatched)
        assert coverage > 0.98
        assert base < base_plain - gap, (nth, base, base_plain)
        excess = _true_excess(path, null, truth, nth)
        assert abs((share - base) - excess) < abs((share - base_plain) - excess), (nth, share, base, base_plain, excess)
