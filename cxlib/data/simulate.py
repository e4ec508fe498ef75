"""A simulated customer base with known truth: demo data, test oracle and load generator.

The generative model
--------------------
Everything happens on a grid of calendar days (UTC) from ``start`` (a midnight) for
``days`` days; ``as_of`` is the end of the last day. Timestamps are whole seconds.

* **Customers** sign up uniformly over the period. Each has a segment (consumer, smb,
  enterprise) and a lognormal ``monthly_value`` whose median depends on the segment.
* **Experiences** (``kind = "experience"``): every touchpoint is a Poisson process per
  customer over ``[signup_at, as_of)`` with a monthly rate (month = 30.4375 days), except
  onboarding, which happens exactly once within ``onboarding_window_days`` after signup.
  Each experience gets a channel (shares per touchpoint) and is bad with a probability
  that depends on the touchpoint *and* the channel; the rest are good or neutral.
* **Service contacts** (``kind = "service"``): after a bad experience the customer contacts
  service with probability ``p_contact``, on the experience's calendar day plus a delay of
  0–10 days. A same-day contact gets a random time of that day (never before signup), so it
  is often stamped before the experience, as with real systems that keep different clocks.
  The contact carries the experience's touchpoint, a service channel, and is resolved with a
  probability that depends on the channel. Routine contacts (touchpoint ``how_to``) are a
  separate Poisson process and never resolve a bad experience.
* **Churn** is a piecewise-constant (daily) hazard::

      h(d) = base_daily[segment] * tenure_hr[band(d)] * hr_unresolved**U(d) * hr_resolved**R(d)

  where ``U(d)`` and ``R(d)`` count the customer's bad experiences on days
  ``d - window_days .. d - 1`` that are unresolved, resolved, *as known on day d*. Each
  customer draws an Exp(1) threshold; ``churned_at`` is the moment the cumulative hazard
  (exposure on the signup day = the part of that day after ``signup_at``; linear within a
  day) crosses it. Experiences and contacts after ``churned_at`` did not happen and are not
  written.

Why the resolution rule is exactly design.md's definition
--------------------------------------------------------
A bad experience on day ``e`` is *resolved* when the customer has a ``service`` row of the
same touchpoint with ``resolved = true`` on a calendar day ``c`` with
``e <= c <= e + resolution_days``. The simulator determines ``c`` *from the generated rows*
(the earliest such row), not from which contact was generated "for" which experience: a
contact triggered by one bad delivery can resolve another bad delivery, and a late contact
(after ``resolution_days``) resolves nothing, just as an analyst applying the definition to
the files will find. The experience counts as unresolved on days ``e+1 .. c`` and as
resolved from ``c+1`` (the day after the resolution is known) to ``e + window_days``.
Because the hazard on day ``d`` only uses rows on days ``<= d - 1``, rows dropped because
they fall after ``churned_at`` (which lies on day ``d`` or later) never change the hazard
before churn. So the covariates an estimator builds from the written files with design.md's
definitions equal, day by day, the covariates that generated churn: a correctly specified
piecewise-exponential model recovers ``hr_unresolved``, ``hr_resolved``, the tenure hazard
ratios and the base rates without bias.

Common random numbers
---------------------
Each chunk of ``chunk_size`` customers has its own generator,
``default_rng(SeedSequence([seed, chunk_index]))``, and draws every random quantity in a
fixed order whose length depends only on the number of customers and the Poisson rates:
all uniforms of a potential contact (delay, channel, time of day, resolution, csat, first
response) are drawn for *every* experience, bad or not. Outcomes are thresholds of those
uniforms (bad iff ``u_bad < p_bad``; contact iff ``u_contact < p_contact``; resolved iff
``u_res < p_resolve``), churn is a threshold on the cumulative hazard. Hence an
intervention on bad rates, ``p_contact``, ``p_resolve``, the outcome/csat/nps
distributions or the hazard parameters, run with the same seed and chunk size, gives the
same customers and the same potential experiences: only the intervention differs. Changing
the Poisson rates, the period or the segment shares changes the draws themselves.
``interaction_id`` numbers *potential* rows (experience ``j`` is ``2j + 1``, its potential
contact ``2j + 2``), so the same interaction keeps its id across interventions.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS

__all__ = [
    "CUSTOMER_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRESETS",
    "SimulationConfig",
    "simulate",
    "preset",
    "simulate_tables",
    "truth",
    "write_dataset",
]

SECONDS_PER_DAY = 86_400
CUSTOMER_COLUMNS = ("customer_id", "signup_at", "churned_at", "segment", "monthly_value")
INTERACTION_COLUMNS = (
    "interaction_id",
    "customer_id",
    "at",
    "kind",
    "channel",
    "touchpoint",
    "outcome",
    "resolved",
    "csat",
    "nps",
    "first_response_minutes",
    "cost",
)
KINDS = ("experience", "service")
OUTCOMES = ("good", "neutral", "bad")
CUSTOMER_ID_WIDTH = 7
INTERACTION_ID_WIDTH = 9
FORMATS = ("csv", "parquet")

_TIMESTAMP = pa.timestamp("us", tz="UTC")
CUSTOMER_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("signup_at", _TIMESTAMP),
        ("churned_at", _TIMESTAMP),
        ("segment", pa.string()),
        ("monthly_value", pa.float64()),
    ]
)
INTERACTION_SCHEMA = pa.schema(
    [
        ("interaction_id", pa.string()),
        ("customer_id", pa.string()),
        ("at", _TIMESTAMP),
        ("kind", pa.string()),
        ("channel", pa.string()),
        ("touchpoint", pa.string()),
        ("outcome", pa.string()),
        ("resolved", pa.bool_()),
        ("csat", pa.int64()),
        ("nps", pa.int64()),
        ("first_response_minutes", pa.float64()),
        ("cost", pa.float64()),
    ]
)


# --------------------------------------------------------------------------- config


def _touchpoints() -> dict:
    return {
        "onboarding": {
            "rate_per_month": None,  # None: exactly once, within onboarding_window_days of signup
            "channels": {"web": 0.6, "app": 0.3, "store": 0.1},
            "bad_rate": {"web": 0.10, "app": 0.10, "store": 0.10},
        },
        "website": {"rate_per_month": 1.0, "channels": {"web": 1.0}, "bad_rate": {"web": 0.06}},
        "app": {"rate_per_month": 0.7, "channels": {"app": 1.0}, "bad_rate": {"app": 0.07}},
        "billing": {
            "rate_per_month": 0.35,
            "channels": {"email": 0.5, "web": 0.3, "mail": 0.2},
            "bad_rate": {"email": 0.05, "web": 0.05, "mail": 0.12},  # inconsistent on purpose
        },
        "delivery": {
            "rate_per_month": 0.3,
            "channels": {"app": 0.5, "email": 0.5},
            "bad_rate": {"app": 0.12, "email": 0.12},
        },
        "store_visit": {"rate_per_month": 0.1, "channels": {"store": 1.0}, "bad_rate": {"store": 0.05}},
    }


def _delay_probs() -> tuple:
    # calendar days after the experience's day: 0, 1, 2, 3, then 4..10 uniformly
    return (0.50, 0.25, 0.10, 0.07) + (0.08 / 7,) * 7


@dataclass(frozen=True)
class SimulationConfig:
    """Every true parameter of the simulated world (see the module docstring).

    Probabilities of categorical values are dicts ``{value: probability}`` (insertion
    order is the order of the draws) or tuples indexed by the value (csat 1..5 at index
    0..4, nps 0..10, contact delay in days 0..). Interventions: :meth:`with_changes`
    (nested dicts are merged), :meth:`with_bad_rate`, :meth:`with_p_resolve`.
    """

    start: str = "2024-01-01T00:00:00Z"
    days: int = 731
    month_days: float = 30.4375
    # customers
    segment_shares: dict = field(default_factory=lambda: {"consumer": 0.6, "smb": 0.3, "enterprise": 0.1})
    value_median: dict = field(default_factory=lambda: {"consumer": 30.0, "smb": 120.0, "enterprise": 900.0})
    value_sigma: float = 0.5
    # experiences
    touchpoints: dict = field(default_factory=_touchpoints)
    onboarding_window_days: float = 2.0
    p_good_if_not_bad: float = 0.8
    # service contacts after a bad experience
    service_channels: dict = field(default_factory=lambda: {"phone": 0.45, "chat": 0.35, "email": 0.20})
    p_contact: float = 0.55
    contact_delay_probs: tuple = field(default_factory=_delay_probs)
    p_resolve: dict = field(default_factory=lambda: {"phone": 0.75, "chat": 0.70, "email": 0.60})
    # routine contacts
    routine_touchpoint: str = "how_to"
    routine_rate_per_month: float = 0.15
    routine_p_resolve: float = 0.9
    # optional fields
    csat_share_service: float = 0.30
    csat_share_experience: float = 0.10
    nps_share_experience: float = 0.05
    csat_probs: dict = field(
        default_factory=lambda: {
            "resolved": (0.02, 0.03, 0.10, 0.35, 0.50),
            "unresolved": (0.30, 0.30, 0.25, 0.10, 0.05),
            "good": (0.01, 0.02, 0.07, 0.40, 0.50),
            "neutral": (0.05, 0.10, 0.50, 0.25, 0.10),
            "bad": (0.40, 0.30, 0.20, 0.07, 0.03),
        }
    )
    nps_probs: dict = field(
        default_factory=lambda: {
            "good": (0.01, 0.01, 0.01, 0.02, 0.02, 0.03, 0.05, 0.10, 0.20, 0.25, 0.30),
            "neutral": (0.02, 0.02, 0.03, 0.05, 0.08, 0.15, 0.20, 0.20, 0.15, 0.06, 0.04),
            "bad": (0.15, 0.12, 0.12, 0.12, 0.10, 0.10, 0.09, 0.08, 0.06, 0.03, 0.03),
        }
    )
    first_response_median_minutes: dict = field(default_factory=lambda: {"phone": 3.0, "chat": 2.0, "email": 240.0})
    first_response_sigma: float = 0.8
    cost_by_channel: dict = field(default_factory=lambda: {"phone": 6.0, "chat": 3.5, "email": 2.5})
    # churn hazard
    base_monthly_churn: dict = field(default_factory=lambda: {"consumer": 0.03, "smb": 0.02, "enterprise": 0.01})
    tenure_band_starts: tuple = (0, 90, 365)  # whole days since the signup day
    tenure_hr: tuple = (1.5, 1.0, 0.8)
    hr_unresolved: float = 1.30
    hr_resolved: float = 1.08
    window_days: int = WINDOW_DAYS
    resolution_days: int = RESOLUTION_DAYS
    # The complications real data has. Each is off by default, so existing seeds give the same
    # worlds; what they draw comes from a separate random stream (common random numbers hold).
    engagement_shape: float | None = None  # usage multiplier a ~ Gamma(shape, scale 1/shape); None: a = 1
    engagement_churn_power: float = -0.6  # with engagement: baseline hazard x a**power
    hr_by_touchpoint: dict = field(default_factory=dict)  # {tp: {"unresolved": hr, "resolved": hr}}
    fade_band_days: tuple = (30, 60)  # days since the bad experience where the fade bands start anew
    fade_log_hr: tuple = ()  # factor of the log HR per days-since band (1-30, 31-60, 61-window); (): none
    seasonal_amplitude: float = 0.0  # baseline hazard x (1 + A cos(2 pi (day of year - peak) / 365.25))
    seasonal_peak_day: int = 15  # day of the year (1 = 1 January) of the seasonal peak
    pre_churn_contact_rate_per_month: float = 0.0  # extra routine contacts in the days before churn
    pre_churn_days: int = 30  # ... in this many days before churned_at

    def __post_init__(self):
        _validate(self)

    # -- interventions -------------------------------------------------------------
    def with_changes(self, **changes) -> SimulationConfig:
        """A copy with ``changes``; a dict value is merged into the current dict, recursively.

        ``cfg.with_changes(p_resolve={"phone": 0.9})`` changes the phone channel only;
        ``cfg.with_changes(touchpoints={"delivery": {"bad_rate": {"app": 0.06}}})`` one rate.
        Use :func:`dataclasses.replace` to replace a dict whole.
        """
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"unknown SimulationConfig fields: {sorted(unknown)}")
        merged = {
            name: _merge(getattr(self, name), value) if isinstance(value, dict) else value
            for name, value in changes.items()
        }
        return dataclasses.replace(self, **merged)

    def with_bad_rate(self, touchpoint: str, rate: float, channel: str | None = None) -> SimulationConfig:
        """A copy where ``touchpoint`` (on ``channel``, or on all its channels) is bad with ``rate``."""
        if touchpoint not in self.touchpoints:
            raise ValueError(f"unknown touchpoint {touchpoint!r}")
        channels = self.touchpoints[touchpoint]["channels"] if channel is None else [channel]
        return self.with_changes(touchpoints={touchpoint: {"bad_rate": {ch: float(rate) for ch in channels}}})

    def with_p_resolve(self, p: float, channel: str | None = None) -> SimulationConfig:
        """A copy where contacts by ``channel`` (or by every service channel) resolve with ``p``."""
        channels = self.service_channels if channel is None else [channel]
        return self.with_changes(p_resolve={ch: float(p) for ch in channels})

    # -- derived quantities --------------------------------------------------------
    def to_dict(self) -> dict:
        """The config as JSON-able plain data (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict) -> SimulationConfig:
        """Inverse of :meth:`to_dict` (e.g. ``truth["config"]``)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise TypeError(f"unknown SimulationConfig fields: {sorted(unknown)}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        for k in ("csat_probs", "nps_probs"):
            if k in values:
                values[k] = {key: tuple(probs) for key, probs in values[k].items()}
        return cls(**values)

    @property
    def start_datetime(self) -> datetime:
        return _parse_start(self.start)

    @property
    def as_of_datetime(self) -> datetime:
        return self.start_datetime + timedelta(days=self.days)

    def expected_bad_rate(self, touchpoint: str) -> float:
        """P(bad) of an experience at ``touchpoint``, across its channels."""
        spec = self.touchpoints[touchpoint]
        return float(sum(share * spec["bad_rate"][ch] for ch, share in spec["channels"].items()))

    def expected_p_resolve(self) -> float:
        """P(resolved) of a contact after a bad experience, across service channels."""
        return float(sum(share * self.p_resolve[ch] for ch, share in self.service_channels.items()))

    def base_daily_hazard(self) -> dict:
        return {seg: -math.log1p(-p) / self.month_days for seg, p in self.base_monthly_churn.items()}

    def touchpoint_hr(self, touchpoint: str, kind: str) -> float:
        """True hazard ratio of one ``kind`` ("unresolved"/"resolved") bad experience of ``touchpoint``.

        With a fade (``fade_log_hr``) this is the HR of the first days-since band times none of
        the fade: the fade multiplies its logarithm by the band's factor (:meth:`faded_hr`).
        """
        if kind not in ("unresolved", "resolved"):
            raise ValueError(f"kind must be 'unresolved' or 'resolved', not {kind!r}")
        default = self.hr_unresolved if kind == "unresolved" else self.hr_resolved
        return float(self.hr_by_touchpoint.get(touchpoint, {}).get(kind, default))

    def faded_hr(self, touchpoint: str, kind: str, band: int) -> float:
        """True HR of a bad experience in days-since band ``band`` (0: days 1-30 ...)."""
        hr = self.touchpoint_hr(touchpoint, kind)
        factor = self.fade_log_hr[band] if self.fade_log_hr else 1.0
        return float(math.exp(factor * math.log(hr)))

    @property
    def complicated(self) -> bool:
        """True when the churn hazard needs the general path (any complication of the hazard on)."""
        return bool(self.engagement_shape is not None or self.hr_by_touchpoint or self.fade_log_hr
                    or self.seasonal_amplitude)


#: Named worlds for ``cx simulate --preset``: changes to the default config.
PRESETS = {
    "default": {},
    # the demo data set: engagement differs between customers (a confounder), and a bad delivery
    # or bill does not cost what a bad website visit costs
    "demo": {
        "engagement_shape": 2.0,
        "hr_by_touchpoint": {
            "onboarding": {"unresolved": 1.5, "resolved": 1.1},
            "website": {"unresolved": 1.2, "resolved": 1.05},
            "app": {"unresolved": 1.25, "resolved": 1.05},
            "billing": {"unresolved": 1.6, "resolved": 1.1},
            "delivery": {"unresolved": 1.8, "resolved": 1.15},
            "store_visit": {"unresolved": 1.4, "resolved": 1.1},
        },
    },
    # the confounded world of the tests: engagement, one pair of hazard ratios
    "confounded": {"engagement_shape": 2.0, "hr_unresolved": 1.8, "hr_resolved": 1.1},
}


def preset(name: str) -> SimulationConfig:
    """The :class:`SimulationConfig` of a named world (:data:`PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; known: {sorted(PRESETS)}")
    return SimulationConfig().with_changes(**copy.deepcopy(PRESETS[name]))


def _merge(old, new):
    if isinstance(old, dict) and isinstance(new, dict):
        out = copy.deepcopy(old)
        for key, value in new.items():
            out[key] = _merge(old.get(key), value)
        return out
    return copy.deepcopy(new)


def _parse_start(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _check_distribution(name: str, probs) -> None:
    values = list(probs.values()) if isinstance(probs, dict) else list(probs)
    if not values or any(not (0.0 <= p <= 1.0) for p in values) or abs(sum(values) - 1.0) > 1e-9:
        raise ValueError(f"{name}: probabilities must be in [0, 1] and sum to 1, got {probs!r}")


def _check_probability(name: str, p) -> None:
    if not (0.0 <= float(p) <= 1.0):
        raise ValueError(f"{name} must be a probability, got {p!r}")


def _validate(cfg: SimulationConfig) -> None:
    start = _parse_start(cfg.start)
    if (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0):
        raise ValueError(f"start must be a midnight UTC (calendar days), got {cfg.start!r}")
    if int(cfg.days) != cfg.days or cfg.days < 1:
        raise ValueError(f"days must be a positive integer, got {cfg.days!r}")
    if not cfg.touchpoints:
        raise ValueError("touchpoints must not be empty")
    _check_distribution("segment_shares", cfg.segment_shares)
    for seg in cfg.segment_shares:
        if seg not in cfg.value_median or seg not in cfg.base_monthly_churn:
            raise ValueError(f"segment {seg!r} needs value_median and base_monthly_churn")
        if cfg.value_median[seg] <= 0:
            raise ValueError(f"value_median[{seg!r}] must be > 0")
        if not (0.0 <= cfg.base_monthly_churn[seg] < 1.0):
            raise ValueError(f"base_monthly_churn[{seg!r}] must be in [0, 1)")
    for tp, spec in cfg.touchpoints.items():
        if tp == cfg.routine_touchpoint:
            raise ValueError(f"touchpoint {tp!r} is the routine touchpoint")
        rate = spec.get("rate_per_month")
        if rate is not None and rate < 0:
            raise ValueError(f"touchpoints[{tp!r}].rate_per_month must be >= 0 or None")
        _check_distribution(f"touchpoints[{tp!r}].channels", spec["channels"])
        if set(spec["bad_rate"]) != set(spec["channels"]):
            raise ValueError(f"touchpoints[{tp!r}]: bad_rate needs exactly the channels {sorted(spec['channels'])}")
        for ch, p in spec["bad_rate"].items():
            _check_probability(f"touchpoints[{tp!r}].bad_rate[{ch!r}]", p)
    _check_distribution("service_channels", cfg.service_channels)
    for name in ("p_resolve", "first_response_median_minutes", "cost_by_channel"):
        missing = set(cfg.service_channels) - set(getattr(cfg, name))
        if missing:
            raise ValueError(f"{name} lacks service channels {sorted(missing)}")
    for ch in cfg.service_channels:
        _check_probability(f"p_resolve[{ch!r}]", cfg.p_resolve[ch])
        if cfg.first_response_median_minutes[ch] <= 0 or cfg.cost_by_channel[ch] < 0:
            raise ValueError(f"first response median must be > 0 and cost >= 0 ({ch!r})")
    for name in ("p_good_if_not_bad", "p_contact", "routine_p_resolve", "csat_share_service",
                 "csat_share_experience", "nps_share_experience"):
        _check_probability(name, getattr(cfg, name))
    _check_distribution("contact_delay_probs", cfg.contact_delay_probs)
    for key in ("resolved", "unresolved", *OUTCOMES):
        if len(cfg.csat_probs[key]) != 5:
            raise ValueError(f"csat_probs[{key!r}] needs 5 probabilities (csat 1..5)")
        _check_distribution(f"csat_probs[{key!r}]", cfg.csat_probs[key])
    for key in OUTCOMES:
        if len(cfg.nps_probs[key]) != 11:
            raise ValueError(f"nps_probs[{key!r}] needs 11 probabilities (nps 0..10)")
        _check_distribution(f"nps_probs[{key!r}]", cfg.nps_probs[key])
    starts = list(cfg.tenure_band_starts)
    if not starts or starts[0] != 0 or starts != sorted(set(starts)) or len(cfg.tenure_hr) != len(starts):
        raise ValueError("tenure_band_starts must increase from 0, one tenure_hr per band")
    if any(hr <= 0 for hr in (*cfg.tenure_hr, cfg.hr_unresolved, cfg.hr_resolved)):
        raise ValueError("hazard ratios must be > 0")
    if not (1 <= cfg.window_days) or not (0 <= cfg.resolution_days < cfg.window_days):
        raise ValueError("need window_days >= 1 and 0 <= resolution_days < window_days")
    if cfg.value_sigma < 0 or cfg.first_response_sigma < 0 or cfg.month_days <= 0:
        raise ValueError("sigmas must be >= 0 and month_days > 0")
    if not (0 < cfg.onboarding_window_days):
        raise ValueError("onboarding_window_days must be > 0")
    if cfg.engagement_shape is not None and not cfg.engagement_shape > 0:
        raise ValueError(f"engagement_shape must be > 0 or None, got {cfg.engagement_shape!r}")
    for tp, hrs in cfg.hr_by_touchpoint.items():
        if tp not in cfg.touchpoints:
            raise ValueError(f"hr_by_touchpoint names an unknown touchpoint {tp!r}")
        if set(hrs) - {"unresolved", "resolved"} or any(not hr > 0 for hr in hrs.values()):
            raise ValueError(f"hr_by_touchpoint[{tp!r}] takes 'unresolved' and 'resolved' hazard ratios > 0")
    cuts = list(cfg.fade_band_days)
    if cuts != sorted(set(cuts)) or (cuts and not (0 < cuts[0] and cuts[-1] < cfg.window_days)):
        raise ValueError("fade_band_days must increase inside (0, window_days)")
    if cfg.fade_log_hr and len(cfg.fade_log_hr) != len(cuts) + 1:
        raise ValueError(f"fade_log_hr needs {len(cuts) + 1} factors (one per days-since band) or none")
    if not (0.0 <= cfg.seasonal_amplitude < 1.0):
        raise ValueError("seasonal_amplitude must be in [0, 1)")
    if cfg.pre_churn_contact_rate_per_month < 0 or cfg.pre_churn_days < 1:
        raise ValueError("pre_churn_contact_rate_per_month must be >= 0 and pre_churn_days >= 1")


# --------------------------------------------------------------------------- truth


def truth(config: SimulationConfig | None = None, *, n_customers: int, seed: int, chunk_size: int = 20_000) -> dict:
    """The true parameters of a simulation, as JSON-able data (no realised counts)."""
    cfg = config or SimulationConfig()
    tps = cfg.touchpoints
    delay = [float(p) for p in cfg.contact_delay_probs]
    p_within = float(sum(delay[: cfg.resolution_days + 1]))
    return {
        "n_customers": int(n_customers),
        "seed": int(seed),
        "chunk_size": int(chunk_size),
        "start": _iso(cfg.start_datetime),
        "as_of": _iso(cfg.as_of_datetime),
        "days": int(cfg.days),
        "month_days": cfg.month_days,
        "segment_shares": dict(cfg.segment_shares),
        "monthly_value": {"median_by_segment": dict(cfg.value_median), "sigma": cfg.value_sigma,
                          "distribution": "lognormal, rounded to 2 decimals"},
        "touchpoints": {
            tp: {
                "rate_per_month": spec["rate_per_month"],
                "once_at_signup": spec["rate_per_month"] is None,
                "channels": dict(spec["channels"]),
                "bad_rate_by_channel": dict(spec["bad_rate"]),
                "expected_bad_rate": cfg.expected_bad_rate(tp),
            }
            for tp, spec in tps.items()
        },
        "onboarding_window_days": cfg.onboarding_window_days,
        "bad_rate_by_touchpoint": {tp: cfg.expected_bad_rate(tp) for tp in tps},
        "bad_rate_by_touchpoint_channel": {tp: dict(spec["bad_rate"]) for tp, spec in tps.items()},
        "outcome_if_not_bad": {"good": cfg.p_good_if_not_bad, "neutral": 1.0 - cfg.p_good_if_not_bad},
        "service_outcome": "good when resolved, bad otherwise",
        "service_channels": dict(cfg.service_channels),
        "p_contact": cfg.p_contact,
        "contact_delay_days": {str(d): p for d, p in enumerate(delay)},
        "p_contact_within_resolution_days": p_within,
        "p_resolve_by_channel": dict(cfg.p_resolve),
        "p_resolve_expected": cfg.expected_p_resolve(),
        # resolution of a bad experience by its own contact alone; other contacts of the same
        # touchpoint within resolution_days can add to it (resolution is defined from the rows)
        "p_resolved_by_own_contact": cfg.p_contact * p_within * cfg.expected_p_resolve(),
        "routine": {"touchpoint": cfg.routine_touchpoint, "rate_per_month": cfg.routine_rate_per_month,
                    "p_resolve": cfg.routine_p_resolve, "channels": dict(cfg.service_channels)},
        "optional_fields": {
            "csat_share_service": cfg.csat_share_service,
            "csat_share_experience": cfg.csat_share_experience,
            "nps_share_experience": cfg.nps_share_experience,
            "csat_probs": {k: list(v) for k, v in cfg.csat_probs.items()},
            "nps_probs": {k: list(v) for k, v in cfg.nps_probs.items()},
            "first_response_minutes": {"median_by_channel": dict(cfg.first_response_median_minutes),
                                       "sigma": cfg.first_response_sigma,
                                       "distribution": "lognormal, service rows, rounded to 1 decimal"},
            "cost_by_channel": dict(cfg.cost_by_channel),
        },
        "hazard": {
            "model": "h(d) = base_daily[segment] * tenure_hr[band] * hr_unresolved**U(d) * hr_resolved**R(d)",
            "base_monthly_churn": dict(cfg.base_monthly_churn),
            "base_daily": cfg.base_daily_hazard(),
            "tenure_bands": [
                {"from_day": int(lo), "to_day": int(hi) if hi is not None else None, "hr": float(hr)}
                for lo, hi, hr in zip(cfg.tenure_band_starts, [*cfg.tenure_band_starts[1:], None], cfg.tenure_hr)
            ],
            "tenure_reference_band": _reference_band(cfg),
            "hr_unresolved": cfg.hr_unresolved,
            "hr_resolved": cfg.hr_resolved,
            "log_hr_unresolved": math.log(cfg.hr_unresolved),
            "log_hr_resolved": math.log(cfg.hr_resolved),
            "window_days": int(cfg.window_days),
            "resolution_days": int(cfg.resolution_days),
            "hr_by_touchpoint": {tp: {k: cfg.touchpoint_hr(tp, k) for k in ("unresolved", "resolved")} for tp in tps},
            "engagement": None if cfg.engagement_shape is None else {
                "model": "usage multiplier a ~ Gamma(shape, scale 1/shape), mean 1: touchpoint and routine-contact "
                         "rates x a, baseline hazard x a**churn_power",
                "shape": float(cfg.engagement_shape), "scale": 1.0 / float(cfg.engagement_shape),
                "churn_power": float(cfg.engagement_churn_power),
            },
            "fade": None if not cfg.fade_log_hr else {
                "model": "log HR of a bad experience x factor of its days-since band",
                "bands": _fade_bands(cfg),
                "hr_by_band": {kind: [math.exp(f * math.log(hr)) for f in cfg.fade_log_hr]
                               for kind, hr in (("unresolved", cfg.hr_unresolved), ("resolved", cfg.hr_resolved))},
                "hr_by_touchpoint_band": {tp: {kind: [cfg.faded_hr(tp, kind, b) for b in range(len(cfg.fade_log_hr))]
                                               for kind in ("unresolved", "resolved")} for tp in tps},
            },
            "seasonality": None if not cfg.seasonal_amplitude else {
                "model": "baseline hazard x (1 + amplitude cos(2 pi (day of year - peak_day) / 365.25))",
                "amplitude": float(cfg.seasonal_amplitude), "peak_day": int(cfg.seasonal_peak_day),
            },
        },
        "pre_churn_contacts": None if not cfg.pre_churn_contact_rate_per_month else {
            "model": "extra routine contacts, Poisson at rate_per_month, uniform over the days before churned_at",
            "rate_per_month": float(cfg.pre_churn_contact_rate_per_month), "days": int(cfg.pre_churn_days),
        },
        "config": cfg.to_dict(),
    }


def _fade_bands(cfg: SimulationConfig) -> list:
    starts = [1, *(c + 1 for c in cfg.fade_band_days)]
    ends = [*cfg.fade_band_days, cfg.window_days]
    return [{"from_day": int(a), "to_day": int(b), "factor": float(f)} for a, b, f in zip(starts, ends, cfg.fade_log_hr)]


def _reference_band(cfg: SimulationConfig) -> int | None:
    for lo, hr in zip(cfg.tenure_band_starts, cfg.tenure_hr):
        if hr == 1.0:
            return int(lo)
    return None


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- compiled parameters


@dataclass
class _Params:
    """The config as arrays indexed by category codes."""

    cfg: SimulationConfig
    segments: list
    seg_cdf: np.ndarray
    log_value_median: np.ndarray
    base_daily: np.ndarray
    touchpoints: list
    tp_rate: np.ndarray  # NaN = once at signup
    exp_channels: list
    tp_channel_cdf: np.ndarray  # T x C
    bad: np.ndarray  # T x C
    svc_channels: list
    svc_cdf: np.ndarray
    p_resolve: np.ndarray
    log_frt_median: np.ndarray
    cost: np.ndarray
    delay_cdf: np.ndarray
    csat_cdf: np.ndarray  # rows: good, neutral, bad, unresolved, resolved
    nps_cdf: np.ndarray  # rows: good, neutral, bad
    after: _Params | None = None  # the intervention's parameters ...
    from_day: int | None = None  # ... for experiences (and contacts) on or after this day

    @classmethod
    def build(cls, cfg: SimulationConfig) -> _Params:
        segments = list(cfg.segment_shares)
        tps = list(cfg.touchpoints)
        exp_channels = list(dict.fromkeys(ch for spec in cfg.touchpoints.values() for ch in spec["channels"]))
        cidx = {ch: i for i, ch in enumerate(exp_channels)}
        shares = np.zeros((len(tps), len(exp_channels)))
        bad = np.zeros_like(shares)
        for t, tp in enumerate(tps):
            for ch, share in cfg.touchpoints[tp]["channels"].items():
                shares[t, cidx[ch]] = share
                bad[t, cidx[ch]] = cfg.touchpoints[tp]["bad_rate"][ch]
        svc = list(cfg.service_channels)
        csat_rows = [cfg.csat_probs[k] for k in (*OUTCOMES, "unresolved", "resolved")]
        return cls(
            cfg=cfg,
            segments=segments,
            seg_cdf=_cdf([cfg.segment_shares[s] for s in segments]),
            log_value_median=np.log([cfg.value_median[s] for s in segments]),
            base_daily=np.array([cfg.base_daily_hazard()[s] for s in segments]),
            touchpoints=tps,
            tp_rate=np.array([np.nan if cfg.touchpoints[tp]["rate_per_month"] is None
                              else cfg.touchpoints[tp]["rate_per_month"] for tp in tps], dtype=float),
            exp_channels=exp_channels,
            tp_channel_cdf=_cdf(shares),
            bad=bad,
            svc_channels=svc,
            svc_cdf=_cdf([cfg.service_channels[c] for c in svc]),
            p_resolve=np.array([cfg.p_resolve[c] for c in svc], dtype=float),
            log_frt_median=np.log([cfg.first_response_median_minutes[c] for c in svc]),
            cost=np.array([cfg.cost_by_channel[c] for c in svc], dtype=float),
            delay_cdf=_cdf(cfg.contact_delay_probs),
            csat_cdf=_cdf(csat_rows),
            nps_cdf=_cdf([cfg.nps_probs[k] for k in OUTCOMES]),
        )


def _cdf(probs) -> np.ndarray:
    """Cumulative sums along the last axis, the last forced to exactly 1."""
    cdf = np.cumsum(np.asarray(probs, dtype=float), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


def _pick(u: np.ndarray, cdf: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Inverse-CDF draw: index of the category of each uniform ``u`` (per-row CDFs if ``rows``)."""
    if rows is None:
        return np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[-1] - 1)
    out = np.zeros(len(u), dtype=np.int64)
    for k in range(cdf.shape[-1] - 1):  # a handful of categories: loop over them, not rows
        out += u >= cdf[rows, k]
    return out


# --------------------------------------------------------------------------- one chunk


@dataclass
class _Chunk:
    """One chunk as arrays: customers, then interactions (seconds since start)."""

    number: np.ndarray  # customer number (1-based, global)
    signup: np.ndarray  # int64 seconds
    churn: np.ndarray  # int64 seconds, -1 when active
    segment: np.ndarray
    value: np.ndarray
    # interactions
    row_id: np.ndarray  # global 1-based id
    cust: np.ndarray  # index of the customer within the chunk
    at: np.ndarray
    kind: np.ndarray  # 0 experience, 1 service
    channel: np.ndarray  # index into exp_channels + svc_channels
    touchpoint: np.ndarray  # index into touchpoints + [routine touchpoint]
    outcome: np.ndarray  # index into OUTCOMES
    resolved: np.ndarray  # int8: -1 missing, 0 false, 1 true
    csat: np.ndarray  # 0 = missing
    nps: np.ndarray  # -1 = missing
    frt: np.ndarray  # NaN = missing
    cost: np.ndarray  # NaN = missing
    n_potential_rows: int


def _simulate_chunk(p: _Params, n: int, first_number: int, first_row: int, rng: np.random.Generator,
                    extra: np.random.Generator | None = None) -> _Chunk:
    """One chunk of customers. The draws come in a fixed order: customers, counts,
    experiences with their potential contacts, routine contacts (see the module docstring).
    The complications (engagement, contacts before churn) draw from ``extra``, a stream of
    their own, so the main stream's draws stay those of the world without them."""
    customers = _draw_customers(p, n, rng)
    cfg = p.cfg
    usage = None
    if extra is not None:
        usage = extra.gamma(cfg.engagement_shape or 1.0, 1.0 / (cfg.engagement_shape or 1.0), n)
        if cfg.engagement_shape is None:
            usage = np.ones(n)
    counts, n_routine = _draw_counts(p, customers["span"], rng, usage)
    exp = _draw_experiences(p, customers, counts, rng)
    routine = _draw_routine(p, customers, n_routine, rng)
    bad, res = exp["outcome"] == 2, exp["contact"] & exp["c_resolved"]
    churn = _churn_times(p, customers["signup"], customers["segment"], customers["threshold"],
                         exp["cust"][bad], exp["tp"][bad], exp["day"][bad],
                         exp["cust"][res], exp["tp"][res], exp["c_day"][res], usage=usage)
    churn_sec = np.where(np.isnan(churn), -1, np.floor(np.nan_to_num(churn, nan=0.0))).astype(np.int64)
    n_potential = 2 * len(exp["cust"]) + len(routine["cust"])
    if extra is not None and cfg.pre_churn_contact_rate_per_month > 0:
        late = _draw_pre_churn(p, customers, churn_sec, extra)
        n_routine_rows = len(routine["cust"])
        n_potential += int(late.pop("index_count"))
        late["index"] = late["index"] + n_routine_rows
        routine = {k: np.concatenate([routine[k], late[k]]) for k in late if k != "index"}
        routine["index"] = np.concatenate([np.arange(n_routine_rows, dtype=np.int64), late["index"]])
    rows = _rows(p, exp, routine, first_row, churn_sec)
    return _Chunk(
        number=first_number + np.arange(n, dtype=np.int64),
        signup=customers["signup"],
        churn=churn_sec,
        segment=customers["segment"],
        value=customers["value"],
        n_potential_rows=n_potential,
        **rows,
    )


def _draw_customers(p: _Params, n: int, rng: np.random.Generator) -> dict:
    cfg = p.cfg
    end = cfg.days * SECONDS_PER_DAY
    signup = np.minimum((rng.random(n) * end).astype(np.int64), end - 1)
    segment = _pick(rng.random(n), p.seg_cdf)
    value = np.round(np.exp(p.log_value_median[segment] + cfg.value_sigma * rng.standard_normal(n)), 2)
    threshold = rng.standard_exponential(n)  # churn when the cumulative hazard reaches it
    return {"signup": signup, "segment": segment, "value": value, "threshold": threshold,
            "span": end - signup}  # seconds from signup to as_of, >= 1


def _draw_counts(p: _Params, span: np.ndarray, rng: np.random.Generator,
                 usage: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Experiences per customer and touchpoint (Poisson over [signup, as_of)), routine contacts.

    ``usage``: each customer's usage multiplier of the rates (engagement), None for 1."""
    months = span / (SECONDS_PER_DAY * p.cfg.month_days)
    if usage is not None:
        months = months * usage
    once = np.isnan(p.tp_rate)
    counts = np.ones((len(span), len(p.touchpoints)), dtype=np.int64)
    if (~once).any():
        counts[:, ~once] = rng.poisson(months[:, None] * p.tp_rate[~once][None, :])
    return counts, rng.poisson(months * p.cfg.routine_rate_per_month)


def _draw_experiences(p: _Params, customers: dict, counts: np.ndarray, rng: np.random.Generator) -> dict:
    """Experiences, each with its potential service contact: every uniform drawn for all."""
    cfg = p.cfg
    n, n_tp = counts.shape
    cust = np.repeat(np.arange(n), counts.sum(axis=1))
    tp = np.repeat(np.tile(np.arange(n_tp), n), counts.ravel())
    (u_time, u_channel, u_bad, u_good, u_csat_has, u_csat, u_nps_has, u_nps,
     u_contact, u_delay, u_tod, u_cchannel, u_res, u_ccsat_has, u_ccsat) = rng.random((15, len(cust)))
    z_frt = rng.standard_normal(len(cust))

    signup, span = customers["signup"][cust], customers["span"][cust]
    once = np.isnan(p.tp_rate)[tp]
    window = np.where(once, np.minimum(span, round(cfg.onboarding_window_days * SECONDS_PER_DAY)), span)
    at = signup + np.minimum((u_time * window).astype(np.int64), window - 1)
    channel = _pick(u_channel, p.tp_channel_cdf, tp)
    day = at // SECONDS_PER_DAY
    c_day = day + _pick(u_delay, p.delay_cdf)  # calendar days after the experience's day
    c_channel = _pick(u_cchannel, p.svc_cdf)
    # Thresholds, not draws, change with an intervention: the uniforms are the same either way.
    p_bad, p_contact, p_resolve = p.bad[tp, channel], np.full(len(cust), cfg.p_contact), p.p_resolve[c_channel]
    if p.after is not None:
        late, late_contact = day >= p.from_day, c_day >= p.from_day
        p_bad = np.where(late, p.after.bad[tp, channel], p_bad)
        p_contact = np.where(late, p.after.cfg.p_contact, p_contact)
        p_resolve = np.where(late_contact, p.after.p_resolve[c_channel], p_resolve)
    bad = u_bad < p_bad
    outcome = np.where(bad, 2, np.where(u_good < cfg.p_good_if_not_bad, 0, 1))
    c_resolved = u_res < p_resolve
    return {
        "cust": cust, "tp": tp, "at": at, "day": day, "channel": channel, "outcome": outcome,
        "csat": np.where(u_csat_has < cfg.csat_share_experience, 1 + _pick(u_csat, p.csat_cdf, outcome), 0),
        "nps": np.where(u_nps_has < cfg.nps_share_experience, _pick(u_nps, p.nps_cdf, outcome), -1),
        "contact": bad & (u_contact < p_contact) & (c_day < cfg.days),
        "c_day": c_day,
        "c_at": _contact_time(c_day, u_tod, signup),
        "c_channel": c_channel,
        "c_resolved": c_resolved,
        "c_csat": np.where(u_ccsat_has < cfg.csat_share_service, 1 + _pick(u_ccsat, p.csat_cdf, 3 + c_resolved), 0),
        "c_frt": np.round(np.exp(p.log_frt_median[c_channel] + cfg.first_response_sigma * z_frt), 1),
    }


def _draw_routine(p: _Params, customers: dict, n_routine: np.ndarray, rng: np.random.Generator) -> dict:
    """Routine (how_to) contacts, uniform over [signup, as_of)."""
    cfg = p.cfg
    cust = np.repeat(np.arange(len(n_routine)), n_routine)
    u_time, u_channel, u_res, u_csat_has, u_csat = rng.random((5, len(cust)))
    z_frt = rng.standard_normal(len(cust))
    span = customers["span"][cust]
    channel = _pick(u_channel, p.svc_cdf)
    resolved = u_res < cfg.routine_p_resolve
    return {
        "cust": cust,
        "at": customers["signup"][cust] + np.minimum((u_time * span).astype(np.int64), span - 1),
        "channel": channel,
        "resolved": resolved,
        "csat": np.where(u_csat_has < cfg.csat_share_service, 1 + _pick(u_csat, p.csat_cdf, 3 + resolved), 0),
        "frt": np.round(np.exp(p.log_frt_median[channel] + cfg.first_response_sigma * z_frt), 1),
    }


def _draw_pre_churn(p: _Params, customers: dict, churn_sec: np.ndarray, extra: np.random.Generator) -> dict:
    """Routine contacts of customers on their way out: Poisson over the ``pre_churn_days`` before churn.

    Drawn for every customer (churned or not: the draws do not depend on the outcome, so
    common random numbers hold); only those of churned customers, after signup, happen.
    """
    cfg = p.cfg
    n = len(churn_sec)
    window = cfg.pre_churn_days * SECONDS_PER_DAY
    k = extra.poisson(cfg.pre_churn_contact_rate_per_month * cfg.pre_churn_days / cfg.month_days, n)
    cust = np.repeat(np.arange(n), k)
    u_time, u_channel, u_res, u_csat_has, u_csat = extra.random((5, len(cust)))
    z_frt = extra.standard_normal(len(cust))
    at = churn_sec[cust] - np.minimum((u_time * window).astype(np.int64), window - 1)
    happens = (churn_sec[cust] >= 0) & (at >= customers["signup"][cust])
    channel = _pick(u_channel, p.svc_cdf)
    resolved = u_res < cfg.routine_p_resolve
    rows = {
        "cust": cust,
        "at": at,
        "channel": channel,
        "resolved": resolved,
        "csat": np.where(u_csat_has < cfg.csat_share_service, 1 + _pick(u_csat, p.csat_cdf, 3 + resolved), 0),
        "frt": np.round(np.exp(p.log_frt_median[channel] + cfg.first_response_sigma * z_frt), 1),
        "index": np.arange(len(cust), dtype=np.int64),  # number among the potential contacts
    }
    out = {key: values[happens] for key, values in rows.items()}
    out["index_count"] = len(cust)
    return out


def _rows(p: _Params, exp: dict, routine: dict, first_row: int, churn_sec: np.ndarray) -> dict:
    """All interaction rows that happened (not after churn), sorted by customer and time.

    Ids number potential rows: experience j is ``first_row + 2j + 1``, its contact the next.
    A service row's outcome is the contact's own: good when resolved, bad otherwise.
    """
    n_exp, n_r = len(exp["cust"]), len(routine["cust"])
    ids = first_row + 2 * np.arange(n_exp, dtype=np.int64) + 1
    routine_index = routine.get("index", np.arange(n_r, dtype=np.int64))
    c = np.flatnonzero(exp["contact"])
    svc = len(p.exp_channels)  # service channel codes follow the experience channels
    c_channel = exp["c_channel"][c]
    parts = {
        "row_id": (ids, ids[c] + 1, first_row + 2 * n_exp + 1 + routine_index),
        "cust": (exp["cust"], exp["cust"][c], routine["cust"]),
        "at": (exp["at"], exp["c_at"][c], routine["at"]),
        "kind": (np.zeros(n_exp, np.int8), np.ones(len(c), np.int8), np.ones(n_r, np.int8)),
        "channel": (exp["channel"], svc + c_channel, svc + routine["channel"]),
        "touchpoint": (exp["tp"], exp["tp"][c], np.full(n_r, len(p.touchpoints))),
        "outcome": (exp["outcome"], np.where(exp["c_resolved"][c], 0, 2), np.where(routine["resolved"], 0, 2)),
        "resolved": (np.full(n_exp, -1, np.int8), exp["c_resolved"][c].astype(np.int8),
                     routine["resolved"].astype(np.int8)),
        "csat": (exp["csat"], exp["c_csat"][c], routine["csat"]),
        "nps": (exp["nps"], np.full(len(c), -1), np.full(n_r, -1)),
        "frt": (np.full(n_exp, np.nan), exp["c_frt"][c], routine["frt"]),
        "cost": (np.full(n_exp, np.nan), p.cost[c_channel], p.cost[routine["channel"]]),
    }
    rows = {name: np.concatenate(values) for name, values in parts.items()}
    churn = churn_sec[rows["cust"]]
    keep = np.flatnonzero((churn < 0) | (rows["at"] <= churn))
    order = keep[np.lexsort((rows["row_id"][keep], rows["at"][keep], rows["cust"][keep]))]
    return {name: values[order] for name, values in rows.items()}


def _contact_time(day: np.ndarray, u_tod: np.ndarray, signup: np.ndarray) -> np.ndarray:
    """A uniform second of calendar ``day``, not before ``signup`` when that is the signup day."""
    day_start = day * SECONDS_PER_DAY
    lower = np.clip(signup - day_start, 0, SECONDS_PER_DAY - 1)
    width = SECONDS_PER_DAY - lower
    return day_start + lower + np.minimum((u_tod * width).astype(np.int64), width - 1)


def _resolution_days(n_tp: int, days: int, resolution_days: int, bad_cust, bad_tp, bad_day,
                     res_cust, res_tp, res_day) -> np.ndarray:
    """Day ``c`` of the earliest resolved contact of the same customer and touchpoint with
    ``e <= c <= e + resolution_days`` for each bad experience on day ``e``; -1 when none.

    This is design.md's definition applied to the generated rows (any resolved contact of
    that touchpoint counts, whichever experience triggered it).
    """
    stride = days + resolution_days + 1  # room so that e + resolution_days stays in the group
    keys = np.sort((res_cust * n_tp + res_tp) * stride + res_day)
    base = (bad_cust * n_tp + bad_tp) * stride
    if len(keys) == 0:
        return np.full(len(bad_day), -1, dtype=np.int64)
    j = np.searchsorted(keys, base + bad_day, side="left")
    hit = keys[np.minimum(j, len(keys) - 1)]
    found = (j < len(keys)) & (hit <= base + bad_day + resolution_days)
    return np.where(found, hit - base, -1)


def _hazard_cells(p: _Params, signup_day, segment, bad_cust, bad_day, res_day) -> tuple[np.ndarray, np.ndarray]:
    """Per customer and day, the index of its hazard cell in a table of daily rates.

    A cell is (segment, tenure band, U, R); band 0 means "not yet signed up" (rate 0).
    All terms are step functions of the day, so one integer difference array and one cumsum
    build the index: the segment from day 0, each tenure band from its first day, and each
    bad experience on day ``e`` adds to U on ``e+1 .. c`` and to R on ``c+1 .. e+window``
    when resolved on day ``c`` (design.md's definition), to U on ``e+1 .. e+window`` if not.
    Returns ``(index, rates)``: ``index`` is customers x days (int32), ``rates`` the table.
    """
    cfg = p.cfg
    n, days, window = len(signup_day), cfg.days, cfg.window_days
    width = days + window + 2
    found = res_day >= 0
    n_u = int(np.bincount(bad_cust, minlength=n).max(initial=0)) + 1 if n else 1  # bounds of U and R
    n_r = int(np.bincount(bad_cust[found], minlength=n).max(initial=0)) + 1 if n else 1
    starts = np.asarray(cfg.tenure_band_starts)
    n_band = len(starts) + 1
    s_u, s_band = n_r, n_u * n_r
    s_seg = n_band * s_band
    if len(p.segments) * s_seg >= 2**31:
        raise OverflowError("too many bad experiences per customer for the hazard table")

    rows = np.arange(n)
    unresolved_end = np.where(found, res_day, bad_day + window)
    band_cols = np.minimum(signup_day[:, None] + starts[None, :], width - 1)
    positions = [rows * width, (rows[:, None] * width + band_cols).ravel(),
                 bad_cust * width + bad_day + 1, bad_cust * width + unresolved_end + 1,
                 bad_cust[found] * width + res_day[found] + 1, bad_cust[found] * width + bad_day[found] + window + 1]
    weights = [segment * s_seg, np.full(band_cols.size, s_band),
               np.full(len(bad_day), s_u), np.full(len(bad_day), -s_u),
               np.ones(int(found.sum())), np.full(int(found.sum()), -1)]
    diff = np.zeros(n * width, dtype=np.int32)
    np.add.at(diff, np.concatenate(positions), np.concatenate(weights).astype(np.int32))
    index = np.cumsum(diff.reshape(n, width)[:, :days], axis=1, dtype=np.int32)

    log_ratio = (math.log(cfg.hr_unresolved) * np.arange(n_u)[:, None]
                 + math.log(cfg.hr_resolved) * np.arange(n_r)[None, :])
    tenure_hr = np.concatenate([[0.0], cfg.tenure_hr])
    rates = p.base_daily[:, None, None, None] * tenure_hr[None, :, None, None] * np.exp(log_ratio)[None, None]
    return index, rates.ravel()


def _daily_rates(p: _Params, signup_day, segment, bad_tp, bad_cust, bad_day, res_day, usage) -> np.ndarray:
    """Customers x days: the daily hazard with the complications (the general path).

    ``log h(d) = log base[segment] + power log a + log tenure_hr[band(d)]
    + sum over bad experiences of factor[days-since band] x log HR[touchpoint, status(d)]``,
    times the season of day ``d``; 0 before the signup day. Every term is a step function of
    the day, so one float difference array and one cumsum build it (as :func:`_hazard_cells`).
    """
    cfg = p.cfg
    n, days, window = len(signup_day), cfg.days, cfg.window_days
    width = days + window + 2
    rows = np.arange(n)
    log_base = np.log(p.base_daily[segment])
    if usage is not None and cfg.engagement_shape is not None:
        log_base = log_base + cfg.engagement_churn_power * np.log(usage)
    starts = np.asarray(cfg.tenure_band_starts)
    steps = np.diff(np.concatenate([[0.0], np.log(cfg.tenure_hr)]))
    band_cols = np.minimum(signup_day[:, None] + starts[None, :], width - 1)
    positions = [rows * width, (rows[:, None] * width + band_cols).ravel()]
    weights = [log_base, np.tile(steps, n)]
    log_hr = {kind: np.log([cfg.touchpoint_hr(tp, kind) for tp in p.touchpoints])[bad_tp]
              for kind in ("unresolved", "resolved")}
    found = res_day >= 0
    unresolved_end = np.where(found, res_day, bad_day + window)  # last day counted as unresolved
    cuts = [0, *cfg.fade_band_days, window] if cfg.fade_log_hr else [0, window]
    factors = cfg.fade_log_hr or (1.0,)
    for b, factor in enumerate(factors):
        first, last = bad_day + cuts[b] + 1, bad_day + cuts[b + 1]  # the band's days, inclusive
        for kind, lo, hi, ok in (("unresolved", first, np.minimum(last, unresolved_end), True),
                                 ("resolved", np.maximum(first, res_day + 1), last, found)):
            m = ok & (lo <= hi)
            w = factor * log_hr[kind][m]
            positions += [bad_cust[m] * width + lo[m], bad_cust[m] * width + hi[m] + 1]
            weights += [w, -w]
    diff = np.zeros(n * width)
    np.add.at(diff, np.concatenate(positions), np.concatenate(weights))
    rate = np.exp(np.cumsum(diff.reshape(n, width)[:, :days], axis=1))
    rate[np.arange(days)[None, :] < signup_day[:, None]] = 0.0
    if cfg.seasonal_amplitude:
        start = cfg.start_datetime
        doy = np.array([(start + timedelta(days=d)).timetuple().tm_yday for d in range(days)], dtype=float)
        rate *= (1.0 + cfg.seasonal_amplitude * np.cos(2 * np.pi * (doy - cfg.seasonal_peak_day) / 365.25))[None, :]
    return rate


def _churn_times(p: _Params, signup, segment, threshold, bad_cust, bad_tp, bad_day,
                 res_cust, res_tp, res_day, usage=None) -> np.ndarray:
    """Churn moment in seconds since start (float), NaN when the customer outlives as_of.

    The cumulative hazard is the cumsum of the daily rates times the exposure of each day
    (on the signup day: the part after ``signup_at``); churn is where it crosses the
    customer's Exp(1) threshold, linearly within that day.
    """
    cfg = p.cfg
    n = len(signup)
    if n == 0:
        return np.empty(0)
    c = _resolution_days(len(p.touchpoints), cfg.days, cfg.resolution_days, bad_cust, bad_tp, bad_day,
                         res_cust, res_tp, res_day)
    signup_day = signup // SECONDS_PER_DAY
    if cfg.complicated:
        return _crossing(_daily_rates(p, signup_day, segment, bad_tp, bad_cust, bad_day, c, usage),
                         signup, signup_day, threshold)
    index, rates = _hazard_cells(p, signup_day, segment, bad_cust, bad_day, c)
    cum = rates[index]  # the daily rate of each customer-day; becomes the cumulative hazard
    rows = np.arange(n)
    first_exposure = 1.0 - (signup - signup_day * SECONDS_PER_DAY) / SECONDS_PER_DAY
    cum[rows, signup_day] *= first_exposure
    np.cumsum(cum, axis=1, out=cum)
    thr = np.maximum(threshold, np.finfo(float).tiny)
    churned = cum[:, -1] >= thr
    day = np.argmax(cum >= thr[:, None], axis=1)
    before = np.where(day > 0, cum[rows, np.maximum(day - 1, 0)], 0.0)
    day_rate = rates[index[rows, day]]
    offset = np.where(day == signup_day, 1.0 - first_exposure, 0.0)  # exposure starts at signup_at
    with np.errstate(divide="ignore", invalid="ignore"):
        moment = (day + offset + (thr - before) / day_rate) * SECONDS_PER_DAY
    moment = np.clip(moment, signup, (day + 1) * SECONDS_PER_DAY - 1)
    return np.where(churned, moment, np.nan)


def _crossing(cum: np.ndarray, signup, signup_day, threshold) -> np.ndarray:
    """Churn moments from a customers x days matrix of daily rates (overwritten), as _churn_times."""
    n = len(signup)
    rows = np.arange(n)
    first_exposure = 1.0 - (signup - signup_day * SECONDS_PER_DAY) / SECONDS_PER_DAY
    cum[rows, signup_day] *= first_exposure
    np.cumsum(cum, axis=1, out=cum)
    thr = np.maximum(threshold, np.finfo(float).tiny)
    churned = cum[:, -1] >= thr
    day = np.argmax(cum >= thr[:, None], axis=1)
    before = np.where(day > 0, cum[rows, np.maximum(day - 1, 0)], 0.0)
    exposure = np.where(day == signup_day, first_exposure, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        day_rate = (cum[rows, day] - before) / exposure
        offset = np.where(day == signup_day, 1.0 - first_exposure, 0.0)  # exposure starts at signup_at
        moment = (day + offset + (thr - before) / day_rate) * SECONDS_PER_DAY
    moment = np.clip(np.nan_to_num(moment, nan=0.0), signup, (day + 1) * SECONDS_PER_DAY - 1)
    return np.where(churned, moment, np.nan)


# --------------------------------------------------------------------------- arrow tables


def _date_table(cfg: SimulationConfig) -> np.ndarray:
    start = cfg.start_datetime
    text = "".join((start + timedelta(days=d)).strftime("%Y-%m-%dT") for d in range(cfg.days))
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(cfg.days, 11)


_TIME_TABLE: np.ndarray | None = None


def _time_table() -> np.ndarray:
    global _TIME_TABLE
    if _TIME_TABLE is None:
        s = np.arange(SECONDS_PER_DAY)
        parts = [s // 36000, s // 3600 % 10, None, s // 600 % 6, s // 60 % 10, None, s % 60 // 10, s % 10, None]
        table = np.empty((SECONDS_PER_DAY, 9), dtype=np.uint8)
        for k, part in enumerate(parts):
            table[:, k] = ord(":") if part is None else part + ord("0")
        table[:, 8] = ord("Z")
        _TIME_TABLE = table
    return _TIME_TABLE


def _fixed_width_strings(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A string array from a (rows x width) uint8 matrix of ASCII characters."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    null_count = 0 if valid is None else int(n - np.count_nonzero(valid))
    return pa.Array.from_buffers(pa.string(), n, [bitmap, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(chars))], null_count)


def _padded_ids(numbers: np.ndarray, width: int, prefix: str = "") -> pa.Array:
    """``prefix`` + the numbers zero-padded to ``width`` digits (wider when they need it)."""
    if len(numbers) and int(numbers.max()) >= 10**width:
        text = pa.compute.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
        return pa.compute.binary_join_element_wise(prefix, text, "") if prefix else text
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    digits = (numbers[:, None] // powers[None, :] % 10 + ord("0")).astype(np.uint8)
    if prefix:
        head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
        digits = np.hstack([np.broadcast_to(head, (len(numbers), len(head))), digits])
    return _fixed_width_strings(digits)


def _timestamps(seconds: np.ndarray, start_epoch: int, text: bool, dates: np.ndarray,
                valid: np.ndarray | None = None) -> pa.Array:
    """Seconds since start as ``timestamp[us, UTC]`` or as ISO 8601 text ``...T..:..:..Z``."""
    if text:
        safe = seconds if valid is None else np.where(valid, seconds, 0)
        chars = np.hstack([dates[safe // SECONDS_PER_DAY], _time_table()[safe % SECONDS_PER_DAY]])
        return _fixed_width_strings(chars, valid)
    micros = (seconds + start_epoch) * 1_000_000
    return pa.array(micros, type=pa.int64(), mask=None if valid is None else ~valid).cast(_TIMESTAMP)


def _categories(names: list, codes: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.string()).take(pa.array(codes.astype(np.int32)))


def _chunk_tables(p: _Params, chunk: _Chunk, text_timestamps: bool, dates: np.ndarray) -> tuple[pa.Table, pa.Table]:
    start_epoch = int(p.cfg.start_datetime.timestamp())
    customer_ids = _padded_ids(chunk.number, CUSTOMER_ID_WIDTH)
    churned = chunk.churn >= 0
    customers = pa.table(
        [
            customer_ids,
            _timestamps(chunk.signup, start_epoch, text_timestamps, dates),
            _timestamps(chunk.churn, start_epoch, text_timestamps, dates, valid=churned),
            _categories(p.segments, chunk.segment),
            pa.array(chunk.value, type=pa.float64()),
        ],
        names=list(CUSTOMER_COLUMNS),
    )
    interactions = pa.table(
        [
            _padded_ids(chunk.row_id, INTERACTION_ID_WIDTH, prefix="I"),
            customer_ids.take(pa.array(chunk.cust)),
            _timestamps(chunk.at, start_epoch, text_timestamps, dates),
            _categories(list(KINDS), chunk.kind),
            _categories(p.exp_channels + p.svc_channels, chunk.channel),
            _categories(p.touchpoints + [p.cfg.routine_touchpoint], chunk.touchpoint),
            _categories(list(OUTCOMES), chunk.outcome),
            pa.array(chunk.resolved == 1, mask=chunk.resolved < 0),
            pa.array(chunk.csat.astype(np.int64), mask=chunk.csat == 0),
            pa.array(chunk.nps.astype(np.int64), mask=chunk.nps < 0),
            pa.array(chunk.frt, mask=np.isnan(chunk.frt)),
            pa.array(chunk.cost, mask=np.isnan(chunk.cost)),
        ],
        names=list(INTERACTION_COLUMNS),
    )
    return customers, interactions


# --------------------------------------------------------------------------- public API


def _check_args(n_customers: int, chunk_size: int) -> None:
    if int(n_customers) != n_customers or n_customers < 0:
        raise ValueError(f"n_customers must be a non-negative integer, got {n_customers!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")


#: What an intervention may change: the thresholds its uniforms are compared with.
INTERVENTION_FIELDS = ("touchpoints", "p_contact", "p_resolve")


def _intervention_day(cfg: SimulationConfig, start) -> int:
    """Day index (from the period's start) on which an intervention starts."""
    if isinstance(start, (int, np.integer)):
        day = int(start)
    else:
        moment = pd.Timestamp(start)
        moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
        day = int((moment - pd.Timestamp(cfg.start_datetime)).days)
    if not 0 <= day <= cfg.days:
        raise ValueError(f"intervention_from must fall inside the simulated period, got {start!r}")
    return day


def _with_intervention(p: _Params, intervention: SimulationConfig | None, start) -> _Params:
    """Attach an intervention that applies from ``start``; it may change only INTERVENTION_FIELDS.

    Touchpoints may differ only in their bad rates (rates and channels drive the draws).
    """
    if intervention is None:
        if start is not None:
            raise ValueError("intervention_from needs an intervention config")
        return p
    base, new = p.cfg.to_dict(), intervention.to_dict()
    for key in set(base) | set(new):
        if key not in INTERVENTION_FIELDS and base.get(key) != new.get(key):
            raise ValueError(f"an intervention may change bad rates, p_contact and p_resolve only, not {key!r}")
    for tp, spec in base["touchpoints"].items():
        other = new["touchpoints"].get(tp, {})
        if {k: v for k, v in spec.items() if k != "bad_rate"} != {k: v for k, v in other.items() if k != "bad_rate"}:
            raise ValueError(f"an intervention may change touchpoint {tp!r}'s bad rate only")
    p.after = _Params.build(intervention)
    p.from_day = 0 if start is None else _intervention_day(p.cfg, start)
    return p


def _has_extra(cfg: SimulationConfig) -> bool:
    return cfg.engagement_shape is not None or cfg.pre_churn_contact_rate_per_month > 0


def _chunks(n_customers: int, seed: int, config: SimulationConfig | None,
            chunk_size: int, intervention=None, intervention_from=None) -> Iterator[tuple[_Params, _Chunk]]:
    _check_args(n_customers, chunk_size)
    p = _with_intervention(_Params.build(config or SimulationConfig()), intervention, intervention_from)
    first_row = 0
    for index, first in enumerate(range(0, n_customers, chunk_size)):
        n = min(chunk_size, n_customers - first)
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), index]))
        extra = np.random.default_rng(np.random.SeedSequence([int(seed), index, 1])) if _has_extra(p.cfg) else None
        chunk = _simulate_chunk(p, n, first + 1, first_row, rng, extra)
        first_row += chunk.n_potential_rows
        yield p, chunk


def simulate_tables(n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
                    chunk_size: int = 20_000, text_timestamps: bool = False, intervention=None,
                    intervention_from=None) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Like :func:`simulate`, as Arrow tables (timestamps as ISO text if ``text_timestamps``)."""
    dates = None
    for p, chunk in _chunks(n_customers, seed, config, chunk_size, intervention, intervention_from):
        if dates is None:
            dates = _date_table(p.cfg)
        yield _chunk_tables(p, chunk, text_timestamps, dates)


_PANDAS_TYPES = {pa.bool_(): pd.BooleanDtype(), pa.int64(): pd.Int64Dtype()}


def simulate(n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
             chunk_size: int = 20_000, intervention: SimulationConfig | None = None,
             intervention_from=None) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Simulate ``n_customers``; yield ``(customers, interactions)`` per chunk of customers.

    Timestamps are ``datetime64[us, UTC]`` (NaT when missing), ``resolved`` is a nullable
    boolean, ``csat`` and ``nps`` nullable integers. Same seed, n and chunk_size: same data.

    ``intervention`` (a config differing from ``config`` only in bad rates, ``p_contact``
    and ``p_resolve``) applies to experiences on or after ``intervention_from`` (a date, or
    a day index; default the start), and to contacts on or after it for resolution. With
    the same seed, everything before that day is identical to the world without it, so the
    customers active then are the same in both worlds: the comparison an ROI estimate needs.
    """
    for customers, interactions in simulate_tables(n_customers, seed=seed, config=config, chunk_size=chunk_size,
                                                   intervention=intervention, intervention_from=intervention_from):
        yield (customers.to_pandas(types_mapper=_PANDAS_TYPES.get),
               interactions.to_pandas(types_mapper=_PANDAS_TYPES.get))


class _CsvSink:
    """A CSV file written chunk by chunk: bare header, no quotes, empty field = missing."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._file = pa.OSFile(str(path), "wb")
        self._file.write((",".join(schema.names) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        self._writer = pacsv.CSVWriter(self._file, schema, write_options=options)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()
        self._file.close()


class _ParquetSink:
    def __init__(self, path: Path, schema: pa.Schema):
        self._writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> None:
        self._writer.close()


def _text_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema([pa.field(f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in schema])


def _realised(chunk: _Chunk, p: _Params) -> dict:
    service = chunk.kind == 1
    routine = chunk.touchpoint == len(p.touchpoints)
    return {
        "customers": len(chunk.number),
        "churned": int(np.count_nonzero(chunk.churn >= 0)),
        "experience": int(np.count_nonzero(~service)),
        "service": int(np.count_nonzero(service)),
        "bad_experiences": int(np.count_nonzero(~service & (chunk.outcome == 2))),
        "service_after_bad": int(np.count_nonzero(service & ~routine)),
        "service_routine": int(np.count_nonzero(routine)),
        "service_resolved": int(np.count_nonzero(chunk.resolved == 1)),
    }


def write_dataset(out_dir, n_customers: int, *, seed: int = 0, config: SimulationConfig | None = None,
                  fmt: str = "csv", chunk_size: int = 20_000, progress: bool = False,
                  intervention: SimulationConfig | None = None, intervention_from=None) -> dict:
    """Write ``customers.<fmt>``, ``interactions.<fmt>`` and ``truth.json`` into ``out_dir``.

    ``fmt`` is ``"csv"`` (ISO 8601 ``...Z`` timestamps, empty field = missing) or
    ``"parquet"`` (``timestamp[us, UTC]``, nulls). Files are written chunk by chunk, so
    memory does not grow with ``n_customers``; same arguments give byte-identical files.
    Returns the truth dict (parameters and realised counts) also written to truth.json.
    ``intervention`` and ``intervention_from`` as in :func:`simulate`; truth.json records them.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    _check_args(n_customers, chunk_size)
    cfg = config or SimulationConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = fmt == "csv"
    sink = _CsvSink if text else _ParquetSink
    schemas = [_text_schema(s) if text else s for s in (CUSTOMER_SCHEMA, INTERACTION_SCHEMA)]
    sinks = [sink(out / f"{name}.{fmt}", schema) for name, schema in zip(("customers", "interactions"), schemas)]
    totals: dict[str, int] = {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_customers, unit="customer", desc="simulate")
    try:
        dates = _date_table(cfg)
        for p, chunk in _chunks(n_customers, seed, cfg, chunk_size, intervention, intervention_from):
            for s, table in zip(sinks, _chunk_tables(p, chunk, text, dates)):
                s.write(table)
            for key, value in _realised(chunk, p).items():
                totals[key] = totals.get(key, 0) + value
            if bar is not None:
                bar.update(len(chunk.number))
    finally:
        for s in sinks:
            s.close()
        if bar is not None:
            bar.close()
    result = truth(cfg, n_customers=n_customers, seed=seed, chunk_size=chunk_size)
    result["format"] = fmt
    if intervention is not None:
        day = 0 if intervention_from is None else _intervention_day(cfg, intervention_from)
        result["intervention"] = {
            "from": _iso(cfg.start_datetime + timedelta(days=day)),
            "from_day": day,
            "config": intervention.to_dict(),
        }
    result["realised"] = {
        "customers": totals.get("customers", 0),
        "churned": totals.get("churned", 0),
        "interactions": {"experience": totals.get("experience", 0), "service": totals.get("service", 0)},
        "interactions_total": totals.get("experience", 0) + totals.get("service", 0),
        "bad_experiences": totals.get("bad_experiences", 0),
        "service_after_bad": totals.get("service_after_bad", 0),
        "service_routine": totals.get("service_routine", 0),
        "service_resolved": totals.get("service_resolved", 0),
    }
    (out / "truth.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result
