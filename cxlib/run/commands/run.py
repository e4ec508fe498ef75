"""cx run: execute the notebooks with papermill and render the HTML report.

Exit codes: 0 the report is written and latest.html points at it; 1 a notebook failed (its
executed copy is kept, the run is listed as failed); 2 a wrong call (unknown parameter, a
value of the wrong type, a missing file); 130/143 interrupted by Ctrl-C/SIGTERM (recorded as
``interrupted``). latest.html changes only on 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cxlib.config import REPORTS_DIR

HELP = (
    "Run the notebooks on a data set and write the HTML report under reports/<run-id>/ "
    "(-p engine=spark runs the aggregations on Spark)."
)


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"-p takes NAME=VALUE, got {text!r}")
    return name.strip(), value


def add_arguments(parser) -> None:
    parser.add_argument(
        "--data", default=None,
        help="data folder, DuckDB file or postgresql://user@host:port/db[?schema=s] (its password is never recorded) "
        "(default: the demo data, generated if missing); with -p engine=spark also "
        "a URI of Parquet (s3://, hdfs://, abfss://, dbfs:/) or a catalog schema (default $CXLAB_SPARK_INPUT)",
    )
    parser.add_argument("--params", type=Path, default=None, help="YAML file of notebook parameters")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--out", type=Path, default=REPORTS_DIR, help="reports folder (default reports/)")
    parser.add_argument("--notebook", action="append", type=Path, default=None, metavar="PATH", help="run this notebook instead of the suite (repeatable)")
    parser.add_argument("--progress", action="store_true", help="show papermill's progress bars")


def main(args) -> int:
    """0: report written; 1: a notebook failed (cli.py); 2: bad parameters; 128 + signal: interrupted."""
    import signal

    from cxlib.run.runner import RunInterrupted, run

    overrides = dict(_pair(p) for p in args.param)
    out = Path(args.out).resolve()
    try:
        result = run(
            args.data, params_file=args.params, overrides=overrides, out=out, notebooks=args.notebook, progress=args.progress,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, RunInterrupted) else signal.SIGINT
        print(f"cx run: interrupted by {signal.Signals(signum).name}; recorded in {out / 'index.html'}, "
              f"latest.html unchanged", file=sys.stderr)
        return 128 + int(signum)
    print(f"report: {result.report}")
    print(f"latest: {out / 'latest.html'}")
    print(f"runs:   {out / 'index.html'}")
    return 0
