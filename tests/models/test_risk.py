"""The risk list: features at a day (features.risk), the time split and reasons (models.risk), the model
against its baselines (analyses.backtest), the reasons in words (present.risk)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.analyses import backtest
from cxlib.data.simulate import write_dataset
from cxlib.exceptions import NotFittedError
from cxlib.features import risk as features
from cxlib.models.churn import ChurnModel
from cxlib.models.risk import RiskModel
from cxlib.present import risk as words

WORLD_CUSTOMERS = 20_000
#: Extra RiskModel settings of the tests (none: the defaults).
FAST: dict = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """20,000 simulated customers (parquet), censored at the truth's as_of."""
    path = tmp_path_factory.mktemp("risk_world")
    truth = write_dataset(path, WORLD_CUSTOMERS, seed=31, fmt="parquet")
    data = cxlib.load(path, as_of=truth["as_of"])
    yield data, truth
    data.close()


@pytest.fixture(scope="module")
def checked(world):
    """The backtest at the default evaluation cutoff (as_of − 90 days)."""
    data, _ = world
    return backtest.backtest(data, estimator=RiskModel(**FAST), baseline=ChurnModel())


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("risk_small")
    truth = write_dataset(path, 2_000, seed=8, fmt="parquet")
    return path, truth


# ------------------------------------------------------------------ against the baselines


def test_model_ranks_at_least_as_well_as_the_survival_model(checked):
    m = checked.metrics.set_index("method")
    model, survival, recency = m.loc["model"], m.loc["survival model"], m.loc["most recent unresolved first"]
    # the simulator's truth is a hazard model: matching the survival model is the honest target
    assert model["roc_auc"] >= survival["roc_auc"] - 0.01
    assert model["roc_auc"] > recency["roc_auc"]
    assert model["average_precision"] > model["churners"] / model["customers"]
    # calibrated: Brier score as good as the survival model's, mean probability near the churn observed
    assert model["brier"] <= survival["brier"] + 0.001
    observed = model["churners"] / model["customers"]
    assert abs(model["mean_probability"] - observed) < 0.2 * observed
    assert model["top_10pct_capture"] > 0.10 and model["top_5pct_capture"] > 0.05
    assert np.isnan(recency["brier"])  # a ranking, not a probability


def test_calibration_bins_follow_the_diagonal(checked):
    cal = checked.calibration(bins=5)
    model = cal[cal["method"] == "model"]
    assert len(model) == 5 and model["customers"].sum() == len(checked.scores)
    # each bin's observed churn within its 95% interval, widened a little for 5 simultaneous bins
    half = (model["ci_high"] - model["ci_low"]) / 2
    assert ((model["predicted"] - model["observed"]).abs() <= 1.5 * half + 0.005).all()
    assert model["predicted"].is_monotonic_increasing


def test_a_model_trained_on_a_sample_stays_calibrated(world):
    """Every churner and a weighted stratified share of the others: probabilities at face value."""
    data, _ = world
    model = RiskModel(**{**FAST, "snapshots": 3, "max_train_rows": 8_000})
    e = features.day_at_risk(pd.Timestamp(data.as_of) - pd.Timedelta(days=model.horizon_days))
    model.fit(data, as_of=e)
    assert model.sample_fraction_ < 0.5 and model.n_train_ < model.n_rows_train_, "the rule sampled"
    churners_full = round(model.churn_rate_train_ * model.n_rows_train_)
    assert model.n_churners_train_ == churners_full, "every churner is kept"
    test = features.snapshot(data, as_of=e, horizon_days=model.horizon_days, touchpoints=model.touchpoints_,
                             **model.feature_settings())
    scores = pd.DataFrame({"churned": test["churned"].to_numpy(), "model": model.predict_risk(test).to_numpy()})
    observed = scores["churned"].mean()
    assert abs(scores["model"].mean() - observed) < 0.2 * observed, "the weights keep the churn rate"
    cal = backtest.calibration(scores, methods=("model",), bins=5)
    half = (cal["ci_high"] - cal["ci_low"]) / 2
    assert ((cal["predicted"] - cal["observed"]).abs() <= 1.5 * half + 0.005).all()


def test_the_training_sample_keeps_each_stratum_share_and_weight():
    n = 10_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"churned": rng.random(n) < 0.05, "snapshot": rng.integers(0, 4, n),
                          "segment": rng.choice(["a", "b", "c"], n)})
    model = RiskModel(max_train_rows=2_000, negatives_per_churner=4)
    rows, weights = model.training_sample(frame)
    kept = frame.iloc[rows].assign(w=weights)
    assert kept["churned"].sum() == frame["churned"].sum() and (kept.loc[kept["churned"], "w"] == 1).all()
    # the weighted sample counts as many non-churners as the frame, in every stratum
    full = frame[~frame["churned"]].groupby(["snapshot", "segment"]).size()
    weighted = kept[~kept["churned"]].groupby(["snapshot", "segment"])["w"].sum()
    assert np.allclose(weighted.reindex(full.index), full)
    assert len(rows) < n and np.array_equal(rows, np.sort(rows))
    assert len(model.training_sample(frame.head(1_000))[0]) == 1_000, "small frames are not sampled"


# ------------------------------------------------------------------ the time split


def test_training_labels_end_at_or_before_the_evaluation_cutoff(checked):
    model = checked.model
    e = checked.as_of
    assert model.as_of_ == e
    assert len(model.training_cutoffs_) == model.snapshots
    for start, end in model.label_windows_:
        assert end - start == pd.Timedelta(days=model.horizon_days)
        assert end <= e  # no training label comes from the evaluation period
    assert checked.baseline.as_of_ == e  # the survival baseline saw only person-time before e
    assert checked.features.attrs["as_of"] == e


def _truncated_copy(data, cutoff, path):
    """The data as it looked at ``cutoff``: later signups and rows gone, later churn not yet known."""
    c = pd.Timestamp(cutoff)
    customers = data.customers[data.customers["signup_at"] < c].copy()
    customers.loc[customers["churned_at"] > c, "churned_at"] = pd.NaT
    interactions = data.interactions[data.interactions["at"] < c]
    path.mkdir()
    customers.to_parquet(path / "customers.parquet", index=False)
    interactions.to_parquet(path / "interactions.parquet", index=False)
    return cxlib.load(path, as_of=c)


def test_rows_after_the_cutoff_change_neither_features_nor_the_fitted_model(small, tmp_path):
    path, truth = small
    cutoff = "2025-09-01"
    with cxlib.load(path, as_of=truth["as_of"]) as full, _truncated_copy(full, cutoff, tmp_path / "truncated") as past:
        assert full.con.execute(f"SELECT count(*) FROM interactions WHERE \"at\" >= TIMESTAMP '{cutoff}'").fetchall()[0][0] > 0
        tps = features.touchpoints_with_bad(full, as_of=cutoff)
        pd.testing.assert_frame_equal(
            features.features(full, as_of=cutoff, touchpoints=tps), features.features(past, as_of=cutoff, touchpoints=tps)
        )
        a = RiskModel(**FAST).fit(full, as_of=cutoff)
        b = RiskModel(**FAST).fit(past, as_of=cutoff)
        assert a.label_windows_ == b.label_windows_ and a.n_train_ == b.n_train_
        x = b.features(past, as_of=cutoff)
        np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))


def test_labels_come_from_the_horizon_after_the_cutoff_only(small):
    path, truth = small
    with cxlib.load(path, as_of=truth["as_of"]) as data:
        c, h = pd.Timestamp("2025-06-01"), 60
        got = features.labels(data, as_of=c, horizon_days=h).set_index("customer_id")["churned"]
        cust = data.customers.set_index("customer_id")
        active = cust[(cust["signup_at"] < c) & (cust["churned_at"].isna() | (cust["churned_at"] > c))]
        expected = (active["churned_at"] > c) & (active["churned_at"] <= c + pd.Timedelta(days=h))
        pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False)
        with pytest.raises(ValueError, match="not known"):
            features.labels(data, as_of=pd.Timestamp(truth["as_of"][:10]) - pd.Timedelta(days=30), horizon_days=h)


# ------------------------------------------------------------------ features by hand


def _write_hand_made(path):
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D"],
            "signup_at": ["2025-01-01T08:00:00Z", "2025-01-01T08:00:00Z", "2025-07-01T10:00:00Z", "2024-01-01T00:00:00Z"],
            "churned_at": ["", "2025-06-15T00:00:00Z", "", ""],
            "segment": ["consumer", "consumer", "smb", "smb"],
            "monthly_value": [30.0, 30.0, 100.0, 100.0],
        }
    )
    rows = [
        # id, customer, at, kind, channel, touchpoint, outcome, resolved, csat
        ("1", "A", "2025-03-01T12:00:00Z", "experience", "web", "website", "bad", "", ""),  # before the window
        ("2", "A", "2025-06-20T12:00:00Z", "experience", "app", "delivery", "bad", "", ""),
        ("3", "A", "2025-06-21T09:00:00Z", "service", "phone", "delivery", "good", "true", ""),  # resolves 2
        ("4", "A", "2025-06-29T12:00:00Z", "experience", "app", "app", "bad", "", ""),
        ("5", "A", "2025-06-30T09:00:00Z", "service", "chat", "app", "good", "true", ""),  # resolves 4
        ("6", "A", "2025-06-30T12:00:00Z", "experience", "email", "billing", "bad", "", ""),
        ("7", "A", "2025-07-01T09:00:00Z", "service", "chat", "billing", "good", "true", ""),  # on the cutoff day
        ("8", "A", "2025-05-01T12:00:00Z", "experience", "web", "website", "good", "", "4"),
        ("9", "A", "2025-06-25T12:00:00Z", "experience", "web", "website", "good", "", "2"),
        ("10", "A", "2025-07-02T12:00:00Z", "experience", "web", "website", "good", "", "5"),  # after
        ("11", "A", "2025-07-03T12:00:00Z", "experience", "app", "delivery", "bad", "", ""),  # after
    ]
    interactions = pd.DataFrame(
        rows, columns=["interaction_id", "customer_id", "at", "kind", "channel", "touchpoint", "outcome", "resolved", "csat"]
    )
    customers.to_csv(path / "customers.csv", index=False)
    interactions.to_csv(path / "interactions.csv", index=False)


def test_snapshots_of_several_days_in_one_query_equal_each_day_alone(small):
    path, truth = small
    with cxlib.load(path, as_of=truth["as_of"]) as data:
        days = RiskModel(snapshots=4).training_cutoffs(as_of=data.as_of)
        tps = features.touchpoints_with_bad(data, as_of=days[0])
        together = features.snapshots(data, days=days, touchpoints=tps)
        assert len(together) == len(days)
        for day, frame in zip(days, together):
            x = features.features(data, as_of=day, touchpoints=tps)
            alone = x.merge(features.labels(data, as_of=day), on="customer_id", how="left", validate="one_to_one")
            alone["churned"] = alone["churned"].fillna(False).astype(bool)
            pd.testing.assert_frame_equal(frame, alone)
            assert frame["churned"].any() and frame.attrs["as_of"] == day and frame.attrs["horizon_days"] == 90
        with pytest.raises(ValueError, match="is not known"):
            features.snapshots(data, days=[days[0], data.as_of], touchpoints=tps)


def test_features_of_a_hand_made_case(tmp_path):
    _write_hand_made(tmp_path)
    with cxlib.load(tmp_path, strict=True) as data:
        f = features.features(data, as_of="2025-07-01").set_index("customer_id")
    assert list(f.index) == ["A", "D"]  # B churned before, C signed up after the cutoff's midnight
    a, d = f.loc["A"], f.loc["D"]
    assert a["unresolved[billing]"] == 1  # its resolving contact is on the cutoff day: not known yet
    assert a["resolved[delivery]"] == 1 and a["resolved[app]"] == 1
    assert a["unresolved[website]"] == 0  # March is outside the 90-day window
    assert (a["unresolved"], a["resolved"], a["unresolved_recent"], a["resolved_recent"]) == (1, 2, 1, 2)
    assert a["days_since_unresolved"] == 1 and a["days_since_bad[delivery]"] == 11
    assert a["contacts"] == 2 and a["unresolved_contacts"] == 0
    assert a["last_csat"] == 2  # the answer of July 2nd is after the cutoff
    assert a["tenure_days"] == 181 and d["tenure_days"] == 547
    assert d["unresolved"] == 0 and d["days_since_bad"] == 91 and np.isnan(d["last_csat"])


# ------------------------------------------------------------------ ranking and reasons


def test_three_recent_unresolved_rank_above_none_other_things_equal(checked):
    model = checked.model
    template = checked.features.iloc[[0, 0]].reset_index(drop=True)
    template["customer_id"] = ["calm", "upset"]
    for tp in [*model.touchpoints_, features.OTHER_TOUCHPOINT]:
        for c in features.COUNT_COLUMNS:
            template[features.touchpoint_column(c, tp)] = 0
        for c in features.DAY_COLUMNS:
            template[features.touchpoint_column(c, tp)] = model.window_days + 1
    template[["tenure_days", "contacts", "unresolved_contacts"]] = [700, 0, 0]
    template.loc[1, ["unresolved[delivery]", "unresolved_recent[delivery]"]] = 3
    template.loc[1, ["days_since_bad[delivery]", "days_since_unresolved[delivery]"]] = 5
    frame = features.add_totals(template)
    p = model.predict_risk(frame)
    assert p[1] > p[0]
    explained = model.explain(frame)
    assert explained.loc[1, "reason_group"] == "bad experiences at delivery"
    assert explained.loc[1, ["reason_unresolved", "reason_unresolved_recent", "reason_resolved"]].tolist() == [3, 3, 0]
    reason = words.reason_text(explained, model)
    assert reason[1] == "3 unresolved delivery problems in the last 30 days"


def test_rank_lists_active_customers_most_at_risk_first(world, checked):
    data, _ = world
    ranked = words.risk_list(checked.model.rank(data, as_of=checked.as_of, top=25), checked.model)
    assert list(ranked.columns[:6]) == [
        "rank", "customer_id", "probability", "reason", "monthly_value", "monthly_value_at_risk"
    ]
    assert len(ranked) == 25 and ranked["probability"].is_monotonic_decreasing
    assert ranked["reason"].str.len().gt(0).all()
    np.testing.assert_allclose(ranked["monthly_value_at_risk"], ranked["probability"] * ranked["monthly_value"])
    assert set(ranked["customer_id"]) <= set(checked.scores["customer_id"])
    summary = words.reason_summary(ranked)
    assert summary["customers"].sum() == 25


def _reset_frame(model, frame, group):
    """``frame`` with ``group`` set to "none" or the reference, the way a reader states it: a new frame."""
    z = frame.copy()
    for c in model.feature_groups_[group]:
        if c.startswith(features.COUNT_COLUMNS) or c in features.CONTACT_COLUMNS:
            z[c] = 0
        elif c.startswith(features.DAY_COLUMNS):
            z[c] = model.window_days + 1
        elif c in features.ANSWER_COLUMNS:
            z[c] = np.nan  # no answer
        else:
            z[c] = model.reference_[c]
    return features.add_totals(z) if group.startswith(features.TOUCHPOINT_GROUP) else z


def test_contributions_and_importance_equal_scoring_every_changed_frame(checked):
    """The additive look-ups give what scoring each reset or shuffled frame anew gives."""
    from sklearn.metrics import roc_auc_score

    model = checked.model
    frame = checked.features.sample(3_000, random_state=1).reset_index(drop=True)
    p = model.predict_risk(frame)
    np.testing.assert_allclose(model._scorer(frame).probability(), p, rtol=0, atol=1e-12)
    contrib = model.contributions(frame)
    assert list(contrib.columns) == list(model.feature_groups_)
    for group in model.feature_groups_:
        direct = p - model.predict_risk(_reset_frame(model, frame, group))
        np.testing.assert_allclose(contrib[group], direct, rtol=0, atol=1e-10, err_msg=group)
    assert (contrib.abs() > 1e-4).any().sum() >= 5, "the resets move the probabilities"
    y = checked.scores.set_index("customer_id").loc[frame["customer_id"], "churned"].to_numpy()
    imp = model.group_importance(frame, y, n_repeats=2, random_state=3).set_index("group")
    rng, base = np.random.default_rng(3), roc_auc_score(y, p)
    for group, cols in model.feature_groups_.items():
        drops = []
        for _ in range(2):
            shuffled, idx = frame.copy(), rng.permutation(len(frame))
            for c in cols:
                shuffled[c] = frame[c].to_numpy()[idx]
            if group.startswith(features.TOUCHPOINT_GROUP):
                features.add_totals(shuffled)
            drops.append(base - roc_auc_score(y, model.predict_risk(shuffled)))
        # equal up to ties: customers with equal features tie in one sum and differ in the last bit in the other
        assert imp.loc[group, "importance"] == pytest.approx(np.mean(drops), abs=1e-5), group


def test_group_importance_and_plots(checked):
    from cxlib.present import plots

    imp = checked.importance(n_repeats=1)
    assert {"group", "importance", "std", "n_features"} <= set(imp.columns)
    assert {"bad experiences at delivery", "tenure", "segment", "service contacts"} <= set(imp["group"])
    for draw, frame in (
        (plots.plot_risk_calibration, checked.calibration()),
        (plots.plot_risk_capture, checked.capture_curve()),
        (plots.plot_risk_importance, imp),
    ):
        ax = draw(frame)
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    table = words.backtest_table(checked.metrics)
    assert list(table.index) == list(backtest.METHODS)


def test_not_fitted_and_settings_only_constructor(world):
    data, _ = world
    model = RiskModel(horizon_days=-5, calibration="nonsense")  # stores, checks nothing
    assert model.get_params()["horizon_days"] == -5
    for call in (lambda: model.predict_proba(pd.DataFrame()), lambda: model.rank(data), lambda: model.features(data)):
        with pytest.raises(NotFittedError):
            call()
    with pytest.raises(ValueError):
        model.fit(data)


def test_the_model_is_a_scikit_learn_estimator_and_the_day_is_keyword_only(world, checked):
    from sklearn.base import BaseEstimator, clone

    data, _ = world
    model = RiskModel(horizon_days=60, snapshots=2)
    assert isinstance(model, BaseEstimator)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert not hasattr(clone(checked.model), "pipeline_"), "a clone carries the settings, not the fit"
    with pytest.raises(TypeError):
        model.fit(data, data.as_of)  # the analysis date is as_of=, never positional
    with pytest.raises(TypeError):
        features.features(data, data.as_of)


def test_a_later_fit_reuses_the_backtest_snapshot_only_when_it_is_the_same(world, checked):
    data, _ = world
    model = RiskModel(**{**FAST, "snapshots": 2})
    assert model.training_cutoffs(as_of=data.as_of)[0] == checked.as_of, "the list's latest snapshot is the backtest's day"
    fresh = model.training_frame(data)
    pd.testing.assert_frame_equal(model.training_frame(data, reuse=[checked.features]), fresh)
    marked = checked.features.assign(tenure_days=-1)
    marked.attrs.update(checked.features.attrs)
    used = model.training_frame(data, reuse=[marked])
    latest = used["snapshot"] == checked.as_of
    assert (used.loc[latest, "tenure_days"] == -1).all() and (used.loc[~latest, "tenure_days"] >= 0).all()
    other = marked.copy()
    other.attrs.update(checked.features.attrs, horizon_days=model.horizon_days + 1)
    pd.testing.assert_frame_equal(model.training_frame(data, reuse=[other]), fresh)


def test_the_survival_baseline_is_the_adjusted_churn_model(checked):
    """Issue 13: the baseline fitted at the past day adjusts for engagement, as the run's churn model does."""
    assert checked.baseline.engagement and checked.baseline.get_params() == ChurnModel().get_params()
    assert checked.baseline.engagement_levels_, "the fitted baseline has its engagement bands"
    assert checked.baseline._window_experiences() and checked.baseline.experience_levels_, "... and its count bands"


def test_the_backtest_fits_copies_of_unfitted_estimators_and_refuses_fitted_ones(world, checked):
    data, _ = world
    settings, baseline = RiskModel(**FAST), ChurnModel()
    with pytest.raises(TypeError, match="estimator="):
        backtest.backtest(data, estimator=None, baseline=baseline)
    with pytest.raises(TypeError, match="baseline="):
        backtest.backtest(data, estimator=settings, baseline=None)
    with pytest.raises(ValueError, match="already fitted"):
        backtest.backtest(data, estimator=checked.model, baseline=baseline)
    with pytest.raises(ValueError, match="already fitted"):
        backtest.backtest(data, estimator=settings, baseline=checked.baseline)
    assert checked.model.get_params() == settings.get_params()
    assert not hasattr(settings, "pipeline_") and not hasattr(baseline, "hazard_ratios_"), "the arguments stay unfitted"
