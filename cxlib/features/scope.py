"""Which customers a panel query covers: everyone, a sample, or a part of them.

:func:`cxlib.features.panel.aggregate` builds the panel of a large base in parts
(:func:`customer_parts`: ranges of ids) and sums their tables; a caller may also ask for a sample
(a list of ids, registered as a view by :func:`sample_view`). :func:`sample_tables` gives the CTEs
that keep those customers' rows of both tables, so that every step of the query (the bad
experiences, the experience rate, the touches) works on them alone, not on everyone.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import pandas as pd

from cxlib.features.sql import text_sql

#: The panel is aggregated in parts of at most this many customers (:func:`cxlib.features.panel.aggregate`).
PANEL_PART_CUSTOMERS = 250_000


class IdRange(NamedTuple):
    """A part of the customers: the ids from ``first`` to ``last`` (both in, in the engine's text order)."""

    first: str
    last: str


def customer_parts(data) -> list:
    """[None] (everyone at once) up to :data:`PANEL_PART_CUSTOMERS` customers; else :class:`IdRange` parts of about
    that many customers each (a range, so each step keeps its rows with a comparison, not a join with a list)."""
    n = int(data.query("SELECT count(*) AS n FROM customers")["n"].iloc[0])
    if n <= PANEL_PART_CUSTOMERS:
        return [None]
    ids = data.query("SELECT customer_id FROM customers ORDER BY customer_id")["customer_id"].astype(str).to_numpy()
    return [IdRange(part[0], part[-1]) for part in np.array_split(ids, -(-len(ids) // PANEL_PART_CUSTOMERS))]


@contextmanager
def sample_view(data, customers):
    """Register a list of customer ids as a temporary view in ``data``'s engine and yield its name; yield
    None (everyone) or an :class:`IdRange` as it is: what :func:`sample_tables` takes."""
    if customers is None or isinstance(customers, IdRange):
        yield customers
        return
    name = "cx_panel_sample"
    frame = pd.DataFrame({"customer_id": pd.Series(list(customers), dtype=object).astype(str)})
    data.register(name, frame)
    try:
        yield name
    finally:
        data.unregister(name)


def sample_tables(customers, *, numbered: bool = False) -> tuple[str, str, str]:
    """(CTEs, customers' table, interactions' table) of a panel: the loaded tables, or for a sample (a
    table or view of ``customer_id``, or an :class:`IdRange`) CTEs that keep its customers, so every
    step works on them alone.

    ``numbered`` (DuckDB only: its ``* REPLACE`` syntax): in both tables ``customer_id`` is replaced
    by the customer's number, 1, 2, … in the order of the ids (an INTEGER), so that every join and
    window of the query compares integers, not text; the id itself is then not in the tables. For
    the numpy step of :func:`cxlib.features.panel.aggregate`, whose output has no ids (at a million
    customers the text keys cost about a tenth of its SQL's time).
    """
    if not customers and not numbered:
        return "", "customers", "interactions"
    if not customers:
        keep = ""
    elif isinstance(customers, IdRange):
        keep = f"WHERE customer_id BETWEEN {text_sql(customers.first)} AND {text_sql(customers.last)}"
    else:
        keep = f"WHERE customer_id IN (SELECT customer_id FROM {customers})"
    if not numbered:
        ctes = (f"sample_customers AS (SELECT * FROM customers {keep}), "
                f"sample_interactions AS (SELECT * FROM interactions {keep}), ")
        return ctes, "sample_customers", "sample_interactions"
    ctes = f"""sample_numbers AS (
        SELECT CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS customer_number, * FROM customers {keep}
    ), sample_customers AS (
        SELECT * EXCLUDE (customer_number) REPLACE (customer_number AS customer_id) FROM sample_numbers
    ), sample_interactions AS (
        SELECT i.* REPLACE (n.customer_number AS customer_id)
        FROM interactions i JOIN sample_numbers n ON n.customer_id = i.customer_id {keep.replace("WHERE customer_id", "WHERE i.customer_id")}
    ), """
    return ctes, "sample_customers", "sample_interactions"
