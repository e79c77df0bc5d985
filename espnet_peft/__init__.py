"""espnet_peft: parameter-efficient fine-tuning methods as ESPnet adapters.

The API works on any ``torch.nn.Module``. Importing the package is cheap (the recipes'
helper scripts need neither torch nor ESPnet): the API below is imported, with torch,
on first use of any of its names, and every method is added to ESPnet's
``create_adapter_fn_table`` as soon as ESPnet's ``espnet2.layers.create_adapter`` is
imported, before or after this package (ESPnet's tasks import it).
"""

import importlib

from espnet_peft.core.after_import import after_import
from espnet_peft.core.registry import on_first_lookup, registered_methods
from espnet_peft.methods import import_all
from espnet_peft.integration.choices import register_model_choices

__version__ = "0.1.0"

# name -> module of the public API
_API = {
    "AdapterConfig": "core.config", "AdapterConfigError": "core.errors",
    "AdapterFileError": "core.errors", "AdapterMergeError": "core.errors",
    "AdapterNotInitializedError": "core.errors", "BaseModelMismatchError": "core.errors",
    "adapter_layers": "core.adapter_tensors", "adapter_parameters": "core.adapter_tensors",
    "adapter_regularization": "core.inject", "count_parameters": "core.inject",
    "initialize_adapters": "core.inject", "inject_adapters": "core.inject",
    "mark_only_adapters_trainable": "core.inject", "merge_adapters": "core.inject",
    "merge_and_unload": "core.inject", "unmerge_adapters": "core.inject",
    "AdapterLinear": "core.layer", "AdapterModule": "core.layer", "OutputAdapter": "core.layer",
    "install_proximal_steps": "core.proximal",
    "METHODS": "core.registry", "get_method": "core.registry",
    "adapter_state_dict": "checkpoint.state_dict", "load_adapter_state_dict": "checkpoint.state_dict",
    "load_adapter": "checkpoint.adapter_file", "save_adapter": "checkpoint.adapter_file",
    "register_espnet_adapters": "integration.adapters",
}
__all__ = sorted(_API)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _API:
        registered_methods()  # the method modules register themselves
        value = getattr(importlib.import_module(f"espnet_peft.{_API[name]}"), name)
        globals()[name] = value
        return value
    try:  # subpackages (espnet_peft.core, ...) without importing them first
        return importlib.import_module(f"espnet_peft.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"espnet_peft.{name}":
            raise
    raise AttributeError(f"module 'espnet_peft' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))


def _register_with_espnet(_module) -> None:
    from espnet_peft.integration.adapters import register_espnet_adapters

    register_espnet_adapters()


on_first_lookup(import_all)
after_import("espnet2.layers.create_adapter", _register_with_espnet)
register_model_choices()
