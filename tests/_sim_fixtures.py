"""Simulated worlds shared by the churn, claims and panel tests (simulated once per session)."""

from __future__ import annotations


import pytest

import cxlib
from cxlib.simulate import write_dataset

#: Parameters of the whole-report runs in the tests: fewer draws behind the intervals (what the
#: runs check is the report's structure and escaping, not the width of an interval).
QUICK_REPORT = {"draws": 40, "whatif_draws": 3}

#: Seeds of the 20,000-customer worlds used for the recovery and coverage tests.
RECOVERY_SEEDS = (11, 12, 13)
RECOVERY_CUSTOMERS = 20_000


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
def small_churn_world(tmp_path_factory):
    """2,000 customers as CSV, for the command line and the notebook."""
    path = tmp_path_factory.mktemp("churn_small_world")
    truth = write_dataset(path, 2_000, seed=3, fmt="csv")
    return path, truth
