"""A run's results: each model fitted once, each analysis evaluated once, read by whoever needs it.

The notebooks of a run share nothing in memory (each runs in its own kernel), so what one
fits or evaluates the next would otherwise compute again: the churn model was fitted in
three notebooks and the ROI and the claims evaluated twice. Instead each notebook that fits
or evaluates saves its result under a name into the run's results folder (the notebook
parameter ``results_dir``, which ``cx run`` sets to ``<run>/results``), and a later notebook
(``00_summary``, which the runner executes last while the report still shows it first)
loads it::

    run = results.Results(results_dir, data=data, as_of=as_of, window_days=window_days)
    model = run.get("churn model", lambda: ChurnModel(window_days=window_days).fit(dataset))

:meth:`Results.get` returns the saved result when there is one *with the same key* (the
parameters it was computed with), else computes it and saves it. An empty ``results_dir``
(a notebook opened on its own in JupyterLab) saves and loads nothing: everything is
computed where it is needed, as before.

Results are pickled Python objects, written to a temporary name and moved into place (a
reader never meets half a file). They are a run's own intermediate files, written and read
by the same cxlib version within one run; a file from another version is ignored and
recomputed. Never point ``results_dir`` at files from a source you do not trust: loading a
pickle runs code.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from pathlib import Path

import cxlib

__all__ = ["Results", "load", "once", "save"]

_SUFFIX = ".pkl"


def _path(results_dir, name: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")
    if not slug:
        raise ValueError(f"a result needs a name of letters or digits, not {name!r}")
    return Path(results_dir) / f"{slug}{_SUFFIX}"


def _normal(key: dict | None) -> dict:
    """Keys compared as text: ``90`` and ``90.0`` or a Path and its string are the same setting."""
    def text(v):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return str(v)

    return {str(k): text(v) for k, v in sorted((key or {}).items())}


def save(results_dir, name: str, value, *, key: dict | None = None) -> Path | None:
    """Save ``value`` as ``name`` under ``results_dir`` (empty: nothing saved, returns None)."""
    if not results_dir:
        return None
    path = _path(results_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "key": _normal(key), "cxlib_version": cxlib.__version__, "value": value}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(results_dir, name: str, *, key: dict | None = None):
    """The value saved as ``name`` with this ``key``; None when there is none (or another key, or version)."""
    if not results_dir:
        return None
    path = _path(results_dir, name)
    try:
        with open(path, "rb") as f:
            payload = pickle.load(f)
    except FileNotFoundError:
        return None
    if payload.get("key") != _normal(key) or payload.get("cxlib_version") != cxlib.__version__:
        return None
    return payload["value"]


def once(compute):
    """``compute`` wrapped to run at most once, on the first call, in memory (nothing is saved).

    For an input that only some results need: ``prepared = once(lambda: roi.prepare(...))``, then
    ``kept.get("roi", lambda: roi.evaluate_prepared(prepared(), ...))`` prepares nothing when every
    result that needs it is already saved.
    """
    computed: list = []

    def value():
        if not computed:
            computed.append(compute())
        return computed[0]

    return value


class Results:
    """The results folder of a run, with the settings every result of a notebook shares.

    ``Results("", ...)`` is a folder that keeps nothing: :meth:`get` always computes.
    ``computed`` and ``loaded`` list the names this object computed or found saved.
    """

    def __init__(self, results_dir: str = "", **key):
        self.results_dir = str(results_dir or "")
        self.key = dict(key)
        self.computed: list[str] = []
        self.loaded: list[str] = []

    def get(self, name: str, compute, **key):
        """The result ``name`` computed with these settings: loaded when saved, else ``compute()`` and saved."""
        full = {**self.key, **key}
        value = load(self.results_dir, name, key=full)
        if value is not None:
            self.loaded.append(name)
            return value
        value = compute()
        save(self.results_dir, name, value, key=full)
        self.computed.append(name)
        return value

    def __repr__(self) -> str:
        where = self.results_dir or "nothing kept"
        return f"Results({where}; computed {self.computed}, loaded {self.loaded})"
