"""Singular value decompositions of pretrained weights, as the SVD-based methods need them.

``top_svd`` gets the leading r singular triplets from the eigendecomposition of the
smaller Gram matrix (``W^T W`` or ``W W^T``, in float64): for the shapes of speech
models (384-1024 wide, r up to ~40 % of the width) that is 2-3 times cheaper than a
thin SVD on the CPU and agrees with it to float32 rounding -- the Gram matrix squares the
condition number, which float64 absorbs as long as the kept singular values are not
tiny; when they are (a rank-deficient weight), it falls back to ``torch.linalg.svd``.
Signs are made deterministic (the largest-magnitude entry of each left vector is
positive), so a basis learnt in on one machine means the same on another.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

# Kept singular values below this share of the largest go to the exact thin SVD.
_GRAM_RELATIVE_FLOOR = 1e-4


def _canonical_signs(u: torch.Tensor, vh: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    idx = u.abs().argmax(dim=0)
    sign = torch.sign(u.gather(0, idx[None, :]))[0]
    sign[sign == 0] = 1
    return u * sign, vh * sign[:, None]


def canonical_svd(w: torch.Tensor, r: Optional[int] = None):
    """Thin SVD (top ``r`` triplets; all when None) of ``w`` in float32, with canonical
    signs: ``u`` (out x r), ``s`` (r), ``vh`` (r x in)."""
    r = min(w.shape) if r is None else r
    out = _gram_svd(w, r) if r < min(w.shape) else None
    if out is None:
        u, s, vh = torch.linalg.svd(w.detach().float(), full_matrices=False)
        out = (u[:, :r], s[:r], vh[:r])
    u, s, vh = out
    u, vh = _canonical_signs(u, vh)
    return u.contiguous(), s.contiguous(), vh.contiguous()


def _gram_svd(w: torch.Tensor, r: int):
    w64 = w.detach().to(torch.float64)
    tall = w64.shape[0] >= w64.shape[1]
    evals, evecs = torch.linalg.eigh(w64.t() @ w64 if tall else w64 @ w64.t())  # ascending
    evals, evecs = evals[-r:].flip(0), evecs[:, -r:].flip(1)
    if evals[-1] <= (_GRAM_RELATIVE_FLOOR * evals[0].sqrt()) ** 2 or evals[0] <= 0:
        return None
    s = evals.sqrt()
    if tall:
        v = evecs
        u = (w64 @ v) / s
    else:
        u = evecs
        v = (w64.t() @ u) / s
    return u.float(), s.float(), v.t().float()
