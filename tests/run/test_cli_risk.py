"""cx risk on the command line: the list as CSV, --top respected, bad calls exit 2."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from cxlib.run.cli import main
from cxlib.run.commands.risk import COLUMNS


def test_cx_risk_writes_the_list(small_world_and_truth, tmp_path, capsys):  # noqa: F811
    path, truth = small_world_and_truth
    out = tmp_path / "lists" / "risk.csv"
    assert main(["risk", str(path), "--top", "15", "--out", str(out), "--as-of", truth["as_of"]]) == 0
    assert "15 customers at risk" in capsys.readouterr().out
    frame = pd.read_csv(out, dtype={"customer_id": str}, keep_default_na=False)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 15
    assert frame["probability"].is_monotonic_decreasing
    assert frame["probability"].between(0, 1).all() and frame["reason"].str.len().gt(0).all()
    assert frame["customer_id"].str.len().eq(7).all()  # leading zeros kept
    assert (frame["monthly_value_at_risk"] <= frame["monthly_value"] + 0.01).all()


def test_cx_risk_prints_csv_without_out(small_world_and_truth, capsys):  # noqa: F811
    path, _ = small_world_and_truth
    assert main(["risk", str(path), "--top", "3", "--horizon-days", "60"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"customer_id": str})
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 3


@pytest.mark.parametrize("argv", [["--top", "0"], ["--horizon-days", "0"]])
def test_cx_risk_bad_arguments_exit_2(small_world_and_truth, argv, capsys):  # noqa: F811
    path, _ = small_world_and_truth
    assert main(["risk", str(path), *argv]) == 2
    assert "cx risk: error" in capsys.readouterr().err
