"""Shared fixtures: the Agg backend with figures closed after each test, and small simulated worlds."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """2,000 simulated customers as CSV, with their truth: enough for notebooks and runs."""
    from cxlib.simulate import write_dataset

    path = tmp_path_factory.mktemp("small_world")
    write_dataset(path, 2_000, seed=7, fmt="csv")
    return path
