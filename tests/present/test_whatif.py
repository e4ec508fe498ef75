"""What-if controls and slices driven through their Python API, and their static view in the report."""

from __future__ import annotations

import warnings

import nbformat
import pandas as pd
import pytest

import cxlib
from cxlib.features import metrics
from cxlib.run import report
from cxlib.analyses import roi
from cxlib.present import roi as roi_text
from cxlib.present import whatif
from cxlib.models.churn import ChurnModel
from cxlib.exceptions import ThinEvidenceWarning

DRAWS, SEED = 8, 4


@pytest.fixture(scope="module")
def base(small_world):
    with cxlib.load(small_world) as data:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ThinEvidenceWarning)
            model = ChurnModel().fit(data)
            prepared = roi.prepare(data, model=model, draws=DRAWS, seed=SEED)
        yield data, model, prepared


def _evaluate(data, model, scenarios):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinEvidenceWarning)
        return roi.evaluate(data, scenarios, model=model, draws=DRAWS, seed=SEED, process_draws=0)


def test_a_slider_moves_the_table_to_roi_evaluate_at_that_setting(base):
    data, model, prepared = base
    w = whatif.WhatIf(prepared)
    panel = w.panel()
    default = w.shown
    assert default == panel.static_html, "the panel opens on the default view"
    slider = panel.controls[whatif.cut_control("delivery")]
    slider.value = 0.8
    moved = w.shown
    assert moved != default
    levers = {whatif.cut_control("delivery"): 0.8}
    expected = _evaluate(data, model, w.scenarios(**levers))
    pd.testing.assert_frame_equal(w.result(**levers).table, expected.table)
    table = roi_text.roi_table(expected)
    table.columns.name, table.index.name = table.index.name, None
    assert moved == table.to_html(classes="cx-whatif")
    assert "Fix delivery" in moved and "80%" in moved

    panel.controls[whatif.RESOLUTION].value = 0.95
    both = {**levers, whatif.RESOLUTION: 0.95}
    pd.testing.assert_frame_equal(w.result(**both).table, _evaluate(data, model, w.scenarios(**both)).table)
    retained = {r: w.result(**{**levers, whatif.RESOLUTION: r}).table.set_index("scenario").loc[
        "Better service", "retained_revenue"] for r in (0.85, 0.95)}
    assert 0 < retained[0.85] < retained[0.95], "a higher resolution target retains more"
    service = next(s for s in w.scenarios(**both) if s.kind == "service")
    assert service.change == {"resolution_rate": 0.95}, "the contact share stays as measured"

    before = w.result(**both).table.set_index("scenario")
    panel.controls[whatif.cost_control("Fix delivery")].value = 2 * before.loc["Fix delivery", "yearly_cost"]
    after = w.result(**{**both, whatif.cost_control("Fix delivery"): 2 * before.loc["Fix delivery", "yearly_cost"]})
    after = after.table.set_index("scenario")
    assert after.loc["Fix delivery", "retained_revenue"] == before.loc["Fix delivery", "retained_revenue"]
    assert after.loc["Fix delivery", "net_benefit"] < before.loc["Fix delivery", "net_benefit"]


def test_every_lever_has_a_slider_and_a_cut_of_zero_invests_nothing(base):
    _, _, prepared = base
    w = whatif.WhatIf(prepared)
    controls = w.controls()
    tps = prepared.measured.touchpoints
    assert set(controls) == {whatif.RESOLUTION, whatif.CONTACT, *map(whatif.cut_control, tps),
                             whatif.cost_control(whatif.SERVICE), *(whatif.cost_control(f"Fix {t}") for t in tps)}
    names = [s.name for s in w.scenarios()]
    assert names == ["Better service", "Fix delivery", "Fix website"], "the defaults are the scenario file's"
    none = {whatif.cut_control(t): 0.0 for t in tps} | {whatif.RESOLUTION: w.measured_resolution}
    assert w.scenarios(**none) == [] and w.result(**none) is None


def test_the_display_carries_a_static_view_and_the_report_drops_the_widget(base, tmp_path):
    _, _, prepared = base
    panel = whatif.WhatIf(prepared).panel()
    bundle = panel._repr_mimebundle_()
    assert report.WIDGET_MIME in bundle and bundle["text/html"] == panel.static_html
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells.append(nbformat.v4.new_code_cell("panel", outputs=[
        nbformat.v4.new_output("display_data", data=bundle)]))
    readers = report.for_readers(nb)
    assert "widgets" not in readers.metadata
    assert set(readers.cells[0].outputs[0]["data"]) == {"text/html", "text/plain"}
    html = report.to_html(nb, title="t")
    assert "<script" not in html and "Fix delivery" in html


def test_a_slice_redraws_the_metrics_with_intervals(base):
    data, _, _ = base
    s = whatif.Slices(data)
    panel = s.panel()
    everything = s.shown
    panel.controls["segment"].value = "smb"
    smb = s.shown
    assert smb != everything and "Slice: segment smb" in smb
    frame = metrics.slice_metrics(data, segment="smb")
    bad = frame.set_index("measure").loc["bad-experience rate"]
    expected = data.query("""SELECT count(*) FILTER (outcome = 'bad') AS bad, count(*) AS n FROM interactions i
                             JOIN customers k USING (customer_id) WHERE kind = 'experience' AND k.segment = 'smb'""")
    assert (bad["successes"], bad["n"]) == (expected["bad"].iloc[0], expected["n"].iloc[0])
    assert bad["ci_low"] < bad["rate"] < bad["ci_high"]
    assert f"{100 * bad['rate']:.1f}%" in smb
    month = s.options["period"][-2]
    panel.controls["period"].value = month
    assert f"period {month}" in s.shown
    hostile = metrics.slice_metrics(data, touchpoint="x' OR '1'='1")
    assert (hostile["n"] == 0).all(), "slice values are bound, never pasted into the SQL"
