"""The data of a run loaded once: the runner's copy opens with the same rows, report and as_of,
and a notebook opens it only when it asks for that same data."""

from __future__ import annotations

import pandas as pd

from cxlib.data.open import locate, open_data
from cxlib.run import loaded
from cxlib.run import notebook


def test_the_saved_copy_holds_the_same_data_report_and_as_of(small_world, tmp_path):
    with open_data(small_world, as_of="2025-06-30") as data:
        path = loaded.save(data, tmp_path / "data" / "loaded.duckdb")
        with loaded.open_saved(path) as copy:
            assert copy.fingerprint() == data.fingerprint()
            assert copy.report == data.report and copy.as_of == data.as_of and copy.source == data.source
            pd.testing.assert_frame_equal(copy.customers, data.customers)
            pd.testing.assert_frame_equal(copy.interactions, data.interactions)
            pd.testing.assert_frame_equal(copy.rejects, data.rejects)
            copy.register("ids", pd.DataFrame({"customer_id": data.customers["customer_id"].head(3)}))
            assert len(copy.query("SELECT * FROM customers JOIN ids USING (customer_id)")) == 3, \
                "read-only, it still takes the frames cxlib registers"


def test_a_notebook_opens_the_runs_copy_only_for_the_same_data(small_world, tmp_path, monkeypatch):
    with open_data(small_world) as data:
        path = loaded.save(data, tmp_path / "loaded.duckdb")
        expected = data.fingerprint()
    location = locate(str(small_world))
    monkeypatch.setenv(loaded.ENV, loaded.announcement(path, location, as_of="", engine="duckdb"))
    assert loaded.announced(location, as_of="", engine="duckdb") == path
    with notebook.open_data(str(small_world)) as same:
        assert same.con.execute("SELECT current_database()").fetchone()[0] == "loaded", "opened from the copy"
        assert same.fingerprint() == expected
    assert loaded.announced(location, as_of="2025-06-30", engine="duckdb") is None, "another as_of: loaded anew"
    assert loaded.announced(str(tmp_path), as_of="", engine="duckdb") is None, "other data: loaded anew"
    with notebook.open_data(str(small_world), as_of="2025-06-30") as other:
        assert other.con.execute("SELECT current_database()").fetchone()[0] == "memory"
