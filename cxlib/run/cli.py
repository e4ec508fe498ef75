"""The ``cx`` command: one subcommand per module of :mod:`cxlib.run.commands`.

Exit codes: 0 done; 1 the work failed (rejected rows in strict mode, a notebook that
raised); 2 the input or the call is wrong (a structural data error, a bad argument, a path
that cannot be written); 130 Ctrl-C (``cx run``: 143 on SIGTERM too); 70 an unexpected error
inside cxlib (a bug). Whatever happens the user reads one line, never a traceback
(``CX_DEBUG=1`` prints it for a bug report); a warning is one line too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings

from cxlib import __version__
from cxlib.exceptions import CxError, DataError

#: Subcommands, each a module of cxlib.run.commands with HELP, add_arguments(parser) and main(args).
COMMANDS = ("simulate", "validate", "run", "churn", "claims", "cost", "roi", "risk")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cx", description="cxlab: what bad experiences cost, service against experience.")
    parser.add_argument("--version", action="version", version=f"cxlib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"cxlib.run.commands.{name}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


#: Longest message printed: a value from data or a file can be megabytes long.
MAX_MESSAGE = 2_000
#: Exit code of an unexpected error (sysexits' EX_SOFTWARE).
EXIT_BUG = 70


def _short(text) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + f"… ({len(text):,} characters)"


def _os_error(exc: OSError) -> str:
    if isinstance(exc, (NotADirectoryError, FileExistsError)) and exc.filename:
        return f"cannot create {exc.filename}: a part of that path is a file, not a folder"
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    name = f"cx {args.command}"

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{name}: warning: {_short(message)}", file=sys.stderr)

    previous = warnings.showwarning
    warnings.showwarning = one_line_warning
    try:
        return int(args.handler(args) or 0)
    except DataError as exc:
        print(f"{name}: error: {_short(exc)}", file=sys.stderr)
        return 2
    except CxError as exc:
        print(f"{name}: failed: {_short(exc)}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{name}: error: {_short(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path that cannot be read or written: under a file, no permission, disk full
        print(f"{name}: error: {_short(_os_error(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("CX_DEBUG"):
            traceback.print_exc()
        print(f"{name}: internal error (a bug in cxlib; CX_DEBUG=1 shows the traceback): "
              f"{type(exc).__name__}: {_short(exc)}", file=sys.stderr)
        return EXIT_BUG
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
