"""What-if controls for JupyterLab: move a lever, see the ROI table again, in under a second.

:class:`WhatIf` holds what :func:`cxlib.analyses.roi.prepare` derived once (the fitted model, the
measured base and rates, the draws) and turns lever values into scenarios:

- **service**: the resolution target and the contact share (both shares of 0–1), with its
  yearly cost;
- **experience**: each touchpoint's bad-rate cut (a touchpoint at 0 is not invested in),
  each with its yearly cost.

:meth:`WhatIf.result` is :func:`cxlib.analyses.roi.evaluate_prepared` at those values, without the
Monte Carlo of realised futures (``process_draws=0``): no query, no fit, and only the
scenario whose lever moved is run again (the others, and the baseline, are kept by draw in
the :class:`~cxlib.analyses.roi.Prepared`). A cost slider runs nothing at all: costs enter only the
net benefit.

:meth:`WhatIf.panel` wires sliders to :meth:`WhatIf.show` with
``ipywidgets.interactive_output``. Its display carries the static default view as
``text/html`` beside the widget: JupyterLab shows the widget, while papermill's executed
notebook and the HTML report (:func:`cxlib.run.report.for_readers` drops widget views and
widget state) show the table at the default values, without any script.

:class:`Slices` does the same for the overview's metrics: a segment, a channel, a touchpoint
and a period, each "all" by default, redraw the metrics with their intervals.
"""

from __future__ import annotations

import html

import pandas as pd

from cxlib.analyses import roi
from cxlib.present import roi as roi_text
from cxlib.present.tables import one_header_row

__all__ = ["WhatIf", "Slices", "SERVICE", "RESOLUTION", "CONTACT", "cut_control", "cost_control"]

SERVICE = "Better service"
RESOLUTION = "resolution_rate"
CONTACT = "contact_share"


def cut_control(touchpoint: str) -> str:
    return f"cut:{touchpoint}"


def cost_control(scenario: str) -> str:
    return f"cost:{scenario}"


def experience_name(touchpoint: str) -> str:
    return f"Fix {touchpoint}"


class WhatIf:
    """Lever values → scenarios → :func:`cxlib.analyses.roi.evaluate_prepared`, and the sliders for them.

    ``scenarios``: the scenario file (anything :func:`cxlib.analyses.roi.load_scenarios` takes), whose
    values are the defaults: its first service scenario's resolution target and contact
    share, its experience scenarios' cuts, every scenario's yearly cost.
    """

    def __init__(self, prepared: roi.Prepared, scenarios=None, *, currency: str | None = None):
        self.prepared = prepared
        file_scenarios, self.currency = roi.scenarios_and_currency(scenarios, currency)
        m = prepared.measured
        self.touchpoints = list(m.touchpoints)
        self.measured_contact = float(prepared.c_hat)
        self.measured_resolution = float(prepared.r_hat)
        service = next((s for s in file_scenarios if s.kind == "service"
                        and ({RESOLUTION, CONTACT} & set(s.change))), None)
        d = {RESOLUTION: self.measured_resolution, CONTACT: self.measured_contact}  # as measured: no change
        if service is not None:
            d.update({k: float(v) for k, v in service.change.items() if k in (RESOLUTION, CONTACT)})
        d[cost_control(SERVICE)] = float(service.yearly_cost) if service is not None else 0.0
        for t in self.touchpoints:
            exp = next((s for s in file_scenarios if s.kind == "experience" and s.change["touchpoint"] == t), None)
            d[cut_control(t)] = float(exp.change["bad_rate_cut"]) if exp is not None else 0.0
            d[cost_control(experience_name(t))] = float(exp.yearly_cost) if exp is not None else 0.0
        self.defaults = d

    # ------------------------------------------------------------------ numbers

    def scenarios(self, **levers) -> list[roi.Scenario]:
        """The scenarios at these lever values (missing levers at their defaults)."""
        v = {**self.defaults, **levers}
        change = {}
        if abs(v[RESOLUTION] - self.measured_resolution) > 1e-9:
            change[RESOLUTION] = float(v[RESOLUTION])
        if abs(v[CONTACT] - self.measured_contact) > 1e-9:
            change[CONTACT] = float(v[CONTACT])
        out = []
        if change:
            out.append(roi.Scenario(SERVICE, "service", change, yearly_cost=v[cost_control(SERVICE)]))
        for t in self.touchpoints:
            if v[cut_control(t)] > 0:
                name = experience_name(t)
                out.append(roi.Scenario(name, "experience", {"touchpoint": t, "bad_rate_cut": float(v[cut_control(t)])},
                                        yearly_cost=v[cost_control(name)]))
        return out

    def result(self, **levers) -> roi.ROIResult | None:
        """:func:`cxlib.analyses.roi.evaluate_prepared` at these values (``None`` when no lever is set)."""
        scenarios = self.scenarios(**levers)
        if not scenarios:
            return None
        return roi.evaluate_prepared(self.prepared, scenarios, currency=self.currency, process_draws=0)

    # ------------------------------------------------------------------ words

    def table(self, **levers) -> pd.DataFrame | None:
        """The ROI table at these values, as a manager reads it (one row per scenario)."""
        result = self.result(**levers)
        if result is None:
            return None
        return one_header_row(roi_text.roi_table(result))

    def show(self, **levers) -> None:
        """Display the table at these values (the function the sliders drive)."""
        from IPython.display import HTML, display

        self.shown = self.html(**levers)  # what the output area shows now (read by tests and callers)
        display(HTML(self.shown))

    def html(self, **levers) -> str:
        table = self.table(**levers)
        if table is None:
            return "<p>No lever is set: move a slider to evaluate an investment.</p>"
        return table.to_html(classes="cx-whatif")

    # ------------------------------------------------------------------ controls

    def controls(self) -> dict:
        """One slider per lever, at its default value, keyed by the name :meth:`show` takes."""
        import ipywidgets as w

        style = {"description_width": "12em"}
        layout = w.Layout(width="27em")
        c = {
            RESOLUTION: w.FloatSlider(value=self.defaults[RESOLUTION], min=0.0, max=1.0, step=0.01,
                                      description="resolution target", readout_format=".0%", style=style,
                                      layout=layout, continuous_update=False),
            CONTACT: w.FloatSlider(value=self.defaults[CONTACT], min=0.0, max=1.0, step=0.01,
                                   description="contact share", readout_format=".0%", style=style, layout=layout,
                                   continuous_update=False),
        }
        for t in self.touchpoints:
            c[cut_control(t)] = w.FloatSlider(value=self.defaults[cut_control(t)], min=0.0, max=1.0, step=0.05,
                                              description=f"bad-rate cut: {t}", readout_format=".0%", style=style,
                                              layout=layout, continuous_update=False)
        for name in [SERVICE, *(experience_name(t) for t in self.touchpoints)]:
            key = cost_control(name)
            top = max(50_000.0, 4 * self.defaults[key])
            c[key] = w.FloatSlider(value=self.defaults[key], min=0.0, max=top, step=500.0,
                                   description=f"yearly cost: {name}", readout_format=",.0f", style=style,
                                   layout=layout, continuous_update=False)
        return c

    def panel(self):
        """The sliders and the table they drive; displayed, it falls back to the default table."""
        import ipywidgets as w

        controls = self.controls()
        out = w.interactive_output(self.show, controls)
        box = w.VBox([w.HBox([w.VBox(list(controls.values())[:2 + len(self.touchpoints)]),
                              w.VBox(list(controls.values())[2 + len(self.touchpoints):])]), out])
        return StaticFallback(box, self.html(), controls=controls, output=out)


class StaticFallback:
    """A widget whose display also carries a static ``text/html`` view for frontends without widgets."""

    def __init__(self, widget, static_html: str, *, controls: dict | None = None, output=None):
        self.widget, self.static_html = widget, static_html
        self.controls, self.output = controls or {}, output

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        data = dict(data)
        data["text/html"] = self.static_html
        data["text/plain"] = "what-if controls (open the notebook in JupyterLab to move them)"
        return data


# ---------------------------------------------------------------------------------------
# Slices of the overview

ALL = "all"
SLICE_KEYS = ("segment", "channel", "touchpoint", "period")


class Slices:
    """The headline metrics of one slice of the data (segment, channel, touchpoint, period), with intervals.

    ``metrics_of(**slice)`` returns the numbers (:func:`cxlib.features.metrics.slice_metrics`);
    ``show`` displays them as text; :meth:`panel` wires dropdowns to ``show``.
    """

    def __init__(self, data):
        from cxlib.features import metrics

        self.data = data
        self.options = metrics.slice_options(data)

    def metrics_of(self, **slice_) -> pd.DataFrame:
        from cxlib.features import metrics

        kw = {k: (None if v in (None, ALL) else v) for k, v in slice_.items() if k in SLICE_KEYS}
        return metrics.slice_metrics(self.data, **kw)

    def html(self, **slice_) -> str:
        from cxlib.present.tables import slice_table

        chosen = ", ".join(f"{k} {html.escape(str(v))}" for k, v in slice_.items() if v not in (None, ALL)) or "all data"
        return f"<p>Slice: {chosen}</p>" + slice_table(self.metrics_of(**slice_)).to_html()

    def show(self, **slice_) -> None:
        from IPython.display import HTML, display

        self.shown = self.html(**slice_)
        display(HTML(self.shown))

    def controls(self) -> dict:
        import ipywidgets as w

        return {k: w.Dropdown(options=[ALL, *self.options[k]], value=ALL, description=k) for k in SLICE_KEYS}

    def panel(self):
        import ipywidgets as w

        controls = self.controls()
        out = w.interactive_output(self.show, controls)
        return StaticFallback(w.VBox([w.HBox(list(controls.values())), out]), self.html(), controls=controls,
                              output=out)
