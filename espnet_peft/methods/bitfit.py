"""BitFit (Ben Zaken et al., 2022; seed 000): train only bias terms.

Each targeted Linear gets a trainable bias delta (zero at start) added to its frozen
bias -- the same function and gradients as training that bias directly, but the base
stays untouched, so the adapter is tiny and merges exactly into ``bias``. Linear layers
without a bias (e.g. Whisper's key projection) have nothing to tune and are skipped;
a selection in which no Linear has a bias is an error. ``target_modules: [".*"]``
selects every Linear with a bias.

``norm_bias: true`` also trains the bias (beta) of every normalisation layer
(LayerNorm, GroupNorm, BatchNorm), as the BitFit paper does; those are trained in place
and saved as part of the adapter. Default false: the seed's "biases only" refers to
the projections' biases, and norm biases are few (2 x 384 per block in OWSM).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch
import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show bitfit.
CARD = {"name": "bitfit", "display": "BitFit", "order": 20, "color": "#17becf", "marker": ">",
        "group": "baseline", "hyperparameters": {}}

NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


@dataclass
class BitFitConfig(AdapterConfig):
    norm_bias: bool = False


@register_method(CARD["name"], BitFitConfig)
class BitFitLinear(AdapterLinear):
    method = "bitfit"
    adapter_tensor_names = ("bitfit_bias",)

    def __init__(self, base: nn.Linear, config: BitFitConfig):
        super().__init__(base, config)
        self.bitfit_bias = nn.Parameter(torch.zeros_like(base.bias))

    @classmethod
    def find_targets(cls, model: nn.Module, config: BitFitConfig) -> List[str]:
        names = super().find_targets(model, config)
        with_bias = [n for n in names if model.get_submodule(n).bias is not None]
        if not with_bias:
            raise AdapterConfigError(
                f"bitfit: none of the Linear layers that target_modules {config.target_modules} "
                f"selects has a bias (e.g. {names[:3]})")
        return with_bias

    @classmethod
    def trained_in_place(cls, model: nn.Module, config: BitFitConfig) -> List[str]:
        if not config.norm_bias:
            return []
        return [f"{n}.bias" if n else "bias" for n, m in model.named_modules()
                if isinstance(m, NORM_TYPES) and getattr(m, "bias", None) is not None]

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bitfit_bias

    def delta_weight(self) -> torch.Tensor:
        return torch.zeros_like(self.weight)

    def _fold_into_weight(self) -> None:
        self.bias.data += self.bitfit_bias.to(self.bias.dtype)

    def _unfold_from_weight(self) -> None:
        self.bias.data -= self.bitfit_bias.to(self.bias.dtype)
