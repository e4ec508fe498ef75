"""cx run: execute the notebooks with papermill and render the HTML report."""

from __future__ import annotations

import sys
from pathlib import Path

from cxlib.config import REPORTS_DIR

HELP = "Run the notebooks on a data set and write the HTML report under reports/<run-id>/."


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"-p takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, default=None, help="data folder or DuckDB file (default: the demo data, generated if missing)")
    parser.add_argument("--params", type=Path, default=None, help="YAML file of notebook parameters")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--out", type=Path, default=REPORTS_DIR, help="reports folder (default reports/)")
    parser.add_argument("--notebook", action="append", type=Path, default=None, metavar="PATH", help="run this notebook instead of the suite (repeatable)")
    parser.add_argument("--progress", action="store_true", help="show papermill's progress bars")


def main(args) -> int:
    from cxlib.runner import run

    overrides = dict(_pair(p) for p in args.param)
    result = run(
        args.data, params_file=args.params, overrides=overrides, out=args.out, notebooks=args.notebook, progress=args.progress
    )
    print(f"report: {result.report}", file=sys.stdout)
    print(f"latest: {Path(args.out).resolve() / 'latest.html'}")
    return 0
