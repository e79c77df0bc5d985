"""Trainable-parameter counts of a method on a model (a meta-device model stays on the meta
device, so counting a 2B model allocates no weights)."""

from __future__ import annotations

import copy
import dataclasses

import torch

from espnet_peft.core.adapter_tensors import adapter_layers
from espnet_peft.core.config import DEFAULT_TARGET_MODULES
from espnet_peft.core.inject import adapted_model_size, count_parameters, inject_adapters, mark_only_adapters_trainable
from espnet_peft.core.registry import get_method
from espnet_peft.core.targets import pattern_matches


def targets_present(model, patterns):
    """The patterns that select at least one module of ``model``."""
    names = [n for n, _ in model.named_modules() if n]
    return [p for p in patterns if any(pattern_matches(p, n) for n in names)]


def with_targets(name: str, conf: dict, targets) -> dict:
    """``conf`` with ``target_modules`` = ``targets`` where the method selects Linear
    layers by pattern (its default is the attention/feed-forward list) and ``conf``
    names none; bottleneck and full choose their own tensors."""
    fields = {f.name: f for f in dataclasses.fields(get_method(name).config_cls)}
    field = fields.get("target_modules")
    if targets is None or "target_modules" in conf or field is None \
            or field.default_factory() != DEFAULT_TARGET_MODULES:
        return conf
    return dict(conf, target_modules=list(targets))


def count_method(base, name: str, conf: dict) -> dict:
    """Adapted layers, trainable parameters and adapted model size of ``name`` on a copy
    of ``base`` (a meta-device base stays on the meta device)."""
    model = copy.deepcopy(base)
    device = next(base.parameters()).device
    with torch.device(device):
        inject_adapters(model, name, **conf)
    mark_only_adapters_trainable(model)
    trainable, _ = count_parameters(model)
    return {"layers": sum(1 for _ in adapter_layers(model)), "trainable": trainable,
            # Parameters the adapted model computes with (semiorth's factors replace W0).
            "size": adapted_model_size(model)}
