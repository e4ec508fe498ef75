"""Small contract files the tests write: two customers and three interactions as CSV text, and
the writer of a data folder from them (the shared cases of the loading, hostile-input, fuzz and
command-line tests)."""

from __future__ import annotations

import textwrap

CUSTOMERS = """\
customer_id,signup_at,churned_at,segment,monthly_value
00042,2024-01-01T10:00:00Z,,consumer,30
00043,2024-01-02T00:00:00Z,2024-05-01T00:00:00Z,smb,120.5
"""
INTERACTIONS = """\
interaction_id,customer_id,at,kind,channel,touchpoint,outcome,resolved,csat,nps,first_response_minutes,cost
i1,00042,2024-01-03T09:00:00Z,experience,web,website,bad,,,,,
i2,00042,2024-01-03T08:00:00Z,service,phone,website,neutral,true,4,,3.5,6
i3,00043,2024-01-05T12:00:00Z,experience,app,app,good,,5,9,,
"""


def write(folder, customers=CUSTOMERS, interactions=INTERACTIONS):
    """A data folder holding customers.csv and interactions.csv, from CSV text (dedented)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(textwrap.dedent(customers))
    (folder / "interactions.csv").write_text(textwrap.dedent(interactions))
    return folder


def append_interaction(line: str) -> str:
    """The interactions text with one more row."""
    return INTERACTIONS + line + "\n"
