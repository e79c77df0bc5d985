"""S2-LoRA, sparsely shared LoRA (seed 000: Whisper on child speech).

All adapted matrices of one shape share a single pair of factors A (r x in) and
B (out x r); each matrix l owns only a rank-coefficient vector lambda_l (r numbers):
``delta W_l = s * B diag(lambda_l) A``. An L1 penalty ``l1_weight * sum_l |lambda_l|_1``
(returned by ``regularization_loss`` and added to ESPnet's training loss by the
plugin) drives the coefficients to a sparse per-matrix rank distribution.

Initialisation (the paper does not fix it; ours keeps the model unchanged at start):
A Kaiming-uniform, B = 0, lambda = 1, so every matrix starts as plain shared LoRA.
The shared factors live once in the root model under ``peft_shared.s2lora_<out>x<in>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear, adapter_dropout, dropout_inactive, kaiming_uniform_
from espnet_peft.methods.lora import LoRAConfig
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show s2lora.
CARD = {"name": "s2lora", "display": "S2-LoRA", "order": 80, "color": "#8c564b", "marker": "P",
        "group": "seed", "hyperparameters": {"r": {"latex": "$r$"}, "alpha": {"unicode": "α", "latex": r"$\alpha$"}, "l1_weight": {"ascii": "l1", "unicode": "L1", "latex": "L1"}},
    "benchmark": {"r": 32, "alpha": 64}, "reports_ranks": True}


@dataclass
class S2LoRAConfig(LoRAConfig):
    l1_weight: float = 1e-4

    def validate(self) -> None:
        super().validate()
        self.check_interval("l1_weight", 0, brackets="[)")


class SharedFactors(nn.Module):
    def __init__(self, r: int, in_features: int, out_features: int, device, dtype):
        super().__init__()
        self.lora_A = nn.Parameter(kaiming_uniform_(torch.empty(r, in_features, device=device, dtype=dtype)))
        self.lora_B = nn.Parameter(torch.zeros(out_features, r, device=device, dtype=dtype))


@register_method(CARD["name"], S2LoRAConfig)
class S2LoRALinear(AdapterLinear):
    method = "s2lora"
    adapter_tensor_names = ("s2lora_lambda",)

    def __init__(self, base: nn.Linear, config: S2LoRAConfig, shared: SharedFactors):
        super().__init__(base, config)
        if config.r > self.max_rank:
            raise AdapterConfigError(
                f"s2lora: r={config.r} exceeds the rank of a {self.out_features}x{self.in_features} layer")
        # A plain attribute, not a submodule: the factors are owned (and saved) once,
        # by the root model's ``peft_shared``.
        object.__setattr__(self, "shared", shared)
        self.s2lora_lambda = nn.Parameter(torch.ones(config.r, device=base.weight.device, dtype=base.weight.dtype))
        self.scaling = config.scaling
        self.l1_weight = config.l1_weight
        self.lora_dropout = adapter_dropout(config.dropout)

    @classmethod
    def from_linear(cls, base, config, shared: nn.ModuleDict, name: str):
        key = f"s2lora_{base.out_features}x{base.in_features}"
        if key not in shared:
            shared[key] = SharedFactors(config.r, base.in_features, base.out_features,
                                        base.weight.device, base.weight.dtype)
        return cls(base, config, shared[key])

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        h = (self.lora_dropout(x) @ self.shared.lora_A.t()) * (self.s2lora_lambda * self.scaling)
        return h @ self.shared.lora_B.t()

    def delta_weight(self) -> torch.Tensor:
        return (self.shared.lora_B * (self.s2lora_lambda * self.scaling)) @ self.shared.lora_A

    def lowrank_parts(self):
        if not dropout_inactive(self.lora_dropout):
            return None
        return self.shared.lora_A, self.shared.lora_B, torch.diag(self.s2lora_lambda), self.scaling, None

    def rank_values(self):
        return self.s2lora_lambda.detach(), None

    @classmethod
    def rank_records(cls, tensors, where: str):
        raise ValueError(
            f"{where}: an S2-LoRA adapter file does not record the shape of each layer; give the "
            "training config as well (--config CONFIG --model_file ADAPTER_FILE)")

    def regularization_loss(self):
        if self.l1_weight == 0:
            return None
        return self.l1_weight * self.s2lora_lambda.abs().sum()
