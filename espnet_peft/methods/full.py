"""Full fine-tuning as a method: every parameter of the model (or of the modules that
``target_modules`` names) trains in place, so tables, sweeps and the adapter-file API
treat it like any adapter.

Its "adapter" is the trained tensors themselves: with the default (whole model) the
adapter state dict and an adapter-only checkpoint are the full model, which loads onto
any model of the same architecture (there is no base left to check). Nothing is added,
so merging is a no-op and ``merge_and_unload`` returns the model as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.registry import register_method
from espnet_peft.core.targets import select_modules

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show full.
CARD = {"name": "full", "display": "full fine-tuning", "order": 10, "color": "#000000", "marker": "*",
        "group": "baseline", "hyperparameters": {}}


@dataclass
class FullConfig(AdapterConfig):
    """``target_modules`` empty (default): the whole model; otherwise the modules whose
    names match (suffixes or regular expressions, any module type) train in full."""

    target_modules: List[str] = field(default_factory=list)

    def validate(self) -> None:
        if isinstance(self.target_modules, str):
            self.target_modules = [self.target_modules]


def _minimal_cover(names: List[str]) -> List[str]:
    """Drop names that lie inside another selected module."""
    out: List[str] = []
    for name in sorted(names):
        if not any(name.startswith(kept + ".") for kept in out):
            out.append(name)
    return out


@register_method(CARD["name"], FullConfig)
class FullFineTuning:
    """Not a layer: full fine-tuning adds no module, it only marks base tensors as the
    trained ("adapter") tensors (``trained_in_place``)."""

    method = "full"

    @classmethod
    def find_targets(cls, model: nn.Module, config: FullConfig) -> List[str]:
        return []

    @classmethod
    def trained_in_place(cls, model: nn.Module, config: FullConfig) -> List[str]:
        if not config.target_modules:
            own = [n for n, _ in model.named_parameters(recurse=False)]
            own += [n for n, _ in model.named_buffers(recurse=False)]
            return own + [n for n, _ in model.named_children()]
        return _minimal_cover(select_modules(model, config.target_modules, "full"))
