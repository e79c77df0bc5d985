"""SSVD-O (SSVD-Outer): SSVD's inner rotation of the input-side ("acoustic") singular
vectors plus an outer rotation of the output-side ("semantic") ones.

``budget_ratio`` is the share of the rotation budget given to the outer side. The
budget is that of one full k x k rotation, k(k-1)/2 parameters; the outer rotation
acts on the leading ``k_out`` directions and the inner one on the leading ``k_in``,
with ``k_out(k_out-1)/2 <= budget_ratio * k(k-1)/2`` and likewise for the inner side
(each the largest integer that fits). ``budget_ratio = 0`` is SSVD with the rotation
on the input side; 1 puts the whole budget on the output side.
Trainable parameters per layer: k_in(k_in-1)/2 + k_out(k_out-1)/2 + k.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn as nn

from espnet_peft.methods.svd_rotation import SVDRotationConfig, SVDRotationLinear, rank_from_fraction
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show ssvd_o.
CARD = {"name": "ssvd_o", "display": "SSVD-O", "order": 70, "color": "#9467bd", "marker": "v",
        "group": "seed", "hyperparameters": {"k": {"latex": "$k$"}, "k_fraction": {"ascii": "k", "latex": "$k$", "percent": True}, "rotation": {}, "budget_ratio": {"ascii": "outer"}},
    "benchmark": {"k_fraction": 0.4, "budget_ratio": 0.5}, "svd_init": True,
    "sweep_plot": {"key": "budget_ratio", "label": "budget ratio (outer share)"}}


def rotation_size_for_budget(budget: float) -> int:
    """Largest n with n(n-1)/2 <= budget."""
    n = int((1 + math.sqrt(1 + 8 * max(budget, 0.0))) / 2)
    while n * (n - 1) / 2 > budget + 1e-9:
        n -= 1
    return n


@dataclass
class SSVDOConfig(SVDRotationConfig):
    budget_ratio: float = 0.5

    def validate(self) -> None:
        super().validate()
        self.check_interval("budget_ratio", 0, 1)


@register_method(CARD["name"], SSVDOConfig)
class SSVDOLinear(SVDRotationLinear):
    method = "ssvd_o"

    def __init__(self, base: nn.Linear, config: SSVDOConfig):
        k = rank_from_fraction(base.in_features, base.out_features, config.k, config.k_fraction)
        budget = k * (k - 1) / 2
        k_out = min(k, rotation_size_for_budget(config.budget_ratio * budget))
        k_in = min(k, rotation_size_for_budget((1 - config.budget_ratio) * budget))
        super().__init__(base, config, k, k_in=k_in, k_out=k_out)
