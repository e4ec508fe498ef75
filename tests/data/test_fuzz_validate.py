"""Fuzzing `cx validate`: seeded random mutations of a small valid data set. Each ends in exit
0, 1 or 2; on 0 and 1 the accounting holds (accepted + rejected = read), on 2 the user reads
one clear line; nothing else (a traceback, exit 70) ever. Most go through the command-line
entry point in process (cheap); a seeded sample through a real `cx` subprocess."""

from __future__ import annotations

import contextlib
import io
import random
import re
import subprocess
import sys

import pytest

from cxlib.run.cli import main
from tests._files import CUSTOMERS, INTERACTIONS

#: Values a cell is replaced with: numbers that overflow, sentinels, SQL, markup, controls, encodings.
HOSTILE = [
    "", " ", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "1e400", "-1e400", "1e-400", "-0", "0x10", "300",
    "-1", "١٢٣", "9999-12-31", "0000-00-00", "2024-02-30", "2024-01-01T25:00:00Z", "2024-01-01T00:00:00+25:00",
    "99999-01-01", "1970-01-01", "NULL", "None", "NA", "true", "maybe", "'", "''", '"', '""', "it's",
    "'; DROP TABLE customers; --", "\" OR 1=1 --", "x'); SELECT error('INJECTED'); --",
    "<script>alert(1)</script>", "&#x27;", "${jndi:ldap://x}", "%s%n%x", "=cmd|' /C calc'!A0", "\\", "\\N",
    "\x00", "\x1b[31m", "\u202e", "caf\u00e9", "\U0001F600", "\ufeff", ",", "a,b", '"a,b"', "\r", "\n", "\r\n",
    "x" * 5_000,
]
CASES = 300  # in process (about 0.25 s each on an idle machine)
SUBPROCESS_SAMPLE = 10
SEEDS = range(CASES)
LINE = re.compile(r"^(customers|interactions): read ([\d,]+), accepted ([\d,]+), rejected ([\d,]+)", re.M)

BASE = {
    "customers.csv": CUSTOMERS + "00044,2024-01-03T00:00:00Z,,smb,10\n00045,2024-01-04,2024-02-01,,0\n",
    "interactions.csv": INTERACTIONS
    + "i4,00044,2024-01-05T00:00:00Z,service,chat,billing,bad,false,2,3,10,1.5\n"
    + "i5,00045,2024-02-01T10:00:00Z,service,phone,billing,good,true,5,10,0,0\n",
}


def mutate(seed: int) -> dict[str, bytes]:
    """The two files after 1 to 4 seeded mutations."""
    rng = random.Random(seed)
    files = {name: text.encode("utf-8") for name, text in BASE.items()}
    for _ in range(rng.randint(1, 4)):
        name = rng.choice(sorted(files))
        data = files[name]
        lines = data.split(b"\n")
        op = rng.choice(("cell", "cell", "cell", "truncate", "duplicate", "flip", "drop", "header"))
        row = rng.randrange(1, max(2, len(lines) - 1))
        if op in ("cell", "header"):
            row = 0 if op == "header" else row
            cells = lines[row].split(b",")
            cells[rng.randrange(len(cells))] = rng.choice(HOSTILE).encode("utf-8")
            lines[row] = b",".join(cells)
        elif op == "truncate":
            lines[row] = lines[row][: rng.randrange(len(lines[row]) + 1)]
        elif op == "duplicate":
            lines.insert(row, lines[row])
        elif op == "drop":
            del lines[row]
        files[name] = b"\n".join(lines)
        if op == "flip" and files[name]:
            flipped = bytearray(files[name])
            at = rng.randrange(len(flipped))
            flipped[at] ^= 1 << rng.randrange(8)
            files[name] = bytes(flipped)
    return files


def write_case(folder, seed):
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in mutate(seed).items():
        (folder / name).write_bytes(content)
    return folder


def check(seed, code, out, err):
    assert "Traceback" not in out + err, (seed, err)
    assert code in (0, 1, 2), (seed, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("cx validate: error: "), (seed, err)
        return
    counts = {m[0]: tuple(int(x.replace(",", "")) for x in m[1:]) for m in LINE.findall(out)}
    assert set(counts) == {"customers", "interactions"}, (seed, out)
    for table, (read, accepted, rejected) in counts.items():
        assert accepted + rejected == read, (seed, table, out)
        assert accepted > 0, (seed, table, "a load with nothing accepted is a structural error")


def test_mutations_through_the_command_in_process(tmp_path):
    codes = []
    for seed in SEEDS:
        folder = write_case(tmp_path / f"case{seed}", seed)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["validate", str(folder), "--rejects", str(folder / "rejects.csv"), "--strict"])
        check(seed, code, out.getvalue(), err.getvalue())
        codes.append(code)
    assert {0, 1, 2} <= set(codes), "the mutations reach every outcome"


@pytest.mark.parametrize("seed", random.Random(2026).sample(range(CASES, 10 * CASES), SUBPROCESS_SAMPLE))
def test_mutations_through_a_real_cx_process(tmp_path, seed):
    folder = write_case(tmp_path / "case", seed)
    result = subprocess.run(
        [sys.executable, "-m", "cxlib.run.cli", "validate", str(folder), "--rejects", str(tmp_path / "rejects.csv")],
        capture_output=True, text=True, timeout=300,
    )
    check(seed, result.returncode, result.stdout, result.stderr)
