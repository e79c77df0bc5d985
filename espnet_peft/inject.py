"""Putting adapters into any ``nn.Module`` and the operations on an adapted model."""

from __future__ import annotations

import logging
import re
from typing import Collection, Dict, FrozenSet, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from espnet_peft.config import AdapterConfig, AdapterConfigError, parse_config
from espnet_peft.layer import AdapterLinear, AdapterModule
from espnet_peft.registry import get_method

SHARED_ATTR = "peft_shared"  # root-level container for tensors shared between layers


def _is_plain_linear(module: nn.Module) -> bool:
    # Subclasses that override forward (loralib's Linear, quantised layers) would be
    # silently changed by wrapping; only accept layers that compute F.linear.
    if not isinstance(module, nn.Linear) or isinstance(module, AdapterLinear):
        return False
    forward = type(module).forward
    return forward is nn.Linear.forward or type(module).__name__ == "Linear"


def _pattern_matches(pattern: str, name: str) -> bool:
    if name == pattern or name.endswith("." + pattern):
        return True
    try:
        return re.fullmatch(pattern, name) is not None
    except re.error:
        return False


def match_target_modules(model: nn.Module, patterns: Sequence[str],
                         optional: Sequence[str] = ()) -> List[str]:
    """Names of the Linear modules that ``patterns`` select; errors on a pattern that
    selects nothing or selects a layer type no method supports. ``optional`` patterns
    may select nothing (they are logged then)."""
    named = [(n, m) for n, m in model.named_modules() if n]
    selected: Dict[str, None] = {}
    for pattern in [*patterns, *optional]:
        hits = [(n, m) for n, m in named if _pattern_matches(pattern, n)]
        if not hits and pattern in optional:
            logging.info("optional target pattern %r: no such module in %s; skipped",
                         pattern, type(model).__name__)
            continue
        if not hits:
            linears = [n for n, m in named if isinstance(m, nn.Linear)]
            raise AdapterConfigError(
                f"target_modules pattern {pattern!r} matches no module of "
                f"{type(model).__name__}; Linear layers look like: {linears[:6]}"
            )
        ok = [n for n, m in hits if _is_plain_linear(m)]
        bad = [(n, type(m).__name__) for n, m in hits
               if not _is_plain_linear(m) and not isinstance(m, AdapterLinear)]
        if not ok:
            raise AdapterConfigError(
                f"target_modules pattern {pattern!r} matches only layers the adapters cannot "
                f"wrap (torch.nn.Linear is supported): {bad[:6]}"
            )
        if bad:
            logging.info("pattern %r: skipping non-Linear modules %s", pattern, bad[:6])
        for n in ok:
            selected[n] = None
    return list(selected)


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def adapter_layers(model: nn.Module) -> Iterator[Tuple[str, AdapterModule]]:
    """(name, layer) of every adapter layer: adapted Linears and output adapters."""
    for name, module in model.named_modules():
        if isinstance(module, AdapterModule):
            yield name, module


def _initialize_on_first_forward(module: nn.Module, args) -> None:
    if getattr(module, "_peft_pending_init", False):
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
    if getattr(model, "_peft_method", None) is not None or any(True for _ in adapter_layers(model)):
        raise AdapterConfigError("the model already has adapters; merge_and_unload it first")
    names = spec.layer_cls.find_targets(model, config)
    in_place = tuple(spec.layer_cls.trained_in_place(model, config))
    shared = getattr(model, SHARED_ATTR, None)
    if shared is None:
        shared = nn.ModuleDict()
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
    model._peft_method = method
    model._peft_config = config
    model._peft_targets = names
    model._peft_in_place = in_place
    model._peft_pending_init = True
    if not getattr(model, "_peft_hook_registered", False):
        model.register_forward_pre_hook(_initialize_on_first_forward)
        model._peft_hook_registered = True
    logging.info("espnet_peft: %s adapters on %d modules, %d base tensor groups trained in place",
                 method, len(names), len(in_place))
    return config


@torch.no_grad()
def initialize_adapters(model: nn.Module) -> int:
    """Initialise, from the weights currently in the model, every adapter that has not
    been initialised yet. Returns how many layers were initialised."""
    from espnet_peft.state import base_fingerprint

    fresh = [(n, m) for n, m in adapter_layers(model) if not m.initialized]
    if fresh:
        # Taken before any method edits a weight (PiSSA), so it describes the base.
        model._peft_base_fingerprint = base_fingerprint(model)
    for _, layer in fresh:
        layer.init_from_base()
        layer.adapter_initialized.fill_(1)
        layer._prepared = False
    model._peft_pending_init = False
    return len(fresh)


def adapter_parameters(model: nn.Module) -> Iterator[Tuple[str, nn.Parameter]]:
    """(name, parameter) for every adapter parameter, shared ones once."""
    seen, prefixes = set(), _adapter_prefixes(model)
    for name, param in model.named_parameters():
        if under_prefix(name, prefixes) and id(param) not in seen:
            seen.add(id(param))
            yield name, param


def _adapter_prefixes(model: nn.Module) -> FrozenSet[str]:
    prefixes = []
    for name, layer in adapter_layers(model):
        prefix = f"{name}." if name else ""
        prefixes.extend(prefix + t for t in layer.adapter_tensor_names)
    if hasattr(model, SHARED_ATTR):
        prefixes.append(SHARED_ATTR)
    prefixes.extend(getattr(model, "_peft_in_place", ()))
    return frozenset(prefixes)


def under_prefix(name: str, prefixes: Collection[str]) -> bool:
    """Whether the dotted ``name`` is one of ``prefixes`` or lies below one (a lookup of
    ``name`` and each enclosing path: linear in the depth with a set of prefixes)."""
    end = len(name)
    while end > 0:
        if name[:end] in prefixes:
            return True
        end = name.rfind(".", 0, end)
    return False


def mark_only_adapters_trainable(model: nn.Module) -> None:
    prefixes = _adapter_prefixes(model)
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
    (tensors trained in place are already part of the model)."""
    _check_mergeable(model)
    for name, layer in list(adapter_layers(model)):
        _set_submodule(model, name, layer.unloaded())
    if hasattr(model, SHARED_ATTR):
        delattr(model, SHARED_ATTR)
    for attr in ("_peft_method", "_peft_config", "_peft_targets", "_peft_in_place"):
        model.__dict__.pop(attr, None)
    model._peft_pending_init = False
    return model


def count_parameters(model: nn.Module) -> Tuple[int, int]:
    """(trainable, total) parameter counts, shared parameters counted once."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def added_parameter_count(model: nn.Module) -> int:
    """Parameters the adapters add to the base model (base tensors trained in place --
    full fine-tuning, BitFit's norm biases -- are part of the base, not added)."""
    in_place = tuple(getattr(model, "_peft_in_place", ()))
    return sum(p.numel() for n, p in adapter_parameters(model)
               if not under_prefix(n, in_place))


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
