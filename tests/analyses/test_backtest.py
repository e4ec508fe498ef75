"""The risk list's survival baseline: the churn model's engagement bands, customer by customer."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.analyses.backtest import survival_probability
from cxlib.features import panel
from cxlib.features.definitions import window_experience_band_sql
from cxlib.models.churn import ChurnModel


@pytest.fixture(scope="module")
def data(small_world):
    with cxlib.load(small_world) as d:
        yield d


def test_window_experience_bands_are_the_panels_on_the_day(data):
    """Each customer's band of the window's count on a day is the panel's ``experiences`` on that day."""
    day = pd.Timestamp(data.as_of).tz_localize(None).normalize() - pd.Timedelta(days=40)
    bands = panel.window_experience_bands(data, as_of=day)
    iv = panel.intervals(data, as_of=day + pd.Timedelta(days=1), engagement=True, window_experiences=True)
    on_day = iv[(iv["start_at"] <= day) & (iv["stop_at"] > day)]
    on_day = on_day.set_index(on_day["customer_id"].astype(str))
    assert len(on_day) > 500 and on_day["experiences"].nunique() > 3
    counts = on_day[["experiences"]].reset_index(drop=True)  # the panel holds counts; the aggregate bands them
    expected = duckdb.sql(f"SELECT {window_experience_band_sql('experiences')} AS band FROM counts").df()["band"]
    got = bands.reindex(on_day.index).fillna(0).astype(int).to_numpy()
    assert (expected.to_numpy() > 0).mean() > 0.8 and len(set(got)) > 3
    np.testing.assert_array_equal(got, expected.to_numpy(dtype=int))


def test_survival_baseline_takes_each_customers_count_band(data):
    model = ChurnModel().fit(data)
    assert model._window_experiences() and len(model.experience_levels_) > 3
    levels = sorted(model.experience_levels_)
    frame = pd.DataFrame({"segment": model.reference_["segment"], "tenure_days": 200, "unresolved": 0, "resolved": 0,
                          "engagement": 5, "experience_band": [levels[0], levels[-1]]})
    p = survival_probability(model, frame, horizon_days=90)
    by_hand = 1 - model.predict_survival(
        frame.drop(columns="experience_band").assign(experiences=frame["experience_band"]), [90.0]).iloc[0].to_numpy()
    np.testing.assert_allclose(p, by_hand, rtol=1e-12)
    assert p[0] != pytest.approx(p[1], rel=1e-3)  # the band matters: not the reference band for all
