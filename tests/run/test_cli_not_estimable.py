"""What the data cannot estimate is said so, never shown as precise: cx churn, cx claims, cx roi in subprocesses.

Four data sets a company can have, each cut from one small simulated world: no bad experience ever
resolved, no bad experience at all, no service rows, and fewer churn events than the model has terms.
The commands run as a user runs them (one subprocess each, all started at once to keep the wall time
small); each case checks the exit code and what the command says.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pandas as pd
import pytest

from cxlib.data.simulate import write_dataset

CX = [sys.executable, "-m", "cxlib.run.cli"]
ROI = ["--draws", "3", "--process-draws", "0", "--no-progress"]

#: case -> the commands to run on its data set
RUNS = {
    "no_resolved": (["churn"], ["claims", "--json"], ["roi", *ROI, "--json"]),
    "no_bad": (["churn", "--json"],),
    "no_service": (["claims"],),
    "few_events": (["churn"], ["roi", *ROI, "--json"]),
}


def _cases(src, out):
    customers = pd.read_csv(src / "customers.csv", dtype=str, keep_default_na=False)
    inter = pd.read_csv(src / "interactions.csv", dtype=str, keep_default_na=False)
    service, bad = inter["kind"] == "service", (inter["kind"] == "experience") & (inter["outcome"] == "bad")
    cases = {
        "no_resolved": (customers, inter.assign(resolved=inter["resolved"].where(~service, "false"))),
        "no_bad": (customers, inter.assign(outcome=inter["outcome"].where(~bad, "good"))),
        "no_service": (customers, inter[~service]),
    }
    churned = customers.index[customers["churned_at"] != ""]
    few = customers.copy()
    few.loc[churned[3:], "churned_at"] = ""  # three churn events left
    cases["few_events"] = (few, inter)
    for name, (c, i) in cases.items():
        (out / name).mkdir()
        c.to_csv(out / name / "customers.csv", index=False)
        i.to_csv(out / name / "interactions.csv", index=False)
    return {name: out / name for name in cases}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(case, command) -> CompletedProcess-like (returncode, stdout, stderr), every command run concurrently."""
    src = tmp_path_factory.mktemp("thin_source")
    write_dataset(src, 600, seed=3, fmt="csv")
    paths = _cases(src, tmp_path_factory.mktemp("thin_cases"))
    procs = {
        (case, " ".join(args)): subprocess.Popen([*CX, args[0], str(paths[case]), *args[1:]], stdout=subprocess.PIPE,
                                                 stderr=subprocess.PIPE, text=True)
        for case, commands in RUNS.items() for args in commands
    }
    results = {}
    for key, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        results[key] = (proc.returncode, out, err)
    return results


def _ok(runs, case, command):
    code, out, err = runs[case, command]
    assert code == 0, err
    assert "Traceback" not in err
    return out


def test_no_resolved_bad_experience(runs):
    out = _ok(runs, "no_resolved", "churn")
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("resolved "))
    assert "not estimable: no bad experience was resolved" in line
    assert "1.00 (1.00–1.00)" not in out
    claims = json.loads(_ok(runs, "no_resolved", "claims --json"))["claims"]
    for cid in ("resolution_matters", "recovery_does_not_offset"):
        assert claims[cid]["verdict"] == "inconclusive", cid
        assert "resolved hazard ratio is not estimable" in claims[cid]["reason"]
        assert claims[cid]["estimate"] is None
    roi = json.loads(_ok(runs, "no_resolved", f"roi {' '.join(ROI)} --json"))
    service = [s for s in roi["scenarios"] if s["kind"] == "service"]
    assert service and all(not s["estimable"] and s["retained_revenue"] is None for s in service)
    assert any("cannot estimate resolved" in s["note"] for s in service)
    assert roi["settings"]["hr_resolved"] is None
    assert any(s["estimable"] for s in roi["scenarios"] if s["kind"] == "experience")


def test_no_bad_experience_at_all(runs):
    result = json.loads(_ok(runs, "no_bad", "churn --json"))
    for term in ("unresolved", "resolved"):
        covariate = result["covariates"][term]
        assert covariate["hazard_ratio"] is None and covariate["ci_low"] is None
        assert "no customer had a bad experience" in covariate["not_estimable"]
        assert term in result["not_estimable"]


def test_no_service_rows(runs):
    out = _ok(runs, "no_service", "claims")
    lines = out.split("resolution_matters:", 1)[1].splitlines()
    block = "\n".join([lines[0], *itertools.takewhile(lambda ln: ln.startswith("  "), lines[1:])])
    assert block.startswith(" INCONCLUSIVE")
    assert "why:      Cannot be tested: the resolved hazard ratio is not estimable" in block
    assert "estimate: – (claimed below 1" in block


def test_fewer_events_than_terms(runs):
    out = _ok(runs, "few_events", "churn")
    rows = [ln for ln in out.splitlines() if "against" in ln or "bad experience in the last" in ln]
    assert rows and all("not estimable: only 3 churn events" in ln for ln in rows)
    roi = json.loads(_ok(runs, "few_events", f"roi {' '.join(ROI)} --json"))
    assert not any(s["estimable"] for s in roi["scenarios"])
    assert roi["recommendation"].startswith("No scenario could be estimated from this data.")
