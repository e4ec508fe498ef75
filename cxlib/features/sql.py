"""The SQL building blocks every query shares, each defined once: literals, who is a customer
at a moment, and the checks of day parameters.

The literals of our own values (never text from data: that is always a bound parameter) come
from the data floor, where loading needs them first; they are handed on here so that features,
models and analyses have one place to take them from.
"""

from __future__ import annotations

from cxlib.data.load import quote_identifier, timestamp_sql, utc_naive

__all__ = [
    "active_at_sql",
    "check_days",
    "quote_identifier",
    "signed_up_before_sql",
    "text_sql",
    "timestamp_sql",
    "utc_naive",
]


def text_sql(value) -> str:
    """Our own text (a touchpoint name, a label) as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def signed_up_before_sql(at_sql: str, *, table: str = "") -> str:
    """A customer *known* at ``at_sql``: signed up strictly before it (design.md: "active at t").

    A customer who signs up at the very moment ``t`` has no exposure before ``t`` and is not
    counted; the same rule for the metrics, the panel, the risk list and the ROI.
    """
    prefix = f"{table}." if table else ""
    return f"{prefix}signup_at < {at_sql}"


def active_at_sql(at_sql: str, *, table: str = "") -> str:
    """A customer *active* at ``at_sql``: known then (:func:`signed_up_before_sql`) and not churned
    at or before it."""
    prefix = f"{table}." if table else ""
    return f"{signed_up_before_sql(at_sql, table=table)} AND ({prefix}churned_at IS NULL OR {prefix}churned_at > {at_sql})"


def check_days(**values) -> dict[str, int]:
    """Day parameters as ints, checked: ``resolution_days`` may be 0 (same day only), every other
    day count (windows, horizons, steps) must be at least 1. Raises ``ValueError`` naming the
    parameter."""
    out = {}
    for name, value in values.items():
        try:
            days = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number of days, not {value!r}") from None
        if days != value and not (isinstance(value, str) and value.strip().isdigit()):
            raise ValueError(f"{name} must be a whole number of days, not {value!r}")
        floor = 0 if name == "resolution_days" else 1
        if days < floor:
            raise ValueError(f"{name} must be >= {floor}, not {value}")
        out[name] = days
    return out
