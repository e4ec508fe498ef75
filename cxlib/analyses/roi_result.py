"""What :func:`cxlib.analyses.roi.evaluate` returns: :class:`ROIResult`, numbers only (words in :mod:`cxlib.present.roi`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxlib.analyses.roi_scenarios import Scenario

__all__ = ["ROIResult"]


@dataclass
class ROIResult:
    """What :func:`cxlib.analyses.roi.evaluate` returns: one row per scenario, the draws, and the settings."""

    scenarios: list[Scenario]
    table: pd.DataFrame
    draws: pd.DataFrame
    beats: pd.DataFrame
    baseline: dict
    rates: pd.DataFrame
    settings: dict
    notes: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.settings["currency"]

    def to_dict(self) -> dict:
        """JSON-able numbers: settings, baseline, measured rates, scenarios, pairwise probabilities, notes.

        The recommendation in words is :func:`cxlib.present.roi.recommendation`
        (:func:`cxlib.present.roi.as_dict` adds it, as ``cx roi --json`` prints).
        """
        def clean(v):
            if isinstance(v, (np.floating, float)):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.bool_,)):
                return bool(v)
            return v

        rows = [{k: clean(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")]
        by_name = {s.name: s for s in self.scenarios}
        for row in rows:
            row["change"] = by_name[row["scenario"]].change
            row["description"] = by_name[row["scenario"]].description
        return {
            "settings": {k: clean(v) for k, v in self.settings.items()},
            "baseline": {k: clean(v) for k, v in self.baseline.items()},
            "rates": [{k: clean(v) for k, v in r.items()} for r in self.rates.to_dict(orient="records")],
            "scenarios": rows,
            "beats": {a: {b: clean(p) for b, p in row.items()} for a, row in self.beats.to_dict(orient="index").items()},
            "notes": list(self.notes),
        }
