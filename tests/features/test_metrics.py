"""Service, experience, consistency and journey metrics: hand-computed values on a tiny table,
edge cases of CSAT and NPS, and the simulator's truth on a generated world."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxlib
from cxlib.features import metrics

CUSTOMERS = """customer_id,signup_at,churned_at,segment,monthly_value
c1,2024-01-01T00:00:00Z,,a,10
c2,2024-01-01T00:00:00Z,2024-03-01T00:00:00Z,a,10
c3,2024-02-01T00:00:00Z,,b,10
"""

# c1: two good website visits (NPS 10, 9), a bad billing (web) with a same-day phone contact
#     stamped earlier that resolves it, a bad delivery (app) with a chat contact 5 days later
#     (too late), a neutral app experience (NPS 0).
# c2: onboarding (NPS 7), neutral website (NPS 3), a routine phone question, a good app
#     experience (NPS 5), a phone contact about delivery with no bad delivery before it; churns.
# c3: onboarding, a bad billing by mail with an email contact 2 days later (not resolved),
#     a bad website visit without contact, a good billing by email.
INTERACTIONS = """interaction_id,customer_id,at,kind,channel,touchpoint,outcome,resolved,csat,nps,first_response_minutes,cost
i01,c1,2024-01-05T10:00:00Z,experience,web,website,good,,,10,,
i02,c1,2024-01-06T10:00:00Z,experience,web,website,good,,,9,,
i03,c1,2024-01-10T08:00:00Z,service,phone,billing,good,true,5,,1,5
i04,c1,2024-01-10T10:00:00Z,experience,web,billing,bad,,,,,
i05,c1,2024-01-15T10:00:00Z,experience,app,delivery,bad,,,,,
i06,c1,2024-01-20T10:00:00Z,service,chat,delivery,bad,false,3,,5,3
i07,c1,2024-02-10T10:00:00Z,experience,app,app,neutral,,,0,,
i08,c2,2024-01-01T12:00:00Z,experience,web,onboarding,good,,,7,,
i09,c2,2024-01-20T10:00:00Z,experience,web,website,neutral,,,3,,
i10,c2,2024-02-01T10:00:00Z,service,phone,how_to,good,true,4,,2,5
i11,c2,2024-02-03T10:00:00Z,experience,app,app,good,,,5,,
i12,c2,2024-02-05T10:00:00Z,service,phone,delivery,bad,false,2,,10,5
i13,c3,2024-02-01T06:00:00Z,experience,app,onboarding,good,,,,,
i14,c3,2024-02-10T10:00:00Z,experience,mail,billing,bad,,,,,
i15,c3,2024-02-12T10:00:00Z,service,email,billing,bad,false,,,600,2
i16,c3,2024-02-20T10:00:00Z,experience,web,website,bad,,,,,
i17,c3,2024-03-05T10:00:00Z,experience,email,billing,good,,,,,
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny")
    (path / "customers.csv").write_text(CUSTOMERS)
    (path / "interactions.csv").write_text(INTERACTIONS)
    data = cxlib.load(path, as_of="2024-04-01T00:00:00Z", strict=True)
    yield data
    data.close()


def row(frame, **keys):
    mask = np.ones(len(frame), dtype=bool)
    for k, v in keys.items():
        mask &= (frame[k] == v).to_numpy()
    assert mask.sum() == 1, f"expected one row for {keys}, got {mask.sum()}"
    return frame[mask].iloc[0]


def wilson(k, n, z=stats.norm.ppf(0.975)):
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


# ---------------------------------------------------------------------------------------
# CSAT


def test_csat_by_channel_counts_answers_4_and_5(tiny):
    frame = metrics.csat(tiny, by="channel", min_answers=2)
    phone = row(frame, channel="phone")
    assert (phone.answers, phone.satisfied) == (3, 2)
    assert phone.csat == pytest.approx(2 / 3)
    assert (phone.ci_low, phone.ci_high) == pytest.approx(wilson(2, 3))
    assert not phone.few_answers
    chat = row(frame, channel="chat")
    assert (chat.answers, chat.satisfied, chat.csat) == (1, 0, 0.0)
    assert chat.few_answers


def test_csat_without_answers_is_kept_missing_and_marked(tiny):
    email = row(metrics.csat(tiny, by="channel"), channel="email")
    assert email.answers == 0 and math.isnan(email.csat) and math.isnan(email.ci_low) and email.few_answers
    none = metrics.csat(tiny, by=None, kind="experience")  # nobody answered CSAT about an experience
    assert len(none) == 1 and none.answers.iloc[0] == 0 and none.csat.isna().all() and none.few_answers.all()


def test_csat_by_month_lists_months_without_answers(tiny):
    frame = metrics.csat(tiny, by="month", min_answers=1)
    assert frame["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-02", "2024-03"]
    assert frame["answers"].tolist() == [2, 2, 0]
    assert frame["csat"].iloc[:2].tolist() == [0.5, 0.5]
    assert frame["few_answers"].tolist() == [False, False, True]


def test_csat_overall_service(tiny):
    frame = metrics.csat(tiny, by=None)
    assert (frame.answers.iloc[0], frame.satisfied.iloc[0]) == (4, 2)


# ---------------------------------------------------------------------------------------
# NPS


def adjusted_wald(p_count, d_count, n, z=stats.norm.ppf(0.975)):
    n3 = n + 3
    p, d = (p_count + 0.75) / n3, (d_count + 0.75) / n3
    half = z * math.sqrt((p + d - (p - d) ** 2) / n3)
    return max(-100, 100 * (p - d - half)), min(100, 100 * (p - d + half))


def test_nps_is_promoters_minus_detractors_in_points(tiny):
    web = row(metrics.nps(tiny, by="channel"), channel="web")
    assert (web.answers, web.promoters, web.passives, web.detractors) == (4, 2, 1, 1)
    assert web.nps == pytest.approx(25.0)
    assert (web.ci_low, web.ci_high) == pytest.approx(adjusted_wald(2, 1, 4))


def test_nps_all_detractors_has_a_real_interval(tiny):
    app = row(metrics.nps(tiny, by="channel"), channel="app")
    assert (app.answers, app.detractors, app.nps) == (2, 2, -100.0)
    assert app.ci_low == -100.0 and app.ci_high == pytest.approx(24.41, abs=0.01)
    assert (app.ci_low, app.ci_high) == pytest.approx(adjusted_wald(0, 2, 2))
    assert app.few_answers


def test_nps_without_answers(tiny):
    frame = metrics.nps(tiny, by=None, kind="service")
    assert frame.answers.iloc[0] == 0 and frame.nps.isna().all() and frame.ci_low.isna().all()
    assert frame.few_answers.all()


def test_nps_interval_shrinks_with_answers():
    low_small, high_small = metrics.nps_interval([50], [20], [100])
    low_big, high_big = metrics.nps_interval([5000], [2000], [10000])
    assert low_small[0] < low_big[0] < 30 < high_big[0] < high_small[0]


# ---------------------------------------------------------------------------------------
# First response, resolution, contact rate


def test_first_response_median_and_p90(tiny):
    frame = metrics.first_response(tiny, by="channel")
    phone = row(frame, channel="phone")
    assert phone.contacts == 3
    assert phone.median_minutes == pytest.approx(2.0)
    assert phone.p90_minutes == pytest.approx(2 + 0.8 * 8)  # linear interpolation of 1, 2, 10
    assert row(frame, channel="email").median_minutes == pytest.approx(600)


def test_first_response_median_interval_by_order_statistics():
    """On 1..n the interval is [x_j, x_k] at ranks n/2 ∓ 1.96 √n / 2 (+1 above)."""
    import duckdb

    class Fake:
        con = duckdb.connect()

    Fake.con.execute(
        """CREATE TABLE interactions AS SELECT 'service' AS kind, 'phone' AS channel,
           TIMESTAMP '2024-01-01' AS "at", CAST(range + 1 AS DOUBLE) AS first_response_minutes FROM range(100)"""
    )
    frame = metrics.first_response(Fake, by="channel")
    assert frame.median_minutes.iloc[0] == pytest.approx(50.5)
    assert frame.median_ci_low.iloc[0] == 40  # floor(50 - 9.8)
    assert frame.median_ci_high.iloc[0] == 61  # ceil(50 + 9.8) + 1


def test_resolution_rate_all_and_problem_contacts(tiny):
    all_ = metrics.resolution_rate(tiny, by="channel")
    phone = row(all_, channel="phone")
    assert (phone.contacts, phone.resolved) == (3, 2)
    assert phone.resolution_rate == pytest.approx(2 / 3)
    assert (phone.ci_low, phone.ci_high) == pytest.approx(wilson(2, 3))
    problem = row(metrics.resolution_rate(tiny, by="channel", contacts="problem"), channel="phone")
    assert (problem.contacts, problem.resolved) == (2, 1)
    routine = metrics.resolution_rate(tiny, by=None, contacts="routine")
    assert (routine.contacts.iloc[0], routine.resolved.iloc[0]) == (1, 1)
    with pytest.raises(ValueError):
        metrics.resolution_rate(tiny, contacts="some")


def test_contact_rate_per_100_customer_months(tiny):
    overall = metrics.contact_rate(tiny, by=None)
    # exposure: c1 Jan-Mar (3), c2 Jan-Feb (2, churned on 1 March), c3 Feb-Mar (2)
    assert overall.customer_months.iloc[0] == pytest.approx(7.0)
    assert overall.contacts.iloc[0] == 5
    assert overall.contacts_per_100.iloc[0] == pytest.approx(500 / 7)
    low, high = stats.chi2.ppf(0.025, 10) / 2, stats.chi2.ppf(0.975, 12) / 2
    assert (overall.ci_low.iloc[0], overall.ci_high.iloc[0]) == pytest.approx((100 * low / 7, 100 * high / 7))
    monthly = metrics.contact_rate(tiny, by="month")
    assert monthly["customer_months"].tolist() == pytest.approx([2.0, 3.0, 2.0])
    assert monthly["contacts"].tolist() == [2, 3, 0]
    assert monthly["contacts_per_100"].tolist() == pytest.approx([100.0, 100.0, 0.0])
    by_channel = metrics.contact_rate(tiny, by="channel")
    assert row(by_channel, channel="phone").contacts_per_100 == pytest.approx(300 / 7)


def test_service_metrics_is_long_and_complete(tiny):
    frame = metrics.service_metrics(tiny, by="channel", min_answers=2)
    assert set(frame["metric"]) == set(metrics.SERVICE_METRICS)
    assert {"metric", "value", "ci_low", "ci_high", "n", "unit", "few_answers"} <= set(frame.columns)
    assert row(frame, channel="phone", metric="CSAT").value == pytest.approx(200 / 3)
    assert row(frame, channel="web", metric="NPS").value == pytest.approx(25.0)


# ---------------------------------------------------------------------------------------
# Experience


def test_bad_rate_and_outcome_mix(tiny):
    rates = metrics.bad_rate(tiny, by="touchpoint")
    billing = row(rates, touchpoint="billing")
    assert (billing.experiences, billing.bad) == (3, 2)
    cross = metrics.bad_rate(tiny, by=("touchpoint", "channel"))
    assert row(cross, touchpoint="billing", channel="mail").bad_rate == 1.0
    mix = metrics.outcome_mix(tiny, by="touchpoint")
    website = mix[mix.touchpoint == "website"].set_index("outcome")
    assert website["experiences"].to_dict() == {"good": 2, "neutral": 1, "bad": 1}
    assert (website["total"] == 4).all()
    app = mix[mix.touchpoint == "app"].set_index("outcome")
    assert app.loc["bad", "experiences"] == 0 and app.loc["bad", "share"] == 0  # listed with zero


# ---------------------------------------------------------------------------------------
# Where service meets experience


def test_contact_causes(tiny):
    frame = metrics.contact_causes(tiny).set_index("cause")
    assert frame["contacts"].to_dict() == {
        metrics.CAUSE_AFTER_BAD: 2,  # same-day billing (stamped earlier), billing 2 days later
        metrics.CAUSE_OTHER: 2,  # the late delivery contact, the delivery contact without a bad delivery
        metrics.CAUSE_ROUTINE: 1,
    }
    assert frame.loc[metrics.CAUSE_AFTER_BAD, "share"] == pytest.approx(0.4)
    assert metrics.contact_causes(tiny, resolution_days=4).set_index("cause").loc[metrics.CAUSE_AFTER_BAD, "contacts"] == 2
    wider = metrics.contact_causes(tiny, resolution_days=5).set_index("cause")
    assert wider.loc[metrics.CAUSE_AFTER_BAD, "contacts"] == 3  # the contact 5 days later now counts


def test_bad_experience_follow_up(tiny):
    frame = metrics.bad_experience_follow_up(tiny, by="touchpoint")
    total = frame[frame.touchpoint == "all"].set_index("stage")
    assert total.loc["contacted service", ["count", "base"]].tolist() == [2, 4]
    assert total.loc["resolved, of those who contacted", ["count", "base"]].tolist() == [1, 2]
    assert total.loc["resolved, of all bad experiences", ["count", "base"]].tolist() == [1, 4]
    billing = frame[frame.touchpoint == "billing"].set_index("stage")
    assert billing.loc["contacted service", "share"] == 1.0
    assert billing.loc["resolved, of those who contacted", "share"] == 0.5
    delivery = frame[frame.touchpoint == "delivery"].set_index("stage")
    assert delivery.loc["contacted service", "count"] == 0
    assert frame["touchpoint"].iloc[-1] == "all"


# ---------------------------------------------------------------------------------------
# Consistency


def test_homogeneity_matches_scipy():
    bad, n = np.array([40, 90, 45]), np.array([800, 900, 1000])
    chi2, dof, p, resid = metrics.experience._homogeneity(bad, n)
    expected = stats.chi2_contingency(np.vstack([bad, n - bad]).T, correction=False)
    assert chi2 == pytest.approx(expected[0]) and p == pytest.approx(expected[1]) and dof == expected[2]
    assert np.argmax(np.abs(resid)) == 1
    from statsmodels.stats.contingency_tables import Table

    adjusted = Table(np.vstack([bad, n - bad]).T.astype(float)).standardized_resids  # Haberman's residuals
    assert resid == pytest.approx(np.asarray(adjusted)[:, 0])


def test_channel_consistency_below_min_experiences_is_not_tested(tiny):
    frame = metrics.channel_consistency(tiny)
    assert not frame["tested"].any() and not frame["flagged"].any()


# ---------------------------------------------------------------------------------------
# Journeys


def test_journey_transitions(tiny):
    frame = metrics.journey_transitions(tiny)
    assert frame["transitions"].sum() == 17 + 3  # every row has a successor, plus one start per customer
    website = row(frame, from_step="website", to_step="service contact")
    assert (website.transitions, website.from_total, website.share) == (2, 4, 0.5)
    assert row(frame, from_step="service contact", to_step="app").share == pytest.approx(0.4)
    assert row(frame, from_step="service contact", to_step="churned").transitions == 1
    assert row(frame, from_step="signup", to_step="onboarding").transitions == 2
    matrix = metrics.transition_matrix(frame)
    assert matrix.index[0] == "signup" and list(matrix.columns[-2:]) == ["churned", "still a customer"]
    assert np.allclose(matrix.sum(axis=1), 1.0)
    only_experiences = metrics.journey_transitions(tiny, include_service=False)
    assert "service contact" not in set(only_experiences["from_step"])


def test_churn_paths(tiny):
    frame = metrics.churn_paths(tiny, steps=2, top=5)
    assert set(frame["group"]) == {"churned", "retained"}
    top = frame[frame["rank"] == 1].set_index("group")
    assert top.loc["churned", "path"] == "app → service contact"
    assert top.loc["churned", ["customers", "group_total", "share"]].tolist() == [1, 1, 1.0]
    assert top.loc["retained", ["customers", "group_total"]].tolist() == [0, 2]
    long = metrics.churn_paths(tiny, steps=10, mark_bad=False)
    assert long["path"].iloc[0] == "signup → onboarding → website → service contact → app → service contact"


# ---------------------------------------------------------------------------------------
# The simulator's truth


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from cxlib.data.simulate import write_dataset

    path = tmp_path_factory.mktemp("metrics_world")
    write_dataset(path, 4_000, seed=11, fmt="parquet")
    truth = json.loads((path / "truth.json").read_text())
    data = cxlib.load(path)
    yield data, truth
    data.close()


def _within(frame, rate, successes, n, truth: dict, key: str, family: int):
    """True values inside the intervals, Bonferroni-widened over the ``family`` checked at once."""
    low, high = metrics.wilson_interval(frame[successes], frame[n], alpha=0.05 / family)
    for value, lo, hi, est in zip(frame[key], low, high, frame[rate]):
        assert lo <= truth[value] <= hi, f"{key}={value}: true {truth[value]:.4f} outside [{lo:.4f}, {hi:.4f}] ({est:.4f})"


def test_bad_rate_by_touchpoint_recovers_truth(world):
    data, truth = world
    rates = metrics.bad_rate(data, by="touchpoint")
    true = truth["bad_rate_by_touchpoint"]
    assert set(rates["touchpoint"]) == set(true)
    # the 95% interval holds most; Bonferroni over the six touchpoints holds every one
    inside = [(lo <= true[t] <= hi) for t, lo, hi in zip(rates.touchpoint, rates.ci_low, rates.ci_high)]
    assert sum(inside) >= len(inside) - 1
    _within(rates, "bad_rate", "bad", "experiences", true, "touchpoint", len(true))


def test_resolution_rate_by_channel_recovers_truth(world):
    data, truth = world
    problem = metrics.resolution_rate(data, by="channel", contacts="problem")
    _within(problem, "resolution_rate", "resolved", "contacts", truth["p_resolve_by_channel"], "channel", 4)
    routine = metrics.resolution_rate(data, by=None, contacts="routine").assign(k="routine")
    _within(routine, "resolution_rate", "resolved", "contacts", {"routine": truth["routine"]["p_resolve"]}, "k", 4)


def test_follow_up_matches_contact_probability(world):
    data, truth = world
    frame = metrics.bad_experience_follow_up(data, by=None).set_index("stage")
    contacted = frame.loc["contacted service"]
    expected = truth["p_contact"] * truth["p_contact_within_resolution_days"]
    # a bad experience can also be "contacted" by a contact caused by another one: a little above
    assert contacted["ci_low"] - 0.02 <= expected <= contacted["ci_high"]
    resolved = frame.loc["resolved, of those who contacted"]
    assert resolved["ci_low"] - 0.02 <= truth["p_resolve_expected"] <= resolved["ci_high"] + 0.02


def test_contact_causes_share_after_bad(world):
    data, truth = world
    causes = metrics.contact_causes(data).set_index("cause")
    realised = truth["realised"]
    routine_share = realised["service_routine"] / (realised["service_routine"] + realised["service_after_bad"])
    assert causes.loc[metrics.CAUSE_ROUTINE, "share"] == pytest.approx(routine_share)
    # after a bad experience within the window: the on-time part of the contacts after bad experiences
    after_bad = causes.loc[metrics.CAUSE_AFTER_BAD, "contacts"] / realised["service_after_bad"]
    assert after_bad == pytest.approx(truth["p_contact_within_resolution_days"], abs=0.03)


def test_channel_consistency_flags_billing_mail_only(world):
    data, truth = world
    frame = metrics.channel_consistency(data)
    flagged = frame[frame["flagged"]]
    assert list(zip(flagged.touchpoint, flagged.channel)) == [("billing", "mail")]
    billing = frame[frame.touchpoint == "billing"].set_index("channel")
    assert billing["p_adjusted"].iloc[0] < 0.001
    assert billing.loc["email", "reference_rate"] == pytest.approx(
        billing.loc[["email", "web"], "bad"].sum() / billing.loc[["email", "web"], "experiences"].sum()
    )
    for channel, rate in truth["bad_rate_by_touchpoint_channel"]["billing"].items():
        lo, hi = metrics.wilson_interval(billing.loc[channel, "bad"], billing.loc[channel, "experiences"], alpha=0.01)
        assert lo <= rate <= hi
    # touchpoints whose channels share a rate are not flagged
    assert not frame[frame.touchpoint.isin(["delivery", "onboarding"])]["flagged"].any()


def test_service_metrics_by_month_on_world(world):
    data, _ = world
    frame = metrics.service_metrics(data, by="month", min_answers=30)
    months = frame[frame.metric == "CSAT"]["month"]
    assert months.is_monotonic_increasing and months.nunique() == len(months)
    assert frame.groupby("metric").size().nunique() == 1  # every metric has every month
    assert frame[frame.metric == "CSAT"]["few_answers"].iloc[0]  # the first month is thin


def _pandas_journeys(data, *, mark_bad: bool):
    """Each known customer's steps in order, the pandas way: (customer_id, step) rows and the end states."""
    t = data.as_of
    customers = data.customers[data.customers["signup_at"] < t].copy()
    churned = customers["churned_at"].notna() & (customers["churned_at"] <= t)
    customers["end_at"] = customers["churned_at"].where(churned, t)
    customers["end_state"] = np.where(churned, metrics.END_CHURNED, metrics.END_ACTIVE)
    steps = data.interactions.merge(customers[["customer_id", "end_at"]], on="customer_id")
    steps = steps[steps["at"] <= steps["end_at"]].sort_values(["customer_id", "at", "interaction_id"])
    bad = mark_bad & (steps["outcome"] == "bad")
    steps["step"] = np.where(steps["kind"] == "service", metrics.SERVICE_STEP,
                             np.where(bad, steps["touchpoint"] + " (bad)", steps["touchpoint"]))
    return steps[["customer_id", "step"]], customers.set_index("customer_id")["end_state"]


def test_journeys_match_a_plain_pandas_count(world):
    """Transitions and paths on the simulated world against the same definitions in pandas."""
    data, _ = world
    steps, ends = _pandas_journeys(data, mark_bad=False)
    journeys = steps.groupby("customer_id")["step"].agg(list).reindex(ends.index)
    pairs = []
    for customer, path in journeys.items():
        path = [metrics.START] + (path if isinstance(path, list) else []) + [ends[customer]]
        pairs += list(zip(path[:-1], path[1:]))
    expected = pd.Series(pairs).value_counts()
    frame = metrics.journey_transitions(data).set_index(["from_step", "to_step"])["transitions"]
    assert frame.sort_index().to_dict() == {k: int(v) for k, v in expected.sort_index().items()}

    steps, ends = _pandas_journeys(data, mark_bad=True)
    assert steps["step"].str.endswith(" (bad)").any()
    last = steps.groupby("customer_id")["step"].agg(lambda s: list(s)[-3:]).reindex(ends.index)
    paths = pd.DataFrame({
        "path": [" → ".join(([metrics.START] if len(p) < 3 else []) + p) if isinstance(p, list) else metrics.START
                 for p in last],
        "end_state": ends.to_numpy(),
    }).value_counts()
    frame = metrics.churn_paths(data, steps=3, top=100)
    for row_ in frame.itertuples():
        state = metrics.END_CHURNED if row_.group == "churned" else metrics.END_ACTIVE
        assert row_.customers == paths.get((row_.path, state), 0), row_.path
    assert frame["path"].str.contains(r"\(bad\)").any()
