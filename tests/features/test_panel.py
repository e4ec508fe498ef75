"""The panel: hand-computed intervals on a tiny data set, and a day-by-day check on a simulated one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.features import panel, scope

AS_OF = "2025-01-01 00:00:00"
W, R, BANDS = 10, 2, (0, 20)  # small parameters, so the intervals can be computed by hand

CUSTOMERS = """customer_id,signup_at,churned_at,segment,monthly_value
A,2024-12-01T12:00:00,,consumer,10
B,2024-12-10T00:00:00,2024-12-15T06:00:00,smb,20
C,2024-12-20T18:00:00,2024-12-31T12:00:00,enterprise,30
D,2024-12-31T20:00:00,,,40
E,2025-01-05T00:00:00,,consumer,50
"""

INTERACTIONS = """interaction_id,customer_id,at,kind,channel,touchpoint,outcome,resolved
a1,A,2024-12-02T09:00:00,experience,web,billing,good,
a2,A,2024-12-03T10:00:00,experience,web,billing,bad,
a3,A,2024-12-03T08:00:00,service,phone,billing,good,true
a4,A,2024-12-05T09:00:00,experience,app,delivery,bad,
a5,A,2024-12-08T09:00:00,service,chat,delivery,good,true
a6,A,2024-12-06T11:00:00,experience,web,how_to,bad,
a7,A,2024-12-06T12:00:00,service,chat,how_to,good,true
b1,B,2024-12-11T13:00:00,experience,app,app,bad,
b2,B,2024-12-11T15:00:00,service,chat,app,bad,false
b3,B,2024-12-14T10:00:00,service,phone,app,good,true
c1,C,2024-12-21T10:00:00,experience,web,billing,bad,
c2,C,2024-12-23T09:00:00,service,email,billing,good,true
"""

# (customer, start, stop, tenure band, unresolved, resolved, exposure days, event), by hand:
# A: billing bad on Dec 3 resolved the same day by a contact stamped before it -> resolved from Dec 4,
#    out of the 10-day window from Dec 14; delivery bad on Dec 5, resolved contact 3 days later is too
#    late (resolution_days = 2) -> unresolved Dec 6..15; how_to bad on Dec 6, a how_to contact never
#    resolves -> unresolved Dec 7..16; tenure band 20+ from Dec 21 (signup day Dec 1 + 20).
# B: app bad on Dec 11, its contact did not solve it, a resolved one 3 days later is too late;
#    churns mid-window on Dec 15 06:00.
# C: billing bad on Dec 21 resolved on Dec 23 (2 days later: in time) -> unresolved Dec 22..23,
#    resolved from Dec 24; churns Dec 31 12:00.
# D: signs up 4 hours before as_of, no segment -> "all". E: signs up after as_of -> not at risk.
EXPECTED = [
    ("A", "2024-12-01 12:00", "2024-12-04", "0–19 days", 0, 0, 2.5, False),
    ("A", "2024-12-04", "2024-12-06", "0–19 days", 0, 1, 2.0, False),
    ("A", "2024-12-06", "2024-12-07", "0–19 days", 1, 1, 1.0, False),
    ("A", "2024-12-07", "2024-12-14", "0–19 days", 2, 1, 7.0, False),
    ("A", "2024-12-14", "2024-12-16", "0–19 days", 2, 0, 2.0, False),
    ("A", "2024-12-16", "2024-12-17", "0–19 days", 1, 0, 1.0, False),
    ("A", "2024-12-17", "2024-12-21", "0–19 days", 0, 0, 4.0, False),
    ("A", "2024-12-21", "2025-01-01", "20+ days", 0, 0, 11.0, False),
    ("B", "2024-12-10", "2024-12-12", "0–19 days", 0, 0, 2.0, False),
    ("B", "2024-12-12", "2024-12-15 06:00", "0–19 days", 1, 0, 3.25, True),
    ("C", "2024-12-20 18:00", "2024-12-22", "0–19 days", 0, 0, 1.25, False),
    ("C", "2024-12-22", "2024-12-24", "0–19 days", 1, 0, 2.0, False),
    ("C", "2024-12-24", "2024-12-31 12:00", "0–19 days", 0, 1, 7.5, True),
    ("D", "2024-12-31 20:00", "2025-01-01", "0–19 days", 0, 0, 1 / 6, False),
]


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    path = tmp_path_factory.mktemp("hand_panel")
    (path / "customers.csv").write_text(CUSTOMERS)
    (path / "interactions.csv").write_text(INTERACTIONS)
    with cxlib.load(path, as_of=AS_OF) as data:
        assert data.report.total_rejected == 0
        yield data


def test_hand_made_intervals_are_exact(hand):
    got = panel.intervals(hand, window_days=W, resolution_days=R, tenure_bands=BANDS)
    expected = pd.DataFrame(
        EXPECTED, columns=["customer_id", "start_at", "stop_at", "tenure_band", "unresolved", "resolved", "exposure_days", "event"]
    )
    assert len(got) == len(expected)
    for col in ("customer_id", "tenure_band", "unresolved", "resolved", "event"):
        assert got[col].tolist() == expected[col].tolist(), col
    assert (got["start_at"] == pd.to_datetime(expected["start_at"], format="ISO8601")).all()
    assert (got["stop_at"] == pd.to_datetime(expected["stop_at"], format="ISO8601")).all()
    np.testing.assert_allclose(got["exposure_days"], expected["exposure_days"], rtol=0, atol=1e-9)
    assert got.loc[got.customer_id == "D", "segment"].tolist() == ["all"]


def test_hand_made_totals(hand):
    agg = panel.aggregate(hand, window_days=W, resolution_days=R, tenure_bands=BANDS)
    # exposure = observed person-time: A 30.5, B 5.25, C 10.75, D 1/6 days; events = churned customers
    assert agg["exposure_days"].sum() == pytest.approx(30.5 + 5.25 + 10.75 + 1 / 6, abs=1e-9)
    assert agg["events"].sum() == 2
    assert agg["intervals"].sum() == len(EXPECTED)


def test_count_cap_pools_higher_counts(hand):
    agg = panel.aggregate(hand, window_days=W, resolution_days=R, tenure_bands=BANDS, count_cap=1)
    assert agg["unresolved"].max() == 1
    pooled = agg[(agg.segment == "consumer") & (agg.unresolved == 1) & (agg.resolved == 1)]
    # A's intervals with (1, 1) and (2, 1) pool into (1, 1): 1 + 7 days
    assert pooled["exposure_days"].sum() == pytest.approx(8.0)
    assert agg["capped_intervals"].sum() == 2  # A's (2, 1) and (2, 0)


def test_as_of_earlier_than_the_data_censors_there(hand):
    got = panel.intervals(hand, window_days=W, resolution_days=R, tenure_bands=BANDS, as_of="2024-12-15 00:00:00")
    assert set(got.customer_id) == {"A", "B"}
    assert not got["event"].any()  # B churns after the new as_of
    assert got["exposure_days"].sum() == pytest.approx(13.5 + 5.0)
    assert got["stop_at"].max() == pd.Timestamp("2024-12-15")


def test_sample_restricts_customers(hand):
    got = panel.intervals(hand, window_days=W, resolution_days=R, tenure_bands=BANDS, customers=["B", "C"])
    assert set(got.customer_id) == {"B", "C"}
    agg = panel.aggregate(hand, window_days=W, resolution_days=R, tenure_bands=BANDS, customers=["B"])
    assert agg["events"].sum() == 1 and agg["exposure_days"].sum() == pytest.approx(5.25)


def test_bad_parameters_raise(hand):
    with pytest.raises(ValueError):
        panel.intervals(hand, window_days=0)
    with pytest.raises(ValueError):
        panel.aggregate(hand, tenure_bands=(5, 90))
    with pytest.raises(ValueError):
        panel.aggregate(hand, count_cap=0)


def _day_by_day(customers: pd.DataFrame, interactions: pd.DataFrame, as_of, window, resolution, bands):
    """An independent, slow computation: every customer-day with its counts, straight from the definitions."""
    it = interactions.copy()
    it["day"] = it["at"].dt.floor("D")
    bad = it[(it.kind == "experience") & (it.outcome == "bad")]
    fix = it[(it.kind == "service") & (it.resolved == True) & (it.touchpoint != "how_to")]  # noqa: E712
    resolved_on = []
    for row in bad.itertuples():
        f = fix[(fix.customer_id == row.customer_id) & (fix.touchpoint == row.touchpoint)]
        f = f[(f.day >= row.day) & (f.day <= row.day + pd.Timedelta(days=resolution))]
        resolved_on.append(f.day.min() if len(f) else pd.NaT)
    bad = bad.assign(resolved_on=resolved_on)
    day_ns = 86_400 * 10**9
    rows = []
    for c in customers.itertuples():
        if c.signup_at >= as_of:
            continue
        end = as_of if pd.isna(c.churned_at) or c.churned_at > as_of else c.churned_at
        s0 = c.signup_at.floor("D")
        b = bad[bad.customer_id == c.customer_id]
        days = pd.date_range(s0, end, freq="D", inclusive="left")  # every calendar day at risk
        d = days.to_numpy()[:, None]
        e = b.day.to_numpy()[None, :]
        r = b.resolved_on.to_numpy()[None, :]
        one, win = np.timedelta64(1, "D"), np.timedelta64(window, "D")
        in_window = (e + one <= d) & (d <= e + win)
        res = ~np.isnat(r) & (r + one <= d)
        start = np.maximum(days.to_numpy(), np.datetime64(c.signup_at))
        stop = np.minimum(days.to_numpy() + one, np.datetime64(end))
        exposure = (stop - start).astype("timedelta64[ns]").astype(np.int64) / day_ns
        tenure = (days - s0).days
        for t, u, k, x in zip(tenure, (in_window & ~res).sum(axis=1), (in_window & res).sum(axis=1), exposure):
            rows.append((c.segment, panel.tenure_band_of(t, bands), int(u), int(k), x))
    frame = pd.DataFrame(rows, columns=["segment", "tenure_band", "unresolved", "resolved", "exposure_days"])
    return frame.groupby(["segment", "tenure_band", "unresolved", "resolved"], as_index=False)["exposure_days"].sum()


def test_panel_matches_a_day_by_day_computation(tiny_world):  # noqa: F811
    path, truth = tiny_world
    as_of = pd.Timestamp(truth["as_of"]).tz_localize(None)
    with cxlib.load(path, as_of=as_of) as data:
        ids = sorted(data.customers["customer_id"])[:150]
        agg = panel.aggregate(data, count_cap=50, customers=ids)
        customers = data.customers[data.customers.customer_id.isin(ids)]
        interactions = data.interactions[data.interactions.customer_id.isin(ids)]
        slow = _day_by_day(customers, interactions, as_of, 90, 3, panel.TENURE_BANDS)
        churned = int((customers.churned_at <= as_of).sum())
    keys = ["segment", "tenure_band", "unresolved", "resolved"]
    merged = agg.merge(slow, on=keys, how="outer", suffixes=("", "_slow")).fillna(0.0)
    assert (merged["unresolved"] > 0).any() and (merged["resolved"] > 0).any()  # the check has teeth
    np.testing.assert_allclose(merged["exposure_days"], merged["exposure_days_slow"], atol=1e-6)
    assert agg["events"].sum() == churned


def test_metrics_and_the_panel_count_the_same_customers_at_a_signup_moment(tmp_path):
    """At a moment equal to a signup (C's, Dec 20 18:00) that customer is not yet known: one rule, features/sql.py's."""
    from cxlib.features import metrics

    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "interactions.csv").write_text(INTERACTIONS)
    with cxlib.load(tmp_path, as_of="2024-12-20 18:00:00") as data:
        iv = panel.intervals(data, window_days=W, resolution_days=R, tenure_bands=BANDS)
        known = set(iv["customer_id"])
        active = known - set(iv.loc[iv["event"], "customer_id"])
        assert known == {"A", "B"} and active == {"A"}  # C signs up at as_of: no time at risk yet
        recent = metrics.recent_bad_experiences(data, window_days=W, resolution_days=R)
        assert int(recent["customers"].sum()) == len(active)
        journeys = metrics.journey_transitions(data)
        assert int(journeys.loc[journeys["from_step"] == metrics.START, "from_total"].iloc[0]) == len(known)


@pytest.mark.parametrize("terms", ["pooled", "touchpoint"])
def test_a_panel_aggregated_in_parts_of_customers_is_the_whole_one(small_world, monkeypatch, terms):
    """Past PANEL_PART_CUSTOMERS the panel is built in parts of customers and summed: the same table."""
    with cxlib.load(small_world) as data:
        settings = dict(engagement=True, window_experiences=True, terms=terms,
                        touchpoints=panel.bad_touchpoints(data) if terms == "touchpoint" else ())
        whole = panel.aggregate(data, **settings)
        monkeypatch.setattr(scope, "PANEL_PART_CUSTOMERS", 700)
        assert len(scope.customer_parts(data)) == 3
        parts = panel.aggregate(data, **settings)
    assert len(whole) > 100 and whole["events"].sum() > 50
    pd.testing.assert_frame_equal(parts.drop(columns="exposure_days"), whole.drop(columns="exposure_days"))
    np.testing.assert_allclose(parts["exposure_days"], whole["exposure_days"], rtol=1e-12)


@pytest.mark.parametrize("settings", [
    {},
    {"engagement": True},
    {"engagement": True, "window_experiences": True},
    {"engagement": True, "window_experiences": True, "terms": "touchpoint"},
    {"terms": "days_since", "engagement": True},
    {"good": True, "engagement": True, "window_experiences": True},
], ids=["pooled", "rate", "rate-and-count", "touchpoint", "days-since", "good"])
def test_running_counts_in_numpy_give_the_sql_windows_table(small_world, settings):
    """On DuckDB the running counts are summed in numpy (features/running.py): the SQL window's table exactly."""
    with cxlib.load(small_world) as data:
        if settings.get("terms") == "touchpoint":
            settings = {**settings, "touchpoints": panel.bad_touchpoints(data)}
        in_numpy = panel.aggregate(data, **settings)
        in_sql = panel.aggregate(data, running_in_numpy=False, **settings)
    assert len(in_sql) > 20 and in_sql["events"].sum() > 50 and in_sql["intervals"].sum() > 1000
    pd.testing.assert_frame_equal(in_numpy.drop(columns="exposure_days"), in_sql.drop(columns="exposure_days"))
    np.testing.assert_allclose(in_numpy["exposure_days"], in_sql["exposure_days"], rtol=1e-12)


def test_running_counts_in_numpy_of_a_sample_give_the_sql_windows_table(small_world):
    """A sample of ids (a view joined by its text ids) numbered for the numpy step: the SQL window's table."""
    with cxlib.load(small_world) as data:
        sample = panel.sample_customers(data, 900, seed=3)
        settings = dict(engagement=True, window_experiences=True, customers=sample)
        in_numpy = panel.aggregate(data, **settings)
        in_sql = panel.aggregate(data, running_in_numpy=False, **settings)
        everyone = panel.aggregate(data, engagement=True, window_experiences=True)
    assert in_sql["events"].sum() > 20 and in_sql["intervals"].sum() < everyone["intervals"].sum()
    pd.testing.assert_frame_equal(in_numpy.drop(columns="exposure_days"), in_sql.drop(columns="exposure_days"))
    np.testing.assert_allclose(in_numpy["exposure_days"], in_sql["exposure_days"], rtol=1e-12)


def test_running_counts_sum_each_customers_changes_from_zero():
    from cxlib.features.running import running_counts

    table = running_counts(np.array([1, 1, 1, 2, 2]), np.array([10, 12, 15, 10, 11]),
                           {"unresolved": np.array([1, 1, -1, 2, -1])}).to_pandas()
    assert table["unresolved"].tolist() == [1, 2, 1, 2, 1]  # customer 2 starts from 0, not from customer 1's 1
    assert table["next_d"].isna().tolist() == [False, False, True, False, True]
    assert str(table["next_d"].iloc[0]) == "1970-01-13" and str(table["d"].iloc[3]) == "1970-01-11"
    with pytest.raises(ValueError, match="sorted"):
        running_counts(np.array([1, 1]), np.array([12, 10]), {"unresolved": np.array([1, -1])})
    with pytest.raises(ValueError, match="sorted"):
        running_counts(np.array([2, 1]), np.array([10, 12]), {"unresolved": np.array([1, -1])})


def test_running_counts_sum_the_change_points_of_one_day():
    from cxlib.features.running import running_counts

    table = running_counts(np.array([1, 1, 1, 1]), np.array([10, 12, 12, 15]),
                           {"unresolved": np.array([1, 1, -1, -1])}).to_pandas()
    assert table["unresolved"].tolist() == [1, 1, 0] and len(table) == 3
    assert str(table["next_d"].iloc[0]) == "1970-01-13"
