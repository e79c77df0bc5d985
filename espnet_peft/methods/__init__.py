"""One module per adapter method; importing this package registers every module that
declares a catalog ``CARD`` (``espnet_peft.methods.catalog``)."""

import importlib

from espnet_peft.methods.catalog import cards

for _card in cards().values():
    if _card.module != "espnet_peft.methods.catalog":  # the zero-shot reference is no method
        importlib.import_module(_card.module)
