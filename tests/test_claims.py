"""Claims: the registry, the verdict rule, and the estimates against an independent computation."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib import claims
from cxlib.churn import ChurnModel
from cxlib.exceptions import ThinEvidenceWarning
from tests._sim_fixtures import RECOVERY_SEEDS, recovery_worlds, tiny_world  # noqa: F401  (session fixtures)

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
    assert frame["reason"].str.len().gt(20).all() and frame["reason"].str.endswith(".").all()
    testable = frame[frame["verdict"] != claims.NOT_TESTABLE]
    assert (testable["ci_low"] <= testable["estimate"]).all() and (testable["estimate"] <= testable["ci_high"]).all()
    # the simulated world's churn after a bad experience is ~11%, far from 1 in 3
    assert frame.loc["leave_after_one_bad", "verdict"] == claims.CONTRADICTED
    assert frame.loc["stop_after_three_poor_service", "verdict"] == claims.CONTRADICTED
    table = claims.claims_table(frame)
    assert list(table["claim"]) == list(frame.index)


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
        with pytest.warns(ThinEvidenceWarning):
            frame = claims.evaluate(data, max_width=0.05)
    # 400 customers: the shares' intervals are wider than 5 points; the claimed values are far off,
    # so each is contradicted or inconclusive, never supported on such thin evidence
    shares = frame[frame["scale"] == "share"]
    assert not (shares["verdict"] == claims.SUPPORTED).any()
    wide = shares[(shares["ci_high"] - shares["ci_low"]) > 0.05]
    inside = wide[(wide["ci_low"] <= wide["claimed"]) & (wide["claimed"] <= wide["ci_high"])]
    assert (inside["verdict"] == claims.INCONCLUSIVE).all()


def test_claimed_value_inside_a_wide_interval_is_inconclusive():
    frame = pd.DataFrame({"segment": ["x"], "tenure_band": ["0–89 days"], "customers": [10], "churned": [3]})
    from cxlib.metrics import wilson_interval

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
