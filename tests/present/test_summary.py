"""The executive summary: headline numbers agree with the metrics, the cost of a bad experience
agrees with the model, the recommendation follows the evidence, and text from data is escaped."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.analyses import churn_cost, claims
from cxlib.features import metrics
from cxlib.present import summary
from cxlib.models.churn import ChurnModel
from cxlib.exceptions import ThinEvidenceWarning

INTERVAL = re.compile(r"^\d+\.\d% \(\d+\.\d–\d+\.\d%\)$")


@pytest.fixture(scope="module")
def world(small_world):
    with cxlib.load(small_world) as data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ThinEvidenceWarning)
            model = ChurnModel().fit(data)
            results = claims.evaluate(data, model=model)
        yield data, model, results


def test_headline_is_formatted_and_agrees_with_the_metrics(world):
    data, _, _ = world
    table = summary.headline(data)
    values = table["value (95% interval)"]
    assert values["customers"] == "2,000"
    shares = values.drop(["customers", "NPS (points, −100 to 100)"])
    assert all(INTERVAL.match(v) for v in shares), shares.to_dict()
    overview = metrics.overview(data)["value"]
    assert values["churned so far"].startswith(f"{overview['churned so far (%)']:.1f}%")
    assert values["bad-experience rate"].startswith(f"{overview['bad-experience rate (%)']:.1f}%")
    causes = metrics.contact_causes(data).set_index("cause")
    assert values["service contacts caused by a bad experience"].startswith(
        f"{100 * causes.loc[metrics.CAUSE_AFTER_BAD, 'share']:.1f}%"
    )
    assert re.match(r"^-?\d+ \(-?\d+–-?\d+\)$", values["NPS (points, −100 to 100)"])


def test_cost_of_a_bad_experience_is_the_models_prediction(world):
    _, model, _ = world
    cost = churn_cost.cost_of_bad_experience(model, horizon_days=90)
    assert list(cost.index) == list(churn_cost.SCENARIOS)
    covariates = pd.DataFrame({"unresolved": [0, 0, 1], "resolved": [0, 1, 0]})
    survival = model.predict_survival(covariates, [90]).iloc[0].to_numpy()
    np.testing.assert_allclose(cost["churn"].to_numpy(), 1 - survival, rtol=1e-9)
    hr = model.hazard_ratios_
    np.testing.assert_allclose(cost["hazard_ratio"].to_numpy(), [1, hr["resolved"], hr["unresolved"]], rtol=1e-9)
    assert (cost["churn_low"] <= cost["churn"]).all() and (cost["churn"] <= cost["churn_high"]).all()
    assert cost.loc["no bad experience", "extra_churn"] == 0
    lo, hi = model.confidence_intervals_.loc["unresolved"]
    assert cost.loc["one unresolved bad experience", "hr_low"] == pytest.approx(lo, rel=0.05)
    assert cost.loc["one unresolved bad experience", "hr_high"] == pytest.approx(hi, rel=0.05)


def test_a_bad_experience_counts_only_within_the_window(world):
    _, model, _ = world
    short = churn_cost.cost_of_bad_experience(model, horizon_days=model.window_days)
    long = churn_cost.cost_of_bad_experience(model, horizon_days=3 * model.window_days)
    # beyond the window the extra hazard stops, so the extra churn barely grows
    assert long["extra_churn"].iloc[2] < 1.5 * short["extra_churn"].iloc[2]
    with pytest.raises(ValueError, match="horizon_days"):
        churn_cost.cost_of_bad_experience(model, horizon_days=0)


def test_cost_table_reads_like_a_report(world):
    _, model, _ = world
    table = summary.cost_table(churn_cost.cost_of_bad_experience(model))
    assert table.columns.name == "a typical customer with" and table.index.name is None
    assert table.iloc[0, 2] == "1 (reference)"
    assert all(INTERVAL.match(v) for v in table.iloc[:, 0])
    assert re.match(r"^[+−]\d+ \([+−]\d+ to [+−]\d+\)$", table.iloc[2, 1])


def fake_cost(hr_resolved, hr_unresolved, contrast, *, segment="consumer"):
    """A cost frame with chosen hazard ratios and (ratio, low, high) of resolved/unresolved."""
    rows = []
    for name, (hr, lo, hi) in zip(churn_cost.SCENARIOS, [(1, 1, 1), hr_resolved, hr_unresolved]):
        churn = 0.05 * hr
        rows.append({"scenario": name, "hazard_ratio": hr, "hr_low": lo, "hr_high": hi, "churn": churn,
                     "churn_low": churn * 0.9, "churn_high": churn * 1.1, "extra_churn": churn - 0.05,
                     "extra_low": 0.0, "extra_high": 0.0})
    frame = pd.DataFrame(rows).set_index("scenario")
    frame["horizon_days"] = 90
    ratio, low, high = contrast
    frame.attrs.update(segment=segment, tenure_band="90–364 days", window_days=90,
                       contrast={"ratio": ratio, "ci_low": low, "ci_high": high})
    return frame


@pytest.mark.parametrize(
    "resolved, unresolved, contrast, expected",
    [
        ((1.1, 1.02, 1.2), (1.3, 1.25, 1.4), (0.83, 0.75, 0.93), "removes about 67% of its churn cost"),
        ((1.0, 0.9, 1.1), (1.3, 1.25, 1.4), (0.77, 0.7, 0.85), "Resolving a problem removes its churn cost"),
        ((1.3, 1.2, 1.4), (1.3, 1.25, 1.4), (1.0, 0.92, 1.08), "Resolution makes no detectable difference"),
        ((1.2, 1.0, 1.4), (1.2, 1.05, 1.38), (0.99, 0.78, 1.26), "this data cannot tell yet"),
        ((1.5, 1.4, 1.6), (1.2, 1.1, 1.3), (1.25, 1.1, 1.4), "Resolved problems go with more churn"),
        ((1.0, 0.9, 1.1), (1.05, 0.95, 1.15), (0.95, 0.85, 1.05), "no detectable churn cost"),
        ((0.8, 0.7, 0.9), (0.8, 0.7, 0.9), (1.0, 0.9, 1.1), "leave *less* often"),
    ],
)
def test_recommendation_follows_the_evidence(resolved, unresolved, contrast, expected):
    text = summary.recommendation(fake_cost(resolved, unresolved, contrast)).data
    assert expected in text
    assert "Out of 1,000 customers" in text and "leave within 90 days" in text


def test_recommendation_escapes_text_from_data():
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    hostile = "<script>alert(1)</script>"
    text = summary.recommendation(fake_cost((1.1, 1.0, 1.2), (1.3, 1.2, 1.4), (0.8, 0.7, 0.9), segment=hostile)).data
    rendered = markdown2html_mistune(text)
    assert "<script" not in rendered.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered, "the reader sees the name"


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "*a* [b](c) `d`", "a|b", "it's &quot;& #1"])
def test_escape_markdown_renders_as_the_same_text(text):
    import html

    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(summary.escape_markdown(text))
    assert "<script" not in rendered and "<img" not in rendered and "<em>" not in rendered and "<a " not in rendered
    assert html.unescape(re.sub(r"</?p>", "", rendered)).strip() == text


def test_claims_verdicts_lists_every_claim_testable_first(world):
    _, _, results = world
    table = summary.claims_verdicts(results)
    assert len(table) == len(claims.REGISTRY)
    verdicts = list(table["verdict"])
    assert set(verdicts) <= {claims.SUPPORTED, claims.CONTRADICTED, claims.INCONCLUSIVE, claims.NOT_TESTABLE}
    tested = [v != claims.NOT_TESTABLE for v in verdicts]
    assert tested == sorted(tested, reverse=True), "testable claims come first"
    several = table.loc[table.index.str.startswith("Most customers will abandon"), "counted from"]
    assert sorted(several) == ["second bad experience", "third bad experience"], "a statement tested twice says how"
    overview = summary.claims_overview(results).data
    assert f"Of the {sum(tested)} published claims" in overview


def test_methods_and_caveats_carry_the_runs_parameters():
    sections = dict(summary.methods_and_caveats({"window_days": 60, "horizon_days": 120, "as_of": "2025-06-30",
                                                 "data": "/x"}))
    assert {"Definitions", "Intervals", "The churn model", "The claims", "Caveats"} <= set(sections)
    assert "last 60 days" in sections["The churn model"] and "120 days" in sections["The claims"]
    assert "(2025-06-30)" in sections["Definitions"]
    assert "(the latest timestamp in the data)" in dict(summary.methods_and_caveats({"as_of": ""}))["Definitions"]


def test_roi_section_sets_service_and_experience_side_by_side_and_escapes_names(world):
    from cxlib.analyses import roi
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    data, model, _ = world
    hostile = "<script>alert(1)</script>"
    spec = {
        "currency": "EUR",
        "scenarios": [
            {"name": "Resolve more", "kind": "service", "change": {"resolution_rate": 0.9}, "yearly_cost": 1000},
            {"name": hostile, "kind": "experience", "change": {"touchpoint": "all", "bad_rate_cut": 0.3},
             "yearly_cost": 1000},
        ],
    }
    result = roi.evaluate(data, spec, model=model, draws=20, process_draws=5, seed=1)
    table = summary.roi_section(result)
    assert list(table.index) == ["Resolve more", hostile]
    assert set(table["kind"]) == {"service", "experience"}
    assert table.columns.name == "scenario" and any(c.startswith("net benefit over 12 months") for c in table.columns)
    assert hostile not in table.to_html() and "&lt;script&gt;" in table.to_html()
    rendered = markdown2html_mistune(summary.roi_recommendation(result).data)
    assert "<script" not in rendered.lower()
