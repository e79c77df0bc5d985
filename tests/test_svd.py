"""The top-r SVD used by PiSSA/SSVD/SSVD-O agrees with LAPACK's thin SVD."""

import pytest
import torch

from espnet_peft.svd import canonical_svd


@pytest.mark.parametrize("shape,r", [((96, 24), 8), ((24, 96), 10), ((48, 48), 19), ((40, 30), 30)])
def test_top_r_triplets_match_the_thin_svd(shape, r):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(r)) / shape[1] ** 0.5
    u, s, vh = canonical_svd(w, r)
    assert u.shape == (shape[0], r) and s.shape == (r,) and vh.shape == (r, shape[1])
    u0, s0, vh0 = torch.linalg.svd(w, full_matrices=False)
    torch.testing.assert_close(s, s0[:r], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close((u * s) @ vh, (u0[:, :r] * s0[:r]) @ vh0[:r], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(u.t() @ u, torch.eye(r), atol=1e-5, rtol=0)
    torch.testing.assert_close(vh @ vh.t(), torch.eye(r), atol=1e-5, rtol=0)
    # Canonical signs: the largest-magnitude entry of every left vector is positive.
    assert bool((u.gather(0, u.abs().argmax(0, keepdim=True)) > 0).all())


def test_rank_deficient_weight_falls_back_to_the_exact_svd():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(64, 3, generator=g) @ torch.randn(3, 32, generator=g)  # rank 3
    u, s, vh = canonical_svd(w, 8)
    torch.testing.assert_close(u.t() @ u, torch.eye(8), atol=1e-5, rtol=0)
    torch.testing.assert_close((u * s) @ vh, w, atol=1e-4, rtol=1e-4)
    assert float(s[3:].abs().max()) < 1e-4
