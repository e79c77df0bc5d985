"""Expand the stage script's ``--methods``: sets of the method catalog and method names.

    python -m espnet_peft.recipe methods "seed bitfit"   # -> zero_shot lora dora ... bitfit

``all`` is the zero-shot reference and every method, ``seed`` the zero-shot reference
and the methods the project is about (catalog group ``seed``), ``baselines`` the seed
papers' comparisons (group ``baseline``); each in catalog order
(``espnet_peft.methods.catalog``). Sets and names mix; each method is kept once, where
it first appears. An unknown name is an error that lists the valid ones.
"""

from __future__ import annotations

import argparse
from typing import Callable, Dict, Iterable, List, Union

from espnet_peft.methods import catalog

SETS: Dict[str, Callable[[], List[str]]] = {
    "all": lambda: [catalog.ZERO_SHOT, *catalog.method_names()],
    "seed": lambda: [catalog.ZERO_SHOT, *catalog.method_names("seed")],
    "baselines": lambda: catalog.method_names("baseline"),
}


def valid_names() -> str:
    return f"the sets {', '.join(SETS)} or the names {', '.join(catalog.cards())}"


def expand(spec: Union[str, Iterable[str]]) -> List[str]:
    """``"seed bitfit"`` (or its words) -> the method names it stands for, in order."""
    words = spec.split() if isinstance(spec, str) else list(spec)
    out: Dict[str, None] = {}
    unknown = []
    for word in words:
        if word in SETS:
            out.update(dict.fromkeys(SETS[word]()))
        elif word in catalog.cards():
            out[word] = None
        else:
            unknown.append(word)
    if unknown:
        raise ValueError(f"--methods: unknown method {', '.join(unknown)}; expected {valid_names()}")
    return list(out)


def main(cmd=None):
    """Expand --methods (all, seed, baselines, method names) into method names."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog=f"Valid: {valid_names()}.")
    parser.add_argument("methods", nargs="*", help='e.g. all, or "seed bitfit"')
    args = parser.parse_args(cmd)
    try:
        print(" ".join(expand(" ".join(args.methods))))
    except ValueError as e:
        raise SystemExit(str(e)) from None


if __name__ == "__main__":
    main()
