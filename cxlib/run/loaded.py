"""The data of a run loaded once: the runner's load saved to a DuckDB file that each notebook opens.

Every notebook of a run runs in its own kernel and opened (read and validated) the same data
again: at 100,000 customers 3 s each, at 1,000,000 about ten times that. The runner loads the
data once anyway (for its fingerprint); with DuckDB it copies the loaded, validated tables into
``<run>/data/loaded.duckdb`` (:func:`save`) and tells its kernels where (``$CXLAB_RUN_DATA``,
with what was loaded: the location, ``as_of`` and the engine). A notebook's
:func:`cxlib.run.notebook.open_data` asked for that same data opens the copy read-only
(:func:`open_saved`, tens of milliseconds) instead of loading it again; asked for anything
else, it loads as before. The copy holds the same rows in the same order, the same load
report and the same ``as_of``, so every figure is the same. The runner deletes it when the run ends.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

#: Set by the runner in the environment of its kernels: JSON of the saved copy's path and key.
ENV = "CXLAB_RUN_DATA"
_META = ".meta.pkl"


def key(location: str, *, as_of, engine: str) -> dict:
    """What identifies a load: the location (as :func:`cxlib.data.open.locate` gives it), ``as_of`` and the engine."""
    return {"location": str(location), "as_of": str(as_of or ""), "engine": str(engine)}


def save(data, path: Path) -> Path:
    """Copy the tables of ``data`` (a DuckDB :class:`cxlib.Dataset`) into the DuckDB file ``path``; return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    data.con.execute(f"ATTACH '{_sql(path)}' AS cx_saved")
    try:
        data.con.execute(f"COPY FROM DATABASE {_catalog(data.con)} TO cx_saved")
    finally:
        data.con.execute("DETACH cx_saved")
    meta = {"source": data.source, "report": data.report, "as_of": data._as_of}
    with open(str(path) + _META, "wb") as f:
        pickle.dump(meta, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def open_saved(path: Path, *, memory_limit: str = "2GB"):
    """The :class:`cxlib.Dataset` saved at ``path`` by :func:`save`, opened read-only (several kernels at once)."""
    import duckdb

    from cxlib.data.load import Dataset, configure

    with open(str(path) + _META, "rb") as f:
        meta = pickle.load(f)
    workdir = Path(tempfile.mkdtemp(prefix="cxlab-load-"))
    try:
        con = duckdb.connect(str(path), read_only=True)
        configure(con, memory_limit=memory_limit, workdir=workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Dataset(con, meta["source"], meta["report"], workdir, as_of=meta["as_of"])


def announced(location: str, *, as_of, engine: str) -> Path | None:
    """The saved copy the runner announced in ``$CXLAB_RUN_DATA`` if it holds this load, else None."""
    text = os.environ.get(ENV)
    if not text:
        return None
    saved = json.loads(text)
    if saved.get("key") != key(location, as_of=as_of, engine=engine):
        return None
    path = Path(saved["path"])
    return path if path.is_file() else None


def announcement(path: Path, location: str, *, as_of, engine: str) -> str:
    """The value of ``$CXLAB_RUN_DATA`` for a copy saved at ``path``."""
    return json.dumps({"path": str(path), "key": key(location, as_of=as_of, engine=engine)})


def _catalog(con) -> str:
    return con.execute("SELECT current_database()").fetchone()[0]


def _sql(path: Path) -> str:
    return str(path).replace("'", "''")
