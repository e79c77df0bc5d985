"""PiSSA (Meng et al., 2024): LoRA whose factors start at the top-r singular triplets of
the *pretrained* weight; the residual ``W0 - s * B @ A`` stays frozen in ``weight``.

As in HF peft: ``W0 = U S V^T``, ``S_r <- S_r / s``, ``B = U_r sqrt(S_r)``,
``A = sqrt(S_r) V_r^T``, so ``s * B @ A`` equals the rank-r part of ``W0`` and the
model's output is unchanged at initialisation (to float rounding).

The residual ``W0 - U_r S_r V_r^T`` does not depend on the SVD's sign convention, so
it is recomputed from the base weight whenever ``weight`` holds the base (after
loading a base checkpoint and an adapter-only one, or when ESPnet resumes a
``required_grad_only`` checkpoint) and left alone when it already holds the residual
(a full checkpoint of an adapted model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.methods.lora import LoRAConfig, LowRankLinear
from espnet_peft.core.registry import register_method
from espnet_peft.ops.svd import canonical_svd

# The catalog entry (espnet_peft.methods.catalog): how tables, plots and run names show pissa.
CARD = {"name": "pissa", "display": "PiSSA", "order": 50, "color": "#2ca02c", "marker": "^",
        "group": "seed", "hyperparameters": {"r": {"latex": "$r$"}, "alpha": {"unicode": "α", "latex": r"$\alpha$"}},
    "benchmark": {"r": 32, "alpha": 32}, "hf_peft": {"init_lora_weights": "pissa"}, "svd_init": True}


@dataclass
class PiSSAConfig(LoRAConfig):
    # None = r, i.e. scaling 1 (PiSSA's own definition, and how the SSVD paper runs it):
    # s * B @ A is then the principal part of W0 with B, A = U_r sqrt(S_r), sqrt(S_r) V_r^T.
    alpha: Optional[float] = None

    def validate(self) -> None:
        if self.alpha is None:
            self.alpha = self.r
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)):
            raise AdapterConfigError(f"adapter_conf 'alpha' for 'pissa' must be a number, got {self.alpha!r}")
        self.alpha = float(self.alpha)
        super().validate()


@register_method(CARD["name"], PiSSAConfig)
class PiSSALinear(LowRankLinear):
    method = "pissa"

    def __init__(self, base, config):
        super().__init__(base, config)
        self._weight_is_residual = False

    def _principal(self, w: torch.Tensor):
        u, s, vh = canonical_svd(w, self.lora_A.shape[0])
        s_r = s / self.scaling
        return u * s_r.sqrt()[None, :], s_r.sqrt()[:, None] * vh

    @torch.no_grad()
    def init_from_base(self) -> None:
        b, a = self._principal(self.weight.data.float())
        self.lora_A.data.copy_(a.to(self.lora_A.dtype))
        self.lora_B.data.copy_(b.to(self.lora_B.dtype))
        self._to_residual(b, a)

    @torch.no_grad()
    def prepare(self) -> None:
        if not self._weight_is_residual:
            self._to_residual(*self._principal(self.weight.data.float()))

    def _to_residual(self, b: torch.Tensor, a: torch.Tensor) -> None:
        w = self.weight.data.float() - self.scaling * (b @ a)
        self.weight.data.copy_(w.to(self.weight.dtype))
        self._weight_is_residual = True

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        if prefix + "weight" in state_dict:
            # A full checkpoint of an adapted model carries the residual (and the flag);
            # a base checkpoint carries W0 (and no flag, or ours from before init).
            flag = state_dict.get(prefix + "adapter_initialized")
            self._weight_is_residual = bool(flag) if flag is not None else False
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
