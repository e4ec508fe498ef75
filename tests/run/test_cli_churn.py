"""cx churn / cx claims on the command line, and notebooks/02_churn.ipynb run through papermill."""

from __future__ import annotations

import json

import papermill as pm
import pytest

from cxlib.run.cli import main
from cxlib.config import NOTEBOOKS_DIR


def test_cx_churn_json(small_world_and_truth, capsys):  # noqa: F811
    path, truth = small_world_and_truth
    assert main(["churn", str(path), "--json", "--as-of", truth["as_of"]]) == 0
    out = json.loads(capsys.readouterr().out)
    covariates = out["covariates"]
    assert {"unresolved", "resolved"} <= set(covariates)
    for name, c in covariates.items():
        assert {"hazard_ratio", "ci_low", "ci_high"} <= set(c)
        if "not_estimable" in c:  # e.g. an engagement band without churn: no number, a reason
            assert c["hazard_ratio"] is None and out["not_estimable"][name] == c["not_estimable"]
            continue
        assert c["ci_low"] < c["hazard_ratio"] < c["ci_high"]
    assert "unresolved" not in out["not_estimable"]
    assert out["window_days"] == 90 and out["events"] > 0


def test_cx_churn_window_and_text(small_world_and_truth, capsys):  # noqa: F811
    path, _ = small_world_and_truth
    assert main(["churn", str(path), "--window-days", "30"]) == 0
    text = capsys.readouterr().out
    assert "last 30 days" in text and "hazard ratio" in text


def test_cx_claims_json(small_world_and_truth, capsys):  # noqa: F811
    path, _ = small_world_and_truth
    assert main(["claims", str(path), "--json", "--horizon-days", "60"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["horizon_days"] == 60
    claims = out["claims"]
    assert {"leave_after_one_bad", "stop_after_three_poor_service", "resolution_matters", "expect_personalization"} <= set(claims)
    for record in claims.values():
        assert {"estimate", "ci_low", "ci_high", "verdict", "reason"} <= set(record)
    assert claims["expect_personalization"]["verdict"] == "not testable"
    assert claims["expect_personalization"]["estimate"] is None
    assert "60 days" in claims["leave_after_one_bad"]["reason"]


def test_cx_claims_text(small_world_and_truth, capsys):  # noqa: F811
    path, _ = small_world_and_truth
    assert main(["claims", str(path)]) == 0
    text = capsys.readouterr().out
    assert "leave_after_one_bad:" in text and "NOT TESTABLE" in text


def test_cx_churn_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert main(["churn", str(tmp_path / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_churn_notebook_executes_with_small_parameters(small_world_and_truth, tmp_path):  # noqa: F811
    path, _ = small_world_and_truth
    out = tmp_path / "02_churn.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS_DIR / "02_churn.ipynb"),
        str(out),
        parameters={"data": str(path), "window_days": 60, "horizon_days": 60, "cox_sample": 800},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # claims, hazard ratios, cross-check, survival curves
    html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "leave_after_one_bad" in html and "last 60 days" in html and "Cox" in html
