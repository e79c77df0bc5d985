"""Name -> (config class, layer class) for every adapter method.

Each method module registers itself (``register_method``). The modules are imported on
the first lookup: the package root installs that loader (``on_first_lookup``), so that
importing ``espnet_peft`` -- and the torch-free method catalog -- imports no method (and
no torch) until a method is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Type


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config_cls: type
    layer_cls: type


METHODS: Dict[str, MethodSpec] = {}
_loaders: List[Callable[[], None]] = []


def on_first_lookup(loader: Callable[[], None]) -> None:
    """Run ``loader`` (which imports the method modules) before the first lookup."""
    _loaders.append(loader)


def registered_methods() -> Dict[str, MethodSpec]:
    while _loaders:
        _loaders.pop(0)()
    return METHODS


def register_method(name: str, config_cls: type):
    def wrap(layer_cls: Type):
        if name in METHODS:
            raise ValueError(f"adapter method '{name}' is registered twice")
        METHODS[name] = MethodSpec(name, config_cls, layer_cls)
        return layer_cls
    return wrap


def get_method(name: str) -> MethodSpec:
    methods = registered_methods()
    if name not in methods:
        raise ValueError(f"unknown adapter method '{name}'; available: {sorted(methods)}")
    return methods[name]
