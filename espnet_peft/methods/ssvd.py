"""SSVD (structured SVD-guided fine-tuning, arXiv 2509.02830).

Keeps the top-k singular triplets of the pretrained weight and learns a shift of the
singular values plus one k x k rotation of the singular vectors on the *smaller* side
of the layer (input side when in <= out, as ESPnet's reference takes the SVD of W0^T
when out < in). Trainable parameters per layer: k(k-1)/2 + k (``strict``/``approx``),
k^2 + k (``none``). ``k`` is given directly or as ``k_fraction`` of min(in, out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.methods.svd_rotation import SVDRotationLinear, rank_from_fraction
from espnet_peft.core.registry import register_method
from espnet_peft.ops.rotation import ROTATION_KINDS

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show ssvd.
CARD = {"name": "ssvd", "display": "SSVD", "order": 60, "color": "#d62728", "marker": "D",
        "group": "seed", "hyperparameters": {"k": {"latex": "$k$"}, "k_fraction": {"ascii": "k", "latex": "$k$", "percent": True}, "rotation": {}},
    "benchmark": {"k_fraction": 0.4}, "svd_init": True}


@dataclass
class SSVDConfig(AdapterConfig):
    k: Optional[int] = None
    k_fraction: float = 0.4
    rotation: str = "approx"

    def validate(self) -> None:
        super().validate()
        if self.rotation not in ROTATION_KINDS:
            raise AdapterConfigError(f"rotation must be one of {ROTATION_KINDS}, got {self.rotation!r}")
        if self.k is None:
            self.check_interval("k_fraction", 0, 1, "(]")
        else:
            self.check_integer("k")


@register_method(CARD["name"], SSVDConfig)
class SSVDLinear(SVDRotationLinear):
    method = "ssvd"

    def __init__(self, base: nn.Linear, config: SSVDConfig):
        k = rank_from_fraction(base.in_features, base.out_features, config.k, config.k_fraction)
        input_side = base.in_features <= base.out_features
        super().__init__(base, config, k, k_in=k if input_side else 0, k_out=0 if input_side else k)
