"""cxlab's library: what a bad experience costs, and whether service or experience pays more.

The data flows one way: files → validated tables (:mod:`cxlib.data.load`) → metrics and the
customer-period panel → models → tables and figures → notebooks → HTML report.
"""

from cxlib.exceptions import DataError, NotebookFailed, NotFittedError, RejectedRowsError, ThinEvidenceWarning
from cxlib.data.load import Dataset, LoadReport, load

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "Dataset",
    "LoadReport",
    "NotFittedError",
    "NotebookFailed",
    "RejectedRowsError",
    "ThinEvidenceWarning",
    "__version__",
    "load",
]
