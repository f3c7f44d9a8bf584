"""The ``codecustom`` command line.

Subcommands are a registry: each lives in its own module under ``codecustom.cli`` and exposes
``HELP`` (one line), ``add_arguments(parser)`` and ``run(args, console) -> int``. Command modules
import heavy libraries (torch, transformers) inside ``run`` so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from codecustom import __version__
from codecustom.console import Console
from codecustom.errors import CodecustomError, environment_problem

# name -> module under codecustom.cli; order is the order shown in --help.
COMMANDS: dict[str, str] = {
    "mine": "mine",
    "customize": "customize",
    "compare": "compare",
    "evaluate": "evaluate",
    "pretrain": "pretrain",
    "gen-tests": "gen_tests",
    "complete": "complete",
    "lsp": "lsp",
    "export": "export",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _load(module: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"codecustom.cli.{module}")
    except ModuleNotFoundError as exc:  # a command whose module is not written yet is simply absent
        if exc.name == f"codecustom.cli.{module}":
            return None
        raise


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter, only results and errors")
    common.add_argument("--json", action="store_true", help="print the result as one JSON document on stdout")
    common.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors")
    return common


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one subparser per registered command (only ``command``'s when it names one:
    a run needs no other command module imported)."""
    parser = OneLineParser(
        prog="codecustom",
        description="Customize a code model to one repository: mine, customize, evaluate, serve.",
    )
    parser.add_argument("--version", action="version", version=f"codecustom {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    common = _common_options()
    for name, module_name in COMMANDS.items():
        if command in COMMANDS and name != command:
            continue
        module = _load(module_name)
        if module is None:
            continue
        p = sub.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
                           parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``codecustom`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    args._argv = argv  # a launcher re-runs the same command in worker processes
    if not getattr(args, "_module", None):
        parser.print_help(sys.stderr)
        return 2
    console = Console(quiet=args.quiet, json_mode=args.json)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.debug:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        return int(args._module.run(args, console) or 0)
    except CodecustomError as exc:
        if args.debug:
            raise
        print(f"codecustom {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"codecustom {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the machine's fault (exit 2 with a hint), else a bug of ours (exit 1)
        if args.debug:
            raise
        problem = environment_problem(exc)
        if problem is not None:
            print(f"codecustom {args.command}: error: {problem.one_line()}", file=sys.stderr)
            return problem.exit_code
        message = " ".join(str(exc).split())[:500]
        print(f"codecustom {args.command}: internal error: {type(exc).__name__}: {message} "
              "(rerun with --debug for the traceback)", file=sys.stderr)
        return 1
