"""What the metrics share: one aggregation in the data set's engine, the groupings (``by``), months.

- ``data`` is a loaded Dataset (or a SparkDataset); the aggregation runs in its engine through
  ``data.query`` and only the grouped result comes back to pandas;
- ``by`` names the grouping: ``"channel"``, ``"month"`` (calendar month of ``at``, UTC),
  ``"touchpoint"`` where it makes sense, a sequence of them, or ``None`` for one overall row;
- a group built on fewer than ``min_answers`` answers is kept and marked
  (``few_answers = True``), never dropped; months without any answer are listed too.
"""

from __future__ import annotations

import pandas as pd


def _query(data, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run one aggregation in ``data``'s engine: ``data.query`` (DuckDB or Spark).

    An object holding only a DuckDB connection ``con`` (a bare test double) is served too.
    """
    query = getattr(data, "query", None)
    if query is None:
        return data.con.execute(sql, params or {}).df()
    return query(sql, params)


MIN_ANSWERS = 30
_KEY_SQL = {
    "channel": '"channel"',
    "touchpoint": '"touchpoint"',
    "month": "CAST(date_trunc('month', \"at\") AS TIMESTAMP)",
}


def _keys(by, allowed=("channel", "month")) -> list[str]:
    if by is None:
        return []
    keys = [by] if isinstance(by, str) else list(by)
    for key in keys:
        if key not in allowed:
            raise ValueError(f"by takes {', '.join(allowed)} (or None), not {key!r}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"by repeats a column: {keys}")
    return keys


def _select_keys(keys) -> str:
    return "".join(f"{_KEY_SQL[k]} AS {k}, " for k in keys)


def _group_by(keys) -> str:
    return f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""


def _month_range(data) -> pd.DatetimeIndex:
    """Calendar months (UTC) from the first interaction's month to ``as_of``'s month."""
    first = _query(data, 'SELECT min("at") AS first FROM interactions')["first"].iloc[0]
    if first is None or pd.isna(first):
        return pd.DatetimeIndex([], name="month")
    start = pd.Timestamp(first).to_period("M").to_timestamp()
    end = (data.as_of - pd.Timedelta(microseconds=1)).to_period("M").to_timestamp()  # as_of itself is excluded
    return pd.date_range(start, max(start, end), freq="MS", name="month")


def _complete_months(data, frame: pd.DataFrame, keys: list[str], counts: list[str]) -> pd.DataFrame:
    """Add the months (× other key values) in which nothing was counted, with zero counts."""
    if "month" not in keys:
        return frame
    months = _month_range(data)
    others = [k for k in keys if k != "month"]
    if others:
        combos = frame[others].drop_duplicates()
        grid = combos.merge(pd.DataFrame({"month": months}), how="cross")
    else:
        grid = pd.DataFrame({"month": months})
    frame = frame.copy()
    frame["month"] = pd.to_datetime(frame["month"]).astype(grid["month"].dtype)
    out = grid.merge(frame, on=keys, how="left")
    for column in counts:
        out[column] = out[column].fillna(0).astype("int64")
    return out.sort_values(keys, kind="stable").reset_index(drop=True)[frame.columns.tolist()]


def _few(frame: pd.DataFrame, n: str, min_answers: int) -> pd.DataFrame:
    frame["few_answers"] = (frame[n] < int(min_answers)).astype(bool)
    return frame
