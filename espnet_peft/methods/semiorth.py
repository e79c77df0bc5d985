"""Semi-orthogonal low-rank factorisation (seed 001; Povey et al., Interspeech 2018,
the TDNN-F factorisation in Kaldi).

A targeted Linear W0 (out x in) is replaced by ``W = U V`` with U (out x r) and V
(r x in) semi-orthogonal (V Vᵀ = I), initialised from the truncated SVD of the
pretrained weight: ``U = U_r S_r``, ``V = V_rᵀ``. That is a *truncation*: unlike the
other methods the model changes at injection (exactly the best rank-r approximation of
each W0), and it computes with r(in + out) instead of in·out weights. U and V are then
fine-tuned; the bias stays frozen.

The constraint is kept as in Kaldi: after every optimiser step (detected as a new
version of V, checked at the next training-mode forward, so ESPnet's unmodified
trainer needs no hook) V is pulled back towards V Vᵀ = I with
``V <- V - 1/2 (V Vᵀ - I) V``, repeated until the deviation is below ``orth_tol``
(a step or two when it starts close). This costs O(r² · in) per layer and step;
``torch.nn.utils.parametrizations.orthogonal`` would recompute an orthogonal matrix in
every forward and renames the tensor in the state dict (measured: docs/methods.md).

The frozen W0 stays in the module only so that state-dict keys and ``--init_param``
loading are unchanged; the adapted model does not use it (``replaces_weight``):
``espnet_peft.core.inject.adapted_model_size`` counts the model without it. Merging writes
U V into ``weight`` (a plain model of the base architecture, decodable without this
package; unmerge restores W0).

LoRA on top (``lora_r`` > 0): ``W = U V + (lora_alpha / lora_r) B A`` with A
Kaiming-uniform, B = 0, trained with the factors, or alone with ``train_factors: false``
(U and V then stay at their SVD values; they are buffers, saved with the adapter but
never trained or re-orthogonalised). Everything happens in one run: a two-stage
schedule (factors first, then LoRA on those trained factors) would need the second run
to start from the first run's factors, which this method does not load.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear, kaiming_uniform_
from espnet_peft.core.registry import register_method

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show semiorth.
CARD = {"name": "semiorth", "display": "semi-orthogonal", "order": 120, "color": "#ff9896", "marker": "p",
        "group": "baseline", "hyperparameters": {"rank_fraction": {"tag": "rank", "ascii": "rank", "percent": True}}}


@dataclass
class SemiOrthConfig(AdapterConfig):
    """``rank`` (if > 0) or ``rank_fraction`` of min(in, out) per layer. The default
    0.15 takes an OWSM-v3.1-base-shaped model from 101.18M to 76.42M parameters (-24.5 %,
    the seed's ~24 %) with the default targets."""

    rank: int = 0
    rank_fraction: float = 0.15
    orth_tol: float = 1e-4
    train_factors: bool = True
    lora_r: int = 0
    lora_alpha: float = 16.0

    def validate(self) -> None:
        super().validate()
        self.check_integer("rank", "lora_r", minimum=0)
        if self.rank == 0:
            self.check_interval("rank_fraction", 0, 1, "(]")
        self.check_interval("orth_tol", 0, brackets="()")
        if not self.train_factors and not self.lora_r:
            raise AdapterConfigError("train_factors: false leaves nothing to train; set lora_r > 0")


@torch.no_grad()
def constrain_semi_orthogonal_(v: torch.Tensor, tol: float, max_iter: int = 8) -> int:
    """Kaldi's update ``V <- V - 1/2 (V Vᵀ - I) V`` until ``‖V Vᵀ - I‖_F <= tol``
    (rows of V orthonormal). Returns the number of updates made."""
    eye = torch.eye(v.shape[0], device=v.device, dtype=torch.float32)
    vf = v.float()
    for i in range(max_iter):
        q = vf @ vf.t() - eye
        if torch.linalg.matrix_norm(q) <= tol:
            break
        vf = vf - 0.5 * (q @ vf)
    else:
        i = max_iter
    if i:
        v.copy_(vf.to(v.dtype))
    return i


@register_method(CARD["name"], SemiOrthConfig)
class SemiOrthLinear(AdapterLinear):
    method = "semiorth"
    adapter_tensor_names = ("semiorth_U", "semiorth_V")
    replaces_weight = True

    def __init__(self, base: nn.Linear, config: SemiOrthConfig):
        super().__init__(base, config)
        r = config.rank or max(1, int(self.max_rank * config.rank_fraction))
        if r > self.max_rank:
            raise AdapterConfigError(
                f"semiorth: rank {r} exceeds the rank of a {self.out_features}x{self.in_features} layer")
        self.rank = r
        self.orth_tol = config.orth_tol
        dev, dt = base.weight.device, base.weight.dtype
        u = torch.zeros(self.out_features, r, device=dev, dtype=dt)
        v = torch.zeros(r, self.in_features, device=dev, dtype=dt)
        if config.train_factors:
            self.semiorth_U, self.semiorth_V = nn.Parameter(u), nn.Parameter(v)
        else:  # frozen, but part of the adapter (the base holds only W0)
            self.register_buffer("semiorth_U", u)
            self.register_buffer("semiorth_V", v)
        self._v_version = -1
        self.lora_r = config.lora_r
        if self.lora_r:
            if self.lora_r > self.max_rank:
                raise AdapterConfigError(
                    f"semiorth: lora_r={self.lora_r} exceeds the rank of a "
                    f"{self.out_features}x{self.in_features} layer")
            self.lora_A = nn.Parameter(kaiming_uniform_(torch.empty(self.lora_r, self.in_features, device=dev, dtype=dt)))
            self.lora_B = nn.Parameter(torch.zeros(self.out_features, self.lora_r, device=dev, dtype=dt))
            self.lora_scaling = config.lora_alpha / self.lora_r
            self.adapter_tensor_names = self.adapter_tensor_names + ("lora_A", "lora_B")

    @torch.no_grad()
    def init_from_base(self) -> None:
        u, s, vh = torch.linalg.svd(self.weight.detach().double(), full_matrices=False)
        r = self.rank
        self.semiorth_U.copy_((u[:, :r] * s[:r]).to(self.semiorth_U.dtype))
        self.semiorth_V.copy_(vh[:r].to(self.semiorth_V.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._prepared:
            self._ensure_prepared()
        if self.merged:
            return F.linear(x, self.weight, self.bias)
        v = self.semiorth_V
        if self.training and isinstance(v, nn.Parameter) and v._version != self._v_version:
            constrain_semi_orthogonal_(v, self.orth_tol)
            self._v_version = v._version
        out = F.linear(F.linear(x, v), self.semiorth_U, self.bias)
        if self.lora_r:
            out = out + (x @ self.lora_A.t()) @ self.lora_B.t() * self.lora_scaling
        return out

    def factorised_weight(self) -> torch.Tensor:
        """The dense weight this layer computes with: U V (+ the LoRA update)."""
        w = self.semiorth_U @ self.semiorth_V
        if self.lora_r:
            w = w + (self.lora_B @ self.lora_A) * self.lora_scaling
        return w

    def delta_weight(self) -> torch.Tensor:
        return self.factorised_weight() - self.weight

    def _fold_into_weight(self) -> None:
        self._w0 = self.weight.data.clone()
        self.weight.data.copy_(self.factorised_weight().to(self.weight.dtype))

    def _unfold_from_weight(self) -> None:
        self.weight.data.copy_(self._w0)
        del self._w0
