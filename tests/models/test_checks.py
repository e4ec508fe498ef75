"""The Cox cross-check's long table: back-to-back intervals that differ only in their times are one for Cox."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.models.checks import fit_cox, merge_unchanged


def _split_world(seed: int = 3, customers: int = 300) -> pd.DataFrame:
    """Customers with a fixed covariate and one that changes once (for half of them), their time also cut
    where nothing changes."""
    rng = np.random.default_rng(seed)
    rows = []
    for cid in range(customers):
        x = float(rng.integers(0, 2))
        end = float(rng.uniform(50, 400))
        change = float(rng.uniform(10, end - 5))
        cuts = sorted({*rng.uniform(1, end - 1, size=3).round(1), round(change, 1)})
        edges = [0.0, *cuts, end]
        churn = rng.random() < (0.3 + 0.3 * x)
        changes = rng.random() < 0.5  # half the customers' z changes at `change`, the others' never
        for a, b in zip(edges[:-1], edges[1:]):
            if b > a:
                rows.append((cid, a, b, 0, x, float(changes and a >= round(change, 1))))
        rows[-1] = (*rows[-1][:3], int(churn), *rows[-1][4:])
    return pd.DataFrame(rows, columns=["customer_id", "start", "stop", "event", "x", "z"])


def test_merged_intervals_give_the_same_cox_fit_on_fewer_rows():
    long = _split_world()
    merged = merge_unchanged(long)
    assert len(merged) < len(long) * 0.75, "the cuts where nothing changes are gone"
    assert merged["event"].sum() == long["event"].sum() and merged["customer_id"].nunique() == long["customer_id"].nunique()
    spans = lambda t: (t["stop"] - t["start"]).groupby(t["customer_id"]).sum()  # noqa: E731
    pd.testing.assert_series_equal(spans(merged), spans(long))
    same = merged.groupby("customer_id")["z"].nunique()
    assert (same <= 2).all() and (merged.groupby("customer_id").size() == same).all(), \
        "one interval per value of the changing covariate"
    full, short = fit_cox(long).summary, fit_cox(merged).summary
    np.testing.assert_allclose(short["coef"], full["coef"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(short["se(coef)"], full["se(coef)"], rtol=1e-9, atol=1e-12)


def test_nothing_to_merge_leaves_the_table_as_it_is():
    long = _split_world().drop_duplicates("customer_id", keep="last").reset_index(drop=True)
    pd.testing.assert_frame_equal(merge_unchanged(long), long)
    assert merge_unchanged(long.iloc[:0]).empty
