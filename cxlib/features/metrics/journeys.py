"""Journeys: the transitions between consecutive steps of each customer's journey, and the paths
most common before churn against those of the customers who stayed."""

from __future__ import annotations

import pandas as pd

from cxlib.features.metrics.groups import _query
from cxlib.features.metrics.intervals import _proportion
from cxlib.features.sql import signed_up_before_sql, timestamp_sql, utc_naive

# ---------------------------------------------------------------------------------------
# Journeys

START = "signup"
END_CHURNED = "churned"
END_ACTIVE = "still a customer"
SERVICE_STEP = "service contact"


def _journey_sql(data, *, include_service: bool, mark_bad: bool) -> str:
    """Customers' steps up to their end (churn, or ``as_of``), with whether the customer churned,
    a window ``journey`` in time order (ties broken by ``interaction_id``), and ``labels``: each
    step's name. The customers are those known at ``as_of``
    (:func:`cxlib.features.sql.signed_up_before_sql`, the panel's rule).

    A step is a small number, named only once the rows are counted: the window sorts millions of
    rows, and a number and a flag weigh far less there than the names (``service contact``,
    ``still a customer``) on every row. Touchpoint number ``c`` is step ``2c`` (``2c + 1`` marked
    bad); a service contact is step 0.
    """
    t = timestamp_sql(utc_naive(data.as_of))
    where = "" if include_service else "AND i.kind = 'experience'"
    bad = "2 * tp.code + 1" if mark_bad else "2 * tp.code"
    return f"""
    ends AS (
        SELECT customer_id,
               CASE WHEN churned_at <= {t} THEN churned_at ELSE {t} END AS end_at,
               coalesce(churned_at <= {t}, false) AS churned
        FROM customers WHERE {signed_up_before_sql(t)}),
    touchpoints AS (
        SELECT touchpoint, row_number() OVER (ORDER BY touchpoint) AS code
        FROM (SELECT DISTINCT touchpoint FROM interactions WHERE touchpoint IS NOT NULL) d),
    labels AS (
        SELECT 0 AS code, '{SERVICE_STEP}' AS label
        UNION ALL SELECT 2 * code, touchpoint FROM touchpoints
        UNION ALL SELECT 2 * code + 1, touchpoint || ' (bad)' FROM touchpoints),
    steps AS (
        SELECT i.customer_id, i."at", i.interaction_id, e.churned,
               CASE WHEN i.kind = 'service' THEN 0 WHEN i.outcome = 'bad' THEN {bad} ELSE 2 * tp.code END AS step
        FROM interactions i JOIN ends e ON e.customer_id = i.customer_id
        LEFT JOIN touchpoints tp ON tp.touchpoint = i.touchpoint
        WHERE i."at" <= e.end_at {where})"""


def _end_state(churned: str) -> str:
    return f"CASE WHEN {churned} THEN '{END_CHURNED}' ELSE '{END_ACTIVE}' END"


_JOURNEY_WINDOW = 'WINDOW journey AS (PARTITION BY customer_id ORDER BY "at", interaction_id)'


def journey_transitions(data, *, include_service: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Transitions between consecutive steps of each customer's journey, with ``signup`` and the end.

    Steps are the touchpoints of experiences in time order (ties broken by
    ``interaction_id``), service contacts as one step ``service contact`` (unless
    ``include_service`` is False), from ``signup`` to ``churned`` or ``still a customer``
    (at ``as_of``). One window pass in SQL (``lag`` and ``lead`` over each customer's rows)
    aggregated at once to a table of a few dozen rows: the step before each row (``signup``
    for the first), and the end state after the last.

    Columns: ``from_step``, ``to_step``, ``transitions``, ``from_total``, ``share`` (of the
    transitions leaving ``from_step``), ``ci_low``, ``ci_high`` (Wilson).
    """
    frame = _query(data,
        f"""WITH {_journey_sql(data, include_service=include_service, mark_bad=False)},
            w AS (
                SELECT lag(step) OVER journey AS prev, step, lead(step) OVER journey IS NULL AS is_last, churned
                FROM steps {_JOURNEY_WINDOW}),
            counted AS (SELECT prev, step, is_last, churned, count(*) AS n FROM w GROUP BY ALL),
            agg AS (
                SELECT lp.label AS prev, ls.label AS step, c.is_last, {_end_state('c.churned')} AS end_state, c.n
                FROM counted c LEFT JOIN labels lp ON lp.code = c.prev LEFT JOIN labels ls ON ls.code = c.step),
            without_steps AS (
                SELECT e.end_state, e.customers - coalesce(a.with_steps, 0) AS n
                FROM (SELECT {_end_state('churned')} AS end_state, count(*) AS customers FROM ends GROUP BY ALL) e
                LEFT JOIN (SELECT end_state, sum(n) AS with_steps FROM agg WHERE prev IS NULL GROUP BY ALL) a
                  ON a.end_state = e.end_state),
            allt AS (
                SELECT coalesce(prev, '{START}') AS from_step, step AS to_step, n FROM agg
                UNION ALL SELECT step, end_state, n FROM agg WHERE is_last
                UNION ALL SELECT '{START}', end_state, n FROM without_steps WHERE n > 0)
            SELECT from_step, to_step, CAST(sum(n) AS BIGINT) AS transitions FROM allt GROUP BY ALL"""
    )
    frame["transitions"] = frame["transitions"].astype("int64")
    frame["from_total"] = frame.groupby("from_step")["transitions"].transform("sum").astype("int64")
    frame = frame.sort_values(["from_step", "transitions", "to_step"], ascending=[True, False, True])
    return _proportion(frame.reset_index(drop=True), "transitions", "from_total", "share", alpha=alpha)


def transition_matrix(frame: pd.DataFrame, *, value: str = "share") -> pd.DataFrame:
    """The transitions of :func:`journey_transitions` as a matrix: ``from_step`` rows, ``to_step`` columns.

    Rows start with ``signup``, columns end with the end states; absent transitions are 0.
    """
    matrix = frame.pivot_table(index="from_step", columns="to_step", values=value, aggfunc="sum", fill_value=0)
    steps = sorted(set(matrix.index) | set(matrix.columns) - {START, END_CHURNED, END_ACTIVE})
    rows = [START] + [s for s in steps if s in matrix.index and s != START]
    columns = [s for s in steps if s in matrix.columns and s != START] + [
        s for s in (END_CHURNED, END_ACTIVE) if s in matrix.columns
    ]
    return matrix.reindex(index=rows, columns=columns, fill_value=0)


def churn_paths(
    data,
    *,
    steps: int = 3,
    top: int = 10,
    include_service: bool = True,
    mark_bad: bool = True,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The most common last ``steps`` steps before churn, against the last steps of retained customers.

    For a churned customer the path is the last ``steps`` steps before ``churned_at``; for a
    customer still active at ``as_of``, the last ``steps`` before ``as_of``. Steps as in
    :func:`journey_transitions`; with ``mark_bad`` a bad experience is labelled
    ``touchpoint (bad)``; a customer with fewer steps has a path starting at ``signup``.
    The ``top`` paths by number of churned customers are kept, each with its share among
    churned and among retained customers. One window pass in SQL: at each customer's last
    step, ``lag`` gives the steps before it.

    Long frame: ``path``, ``group`` (churned, retained), ``customers``, ``group_total``,
    ``share``, ``ci_low``, ``ci_high`` (Wilson), ``rank`` (1 = most common before churn).
    """
    k = int(steps)
    if k < 1:
        raise ValueError(f"steps must be >= 1, not {steps}")
    lags = "".join(f"lag(step, {j}) OVER journey AS l{j}, " for j in range(1, k))
    named = "".join(f"n{j}.label AS l{j}, " for j in range(1, k))
    joins = " ".join(f"LEFT JOIN labels n{j} ON n{j}.code = c.l{j}" for j in range(1, k))
    parts = ", ".join([f"CASE WHEN rn < {k} THEN '{START}' END"] + [f"l{j}" for j in range(k - 1, 0, -1)] + ["step"])
    frame = _query(data,
        f"""WITH {_journey_sql(data, include_service=include_service, mark_bad=mark_bad)},
            last AS (
                SELECT churned, {lags} step, least(row_number() OVER journey, {k}) AS rn
                FROM steps {_JOURNEY_WINDOW}
                QUALIFY lead(step) OVER journey IS NULL),
            counted AS (SELECT churned, {", ".join(f"l{j}" for j in range(1, k))}{", " if k > 1 else ""}step, rn,
                               count(*) AS customers FROM last GROUP BY ALL),
            decoded AS (
                SELECT {_end_state('c.churned')} AS end_state, {named} ns.label AS step, c.rn, c.customers
                FROM counted c {joins} LEFT JOIN labels ns ON ns.code = c.step),
            with_steps AS (SELECT end_state, concat_ws(' → ', {parts}) AS path, sum(customers) AS customers
                           FROM decoded GROUP BY ALL),
            totals AS (SELECT {_end_state('churned')} AS end_state, count(*) AS group_total FROM ends GROUP BY ALL),
            counted_paths AS (
                SELECT path, end_state, customers FROM with_steps
                UNION ALL
                SELECT '{START}', t.end_state, t.group_total - coalesce(sum(w.customers), 0)
                FROM totals t LEFT JOIN with_steps w ON w.end_state = t.end_state
                GROUP BY t.end_state, t.group_total),
            ranked AS (
                SELECT path, row_number() OVER (ORDER BY customers DESC, path) AS rank
                FROM counted_paths WHERE end_state = '{END_CHURNED}' AND customers > 0 QUALIFY rank <= {int(top)}),
            groups AS (SELECT g.end_state, coalesce(t.group_total, 0) AS group_total
                       FROM (VALUES ('{END_CHURNED}'), ('{END_ACTIVE}')) g(end_state)
                       LEFT JOIN totals t ON t.end_state = g.end_state)
            SELECT r.path, CASE WHEN g.end_state = '{END_CHURNED}' THEN 'churned' ELSE 'retained' END AS "group",
                   coalesce(c.customers, 0) AS customers, g.group_total, r.rank
            FROM ranked r CROSS JOIN groups g
            LEFT JOIN counted_paths c ON c.path = r.path AND c.end_state = g.end_state
            ORDER BY r.rank, "group" """
    )
    frame = frame[["path", "group", "customers", "group_total", "rank"]]
    for column in ("customers", "group_total", "rank"):
        frame[column] = frame[column].astype("int64")
    return _proportion(frame, "customers", "group_total", "share", alpha=alpha)
