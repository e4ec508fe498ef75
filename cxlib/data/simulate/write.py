"""A simulated world as Arrow tables, pandas frames, and CSV or Parquet files with truth.json."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cxlib.data.contract import CUSTOMER_COLUMNS, INTERACTION_COLUMNS, KINDS, OUTCOMES, TYPES
from cxlib.data.simulate.config import SECONDS_PER_DAY, SimulationConfig
from cxlib.data.simulate.draws import Chunk, Params, check_args, draw_chunks, intervention_day
from cxlib.data.simulate.truth import iso_z, truth

FORMATS = ("csv", "parquet")
CUSTOMER_ID_WIDTH = 7
INTERACTION_ID_WIDTH = 9

#: The contract's column types (:data:`cxlib.data.contract.TYPES`) as Arrow types: timestamps
#: in microseconds, UTC.
ARROW_TYPES = {
    "text": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "integer": pa.int64(),
}
CUSTOMER_SCHEMA = pa.schema([(c, ARROW_TYPES[t]) for c, t in TYPES["customers"].items()])
INTERACTION_SCHEMA = pa.schema([(c, ARROW_TYPES[t]) for c, t in TYPES["interactions"].items()])


def _date_table(cfg: SimulationConfig) -> np.ndarray:
    start = cfg.start_datetime
    text = "".join((start + timedelta(days=d)).strftime("%Y-%m-%dT") for d in range(cfg.days))
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(cfg.days, 11)


_TIME_TABLE: np.ndarray | None = None


def _time_table() -> np.ndarray:
    global _TIME_TABLE
    if _TIME_TABLE is None:
        s = np.arange(SECONDS_PER_DAY)
        parts = [s // 36000, s // 3600 % 10, None, s // 600 % 6, s // 60 % 10, None, s % 60 // 10, s % 10, None]
        table = np.empty((SECONDS_PER_DAY, 9), dtype=np.uint8)
        for k, part in enumerate(parts):
            table[:, k] = ord(":") if part is None else part + ord("0")
        table[:, 8] = ord("Z")
        _TIME_TABLE = table
    return _TIME_TABLE


def _fixed_width_strings(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A string array from a (rows x width) uint8 matrix of ASCII characters."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    null_count = 0 if valid is None else int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.string(), n, [bitmap, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(chars))], null_count)


def _padded_ids(numbers: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """``prefix`` + the numbers zero-padded to ``width`` digits (wider when they need it)."""
    if len(numbers) and int(numbers.max()) >= 10**width:
        text = pa.compute.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
        return pa.compute.binary_join_element_wise(prefix, text, "") if prefix else text
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers[None, :] % 10 + ord("0")).astype(np.uint8)
    if prefix:
        head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
        digits = np.hstack([np.broadcast_to(head, (len(numbers), len(head))), digits])
    return _fixed_width_strings(digits)


def _timestamps(seconds: np.ndarray, start_epoch: int, text: bool, dates: np.ndarray,
                valid: np.ndarray | None = None) -> pa.Array:
    """Seconds since start as ``timestamp[us, UTC]`` or as ISO 8601 text ``...T..:..:..Z``."""
    if text:
        safe = seconds if valid is None else np.where(valid, seconds, 0)
        chars = np.hstack([dates[safe // SECONDS_PER_DAY], _time_table()[safe % SECONDS_PER_DAY]])
        return _fixed_width_strings(chars, valid)
    micros = (seconds + start_epoch) * 1_000_000
    return pa.array(micros, type=pa.int64(), mask=None if valid is None else ~valid).cast(ARROW_TYPES["timestamp"])


def _categories(names: list, codes: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.string()).take(pa.array(codes.astype(np.int32)))


def _chunk_tables(p: Params, chunk: Chunk, text_timestamps: bool, dates: np.ndarray) -> tuple[pa.Table, pa.Table]:
    start_epoch = int(p.cfg.start_datetime.timestamp())
    customer_ids = _padded_ids(chunk.number, CUSTOMER_ID_WIDTH)
    churned = chunk.churn >= 0
    customers = pa.table(
        [
            customer_ids,
            _timestamps(chunk.signup, start_epoch, text_timestamps, dates),
            _timestamps(chunk.churn, start_epoch, text_timestamps, dates, valid=churned),
            _categories(p.segments, chunk.segment),
            pa.array(chunk.value, type=pa.float64()),
        ],
        names=list(CUSTOMER_COLUMNS),
    )
    interactions = pa.table(
        [
            _padded_ids(chunk.row_id, INTERACTION_ID_WIDTH, prefix="I"),
            customer_ids.take(pa.array(chunk.cust)),
            _timestamps(chunk.at, start_epoch, text_timestamps, dates),
            _categories(list(KINDS), chunk.kind),
            _categories(p.exp_channels + p.svc_channels, chunk.channel),
            _categories(p.touchpoints + [p.cfg.routine_touchpoint], chunk.touchpoint),
            _categories(list(OUTCOMES), chunk.outcome),
            pa.array(chunk.resolved == 1, mask=chunk.resolved < 0),
            pa.array(chunk.csat.astype(np.int64), mask=chunk.csat == 0),
            pa.array(chunk.nps.astype(np.int64), mask=chunk.nps < 0),
            pa.array(chunk.frt, mask=np.isnan(chunk.frt)),
            pa.array(chunk.cost, mask=np.isnan(chunk.cost)),
        ],
        names=list(INTERACTION_COLUMNS),
    )
    return customers, interactions


def simulate_tables(n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
                    chunk_size: int = 20_000, text_timestamps: bool = False, intervention=None,
                    intervention_from=None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Like :func:`simulate`, as Arrow tables (timestamps as ISO text if ``text_timestamps``)."""
    dates = None
    for p, chunk in draw_chunks(n_customers, seed, config, chunk_size, intervention, intervention_from):
        if dates is None:
            dates = _date_table(p.cfg)
        yield _chunk_tables(p, chunk, text_timestamps, dates)


_PANDAS_TYPES = {pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


def simulate(n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
             chunk_size: int = 20_000, intervention: SimulationConfig | None = None,
             intervention_from=None) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Simulate ``n_customers``; yield ``(customers, interactions)`` per chunk of customers.

    Timestamps are ``datetime64[us, UTC]`` (NaT when missing), ``resolved`` is a nullable
    boolean, ``csat`` and ``nps`` nullable integers. Same seed, n and chunk_size: same data.

    ``intervention`` (a config differing from ``config`` only in bad rates, ``p_contact``
    and ``p_resolve``) applies to experiences on or after ``intervention_from`` (a date, or
    a day index; default the start), and to contacts on or after it for resolution. With
    the same seed, everything before that day is identical to the world without it, so the
    customers active then are the same in both worlds: the comparison an ROI estimate needs.
    """
    for customers, interactions in simulate_tables(n_customers, seed=seed, config=config, chunk_size=chunk_size,
                                                   intervention=intervention, intervention_from=intervention_from):
        yield (customers.to_pandas(types_mapper=_PANDAS_TYPES.get),
               interactions.to_pandas(types_mapper=_PANDAS_TYPES.get))


class _CsvSink:
    """A CSV file written chunk by chunk: bare header, no quotes, empty field = missing."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._file = pa.OSFile(str(path), "wb")
        self._file.write((",".join(schema.names) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        self._writer = pacsv.CSVWriter(self._file, schema, write_options=options)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._file.close()


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema):
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in schema])


def _realised(chunk: Chunk, p: Params) -> dict:
    service = chunk.kind == 1
    routine = chunk.touchpoint == len(p.touchpoints)
    return {
        "customers": len(chunk.number),
        "churned": int(np.count_nonzero(chunk.churn >= 0)),
        "experience": int(np.count_nonzero(~service)),
        "service": int(np.count_nonzero(service)),
        "bad_experiences": int(np.count_nonzero(~service & (chunk.outcome == 2))),
        "service_after_bad": int(np.count_nonzero(service & ~routine)),
        "service_routine": int(np.count_nonzero(routine)),
        "service_resolved": int(np.count_nonzero(chunk.resolved == 1)),
    }


def write_dataset(out_dir, n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
                  fmt: str = "csv", chunk_size: int = 20_000, progress: bool = False,
                  intervention: SimulationConfig | None = None, intervention_from=None) -> dict:
    """Write ``customers.<fmt>``, ``interactions.<fmt>`` and ``truth.json`` into ``out_dir``.

    ``fmt`` is ``"csv"`` (ISO 8601 ``...Z`` timestamps, empty field = missing) or
    ``"parquet"`` (``timestamp[us, UTC]``, nulls). Files are written chunk by chunk, so
    memory does not grow with ``n_customers``; same arguments give byte-identical files.
    Returns the truth dict (parameters and realised counts) also written to truth.json.
    ``intervention`` and ``intervention_from`` as in :func:`simulate`; truth.json records them.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    check_args(n_customers, chunk_size)
    cfg = config or SimulationConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = fmt == "csv"
    sink = _CsvSink if text else _ParquetSink
    schemas = [_text_schema(s) if text else s for s in (CUSTOMER_SCHEMA, INTERACTION_SCHEMA)]
    sinks = [sink(out / f"{name}.{fmt}", schema) for name, schema in zip(("customers", "interactions"), schemas)]
    totals: dict[str, int] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_customers, unit="customer", desc="simulate")
    try:
        dates = _date_table(cfg)
        for p, chunk in draw_chunks(n_customers, seed, cfg, chunk_size, intervention, intervention_from):
            for s, table in zip(sinks, _chunk_tables(p, chunk, text, dates)):
                s.write(table)
            for key, value in _realised(chunk, p).items():
                totals[key] = totals.get(key, 0) + value
            if bar is not None:
                bar.update(len(chunk.number))
    finally:
        for s in sinks:
            s.close()
        if bar is not None:
            bar.close()
    result = truth(cfg, n_customers=n_customers, seed=seed, chunk_size=chunk_size)
    result["format"] = fmt
    if intervention is not None:
        day = 0 if intervention_from is None else intervention_day(cfg, intervention_from)
        result["intervention"] = {
            "from": iso_z(cfg.start_datetime + timedelta(days=day)),
            "from_day": day,
            "config": intervention.to_dict(),
        }
    result["realised"] = {
        "customers": totals.get("customers", 0),
        "churned": totals.get("churned", 0),
        "interactions": {"experience": totals.get("experience", 0), "service": totals.get("service", 0)},
        "interactions_total": totals.get("experience", 0) + totals.get("service", 0),
        "bad_experiences": totals.get("bad_experiences", 0),
        "service_after_bad": totals.get("service_after_bad", 0),
        "service_routine": totals.get("service_routine", 0),
        "service_resolved": totals.get("service_resolved", 0),
    }
    (out / "truth.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
