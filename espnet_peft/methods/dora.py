"""DoRA (Liu et al., 2024): ``W = m * (W0 + s B A) / ||W0 + s B A||_row``.

The row norm is detached from the graph (as in the DoRA paper and HF peft) and
computed without materialising ``W0 + s B A``:
``||w_i + s b_i A||^2 = ||w_i||^2 + 2 s <b_i, (W0 A^T)_i> + s^2 b_i (A A^T) b_i^T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from espnet_peft.ops.fused import can_fuse, lowrank_linear
from espnet_peft.methods.lora import LoRAConfig, LowRankLinear
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show dora.
CARD = {"name": "dora", "display": "DoRA", "order": 40, "color": "#ff7f0e", "marker": "s",
        "group": "seed", "hyperparameters": {"r": {"latex": "$r$"}, "alpha": {"unicode": "α", "latex": r"$\alpha$"}},
    "benchmark": {"r": 32, "alpha": 64}, "hf_peft": {"use_dora": True}}


@dataclass
class DoRAConfig(LoRAConfig):
    pass


@register_method(CARD["name"], DoRAConfig)
class DoRALinear(LowRankLinear):
    method = "dora"
    adapter_tensor_names = ("lora_A", "lora_B", "lora_magnitude")

    def __init__(self, base: nn.Linear, config: DoRAConfig):
        super().__init__(base, config)
        self.lora_magnitude = nn.Parameter(
            torch.ones(self.out_features, device=base.weight.device, dtype=base.weight.dtype))
        # ||w_i||^2 of the frozen weight: rebuilt by prepare() after loads and unmerges.
        self.register_buffer("_w0_sq", torch.empty(0, device=base.weight.device, dtype=base.weight.dtype),
                             persistent=False)
        self._merge_scale = None

    @torch.no_grad()
    def prepare(self) -> None:
        w0 = self.weight.detach()
        self._w0_sq = (w0 * w0).sum(1)

    @torch.no_grad()
    def init_from_base(self) -> None:
        self.lora_magnitude.data.copy_(self.weight.detach().float().norm(dim=1).to(self.lora_magnitude.dtype))

    @torch.no_grad()
    def weight_norm(self) -> torch.Tensor:
        w0 = self.weight.detach()
        a, b, s = self.lora_A.detach(), self.lora_B.detach(), self.scaling
        w0_sq = self._w0_sq if self._prepared else (w0 * w0).sum(1)  # prepare() filled it
        sq = w0_sq + 2 * s * (b * (w0 @ a.t())).sum(1) + s * s * ((b @ (a @ a.t())) * b).sum(1)
        return sq.clamp_min(0).sqrt()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._prepared:
            self._ensure_prepared()
        if self.merged:
            return F.linear(x, self.weight, self.bias)
        scale = self.lora_magnitude / self.weight_norm()
        parts = self.lowrank_parts() if can_fuse(x, self.weight, self.bias) else None
        if parts is not None:
            return lowrank_linear(x, self.weight, self.bias, *parts[:4], row_scale=scale)
        out = F.linear(x, self.weight) + self.delta_forward(x)
        out = out * scale
        return out if self.bias is None else out + self.bias

    def delta_weight(self) -> torch.Tensor:
        # Only meaningful for merging: the full change of the weight.
        w = self.weight.detach()
        scale = (self.lora_magnitude / self.weight_norm()).detach()
        return scale[:, None] * (w + super().delta_weight()) - w

    def _fold_into_weight(self) -> None:
        self._merge_scale = (self.lora_magnitude / self.weight_norm()).clone()
        self.weight.data = (self._merge_scale[:, None] * (self.weight.data + LowRankLinear.delta_weight(self))
                            ).to(self.weight.dtype)

    def _unfold_from_weight(self) -> None:
        self.weight.data = (self.weight.data / self._merge_scale[:, None]
                            - LowRankLinear.delta_weight(self)).to(self.weight.dtype)
        self._prepared = False  # ||w_i||^2 again from the restored weight
