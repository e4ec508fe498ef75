"""design.md's definitions, written once as SQL so every analysis counts the same way.

- **bad experience**: an ``experience`` row with outcome ``bad``.
- **resolved bad experience**: a bad experience with a ``service`` row of the same customer
  and touchpoint with ``resolved = true`` on the same calendar day or up to
  ``resolution_days`` days after (calendar days, not timestamps: the systems that log
  experiences and contacts keep different clocks, and a same-day contact is often stamped
  before the experience). Routine contacts (``how_to``) are never a resolution.
- ``resolved_on`` is the calendar day of the earliest such contact. Time-varying analyses
  count a bad experience of day ``e`` as *unresolved* on days ``e+1 .. resolved_on`` and as
  *resolved* from ``resolved_on + 1``; with no resolving contact it stays unresolved. It
  counts in the trailing window of days ``e+1 .. e+window_days`` (the day at risk excluded).
  This is what is known on each day, so no count looks into the future.

Functions return SQL text for a DuckDB connection holding the validated tables.
"""

from __future__ import annotations

from cxlib.config import RESOLUTION_DAYS

ROUTINE_TOUCHPOINT = "how_to"


def bad_experiences_sql(*, resolution_days: int = RESOLUTION_DAYS) -> str:
    """One row per bad experience: ids, customer, touchpoint, channel, at, day, resolved_on."""
    days = int(resolution_days)
    if days < 0:
        raise ValueError(f"resolution_days must be >= 0, not {resolution_days}")
    return f"""
    WITH bad AS (
        SELECT interaction_id, customer_id, touchpoint, channel, "at", CAST("at" AS DATE) AS day
        FROM interactions WHERE kind = 'experience' AND outcome = 'bad'
    ), fix AS (
        SELECT customer_id, touchpoint, CAST("at" AS DATE) AS day
        FROM interactions
        WHERE kind = 'service' AND resolved AND touchpoint <> '{ROUTINE_TOUCHPOINT}'
    )
    SELECT b.interaction_id, b.customer_id, b.touchpoint, b.channel, b."at", b.day,
           min(f.day) AS resolved_on
    FROM bad b LEFT JOIN fix f
      ON f.customer_id = b.customer_id AND f.touchpoint = b.touchpoint
     AND f.day >= b.day AND f.day <= b.day + {days}
    GROUP BY ALL
    """
