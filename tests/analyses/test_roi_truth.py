"""cxlib.analyses.roi against the truth: the revenue a simulated intervention actually retains.

Design (apples to apples):

* One simulated world of 30,000 customers over 900 days; the analysis date ``T`` is day 534,
  so the horizon (12 months = 365.25 days) ends inside the simulated period and every tenure
  band of the churn model has churn events before ``T``.
* **Prediction from the baseline world alone, up to T.** The baseline world's files are cut at
  ``T`` (customers who signed up before ``T``, ``churned_at`` emptied when after ``T``,
  interactions before ``T``) and written to a new folder: nothing after ``T`` can leak. The
  churn model and the rates are fitted on that, and ``cxlib.analyses.roi`` predicts the revenue
  retained over the horizon by the customers active at ``T``.
* **The intervention starts at T.** Were it applied from the start of the simulated period,
  the customers active at ``T`` and their trailing counts at ``T`` would differ between the
  worlds, and the prediction, which starts from the baseline's state at ``T``, would not be
  comparable. The simulator's ``intervention_from`` switches only the thresholds its uniforms
  are compared with, from day ``T`` on (common random numbers): everything before ``T`` is
  identical row for row (tests/test_simulate.py proves it), so the customers active at ``T``
  are the same in both worlds.
* **Realised**: for the customers active at ``T``, Σ monthly_value × (months retained in
  ``[T, T + 12 months]`` in the switched world − in the baseline world).
* It must fall in ``cxlib.analyses.roi``'s interval of the revenue actually retained
  (``realised_low``–``realised_high``: the uncertainty of the hazard ratios and rates plus the
  spread of what one base's future brings), for a service scenario (every channel resolves
  90% of contacts, from about 70%) and an experience scenario (delivery's bad rate halved).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.analyses import roi
from cxlib.data import simulate as sim
from cxlib.data.simulate import SimulationConfig, write_dataset

N, SEED, DAYS, T_DAY = 30_000, 1, 900, 534
CHUNK = 20_000


def _churn_seconds(cfg, n, seed, intervention=None, from_day=None):
    """Churn moment (seconds since the period's start; NaN: none), signup and value per customer."""
    parts = [c for c, _ in sim.simulate(n, seed=seed, config=cfg, chunk_size=CHUNK, intervention=intervention,
                                        intervention_from=from_day)]
    customers = pd.concat(parts, ignore_index=True)
    start = pd.Timestamp(cfg.start_datetime)
    seconds = lambda col: (customers[col] - start).dt.total_seconds().to_numpy(dtype=float)  # noqa: E731
    return seconds("churned_at"), seconds("signup_at"), customers["monthly_value"].to_numpy()


def _switched_worlds(cfg_base, cfg_int, n, seed, switch_day):
    """The baseline world and the world where the intervention starts on ``switch_day``."""
    base, signup, value = _churn_seconds(cfg_base, n, seed)
    switched, signup_i, _ = _churn_seconds(cfg_base, n, seed, intervention=cfg_int, from_day=switch_day)
    assert np.array_equal(signup, signup_i)
    return {"base": base, "switched": switched, "value": value, "signup": signup}


def _realised(worlds, t_sec, h_sec):
    """Value-weighted months retained in [T, T+H] by the customers active at T: switched − baseline."""
    base, switched = worlds["base"], worlds["switched"]
    active = (worlds["signup"] < t_sec) & (np.isnan(base) | (base > t_sec))
    assert np.array_equal(active, (worlds["signup"] < t_sec) & (np.isnan(switched) | (switched > t_sec)))
    months_b = np.minimum(np.nan_to_num(base, nan=np.inf), t_sec + h_sec) - t_sec
    months_s = np.minimum(np.nan_to_num(switched, nan=np.inf), t_sec + h_sec) - t_sec
    return float((worlds["value"] * (months_s - months_b))[active].sum() / 86_400 / roi.MONTH_DAYS)


def _cut_world(tmp_path_factory, cfg):
    full = tmp_path_factory.mktemp("roi_truth_full")
    write_dataset(full, N, seed=SEED, config=cfg, fmt="parquet", chunk_size=CHUNK)
    as_of = pd.Timestamp(cfg.start_datetime.replace(tzinfo=None)) + pd.Timedelta(days=T_DAY)
    cut = tmp_path_factory.mktemp("roi_truth_cut")
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t = f"TIMESTAMPTZ '{as_of.isoformat()}+00:00'"
    con.execute(
        f"""COPY (SELECT customer_id, signup_at, CASE WHEN churned_at < {t} THEN churned_at END AS churned_at,
                         segment, monthly_value
                  FROM read_parquet('{full}/customers.parquet') WHERE signup_at < {t})
            TO '{cut}/customers.parquet' (FORMAT parquet)"""
    )
    con.execute(
        f"""COPY (SELECT * FROM read_parquet('{full}/interactions.parquet') WHERE "at" < {t})
            TO '{cut}/interactions.parquet' (FORMAT parquet)"""
    )
    con.close()
    data = cxlib.load(cut)
    assert data.as_of < as_of  # nothing after T in the files
    return data, as_of


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    cfg = SimulationConfig(days=DAYS)
    data, as_of = _cut_world(tmp_path_factory, cfg)
    yield cfg, data, as_of
    data.close()


#: The confounded world: engagement differs between customers, and each touchpoint has its own effect.
CONFOUNDED = {
    "engagement_shape": 2.0,
    "hr_by_touchpoint": {
        "website": {"unresolved": 1.15, "resolved": 1.02},
        "app": {"unresolved": 1.2, "resolved": 1.05},
        "billing": {"unresolved": 1.4, "resolved": 1.1},
        "delivery": {"unresolved": 2.0, "resolved": 1.15},
    },
}


@pytest.fixture(scope="module")
def confounded_world(tmp_path_factory):
    cfg = SimulationConfig(days=DAYS).with_changes(**CONFOUNDED)
    data, as_of = _cut_world(tmp_path_factory, cfg)
    yield cfg, data, as_of
    data.close()


def test_confounded_world_with_touchpoint_effects(confounded_world):
    """Engagement confounds the counts, and a bad delivery costs more than a bad website visit:
    the adjusted per-touchpoint model must put the truth inside the realised intervals and
    rank service against experience as the truth does."""
    from cxlib.models.churn import ChurnModel

    cfg, data, as_of = confounded_world
    model = ChurnModel(by_touchpoint=True).fit(data, as_of=as_of)
    realised, table = _check_scenarios(cfg, data, as_of, model=model)
    order = sorted(realised, key=realised.get)
    predicted = table["retained_revenue"].to_dict()
    assert sorted(predicted, key=predicted.get) == order, (realised, predicted)


def _check_scenarios(cfg, data, as_of, model=None):
    from cxlib.models.churn import ChurnModel

    if model is None:  # the analysis never fits one: the default model, fitted on data up to T
        model = ChurnModel().fit(data, as_of=as_of)
    scenarios = [
        roi.Scenario("resolve 90%", "service", {"resolution_rate": 0.9}, yearly_cost=10_000),
        roi.Scenario("delivery bad rate halved", "experience", {"touchpoint": "delivery", "bad_rate_cut": 0.5},
                     yearly_cost=10_000),
    ]
    result = roi.evaluate(data, scenarios, as_of=as_of, draws=100, process_draws=100, seed=3, model=model)
    table = result.table.set_index("scenario")
    t_sec, h_sec = T_DAY * 86_400, 12 * roi.MONTH_DAYS * 86_400
    interventions = {
        "resolve 90%": cfg.with_p_resolve(0.9),
        "delivery bad rate halved": cfg.with_bad_rate("delivery", cfg.expected_bad_rate("delivery") / 2),
    }
    report, truths = [], {}
    for name, cfg_int in interventions.items():
        realised = _realised(_switched_worlds(cfg, cfg_int, N, SEED, switch_day=T_DAY), t_sec, h_sec)
        row = table.loc[name]
        report.append(f"{name}: predicted {row.retained_revenue:,.0f} (expected {row.retained_revenue_low:,.0f}–"
                      f"{row.retained_revenue_high:,.0f}; realised {row.realised_low:,.0f}–{row.realised_high:,.0f}), "
                      f"realised {realised:,.0f}")
        assert realised > 0
        assert row.realised_low <= realised <= row.realised_high, "\n".join(report)
        truths[name] = realised
    print("\n".join(report))
    return truths, table


def test_realised_revenue_falls_in_the_predicted_interval(world):
    cfg, data, as_of = world
    _check_scenarios(cfg, data, as_of)
