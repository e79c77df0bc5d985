"""S2-LoRA, sparsely shared LoRA (seed 000: Whisper on child speech).

All adapted matrices of one shape share a single pair of factors A (r x in) and
B (out x r); each matrix l owns only a rank-coefficient vector lambda_l (r numbers):
``delta W_l = s * B diag(lambda_l) A``. The coefficients carry an L1 penalty
``l1_weight * sum_l |lambda_l|_1`` that makes them sparse, so that each matrix ends up
with its own rank (the paper compares that distribution with AdaLoRA's).

The penalty is applied as a proximal step after each optimiser step
(``espnet_peft.core.proximal``: soft-thresholding in Adam's metric), not as a loss term:
a coefficient is then exactly 0 while its loss gradient stays below ``l1_weight``, and a
matrix whose coefficients are all 0 is not adapted at all. (An L1 subgradient added to
the loss never gives exact zeros under Adam.)

Initialisation (the paper does not fix it): A and B Kaiming-uniform, lambda = 0, so the
model is unchanged at the start and every coefficient enters only once its gradient
exceeds the penalty weight. (With lambda = 1 and B = 0 the coefficients' gradients are 0
at the start and the first proximal step would prune every one of them for good.)
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
    # The loss gradient a coefficient must exceed to become (and stay) non-zero;
    # conf/tuning/ of the mini_synth recipe shows how it was chosen there.
    l1_weight: float = 0.1

    def validate(self) -> None:
        super().validate()
        self.check_interval("l1_weight", 0, brackets="[)")


class SharedFactors(nn.Module):
    def __init__(self, r: int, in_features: int, out_features: int, device, dtype):
        super().__init__()
        self.lora_A = nn.Parameter(kaiming_uniform_(torch.empty(r, in_features, device=device, dtype=dtype)))
        self.lora_B = nn.Parameter(kaiming_uniform_(torch.empty(out_features, r, device=device, dtype=dtype)))


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
        self.s2lora_lambda = nn.Parameter(torch.zeros(config.r, device=base.weight.device, dtype=base.weight.dtype))
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
        lam = self.s2lora_lambda.detach()
        return lam.abs(), int(torch.count_nonzero(lam))

    @classmethod
    def rank_records(cls, tensors, where: str):
        raise ValueError(
            f"{where}: an S2-LoRA adapter file does not record the shape of each layer; give the "
            "training config as well (--config CONFIG --model_file ADAPTER_FILE)")

    @torch.no_grad()
    def proximal_step(self, step_size) -> None:
        """Soft-threshold lambda by ``l1_weight`` times the optimiser's step size."""
        t = step_size(self.s2lora_lambda) if self.l1_weight > 0 else None
        if t is None:
            return
        lam = self.s2lora_lambda
        lam.copy_(lam.sign() * (lam.abs() - self.l1_weight * t).clamp_min(0))
