"""Paths and defaults: the one place that knows where things are and what the defaults are."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks"
DATA_DIR = PROJECT_DIR / "data"
DEMO_DIR = DATA_DIR / "demo"
REPORTS_DIR = PROJECT_DIR / "reports"

#: Definitions of design.md; every one is a parameter wherever it is used.
WINDOW_DAYS = 90  # trailing window for bad-experience counts
RESOLUTION_DAYS = 3  # calendar days after a bad experience in which a resolved contact counts
HORIZON_DAYS = 90  # horizon of the "leave after a bad experience" claims
#: Engagement (design.md: engagement adjustment): a customer's experience rate, known from the past only.
ENGAGEMENT_STEP_DAYS = 30  # the experience rate is brought up to date every this many days of tenure
EXPERIENCE_RATE_PER_DAYS = 30  # the rate is experiences per this many days since the signup day
EXPERIENCE_RATE_BANDS = (0.0, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0)  # lower bounds of the rate bands

#: The demo data set: what `make report` generates when data/demo/ is missing.
DEMO_CUSTOMERS = 10_000
DEMO_SEED = 42
