"""cxlib.present.roi: the ROI's words, on results built by hand so each branch of the recommendation is met."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.analyses import roi
from cxlib.analyses.roi_scenarios import Scenario
from cxlib.present import roi as roi_text


def _fake(net, p_beats, p_pos, cost=100.0):
    names = [f"s{i}" for i in range(len(net))]
    table = pd.DataFrame({
        "scenario": names, "kind": ["service", "experience"][: len(net)], "what": "", "yearly_cost": cost, "cost": cost,
        "estimable": True, "retained_revenue": np.add(net, cost), "net_benefit": net,
        "net_benefit_low": np.subtract(net, 50), "net_benefit_high": np.add(net, 50), "break_even_cost": np.add(net, cost),
        "p_positive": p_pos, "p_best": 0.5, "note": "",
    })
    beats = pd.DataFrame([[np.nan, p_beats], [1 - p_beats, np.nan]], index=names, columns=names)
    return roi.ROIResult([], table, pd.DataFrame(), beats, {}, pd.DataFrame(),
                         {"alpha": 0.05, "currency": "EUR", "horizon_months": 12.0})


def test_recommendation_says_when_the_evidence_does_not_separate():
    assert "does not separate" in roi_text.recommendation(_fake([200.0, 150.0], 0.7, [0.99, 0.98]))
    clear = roi_text.recommendation(_fake([200.0, 50.0], 0.99, [0.99, 0.8]))
    assert clear.startswith("s0 (service) is the better investment") and "99%" in clear
    assert "None of the investments pays" in roi_text.recommendation(_fake([-200.0, -300.0], 0.99, [0.0, 0.0]))
    assert "not settled" in roi_text.recommendation(_fake([20.0, -300.0], 0.99, [0.6, 0.0]))


def test_describe_and_signed_percentages():
    assert roi_text.describe(Scenario("a", "service", {"resolution_rate": 0.9, "contact_share": 0.75})) == \
        "resolution rate → 90%, contact share → 75%"
    assert roi_text.describe(Scenario("b", "experience", {"touchpoint": "all", "bad_rate_cut": 0.5})) == \
        "bad rate of every touchpoint −50%"
    assert roi_text.signed_pct(-0.004) == "0%" and roi_text.signed_pct(-0.12) == "−12%"
    assert roi_text.signed_pct(1.5) == "150%"
