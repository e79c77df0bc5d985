"""Adapter-only state dicts: what tensors make an adapter, and loading them onto a base.

An adapter state dict holds every adapter tensor (the methods' ``adapter_tensor_names``,
``peft_shared.*`` for tensors several layers share, base tensors a method trains in
place) plus the running statistics of BatchNorm layers, which change during adapter
training even though no base parameter does (Conformer convolution modules).
Everything else comes from the base model, identified by its fingerprint
(``espnet_peft.core.fingerprint``).
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn as nn

from espnet_peft.core.adapter_tensors import adapter_layers, adapter_prefixes
from espnet_peft.core.errors import AdapterFileError
from espnet_peft.core.fingerprint import Fingerprint, base_fingerprint, check_fingerprint
from espnet_peft.core.inject import initialize_adapters
from espnet_peft.core.targets import batchnorm_stat_names, under_prefix


def adapter_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The tensors an adapter consists of (see module docstring), detached."""
    prefixes = adapter_prefixes(model)
    keep = set(batchnorm_stat_names(model))
    return {name: tensor.detach() for name, tensor in model.state_dict(keep_vars=False).items()
            if name in keep or under_prefix(name, prefixes)}


def load_adapter_state_dict(model: nn.Module, state: Dict[str, torch.Tensor],
                            fingerprint: Optional[Fingerprint] = None,
                            what: str = "adapter") -> None:
    """Load ``state`` (from ``adapter_state_dict``) into a model with freshly injected
    adapters whose base weights are already loaded. With ``fingerprint``, refuse a base
    that is not the one the adapter was trained on. Keys must match exactly."""
    if any(m.initialized for _, m in adapter_layers(model)):
        raise AdapterFileError(
            "load_adapter_state_dict needs freshly injected adapters on the base model "
            "(these are already initialised or loaded)")
    expected = set(adapter_state_dict(model))
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise AdapterFileError(
            f"{what} does not fit this model: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''} "
            "(was it trained with another method, config or target_modules?)")
    if fingerprint is not None:
        check_fingerprint(fingerprint, base_fingerprint(model), what)
    own = model.state_dict(keep_vars=True)
    # All shapes first, so that a wrong file changes nothing (full fine-tuning has no
    # base fingerprint to catch another architecture).
    for name, value in state.items():
        if tuple(own[name].shape) != tuple(value.shape):
            raise AdapterFileError(
                f"{what}: tensor {name} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(own[name].shape)}")
    initialize_adapters(model)
    with torch.no_grad():
        for name, value in state.items():
            own[name].copy_(value.to(own[name].device, own[name].dtype))
    for _, layer in adapter_layers(model):
        layer._prepared = False
