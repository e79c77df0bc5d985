"""The recipe helpers behind one command (what egs2/TEMPLATE/peft1/peft.sh calls):

    python -m espnet_peft.recipe <command> [args]     # <command> --help: its options

Each command is the ``main`` of a module in this package (``methods``, ``config``, ...:
``python -m espnet_peft.recipe.<module>`` runs the same). None of them imports torch;
``train_runs`` imports its training entry point when it runs.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Dict, Tuple

PROG = "python -m espnet_peft.recipe"
# command -> (module of this package, its function), in the order of the stages
COMMANDS: Dict[str, Tuple[str, str]] = {
    "methods": ("methods", "main"),
    "config": ("config", "main"),
    "config_get": ("config", "get_main"),
    "s2t": ("s2t", "main"),
    "format_data": ("format_data", "main"),
    "tokens": ("tokens", "main"),
    "plan": ("plan", "main"),
    "run_json": ("run_json", "main"),
    "train_runs": ("train_runs", "main"),
    "score": ("score", "main"),
}


def command(name: str):
    module, function = COMMANDS[name]
    return getattr(importlib.import_module(f"espnet_peft.recipe.{module}"), function)


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"usage: {PROG} <command> [args]   ({PROG} <command> --help: its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {inspect.getdoc(command(name)).splitlines()[0]}" for name in COMMANDS]
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name = argv[0].replace("-", "_")
    if name not in COMMANDS:
        print(f"{PROG}: unknown command {argv[0]!r}; expected one of: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    sys.argv[0] = f"{PROG} {name}"  # the command's argparse usage line
    status = command(name)(argv[1:])
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
