"""The ROI engine's paths (cxlib.models.roi_paths) and its stacked runs: the same numbers as one by one, day by day."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cxlib
from cxlib.analyses import roi
from cxlib.models.churn import ChurnModel
from cxlib.models.roi_paths import Segments, sorted_unique_rows


def test_sorted_unique_rows_are_numpys():
    rng = np.random.default_rng(3)
    for n, width in ((1, 1), (500, 3), (5_000, 7)):
        a = rng.integers(-3, 4, size=(n, width))
        a[: n // 2, 1:] = -1  # many rows alike, as customers without a known bad experience
        rows, inverse = sorted_unique_rows(a)
        expected, expected_inverse = np.unique(a, axis=0, return_inverse=True)
        assert np.array_equal(rows, expected)
        assert np.array_equal(inverse, expected_inverse.ravel())
    rows, inverse = sorted_unique_rows(np.zeros((0, 4), dtype=np.int64))
    assert rows.shape == (0, 4) and len(inverse) == 0


def _day_by_day(codes, h, x):
    """Per path: cumulative hazard and days alive (midpoint rule), summed day by day."""
    hh = h[codes, np.arange(codes.shape[1])[None, :]] * x[None, :]
    C = np.cumsum(hh, axis=1)
    return C[:, -1], (np.exp(-(C - 0.5 * hh)) * x[None, :]).sum(axis=1)


def test_steady_segments_in_closed_form_equal_the_day_by_day_sum():
    """After ``dense_days`` a state's hazard per unit of exposure is constant: a segment there is one
    geometric sum, which must equal the midpoint rule day by day (partial first and last days included)."""
    rng = np.random.default_rng(5)
    n_paths, n_days, n_states, dense = 300, 120, 9, 40
    codes = np.sort(rng.integers(0, n_states, size=(n_paths, n_days)), axis=1)  # a few changes of state each
    codes[::7] = rng.integers(0, n_states, size=(1, 1))  # paths of one state throughout
    rate = rng.uniform(1e-4, 5e-2, size=n_states)
    h = np.repeat(rate[:, None], n_days, axis=1)
    h[:, :dense] *= rng.uniform(0.5, 2.0, size=(n_states, dense))  # varying before the steady zone
    x = np.ones(n_days)
    x[0], x[-1] = 0.3, 0.6
    C_true, alive_true = _day_by_day(codes, h, x)
    seg = Segments(codes, split_at=(25,), dense_days=dense, x=x)
    assert len(seg._s_path) > n_paths, "segments in the steady zone"
    # hazards by state, day-major, over the dense days only; the steady rate per state
    dense_h = (h[seg.state_codes, :dense] * x[None, :dense]).T[None]
    C, C_early, days_alive, late_alive = seg.path_sums(dense_h, x, rate[seg.state_codes][None, :], split=25)
    np.testing.assert_allclose(C[0], C_true, rtol=1e-12)
    np.testing.assert_allclose(days_alive[0], alive_true, rtol=1e-12)
    hh = h[codes, np.arange(n_days)[None, :]] * x[None, :]
    np.testing.assert_allclose(C_early[0], hh[:, :25].sum(axis=1), rtol=1e-12)
    C_all = np.cumsum(hh, axis=1)
    late = (np.exp(-(C_all - 0.5 * hh)) * x[None, :])[:, 25:].sum(axis=1)
    np.testing.assert_allclose(late_alive[0], late, rtol=1e-12)
    # the same, summed day by day over every day
    full = Segments(codes, split_at=(25,))
    C_d, _, alive_d, _ = full.path_sums((h[full.state_codes] * x[None, :]).T[None], x, split=25)
    np.testing.assert_allclose(C_d[0], C_true, rtol=1e-12)
    np.testing.assert_allclose(alive_d[0], alive_true, rtol=1e-12)


@pytest.fixture(scope="module")
def prepared(small_world):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = cxlib.load(small_world)
        model = ChurnModel().fit(data)
        p = roi.prepare(data, model=model, draws=6, seed=4)
    yield p
    data.close()


def test_stacked_runs_equal_runs_one_by_one(prepared):
    """Engine.run_many stacks runs in batches; each run's numbers are the ones it has alone, to the last bit."""
    p, e = prepared, prepared.engine
    assert e.n_class > 1 and e.n_groups > 0, "engagement classes and known bad experiences"
    inps = []
    for b in range(p.draws + 1):
        le, ls, q = p.base_rates(b)
        inps += [p.inputs(b, le, ls, q), p.inputs(b, 0.5 * le, 0.5 * ls, q), p.inputs(b, le, ls, min(1.0, 1.5 * q))]
    one = np.array([e.run(inp) for inp in inps])
    cells = len(e._common.state_codes) * e.dense_days + len(e._known.state_codes) * e.Wk
    for per_batch in (2, 5, len(inps)):
        e.BATCH_CELLS = per_batch * cells
        value_months, survivors = e.run_many(inps)
        assert np.array_equal(value_months, one[:, 0]) and np.array_equal(survivors, one[:, 1]), per_batch
    del e.BATCH_CELLS  # back to the class's


def test_prepared_runs_many_once_each(prepared):
    """Prepared.run_many evaluates each distinct request once and keeps it (a repeated request is free)."""
    p = prepared.subset(3)
    p._runs = {}
    le, ls, q = p.base_rates(1)
    requests = [(1, le, ls, q, None), (1, le, ls, q, None), (2, *p.base_rates(2), None)]
    out = p.run_many(requests)
    assert len(p._runs) == 2 and out[0] == out[1] == p.run(1, le, ls, q)
    assert out[2] == p.engine.run(p.inputs(2, *p.base_rates(2)))
