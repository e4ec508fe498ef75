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


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on a free loopback port for the session (tests/_postgres.py).

    Fails, never skips, when PostgreSQL is missing: ``make test`` installs it.
    """
    from tests._postgres import Server

    server = Server()
    try:
        yield server
    finally:
        server.stop()
