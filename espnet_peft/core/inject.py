"""Putting adapters into any ``nn.Module`` and the operations on an adapted model:
initialise, make trainable, merge, unload, count."""

from __future__ import annotations

import logging
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn

from espnet_peft.core.adapter_tensors import (
    SHARED_ATTR, adapter_layers, adapter_parameters, adapter_prefixes,
)
from espnet_peft.core.config import AdapterConfig, parse_config
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.fingerprint import base_fingerprint
from espnet_peft.core.registry import get_method
from espnet_peft.core.state import PeftState, attach_state, peft_state, remove_state
from espnet_peft.core.targets import set_submodule, under_prefix


class SharedTensors(nn.ModuleDict):
    """The root-level ``peft_shared`` container. Its forward passes its input through:
    a root whose forward runs every child in turn (``nn.Sequential``) then runs it as a
    no-op instead of failing on a ModuleDict without a forward. (Such a root's ``len``
    and last index then count it too, until ``merge_and_unload`` removes it.)"""

    def forward(self, x):
        return x


def _initialize_on_first_forward(module: nn.Module, args) -> None:
    state = peft_state(module)
    if state is not None and state.pending_init:
        initialize_adapters(module)


def inject_adapters(model: nn.Module, method: str, target_modules: Optional[Sequence[str]] = None,
                    **method_conf) -> AdapterConfig:
    """Put ``method`` adapters into ``model`` in place: the method's layer class finds
    its targets (Linear layers by ``target_modules`` for most methods; sub-blocks of the
    top layers for bottleneck) and attaches one adapter per target. Methods that train
    base tensors directly (full, BitFit's norm biases) record them as adapter tensors.

    Values that depend on the pretrained weights (PiSSA/SSVD factors, DoRA magnitude)
    are filled in by ``initialize_adapters``, which runs automatically on the model's
    first forward pass -- so loading pretrained weights after injection is fine.
    Returns the parsed config.
    """
    spec = get_method(method)
    conf = dict(method_conf)
    if target_modules is not None:
        conf["target_modules"] = list(target_modules) if not isinstance(target_modules, str) \
            else [target_modules]
    config = parse_config(spec.config_cls, method, conf)
    if peft_state(model) is not None or any(True for _ in adapter_layers(model)):
        raise AdapterConfigError("the model already has adapters; merge_and_unload it first")
    names = spec.layer_cls.find_targets(model, config)
    in_place = tuple(spec.layer_cls.trained_in_place(model, config))
    shared = getattr(model, SHARED_ATTR, None)
    if shared is None:
        shared = SharedTensors()
    for name in names:
        base = model.get_submodule(name)
        try:
            layer = spec.layer_cls.from_module(base, config, shared, name)
        except AdapterConfigError as e:
            raise AdapterConfigError(f"{name}: {e}") from None
        layer.train(base.training)
        layer.attach(model, name)
    if len(shared) and not hasattr(model, SHARED_ATTR):
        setattr(model, SHARED_ATTR, shared)
    attach_state(model, PeftState(method, config, tuple(names), in_place))
    if _initialize_on_first_forward not in model._forward_pre_hooks.values():
        model.register_forward_pre_hook(_initialize_on_first_forward)
    logging.info("espnet_peft: %s adapters on %d modules, %d base tensor groups trained in place",
                 method, len(names), len(in_place))
    return config


@torch.no_grad()
def initialize_adapters(model: nn.Module) -> int:
    """Initialise, from the weights currently in the model, every adapter that has not
    been initialised yet. Returns how many layers were initialised."""
    state = peft_state(model)
    fresh = [(n, m) for n, m in adapter_layers(model) if not m.initialized]
    if fresh and state is not None:
        # Taken before any method edits a weight (PiSSA), so it describes the base.
        state.base_fingerprint = base_fingerprint(model)
    for _, layer in fresh:
        layer.init_from_base()
        layer.adapter_initialized.fill_(1)
        layer._prepared = False
    if state is not None:
        state.pending_init = False
    return len(fresh)


def mark_only_adapters_trainable(model: nn.Module) -> None:
    prefixes = adapter_prefixes(model)
    for name, param in model.named_parameters():
        param.requires_grad = under_prefix(name, prefixes)


def _check_mergeable(model: nn.Module) -> None:
    for _, layer in adapter_layers(model):
        if not layer.mergeable:
            layer.merge()  # raises AdapterMergeError with the reason


def merge_adapters(model: nn.Module) -> None:
    """Fold every adapter into its weights (raises ``AdapterMergeError``, changing
    nothing, for adapters that add layers: bottleneck)."""
    _check_mergeable(model)
    for _, layer in adapter_layers(model):
        layer.merge()


def unmerge_adapters(model: nn.Module) -> None:
    for _, layer in adapter_layers(model):
        layer.unmerge()


def merge_and_unload(model: nn.Module) -> nn.Module:
    """Fold every adapter into its weight and put plain ``nn.Linear`` layers back
    (tensors trained in place are already part of the model). The model keeps no trace
    of the adapters: a later ``inject_adapters`` starts afresh (new fingerprint too)."""
    _check_mergeable(model)
    for name, layer in list(adapter_layers(model)):
        set_submodule(model, name, layer.unloaded())
    if hasattr(model, SHARED_ATTR):
        delattr(model, SHARED_ATTR)
    remove_state(model)
    return model


def count_parameters(model: nn.Module) -> Tuple[int, int]:
    """(trainable, total) parameter counts, shared parameters counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def added_parameter_count(model: nn.Module) -> int:
    """Parameters the adapters add to the base model (base tensors trained in place --
    full fine-tuning, BitFit's norm biases -- are part of the base, not added)."""
    state = peft_state(model)
    in_place = state.in_place if state is not None else ()
    return sum(p.numel() for n, p in adapter_parameters(model) if not under_prefix(n, in_place))


def adapted_model_size(model: nn.Module) -> int:
    """Parameters the adapted model computes with: all of them, less the frozen weights
    that an adapter replaced (semiorth keeps W0 only for state-dict compatibility)."""
    _, total = count_parameters(model)
    return total - sum(layer.weight.numel() for _, layer in adapter_layers(model)
                       if layer.replaces_weight and not layer.merged)


def adapter_regularization(model: nn.Module) -> Optional[torch.Tensor]:
    """Sum of the adapters' regularisation terms (S2-LoRA's L1), or None."""
    terms = [t for _, layer in adapter_layers(model)
             if (t := layer.regularization_loss()) is not None]
    return torch.stack(terms).sum() if terms else None
