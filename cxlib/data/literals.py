"""Values of our own written into SQL text: timestamps, identifiers, word lists, paths.

Text that came from data is never written into SQL: it is bound as a parameter. These
builders serve the values cxlib itself computes (an ``as_of``, a column name of the contract
or of a file's header, a list of the contract's codes, a temporary folder).
"""

from __future__ import annotations

import pandas as pd


def timestamp_sql(value) -> str:
    """A naive-UTC timestamp as a SQL literal (our own value, never text from data)."""
    return f"TIMESTAMP '{pd.Timestamp(value).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def quote_identifier(name: str) -> str:
    """A name as a DuckDB identifier, whatever it holds (quotes, expressions, ``it's``)."""
    return '"' + str(name).replace('"', '""') + '"'


def sql_list(words) -> str:
    return ", ".join(f"'{w}'" for w in words)


def sql_path(path) -> str:
    return str(path).replace("'", "''")
