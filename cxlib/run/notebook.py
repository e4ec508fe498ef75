"""What every notebook does first: display and thread settings, and opening the data.

Kept here so the notebooks stay thin and do it the same way.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from threadpoolctl import threadpool_limits

import cxlib
from cxlib.config import DEMO_DIR


def setup() -> None:
    """Figures sized for a laptop screen, PNG embedded in the report, readable tables; one BLAS thread.

    The notebooks' linear algebra is many small products (the GLM's iterations on aggregated
    tables, the Cox model's one per event time): a second BLAS thread saves nothing on them and
    its waiting costs much, worst when the cores are shared. The churn section's three churn fits
    took 11.1 s with OpenBLAS's two threads and 4.5 s with one (demo world, 2 cores, load ~6);
    the risk model already fits on one thread (``RiskModel(n_threads=1)``). DuckDB keeps its own threads.
    """
    threadpool_limits(1, user_api="blas")
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update({"figure.figsize": (8, 4), "figure.dpi": 96, "savefig.bbox": "tight"})
    pd.set_option("display.max_rows", 60)
    pd.set_option("display.width", 120)
    pd.set_option("display.max_colwidth", None)  # claims and reasons are sentences: never cut them
    try:  # inline backend only inside a kernel
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover
        matplotlib.use("Agg")


def progress() -> bool:
    """Whether long steps show tqdm bars: yes in JupyterLab, not in a run of ``cx run`` (its report has none)."""
    import os

    from cxlib.run.runner import RUN_ENV

    return os.environ.get(RUN_ENV) != "1"


def open_data(path: str = "", *, as_of: str = "", engine: str = "duckdb"):
    """Open ``path`` on ``engine`` (:func:`cxlib.data.open.open_data`), censored at ``as_of``.

    Empty ``path``: on Spark ``$CXLAB_SPARK_INPUT`` if set; else the demo data set, generated
    if missing.
    """
    from cxlib.data.open import locate
    from cxlib.data.open import open_data as open_engine

    if not path and not locate(path, engine=engine):
        from cxlib.run.runner import ensure_demo

        path = ensure_demo(DEMO_DIR)
    return open_engine(path, engine=engine, as_of=as_of)


def load_summary(data: cxlib.Dataset) -> pd.DataFrame:
    """Read, accepted and rejected rows per file (a database table: its name and redacted location)."""
    r = data.report
    return pd.DataFrame(
        [
            (t, r.files[t] if "://" in r.files[t] else Path(r.files[t]).name, f"{r.read[t]:,}", f"{r.accepted[t]:,}",
             f"{r.rejected[t]:,}")
            for t in r.read
        ],
        columns=["table", "file", "read", "accepted", "rejected"],
    ).set_index("table").rename_axis(columns="table").rename_axis(index=None)
