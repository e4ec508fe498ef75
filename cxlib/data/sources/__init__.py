"""Sources files: how a company's raw exports become the contract's two tables.

A sources file (YAML) names each raw export (help desk tickets, subscriptions, orders, product
events, survey answers), how to read it (files or, later, a query on a connection; CSV, JSON
lines, JSON arrays or Parquet) and how its fields become the contract's columns: renames,
value maps (a help desk's channel names to ours), rules as DuckDB SQL expressions
(``delivered_at > promised_at + INTERVAL 1 DAY`` → a bad delivery) and lookups (an e-mail to
an account id). It is accepted wherever a data path is: ``cxlib.load("sources.yaml")``,
``cx validate sources.yaml``, every command's data argument, ``cx run --data``, the notebooks'
``data`` parameter. The loader's rules and rejects then apply to the derived rows, and a
rejected row names the raw file and its row.

- :mod:`cxlib.data.sources.spec` reads the file safely and checks its structure;
- :mod:`cxlib.data.sources.build` turns it into DuckDB SQL and maps rejects back to the raw rows;
- :mod:`cxlib.data.simulate.layouts` writes a simulated world as vendors' exports with a sources file;
- ``cxlib/data/sources/templates/*.yaml`` are the templates for the exports people have.

``docs/sources.md`` documents the file and each template; design.md's "Sources" section
holds the rules.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cxlib.data.contract import COLUMNS
from cxlib.data.sources.spec import SourcesFile, is_sources_file, parse

__all__ = ["SourcesPlan", "is_sources_file", "open_plan", "template_path", "TEMPLATES"]

#: The templates shipped with cxlib (``cxlib/data/sources/templates/<name>.yaml``).
TEMPLATES = ("zendesk", "salesforce", "stripe", "orders", "events", "nps")


def template_path(name: str) -> Path:
    if name not in TEMPLATES:
        raise ValueError(f"no template {name!r}: one of {', '.join(TEMPLATES)}")
    return Path(str(resources.files("cxlib.data.sources") / "templates" / f"{name}.yaml"))


class SourcesPlan:
    """A checked sources file, ready for :func:`cxlib.data.load.load` to stage its tables.

    The loader calls :meth:`relation` once per contract table (on its connection) and :meth:`relabel`
    once after both tables are split, so the rejects name raw files and rows.
    """

    def __init__(self, spec: SourcesFile):
        self.spec = spec
        self._builder = None

    @property
    def path(self) -> Path:
        return self.spec.path

    def label(self, table: str) -> str:
        return f"{self.spec.path}:{table}"

    def relation(self, con, table: str) -> tuple[str, list[str], dict[str, str]]:
        """(SQL with ``_row``, ``_problems`` and the contract's columns; no ignored columns; their types)."""
        from cxlib.data.sources.build import Builder

        if self._builder is None or self._builder.con is not con:
            self._builder = Builder(con, self.spec)
        sql, types = self._builder.relation(table, COLUMNS[table])
        return sql, [], types

    def relabel(self, con, labels: dict[str, str]) -> None:
        self._builder.relabel(labels)


def open_plan(path) -> SourcesPlan:
    """Parse and check the sources file at ``path`` against the contract (structure only; the data
    is read by the load)."""
    return SourcesPlan(parse(path, COLUMNS))
