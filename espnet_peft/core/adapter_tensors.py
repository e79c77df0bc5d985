"""Which layers and tensors of a model make up its adapter."""

from __future__ import annotations

from typing import FrozenSet, Iterator, Tuple

import torch.nn as nn

from espnet_peft.core.layer import AdapterModule
from espnet_peft.core.state import peft_state
from espnet_peft.core.targets import under_prefix

# Root-level container of tensors several layers share (S2-LoRA's factors, VeRA's
# projections, AdaLoRA's allocator); its name is part of the adapter file format.
SHARED_ATTR = "peft_shared"


def adapter_layers(model: nn.Module) -> Iterator[Tuple[str, AdapterModule]]:
    """(name, layer) of every adapter layer: adapted Linears and output adapters."""
    for name, module in model.named_modules():
        if isinstance(module, AdapterModule):
            yield name, module


def adapter_prefixes(model: nn.Module) -> FrozenSet[str]:
    """State-dict prefixes under which every adapter tensor lies."""
    prefixes = []
    for name, layer in adapter_layers(model):
        prefix = f"{name}." if name else ""
        prefixes.extend(prefix + t for t in layer.adapter_tensor_names)
    if hasattr(model, SHARED_ATTR):
        prefixes.append(SHARED_ATTR)
    state = peft_state(model)
    prefixes.extend(state.in_place if state is not None else ())
    return frozenset(prefixes)


def adapter_parameters(model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    """(name, parameter) for every adapter parameter, shared ones once."""
    seen, prefixes = set(), adapter_prefixes(model)
    for name, param in model.named_parameters():
        if under_prefix(name, prefixes) and id(param) not in seen:
            seen.add(id(param))
            yield name, param
