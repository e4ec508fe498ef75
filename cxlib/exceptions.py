"""Errors and warnings of cxlib, in one place (as lifelines keeps its ``exceptions.py``)."""

from __future__ import annotations


class CxError(Exception):
    """Base class of every error cxlib raises on purpose."""


class DataError(CxError, ValueError):
    """Input that cannot be used: names the file, and where known the row and the column.

    ``row`` is the row as a person sees it in the file: the header is row 1, the first
    record row 2.
    """

    def __init__(self, message: str, *, file=None, column: str | None = None, row: int | None = None):
        self.file = None if file is None else str(file)
        self.column = column
        self.row = row
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class RejectedRowsError(DataError):
    """Raised in strict mode when the load set any row aside."""


class NotFittedError(CxError, ValueError, AttributeError):
    """A model method that needs ``fit`` was called before it.

    Also an ``AttributeError``, as scikit-learn's: ``hasattr(model, "summary")`` is False
    before ``fit``, and code written for scikit-learn's estimators catches it.
    """


class NotebookFailed(CxError, RuntimeError):
    """A notebook of a run raised; names the notebook and the cell, keeps the executed copy."""

    def __init__(self, notebook, *, cell: int | None = None, error: str = "", executed=None):
        self.notebook = str(notebook)
        self.cell = cell
        self.error = error
        self.executed = None if executed is None else str(executed)
        at = f" at cell {cell}" if cell is not None else ""
        kept = f"; executed copy kept at {self.executed}" if self.executed else ""
        super().__init__(f"notebook {self.notebook} failed{at}: {error}{kept}")


class ThinEvidenceWarning(RuntimeWarning):
    """Too few events or answers for an estimate to be read with confidence."""
