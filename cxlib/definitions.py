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

Functions return DuckDB SQL text over the validated tables, in forms that :mod:`cxlib.spark`
transpiles to Spark SQL faithfully.
"""

from __future__ import annotations

from cxlib.config import RESOLUTION_DAYS

ROUTINE_TOUCHPOINT = "how_to"


def bad_experiences_sql(*, resolution_days: int = RESOLUTION_DAYS, source: str = "interactions") -> str:
    """One row per bad experience: ids, customer, touchpoint, channel, at, day, resolved_on.

    ``source`` names the table or CTE of interactions to read (e.g. one cut at an analysis
    date); a name, never text from data.
    """
    days = int(resolution_days)
    if days < 0:
        raise ValueError(f"resolution_days must be >= 0, not {resolution_days}")
    if not source.isidentifier():
        raise ValueError(f"source must be a table name, not {source!r}")
    return f"""
    WITH bad AS (
        SELECT interaction_id, customer_id, touchpoint, channel, "at", CAST("at" AS DATE) AS day
        FROM {source} WHERE kind = 'experience' AND outcome = 'bad'
    ), fix AS (
        SELECT customer_id, touchpoint, CAST("at" AS DATE) AS day
        FROM {source}
        WHERE kind = 'service' AND resolved AND touchpoint <> '{ROUTINE_TOUCHPOINT}'
    )
    SELECT b.interaction_id, b.customer_id, b.touchpoint, b.channel, b."at", b.day,
           min(f.day) AS resolved_on
    FROM bad b LEFT JOIN fix f
      ON f.customer_id = b.customer_id AND f.touchpoint = b.touchpoint
     AND f.day >= b.day AND f.day <= b.day + {days}
    GROUP BY ALL
    """
