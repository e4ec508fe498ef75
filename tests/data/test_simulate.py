"""Tests of cxlib.data.simulate: determinism, the data contract, recovery of the truth, CRN."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxlib.data.simulate import (
    CUSTOMER_COLUMNS,
    INTERACTION_COLUMNS,
    SimulationConfig,
    simulate,
    truth,
    write_dataset,
)

DAY = 86_400
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def frames(n, seed=0, config=None, chunk_size=20_000):
    parts = list(simulate(n, seed=seed, config=config, chunk_size=chunk_size))
    customers = pd.concat([c for c, _ in parts], ignore_index=True)
    interactions = pd.concat([i for _, i in parts], ignore_index=True)
    return customers, interactions


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def binomial_ok(successes, trials, p, z=4.0):
    """Observed share within z standard errors of p."""
    se = math.sqrt(p * (1 - p) / trials)
    return abs(successes / trials - p) <= z * se


@pytest.fixture(scope="module")
def base():
    return frames(5_000, seed=7, chunk_size=1_500)


@pytest.fixture(scope="module")
def big():
    """20,000 customers: enough events to check the hazard model."""
    return frames(20_000, seed=11)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, fmt):
    names = [f"customers.{fmt}", f"interactions.{fmt}", "truth.json"]
    write_dataset(tmp_path / "a", 1_200, seed=3, fmt=fmt, chunk_size=500)
    write_dataset(tmp_path / "b", 1_200, seed=3, fmt=fmt, chunk_size=500)
    write_dataset(tmp_path / "c", 1_200, seed=4, fmt=fmt, chunk_size=500)
    for name in names:
        assert digest(tmp_path / "a" / name) == digest(tmp_path / "b" / name), name
    for name in names[:2]:
        assert digest(tmp_path / "a" / name) != digest(tmp_path / "c" / name), name


def test_csv_and_parquet_hold_the_same_data(tmp_path):
    write_dataset(tmp_path / "csv", 800, seed=5, fmt="csv", chunk_size=300)
    write_dataset(tmp_path / "pq", 800, seed=5, fmt="parquet", chunk_size=300)
    for name in ("customers", "interactions"):
        text = pd.read_csv(tmp_path / "csv" / f"{name}.csv", dtype=str, keep_default_na=False)
        table = pq.read_table(tmp_path / "pq" / f"{name}.parquet").to_pandas()
        assert list(text.columns) == list(table.columns)
        for col in ("signup_at", "churned_at", "at"):
            if col in text:
                parsed = pd.to_datetime(text[col].replace("", None), utc=True, format="ISO8601")
                pd.testing.assert_series_equal(parsed, table[col].astype(parsed.dtype), check_names=False)
        for col in ("customer_id", "interaction_id", "segment", "kind", "channel", "outcome"):
            if col in text:
                assert (text[col] == table[col]).all()


def test_chunks_do_not_overlap_and_simulate_matches_in_memory():
    customers, interactions = frames(2_500, seed=1, chunk_size=1_000)
    assert customers.customer_id.is_unique and len(customers) == 2_500
    assert interactions.interaction_id.is_unique
    again, _ = frames(2_500, seed=1, chunk_size=1_000)
    pd.testing.assert_frame_equal(customers, again)


# --------------------------------------------------------------------------- contract


def test_files_obey_the_contract(tmp_path):
    write_dataset(tmp_path, 1_500, seed=2, fmt="csv", chunk_size=700)
    customers = pd.read_csv(tmp_path / "customers.csv", dtype=str, keep_default_na=False)
    interactions = pd.read_csv(tmp_path / "interactions.csv", dtype=str, keep_default_na=False)
    assert tuple(customers.columns) == CUSTOMER_COLUMNS
    assert tuple(interactions.columns) == INTERACTION_COLUMNS
    assert customers.customer_id.str.fullmatch(r"\d{7}").all()
    assert customers.customer_id.iloc[0] == "0000001"
    assert customers.customer_id.is_unique
    assert interactions.interaction_id.is_unique
    assert interactions.customer_id.isin(customers.customer_id).all()
    assert customers.signup_at.str.match(ISO).all()
    assert interactions["at"].str.match(ISO).all()
    churned = customers.churned_at[customers.churned_at != ""]
    assert len(churned) > 0 and churned.str.match(ISO).all()
    assert set(interactions.resolved[interactions.kind == "service"]) == {"true", "false"}
    assert set(interactions.resolved[interactions.kind == "experience"]) == {""}
    assert set(interactions.csat) <= {"", "1", "2", "3", "4", "5"}
    assert set(interactions.nps) <= {"", *map(str, range(11))}

    schema_c = pq.read_schema
    write_dataset(tmp_path / "pq", 300, seed=2, fmt="parquet")
    sc = schema_c(tmp_path / "pq" / "customers.parquet")
    si = schema_c(tmp_path / "pq" / "interactions.parquet")
    assert sc.field("customer_id").type == pa.string()
    assert sc.field("signup_at").type == pa.timestamp("us", tz="UTC")
    assert si.field("at").type == pa.timestamp("us", tz="UTC")
    assert si.field("resolved").type == pa.bool_()
    assert pa.types.is_integer(si.field("csat").type) and pa.types.is_integer(si.field("nps").type)


def test_values_obey_the_rules(base):
    customers, interactions = base
    assert list(customers.columns) == list(CUSTOMER_COLUMNS)
    assert list(interactions.columns) == list(INTERACTION_COLUMNS)
    start, as_of = pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2026-01-01", tz="UTC")
    assert (customers.signup_at >= start).all() and (customers.signup_at < as_of).all()
    churned = customers.churned_at.notna()
    assert 0.1 < churned.mean() < 0.6
    assert (customers.churned_at[churned] >= customers.signup_at[churned]).all()
    assert (customers.churned_at[churned] < as_of).all()
    assert set(customers.segment) == {"consumer", "smb", "enterprise"}
    assert (customers.monthly_value >= 0).all()

    merged = interactions.merge(customers, on="customer_id", how="left", validate="many_to_one")
    assert (merged["at"] >= merged.signup_at).all()
    assert (merged.churned_at.isna() | (merged["at"] <= merged.churned_at)).all()
    assert (merged["at"] < as_of).all()
    assert set(interactions.kind) == {"experience", "service"}
    assert set(interactions.outcome) == {"good", "neutral", "bad"}
    experience = interactions.kind == "experience"
    assert set(interactions.channel[experience]) == {"web", "app", "store", "email", "mail"}
    assert set(interactions.channel[~experience]) == {"phone", "chat", "email"}
    assert interactions.resolved[experience].isna().all() and interactions.resolved[~experience].notna().all()
    assert interactions.first_response_minutes[experience].isna().all()
    assert interactions.cost[experience].isna().all()
    assert (interactions.first_response_minutes[~experience] >= 0).all()
    assert set(interactions.cost[~experience]) == {6.0, 3.5, 2.5}
    csat, nps = interactions.csat.dropna(), interactions.nps.dropna()
    assert csat.between(1, 5).all() and nps.between(0, 10).all()
    assert interactions.nps[~experience].isna().all()
    assert 0.25 < interactions.csat[~experience].notna().mean() < 0.35
    assert 0.08 < interactions.csat[experience].notna().mean() < 0.12
    assert interactions.interaction_id.str.fullmatch(r"I\d{9}").all()


def test_onboarding_once_after_signup_and_clock_skew(base):
    customers, interactions = base
    on = interactions[(interactions.touchpoint == "onboarding") & (interactions.kind == "experience")]
    on = on.merge(customers, on="customer_id")
    assert on.customer_id.is_unique
    assert ((on["at"] >= on.signup_at) & (on["at"] < on.signup_at + pd.Timedelta(days=2))).all()
    missing = customers[~customers.customer_id.isin(on.customer_id)]
    assert (missing.churned_at < missing.signup_at + pd.Timedelta(days=2)).all()
    # a same-day contact often carries a time before its experience's
    service = interactions[(interactions.kind == "service") & (interactions.touchpoint != "how_to")]
    bad = interactions[(interactions.kind == "experience") & (interactions.outcome == "bad")]
    pairs = service.assign(key=service.interaction_id.str[1:].astype(int) - 1).merge(
        bad.assign(key=bad.interaction_id.str[1:].astype(int)), on="key", suffixes=("", "_exp"))
    assert len(pairs) == len(service)  # every such contact follows a bad experience
    assert (pairs.touchpoint == pairs.touchpoint_exp).all()
    delay = (pairs["at"].dt.floor("D") - pairs.at_exp.dt.floor("D")).dt.days
    assert delay.between(0, 10).all()
    assert (pairs["at"] < pairs.at_exp).mean() > 0.1


# --------------------------------------------------------------------------- truth recovered


def test_bad_rates_recovered(big):
    _, interactions = big
    cfg = SimulationConfig()
    exp = interactions[interactions.kind == "experience"]
    for tp, group in exp.groupby("touchpoint"):
        assert binomial_ok((group.outcome == "bad").sum(), len(group), cfg.expected_bad_rate(tp)), tp
    billing = exp[exp.touchpoint == "billing"]
    for ch, p in cfg.touchpoints["billing"]["bad_rate"].items():
        rows = billing[billing.channel == ch]
        assert binomial_ok((rows.outcome == "bad").sum(), len(rows), p), ch
    share = billing.channel.value_counts(normalize=True)
    assert abs(share["mail"] - 0.2) < 0.02


def test_contact_and_resolution_recovered(big):
    customers, interactions = big
    cfg = SimulationConfig()
    service = interactions[interactions.kind == "service"]
    after_bad = service[service.touchpoint != "how_to"]
    for ch, group in after_bad.groupby("channel"):
        assert binomial_ok(group.resolved.sum(), len(group), cfg.p_resolve[ch]), ch
    routine = service[service.touchpoint == "how_to"]
    assert binomial_ok(routine.resolved.sum(), len(routine), cfg.routine_p_resolve)
    # p_contact: bad experiences early enough that a contact, if any, lies in the period, of
    # customers who never churn (so no contact was dropped); the contact's id follows the experience's
    active = set(customers.customer_id[customers.churned_at.isna()])
    bad = interactions[(interactions.kind == "experience") & (interactions.outcome == "bad")
                       & (interactions["at"] < pd.Timestamp("2025-12-01", tz="UTC"))
                       & interactions.customer_id.isin(active)]
    contact_ids = set(after_bad.interaction_id)
    followed = bad.interaction_id.map(lambda i: f"I{int(i[1:]) + 1:09d}" in contact_ids)
    assert binomial_ok(followed.sum(), len(bad), cfg.p_contact)


def _day_panel(customers, interactions, cfg):
    """An independent per-customer-day expansion: exposure, churn event and U, R per day."""
    start = pd.Timestamp(cfg.start)
    days = cfg.days
    cid = {c: k for k, c in enumerate(customers.customer_id)}
    n = len(customers)
    signup = ((customers.signup_at - start).dt.total_seconds()).to_numpy()
    churn = ((customers.churned_at - start).dt.total_seconds()).to_numpy()  # NaN if active
    end = np.where(np.isnan(churn), days * DAY, churn)
    # exposure of each day: overlap of [d, d+1) with [signup, end)
    day_lo = np.arange(days) * DAY
    exposure = np.clip(np.minimum(end[:, None], day_lo + DAY) - np.maximum(signup[:, None], day_lo), 0, None) / DAY
    event = np.zeros((n, days))
    churned = ~np.isnan(churn)
    event[np.flatnonzero(churned), (churn[churned] // DAY).astype(int)] = 1

    # resolution day of each bad experience, by the definition (merge, filter, earliest)
    exp = interactions[(interactions.kind == "experience") & (interactions.outcome == "bad")]
    bad = pd.DataFrame({"c": exp.customer_id.map(cid).to_numpy(), "tp": exp.touchpoint.to_numpy(),
                        "e": ((exp["at"] - start).dt.total_seconds() // DAY).astype(int).to_numpy()})
    bad["k"] = np.arange(len(bad))
    svc = interactions[(interactions.kind == "service") & (interactions.resolved == True)  # noqa: E712
                       & (interactions.touchpoint != "how_to")]
    res = pd.DataFrame({"c": svc.customer_id.map(cid).to_numpy(), "tp": svc.touchpoint.to_numpy(),
                        "r": ((svc["at"] - start).dt.total_seconds() // DAY).astype(int).to_numpy()})
    m = bad.merge(res, on=["c", "tp"])
    m = m[(m.r >= m.e) & (m.r <= m.e + cfg.resolution_days)]
    first = m.groupby("k").r.min()
    bad["r"] = first.reindex(bad.k).fillna(-1).astype(int).to_numpy()

    # expand each bad experience over its window days, status per day
    offsets = np.arange(1, cfg.window_days + 1)
    d = bad.e.to_numpy()[:, None] + offsets[None, :]
    resolved_day = bad.r.to_numpy()[:, None]
    is_res = (resolved_day >= 0) & (d > resolved_day)
    c = np.broadcast_to(bad.c.to_numpy()[:, None], d.shape)
    inside = d < days
    U = np.zeros(n * days)
    R = np.zeros(n * days)
    np.add.at(U, (c * days + d)[inside & ~is_res], 1)
    np.add.at(R, (c * days + d)[inside & is_res], 1)
    tenure = np.arange(days)[None, :] - (signup // DAY)[:, None]
    return exposure, event, U.reshape(n, days), R.reshape(n, days), tenure


def _true_rate(customers, U, R, tenure, cfg):
    """The daily hazard rate of the configured model, from an independent panel."""
    band = np.searchsorted(np.array(cfg.tenure_band_starts), np.maximum(tenure, 0), side="right") - 1
    base = customers.segment.map(cfg.base_daily_hazard()).to_numpy()[:, None]
    return base * np.array(cfg.tenure_hr)[band] * cfg.hr_unresolved**U * cfg.hr_resolved**R


def test_churn_times_replay_exactly_from_the_rows():
    """Rebuild every churn time from the written rows, the configured model and the Exp(1)
    thresholds (replayed from the documented draw order): the resolution rule, the tenure
    bands and the exposure must be exactly design.md's for the times to match."""
    cfg = SimulationConfig()
    n, chunk, seed = 3_000, 1_000, 13
    customers, interactions = frames(n, seed=seed, chunk_size=chunk)
    thresholds = []
    for k in range(n // chunk):
        rng = np.random.default_rng(np.random.SeedSequence([seed, k]))
        rng.random(chunk), rng.random(chunk), rng.standard_normal(chunk)  # signup, segment, value
        thresholds.append(rng.standard_exponential(chunk))
    thr = np.concatenate(thresholds)

    _, _, U, R, tenure = _day_panel(customers, interactions, cfg)
    start = pd.Timestamp(cfg.start)
    signup = (customers.signup_at - start).dt.total_seconds().to_numpy()
    day_lo = np.arange(cfg.days) * DAY
    exposure = np.clip(day_lo + DAY - np.maximum(signup[:, None], day_lo), 0, DAY) / DAY  # until as_of
    rate = _true_rate(customers, U, R, tenure, cfg)
    H = np.cumsum(rate * exposure, axis=1)
    churns = H[:, -1] >= thr
    churned = customers.churned_at.notna().to_numpy()
    assert churned.sum() > 500
    assert (churns == churned).all()
    rows = np.flatnonzero(churned)
    d = np.argmax(H[rows] >= thr[rows, None], axis=1)
    before = np.where(d > 0, H[rows, np.maximum(d - 1, 0)], 0.0)
    begin = np.maximum(d * DAY, signup[rows])
    predicted = begin + (thr[rows] - before) / rate[rows, d] * DAY
    actual = (customers.churned_at[churned] - start).dt.total_seconds().to_numpy()
    assert np.abs(predicted - actual).max() <= 1.0


def test_hazard_model_recovered(big):
    customers, interactions = big
    cfg = SimulationConfig()
    exposure, event, U, R, tenure = _day_panel(customers, interactions, cfg)
    at_risk = exposure > 0
    band = np.searchsorted(np.array(cfg.tenure_band_starts), tenure, side="right") - 1
    seg = np.broadcast_to(customers.segment.to_numpy()[:, None], exposure.shape)

    # the base rate, directly: consumers, reference tenure band, no bad experience in the window
    cell = at_risk & (seg == "consumer") & (band == 1) & (U == 0) & (R == 0)
    events, time = event[cell].sum(), exposure[cell].sum()
    base = cfg.base_daily_hazard()["consumer"]
    assert events > 300
    assert abs(events / time - base) < 4 * math.sqrt(events) / time
    monthly = 1 - math.exp(-events / time * cfg.month_days)
    assert abs(monthly - 0.03) < 0.006

    # a Poisson regression on sufficient statistics recovers the hazard ratios
    frame = pd.DataFrame({"seg": seg[at_risk], "band": band[at_risk], "U": U[at_risk], "R": R[at_risk],
                          "y": event[at_risk], "t": exposure[at_risk]})
    agg = frame.groupby(["seg", "band", "U", "R"], as_index=False)[["y", "t"]].sum()
    X = np.column_stack([
        (agg.seg == s).to_numpy(float) for s in cfg.segment_shares
    ] + [(agg.band == 0).to_numpy(float), (agg.band == 2).to_numpy(float), agg.U.to_numpy(), agg.R.to_numpy()])
    y, t = agg.y.to_numpy(), agg.t.to_numpy()
    beta = np.array([math.log(0.001)] * 3 + [0.0] * 4)
    for _ in range(50):
        mu = t * np.exp(X @ beta)
        step = np.linalg.solve(X.T @ (X * mu[:, None]), X.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    se = np.sqrt(np.diag(np.linalg.inv(X.T @ (X * (t * np.exp(X @ beta))[:, None]))))
    true = [math.log(v) for v in cfg.base_daily_hazard().values()] + [
        math.log(cfg.tenure_hr[0]), math.log(cfg.tenure_hr[2]),
        math.log(cfg.hr_unresolved), math.log(cfg.hr_resolved)]
    z = (beta - np.array(true)) / se
    assert np.all(np.abs(z) < 4), (beta, se, z)
    assert se[5] < 0.05  # hr_unresolved is estimated precisely enough to mean something


# --------------------------------------------------------------------------- common random numbers


def _key(rows):
    return rows.set_index("interaction_id")


def test_service_intervention_common_random_numbers():
    base_c, base_i = frames(5_000, seed=21, chunk_size=2_000)
    cfg = SimulationConfig().with_p_resolve(0.95)
    assert cfg.p_resolve == {"phone": 0.95, "chat": 0.95, "email": 0.95}
    new_c, new_i = frames(5_000, seed=21, config=cfg, chunk_size=2_000)
    cols = ["customer_id", "signup_at", "segment", "monthly_value"]
    pd.testing.assert_frame_equal(base_c[cols], new_c[cols])
    # nobody churns earlier; the churn that remains can only move later
    old, new = base_c.churned_at, new_c.churned_at
    assert (new.isna() | old.notna()).all()
    both = old.notna() & new.notna()
    assert (new[both] >= old[both]).all()
    assert new.notna().sum() < old.notna().sum()
    # every baseline interaction happens too, the same except resolution (and csat)
    b, n = _key(base_i), _key(new_i)
    assert b.index.isin(n.index).all()
    common = n.loc[b.index]
    for col in ("customer_id", "at", "kind", "channel", "touchpoint", "first_response_minutes", "cost"):
        pd.testing.assert_series_equal(b[col], common[col], check_names=False)
    exp = b.kind == "experience"
    pd.testing.assert_series_equal(b.outcome[exp], common.outcome[exp])
    svc = ~exp
    assert (common.resolved[svc] >= b.resolved[svc]).all()
    assert common.resolved[svc].sum() > b.resolved[svc].sum()
    # the extra rows lie after the customer's baseline churn
    extra = n[~n.index.isin(b.index)].merge(base_c, on="customer_id")
    assert (extra["at"] > extra.churned_at).all()


def test_experience_intervention_common_random_numbers():
    no_churn = SimulationConfig().with_changes(base_monthly_churn={"consumer": 0.0, "smb": 0.0, "enterprise": 0.0})
    for cfg in (SimulationConfig(), no_churn):
        fixed = cfg.with_bad_rate("delivery", 0.03)
        assert fixed.touchpoints["delivery"]["bad_rate"] == {"app": 0.03, "email": 0.03}
        assert fixed.touchpoints["billing"] == cfg.touchpoints["billing"]
        _, base_i = frames(4_000, seed=5, config=cfg)
        _, new_i = frames(4_000, seed=5, config=fixed)
        bad = lambda f: f[(f.kind == "experience") & (f.outcome == "bad")]  # noqa: E731
        delivery = lambda f: f[f.touchpoint == "delivery"]  # noqa: E731
        assert len(delivery(bad(new_i))) < 0.5 * len(delivery(bad(base_i)))
        b, n = _key(base_i), _key(new_i)
        common = b.index.intersection(n.index)
        assert len(common) > 0.95 * len(b)
        exp = common[(b.loc[common].kind == "experience").to_numpy()]
        changed = b.loc[exp].outcome != n.loc[exp].outcome
        assert (b.loc[exp].touchpoint[changed] == "delivery").all()
        assert (b.loc[exp].outcome[changed] == "bad").all()
        if cfg is no_churn:
            assert set(bad(new_i).interaction_id) <= set(bad(base_i).interaction_id)
            assert set(n.index) <= set(b.index)  # fewer bad experiences, fewer contacts


def test_intervention_from_a_date_leaves_the_past_untouched(tmp_path):
    """Before the intervention's day both worlds are the same row for row; after it they differ."""
    cut = pd.Timestamp("2025-01-01", tz="UTC")
    cfg = SimulationConfig()
    better = cfg.with_p_resolve(0.95).with_bad_rate("delivery", 0.03)
    base_c, base_i = frames(3_000, seed=9)
    parts = list(simulate(3_000, seed=9, intervention=better, intervention_from="2025-01-01"))
    new_c = pd.concat([c for c, _ in parts], ignore_index=True)
    new_i = pd.concat([i for _, i in parts], ignore_index=True)
    before = lambda f: f[f["at"] < cut].set_index("interaction_id").sort_index()  # noqa: E731
    pd.testing.assert_frame_equal(before(base_i), before(new_i))
    churned_before = base_c.churned_at < cut
    pd.testing.assert_series_equal(base_c.churned_at[churned_before], new_c.churned_at[churned_before])
    active_at_cut = (base_c.signup_at < cut) & ~churned_before
    assert (active_at_cut == ((new_c.signup_at < cut) & ~(new_c.churned_at < cut))).all(), "same customers at the cut"
    after = lambda f: f[f["at"] >= cut]  # noqa: E731
    bad_delivery = lambda f: ((f.kind == "experience") & (f.outcome == "bad") & (f.touchpoint == "delivery")).sum()  # noqa: E731
    assert bad_delivery(after(new_i)) < 0.5 * bad_delivery(after(base_i))
    svc = lambda f: f[(f.kind == "service") & (f.touchpoint != "how_to")]  # noqa: E731
    assert svc(after(new_i)).resolved.mean() > svc(after(base_i)).resolved.mean() + 0.1
    assert new_c.churned_at.notna().sum() < base_c.churned_at.notna().sum()
    written = write_dataset(tmp_path, 200, seed=1, intervention=better, intervention_from="2025-01-01")
    assert written["intervention"]["from"] == "2025-01-01T00:00:00Z" and written["intervention"]["from_day"] == 366


def test_intervention_may_change_thresholds_only():
    cfg = SimulationConfig()
    with pytest.raises(ValueError, match="may change bad rates, p_contact and p_resolve only"):
        list(simulate(10, intervention=cfg.with_changes(base_monthly_churn={"consumer": 0.5})))
    with pytest.raises(ValueError, match="inside the simulated period"):
        list(simulate(10, intervention=cfg.with_p_resolve(0.9), intervention_from="2030-01-01"))


# --------------------------------------------------------------------------- truth and config


def test_truth_json(tmp_path):
    result = write_dataset(tmp_path, 600, seed=9, chunk_size=250)
    on_disk = json.loads((tmp_path / "truth.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    for key in ("n_customers", "seed", "start", "as_of", "chunk_size", "touchpoints", "bad_rate_by_touchpoint",
                "bad_rate_by_touchpoint_channel", "p_contact", "contact_delay_days", "p_resolve_by_channel",
                "p_resolve_expected", "hazard", "config", "realised"):
        assert key in on_disk, key
    assert on_disk["as_of"] == "2026-01-01T00:00:00Z" and on_disk["start"] == "2024-01-01T00:00:00Z"
    assert on_disk["bad_rate_by_touchpoint_channel"]["billing"]["mail"] == 0.12
    assert on_disk["bad_rate_by_touchpoint"]["billing"] == pytest.approx(0.5 * 0.05 + 0.3 * 0.05 + 0.2 * 0.12)
    assert on_disk["p_resolve_expected"] == pytest.approx(0.45 * 0.75 + 0.35 * 0.70 + 0.20 * 0.60)
    hazard = on_disk["hazard"]
    assert hazard["base_daily"]["consumer"] == pytest.approx(-math.log(0.97) / 30.4375)
    assert hazard["window_days"] == 90 and hazard["resolution_days"] == 3
    assert [b["hr"] for b in hazard["tenure_bands"]] == [1.5, 1.0, 0.8]
    realised = on_disk["realised"]
    assert realised["customers"] == 600
    customers = pd.read_csv(tmp_path / "customers.csv", dtype=str, keep_default_na=False)
    interactions = pd.read_csv(tmp_path / "interactions.csv", dtype=str, keep_default_na=False)
    assert realised["churned"] == (customers.churned_at != "").sum()
    assert realised["interactions"] == interactions.kind.value_counts().to_dict()
    assert SimulationConfig.from_dict(on_disk["config"]) == SimulationConfig()
    assert truth(None, n_customers=600, seed=9, chunk_size=250) == {
        k: v for k, v in result.items() if k not in ("realised", "format")}


def test_config_validation_and_changes():
    with pytest.raises(ValueError):
        SimulationConfig(p_contact=1.5)
    with pytest.raises(ValueError):
        SimulationConfig().with_changes(segment_shares={"consumer": 0.9})
    with pytest.raises(ValueError):
        SimulationConfig().with_bad_rate("nowhere", 0.1)
    with pytest.raises(TypeError):
        SimulationConfig().with_changes(no_such_field=1)
    cfg = SimulationConfig().with_changes(p_resolve={"phone": 0.9})
    assert cfg.p_resolve == {"phone": 0.9, "chat": 0.70, "email": 0.60}
    assert SimulationConfig().p_resolve["phone"] == 0.75  # the default is untouched
    assert dataclasses.replace(cfg, p_contact=0.3).p_contact == 0.3
    with pytest.raises(ValueError):
        list(simulate(10, chunk_size=0))
    with pytest.raises(ValueError):
        write_dataset("/nonexistent-never", 10, fmt="xlsx")


def test_zero_customers(tmp_path):
    result = write_dataset(tmp_path, 0, fmt="parquet")
    assert result["realised"]["customers"] == 0
    assert pq.read_table(tmp_path / "interactions.parquet").num_rows == 0
