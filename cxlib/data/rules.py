"""The contract's rules as SQL: each row on its own, then across rows, then the split.

:class:`RowRules` writes, for columns of known source types, the typed value of each
contract column and every rule one row can break (a condition and a reason each); the
DuckDB loader stages each table with them (:func:`stage`) and the Spark engine transpiles
the same expressions (:func:`cxlib.data.spark.normalise_sql`): one definition. The rules
across rows (duplicate keys, unknown customers, interactions outside a customer's life) run
on the typed table (:func:`relational_problems`); :func:`split` moves every problem to
``rejects`` and the rejected rows out. The bounds and codes come from
:mod:`cxlib.data.contract`.
"""

from __future__ import annotations

import pandas as pd

from cxlib.data.clock import is_utc
from cxlib.data.contract import (
    BOUNDS,
    COLUMNS,
    DEFAULT_SEGMENT,
    END_OF_DAY_COLUMNS,
    FALSE_WORDS,
    KEYS,
    KINDS,
    OUTCOMES,
    SERVICE_ONLY,
    TRUE_WORDS,
    TYPES,
    table_of,
)
from cxlib.data.literals import quote_identifier, sql_list, timestamp_sql
from cxlib.exceptions import DataError

# ---------------------------------------------------------------------------------------
# The columns of a relation: the header checked, every contract column selected


def check_header(table: str, file, header: list[str]) -> list[str]:
    """Raise on duplicate or missing required columns; return the columns ignored."""
    seen = set()
    for name in header:
        if name in seen:
            raise DataError("duplicate column in the header", file=file, column=name, row=1)
        seen.add(name)
    for name, required in COLUMNS[table].items():
        if required and name not in seen:
            hint = ""
            if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
                hint = f"; the header is one column {header[0]!r}: the file must be comma-separated"
            raise DataError(f"missing required column{hint}", file=file, column=name)
    return [h for h in header if h not in COLUMNS[table]]


def contract_columns(table: str, present, *, as_text: bool) -> str:
    """Every contract column (as text for CSV, in its own type otherwise); absent ones as NULL."""
    def one(c):
        q = quote_identifier(c)
        if c not in present:
            return f"NULL::VARCHAR AS {q}"
        return f"CAST({q} AS VARCHAR) AS {q}" if as_text else q

    return ", ".join(one(c) for c in COLUMNS[table])


# ---------------------------------------------------------------------------------------
# The rules of the contract: a condition and a reason each


def problem(condition: str, column: str, reason: str, value: str | None = None) -> str:
    """A SQL struct (column, value, reason) where ``condition`` holds, else NULL."""
    value = value or f'r."{column}"'
    return (
        f"CASE WHEN {condition} THEN {{'column': '{column}', 'value': CAST({value} AS VARCHAR), "
        f"'reason': {reason}}} END"
    )


TIMESTAMP_TYPES = ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                "UBIGINT", "FLOAT", "DOUBLE", "REAL")


class RowRules:
    """SQL expressions of the contract's rules for columns of known source types.

    A text column (every column of a CSV) is trimmed, parsed with ``TRY_CAST`` and checked;
    a column a Parquet file or a DuckDB table already stores as a timestamp, a number or a
    boolean is used as it is, without a round trip through text.

    ``timezone``: the zone of naive timestamps and of dates (values with an offset carry
    their own); every value comes out as naive UTC. Other than UTC, the expressions read the
    session's time zone, which the loader sets to it while it parses (DuckDB only).
    ``now``: the moment of loading (naive UTC); a signup or an interaction after it is a
    rejected row. Both engines build their rules from this class: one definition.
    """

    def __init__(self, types: dict[str, str], *, timezone: str = "UTC", now=None):
        self.types = {c: t.upper() for c, t in types.items()}
        self.utc = is_utc(timezone)
        self.now = None if now is None else pd.Timestamp(now)

    def _kind(self, column: str) -> str:
        t = self.types.get(column, "VARCHAR")
        if "WITH TIME ZONE" in t or t.startswith("TIMESTAMPTZ"):
            return "timestamptz"
        if t.startswith(TIMESTAMP_TYPES):
            return "timestamp"
        if t == "DATE":
            return "date"
        if t.startswith("DECIMAL") or t in NUMBER_TYPES:
            return "number"
        if t == "BOOLEAN":
            return "boolean"
        return "text"

    def raw(self, column: str) -> str:
        return f"r.{quote_identifier(column)}"

    def text(self, column: str) -> str:
        """Trimmed text, empty → NULL."""
        if self._kind(column) == "text":
            return f"nullif(trim({self.raw(column)}), '')"
        return f"CAST({self.raw(column)} AS VARCHAR)"

    def code(self, column: str) -> str:
        return f"lower({self.text(column)})"

    def missing(self, column: str) -> str:
        return f"{self.text(column)} IS NULL" if self._kind(column) == "text" else f"{self.raw(column)} IS NULL"

    def _naive_utc(self, instant: str) -> str:
        """An instant (TIMESTAMPTZ) as naive UTC."""
        return f"CAST({instant} AS TIMESTAMP)" if self.utc else f"timezone('UTC', {instant})"

    def date_only(self, column: str) -> str:
        """The value has no time of day: a date-only text (no ``:``) or a DATE column."""
        kind = self._kind(column)
        if kind == "date":
            return f"{self.raw(column)} IS NOT NULL"
        if kind == "text":
            return f"({self.text(column)} IS NOT NULL AND strpos({self.text(column)}, ':') = 0)"
        return "false"

    def timestamp(self, column: str) -> str:
        kind = self._kind(column)
        end = column in END_OF_DAY_COLUMNS
        if kind == "timestamptz":  # via TIMESTAMPTZ (any precision)
            return self._naive_utc(f"CAST({self.raw(column)} AS TIMESTAMPTZ)")
        if kind == "timestamp":
            if self.utc:
                return f"CAST({self.raw(column)} AS TIMESTAMP)"
            return self._naive_utc(f"CAST(CAST({self.raw(column)} AS TIMESTAMP) AS TIMESTAMPTZ)")
        if kind == "date":
            start = f"CAST({self.raw(column)} AS TIMESTAMP)" if self.utc else f"CAST({self.raw(column)} AS TIMESTAMPTZ)"
        else:
            start = f"TRY_CAST({self.text(column)} AS TIMESTAMPTZ)"
            if self.utc:
                start = f"CAST({start} AS TIMESTAMP)"
        if end:  # the last microsecond of that day
            start = (
                f"CASE WHEN {self.date_only(column)} THEN {start} + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND "
                f"ELSE {start} END"
            )
        return start if self.utc else self._naive_utc(start)

    def bad_timestamp(self, column: str) -> str:
        if self._kind(column) in ("timestamp", "timestamptz", "date"):
            return "false"
        return f"({self.text(column)} IS NOT NULL AND TRY_CAST({self.text(column)} AS TIMESTAMPTZ) IS NULL)"

    def future_check(self, column: str) -> tuple[str, str, str]:
        """(condition, column, reason) for a value after the moment of loading."""
        if self.now is None:
            return "false", column, "''"
        return (
            f"{self.timestamp(column)} > {timestamp_sql(self.now)}",
            column,
            f"'in the future: after the moment of loading ({self.now.strftime('%Y-%m-%dT%H:%M:%SZ')})'",
        )

    def number(self, column: str) -> str:
        if self._kind(column) == "number":
            return f"CAST({self.raw(column)} AS DOUBLE)"
        return f"TRY_CAST({self.text(column)} AS DOUBLE)"

    def number_check(self, column: str) -> tuple[str, str, str]:
        """(condition, column, reason) for a present value that is not a finite number in the
        contract's range (:data:`~cxlib.data.contract.BOUNDS`), or not whole where it must be."""
        low, high = BOUNDS[column]
        integer = TYPES[table_of(column)][column] == "integer"
        n = self.number(column)
        parts = [f"{n} IS NULL", f"NOT isfinite({n})"]
        if low is not None:
            parts.append(f"{n} < {low}")
        if high is not None:
            parts.append(f"{n} > {high}")
        if integer:
            parts.append(f"{n} <> round({n})")
        what = "a whole number" if integer else "a number"
        if low is not None and high is not None:
            what += f" from {low:g} to {high:g}"
        elif low is not None:
            what += f" >= {low:g}"
        return f"(NOT ({self.missing(column)}) AND ({' OR '.join(parts)}))", column, f"'not {what}'"

    def boolean(self, column: str) -> str:
        if self._kind(column) == "boolean":
            return self.raw(column)
        true_words, false_words = sql_list(TRUE_WORDS), sql_list(FALSE_WORDS)
        return (
            f"CASE WHEN {self.code(column)} IN ({true_words}) THEN true "
            f"WHEN {self.code(column)} IN ({false_words}) THEN false END"
        )

    def bad_boolean(self, column: str) -> str:
        if self._kind(column) == "boolean":
            return "false"
        return f"{self.code(column)} NOT IN ({sql_list(TRUE_WORDS + FALSE_WORDS)})"

    def service_only_check(self, column: str) -> tuple[str, str, str]:
        """(condition, column, reason) for a service-only column set on an experience row."""
        assert column in SERVICE_ONLY, column
        return (
            f"NOT ({self.missing(column)}) AND {self.code('kind')} = 'experience'",
            column,
            f"'set on an experience row: {column} is for service rows'",
        )

    def row_checks(self, table: str) -> list[tuple[str, str, str]]:
        """(condition, column, reason) of every rule that one row can break on its own."""
        checks = [
            (self.missing(c), c, "'required value is missing'")
            for c, required in COLUMNS[table].items()
            if required and c != "churned_at"
        ]
        if table == "customers":
            return checks + [
                (self.bad_timestamp("signup_at"), "signup_at", "'unparsable timestamp'"),
                (self.bad_timestamp("churned_at"), "churned_at", "'unparsable timestamp'"),
                (
                    f"{self.timestamp('churned_at')} < {self.timestamp('signup_at')}",
                    "churned_at",
                    f"'churned before signup_at (' || {self.text('signup_at')} || ')'",
                ),
                self.future_check("signup_at"),
                self.number_check("monthly_value"),
            ]
        return checks + [
            (self.bad_timestamp("at"), "at", "'unparsable timestamp'"),
            self.future_check("at"),
            (f"{self.code('kind')} NOT IN ({sql_list(KINDS)})", "kind", f"'not one of {', '.join(KINDS)}'"),
            (f"{self.code('outcome')} NOT IN ({sql_list(OUTCOMES)})", "outcome", f"'not one of {', '.join(OUTCOMES)}'"),
            (self.bad_boolean("resolved"), "resolved", "'not a boolean (true/false)'"),
            self.service_only_check("resolved"),
            self.number_check("csat"),
            self.number_check("nps"),
            self.number_check("first_response_minutes"),
            self.service_only_check("first_response_minutes"),
            self.number_check("cost"),
        ]

    def typed_columns(self, table: str) -> str:
        if table == "customers":
            return f"""{self.text('customer_id')} AS customer_id, {self.timestamp('signup_at')} AS signup_at,
                       {self.timestamp('churned_at')} AS churned_at, coalesce({self.text('segment')}, '{DEFAULT_SEGMENT}') AS segment,
                       {self.number('monthly_value')} AS monthly_value"""
        return f"""{self.text('interaction_id')} AS interaction_id, {self.text('customer_id')} AS customer_id,
                   {self.timestamp('at')} AS "at", {self.code('kind')} AS kind, {self.code('channel')} AS channel,
                   {self.code('touchpoint')} AS touchpoint, {self.code('outcome')} AS outcome,
                   {self.boolean('resolved')} AS resolved,
                   TRY_CAST(round({self.number('csat')}) AS TINYINT) AS csat,
                   TRY_CAST(round({self.number('nps')}) AS TINYINT) AS nps,
                   {self.number('first_response_minutes')} AS first_response_minutes, {self.number('cost')} AS cost"""


def stage(con, table: str, source_sql: str, types: dict[str, str], params: dict | None = None, *,
           derived: bool = False, timezone: str = "UTC", now=None) -> None:
    """staged_<table>: _row, the typed columns, and the list of problems of a failing row.

    The conditions are evaluated once per row; the list of problems is built only for the
    rows that break a rule (CASE evaluates its branch on those rows alone). Rows derived by a
    sources file (``derived``) bring their own ``_problems`` (a value not in a value map, a key
    not in a lookup); a contract problem on the same column is then left out as redundant.
    """
    rules = RowRules(types, timezone=timezone, now=now)
    checks = rules.row_checks(table)
    # TRY_CAST of a bad value is NULL: every condition is wrapped so NULL counts as "no problem".
    any_bad = " OR ".join(f"coalesce({c}, false)" for c, _, _ in checks)
    problems = ", ".join(problem(f"coalesce({c}, false)", col, reason) for c, col, reason in checks)
    listed = f"list_filter([{problems}], lambda p: p IS NOT NULL)"
    if derived:
        any_bad = f"r._problems IS NOT NULL OR {any_bad}"
        listed = (f"list_concat(coalesce(r._problems, []), list_filter({listed}, lambda p: NOT "
                  f"list_contains(list_transform(coalesce(r._problems, []), lambda e: e.column), p.column)))")
    extra = f", {rules.date_only('churned_at')} AS _date_only" if table == "customers" else ""
    select = f"""SELECT r._row, {rules.typed_columns(table)}{extra},
                        CASE WHEN {any_bad} THEN {listed} END AS problems
                 FROM ({source_sql}) r"""
    coded = [c for c in CODED if c in COLUMNS[table]]
    if coded:  # a value outside the codes is a rejected row: its typed value does not matter
        enums = ", ".join(f"TRY_CAST({c} AS {CODED_TYPES[c]}) AS {c}" for c in coded)
        select = f"SELECT * REPLACE ({enums}) FROM ({select})"
    con.execute(f"CREATE TABLE staged_{table} AS {select}", params or {})


#: Columns whose values the contract fixes: stored as a DuckDB ENUM (one byte a row instead of
#: the text; on a million customers the difference is hundreds of MB), read back as text through
#: the ``interactions`` view (:func:`text_columns`).
CODED = {"kind": KINDS, "outcome": OUTCOMES}
CODED_TYPES = {c: f"ENUM({sql_list(codes)})" for c, codes in CODED.items()}


def text_columns(table: str) -> str:
    """The contract's columns of ``staged_<table>`` as the views show them: coded columns as text."""
    return ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' if c in CODED else f'"{c}"' for c in COLUMNS[table])


#: Columns of a staged table that serve only the load (row numbers, problems): dropped after it.
LOAD_ONLY = ("_row", "problems", "_date_only")


# ---------------------------------------------------------------------------------------
# Rules across rows, on the typed table; then the split


def relational_problems(con, table: str, label: str, keyed: bool = False) -> None:
    """Duplicates, and for interactions their customer: only the offending rows come back.

    ``keyed``: the rows come from a database table, where a row is known by its key, not
    by a row number, so the reasons name no row.
    """
    key = KEYS[table]
    first = f"'duplicate {key} (another row with this {key} is kept)'" if keyed else (
        f"'duplicate {key} (first at row ' || d.first_row || ')'"
    )
    rejected_at = "'its customer row was rejected in the customers table'" if keyed else (
        "'its customer row was rejected (row ' || rc.first_row || ')'"
    )
    # Keys that share a 64-bit hash come out of one sort of the hashes (equal neighbours):
    # far cheaper than grouping millions of distinct text keys. Only the rows with such a hash
    # (the duplicates, and the rare keys whose hashes collide) are then grouped by the key itself.
    con.execute(
        f"""CREATE TEMP TABLE dup_{table} AS
            WITH hashes AS (SELECT hash({key}) AS h FROM staged_{table} WHERE {key} IS NOT NULL),
                 shared AS (SELECT DISTINCT h FROM (SELECT h, lead(h) OVER (ORDER BY h) AS next_h FROM hashes)
                            WHERE h = next_h)
            SELECT {key} AS id, min(_row) AS first_row FROM staged_{table}
            WHERE {key} IS NOT NULL AND hash({key}) IN (SELECT h FROM shared)
            GROUP BY 1 HAVING count(*) > 1"""
    )
    con.execute(
        f"""INSERT INTO rejects SELECT $file, s._row, s.{key}, '{key}', s.{key}, {first}
            FROM staged_{table} s JOIN dup_{table} d ON s.{key} = d.id WHERE s._row > d.first_row""",
        {"file": label},
    )
    if table == "customers":
        return
    stamp = "strftime({}, '%Y-%m-%dT%H:%M:%SZ')"
    # The accepted customers (their rejected rows are already out of staged_customers), with
    # churned_at as given: an interaction after a churned_at is after it, whatever as_of is.
    con.execute(
        f"""INSERT INTO rejects
            SELECT $file, _row, interaction_id, p.column, p.value, p.reason FROM (
                SELECT s._row, s.interaction_id, unnest(list_filter([
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': 'unknown customer_id: not in the customers file'}} END,
                    CASE WHEN c.customer_id IS NULL AND rc.first_row IS NOT NULL THEN
                        {{'column': 'customer_id', 'value': s.customer_id,
                          'reason': {rejected_at}}} END,
                    CASE WHEN s."at" < c.signup_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'before the customer''s signup_at (' || {stamp.format('c.signup_at')} || ')'}} END,
                    CASE WHEN s."at" > c.churned_at THEN
                        {{'column': 'at', 'value': {stamp.format('s."at"')},
                          'reason': 'after the customer churned (' || {stamp.format('c.churned_at')} || ')'}} END
                ], lambda p: p IS NOT NULL)) AS p
                FROM staged_interactions s
                LEFT JOIN staged_customers c ON s.customer_id = c.customer_id
                LEFT JOIN rejected_customer_ids rc ON s.customer_id = rc.customer_id
                WHERE s.customer_id IS NOT NULL
                  AND (c.customer_id IS NULL OR s."at" < c.signup_at OR s."at" > c.churned_at))""",
        {"file": label},
    )


def split(con, table: str, label: str) -> None:
    """Row problems to ``rejects``; rejected rows out of the staged table."""
    con.execute(
        f"""INSERT INTO rejects SELECT $file, _row, {KEYS[table]}, p.column, p.value, p.reason
            FROM (SELECT _row, {KEYS[table]}, unnest(problems) AS p FROM staged_{table} WHERE problems IS NOT NULL)""",
        {"file": label},
    )
    if table == "customers":
        # Interactions of a customer whose every row was rejected are set aside with that reason.
        con.execute(
            """CREATE TEMP TABLE rejected_customer_ids AS
                SELECT customer_id, min(_row) AS first_row FROM staged_customers
                WHERE customer_id IS NOT NULL AND _row IN (SELECT row FROM rejects WHERE file = $file)
                  AND customer_id NOT IN (
                      SELECT customer_id FROM staged_customers WHERE customer_id IS NOT NULL
                        AND _row NOT IN (SELECT row FROM rejects WHERE file = $file))
                GROUP BY 1""",
            {"file": label},
        )
    con.execute(f"DELETE FROM staged_{table} WHERE _row IN (SELECT row FROM rejects WHERE file = $file)", {"file": label})


#: The default as_of: the latest value in the accepted data that is not after the moment of
#: loading (``$now``). Signups and interactions after it are rejected rows; a churned_at
#: after it (a scheduled cancellation, a far-future "active" value) does not count. One text
#: for both engines (``{customers}``, ``{interactions}``: the tables to read).
AS_OF_SQL = (
    "SELECT greatest((SELECT max(signup_at) FROM {customers}),"
    " (SELECT max(churned_at) FROM {customers} WHERE churned_at <= $now),"
    ' (SELECT max("at") FROM {interactions})) AS as_of'
)
#: The contract's view of customers at ``as_of``: a churned_at after it means still a customer.
CUSTOMERS_AT_SQL = (
    "SELECT customer_id, signup_at, CASE WHEN churned_at <= {as_of} THEN churned_at END AS churned_at,"
    " segment, monthly_value FROM {source}"
)
