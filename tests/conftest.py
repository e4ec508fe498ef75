"""Shared fixtures, the one place for them: the Agg backend with figures closed after each test, and the
simulated worlds the tests share (each simulated once per session)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import cxlib  # noqa: E402
from cxlib.data.simulate import write_dataset  # noqa: E402
from tests._worlds import RECOVERY_CUSTOMERS, RECOVERY_SEEDS  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def small_world_and_truth(tmp_path_factory):
    """2,000 simulated customers as CSV and their truth: enough for notebooks, the command line and runs."""
    path = tmp_path_factory.mktemp("small_world")
    truth = write_dataset(path, 2_000, seed=7, fmt="csv")
    return path, truth


@pytest.fixture(scope="session")
def small_world(small_world_and_truth):
    """The 2,000-customer world's folder."""
    return small_world_and_truth[0]


@pytest.fixture(scope="session")
def recovery_worlds(tmp_path_factory):
    """seed -> (Dataset censored at the truth's as_of, truth) for 20,000-customer worlds."""
    worlds = {}
    for seed in RECOVERY_SEEDS:
        path = tmp_path_factory.mktemp(f"churn_world_{seed}")
        truth = write_dataset(path, RECOVERY_CUSTOMERS, seed=seed, fmt="parquet")
        worlds[seed] = (cxlib.load(path, as_of=truth["as_of"]), truth, path)
    yield worlds
    for data, _, _ in worlds.values():
        data.close()


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """400 customers as CSV: small enough for day-by-day checks and thin-evidence cases."""
    path = tmp_path_factory.mktemp("churn_tiny_world")
    truth = write_dataset(path, 400, seed=5, fmt="csv")
    return path, truth


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
