"""Sources files: vendors' exports → the contract, round trip against the simulator's files, bad input.

One simulated world (800 customers) is written as contract files and in two layouts that
between them use every template; the round trip must give the same churn panel and hazard
ratios. Each template then gets broken raw files: the reject must name the raw file, its row
and the raw column; a broken sources file must fail naming the source and the rule.
"""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest

import cxlib
from cxlib.features import panel
from cxlib.models.churn import ChurnModel
from cxlib.exceptions import DataError
from cxlib.data.simulate import write_dataset
from cxlib.data.simulate.layouts import write_layout

LAYOUTS = ("zendesk+stripe+events", "salesforce+stripe+events+orders+nps")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """(contract Dataset, {layout: folder}) of one 800-customer world."""
    base = tmp_path_factory.mktemp("sources_world")
    write_dataset(base / "contract", 800, seed=21, fmt="parquet")
    folders = {layout: base / layout.replace("+", "_") for layout in LAYOUTS}
    for layout, folder in folders.items():
        write_layout(base / "contract", folder, layout)
    data = cxlib.load(base / "contract")
    yield data, folders
    data.close()


def _copy(folder, tmp_path):
    target = tmp_path / "layout"
    shutil.copytree(folder, target)
    return target


@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip_gives_the_contracts_panel_and_hazard_ratios(world, layout):
    contract, folders = world
    with cxlib.load(folders[layout] / "sources.yaml", strict=True) as derived:
        as_of = contract.as_of
        assert derived.as_of == as_of
        keys = ["segment", "tenure_band", "unresolved", "resolved"]
        a = panel.aggregate(contract, as_of=as_of).sort_values(keys).reset_index(drop=True)
        b = panel.aggregate(derived, as_of=as_of).sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a.drop(columns="exposure_days"), b.drop(columns="exposure_days"))
        np.testing.assert_allclose(a["exposure_days"], b["exposure_days"], rtol=1e-12)
        hr_a = ChurnModel().fit(contract, as_of=as_of).hazard_ratios_
        hr_b = ChurnModel().fit(derived, as_of=as_of).hazard_ratios_
        assert (hr_a - hr_b).abs().max() < 1e-9
        # the customers themselves, and the interactions a layout records
        ca = contract.customers.set_index("customer_id").sort_index()
        cb = derived.customers.set_index("customer_id").sort_index()
        pd.testing.assert_frame_equal(ca.drop(columns="monthly_value"), cb.drop(columns="monthly_value"))
        assert (ca["monthly_value"] - cb["monthly_value"]).abs().max() < 0.005
        count = ("SELECT kind, touchpoint, channel, outcome, resolved, count(*) AS n FROM interactions "
                 "WHERE touchpoint <> 'survey' GROUP BY ALL ORDER BY ALL")
        pd.testing.assert_frame_equal(contract.query(count), derived.query(count))
        if "nps" in layout:
            nps = "SELECT customer_id, nps, count(*) AS n FROM interactions WHERE nps IS NOT NULL GROUP BY ALL ORDER BY ALL"
            pd.testing.assert_frame_equal(contract.query(nps), derived.query(nps))


# ---------------------------------------------------------------------------------------
# Bad input, per template: the raw file, its row and the raw column in the rejects


def _edit_jsonl(path, index, change):
    lines = path.read_text().splitlines()
    record = json.loads(lines[index])
    change(record)
    lines[index] = json.dumps(record)
    path.write_text("\n".join(lines) + "\n")


def _edit_csv(path, index, column, value):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[index, column] = value
    frame.to_csv(path, index=False)


def _edit_parquet(path, index, sql_set):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT *, row_number() OVER () - 1 AS __i FROM read_parquet('{path}')")
    con.execute(f"UPDATE t SET {sql_set} WHERE __i = {index}")
    con.execute(f"COPY (SELECT * EXCLUDE (__i) FROM t ORDER BY __i) TO '{path}' (FORMAT PARQUET)")
    con.close()


def _reject(data, file, row):
    rejects = data.rejects
    hit = rejects[(rejects["file"] == str(file)) & (rejects["row"] == row)]
    assert len(hit), f"no reject at {file} row {row}:\n{rejects.to_string()}"
    return hit


def test_zendesk_unknown_status_and_unknown_requester(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[0]], tmp_path)
    tickets = folder / "zendesk" / "tickets.jsonl"
    _edit_jsonl(tickets, 4, lambda r: r.update(status="archived"))
    _edit_jsonl(tickets, 9, lambda r: r.update(requester_id=999))
    _edit_jsonl(tickets, 12, lambda r: r.update(created_at="yesterday"))
    with cxlib.load(folder / "sources.yaml") as data:
        assert data.report.rejected["interactions"] == 3
        hit = _reject(data, tickets.resolve(), 13)
        assert list(hit["column"]) == ["created_at"] and hit["reason"].iloc[0] == "unparsable timestamp"
        hit = _reject(data, tickets.resolve(), 5)  # a JSON lines file's row is its line
        assert list(hit["column"]) == ["status"] and "archived" in hit["value"].iloc[0]
        assert "not a value the sources file maps" in hit["reason"].iloc[0]
        hit = _reject(data, tickets.resolve(), 10)
        assert list(hit["column"]) == ["requester_id"] and hit["value"].iloc[0] == "999"
        assert "not found in lookup zendesk_users (users.jsonl)" in hit["reason"].iloc[0]


def test_zendesk_duplicate_ticket_names_the_first_raw_row(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[0]], tmp_path)
    tickets = folder / "zendesk" / "tickets.jsonl"
    first = json.loads(tickets.read_text().splitlines()[2])
    _edit_jsonl(tickets, 7, lambda r: r.update(id=first["id"]))
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, tickets.resolve(), 8)
        assert hit["reason"].iloc[0] == f"duplicate interaction_id (first at row 3 of {tickets.resolve()})"


def test_stripe_unknown_status_and_unparsable_created(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[0]], tmp_path)
    subs = folder / "stripe" / "subscriptions.csv"
    _edit_csv(subs, 0, "status", "frozen")
    _edit_csv(subs, 3, "created", "yesterday")
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, subs.resolve(), 2)  # CSV: the header is row 1
        assert list(hit["column"]) == ["status"] and hit["value"].iloc[0] == "frozen"
        hit = _reject(data, subs.resolve(), 5)
        assert "created" in list(hit["column"]) and "not a bigint" in " ".join(hit["reason"])
        # the interactions of a rejected customer are set aside with that reason, not silently
        reasons = data.rejects[data.rejects["reason"].str.contains("its customer row was rejected", regex=False)]
        assert len(reasons) and reasons["reason"].str.contains(str(subs.resolve())).all()


def test_salesforce_unknown_origin_and_unknown_account(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[1]], tmp_path)
    cases = folder / "salesforce" / "cases.csv"
    _edit_csv(cases, 1, "Origin", "Carrier Pigeon")
    _edit_csv(cases, 2, "AccountId", "001000000000999999")
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, cases.resolve(), 3)
        assert list(hit["column"]) == ["Origin"] and hit["value"].iloc[0] == "Carrier Pigeon"
        hit = _reject(data, cases.resolve(), 4)
        assert list(hit["column"]) == ["AccountId"] and "salesforce_accounts" in hit["reason"].iloc[0]


def test_orders_unknown_status_and_a_rule_on_a_missing_field(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[1]], tmp_path)
    orders = folder / "orders" / "orders.csv"
    _edit_csv(orders, 5, "status", "lost")
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, orders.resolve(), 7)
        assert list(hit["column"]) == ["status"] and hit["value"].iloc[0] == "lost"
    sources = folder / "sources.yaml"
    sources.write_text(sources.read_text().replace("delivered_at > promised_at", "delivered_at > promise_at"))
    with pytest.raises(DataError, match=r"source 'orders', rule 'outcome' \(when #1\): 'delivered_at > promise_at"
                       r".* names a column the file lacks.*promise_at"):
        cxlib.load(sources)


def test_events_unknown_event_and_unknown_user(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[0]], tmp_path)
    tracks = folder / "events" / "tracks.parquet"
    _edit_parquet(tracks, 10, "event = 'Page Exploded'")
    _edit_parquet(tracks, 20, "userId = 'nobody'")
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, tracks.resolve(), 12)  # Parquet: the first record is row 2, as for the contract
        assert list(hit["column"]) == ["event"] and hit["value"].iloc[0] == "Page Exploded"
        hit = _reject(data, tracks.resolve(), 22)
        assert list(hit["column"]) == ["userId"] and "unknown customer_id" in hit["reason"].iloc[0]


def test_nps_score_out_of_range_and_unknown_email(world, tmp_path):
    folder = _copy(world[1][LAYOUTS[1]], tmp_path)
    responses = folder / "nps" / "responses.csv"
    _edit_csv(responses, 0, "score", "11")
    _edit_csv(responses, 1, "email", "stranger@example.com")
    with cxlib.load(folder / "sources.yaml") as data:
        hit = _reject(data, responses.resolve(), 2)
        assert list(hit["column"]) == ["score"] and "0 to 10" in hit["reason"].iloc[0]
        hit = _reject(data, responses.resolve(), 3)
        assert "customer_emails" in hit["reason"].iloc[0] and hit["value"].iloc[0] == "stranger@example.com"


# ---------------------------------------------------------------------------------------
# The sources file itself


def _with(folder, tmp_path, old, new):
    target = _copy(folder, tmp_path)
    path = target / "sources.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("  zendesk_tickets:\n", "  zendesk_tickets:\n    colums: {}\n", r"source 'zendesk_tickets': unknown key 'colums'"),
        ("version: 1", "version: 1\nsourcez: {}", r"unknown key 'sourcez'"),
        ("resolved: status = 'resolved'", "resolved: status = = 'resolved'",
         r"source 'zendesk_tickets', rule 'resolved': .* does not parse"),
        ("resolved: status = 'resolved'", "resolved: 1; DROP TABLE rejects",
         r"source 'zendesk_tickets', rule 'resolved': .* is not one SQL expression"),
        ("resolved: status = 'resolved'", "resolved: via.chanel = 'x'",
         r"source 'zendesk_tickets', rule 'resolved': .*names a column the file lacks"),
        ("      at: created_at\n", "", r"source 'zendesk_tickets': no rule for the required column 'at'"),
        ("      at: created_at\n", "      at: created_at\n      mood: happy\n", r"'mood' is not a column of interactions"),
        ("lookup: zendesk_users\n", "lookup: zendesk_userz\n", r"no lookup named 'zendesk_userz'"),
    ],
)
def test_structural_errors_name_the_source_and_the_rule(world, tmp_path, old, new, message):
    path = _with(world[1][LAYOUTS[0]], tmp_path, old, new)
    with pytest.raises(DataError, match=message) as info:
        cxlib.load(path)
    assert str(path.resolve()) in str(info.value) or str(path) in str(info.value)


def test_values_from_the_file_are_bound_not_spliced(world, tmp_path):
    """A then-value with quotes and SQL in it arrives as a value the contract rejects, nothing runs."""
    path = _with(world[1][LAYOUTS[0]], tmp_path, "then: bad", "then: \"bad'); DROP TABLE rejects; --\"")
    with cxlib.load(path) as data:
        bad = data.rejects[data.rejects["column"] == "outcome"]
        assert len(bad) and (bad["value"] == "bad'); DROP TABLE rejects; --").all()
        assert bad["reason"].str.startswith("not one of").all()


def test_yaml_is_read_safely(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ["version: 1", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):  # 10**12 x's once expanded
        lines.append(f"{'abcdefghijklm'[i]}: &{'abcdefghijklm'[i]} [" + ", ".join(f"*{'abcdefghijklm'[i - 1]}" for _ in range(10)) + "]")
    bomb.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="aliases"):
        cxlib.load(bomb)
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text("version: 1\nsources: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DataError, match="not a valid sources file"):
        cxlib.load(tagged)
    twice = tmp_path / "twice.yaml"
    twice.write_text("version: 1\nsources: {}\nsources: {}\n")
    with pytest.raises(DataError, match="duplicate key 'sources'.*row 3"):
        cxlib.load(twice)


def test_cx_validate_and_the_notebooks_take_a_sources_file(world, tmp_path, capsys):
    folder = _copy(world[1][LAYOUTS[0]], tmp_path)
    tickets = folder / "zendesk" / "tickets.jsonl"
    _edit_jsonl(tickets, 0, lambda r: r.update(status="archived"))
    sources = folder / "sources.yaml"
    from cxlib.run.cli import main

    assert main(["validate", str(sources), "--strict", "--rejects", str(tmp_path / "r.csv")]) == 1
    assert f"{tickets.resolve()} row 1, column 'status'" in capsys.readouterr().out
    assert "tickets.jsonl" in pd.read_csv(tmp_path / "r.csv")["file"].iloc[0]
    from cxlib.run.notebook import open_data

    with open_data(str(sources)) as data:
        assert data.report.rejected["interactions"] == 1
