"""LoRA (Hu et al., 2021): ``W = W0 + (alpha / r) * B @ A``, A Kaiming-uniform, B = 0."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear, adapter_dropout, dropout_inactive, kaiming_uniform_
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show lora.
CARD = {"name": "lora", "display": "LoRA", "order": 30, "color": "#1f77b4", "marker": "o",
        "group": "seed", "hyperparameters": {"r": {"latex": "$r$"}, "alpha": {"unicode": "α", "latex": r"$\alpha$"}},
    "benchmark": {"r": 32, "alpha": 64}, "hf_peft": {}}


@dataclass
class LoRAConfig(AdapterConfig):
    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0

    def validate(self) -> None:
        super().validate()
        self.check_integer("r")
        self.check_interval("dropout", 0, 1, "[)")

    @property
    def scaling(self) -> float:
        return self.alpha / self.r


class LowRankLinear(AdapterLinear):
    """Shared by LoRA, DoRA and PiSSA: factors named as in HF peft (``lora_A``: r x in,
    ``lora_B``: out x r) so adapter state dicts map one-to-one onto peft's."""

    adapter_tensor_names = ("lora_A", "lora_B")

    def __init__(self, base: nn.Linear, config: LoRAConfig):
        super().__init__(base, config)
        r = config.r
        if r > self.max_rank:
            raise AdapterConfigError(
                f"{self.method}: r={r} exceeds the rank of a {self.out_features}x{self.in_features} layer")
        dev, dt = base.weight.device, base.weight.dtype
        self.lora_A = nn.Parameter(kaiming_uniform_(torch.empty(r, self.in_features, device=dev, dtype=dt)))
        self.lora_B = nn.Parameter(torch.zeros(self.out_features, r, device=dev, dtype=dt))
        self.scaling = config.scaling
        self.lora_dropout = adapter_dropout(config.dropout)

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.lora_dropout(x) @ self.lora_A.t()) @ self.lora_B.t() * self.scaling

    def delta_weight(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A) * self.scaling

    def lowrank_parts(self):
        if not dropout_inactive(self.lora_dropout):
            return None
        return self.lora_A, self.lora_B, None, self.scaling, None


@register_method(CARD["name"], LoRAConfig)
class LoRALinear(LowRankLinear):
    method = "lora"
