"""The machinery SSVD and SSVD-O share (see ssvd.py and ssvd_o.py for the methods).

With the thin SVD of the pretrained weight ``W0 = U S V^T`` and its top-k triplets,
the adapted weight is

    W = W0 + U_k (G_out diag(s_k + dsigma) G_in - diag(s_k)) V_k^T

where G_in rotates the input-side (right, "acoustic") singular vectors and G_out the
output-side (left, "semantic") ones. Each rotation acts on the leading ``k_in`` /
``k_out`` of the k directions (identity on the rest). Everything starts at G = I,
dsigma = 0, so the model is unchanged at initialisation. ``W0`` itself is never
modified, and the delta is applied as a path on the activations:
``x -> x V_k -> x V_k D^T -> x V_k D^T U_k^T`` with the k x k core D, which costs
``k (in + out + k)`` per token instead of rebuilding an ``out x in`` matrix.
U_k, s_k, V_k are non-persistent: they are recomputed from ``weight`` (cheaply cached
per process) so checkpoints carry only dsigma and the rotation parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from espnet_peft.core.config import AdapterConfig
from espnet_peft.core.errors import AdapterConfigError
from espnet_peft.core.layer import AdapterLinear
from espnet_peft.ops.rotation import ROTATION_KINDS, Rotation
from espnet_peft.ops.svd import canonical_svd


@dataclass
class SVDRotationConfig(AdapterConfig):
    """The fields SSVD and SSVD-O share: k (or k_fraction of min(in, out)), rotation."""

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


def rank_from_fraction(in_features: int, out_features: int, k, k_fraction) -> int:
    m = min(in_features, out_features)
    k = int(k) if k is not None else int(m * k_fraction)  # ESPnet's SSVD: int(min(in, out) * ratio)
    if not 1 <= k <= m:
        raise AdapterConfigError(
            f"k={k} is outside [1, {m}] for a {out_features}x{in_features} layer")
    return k


class SVDRotationLinear(AdapterLinear):
    adapter_tensor_names = ("sigma_delta", "rot_in", "rot_out")

    def __init__(self, base: nn.Linear, config, k: int, k_in: int, k_out: int):
        super().__init__(base, config)
        dev, dt = base.weight.device, base.weight.dtype
        self.k, self.k_in, self.k_out = k, k_in, k_out
        self.sigma_delta = nn.Parameter(torch.zeros(k, device=dev, dtype=dt))
        self.rot_in = Rotation(k_in, config.rotation, device=dev, dtype=dt) if k_in > 1 else None
        self.rot_out = Rotation(k_out, config.rotation, device=dev, dtype=dt) if k_out > 1 else None
        self.register_buffer("u_k", torch.empty(0, device=dev, dtype=dt), persistent=False)
        self.register_buffer("s_k", torch.empty(0, device=dev, dtype=dt), persistent=False)
        self.register_buffer("v_k", torch.empty(0, device=dev, dtype=dt), persistent=False)

    @torch.no_grad()
    def prepare(self) -> None:
        w = self.weight.detach()
        u, s, vh = canonical_svd(w, self.k)
        self.u_k = u.to(w.dtype)
        self.s_k = s.to(w.dtype)
        self.v_k = vh.t().contiguous().to(w.dtype)

    @staticmethod
    def _rotate(rot, n: int, k: int, device, dtype) -> torch.Tensor:
        g = torch.eye(k, device=device, dtype=dtype)
        if rot is not None:
            g = g.clone()
            g[:n, :n] = rot()
        return g

    def core(self) -> torch.Tensor:
        """The k x k matrix D with ``delta W = U_k D V_k^T``."""
        sig = self.s_k + self.sigma_delta
        d = sig[:, None] * self._rotate(self.rot_in, self.k_in, self.k, sig.device, sig.dtype)
        if self.rot_out is not None:
            g_out = self._rotate(self.rot_out, self.k_out, self.k, sig.device, sig.dtype)
            d = g_out @ d
        return d - torch.diag(self.s_k)

    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x @ self.v_k) @ self.core().t()) @ self.u_k.t()

    def delta_weight(self) -> torch.Tensor:
        return self.u_k @ self.core() @ self.v_k.t()

    def lowrank_parts(self):
        return self.v_k.t(), self.u_k, self.core(), 1.0, None
