"""The cx command line: exit codes and what it prints, run as a user would (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests._files import INTERACTIONS, append_interaction, write

CX = [sys.executable, "-m", "cxlib.run.cli"]


def cx(*args, cwd=None):
    return subprocess.run([*CX, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_validate_clean_data_exits_0(tmp_path):
    result = cx("validate", write(tmp_path / "d"), "--rejects", tmp_path / "rejects.csv")
    assert result.returncode == 0, result.stderr
    assert "interactions: read 3, accepted 3, rejected 0" in result.stdout
    assert "no rejected rows" in result.stdout


def test_validate_with_rejects_exits_0_and_names_row_and_column(tmp_path):
    data = write(tmp_path / "d", interactions=append_interaction("i9,00042,yesterday,experience,web,website,bad,,,,,"))
    result = cx("validate", data, "--rejects", tmp_path / "rejects.csv")
    assert result.returncode == 0, result.stderr
    assert "row 5, column 'at': unparsable timestamp (value 'yesterday')" in result.stdout
    assert (tmp_path / "rejects.csv").read_text().count("\n") == 2


def test_validate_strict_with_rejects_exits_1(tmp_path):
    data = write(tmp_path / "d", interactions=append_interaction("i9,00042,yesterday,experience,web,website,bad,,,,,"))
    assert cx("validate", data, "--strict", "--rejects", tmp_path / "r.csv").returncode == 1


def test_validate_strict_clean_exits_0(tmp_path):
    assert cx("validate", write(tmp_path / "d"), "--strict", "--rejects", tmp_path / "r.csv").returncode == 0


def test_validate_structural_error_exits_2_naming_file_and_column(tmp_path):
    data = write(tmp_path / "d", interactions=INTERACTIONS.replace(",touchpoint,", ",step,"))
    result = cx("validate", data)
    assert result.returncode == 2
    assert "missing required column" in result.stderr
    assert "interactions.csv" in result.stderr and "'touchpoint'" in result.stderr


def test_simulate_writes_a_valid_data_set(tmp_path):
    out = tmp_path / "sim"
    result = cx("simulate", "--customers", 300, "--seed", 3, "--out", out, "--format", "parquet")
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} >= {"customers.parquet", "interactions.parquet", "truth.json"}
    check = cx("validate", out, "--strict", "--rejects", tmp_path / "r.csv")
    assert check.returncode == 0, check.stdout + check.stderr


def test_unknown_command_is_a_usage_error():
    result = cx("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["run", "--help"], ["simulate", "--help"]])
def test_help(argv):
    result = cx(*argv)
    assert result.returncode == 0 and "usage: cx" in result.stdout


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "cx"
    assert script.exists(), "pip install -e . should install the cx command"
