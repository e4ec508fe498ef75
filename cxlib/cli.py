"""The ``cx`` command: one subcommand per module of :mod:`cxlib.commands`.

Exit codes: 0 done; 1 the work failed (rejected rows in strict mode, a notebook that
raised); 2 the input or the call is wrong (a structural data error, a bad argument).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cxlib import __version__
from cxlib.exceptions import CxError, DataError

#: Subcommands, each a module of cxlib.commands with HELP, add_arguments(parser) and main(args).
COMMANDS = ("simulate", "validate", "run", "churn", "claims", "cost", "roi", "risk")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx", description="cxlab: what bad experiences cost, service against experience.")
    parser.add_argument("--version", action="version", version=f"cxlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"cxlib.commands.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except DataError as exc:
        print(f"cx {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CxError as exc:
        print(f"cx {args.command}: failed: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"cx {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
