"""The one clock of cxlib: naive UTC timestamps, and the moment of loading."""

from __future__ import annotations

import pandas as pd

#: Names of the UTC zone: naive values in it need no conversion.
UTC_NAMES = ("UTC", "Z", "ETC/UTC", "GMT")


def is_utc(timezone: str) -> bool:
    """Is ``timezone`` a name of UTC?"""
    return timezone.upper() in UTC_NAMES


def utc_naive(value, *, timezone: str = "UTC") -> pd.Timestamp:
    """A timestamp as naive UTC, the one clock of cxlib: offsets converted, naive taken as in
    ``timezone`` (UTC by default)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"not a timestamp: {value!r} ({exc})") from None
    if pd.isna(ts):
        raise ValueError(f"not a timestamp: {value!r}")
    if ts.tzinfo is None:
        if is_utc(timezone):
            return ts
        ts = ts.tz_localize(timezone)
    return ts.tz_convert("UTC").tz_localize(None)


def load_moment() -> pd.Timestamp:
    """The moment of loading, naive UTC: nothing in the data may be after it."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)
