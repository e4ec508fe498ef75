"""cx validate: load and check a data set, print the accounting and the first rejects."""

from __future__ import annotations

from pathlib import Path

from cxlib.run.commands.options import DATA_HELP, _location

HELP = "Validate a data set against the contract; exit 0 if it loads, 1 with --strict and any reject, 2 on a structural error."


def add_arguments(parser) -> None:
    from cxlib.run.commands import options

    parser.add_argument("path", type=_location, help=DATA_HELP)
    parser.add_argument("--strict", action="store_true", help="exit 1 when any row is rejected")
    parser.add_argument("--rejects", type=Path, default=Path("rejects.csv"), help="where to write rejected rows (default rejects.csv)")
    parser.add_argument("--show", type=int, default=10, help="how many rejects to print (default 10)")
    parser.add_argument("--as-of", default=None, help="censoring time (ISO 8601); default: the latest value in the data not after now")
    options.add_reading(parser)


def _where(r, files: dict) -> str:
    """A reject's place: the file and row, or for a database table the table and key."""
    import pandas as pd

    from cxlib.data.load import KEYS

    if pd.isna(r.row):
        table = next(t for t, label in files.items() if label == r.file)
        return f"{r.file.split(' at ', 1)[0]} {KEYS[table]}={r.key}"
    return f"{r.file} row {r.row}"


def main(args) -> int:
    import cxlib
    from cxlib.run.commands import options

    with cxlib.load(args.path, rejects_path=args.rejects, as_of=args.as_of, **options.reading(args)) as data:
        for line in data.report.lines():
            print(line)
        total = data.report.total_rejected
        if total:
            print(f"\n{total:,} rejected row(s), every problem written to {args.rejects}; the first:")
            first = data.rejects.head(args.show)
            for r in first.itertuples(index=False):
                value = r.value if not isinstance(r.value, str) or len(r.value) <= 80 else r.value[:80] + "…"
                print(f"  {_where(r, data.report.files)}, column {r.column!r}: {r.reason} (value {value!r})")
            if args.strict:
                print("strict: rejected rows make this a failure")
                return 1
        else:
            print("\nno rejected rows")
    return 0
