"""Singular value decompositions of pretrained weights, as the SVD-based methods need them.

``top_svd`` gets the leading r singular triplets from the eigendecomposition of the
smaller Gram matrix (``W^T W`` or ``W W^T``, in float64): for the shapes of speech
models (384-1024 wide, r up to ~40 % of the width) that is 2-3 times cheaper than a
thin SVD on the CPU and agrees with it to float32 rounding -- the Gram matrix squares the
condition number, which float64 absorbs as long as the kept singular values are not
tiny; when they are (a rank-deficient weight), it falls back to ``torch.linalg.svd``.
Signs are made deterministic (the largest-magnitude entry of each left vector is
positive), so a basis learnt in on one machine means the same on another.

Disk cache: with ``ESPNET_PEFT_SVD_CACHE=<dir>`` set (the recipes set it to
``<expdir>/svd_cache``), the triplets are stored per (weight bytes, r), keyed by the
SHA-256 of the weight, and read back instead of recomputed -- by every later run on the
same base model: other methods, sweeps, resumed jobs, decoding jobs (SSVD rebuilds its
bases in every process). A hit returns exactly what the computation returned; an
unreadable or mismatching file is recomputed and rewritten (with a warning). The
directory can be deleted at any time.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Optional, Tuple

import safetensors.torch
import torch

CACHE_ENV = "ESPNET_PEFT_SVD_CACHE"
# Bump when the computation changes, so that old cache entries are not reused.
_ALGORITHM = "gram-eigh-f64/canonical-signs/v1"

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
    cache = _cache_path(w, r)
    if cache is not None:
        hit = _read_cache(cache, w, r)
        if hit is not None:
            return hit
    out = _gram_svd(w, r) if r < min(w.shape) else None
    if out is None:
        u, s, vh = torch.linalg.svd(w.detach().float(), full_matrices=False)
        out = (u[:, :r], s[:r], vh[:r])
    u, s, vh = out
    u, vh = _canonical_signs(u, vh)
    out = u.contiguous(), s.contiguous(), vh.contiguous()
    if cache is not None:
        _write_cache(cache, out)
    return out


def _cache_path(w: torch.Tensor, r: int) -> Optional[Path]:
    root = os.environ.get(CACHE_ENV)
    if not root:
        return None
    data = w.detach().float().cpu().contiguous()
    h = hashlib.sha256(f"{_ALGORITHM};{tuple(data.shape)};r={r};".encode())
    h.update(memoryview(data.numpy()).cast("B"))
    return Path(root) / f"{h.hexdigest()}.safetensors"


def _read_cache(path: Path, w: torch.Tensor, r: int):
    if not path.is_file():
        return None
    try:
        t = safetensors.torch.load_file(str(path), device=str(w.device))
        u, s, vh = t["u"], t["s"], t["vh"]
        if u.shape != (w.shape[0], r) or s.shape != (r,) or vh.shape != (r, w.shape[1]):
            raise ValueError(f"shapes {tuple(u.shape)}, {tuple(s.shape)}, {tuple(vh.shape)}")
    except Exception as e:  # a damaged entry is only a lost shortcut
        logging.warning("espnet_peft: SVD cache entry %s is unusable (%s); recomputing", path, e)
        return None
    return u, s, vh


def _write_cache(path: Path, triplets) -> None:
    from espnet_peft.core.atomic import atomic_write

    try:
        tensors = dict(zip(("u", "s", "vh"), (t.cpu() for t in triplets)))
        atomic_write(path, lambda tmp: safetensors.torch.save_file(tensors, tmp))
    except OSError as e:
        logging.warning("espnet_peft: cannot write the SVD cache entry %s (%s)", path, e)


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
