"""k x k rotations for SSVD / SSVD-O, parameterised by a skew-symmetric K.

Only the strict upper triangle of K is stored (k(k-1)/2 numbers), so K = T - T^T.
- ``strict``: Cayley transform G = (I - K)(I + K)^-1, exactly orthogonal;
- ``approx``: first-order Cayley G = I - 2K (the variant behind the SSVD paper's numbers);
- ``none``:   G is a free k x k matrix (k^2 parameters), initialised to I.
All three start at G = I.
"""

from __future__ import annotations

import torch
import torch.nn as nn

ROTATION_KINDS = ("strict", "approx", "none")


class Rotation(nn.Module):
    def __init__(self, k: int, kind: str, device=None, dtype=None):
        super().__init__()
        if kind not in ROTATION_KINDS:
            raise ValueError(f"rotation must be one of {ROTATION_KINDS}, got {kind!r}")
        self.k, self.kind = k, kind
        if kind == "none":
            self.matrix = nn.Parameter(torch.eye(k, device=device, dtype=dtype))
        else:
            self.skew = nn.Parameter(torch.zeros(k * (k - 1) // 2, device=device, dtype=dtype))
            rows, cols = torch.triu_indices(k, k, offset=1, device=device)
            self.register_buffer("_rows", rows, persistent=False)
            self.register_buffer("_cols", cols, persistent=False)

    def skew_matrix(self) -> torch.Tensor:
        t = self.skew.new_zeros(self.k, self.k).index_put((self._rows, self._cols), self.skew)
        return t - t.t()

    def forward(self) -> torch.Tensor:
        if self.kind == "none":
            return self.matrix
        eye = torch.eye(self.k, device=self.skew.device, dtype=self.skew.dtype)
        if self.k == 0:
            return eye
        k = self.skew_matrix()
        if self.kind == "approx":
            return eye - 2 * k
        # (I - K) and (I + K)^-1 commute, so G = (I + K)^-1 (I - K).
        return torch.linalg.solve(eye + k, eye - k)

    @staticmethod
    def num_params(k: int, kind: str) -> int:
        return k * k if kind == "none" else k * (k - 1) // 2
