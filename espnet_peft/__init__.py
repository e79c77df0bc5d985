"""espnet_peft: parameter-efficient fine-tuning methods as ESPnet adapters.

The API works on any ``torch.nn.Module``. Importing the package is cheap (the recipes'
helper scripts need neither torch nor ESPnet): the API below is imported, with torch,
on first use of any of its names, and every method is added to ESPnet's
``create_adapter_fn_table`` as soon as ESPnet's ``espnet2.layers.create_adapter`` is
imported, before or after this package (ESPnet's tasks import it).
"""

import importlib

from espnet_peft.after_import import after_import

__version__ = "0.1.0"

# name -> module of the public API
_API = {
    "AdapterConfig": "config", "AdapterConfigError": "config",
    "adapter_layers": "inject", "adapter_parameters": "inject", "adapter_regularization": "inject",
    "count_parameters": "inject", "initialize_adapters": "inject", "inject_adapters": "inject",
    "mark_only_adapters_trainable": "inject", "merge_adapters": "inject", "merge_and_unload": "inject",
    "unmerge_adapters": "inject",
    "AdapterLinear": "layer", "AdapterMergeError": "layer", "AdapterModule": "layer",
    "AdapterNotInitializedError": "layer", "OutputAdapter": "layer",
    "METHODS": "registry", "get_method": "registry",
    "AdapterFileError": "state", "BaseModelMismatchError": "state", "adapter_state_dict": "state",
    "load_adapter": "state", "load_adapter_state_dict": "state", "save_adapter": "state",
    "register_espnet_adapters": "espnet",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _API:
        importlib.import_module("espnet_peft.methods")  # fills the registry
        value = getattr(importlib.import_module(f"espnet_peft.{_API[name]}"), name)
        globals()[name] = value
        return value
    try:  # espnet_peft.state etc. without importing the submodule first, as before
        return importlib.import_module(f"espnet_peft.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"espnet_peft.{name}":
            raise
    raise AttributeError(f"module 'espnet_peft' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


def _register_with_espnet(_module) -> None:
    importlib.import_module("espnet_peft.methods")
    from espnet_peft.espnet import register_espnet_adapters

    register_espnet_adapters()


after_import("espnet2.layers.create_adapter", _register_with_espnet)
import espnet_peft.whisper  # noqa: E402,F401  (ASR encoder/decoder choices, on the same kind of hook)
