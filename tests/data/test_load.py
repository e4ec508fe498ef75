"""Loading and validation: each bad input gives the stated error or reject, with its row and column."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

import cxlib
from cxlib.exceptions import DataError, RejectedRowsError

from tests._files import CUSTOMERS, INTERACTIONS, append_interaction, write


def rejects_of(data) -> list[tuple]:
    return [(r.row, r.column, r.reason) for r in data.rejects.itertuples()]


def test_clean_data_loads_typed(tmp_path):
    with cxlib.load(write(tmp_path)) as data:
        assert data.report.read == {"customers": 2, "interactions": 3}
        assert data.report.total_rejected == 0
        c = data.customers
        assert list(c["customer_id"]) == ["00042", "00043"]  # leading zeros survive
        assert pd.api.types.is_datetime64_any_dtype(c["signup_at"])
        assert c["churned_at"].isna().tolist() == [True, False]
        i = data.interactions
        assert i["resolved"].tolist()[1] is True or bool(i["resolved"].iloc[1]) is True
        assert i["csat"].iloc[1] == 4 and i["nps"].iloc[2] == 9
        assert data.as_of == pd.Timestamp("2024-05-01")


def test_loaded_tables_hold_codes_compactly_and_show_text(tmp_path):
    """kind and outcome are stored as ENUMs, the columns that served only the load are gone,
    and the views show every contract column as before: text codes, in the contract's order."""
    with cxlib.load(write(tmp_path)) as data:
        stored = dict(data.con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                       "WHERE table_name = 'staged_interactions'").fetchall())
        assert stored["kind"].startswith("ENUM") and stored["outcome"].startswith("ENUM")
        assert not {"_row", "problems"} & set(stored)
        customers = {r[0] for r in data.con.execute("DESCRIBE staged_customers").fetchall()}
        assert not {"_row", "problems", "_date_only"} & customers
        shown = data.con.execute("DESCRIBE interactions").fetchall()
        assert [r[0] for r in shown] == list(cxlib.data.contract.COLUMNS["interactions"])
        assert {r[0]: r[1] for r in shown}["kind"] == "VARCHAR" and data.interactions["outcome"].dtype == object
        assert data.query("SELECT count(*) AS n FROM interactions WHERE kind = 'service'")["n"].iloc[0] == 1


def test_offsets_are_converted_to_utc_and_naive_taken_as_utc(tmp_path):
    customers = CUSTOMERS.replace("2024-01-01T10:00:00Z", "2024-01-01T12:00:00+02:00").replace(
        "2024-01-02T00:00:00Z", "2024-01-02 00:00:00"
    )
    with cxlib.load(write(tmp_path, customers=customers)) as data:
        assert data.customers["signup_at"].tolist() == [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-02")]


def test_case_and_spacing_variants_are_normalised_not_rejected(tmp_path):
    interactions = INTERACTIONS.replace("experience,web,website,bad", " Experience ,Web, Website , Bad")
    with cxlib.load(write(tmp_path, interactions=interactions)) as data:
        assert data.report.total_rejected == 0
        row = data.interactions.iloc[0]
        assert (row["kind"], row["channel"], row["touchpoint"], row["outcome"]) == ("experience", "web", "website", "bad")


def test_na_text_stays_text(tmp_path):
    customers = CUSTOMERS.replace(",consumer,", ",NA,")
    with cxlib.load(write(tmp_path, customers=customers)) as data:
        assert data.customers["segment"].tolist() == ["NA", "smb"]


def test_missing_segment_becomes_all(tmp_path):
    customers = CUSTOMERS.replace(",consumer,", ",,")
    with cxlib.load(write(tmp_path, customers=customers)) as data:
        assert data.customers["segment"].tolist()[0] == "all"


# Each bad row: (line appended to interactions.csv, column, words of the reason). Row 5 is the
# fourth record: header = row 1.
BAD_INTERACTIONS = [
    ("i9,00042,yesterday,experience,web,website,bad,,,,,", "at", "unparsable timestamp"),
    ("i1,00042,2024-01-04T00:00:00Z,experience,web,website,bad,,,,,", "interaction_id", "duplicate interaction_id (first at row 2)"),
    ("i9,99999,2024-01-04T00:00:00Z,experience,web,website,bad,,,,,", "customer_id", "unknown customer_id"),
    ("i9,00042,2023-12-31T00:00:00Z,experience,web,website,bad,,,,,", "at", "before the customer's signup_at"),
    ("i9,00043,2024-06-01T00:00:00Z,experience,web,website,bad,,,,,", "at", "after the customer churned"),
    ("i9,00042,2024-01-04T00:00:00Z,complaint,web,website,bad,,,,,", "kind", "not one of experience, service"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web,website,awful,,,,,", "outcome", "not one of good, neutral, bad"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,maybe,,,,", "resolved", "not a boolean"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web,website,bad,true,,,,", "resolved", "set on an experience row"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,6,,,", "csat", "not a whole number from 1 to 5"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,3.5,,,", "csat", "not a whole number from 1 to 5"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web,website,bad,,,11,,", "nps", "not a whole number from 0 to 10"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,,,-2,", "first_response_minutes", "not a number from 0 to"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,,,,-1", "cost", "not a number from 0 to 1e+10"),
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,,,,free", "cost", "not a number from 0 to 1e+10"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web,,bad,,,,,", "touchpoint", "required value is missing"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web", "touchpoint", "too few fields on the line"),
    ("i9,00042,2024-01-04T00:00:00Z,experience,web,website,bad,,,,,,extra", "", "too many fields on the line"),
]


@pytest.mark.parametrize(("line", "column", "reason"), BAD_INTERACTIONS, ids=[c + ":" + r for _, c, r in BAD_INTERACTIONS])
def test_bad_interaction_row_is_rejected_with_row_column_and_reason(tmp_path, line, column, reason):
    with cxlib.load(write(tmp_path, interactions=append_interaction(line))) as data:
        assert data.report.read["interactions"] == 4
        assert data.report.accepted["interactions"] == 3
        assert data.report.rejected["interactions"] == 1
        rejects = rejects_of(data)
        assert len(rejects) == 1, rejects
        row, col, why = rejects[0]
        assert row == 5
        if column:
            assert col == column
        assert reason in why
        assert data.rejects["file"].iloc[0].endswith("interactions.csv")


BAD_CUSTOMERS = [
    ("00050,not a date,,smb,10", "signup_at", "unparsable timestamp"),
    ("00050,2024-02-01T00:00:00Z,2024-01-01T00:00:00Z,smb,10", "churned_at", "churned before signup_at"),
    ("00042,2024-02-01T00:00:00Z,,smb,10", "customer_id", "duplicate customer_id (first at row 2)"),
    ("00050,2024-02-01T00:00:00Z,,smb,-5", "monthly_value", "not a number from 0 to 1e+10"),
    ("00050,2024-02-01T00:00:00Z,,smb,", "monthly_value", "required value is missing"),
    (",2024-02-01T00:00:00Z,,smb,10", "customer_id", "required value is missing"),
]


@pytest.mark.parametrize(("line", "column", "reason"), BAD_CUSTOMERS, ids=[c + ":" + r for _, c, r in BAD_CUSTOMERS])
def test_bad_customer_row_is_rejected_with_row_column_and_reason(tmp_path, line, column, reason):
    with cxlib.load(write(tmp_path, customers=CUSTOMERS + line + "\n")) as data:
        assert data.report.rejected["customers"] == 1
        assert rejects_of(data) == [(4, column, rejects_of(data)[0][2])]
        assert reason in rejects_of(data)[0][2]
        assert data.report.accepted["customers"] == 2


def test_interactions_of_a_rejected_customer_are_set_aside_with_that_reason(tmp_path):
    customers = CUSTOMERS + "00050,bad date,,smb,10\n"
    interactions = append_interaction("i9,00050,2024-01-04T00:00:00Z,experience,web,website,bad,,,,,")
    with cxlib.load(write(tmp_path, customers=customers, interactions=interactions)) as data:
        reasons = {(r.file.rsplit("/", 1)[-1], r.row): r.reason for r in data.rejects.itertuples()}
        assert reasons[("interactions.csv", 5)] == "its customer row was rejected (row 4)"


def test_row_numbers_stay_right_after_lines_the_reader_rejected(tmp_path):
    lines = [
        "i9,00042,2024-01-04T00:00:00Z,experience,web",  # row 5: too few fields
        "i10,00042,2024-01-04T00:00:00Z,experience,web,website,good,,,,,",  # row 6: fine
        "i11,00042,2024-01-04T00:00:00Z,experience,web,website,good,,,,,,x",  # row 7: too many
        "i12,00042,nope,experience,web,website,good,,,,,",  # row 8: bad timestamp
    ]
    with cxlib.load(write(tmp_path, interactions=INTERACTIONS + "\n".join(lines) + "\n")) as data:
        assert [r[0] for r in rejects_of(data)] == [5, 7, 8]
        assert data.report.read["interactions"] == 7
        assert data.report.accepted["interactions"] + data.report.rejected["interactions"] == 7


def test_one_row_with_several_problems_counts_once_and_lists_each(tmp_path):
    line = "i9,00042,2024-01-04T00:00:00Z,service,chat,website,awful,maybe,9,,,"
    with cxlib.load(write(tmp_path, interactions=append_interaction(line))) as data:
        assert data.report.rejected["interactions"] == 1
        assert sorted(c for _, c, _ in rejects_of(data)) == ["csat", "outcome", "resolved"]


def test_accounting_identity_and_rejects_file(tmp_path):
    interactions = INTERACTIONS + "\n".join(line for line, _, _ in BAD_INTERACTIONS) + "\n"
    out = tmp_path / "out" / "rejects.csv"
    with cxlib.load(write(tmp_path / "data", interactions=interactions), rejects_path=out) as data:
        r = data.report
        for table in ("customers", "interactions"):
            assert r.accepted[table] + r.rejected[table] == r.read[table]
        assert r.read["interactions"] == 3 + len(BAD_INTERACTIONS)
        assert r.rejected["interactions"] == len(BAD_INTERACTIONS)
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written.columns) == ["file", "row", "key", "column", "value", "reason"]
    assert written["row"].astype(int).nunique() == len(BAD_INTERACTIONS)


def test_strict_mode_raises_naming_the_first_reject(tmp_path):
    interactions = append_interaction("i9,00042,yesterday,experience,web,website,bad,,,,,")
    with pytest.raises(RejectedRowsError) as info:
        cxlib.load(write(tmp_path, interactions=interactions), strict=True)
    assert info.value.row == 5 and info.value.column == "at"
    assert "interactions.csv" in str(info.value)


# Structural problems: one clear exception naming the file and the column.


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        cxlib.load(tmp_path / "nowhere")


def test_missing_interactions_file(tmp_path):
    write(tmp_path)
    (tmp_path / "interactions.csv").unlink()
    with pytest.raises(DataError, match="missing interactions file") as info:
        cxlib.load(tmp_path)
    assert info.value.file.endswith("interactions.csv")


def test_missing_required_column_names_file_and_column(tmp_path):
    interactions = INTERACTIONS.replace(",outcome,", ",result,")
    with pytest.raises(DataError, match="missing required column") as info:
        cxlib.load(write(tmp_path, interactions=interactions))
    assert info.value.column == "outcome" and info.value.file.endswith("interactions.csv")


def test_semicolon_file_is_a_clear_structural_error(tmp_path):
    customers = CUSTOMERS.replace(",", ";")
    with pytest.raises(DataError, match="comma-separated") as info:
        cxlib.load(write(tmp_path, customers=customers))
    assert info.value.column == "customer_id"


def test_duplicate_header_is_an_error(tmp_path):
    customers = CUSTOMERS.replace("monthly_value", "segment", 1)
    with pytest.raises(DataError, match="duplicate column") as info:
        cxlib.load(write(tmp_path, customers=customers))
    assert info.value.column == "segment"


@pytest.mark.parametrize("content", ["", "customer_id,signup_at,churned_at,segment,monthly_value\n"])
def test_empty_file_is_an_error(tmp_path, content):
    with pytest.raises(DataError, match="empty file") as info:
        cxlib.load(write(tmp_path, customers=content))
    assert info.value.file.endswith("customers.csv")


def test_unreadable_parquet_is_an_error(tmp_path):
    write(tmp_path)
    (tmp_path / "interactions.csv").unlink()
    (tmp_path / "interactions.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="unreadable Parquet") as info:
        cxlib.load(tmp_path)
    assert info.value.file.endswith("interactions.parquet")


def test_extra_columns_are_reported_as_ignored(tmp_path):
    customers = CUSTOMERS.replace("monthly_value\n", "monthly_value,note\n").replace(",30\n", ",30,x\n").replace(
        ",120.5\n", ",120.5,y\n"
    )
    with cxlib.load(write(tmp_path, customers=customers)) as data:
        assert data.report.ignored_columns == {"customers": ["note"]}


# Other formats: Parquet with typed columns and a DuckDB database give the same tables.


def test_parquet_and_duckdb_inputs_match_csv(tmp_path):
    csv_dir = write(tmp_path / "csv", interactions=append_interaction("i9,00042,yesterday,experience,web,website,bad,,,,,"))
    with cxlib.load(csv_dir) as data:
        expected_c, expected_i, expected_rejects = data.customers, data.interactions, rejects_of(data)
    pq = tmp_path / "pq"
    pq.mkdir()
    db = tmp_path / "cx.duckdb"
    con = duckdb.connect(str(db))
    for table in ("customers", "interactions"):
        raw = pd.read_csv(csv_dir / f"{table}.csv", dtype=str, keep_default_na=False)
        raw.to_parquet(pq / f"{table}.parquet", index=False)
        con.register("frame", raw)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
        con.unregister("frame")
    con.close()
    for source in (pq, db):
        with cxlib.load(source) as data:
            pd.testing.assert_frame_equal(data.customers, expected_c)
            pd.testing.assert_frame_equal(data.interactions, expected_i)
            assert rejects_of(data) == expected_rejects


def test_typed_parquet_timestamps_and_booleans_load(tmp_path):
    customers = pd.DataFrame(
        {
            "customer_id": ["007"],
            "signup_at": pd.to_datetime(["2024-01-01T00:00:00Z"]),
            "churned_at": pd.to_datetime([None], utc=True),
            "segment": ["smb"],
            "monthly_value": [10.0],
        }
    )
    interactions = pd.DataFrame(
        {
            "interaction_id": ["a"],
            "customer_id": ["007"],
            "at": pd.to_datetime(["2024-01-02T00:00:00Z"]),
            "kind": ["service"],
            "channel": ["chat"],
            "touchpoint": ["billing"],
            "outcome": ["good"],
            "resolved": pd.array([True], dtype="boolean"),
            "csat": pd.array([5], dtype="Int64"),
        }
    )
    customers.to_parquet(tmp_path / "customers.parquet")
    interactions.to_parquet(tmp_path / "interactions.parquet")
    with cxlib.load(tmp_path) as data:
        assert data.report.total_rejected == 0
        assert data.interactions["at"].iloc[0] == pd.Timestamp("2024-01-02")
        assert bool(data.interactions["resolved"].iloc[0]) and data.interactions["csat"].iloc[0] == 5


def test_simulated_data_passes_the_contract(small_world):
    with cxlib.load(small_world) as data:
        assert data.report.total_rejected == 0, data.rejects.head()
        assert data.report.accepted["customers"] == 2_000


def test_typed_parquet_values_break_the_same_rules(tmp_path):
    """Numbers, booleans and timestamps stored as such are checked like their text."""
    pd.DataFrame(
        {
            "customer_id": ["1", "2"],
            "signup_at": pd.to_datetime(["2024-01-01", "2024-01-01"]),  # naive: taken as UTC
            "churned_at": pd.to_datetime([None, "2023-12-01"]),
            "segment": ["a", "b"],
            "monthly_value": [10.0, 5.0],
        }
    ).to_parquet(tmp_path / "customers.parquet")
    pd.DataFrame(
        {
            "interaction_id": ["a", "b", "c", "d"],
            "customer_id": ["1", "1", "1", "1"],
            "at": pd.to_datetime(["2024-01-02"] * 4),
            "kind": ["service", "experience", "service", "service"],
            "channel": ["chat"] * 4,
            "touchpoint": ["billing"] * 4,
            "outcome": ["good"] * 4,
            "resolved": pd.array([True, True, None, False], dtype="boolean"),
            "csat": pd.array([5, None, 7, None], dtype="Int64"),
            "cost": [1.0, None, None, -2.0],
        }
    ).to_parquet(tmp_path / "interactions.parquet")
    with cxlib.load(tmp_path) as data:
        assert rejects_of(data) == [
            (3, "churned_at", "churned before signup_at (2024-01-01 00:00:00)"),
            (3, "resolved", "set on an experience row: resolved is for service rows"),
            (4, "csat", "not a whole number from 1 to 5"),
            (5, "cost", "not a number from 0 to 1e+10"),
        ]
        assert data.interactions["interaction_id"].tolist() == ["a"]
        assert data.customers["signup_at"].iloc[0] == pd.Timestamp("2024-01-01")
