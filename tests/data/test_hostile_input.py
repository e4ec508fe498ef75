"""Hostile but realistic input through the `cx` command: every failure is a rejected row or one
clear line with an exit code, never a traceback, and nothing silently changes the results."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pandas as pd
import pytest

import cxlib
from cxlib.exceptions import DataError
from tests._files import CUSTOMERS, INTERACTIONS, append_interaction, write

CX = [sys.executable, "-m", "cxlib.run.cli"]


def cx(*args, cwd=None):
    return subprocess.run([*CX, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def no_traceback(result):
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert ".py:" not in result.stderr, f"no source location reaches the user: {result.stderr}"


def validate(tmp_path, data, *args):
    result = cx("validate", data, "--rejects", tmp_path / "rejects.csv", *args)
    no_traceback(result)
    return result


# 18.1: a bad optional value is a rejected row with file, row, column and reason.

BAD_OPTIONAL = [
    ("i9,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,NaN,,,", "csat", "NaN"),
    ("i10,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,inf,,,", "csat", "inf"),
    ("i11,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,300,,,", "csat", "300"),
    ("i12,00042,2024-01-04T00:00:00Z,experience,web,website,bad,,,1000,,", "nps", "1000"),
    ("i13,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,,,1e400,", "first_response_minutes", "1e400"),
    ("i14,00042,2024-01-04T00:00:00Z,service,chat,website,bad,true,,,,1e308", "cost", "1e308"),
]


def test_bad_optional_values_are_rejected_rows_not_a_conversion_error(tmp_path):
    interactions = INTERACTIONS + "".join(line + "\n" for line, _, _ in BAD_OPTIONAL)
    result = validate(tmp_path, write(tmp_path / "d", interactions=interactions), "--show", 20)
    assert result.returncode == 0, result.stderr
    assert "Conversion Error" not in result.stderr
    assert f"interactions: read {3 + len(BAD_OPTIONAL)}, accepted 3, rejected {len(BAD_OPTIONAL)}" in result.stdout
    for row, (_, column, value) in enumerate(BAD_OPTIONAL, start=5):
        assert f"interactions.csv row {row}, column '{column}': not a " in result.stdout
        assert f"(value '{value}')" in result.stdout


# 18.2: identifiers from a file are quoted, values bound: a header cannot execute.

HOSTILE_HEADERS = ["it's", "x': 'VARCHAR', 'y': error('INJECTED'), 'z", 'q"; SELECT error(\'INJECTED\'); --']


def test_headers_that_would_execute_are_only_names(tmp_path):
    quoted = ",".join('"' + h.replace('"', '""') + '"' for h in HOSTILE_HEADERS)
    customers = CUSTOMERS.replace("monthly_value\n", f"monthly_value,{quoted}\n")
    customers = customers.replace(",30\n", ",30,a,b,c\n").replace(",120.5\n", ",120.5,a,b,c\n")
    folder = write(tmp_path / "d's folder", customers=customers)
    result = validate(tmp_path, folder)
    assert result.returncode == 0, result.stderr
    assert "INJECTED" not in result.stderr
    assert "customers: read 2, accepted 2, rejected 0" in result.stdout
    assert "columns not in the contract, ignored: " + ", ".join(HOSTILE_HEADERS) in result.stdout


# 18.3: the default as_of never comes from the future; a churned_at after it is still a customer.


def test_future_values_are_rejected_and_far_churned_at_means_still_a_customer(tmp_path):
    customers = CUSTOMERS.replace("00042,2024-01-01T10:00:00Z,,", "00042,2024-01-01T10:00:00Z,9999-12-31,")
    customers += "00044,2999-01-01T00:00:00Z,,smb,5\n"  # a signup in the future
    interactions = append_interaction("i9,00042,9999-12-31T00:00:00Z,experience,web,website,bad,,,,,")
    result = validate(tmp_path, write(tmp_path / "d", customers=customers, interactions=interactions))
    assert result.returncode == 0, result.stderr
    assert "customers.csv row 4, column 'signup_at': in the future: after the moment of loading" in result.stdout
    assert "interactions.csv row 5, column 'at': in the future: after the moment of loading" in result.stdout
    assert "as of 2024-05-01T00:00:00Z (the latest value in the data not after the load at" in result.stdout
    assert "1 customer(s) with a churned_at after as_of" in result.stdout
    with cxlib.load(write(tmp_path / "d", customers=customers, interactions=interactions)) as data:
        assert data.as_of == pd.Timestamp("2024-05-01")
        churned = data.customers.set_index("customer_id")["churned_at"]
        assert pd.isna(churned["00042"]), "a churned_at after as_of is still a customer at as_of"
        assert data.report.churned_after_as_of == 1


# 14.4: a date without a time in churned_at is the end of that day; a timezone for naive values.


def test_date_only_churned_at_keeps_the_churn_days_interactions(tmp_path):
    customers = CUSTOMERS.replace("2024-05-01T00:00:00Z", "2024-05-01")
    interactions = append_interaction("i9,00043,2024-05-01T16:30:00Z,service,phone,billing,bad,false,,,,")
    folder = write(tmp_path / "d", customers=customers, interactions=interactions)
    result = validate(tmp_path, folder, "--strict")
    assert result.returncode == 0, result.stdout
    assert "no rejected rows" in result.stdout
    assert "a churned_at without a time means the end of that day (1 such value(s))" in result.stdout
    with cxlib.load(folder) as data:
        churned = data.customers.set_index("customer_id")["churned_at"]["00043"]
        assert churned == pd.Timestamp("2024-05-01 23:59:59.999999")


def test_date_columns_and_a_timezone(tmp_path):
    """A DATE churned_at (Parquet) is the end of that day; naive values are read in the timezone."""
    pd.DataFrame({
        "customer_id": ["a", "b"],
        "signup_at": [pd.Timestamp("2024-01-01").date()] * 2,  # DATE: the start of the day
        "churned_at": [None, pd.Timestamp("2024-03-01").date()],
        "monthly_value": [1.0, 2.0],
    }).to_parquet(tmp_path / "customers.parquet")
    pd.DataFrame({
        "interaction_id": ["i1", "i2"], "customer_id": ["b", "b"],
        "at": ["2024-03-01 23:30:00", "2024-02-01T12:00:00+00:00"], "kind": ["service"] * 2,
        "channel": ["phone"] * 2, "touchpoint": ["billing"] * 2, "outcome": ["bad"] * 2, "resolved": ["true"] * 2,
    }).to_parquet(tmp_path / "interactions.parquet")
    with cxlib.load(tmp_path) as data:
        assert data.report.total_rejected == 0, data.rejects
        c = data.customers.set_index("customer_id")
        assert c.loc["b", "signup_at"] == pd.Timestamp("2024-01-01")
        assert c.loc["b", "churned_at"] == pd.Timestamp("2024-03-01 23:59:59.999999")
    with cxlib.load(tmp_path, timezone="Europe/Paris") as data:
        c = data.customers.set_index("customer_id")
        assert c.loc["b", "churned_at"] == pd.Timestamp("2024-03-01 22:59:59.999999"), "end of the day in Paris"
        at = data.interactions.set_index("interaction_id")["at"]
        assert at["i2"] == pd.Timestamp("2024-02-01 12:00"), "a value with an offset keeps it"
        assert at["i1"] == pd.Timestamp("2024-03-01 22:30"), "a naive value is Paris time"
        assert data.report.total_rejected == 0, "23:30 in Paris is within 1 March in Paris"
        assert data.report.timezone == "Europe/Paris"
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        cxlib.load(tmp_path, timezone="Mars/Olympus")


def test_timezone_on_the_command_line(tmp_path):
    with cxlib.load(write(tmp_path / "d"), timezone="America/New_York") as data:
        assert "clock: naive timestamps read as America/New_York, stored as UTC" in "\n".join(data.report.lines())
    wrong = validate(tmp_path, write(tmp_path / "d"), "--timezone", "Nowhere/Land")
    assert wrong.returncode == 2 and wrong.stderr.strip() == (
        "cx validate: error: unknown timezone 'Nowhere/Land': give an IANA name such as 'UTC' or 'Europe/Paris'"
    )


# 18.5: no traceback reaches the user.


def test_a_20_mb_line_without_a_separator_is_one_clear_line(tmp_path):
    folder = write(tmp_path / "d")
    (folder / "customers.csv").write_text("x" * 20_000_000 + "\n")
    result = validate(tmp_path, folder)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unreadable header (row 1)" in result.stderr
    assert "customers.csv" in result.stderr


def test_output_paths_under_an_existing_file_are_one_clear_line(tmp_path):
    folder = write(tmp_path / "d")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for args in (["validate", folder, "--rejects", blocker / "rejects.csv"],
                 ["risk", folder, "--out", blocker / "list.csv", "--horizon-days", 30],
                 ["run", "--data", folder, "--out", blocker / "reports"]):
        result = cx(*args)
        no_traceback(result)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and "a part of that path is a file, not a folder" in result.stderr


def test_warnings_are_one_line_without_source(tmp_path, capsys):
    from cxlib.run.cli import main

    assert main(["claims", str(write(tmp_path / "d"))]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line]
    assert warnings and all(line.startswith("cx claims: warning: ") for line in warnings), err
    assert ".py:" not in err


# 18.7: the encoding is decided once for the whole file.


def latin1_folder(folder, at: int):
    rows = [f"000{i:03d},2024-01-01T00:00:00Z,,consumer,30" for i in range(2_000)]
    rows[at] = rows[at].replace("consumer", "caf\u00e9")
    write(folder)
    (folder / "customers.csv").write_bytes(("customer_id,signup_at,churned_at,segment,monthly_value\n"
                                            + "\n".join(rows) + "\n").encode("latin-1"))
    (folder / "interactions.csv").write_text(INTERACTIONS.replace("00043", "000001").replace("00042", "000000"))
    return folder


def test_latin1_is_a_structural_error_or_decoded_with_the_setting(tmp_path):
    """The first accent on line 3 (in the first kilobytes) or on line 1,902 (past them): the same answer."""
    early = latin1_folder(tmp_path / "early", 1)
    result = validate(tmp_path, early)
    assert result.returncode == 2, result.stdout
    assert "not UTF-8 text: line 3 holds byte 0xe9" in result.stderr and "customers.csv" in result.stderr
    late = latin1_folder(tmp_path / "late", 1_900)
    with pytest.raises(DataError, match="not UTF-8 text: line 1902 holds byte 0xe9") as info:
        cxlib.load(late)
    assert info.value.file.endswith("customers.csv")
    decoded = validate(tmp_path, late, "--encoding", "latin-1", "--strict")
    assert decoded.returncode == 0, decoded.stdout
    assert "customers: read 2,000, accepted 2,000, rejected 0" in decoded.stdout
    for folder in (early, late):
        with cxlib.load(folder, encoding="latin-1") as data:
            assert (data.customers["segment"] == "caf\u00e9").sum() == 1


# 18.8: the smaller ones.


def test_rejected_customer_row_and_nothing_accepted(tmp_path):
    customers = CUSTOMERS + "00050,bad date,,smb,1e308\n"
    interactions = append_interaction("i9,00050,2024-01-04T00:00:00Z,experience,web,website,bad,,,,,")
    result = validate(tmp_path, write(tmp_path / "d", customers=customers, interactions=interactions))
    assert result.returncode == 0
    assert "interactions.csv row 5, column 'customer_id': its customer row was rejected (row 4)" in result.stdout
    assert "column 'monthly_value': not a number from 0 to 1e+10 (value '1e308')" in result.stdout
    nothing = validate(tmp_path, write(tmp_path / "e", customers=CUSTOMERS.replace("2024-01", "Jan 2024")))
    assert nothing.returncode == 2, nothing.stdout
    assert "no row accepted: all 2 rows were rejected; the first at row 2, column 'signup_at'" in nothing.stderr
    assert (tmp_path / "rejects.csv").read_text().count("\n") > 2, "the rejects are written before the error"


def test_roi_refuses_values_that_are_not_finite(small_world):
    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel

    with cxlib.load(small_world) as data, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's overflow warnings on the way
        data.con.execute("UPDATE staged_customers SET monthly_value = 1e308")  # past the loader's bound
        model = ChurnModel().fit(data)
        with pytest.raises(ValueError, match="not finite"):
            roi.evaluate(data, model=model, draws=20, process_draws=0, progress=False)


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
) + "window_days: *i\n"


def test_yaml_aliases_are_refused_with_a_short_message(tmp_path, small_world):
    from cxlib.analyses import roi
    from tests._notebooks import tiny_notebook

    params = tmp_path / "params.yaml"
    params.write_text(ALIAS_BOMB)
    result = cx("run", "--data", small_world, "--params", params, "--out", tmp_path / "out",
                "--notebook", tiny_notebook(tmp_path))
    no_traceback(result)
    assert result.returncode == 2 and len(result.stderr) < 500, result.stderr[:1000]
    assert "YAML aliases (*a) are not accepted" in result.stderr
    with pytest.raises(DataError, match="aliases") as info:
        roi.load_scenarios(params)
    assert len(str(info.value)) < 500


def test_utf8_check_across_read_chunks(tmp_path):
    """The check reads the file in chunks and skips the plain-ASCII ones: a character split between
    two chunks is still UTF-8, and a character cut short before an ASCII chunk is still refused,
    on its own line."""
    from cxlib.data.inputs import check_utf8

    chunk = (1 << 22) + 4  # the 4-byte head, then 4 MB reads
    lines = (chunk - 1) // 100
    filler = b"".join(b"x" * 99 + b"\n" for _ in range(lines)) + b"x" * (chunk - 1 - 100 * lines)
    split = tmp_path / "split.csv"
    split.write_bytes(filler + "\u00e9".encode() + b"\n" + b"ascii after\n" * 10)
    check_utf8(split)  # é's two bytes straddle the chunks: valid
    cut = tmp_path / "cut.csv"
    cut.write_bytes(filler + b"\xc3" + b"\n" + b"ascii after\n" * 10)
    with pytest.raises(DataError, match=f"not UTF-8 text: line {lines + 1} holds"):
        check_utf8(cut)
