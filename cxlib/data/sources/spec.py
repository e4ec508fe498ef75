"""Reading a sources file: safe YAML, the schema, and the structural checks that need no data.

A sources file is declarative (as dbt's ``sources.yml`` or Airbyte's stream catalog): it names
each raw export, how to read it and how its fields become the contract's columns. Everything
here is checked before a byte of data is read; what needs the files (does a rule parse, does
it name a column the file has) is checked by :mod:`cxlib.data.sources.build`, which also turns the
checked file into SQL.

The YAML is read with a safe loader (no tags that build Python objects), a bounded number of
aliases (an alias bomb stops at :data:`MAX_ALIASES`), a bounded size, and duplicate keys are
an error instead of the last one silently winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cxlib.data.contract import TABLES
from cxlib.data.postgres import is_postgres, redact
from cxlib.data.yamlfile import MAX_BYTES  # one bound for every YAML file a user gives
from cxlib.exceptions import DataError

#: Suffixes that make a data path a sources file.
SUFFIXES = (".yaml", ".yml")
VERSION = 1
MAX_ALIASES = 100
FORMATS = ("csv", "jsonl", "json", "parquet")
TOP_KEYS = ("version", "description", "lookups", "sources", "connections")
SOURCE_KEYS = ("table", "files", "query", "connection", "key", "format", "where", "types", "values", "columns",
               "description")
LOOKUP_KEYS = ("files", "query", "connection", "format", "where", "types", "values", "key", "value", "description")
#: Raw column types a ``types:`` entry may cast to (spliced into SQL, so only these shapes pass).
TYPE_PATTERN = re.compile(
    r"^(VARCHAR|TEXT|BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|DOUBLE|FLOAT|REAL|DATE|TIMESTAMP|"
    r"TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE|DECIMAL\(\d{1,2}, ?\d{1,2}\))$",
    re.IGNORECASE,
)


class _Loader(yaml.SafeLoader):
    """SafeLoader with a bounded number of aliases and no duplicate keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases: refusing to expand them")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def safe_load(path: Path):
    """The YAML document of ``path``, read safely; a DataError naming the file and line otherwise."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DataError(f"unreadable sources file: {exc}", file=path) from exc
    if size > MAX_BYTES:
        raise DataError(f"sources file larger than {MAX_BYTES:,} bytes", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"sources file is not UTF-8 text: {exc.reason}", file=path) from exc
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataError(f"not a valid sources file: {problem}", file=path, row=row) from exc


# ---------------------------------------------------------------------------------------
# The parsed file


@dataclass(frozen=True)
class Column:
    """How one contract column is derived: exactly one of the forms below.

    ``expr``: a DuckDB SQL expression over the raw columns (a bare name is a rename);
    ``value``: a constant; ``values``: a map of the expression's values (any other value is
    a reject); ``lookup``/``key``: the value of a lookup for the key expression;
    ``rules``: ``[(condition, value), ...]`` tried in order, ``default`` otherwise.
    """

    name: str
    expr: str | None = None
    value: object = None
    has_value: bool = False
    values: dict | None = None
    lookup: str | None = None
    missing: str = "reject"
    rules: tuple = ()
    default: object = None

    @property
    def raw_column(self) -> str | None:
        """The raw column name when the mapping is a plain rename, for naming it in rejects."""
        text = self.expr
        if text and re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*|"[^"]+"', text.strip()):
            return text.strip().strip('"')
        return None


@dataclass(frozen=True)
class Raw:
    """Where the rows of a source or a lookup come from."""

    name: str
    kind: str  # "source" or "lookup"
    files: tuple[str, ...] = ()
    query: str | None = None
    connection: str | None = None
    format: str | None = None
    where: str | None = None
    types: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    row_key: str | None = None


@dataclass(frozen=True)
class Source:
    raw: Raw
    table: str
    columns: dict[str, Column]

    @property
    def name(self) -> str:
        return self.raw.name


@dataclass(frozen=True)
class Lookup:
    raw: Raw
    key: str
    value: str

    @property
    def name(self) -> str:
        return self.raw.name


@dataclass(frozen=True)
class SourcesFile:
    path: Path
    sources: tuple[Source, ...]
    lookups: dict[str, Lookup]
    connections: dict

    def for_table(self, table: str) -> list[Source]:
        return [s for s in self.sources if s.table == table]


def is_sources_file(path) -> bool:
    p = Path(path)
    return p.suffix.lower() in SUFFIXES and not p.is_dir()


def _fail(path, where: str, message: str, column: str | None = None):
    raise DataError(f"{where}: {message}", file=path, column=column)


def _mapping(path, where: str, value, what: str) -> dict:
    if not isinstance(value, dict):
        _fail(path, where, f"{what} must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            _fail(path, where, f"{what}: keys must be text, not {key!r}")
    return value


def _unknown(path, where: str, given: dict, allowed) -> None:
    extra = [k for k in given if k not in allowed]
    if extra:
        _fail(path, where, f"unknown key {extra[0]!r} (expected one of: {', '.join(allowed)})")


def _text(path, where: str, value, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(path, where, f"{what} must be non-empty text")
    return value


def _literal(path, where: str, value):
    if value is not None and not isinstance(value, (str, int, float, bool)):
        _fail(path, where, f"a value must be text, a number, a boolean or null, not {type(value).__name__}")
    return value


def _raw(path, kind: str, name: str, spec: dict) -> Raw:
    where = f"{kind} {name!r}"
    files, query = spec.get("files"), spec.get("query")
    if (files is None) == (query is None):
        _fail(path, where, "give exactly one of files (a path or glob, or a list) and query")
    if files is not None:
        files = (files,) if isinstance(files, str) else files
        if not isinstance(files, (list, tuple)) or not files or not all(isinstance(f, str) and f for f in files):
            _fail(path, where, "files must be a path or glob, or a list of them")
        if spec.get("connection") is not None:
            _fail(path, where, "connection is for query sources, not files")
    else:
        _text(path, where, query, "query")
        _text(path, where, spec.get("connection"), "connection (the database a query runs on)")
    fmt = spec.get("format")
    if fmt is not None and fmt not in FORMATS:
        _fail(path, where, f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    where_sql = spec.get("where")
    if where_sql is not None:
        _text(path, where, where_sql, "where")
    types = _mapping(path, where, spec.get("types") or {}, "types")
    for column, sql_type in types.items():
        if not isinstance(sql_type, str) or not TYPE_PATTERN.match(sql_type.strip()):
            _fail(path, where, f"types: {column!r} has an unsupported type {sql_type!r}")
    values = {}
    for column, mapping in _mapping(path, where, spec.get("values") or {}, "values").items():
        values[column] = _value_map(path, f"{where}, values of {column!r}", mapping)
    row_key = spec.get("key") if kind == "source" else None
    if row_key is not None:
        _text(path, where, row_key, "key")
    return Raw(name, kind, tuple(files or ()), query, spec.get("connection"), fmt, where_sql,
               {k: v.strip().upper() for k, v in types.items()}, values, row_key)


def _value_map(path, where: str, values) -> dict:
    """A value map: raw value (as text; null = a missing value) → value; any other raw value is a reject."""
    if not isinstance(values, dict) or not values:
        _fail(path, where, "values must be a mapping of raw values to values")
    mapped = {}
    for raw, value in values.items():
        _literal(path, where, raw)
        mapped[None if raw is None else _as_text(raw)] = _literal(path, where, value)
    return mapped


def _column(path, where: str, name: str, spec) -> Column:
    where = f"{where}, rule {name!r}"
    if isinstance(spec, str):
        return Column(name, expr=_text(path, where, spec, "an expression"))
    if isinstance(spec, list):
        rules, default, has_default = [], None, False
        for i, item in enumerate(spec, start=1):
            item = _mapping(path, where, item, f"item {i}")
            if set(item) == {"else"}:
                if i != len(spec):
                    _fail(path, where, "else must be the last item")
                default, has_default = _literal(path, where, item["else"]), True
                continue
            if set(item) != {"when", "then"}:
                _fail(path, where, f"item {i} must have when and then (or be the last item, else)")
            rules.append((_text(path, where, item["when"], "when"), _literal(path, where, item["then"])))
        if not rules:
            _fail(path, where, "a list of rules needs at least one when/then")
        return Column(name, rules=tuple(rules), default=default if has_default else None)
    spec = _mapping(path, where, spec, "a rule")
    if "value" in spec:
        _unknown(path, where, spec, ("value",))
        return Column(name, value=_literal(path, where, spec["value"]), has_value=True)
    if "lookup" in spec:
        _unknown(path, where, spec, ("lookup", "key", "missing"))
        missing = spec.get("missing", "reject")
        if missing not in ("reject", "null"):
            _fail(path, where, f"missing must be reject or null, not {missing!r}")
        return Column(name, lookup=_text(path, where, spec["lookup"], "lookup"),
                      expr=_text(path, where, spec.get("key"), "key"), missing=missing)
    if "values" in spec:
        _unknown(path, where, spec, ("expr", "values"))
        return Column(name, expr=_text(path, where, spec.get("expr"), "expr"),
                      values=_value_map(path, where, spec["values"]))
    _unknown(path, where, spec, ("expr",))
    return Column(name, expr=_text(path, where, spec.get("expr"), "expr"))


def _as_text(value) -> str:
    """How a literal from the file is compared with and handed to the loader: as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse(path, contract: dict) -> SourcesFile:
    """Read and check the sources file at ``path``; ``contract`` is io's table → {column: required}."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", file=path)
    doc = safe_load(path)
    if not isinstance(doc, dict):
        raise DataError("a sources file is a mapping with version and sources", file=path)
    _unknown(path, "sources file", doc, TOP_KEYS)
    if doc.get("version") != VERSION:
        raise DataError(f"version must be {VERSION}, not {doc.get('version')!r}", file=path)
    connections = _mapping(path, "sources file", doc.get("connections") or {}, "connections")
    for name, location in connections.items():
        if not is_postgres(location):
            _fail(path, f"connection {name!r}", "a connection is a postgresql://user@host:port/db string "
                  "(the password from PGPASSWORD or ~/.pgpass)")
    lookups = {}
    for name, spec in _mapping(path, "sources file", doc.get("lookups") or {}, "lookups").items():
        spec = _mapping(path, f"lookup {name!r}", spec, "a lookup")
        _unknown(path, f"lookup {name!r}", spec, LOOKUP_KEYS)
        raw = _raw(path, "lookup", name, spec)
        lookups[name] = Lookup(raw, _text(path, f"lookup {name!r}", spec.get("key"), "key"),
                               _text(path, f"lookup {name!r}", spec.get("value"), "value"))
    sources = []
    given = _mapping(path, "sources file", doc.get("sources") or {}, "sources")
    if not given:
        raise DataError("no sources: the file must say where customers and interactions come from", file=path)
    for name, spec in given.items():
        where = f"source {name!r}"
        spec = _mapping(path, where, spec, "a source")
        _unknown(path, where, spec, SOURCE_KEYS)
        table = spec.get("table")
        if table not in TABLES:
            _fail(path, where, f"table must be one of {', '.join(TABLES)}, not {table!r}")
        raw = _raw(path, "source", name, spec)
        if raw.connection is not None and raw.connection not in connections and not is_postgres(raw.connection):
            _fail(path, where, f"connection {redact(raw.connection)!r} is neither a postgresql:// connection string "
                  "nor among the file's connections")
        columns = {}
        for column, col_spec in _mapping(path, where, spec.get("columns") or {}, "columns").items():
            if column not in contract[table]:
                _fail(path, where, f"columns: {column!r} is not a column of {table} "
                      f"(expected: {', '.join(contract[table])})", column=column)
            columns[column] = _column(path, where, column, col_spec)
            if columns[column].lookup is not None and columns[column].lookup not in lookups:
                _fail(path, f"{where}, rule {column!r}", f"no lookup named {columns[column].lookup!r}", column=column)
        for column, required in contract[table].items():
            if required and column not in columns:
                _fail(path, where, f"no rule for the required column {column!r} of {table}", column=column)
        sources.append(Source(raw, table, columns))
    for table in TABLES:
        if not any(s.table == table for s in sources):
            raise DataError(f"no source feeds {table}", file=path)
    return SourcesFile(path.resolve(), tuple(sources), lookups, connections)
