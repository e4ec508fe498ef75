"""A checked sources file as DuckDB SQL: the raw relations, the derived rows, their origin.

How it works:

1. **Raw relations** (:meth:`Builder.raw_relation`): each file of a source (its globs expanded
   relative to the sources file, sorted) is scanned on its own, so every record keeps its file
   and its row: CSV is read as text (nothing guessed; header = row 1, first record = row 2),
   JSON lines and JSON arrays with DuckDB's reader (row = record number, the line of a JSON
   lines file), Parquet with its own types (first record = row 2, as the contract's Parquet).
   The scans are unioned with ``__fidx`` (the file) and ``__rec`` (the row). ``types:`` casts
   raw columns with ``TRY_CAST``; a value that does not cast is a problem of its row.
2. **Rules** are DuckDB SQL expressions. Each is parsed alone (one expression, not a
   statement) and bound against the raw relation before anything is read, so a rule that
   does not parse or names a column the file lacks is a :class:`DataError` naming the source
   and the rule. Values from the file (the ``then:`` of a rule, a value map, a constant, a
   file path) never enter SQL text: each is bound once as a parameter to a DuckDB variable
   (``SET VARIABLE cx_v3 = ?``) and read with ``getvariable``.
3. **Derived rows** of every source of a table are unioned into one relation with ``_row`` =
   ``__fidx * 2**36 + __rec`` (unique across files, decodable), ``_problems`` (a value not in
   a value map, a key not in a lookup, a raw value that does not cast) and the contract's
   columns. :mod:`cxlib.data.load` stages that relation with the contract's own rules and rejects;
   :meth:`Builder.relabel` then turns each reject's ``_row`` back into the raw file and row,
   and a contract column into the raw column it was renamed from.
"""

from __future__ import annotations

import csv
import glob
import gzip
import json
from pathlib import Path

import duckdb

from cxlib.data.literals import quote_identifier
from cxlib.data.postgres import is_postgres
from cxlib.data.sources.spec import Column, Lookup, Raw, Source, SourcesFile  # noqa: F401 (Column: types)
from cxlib.exceptions import DataError

ROW_BITS = 36
ROW_MASK = (1 << ROW_BITS) - 1
#: The type of a row's problems, as :func:`cxlib.data.rules.stage` builds them.
PROBLEM_TYPE = 'STRUCT("column" VARCHAR, "value" VARCHAR, reason VARCHAR)[]'

_FORMAT_BY_SUFFIX = {
    ".csv": "csv", ".csv.gz": "csv", ".tsv": "csv",
    ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl", ".ndjson.gz": "jsonl",
    ".json": "json", ".json.gz": "json",
    ".parquet": "parquet",
}


def _format_of(raw: Raw, file: Path) -> str:
    if raw.format:
        return raw.format
    name = file.name.lower()
    for suffix in sorted(_FORMAT_BY_SUFFIX, key=len, reverse=True):
        if name.endswith(suffix):
            return _FORMAT_BY_SUFFIX[suffix]
    raise DataError(f"{raw.kind} {raw.name!r}: cannot tell the format from the file name; set format "
                    "(csv, jsonl, json, parquet)", file=file)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _csv_header(file: Path, delim: str) -> list[str]:
    opener = gzip.open if file.name.lower().endswith(".gz") else open
    try:
        with opener(file, "rt", encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delim), None)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc.reason}", file=file) from exc
    except OSError as exc:
        raise DataError(f"unreadable file: {exc}", file=file) from exc
    if not header or not any(h.strip() for h in header):
        raise DataError("empty file: no header row", file=file, row=1)
    seen = set()
    for name in header:
        if name.strip() in seen:
            raise DataError("duplicate column in the header", file=file, row=1, column=name.strip())
        seen.add(name.strip())
    return header


class Builder:
    """Turns a :class:`SourcesFile` into SQL on one DuckDB connection (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: SourcesFile):
        self.con = con
        self.spec = spec
        self.base = spec.path.parent
        self.files: list[tuple[str, str]] = []  # index -> (file as shown, source name)
        self._vars = 0
        self._lookup_tables: dict[str, str] = {}
        self._prepared: dict[str, tuple[str, dict[str, str]]] = {}

    # -- values from the file: bound as parameters, never spliced -------------------------

    def var(self, value) -> str:
        """SQL reading ``value`` (text, or NULL), bound once as a parameter to a DuckDB variable."""
        self._vars += 1
        name = f"cx_v{self._vars}"
        self.con.execute(f"SET VARIABLE {name} = CAST(? AS VARCHAR)", [None if value is None else _text(value)])
        return f"getvariable('{name}')"

    def map_var(self, values: dict) -> str:
        self._vars += 1
        name = f"cx_v{self._vars}"
        keys = [k for k in values if k is not None]
        self.con.execute(
            f"SET VARIABLE {name} = MAP(CAST(? AS VARCHAR[]), CAST(? AS VARCHAR[]))",
            [keys, [None if values[k] is None else _text(values[k]) for k in keys]],
        )
        return f"getvariable('{name}')"

    # -- raw relations ---------------------------------------------------------------------

    def _files(self, raw: Raw) -> list[Path]:
        found: list[Path] = []
        for pattern in raw.files:
            p = Path(pattern).expanduser()
            full = p if p.is_absolute() else self.base / p
            matches = sorted(Path(m) for m in glob.glob(str(full), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise DataError(f"{raw.kind} {raw.name!r}: no file matches {pattern!r}", file=full)
            found.extend(m for m in matches if m not in found)
        return found

    def _scan(self, raw: Raw, file: Path, index: int) -> str:
        fmt = _format_of(raw, file)
        path = self.var(str(file))
        if fmt == "csv":
            tsv = file.name.lower().endswith(".tsv")
            _csv_header(file, "\t" if tsv else ",")
            delim = "\\t" if tsv else ","
            scan = (f"read_csv({path}, header = true, all_varchar = true, delim = '{delim}', "
                    "quote = '\"', escape = '\"', null_padding = false, strict_mode = true)")
            row = "row_number() OVER () + 1"
        elif fmt in ("jsonl", "json"):
            kind = "newline_delimited" if fmt == "jsonl" else "auto"
            scan = f"read_json({path}, format = '{kind}', records = true)"
            try:
                detected = self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
            except duckdb.Error as exc:
                raise DataError(f"{raw.kind} {raw.name!r}: unreadable JSON: {_first_line(exc)}", file=file) from exc
            # Dates and timestamps stay text, parsed by the contract's rules row by row: a value
            # past the reader's sample that does not parse is then a reject, not a failed load.
            columns = {name: "VARCHAR" if dtype.startswith(("TIMESTAMP", "DATE", "TIME")) else dtype
                       for name, dtype, *_ in detected}
            self._vars += 1
            self.con.execute(f"SET VARIABLE cx_v{self._vars} = ?", [columns])
            scan = f"read_json({path}, format = '{kind}', records = true, columns = getvariable('cx_v{self._vars}'))"
            row = "row_number() OVER ()"
        else:
            scan, row = f"read_parquet({path}, file_row_number = true)", "file_row_number + 2"
            return f"SELECT {index} AS __fidx, {row} AS __rec, * EXCLUDE (file_row_number) FROM {scan}"
        return f"SELECT {index} AS __fidx, {row} AS __rec, * FROM {scan}"

    def _query(self, raw: Raw) -> str:
        """A query on a PostgreSQL connection, read as Arrow (:mod:`cxlib.data.postgres`) into a temp table.

        The result is streamed once into DuckDB (a rule is bound against it, a lookup may read
        it again, so it is a table, not a one-pass stream); ``__rec`` is the row's position in
        the result, which an ``ORDER BY`` in the query makes stable. Rejects name the query
        (``query 'tickets' on postgresql://user@host/db``, never the password) and that position.
        """
        from cxlib.data.postgres import Tables

        location = raw.connection if is_postgres(raw.connection) else self.spec.connections[raw.connection]
        tables = Tables(location)
        index = len(self.files)
        self.files.append((f"query {raw.name!r} on {tables.location.shown}", raw.name))
        name = f"cx_query_{index}"
        try:
            reader = tables.query(raw.query, f"{raw.kind} {raw.name!r}")
            self.con.register(f"{name}_stream", reader)
            try:
                self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT row_number() OVER () AS __rec, * FROM {name}_stream")
            except duckdb.Error as exc:
                raise DataError(f"{raw.kind} {raw.name!r}: the query's rows cannot be read: {_first_line(exc)}",
                                file=tables.location.shown) from None
            finally:
                self.con.unregister(f"{name}_stream")
        finally:
            tables.close()
        return f"SELECT {index} AS __fidx, * FROM {name}"

    def raw_relation(self, raw: Raw) -> str:
        """SQL of a source's (or a lookup's) raw rows with ``__fidx``, ``__rec`` and its columns.

        The one place a raw relation is made: a source of another kind (a query on a
        connection) adds its branch here and returns a relation of the same shape, with
        ``__rec`` its row's key.
        """
        if raw.query is not None:
            sql = self._query(raw)
        else:
            scans = []
            for file in self._files(raw):
                index = len(self.files)
                self.files.append((str(file), raw.name))
                scans.append(self._scan(raw, file, index))
            sql = " UNION ALL BY NAME ".join(f"({s})" for s in scans)
        try:
            described = self.con.execute(f"DESCRIBE SELECT * FROM ({sql})").fetchall()
        except duckdb.Error as exc:
            raise DataError(f"{raw.kind} {raw.name!r}: unreadable file: {_first_line(exc)}",
                            file=self.files[-1][0]) from exc
        names = {r[0] for r in described}
        if not raw.types and not raw.values:
            return sql
        replace, checks = [], []
        for column in list(raw.types) + [c for c in raw.values if c not in raw.types]:
            if column not in names:
                what = "types" if column in raw.types else "values"
                raise DataError(f"{raw.kind} {raw.name!r}: {what} names {column!r}, a column the file lacks",
                                file=self.files[-1][0], column=column)
        for column, sql_type in raw.types.items():
            c = quote_identifier(column)
            replace.append(f"TRY_CAST({c} AS {sql_type}) AS {c}")
            checks.append(
                f"CASE WHEN {c} IS NOT NULL AND trim(CAST({c} AS VARCHAR)) <> '' "
                f"AND TRY_CAST({c} AS {sql_type}) IS NULL THEN {{'column': {self.var(column)}, "
                f"'value': CAST({c} AS VARCHAR), 'reason': {self.var(f'not a {sql_type.lower()}')}}} END"
            )
        sql = f"SELECT * REPLACE ({', '.join(replace)}), [{', '.join(checks)}] AS __cast_problems FROM ({sql})" \
            if replace else f"SELECT *, [] AS __cast_problems FROM ({sql})"
        if not raw.values:
            return sql
        replace, checks = [], []
        for column, values in raw.values.items():
            c = quote_identifier(column)
            value, problem = self._mapped(c, values, self.var(column), column)
            replace.append(f"{value} AS {c}")
            checks.append(problem)
        return (f"SELECT * REPLACE ({', '.join(replace)}, list_concat(__cast_problems, [{', '.join(checks)}]) "
                f"AS __cast_problems) FROM ({sql})")

    def _mapped(self, expr: str, values: dict, column_sql: str, shown: str) -> tuple[str, str]:
        """(the mapped value of ``expr``, the problem struct when its value is not in the map)."""
        mapping = self.map_var(values)
        key = f"trim(CAST(({expr}) AS VARCHAR))"
        listed = ", ".join(str(k) for k in values if k is not None)
        value = f"CASE WHEN ({expr}) IS NULL THEN {self.var(values.get(None))} ELSE {mapping}[{key}] END"
        problem = (f"CASE WHEN ({expr}) IS NOT NULL AND NOT map_contains({mapping}, {key}) THEN "
                   f"{{'column': {column_sql}, 'value': {key}, "
                   f"'reason': {self.var(f'{shown}: not a value the sources file maps ({listed})')}}} END")
        return value, problem

    # -- rules -------------------------------------------------------------------------------

    def _check_expression(self, where: str, text: str) -> None:
        """One SQL expression, parsed alone: not a statement, not a list, nothing after it."""
        parsed = json.loads(self.con.execute("SELECT json_serialize_sql(?)", ["SELECT " + text]).fetchone()[0])
        if parsed.get("error") and "Only SELECT" in parsed.get("error_message", ""):
            raise DataError(f"{where}: {text!r} is not one SQL expression", file=self.spec.path)
        if parsed.get("error"):
            raise DataError(f"{where}: {text!r} does not parse: {parsed.get('error_message', '').strip()}",
                            file=self.spec.path)
        statements = parsed.get("statements", [])
        node = statements[0].get("node", {}) if len(statements) == 1 else {}
        if (len(statements) != 1 or node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1
                or node.get("from_table", {}).get("type") != "EMPTY" or node.get("where_clause")
                or node.get("group_expressions") or node.get("modifiers")):
            raise DataError(f"{where}: {text!r} is not one SQL expression", file=self.spec.path)

    def _describe(self, expressions: list[str], relation: str, joins: str = "") -> None:
        self.con.execute(f"DESCRIBE SELECT {', '.join(f'({e})' for e in expressions)} FROM ({relation}) r {joins}")

    def _bind(self, where: str, text: str, relation: str, joins: str = "") -> None:
        try:
            self._describe([text], relation, joins)
        except duckdb.Error as exc:
            reason = _first_line(exc).replace("Binder Error: ", "")
            lacks = "not found" in reason or "Could not find" in reason
            what = "names a column the file lacks" if lacks else "does not apply to the file's columns"
            raise DataError(f"{where}: {text!r} {what}: {reason}", file=self.spec.path) from exc

    def _bind_all(self, checks: list[tuple[str, str]], relation: str, joins: str = "") -> None:
        """Bind every expression in one query; on failure, one by one to name the culprit."""
        for where, text in checks:
            self._check_expression(where, text)
        try:
            self._describe([t for _, t in checks], relation, joins)
        except duckdb.Error:
            for where, text in checks:
                self._bind(where, text, relation, joins)
            raise

    def lookup_table(self, name: str) -> str:
        """A table ``__key → __value`` of the lookup, made once; a key with two values is an error."""
        if name in self._lookup_tables:
            return self._lookup_tables[name]
        lookup: Lookup = self.spec.lookups[name]
        relation = self.raw_relation(lookup.raw)
        where = f"lookup {name!r}"
        checks = [(f"{where}, key", lookup.key), (f"{where}, value", lookup.value)]
        if lookup.raw.where:
            checks.append((f"{where}, where", lookup.raw.where))
        self._bind_all(checks, relation)
        table = f"cx_lookup_{len(self._lookup_tables) + 1}"
        filt = f"WHERE ({lookup.raw.where})" if lookup.raw.where else ""
        self.con.execute(
            f"""CREATE TEMP TABLE {table} AS
                SELECT trim(CAST(({lookup.key}) AS VARCHAR)) AS __key, any_value(({lookup.value})) AS __value,
                       count(DISTINCT ({lookup.value})) AS __values, min(__fidx) AS __fidx, min(__rec) AS __rec
                FROM ({relation}) r {filt} GROUP BY 1 HAVING __key IS NOT NULL"""
        )
        clash = self.con.execute(f"SELECT __key, __fidx, __rec FROM {table} WHERE __values > 1 LIMIT 1").fetchone()
        if clash:
            raise DataError(f"{where}: key {clash[0]!r} has more than one value", file=self.files[clash[1]][0],
                            row=clash[2])
        self._lookup_tables[name] = table
        return table

    def _column_sql(self, source: Source, column: Column, alias: str | None) -> tuple[str, str | None]:
        """(SQL of the column's value, SQL of its problem struct or None)."""
        name = column.name
        if column.has_value:
            return self.var(column.value), None
        if column.rules:
            parts = " ".join(f"WHEN ({cond}) THEN {self.var(value)}" for cond, value in column.rules)
            return f"CASE {parts} ELSE {self.var(column.default)} END", None
        if column.lookup is not None:
            value = f"{alias}.__value"
            if column.missing == "null":
                return value, None
            shown = ", ".join(Path(f).name for f in {f for f, s in self.files if s == column.lookup})
            problem = (f"CASE WHEN ({column.expr}) IS NOT NULL AND {alias}.__key IS NULL THEN "
                       f"{{'column': '{name}', 'value': CAST(({column.expr}) AS VARCHAR), "
                       f"'reason': {self.var(f'{column.expr} not found in lookup {column.lookup} ({shown})')}}} END")
            return value, problem
        if column.values is not None:
            return self._mapped(column.expr, column.values, f"'{name}'", column.expr)
        return f"({column.expr})", None

    def source_select(self, source: Source, columns: dict[str, bool]) -> tuple[str, dict[str, str]]:
        """SQL of one source's derived rows (``_row``, ``_problems``, every contract column) and their types."""
        relation = self.raw_relation(source.raw)
        joins, aliases = [], {}
        for column in source.columns.values():
            if column.lookup is not None:
                aliases[column.name] = f"l_{column.name}"
        checks = []
        for column in source.columns.values():
            where = f"source {source.name!r}, rule {column.name!r}"
            if column.expr is not None:
                checks.append((where, column.expr))
            for i, (cond, _) in enumerate(column.rules, start=1):
                checks.append((f"{where} (when #{i})", cond))
        if source.raw.where:
            checks.append((f"source {source.name!r}, where", source.raw.where))
        self._bind_all(checks, relation)
        for column in source.columns.values():
            if column.lookup is not None:
                table = self.lookup_table(column.lookup)
                joins.append(f"LEFT JOIN {table} {aliases[column.name]} ON {aliases[column.name]}.__key = "
                             f"trim(CAST(({column.expr}) AS VARCHAR))")
        values, problems = [], []
        for name in columns:
            if name in source.columns:
                sql, problem = self._column_sql(source, source.columns[name], aliases.get(name))
                if problem:
                    problems.append(problem)
                values.append(f'{sql} AS "{name}"')
            else:
                values.append(f'NULL AS "{name}"')
        cast_problems = "r.__cast_problems" if source.raw.types or source.raw.values else "[]"
        listed = (f"CAST(list_filter(list_concat([{', '.join(problems)}], {cast_problems}), lambda p: p IS NOT NULL)"
                  f" AS {PROBLEM_TYPE})")
        where = ""
        if source.raw.where:  # a row the file cannot map is rejected, not filtered out unseen
            kept = f"coalesce(({source.raw.where}), false)"
            if source.raw.types or source.raw.values:
                kept += " OR len(list_filter(r.__cast_problems, lambda p: p IS NOT NULL)) > 0"
            where = f"WHERE {kept}"
        row = f"(CAST(r.__fidx AS BIGINT) << {ROW_BITS}) + CAST(r.__rec AS BIGINT)"
        sql = (f"SELECT {row} AS _row, nullif({listed}, []) AS _problems, "
               f"{', '.join(values)} FROM ({relation}) r {' '.join(joins)} {where}")
        try:
            types = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {sql}").fetchall()}
        except duckdb.Error as exc:
            raise DataError(f"source {source.name!r}: the rules do not fit together: {_first_line(exc)}",
                            file=self.spec.path) from exc
        return sql, types

    def relation(self, table: str, columns: dict[str, bool]) -> tuple[str, dict[str, str]]:
        """SQL of the derived ``table`` (every source feeding it) and the types of its contract columns."""
        parts = [self.source_select(s, columns) for s in self.spec.for_table(table)]
        types = {}
        for name in columns:
            seen = {t[name] for _, t in parts if t[name] != '"NULL"'}
            types[name] = seen.pop() if len(seen) == 1 else "VARCHAR"
        selects = []
        for sql, own in parts:
            cols = ", ".join(
                f'CAST("{c}" AS {types[c]}) AS "{c}"' if own[c] != types[c] else f'"{c}"' for c in columns
            )
            selects.append(f"SELECT _row, _problems, {cols} FROM ({sql})")
        return " UNION ALL ".join(selects), types

    # -- after the load ------------------------------------------------------------------------

    def relabel(self, labels: dict[str, str]) -> None:
        """Rejects of the derived tables: the raw file and row instead of the derived ``_row``."""
        self.con.execute("CREATE TEMP TABLE cx_source_files (idx BIGINT, file VARCHAR, source VARCHAR)")
        self.con.executemany("INSERT INTO cx_source_files VALUES (?, ?, ?)",
                             [[i, f, s] for i, (f, s) in enumerate(self.files)])
        self.con.execute("CREATE TEMP TABLE cx_source_columns (source VARCHAR, contract VARCHAR, raw VARCHAR)")
        renames = [[s.name, c.name, c.raw_column]
                   for s in self.spec.sources for c in s.columns.values() if c.raw_column]
        if renames:
            self.con.executemany("INSERT INTO cx_source_columns VALUES (?, ?, ?)", renames)
        self.con.execute("CREATE TEMP TABLE cx_labels (label VARCHAR)")
        self.con.executemany("INSERT INTO cx_labels VALUES (?)", [[v] for v in labels.values()])
        mask = ROW_MASK
        pattern = r"row (\d+)\)$"
        self.con.execute(
            f"""CREATE OR REPLACE TABLE rejects AS
                WITH r AS (
                    SELECT r.*, r.file IN (SELECT label FROM cx_labels) AS derived,
                           TRY_CAST(regexp_extract(r.reason, '{pattern}', 1) AS BIGINT) AS ref
                    FROM rejects r)
                SELECT CASE WHEN derived THEN f.file ELSE r.file END AS file,
                       CASE WHEN derived THEN r.row & {mask} ELSE r.row END AS row,
                       r.key,
                       coalesce(CASE WHEN derived THEN c.raw END, r."column") AS "column",
                       r.value,
                       CASE WHEN derived AND g.file IS NOT NULL THEN
                           regexp_replace(r.reason, '{pattern}', 'row ' || (r.ref & {mask}) || ' of ' || g.file || ')')
                           ELSE r.reason END AS reason
                FROM r
                LEFT JOIN cx_source_files f ON derived AND f.idx = r.row >> {ROW_BITS}
                LEFT JOIN cx_source_columns c ON derived AND c.source = f.source AND c.contract = r."column"
                LEFT JOIN cx_source_files g ON derived AND g.idx = r.ref >> {ROW_BITS}"""
        )


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
