"""Name -> (config class, layer class) for every adapter method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Type


@dataclass(frozen=True)
class MethodSpec:
    name: str
    config_cls: type
    layer_cls: type


METHODS: Dict[str, MethodSpec] = {}


def register_method(name: str, config_cls: type):
    def wrap(layer_cls: Type):
        if name in METHODS:
            raise ValueError(f"adapter method '{name}' is registered twice")
        METHODS[name] = MethodSpec(name, config_cls, layer_cls)
        return layer_cls
    return wrap


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown adapter method '{name}'; available: {sorted(METHODS)}")
    return METHODS[name]
