"""The true parameters of a simulated world, their checks, and the named worlds (presets)."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from cxlib.config import RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.data.contract import OUTCOMES

SECONDS_PER_DAY = 86_400



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
