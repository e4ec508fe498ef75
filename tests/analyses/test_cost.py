"""What one bad experience costs (cxlib.analyses.cost, cx cost): against the simulator's truth, and as a reader sees it."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cxlib
from cxlib.analyses import cost
from cxlib.analyses import roi
from cxlib.present import summary
from cxlib.models.churn import ChurnModel
from cxlib.run.cli import main as cx
from cxlib.data.simulate import SimulationConfig, write_dataset

N, SEED, DRAWS = 12_000, 21, 40
#: Touchpoint-specific effects: a bad delivery costs far more than a bad website visit.
HR_BY_TOUCHPOINT = {"delivery": {"unresolved": 1.8, "resolved": 1.2}, "website": {"unresolved": 1.1, "resolved": 1.0}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("cost_world")
    truth = write_dataset(path, N, seed=SEED, fmt="parquet", config=SimulationConfig(hr_by_touchpoint=HR_BY_TOUCHPOINT))
    data = cxlib.load(path, as_of=truth["as_of"])
    model = ChurnModel(by_touchpoint=True, engagement=False).fit(data)
    prepared = roi.prepare(data, model=model, draws=DRAWS, seed=2)
    yield data, truth, prepared, cost.evaluate(data, prepared=prepared)
    data.close()


def test_cost_of_an_unresolved_bad_experience_matches_the_truth(world):
    _, truth, prepared, result = world
    estimate = result.table.set_index("touchpoint")
    true = cost.truth(prepared, truth).table.set_index("touchpoint")
    assert list(estimate.index) == list(true.index) == prepared.measured.touchpoints
    report = "\n".join(f"{t}: estimate {r.unresolved:.2f} ({r.unresolved_low:.2f}–{r.unresolved_high:.2f}), "
                       f"truth {true.loc[t, 'unresolved']:.2f}" for t, r in estimate.iterrows())
    for t, row in estimate.iterrows():
        assert row.unresolved_low <= true.loc[t, "unresolved"] <= row.unresolved_high, report
        assert row.unresolved_low <= row.unresolved <= row.unresolved_high
        assert true.loc[t, "unresolved"] > true.loc[t, "resolved"] >= 0, "the simulator's resolved one costs less"
    assert true.loc["delivery", "unresolved"] > 3 * true.loc["website", "unresolved"], "the touchpoints differ"
    assert estimate.loc["delivery", "unresolved_low"] > estimate.loc["website", "unresolved_high"]
    print(report)


def test_cost_is_the_engines_drop_in_expected_revenue(world):
    """One unresolved bad experience for every customer equals the engine's run with every hazard multiplied."""
    _, _, prepared, result = world
    row = result.table.iloc[0]
    e = prepared.engine
    hr = float(np.exp(prepared.betas[0, prepared.cols.index(row.coefficient_unresolved)]))
    m = np.where((np.arange(e.Wk) >= 1) & (np.arange(e.Wk) <= e.W), hr, 1.0)[None, :]
    inp = prepared.inputs(0, *prepared.base_rates(0))
    v0, _ = e.run(inp)
    v1, _ = e.run_multiplied(inp, m)
    assert row.unresolved == pytest.approx((v0 - v1[0]) / e.n_customers, rel=1e-12)
    ones, _ = e.run_multiplied(inp, np.ones((1, e.Wk)))
    assert ones[0] == pytest.approx(v0, rel=1e-9), "a multiplier of 1 changes nothing"
    assert (result.table["resolving"] == result.table["unresolved"] - result.table["resolved"]).all()
    assert result.settings["per_touchpoint"] and row.coefficient_unresolved == f"unresolved[{row.touchpoint}]"


def test_the_summary_says_it_in_money(world):
    _, _, prepared, result = world
    sentence = summary.cost_sentence(result)
    assert sentence.startswith("**One bad experience") and "EUR " in sentence and "resolving one is worth" in sentence
    table = summary.cost_money_table(result)
    assert list(table.index) == prepared.measured.touchpoints and table.columns.name == "one more bad experience at"
    assert all(v.startswith("EUR ") and " to " in v for v in table.iloc[:, 0])


def test_cx_cost_prints_json_and_text(small_world, capsys):
    path = small_world
    # 40 draws: the interval must hold the point estimate, which 5 draws' extremes need not (the drawn
    # baselines of thin engagement bands lean above the point: lognormal)
    assert cx(["cost", str(path), "--draws", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["touchpoint"] for r in out["touchpoints"]} >= {"delivery", "website"}
    assert all(r["unresolved_low"] <= r["unresolved"] <= r["unresolved_high"] for r in out["touchpoints"])
    assert cx(["cost", str(path), "--draws", "5"]) == 0
    assert "resolving one is worth" in capsys.readouterr().out
    assert cx(["cost", str(path / "nope")]) == 2
