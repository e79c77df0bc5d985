"""The top-r SVD used by PiSSA/SSVD/SSVD-O agrees with LAPACK's thin SVD."""

import pytest
import torch

from espnet_peft.ops.svd import canonical_svd


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


def test_disk_cache_returns_the_computed_triplets_and_recovers_from_damage(tmp_path, monkeypatch, caplog):
    import espnet_peft.ops.svd as svd

    monkeypatch.setenv(svd.CACHE_ENV, str(tmp_path))
    w = torch.randn(48, 20, generator=torch.Generator().manual_seed(3))
    first = canonical_svd(w, 6)
    (entry,) = tmp_path.glob("*.safetensors")
    with monkeypatch.context() as m:  # a hit does no decomposition at all
        m.setattr(svd, "_gram_svd", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
        m.setattr(torch.linalg, "svd", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
        again = canonical_svd(w, 6)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    # Another rank or another weight is another entry.
    canonical_svd(w, 5)
    w2 = w.clone()
    w2[0, 0] += 1e-3
    canonical_svd(w2, 6)
    assert len(list(tmp_path.glob("*.safetensors"))) == 3
    # A damaged entry is recomputed (with a warning naming it) and rewritten.
    entry.write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING"):
        repaired = canonical_svd(w, 6)
    assert str(entry) in caplog.text and "recomputing" in caplog.text
    assert all(torch.equal(a, b) for a, b in zip(first, repaired))
    assert all(torch.equal(a, b) for a, b in zip(first, canonical_svd(w, 6)))


def test_no_cache_without_the_environment_variable(tmp_path, monkeypatch):
    import espnet_peft.ops.svd as svd

    monkeypatch.delenv(svd.CACHE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    canonical_svd(torch.randn(30, 12), 4)
    assert not any(tmp_path.rglob("*"))
