"""The data contract of design.md, once: tables, columns, their types, codes, keys and bounds.

Every part of the data floor reads these names from here: the loader's row rules
(:mod:`cxlib.data.rules`), the PostgreSQL reader, the sources files, the Spark engine and
the simulator, which writes files that meet this contract. Nothing here runs a query.
"""

from __future__ import annotations

from cxlib.config import MAX_AMOUNT, MAX_RESPONSE_MINUTES

TABLES = ("customers", "interactions")

#: The contract's columns per table, in the contract's order, each with whether it is required
#: (the column must be in the file; ``churned_at`` must be there, its value empty while active).
COLUMNS = {
    "customers": {
        "customer_id": True,
        "signup_at": True,
        "churned_at": True,
        "segment": False,
        "monthly_value": True,
    },
    "interactions": {
        "interaction_id": True,
        "customer_id": True,
        "at": True,
        "kind": True,
        "channel": True,
        "touchpoint": True,
        "outcome": True,
        "resolved": False,
        "csat": False,
        "nps": False,
        "first_response_minutes": False,
        "cost": False,
    },
}
CUSTOMER_COLUMNS = tuple(COLUMNS["customers"])
INTERACTION_COLUMNS = tuple(COLUMNS["interactions"])

#: What each column holds once validated: text, timestamp (naive UTC), number (double),
#: integer (a whole number) or boolean.
TYPES = {
    "customers": {
        "customer_id": "text",
        "signup_at": "timestamp",
        "churned_at": "timestamp",
        "segment": "text",
        "monthly_value": "number",
    },
    "interactions": {
        "interaction_id": "text",
        "customer_id": "text",
        "at": "timestamp",
        "kind": "text",
        "channel": "text",
        "touchpoint": "text",
        "outcome": "text",
        "resolved": "boolean",
        "csat": "integer",
        "nps": "integer",
        "first_response_minutes": "number",
        "cost": "number",
    },
}

#: The key that names a row of each table (and a database row, which has no row number).
KEYS = {"customers": "customer_id", "interactions": "interaction_id"}

KINDS = ("experience", "service")
#: In this order: the simulator codes an outcome by its index.
OUTCOMES = ("good", "neutral", "bad")
#: A missing segment means this one.
DEFAULT_SEGMENT = "all"

#: Text read as a boolean (trimmed, lower-cased).
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")

#: The range of each numeric column, (low, high), inclusive; None = unbounded.
BOUNDS = {
    "monthly_value": (0, MAX_AMOUNT),
    "csat": (1, 5),
    "nps": (0, 10),
    "first_response_minutes": (0, MAX_RESPONSE_MINUTES),
    "cost": (0, MAX_AMOUNT),
}
#: Columns set on service rows only (empty on experience rows).
SERVICE_ONLY = ("resolved", "first_response_minutes")
#: Columns where a value without a time means the END of that day (the customer was a customer
#: that day, the cancellation call included); everywhere else it means the start of the day.
END_OF_DAY_COLUMNS = ("churned_at",)

#: A reject names its file and row (header = row 1), or for a database table its key; every
#: reject carries the key of its row where the row has one.
REJECT_COLUMNS = ["file", "row", "key", "column", "value", "reason"]


def table_of(column: str) -> str:
    """The table a contract column belongs to (``customer_id``, in both, is the customers')."""
    for table in TABLES:
        if column in COLUMNS[table]:
            return table
    raise KeyError(f"{column!r} is not a column of the contract")
