"""Constants of the shared simulated worlds (the fixtures themselves are in conftest.py)."""

from __future__ import annotations


#: Parameters of the whole-report runs in the tests: fewer draws behind the intervals (what the
#: runs check is the report's structure and escaping, not the width of an interval).
QUICK_REPORT = {"draws": 40, "whatif_draws": 3}

#: Seeds of the 20,000-customer worlds used for the recovery and coverage tests.
RECOVERY_SEEDS = (11, 12, 13)
RECOVERY_CUSTOMERS = 20_000

#: Text from data that must be shown, never run (the hostile worlds name a segment and a touchpoint so).
HOSTILE = "<script>alert(1)</script>"
