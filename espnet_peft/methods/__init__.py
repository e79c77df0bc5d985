"""One module per adapter method, each declaring a catalog ``CARD``
(``espnet_peft.methods.catalog``) and registering its layer. Importing this package
imports no method: ``import_all`` does, on the registry's first lookup."""

import importlib

from espnet_peft.methods.catalog import cards


def import_all() -> None:
    """Import (and so register) every module that declares a ``CARD``."""
    for card in cards().values():
        if card.module != "espnet_peft.methods.catalog":  # the zero-shot reference is no method
            importlib.import_module(card.module)
