"""SSVD (structured SVD-guided fine-tuning, arXiv 2509.02830).

Keeps the top-k singular triplets of the pretrained weight and learns a shift of the
singular values plus one k x k rotation of the singular vectors. ``side`` says which:

- ``input`` (default): the input-side (right, "acoustic") singular vectors, as the
  paper describes the method (W = W_res + U_k (S_k + dS) G V_k^T);
- ``smaller``: the smaller side of the layer, which is the input side when in <= out and
  the output side otherwise (w_2, a vocabulary projection with out < in). ESPnet's
  reference code does this: it takes the SVD of W0^T when out < in.

Square layers (attention) are the same either way; the parameter count is too (k is a
fraction of min(in, out) either way). Trainable parameters per layer: k(k-1)/2 + k
(``strict``/``approx``), k^2 + k (``none``). ``k`` is given directly or as
``k_fraction`` of min(in, out). Adapter files written before ``side`` existed rotated
the smaller side and still load as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.methods.svd_rotation import SVDRotationConfig, SVDRotationLinear, rank_from_fraction
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show ssvd.
CARD = {"name": "ssvd", "display": "SSVD", "order": 60, "color": "#d62728", "marker": "D",
        "group": "seed", "hyperparameters": {"k": {"latex": "$k$"}, "k_fraction": {"ascii": "k", "latex": "$k$", "percent": True}, "rotation": {}, "side": {}},
    "benchmark": {"k_fraction": 0.4}, "svd_init": True}


SIDES = ("input", "smaller")


@dataclass
class SSVDConfig(SVDRotationConfig):
    side: str = "input"
    stored_before = {"side": "smaller"}

    def validate(self) -> None:
        super().validate()
        if self.side not in SIDES:
            raise AdapterConfigError(f"side must be one of {SIDES}, got {self.side!r}")


@register_method(CARD["name"], SSVDConfig)
class SSVDLinear(SVDRotationLinear):
    method = "ssvd"

    def __init__(self, base: nn.Linear, config: SSVDConfig):
        k = rank_from_fraction(base.in_features, base.out_features, config.k, config.k_fraction)
        input_side = config.side == "input" or base.in_features <= base.out_features
        super().__init__(base, config, k, k_in=k if input_side else 0, k_out=0 if input_side else k)
