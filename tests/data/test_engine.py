"""The data floor's seams: one engine protocol, one way to open data, the contract defined once.

Both engines satisfying :class:`cxlib.data.engine.Engine` and answering alike is in
``test_spark.py`` (it needs the Spark session); here the DuckDB side, :func:`open_data`'s
choices, and the single definition of the contract's names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

import cxlib
from cxlib.data import contract
from cxlib.data.engine import Engine
from cxlib.data.open import as_location, locate, open_data
from cxlib.exceptions import DataError

DATA_FLOOR = Path(cxlib.__file__).parent / "data"
CXLIB = Path(cxlib.__file__).parent


def test_dataset_is_an_engine(small_world):
    """What the panel, the metrics and the models ask of ``data``, the DuckDB data set offers."""
    with open_data(small_world) as data:
        assert isinstance(data, Engine)
        assert data.engine == "duckdb"
        ids = pd.DataFrame({"customer_id": data.query("SELECT customer_id FROM customers LIMIT 3")["customer_id"]})
        data.register("cx_some_ids", ids)
        joined = data.query("SELECT count(*) AS n FROM customers JOIN cx_some_ids USING (customer_id)")
        assert joined["n"].iloc[0] == 3
        data.unregister("cx_some_ids")
        with pytest.raises(Exception, match="cx_some_ids"):
            data.query("SELECT * FROM cx_some_ids")
        assert data.query("SELECT count(*) AS n FROM customers WHERE signup_at > $t", {"t": data.as_of})["n"][0] == 0
        assert data.report.accepted["customers"] == data.fingerprint()["customers"] == 2_000


def test_open_data_checks_the_engine_and_what_spark_cannot_read(small_world, monkeypatch):
    """Each refusal is decided before any Spark session starts: none of these needs pyspark."""
    with pytest.raises(ValueError, match="engine must be one of duckdb, spark, not 'pandas'"):
        open_data(small_world, engine="pandas")
    with pytest.raises(ValueError, match="^timezone is a setting of the DuckDB loader"):
        open_data(small_world, engine="spark", timezone="Europe/Paris", encoding="utf-8")
    with pytest.raises(ValueError, match="^encoding is a setting of the DuckDB loader"):
        open_data(small_world, engine="spark", timezone="UTC", encoding="latin-1")
    with pytest.raises(ValueError, match="^encoding and timezone are settings of the DuckDB loader"):
        open_data(small_world, engine="spark", timezone="Asia/Tokyo", encoding="cp1252")
    with pytest.raises(DataError, match="PostgreSQL source is read by the duckdb engine"):
        open_data("postgresql://u:secret@db:5432/cx", engine="spark")
    with pytest.raises(DataError, match="PostgreSQL source is read by the duckdb engine") as caught:
        locate("postgresql://u:secret@db:5432/cx", engine="spark")
    assert "secret" not in str(caught.value)


def test_locate_resolves_what_another_process_must_find(small_world, monkeypatch):
    monkeypatch.chdir(small_world.parent)
    assert locate(small_world.name) == str(small_world.resolve())
    assert locate("s3://lake/cx", engine="spark") == "s3://lake/cx"
    assert locate("postgresql://u@db/cx") == "postgresql://u@db/cx"
    monkeypatch.delenv("CXLAB_SPARK_INPUT", raising=False)
    assert locate("", engine="spark") is None and locate(None) is None
    monkeypatch.setenv("CXLAB_SPARK_INPUT", "dbfs:/cx")
    assert locate("", engine="spark") == "dbfs:/cx"
    assert locate("", engine="duckdb") is None, "the Spark input is Spark's alone"
    assert as_location("postgresql://u@db//cx") == "postgresql://u@db//cx"
    assert as_location("a//b") == Path("a/b")


def _assignments(path: Path) -> dict[str, ast.expr]:
    """Module-level ``NAME = value`` of a file: name -> value."""
    found = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for target in targets:
            if isinstance(target, ast.Name) and node.value is not None:
                found[target.id] = node.value
    return found


CONTRACT_NAMES = {"TABLES", "COLUMNS", "CUSTOMER_COLUMNS", "INTERACTION_COLUMNS", "TYPES", "KEYS", "KINDS",
                  "OUTCOMES", "TRUE_WORDS", "FALSE_WORDS", "BOUNDS", "SERVICE_ONLY", "END_OF_DAY_COLUMNS",
                  "REJECT_COLUMNS", "DEFAULT_SEGMENT"}


def _contract_values() -> list:
    values = [contract.COLUMNS, contract.KEYS, contract.TYPES, contract.TABLES, contract.KINDS, contract.OUTCOMES,
              contract.CUSTOMER_COLUMNS, contract.INTERACTION_COLUMNS, contract.TRUE_WORDS, contract.FALSE_WORDS]
    return values + [list(v) for v in values if isinstance(v, tuple)]


def test_the_contract_is_defined_once():
    """data/contract.py alone defines the contract: no other module of the data floor assigns its
    names, and no module of cxlib writes one of its tables, column lists, keys or codes out again
    (the simulator, the sources, the Spark engine and the loader import them)."""
    assert CONTRACT_NAMES <= set(_assignments(DATA_FLOOR / "contract.py"))
    named, copied = {}, []
    for path in CXLIB.rglob("*.py"):
        if path == DATA_FLOOR / "contract.py":
            continue
        assigned = _assignments(path)
        if DATA_FLOOR in path.parents and set(assigned) & CONTRACT_NAMES:
            named[str(path.relative_to(CXLIB))] = sorted(set(assigned) & CONTRACT_NAMES)
        for name, value in assigned.items():
            try:
                literal = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if any(literal == v and type(literal) is type(v) for v in _contract_values()):
                copied.append(f"{path.relative_to(CXLIB)}: {name}")
    assert named == {} and copied == []


def test_the_simulator_writes_the_contract(tmp_path):
    from cxlib.data.simulate import CUSTOMER_COLUMNS, INTERACTION_COLUMNS, write_dataset
    from cxlib.data.simulate.write import CUSTOMER_SCHEMA, INTERACTION_SCHEMA

    assert CUSTOMER_COLUMNS == tuple(contract.COLUMNS["customers"]) == tuple(CUSTOMER_SCHEMA.names)
    assert INTERACTION_COLUMNS == tuple(contract.COLUMNS["interactions"]) == tuple(INTERACTION_SCHEMA.names)
    write_dataset(tmp_path, 50, seed=1, fmt="parquet")
    with cxlib.load(tmp_path, strict=True) as data:
        kinds = set(data.query("SELECT DISTINCT kind FROM interactions")["kind"])
        outcomes = set(data.query("SELECT DISTINCT outcome FROM interactions")["outcome"])
    assert kinds == set(contract.KINDS) and outcomes <= set(contract.OUTCOMES)


def test_no_engine_branch_outside_the_data_floor():
    """Which engine reads what is decided in data/ alone: no ``engine ==`` and no ``.engine`` test above it."""
    found = []
    for path in CXLIB.rglob("*.py"):
        if DATA_FLOOR in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                named = [s for s in sides if (isinstance(s, ast.Name) and s.id == "engine")
                         or (isinstance(s, ast.Attribute) and s.attr == "engine")]
                spark = [s for s in sides if isinstance(s, ast.Constant) and s.value in ("spark", "duckdb")]
                if named and spark:
                    found.append(f"{path.relative_to(CXLIB)}:{node.lineno}")
    assert found == []
