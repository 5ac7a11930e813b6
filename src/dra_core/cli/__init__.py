"""The ``dra-core`` command line.

Subcommands live in their own modules, each with ``add_parser(subparsers)`` and
``run(args) -> int``. Exit status: 0 success, 1 "does not fit" (allocate/explain),
2 bad input. Bad input never prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dra_core.errors import DraCoreError

__all__ = ["main"]

# Subcommand name -> module under dra_core.cli. A module that is missing is skipped,
# so that the command line works while the project grows.
_SUBCOMMANDS = ("validate", "allocate", "explain", "demo", "simulate", "extender", "capacity")


def _build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the parser of the command line.

    When ``argv`` starts with a subcommand's name, only that subcommand's module is
    imported: parsing its arguments needs no other (``dra-core validate`` does not load
    the simulator or the extender). Otherwise (no command, ``--help``, a misspelt
    command) every subcommand is registered, for the help and the list of choices.
    """
    command = argv[0] if argv and argv[0] in _SUBCOMMANDS else None
    if command is not None:
        parser, found = _parser_with((command,))
        if found:
            return parser
    return _parser_with(_SUBCOMMANDS)[0]


def _parser_with(names: Sequence[str]) -> tuple[argparse.ArgumentParser, bool]:
    """Return a parser with the subcommands ``names`` whose modules exist, and if any do."""
    parser = argparse.ArgumentParser(
        prog="dra-core",
        description="Kubernetes Dynamic Resource Allocation, as a library and a tool.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    found = False
    for name in names:
        try:
            module = importlib.import_module(f"dra_core.cli._{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"dra_core.cli._{name}":
                raise
            continue
        module.add_parser(sub)
        found = True
    return parser, found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    if argv is None:
        argv = sys.argv[1:]
    parser = _build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        status: int = args.run(args)
    except DraCoreError as exc:
        print(f"dra-core {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"dra-core {args.command}: interrupted", file=sys.stderr)
        return 130
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
