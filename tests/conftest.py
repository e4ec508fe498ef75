"""Shared fixtures, the one place for them: the Agg backend with figures closed after each test, and the
simulated worlds the tests share (each simulated once per session)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import cxlib  # noqa: E402
from cxlib.data.simulate import write_dataset  # noqa: E402
from tests._worlds import HOSTILE, QUICK_REPORT, RECOVERY_CUSTOMERS, RECOVERY_SEEDS  # noqa: E402


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


#: Put on the PYTHONPATH of a run, so every process of it (the kernels too) logs each churn fit.
FIT_SPY = """
import json, os, sys
if os.environ.get("CXLAB_TEST_FIT_LOG"):
    import cxlib.models.churn as _churn

    _fit = _churn.ChurnModel.fit

    def fit(self, data, *args, **kwargs):
        with open(os.environ["CXLAB_TEST_FIT_LOG"], "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "as_of": str(kwargs.get("as_of")), "data_as_of": str(data.as_of),
                                "sample": kwargs.get("customers") is not None,
                                "caller": sys._getframe(1).f_code.co_name,
                                "model": repr(sorted(self.get_params().items()))}) + "\\n")
        return _fit(self, data, *args, **kwargs)

    _churn.ChurnModel.fit = fit
"""


@pytest.fixture(scope="session")
def good_run(small_world, tmp_path_factory):
    """One real run of the whole suite on the small world, every churn fit of its processes logged (see
    FIT_SPY): the runner's and the report's tests read it (one run where there were two).
    """
    import os

    from cxlib.run.runner import run

    out = tmp_path_factory.mktemp("reports")
    spy = tmp_path_factory.mktemp("spy")
    (spy / "sitecustomize.py").write_text(FIT_SPY)
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "CXLAB_TEST_FIT_LOG")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(spy), saved["PYTHONPATH"]) if p)
    os.environ["CXLAB_TEST_FIT_LOG"] = str(spy / "fits.jsonl")
    try:
        result = run(small_world, out=out, overrides=QUICK_REPORT)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    result.fits = [json.loads(line) for line in (spy / "fits.jsonl").read_text().splitlines()]
    return out, result



@pytest.fixture(scope="session")
def hostile_run(small_world, tmp_path_factory):
    """One run of the whole suite on the small world with a segment and a touchpoint named like a script."""
    from cxlib.run.runner import run

    path = tmp_path_factory.mktemp("hostile")
    for name in ("customers.csv", "interactions.csv"):
        text = (small_world / name).read_text()
        (path / name).write_text(text.replace(",enterprise,", f",{HOSTILE},").replace(",store_visit,", f",{HOSTILE},"))
    return run(path, out=tmp_path_factory.mktemp("hostile-reports"), overrides=QUICK_REPORT)


#: Test files that share an expensive session fixture run in one worker when the suite runs in
#: parallel (``pytest -n 2``, pytest-xdist with ``--dist loadgroup``), so the fixture is built once.
_SHARED = {
    "tests/run/test_runner.py": "whole report runs",
    "tests/run/test_report_browser.py": "whole report runs",
    "tests/models/test_churn.py": "recovery worlds",
    "tests/analyses/test_claims.py": "recovery worlds",
    # Kernels started over TCP (papermill, JupyterLab, jupyter_client) take a free port by binding and
    # releasing it: two started at the same moment in two workers can be handed the same port and
    # cross their messages (seen: a papermill run waiting forever on an idle kernel). They run in one
    # worker, one after the other; a run's kernels (cx run) talk over IPC and are safe anywhere.
    "tests/run/test_notebooks.py": "kernels over TCP",
    "tests/run/test_cli_churn.py": "kernels over TCP",
    "tests/run/test_jupyterlab_browser.py": "kernels over TCP",
    "tests/run/test_wheel.py": "kernels over TCP",
}


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, one group per test file (module fixtures are built once), files that
    share a session fixture in one group (:data:`_SHARED`); nothing changes without xdist."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(_SHARED.get(path, path)))
