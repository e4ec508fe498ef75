"""cxlib.analyses.roi: scenarios, the closed form, sanity checks that can fail, tables, words and the figure."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

import cxlib
import cxlib.present.plots
from cxlib.analyses import roi
from cxlib.features import roi_inputs
from cxlib.models import roi_engine
from cxlib.models.churn import ChurnModel
from cxlib.present import roi as roi_text
from cxlib.exceptions import DataError
from cxlib.data.simulate import write_dataset


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    path = tmp_path_factory.mktemp("roi_world")
    truth = write_dataset(path, 6_000, seed=21, fmt="parquet")
    data = cxlib.load(path)
    model = ChurnModel().fit(data)
    yield data, model, truth
    data.close()


def _evaluate(world, scenarios, **kw):
    data, model, _ = world
    kw.setdefault("draws", 40)
    kw.setdefault("process_draws", 0)
    return roi.evaluate(data, scenarios, model=model, **kw)


# ---------------------------------------------------------------- scenarios


def test_default_scenarios_load():
    scenarios, currency = roi.load_scenarios()
    assert currency == "EUR"
    kinds = {s.kind for s in scenarios}
    assert kinds == {"service", "experience"}
    assert all(s.yearly_cost > 0 for s in scenarios)
    assert roi.load_scenarios("") == roi.load_scenarios(roi.DEFAULT_SCENARIOS)


def test_scenarios_from_yaml_text_dict_and_list(tmp_path):
    text = "currency: USD\nscenarios:\n  - {name: a, kind: service, change: {contact_share: 0.8}, yearly_cost: 5}\n"
    assert roi.load_scenarios(text)[1] == "USD"
    (tmp_path / "s.yaml").write_text(text)
    assert roi.load_scenarios(str(tmp_path / "s.yaml"))[0][0].change == {"contact_share": 0.8}
    items = [{"name": "b", "kind": "experience", "change": {"touchpoint": "Delivery", "bad_rate_cut": 0.5}}]
    (s,), cur = roi.load_scenarios(items)
    assert s.change == {"touchpoint": "delivery", "bad_rate_cut": 0.5} and cur == "EUR"
    assert "delivery" in roi_text.describe(s)


@pytest.mark.parametrize(
    "item, message",
    [
        ({"name": "x", "kind": "marketing", "change": {"bad_rate_cut": 0.1}}, "kind must be one of"),
        ({"name": "x", "kind": "service", "change": {"bad_rate_cut": 0.1}}, "cannot change"),
        ({"name": "x", "kind": "experience", "change": {"touchpoint": "app"}}, "needs bad_rate_cut"),
        ({"name": "x", "kind": "service", "change": {"resolution_rate": 1.5}}, "between 0 and 1"),
        ({"name": "x", "kind": "service", "change": {}}, "nothing to change"),
        ({"name": "x", "kind": "service", "change": {"contact_share": 0.5}, "yearly_cost": -1}, "yearly_cost"),
        ({"name": "x", "kind": "service", "change": {"contact_share": 0.5}, "budget": 3}, "unknown keys"),
    ],
)
def test_bad_scenarios_are_clear_errors(item, message):
    with pytest.raises(DataError, match=message):
        roi.load_scenarios([item])


def test_missing_scenario_file_names_it(tmp_path):
    with pytest.raises(DataError, match="no-such.yaml"):
        roi.load_scenarios(str(tmp_path / "no-such.yaml"))


def test_unknown_touchpoint_names_it_and_lists_the_known_ones(world):
    with pytest.raises(ValueError) as info:
        _evaluate(world, [roi.Scenario("teleport", "experience", {"touchpoint": "teleporter", "bad_rate_cut": 0.5})])
    text = str(info.value)
    assert "'teleporter'" in text
    for tp in ("delivery", "website", "billing", "onboarding"):
        assert tp in text


# ---------------------------------------------------------------- the closed form


def test_expected_multiplier_matches_brute_force_with_timing_and_cap(world):
    """E[HR_u^min(U,cap) HR_r^min(R,cap)] on each day: closed form against simulated event paths."""
    data, model, _ = world
    measured = roi_inputs.measure(data)
    engine = roi_engine.Engine(measured, model, 200.0)
    delay = np.array([0.4, 0.3, 0.2, 0.1])
    lam, q, lu, lr = 0.02, 0.45, np.log(1.6), np.log(1.15)  # a heavy rate, so the cap (5) binds
    inp = roi_engine.Inputs(log_a=np.zeros((1, 1)), log_hr_u=lu, log_hr_r=lr, lam_early=lam, lam_settled=lam, q=q, delay=delay)
    mu_u, mu_r = engine.future_means(inp)
    closed = engine.multiplier_table(mu_u, lu)[-1, 0] * engine.multiplier_table(mu_r, lr)[-1, 0]
    rng = np.random.default_rng(5)
    n, days, W, cap = 40_000, engine.n_days, engine.W, engine.cap
    x = engine.y
    check = np.array([1, 3, 30, 90, 91, 95, 150, 199])
    U = np.zeros((n, len(check)))
    R = np.zeros_like(U)
    counts = rng.poisson(lam * x.sum(), size=n)
    cust = np.repeat(np.arange(n), counts)
    e = rng.integers(0, days, size=len(cust))
    resolved = rng.random(len(cust)) < q
    delta = rng.choice(len(delay), p=delay, size=len(cust))
    for k, d in enumerate(check):
        lag = d - e
        alive = (lag >= 1) & (lag <= W)
        is_r = alive & resolved & (lag >= delta + 1)
        np.add.at(U[:, k], cust[alive & ~is_r], 1)
        np.add.at(R[:, k], cust[is_r], 1)
    brute = np.mean(np.exp(lu * np.minimum(U, cap) + lr * np.minimum(R, cap)), axis=0)
    assert (U > cap).any(), "the cap must bind somewhere for the check to mean something"
    np.testing.assert_allclose(closed[check], brute, rtol=0.01)
    # at a low rate the cap does not bind: steady state is the generating function with the delay correction
    low = 0.002
    inp = roi_engine.Inputs(log_a=np.zeros((1, 1)), log_hr_u=lu, log_hr_r=lr, lam_early=low, lam_settled=low, q=q, delay=delay)
    mu_u, mu_r = engine.future_means(inp)
    f = engine.multiplier_table(mu_u, lu)[-1, 0] * engine.multiplier_table(mu_r, lr)[-1, 0]
    mean_delay = float(np.arange(len(delay)) @ delay)
    pgf = np.exp(low * ((W * (1 - q) + q * mean_delay) * (np.exp(lu) - 1) + q * (W - mean_delay) * (np.exp(lr) - 1)))
    assert f[150] == pytest.approx(pgf, rel=1e-4)
    hint = np.exp(low * W * ((1 - q) * (np.exp(lu) - 1) + q * (np.exp(lr) - 1)))  # without the delay correction
    assert f[150] > hint


def test_no_change_is_worth_exactly_nothing(world):
    free = [
        roi.Scenario("nothing", "experience", {"touchpoint": "all", "bad_rate_cut": 0.0}, yearly_cost=0),
        roi.Scenario("nothing either", "experience", {"touchpoint": "delivery", "bad_rate_cut": 0.0}, yearly_cost=0),
    ]
    result = _evaluate(world, free, process_draws=5)
    t = result.table
    assert (t["retained_revenue"] == 0).all() and (t["churn_avoided"] == 0).all()
    assert (result.draws["retained_revenue"] == 0).all()
    assert (t[["retained_revenue_low", "retained_revenue_high", "realised_low", "realised_high"]] == 0).all().all()
    assert t["roi"].isna().all()  # no cost: no ROI


def test_doubling_the_cost_halves_roi_plus_one(world):
    base = roi.Scenario("fix delivery", "experience", {"touchpoint": "delivery", "bad_rate_cut": 0.5}, yearly_cost=5_000)
    double = roi.Scenario("fix delivery", "experience", {"touchpoint": "delivery", "bad_rate_cut": 0.5}, yearly_cost=10_000)
    a = _evaluate(world, [base], seed=4).table.iloc[0]
    b = _evaluate(world, [double], seed=4).table.iloc[0]
    assert b.retained_revenue == pytest.approx(a.retained_revenue)
    assert b.roi + 1 == pytest.approx((a.roi + 1) / 2)
    assert b.net_benefit == pytest.approx(a.net_benefit - 5_000)
    assert b.break_even_cost == pytest.approx(a.break_even_cost)


def test_more_of_an_investment_retains_more(world):
    scenarios = [
        roi.Scenario("resolve 80%", "service", {"resolution_rate": 0.8}),
        roi.Scenario("resolve 95%", "service", {"resolution_rate": 0.95}),
        roi.Scenario("contacts 90%", "service", {"contact_share": 0.9}),
        roi.Scenario("cut all 20%", "experience", {"touchpoint": "all", "bad_rate_cut": 0.2}),
        roi.Scenario("cut all 40%", "experience", {"touchpoint": "all", "bad_rate_cut": 0.4}),
    ]
    t = _evaluate(world, scenarios).table.set_index("scenario")
    assert 0 < t.loc["resolve 80%", "retained_revenue"] < t.loc["resolve 95%", "retained_revenue"]
    assert 0 < t.loc["cut all 20%", "retained_revenue"] < t.loc["cut all 40%", "retained_revenue"]
    assert t.loc["contacts 90%", "retained_revenue"] > 0
    assert (t["retained_revenue_low"] <= t["retained_revenue"]).all()
    assert (t["retained_revenue"] <= t["retained_revenue_high"]).all()


def test_horizon_and_cost_proration(world):
    sc = [roi.Scenario("cut", "experience", {"touchpoint": "all", "bad_rate_cut": 0.3}, yearly_cost=12_000)]
    six = _evaluate(world, sc, horizon_months=6).table.iloc[0]
    twelve = _evaluate(world, sc, horizon_months=12).table.iloc[0]
    assert six.cost == 6_000 and twelve.cost == 12_000
    assert 0 < six.retained_revenue < twelve.retained_revenue
    assert six.break_even_cost == pytest.approx(six.retained_revenue * 2)


def test_first_response_without_a_measured_link_is_not_estimated(world):
    """The simulator draws first response times independently of resolution: no link to use."""
    result = _evaluate(world, [roi.Scenario("faster", "service", {"first_response_cut": 0.5}, yearly_cost=1),
                               roi.Scenario("fix app", "experience", {"touchpoint": "app", "bad_rate_cut": 0.5}, 1)])
    row = result.table.set_index("scenario").loc["faster"]
    assert not row.estimable and np.isnan(row.retained_revenue)
    assert "first response" in row.note and "cannot be estimated" in row.note
    assert "Not estimated: faster" in roi_text.recommendation(result)


def test_baseline_and_rates_are_reported(world):
    data, _, truth = world
    result = _evaluate(world, [roi.Scenario("c", "service", {"contact_share": 0.6})])
    b = result.baseline
    active = data.con.execute(
        "SELECT count(*) FROM customers WHERE churned_at IS NULL OR churned_at > (SELECT max(\"at\") FROM interactions)"
    ).fetchall()[0][0]
    assert b["customers"] == active
    assert 0 < b["expected_churn"] < b["customers"]
    rates = result.rates.set_index("measure")["value"]
    assert rates["resolution rate (of those contacts)"] == pytest.approx(truth["p_resolve_expected"], abs=0.05)
    assert rates["contact share (bad experiences followed by a contact in time)"] == pytest.approx(
        truth["p_contact"] * truth["p_contact_within_resolution_days"], abs=0.05)


# ---------------------------------------------------------------- tables, words, figure


def test_tables_and_recommendation(world):
    result = _evaluate(world, None)  # the default file
    full = roi_text.roi_table(result)
    assert list(full.index) == [s.name for s in result.scenarios]
    small, sentence = roi_text.summary_section(result)
    assert list(small.columns) == ["kind", "net benefit over 12 months", "ROI", "probability of being best"]
    assert small.index.name == "scenario"
    assert isinstance(sentence, str) and sentence
    beats = roi_text.beats_table(result)
    assert beats.shape == (len(result.scenarios),) * 2
    d = roi_text.as_dict(result)
    assert {"settings", "baseline", "rates", "scenarios", "beats", "recommendation", "notes"} <= set(d)
    est = result.table[result.table["estimable"]]
    assert est["p_best"].sum() == pytest.approx(1.0)


def test_plot_net_benefit(world):
    result = _evaluate(world, None, process_draws=3)
    ax = cxlib.present.plots.plot_net_benefit(result.table, currency="EUR")
    assert "Net benefit" in ax.get_title()
    assert "EUR" in ax.get_xlabel() and ax.get_ylabel()
    assert len(ax.get_yticklabels()) == len(result.table)
    assert any("not estimable" in t.get_text() for t in ax.texts)


def test_model_with_other_window_is_refused(world):
    data, _, _ = world
    other = ChurnModel(window_days=60).fit(data)
    with pytest.raises(ValueError, match="window_days"):
        roi.evaluate(data, None, model=other, draws=2, process_draws=0)


def test_an_analysis_never_fits_a_model_silently(world):
    """No model, or one not fitted: a clear error before any query, never a quiet fit."""
    from cxlib.analyses import cost
    from cxlib.exceptions import NotFittedError

    data, _, _ = world
    with pytest.raises(TypeError, match="needs model=: a fitted ChurnModel"):
        roi.evaluate(data, None, draws=2, process_draws=0)
    with pytest.raises(TypeError, match="roi.prepare needs model="):
        roi.prepare(data, draws=2)
    with pytest.raises(TypeError, match="cost.evaluate needs model="):
        cost.evaluate(data, draws=2)
    with pytest.raises(NotFittedError, match="not fitted"):
        roi.prepare(data, model=ChurnModel(), draws=2)


def test_a_model_with_the_window_experience_count_is_valued_class_by_class(world):
    """The window's count of experiences is part of the adjustment (ChurnModel's default): each
    engagement class's baseline shift is the log of the exposure-weighted mean hazard ratio of the
    joint (rate band, count band) cells of its bands in the model's panel, on every draw."""
    data, model, _ = world
    assert model.window_experiences and roi_engine.has_engagement(model)
    p = roi.prepare(data, model=model, draws=2)
    assert p.engine.n_class == len(p.measured.classes) >= 2
    panel = model.panel_
    for b in (0, 2):
        beta = pd.Series(p.betas[b], index=p.cols)
        inp = p.inputs(b, *p.base_rates(b))
        np.testing.assert_array_equal(inp.class_rate, p.measured.classes["relative_rate"].to_numpy())
        assert np.array_equal(inp.log_a, roi_engine.log_baseline(model, beta, p.effective_band, pd.Series(dtype=float)))
        for row in p.measured.classes.itertuples():
            cells = panel if row.engagement_class == 0 else panel[panel["engagement"].isin(row.bands)]
            exposure = cells.groupby(["engagement", "experiences"])["exposure_days"].sum()
            exposure = exposure[exposure > 0]
            hr = [np.exp(beta.get(f"engagement[{model.engagement_levels_[e]}]", 0.0)
                         + beta.get(f"experiences[{model.experience_levels_[k]}]", 0.0)) for e, k in exposure.index]
            expected = np.log(exposure.to_numpy() @ np.array(hr) / exposure.sum())
            assert inp.log_shift[row.engagement_class] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def _known_counts_by_day(engine):
    """Each customer's known unresolved and resolved counts on each day of the horizon, capped: design.md's rule,
    day by day from the engine's known events (the sums the engine's segments must reproduce)."""
    n, days, W = engine.n_customers, engine.n_days, engine.W
    ku, kr = np.zeros((n, days), dtype=int), np.zeros((n, days), dtype=int)
    d = np.arange(days)
    for i, e, c in zip(*engine.known_events):
        end = c if np.isfinite(c) and c <= 0 else e + W
        ku[i] += (d >= e + 1) & (d <= end)
        if np.isfinite(c) and c <= 0:
            kr[i] += (d >= c + 1) & (d <= e + W)
    return np.minimum(ku, engine.cap), np.minimum(kr, engine.cap)


def test_segments_of_constant_state_equal_the_day_by_day_sum(world):
    """The engine's runs of constant state give the midpoint rule summed day by day, customer by customer."""
    data, model, _ = world
    measured = roi_inputs.measure(data)
    engine = roi_engine.Engine(measured, model, 12 * roi.MONTH_DAYS)
    inp = roi_engine.Inputs(log_a=np.log([[0.002, 0.001, 0.0007]] * len(engine.segments)), log_hr_u=np.log(1.5),
                            log_hr_r=np.log(1.1), lam_early=0.01, lam_settled=0.004, q=0.5,
                            delay=np.array([0.4, 0.3, 0.2, 0.1]))
    mu_u, mu_r = engine.future_means(inp)
    Fu, Fr = engine.multiplier_table(mu_u, inp.log_hr_u), engine.multiplier_table(mu_r, inp.log_hr_r)
    n, days = engine.n_customers, engine.n_days
    d = np.arange(days)
    ku, kr = _known_counts_by_day(engine)
    cls = engine.mu_class[engine.tau][:, None]
    a = np.exp(inp.log_a)[engine.seg[:, None], engine.band[engine.tau]]
    h = a * Fu[cls, ku, d[None, :]] * Fr[cls, kr, d[None, :]] * engine.x[None, :]
    C = np.cumsum(h, axis=1)
    months = (np.exp(-(C - 0.5 * h)) * engine.x).sum(axis=1) / roi.MONTH_DAYS
    value_months, survivors = engine.run(inp)
    assert engine.n_known > 100 and engine.n_segments < n * 3, "known customers, and fewer segments than days"
    assert value_months == pytest.approx(float(engine.value @ months), rel=1e-12)
    assert survivors == pytest.approx(float(np.exp(-C[:, -1]).sum()), rel=1e-12)


# ---------------------------------------------------------------- engagement classes


def _two_class_base(measured, model, classes):
    """``measured`` with every customer in class ``classes[i]`` (a copy; the engine reads the class column)."""
    cust = measured.customers.copy()
    cust["engagement_class"] = np.asarray(classes, dtype=np.int64)
    table = pd.DataFrame({"engagement_class": [0, 1], "relative_rate": [1.0, 1.0]})
    return dataclasses.replace(measured, customers=cust, classes=table)


def test_classes_of_constant_state_equal_the_day_by_day_sum(world):
    """With two engagement classes (own baseline shift, own rate of future bad experiences), the
    engine's grouped paths still equal the midpoint rule summed day by day, customer by customer."""
    data, model, _ = world
    measured = roi_inputs.measure(data)
    cls = np.arange(len(measured.customers)) % 2
    engine = roi_engine.Engine(_two_class_base(measured, model, cls), model, 12 * roi.MONTH_DAYS)
    shift, rate = np.array([0.3, -0.4]), np.array([0.5, 2.5])
    inp = roi_engine.Inputs(log_a=np.log([[0.002, 0.001, 0.0007]] * len(engine.segments)), log_hr_u=np.log(1.5),
                            log_hr_r=np.log(1.1), lam_early=0.01, lam_settled=0.004, q=0.5,
                            delay=np.array([0.4, 0.3, 0.2, 0.1]), log_shift=shift, class_rate=rate)
    mu_u, mu_r = engine.future_means(inp)  # one class at λ: class c's means are r_c times these
    n, days = engine.n_customers, engine.n_days
    d = np.arange(days)
    ku, kr = _known_counts_by_day(engine)
    rate_class = engine.mu_class[engine.tau][:, None]
    h = np.empty((n, days))
    for c in (0, 1):
        Fu = engine.multiplier_table(rate[c] * mu_u, inp.log_hr_u)
        Fr = engine.multiplier_table(rate[c] * mu_r, inp.log_hr_r)
        rows = cls == c
        a = np.exp(inp.log_a + shift[c])[engine.seg[rows][:, None], engine.band[engine.tau[rows]]]
        h[rows] = a * Fu[rate_class[rows], ku[rows], d[None, :]] * Fr[rate_class[rows], kr[rows], d[None, :]] \
            * engine.x[None, :]
    C = np.cumsum(h, axis=1)
    months = (np.exp(-(C - 0.5 * h)) * engine.x).sum(axis=1) / roi.MONTH_DAYS
    value_months, survivors = engine.run(inp)
    assert engine.n_class == 2 and engine.n_known > 100
    assert value_months == pytest.approx(float(engine.value @ months), rel=1e-12)
    assert survivors == pytest.approx(float(np.exp(-C[:, -1]).sum()), rel=1e-12)


def test_classes_closed_form_matches_brute_force_paths(world):
    """Two classes of different baseline and rate of bad experiences (heavy users: more bad
    experiences, lower baseline): the engine's months and survivors of each class against the
    mean daily hazard of simulated event paths at λ·r_c (timing, resolution delays and cap included)."""
    data, model, _ = world
    measured = roi_inputs.measure(data)
    base = measured.customers.head(2).assign(tenure_day=400, monthly_value=1.0)  # settled, no known history
    measured = dataclasses.replace(measured, customers=base, known=measured.known.iloc[:0])
    horizon = 200.0
    delay = np.array([0.4, 0.3, 0.2, 0.1])
    lam, q, lu, lr = 0.006, 0.45, np.log(1.6), np.log(1.15)
    shift, rate = np.array([0.5, -0.6]), np.array([0.4, 3.0])
    log_a = np.log([[0.0015] * 3] * len(model.segments_))
    inp = roi_engine.Inputs(log_a=log_a, log_hr_u=lu, log_hr_r=lr, lam_early=lam, lam_settled=lam, q=q, delay=delay,
                            log_shift=shift, class_rate=rate)
    rng = np.random.default_rng(11)
    W, cap, n = measured.window_days, model.count_cap, 20_000
    for c in (0, 1):
        engine = roi_engine.Engine(_two_class_base(measured, model, [c, c]), model, horizon)
        days, x, y = engine.n_days, engine.x, engine.y
        counts = rng.poisson(lam * rate[c] * y.sum(), size=n)
        path = np.repeat(np.arange(n), counts)
        e = rng.choice(days, p=y / y.sum(), size=len(path))
        resolved = rng.random(len(path)) < q
        delta = rng.choice(len(delay), p=delay, size=len(path))
        U, R = np.zeros((n, days + 1)), np.zeros((n, days + 1))
        end = np.where(resolved, e + delta, e + W)  # unresolved on days e+1 … end, resolved on end+1 … e+W
        for arr, lo, hi in ((U, e + 1, end), (R, end + 1, e + W)):
            ok = hi >= lo
            np.add.at(arr, (path[ok], np.minimum(lo[ok], days)), 1)
            np.add.at(arr, (path[ok], np.minimum(hi[ok] + 1, days)), -1)
        U, R = np.cumsum(U, axis=1)[:, :days], np.cumsum(R, axis=1)[:, :days]
        assert c == 0 or (U > cap).any(), "the cap must bind in the heavy class for the check to mean something"
        mult = np.exp(lu * np.minimum(U, cap) + lr * np.minimum(R, cap)).mean(axis=0)
        seg = engine.seg[0]
        h = np.exp(log_a[seg, engine.band[engine.tau[0]]] + shift[c]) * mult * x  # the mean hazard of each day
        C = np.cumsum(h)
        months = float((np.exp(-(C - 0.5 * h)) * x).sum()) / roi.MONTH_DAYS
        value_months, survivors = engine.run(inp)
        assert value_months == pytest.approx(2 * months, rel=2e-3), c
        assert survivors == pytest.approx(2 * np.exp(-C[-1]), rel=2e-3), c


def test_engagement_classes_follow_the_stated_rule(world):
    """Class 0 is band 0 at the base's rate; the other classes are runs of adjacent bands, at most
    ENGAGEMENT_CLASSES in all, with each class's own bad experiences per settled customer-day."""
    data, _, _ = world
    measured = roi_inputs.measure(data, engagement=True)
    classes, bands = measured.classes, measured.bands.set_index("rate_band")
    cust = measured.customers
    assert 2 <= len(classes) <= roi_inputs.ENGAGEMENT_CLASSES
    assert classes.loc[0, "bands"] == (0,) and classes.loc[0, "relative_rate"] == 1.0
    flat = [b for bs in classes["bands"] for b in bs]
    assert flat == sorted(flat) == sorted(bands.index)  # adjacent runs covering every band once
    assert classes["customers"].sum() == len(cust) == bands["customers"].sum()
    assert (cust.groupby("engagement_class").size() == classes.set_index("engagement_class")["customers"]).all()
    lam = measured.rates["bad_settled"].sum() / measured.exposure_settled
    later = classes.iloc[1:]
    np.testing.assert_allclose(later["relative_rate"], later["bad"] / later["exposure"] / lam, rtol=1e-12)
    share = later["customers"] / later["customers"].sum()
    assert share.max() < 0.5, "roughly equal groups of customers"
    # this world gives every customer the same usage: each class's rate is the base's, within 4 Poisson
    # standard errors (a band's rate is measured on the days after it was known, not on the past that put
    # a customer in it, which would make the high bands' rates high by selection)
    se = 1.0 / np.sqrt(later["bad"].to_numpy(dtype=float))
    assert (np.abs(later["relative_rate"].to_numpy() - 1.0) < 4 * se).all(), later


def test_a_cut_changes_only_the_future_bad_experiences(world):
    """Known bad experiences have happened: with no future ones (λ = 0), the scenario's touchpoint
    mix (which weighs the future ones' per-touchpoint effects) changes nothing; and with future
    ones, a known count and a future count each take their own ratio, capped together."""
    data, _, _ = world
    model = ChurnModel(by_touchpoint=True, engagement=False).fit(data)
    p = roi.prepare(data, model=model, draws=1)
    q = p.base_rates(0)[2]
    cut = p.lam_s[0].copy()
    cut[p.measured.touchpoints.index("delivery")] *= 0.5
    assert p.engine.n_known > 100
    assert p.engine.run(p.inputs(0, 0.0, 0.0, q, cut)) == p.engine.run(p.inputs(0, 0.0, 0.0, q))
    engine, cap = p.engine, p.engine.cap
    mu = np.array([[0.05, 0.8, 3.0]])
    lf, lk = np.log(1.3), np.log(1.9)
    F = engine.multiplier_table(mu, lf, lk)[0]
    x = np.arange(60)[:, None]
    pmf = np.exp(-mu[0][None, :] + x * np.log(mu[0][None, :]) - np.array([math.lgamma(v + 1) for v in x.ravel()])[:, None])
    for k in range(cap + 1):
        brute = (np.exp(lk * k + lf * np.minimum(x, cap - k)) * pmf).sum(axis=0)
        np.testing.assert_allclose(F[k], brute, rtol=1e-10)
