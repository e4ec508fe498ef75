"""Paths and defaults: the one place that knows where things are and what the defaults are."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

#: What ships inside the package (read with importlib.resources, so a wheel has them too):
#: the notebooks, the report template and the example scenarios.
NOTEBOOKS_DIR = Path(str(files("cxlib.run") / "notebooks"))
TEMPLATES_DIR = Path(str(files("cxlib.run") / "templates"))
DEFAULT_SCENARIOS = Path(str(files("cxlib.analyses") / "scenarios" / "default.yaml"))

#: Where the demo data and the reports are written: ``$CXLAB_HOME`` if set; else the project
#: folder when cxlib runs from a checkout (``make report``); else, for an installed package, the
#: current folder — unless that is inside the installed package itself (a kernel started on a
#: packaged notebook in JupyterLab), then ``~/cxlab``: never beside the interpreter.
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _home() -> Path:
    if os.environ.get("CXLAB_HOME"):
        return Path(os.environ["CXLAB_HOME"]).expanduser()
    if (_CHECKOUT / "pyproject.toml").is_file():
        return _CHECKOUT
    here = Path.cwd().resolve()
    return Path.home() / "cxlab" if here == _PACKAGE or _PACKAGE in here.parents else here


HOME_DIR = _home().resolve()
DATA_DIR = HOME_DIR / "data"
DEMO_DIR = DATA_DIR / "demo"
REPORTS_DIR = HOME_DIR / "reports"

#: Definitions of design.md; every one is a parameter wherever it is used.
WINDOW_DAYS = 90  # trailing window for bad-experience counts
RESOLUTION_DAYS = 3  # calendar days after a bad experience in which a resolved contact counts
HORIZON_DAYS = 90  # horizon of the "leave after a bad experience" claims
#: Engagement (design.md: engagement adjustment): a customer's experience rate, known from the past only.
ENGAGEMENT_STEP_DAYS = 30  # the experience rate is brought up to date every this many days of tenure
ENGAGEMENT_SKIP_DAYS = 0  # experiences of the first days after signup (onboarding) left out of the rate
EXPERIENCE_RATE_PER_DAYS = 30  # the rate is experiences per this many days since the signup day
EXPERIENCE_RATE_BANDS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0)  # lower bounds of the rate bands
#: ... and, with ChurnModel(window_experiences=True), the recent part of it: experiences of any
#: outcome in the trailing window of the bad counts, in bands (lower bounds)
WINDOW_EXPERIENCE_BANDS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 22, 25, 30)
#: ... which the churn model, its Cox cross-check and the negative control include by default
#: (ChurnModel(window_experiences=...); models/churn.py's docstring says why)
WINDOW_EXPERIENCES = True

#: Draws of the uncertain inputs behind the ROI's and the cost's intervals (the library, cx and the notebooks).
ROI_DRAWS = 200

#: The demo data set: what `make report` generates when data/demo/ is missing.
DEMO_CUSTOMERS = 10_000
DEMO_SEED = 42

#: Bounds of the contract's amounts (design.md): a monthly_value or a cost above this is a
#: rejected row, not a number that turns every sum into infinity.
MAX_AMOUNT = 1e10
#: A first response slower than ten years is an error in the data.
MAX_RESPONSE_MINUTES = 10 * 365 * 24 * 60
