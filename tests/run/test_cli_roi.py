"""cx roi on the command line: JSON that parses with the keys a scheduler reads, text, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cxlib.run.cli import main


@pytest.fixture(scope="module")
def roi_world(tmp_path_factory):
    from cxlib.data.simulate import write_dataset

    path = tmp_path_factory.mktemp("roi_cli_world")
    write_dataset(path, 3_000, seed=9, fmt="csv")
    return path


SCENARIO_KEYS = {
    "scenario", "kind", "change", "yearly_cost", "cost", "estimable", "retained_revenue", "retained_revenue_low",
    "retained_revenue_high", "churn_avoided", "net_benefit", "net_benefit_low", "net_benefit_high", "roi", "roi_low",
    "roi_high", "break_even_cost", "p_positive", "p_best", "realised_low", "realised_high", "note",
}


def test_cx_roi_json(roi_world, capsys):
    assert main(["roi", str(roi_world), "--json", "--draws", "20", "--process-draws", "5", "--seed", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"settings", "baseline", "rates", "scenarios", "beats", "recommendation", "notes"} <= set(out)
    assert out["settings"]["draws"] == 20 and out["settings"]["seed"] == 2 and out["settings"]["horizon_months"] == 12
    assert out["settings"]["currency"] == "EUR"
    names = [s["scenario"] for s in out["scenarios"]]
    assert names == ["Resolve more contacts", "Answer twice as fast", "Fix delivery", "Fix the website"]
    for s in out["scenarios"]:
        assert SCENARIO_KEYS <= set(s)
        if s["estimable"]:
            assert s["net_benefit_low"] <= s["net_benefit"] <= s["net_benefit_high"]
            assert s["net_benefit"] == pytest.approx(s["retained_revenue"] - s["cost"])
    assert set(out["beats"]) == set(names)
    assert out["baseline"]["customers"] > 0 and isinstance(out["recommendation"], str)


def test_cx_roi_scenario_file_and_text(roi_world, tmp_path, capsys):
    f = tmp_path / "mine.yaml"
    f.write_text(
        "currency: USD\nscenarios:\n"
        "  - {name: Fix billing, kind: experience, change: {touchpoint: billing, bad_rate_cut: 0.5}, yearly_cost: 1000}\n"
        "  - {name: Contact more, kind: service, change: {contact_share: 0.8}, yearly_cost: 1000}\n"
    )
    assert main(["roi", str(roi_world), "--scenarios", str(f), "--draws", "10", "--process-draws", "0", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Fix billing" in text and "Contact more" in text and "USD" in text and "net benefit" in text


def test_cx_roi_unknown_touchpoint_exits_2(roi_world, tmp_path, capsys):
    f = tmp_path / "bad.yaml"
    f.write_text("scenarios:\n  - {name: X, kind: experience, change: {touchpoint: teleporter, bad_rate_cut: 0.5}}\n")
    assert main(["roi", str(roi_world), "--scenarios", str(f), "--draws", "2", "--process-draws", "0"]) == 2
    err = capsys.readouterr().err
    assert "teleporter" in err and "delivery" in err


def test_cx_roi_subprocess_json(roi_world):
    proc = subprocess.run(
        [sys.executable, "-m", "cxlib.run.cli", "roi", str(roi_world), "--json", "--draws", "5", "--process-draws", "0"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenarios"]
