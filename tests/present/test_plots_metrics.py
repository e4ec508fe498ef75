"""Figures of the service, experience and journey metrics: titled, labelled, with units.

Runs on the Agg backend; the autouse fixture of conftest.py closes the figures.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import cxlib  # noqa: E402
from cxlib.features import metrics
from cxlib.present import plots  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from cxlib.data.simulate import write_dataset

    path = tmp_path_factory.mktemp("plots_world")
    write_dataset(path, 800, seed=3, fmt="parquet")
    with cxlib.load(path) as loaded:
        yield loaded


def assert_labelled(ax, *, unit: str | None = None):
    assert ax.get_title(), "a title"
    assert ax.get_xlabel() and ax.get_ylabel(), "both axes labelled"
    if unit is not None:
        assert unit in ax.get_xlabel() + ax.get_ylabel() + _colorbar_label(ax), f"the unit {unit!r} is shown"


def _colorbar_label(ax) -> str:
    labels = [other.get_ylabel() for other in ax.figure.axes if other is not ax]
    return " ".join(labels)


@pytest.mark.parametrize(
    "draw, unit",
    [
        (lambda d: plots.plot_contact_causes(metrics.contact_causes(d)), "%"),
        (lambda d: plots.plot_contact_causes(metrics.contact_causes(d, by="channel"), by="channel"), "%"),
        (lambda d: plots.plot_follow_up(metrics.bad_experience_follow_up(d)), "%"),
        (lambda d: plots.plot_bad_rate_heatmap(metrics.bad_rate(d, by=("touchpoint", "channel"))), "%"),
        (lambda d: plots.plot_outcome_mix(metrics.outcome_mix(d)), "%"),
        (lambda d: plots.plot_channel_consistency(metrics.channel_consistency(d)), "%"),
        (lambda d: plots.plot_transitions(metrics.journey_transitions(d)), "%"),
        (lambda d: plots.plot_churn_paths(metrics.churn_paths(d)), "%"),
    ],
    ids=["causes", "causes_by_channel", "follow_up", "heatmap", "outcome_mix", "consistency", "transitions", "paths"],
)
def test_axes_figures_are_titled_and_labelled(data, draw, unit):
    ax = draw(data)
    assert isinstance(ax, plt.Axes)
    assert_labelled(ax, unit=unit)


def test_plot_draws_on_the_given_axes(data):
    fig, (left, right) = plt.subplots(1, 2)
    assert plots.plot_outcome_mix(metrics.outcome_mix(data), ax=right) is right
    assert not left.get_title()


@pytest.mark.parametrize("by", ["month", "channel"])
def test_service_metrics_small_multiples(data, by):
    frame = metrics.service_metrics(data, by=by)
    fig = plots.plot_service_metrics(frame, by=by)
    assert fig._suptitle is not None and fig._suptitle.get_text()
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == frame["metric"].nunique()
    for ax in panels:
        assert_labelled(ax)
    units = " ".join(ax.get_xlabel() + ax.get_ylabel() for ax in panels)
    for unit in ("minutes", "%", "points", "customer-months"):
        assert unit in units


def test_heatmap_shows_rates_and_counts(data):
    frame = metrics.bad_rate(data, by=("touchpoint", "channel"))
    ax = plots.plot_bad_rate_heatmap(frame)
    texts = [t.get_text() for t in ax.texts if t.get_text()]
    assert len(texts) == len(frame) and all("%" in t and "n=" in t for t in texts)


def test_consistency_marks_flagged_channels_in_red(data):
    frame = metrics.channel_consistency(data)
    ax = plots.plot_channel_consistency(frame)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [f"{t} · {c}" for t, c in zip(frame[frame.tested].touchpoint, frame[frame.tested].channel)]
