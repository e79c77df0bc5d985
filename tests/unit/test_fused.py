"""The fused low-rank path (espnet_peft.ops.fused) computes what the plain autograd path does:
outputs and every gradient agree, for each method that uses it."""

import copy

import pytest
import torch
import torch.nn as nn

import espnet_peft
from espnet_peft.ops import fused

CASES = {
    "lora": {"r": 4, "alpha": 8},
    "pissa": {"r": 4, "alpha": 4},
    "dora": {"r": 4, "alpha": 8},
    "ssvd": {"k_fraction": 0.5},
    "ssvd_o": {"k_fraction": 0.5, "budget_ratio": 0.5},
    "s2lora": {"r": 4, "alpha": 8},
}


class Net(nn.Module):  # not a Sequential: S2-LoRA adds its shared factors as a child
    def __init__(self, bias):
        super().__init__()
        self.l0, self.l1 = nn.Linear(12, 20, bias=bias), nn.Linear(20, 12, bias=bias)

    def forward(self, x):
        return self.l1(torch.tanh(self.l0(x)))


def _model(method, bias, seed=0):
    torch.manual_seed(seed)
    model = Net(bias)
    espnet_peft.inject_adapters(model, method, target_modules=["l0", "l1"], **CASES[method])
    espnet_peft.mark_only_adapters_trainable(model)
    espnet_peft.initialize_adapters(model)
    with torch.no_grad():  # move every adapter tensor off its identity start
        for _, p in espnet_peft.adapter_parameters(model):
            p.add_(0.1 * torch.randn_like(p))
    return model


def _run(model, x):
    x = x.clone().requires_grad_(True)
    y = model(x)
    (y * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
    grads = {n: p.grad.clone() for n, p in espnet_peft.adapter_parameters(model)}
    return y.detach(), x.grad, grads, y.grad_fn


# SSVD's core goes through the low-rank path on short inputs (4 positions) and through the
# rebuilt weight on long ones (3 x 9): rebuild_is_cheaper for both layers (12->20, 20->12, k 6).
CASES_AND_LENGTHS = [(m, (1, 4)) for m in sorted(CASES)] + [("ssvd", (3, 9)), ("ssvd_o", (3, 9))]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("method,shape", CASES_AND_LENGTHS)
def test_fused_path_matches_autograd(method, shape, bias, monkeypatch):
    positions = shape[0] * shape[1]
    assert fused.rebuild_is_cheaper(positions, 12, 20, 6) == fused.rebuild_is_cheaper(positions, 20, 12, 6) \
        == (positions == 27)
    model = _model(method, bias)
    plain = copy.deepcopy(model)
    x = torch.randn(*shape, 12)
    y, dx, grads, node = _run(model, x)
    assert "CoreLinear" in type(node).__name__ or "LowRankLinear" in type(node).__name__  # fused
    if method.startswith("ssvd"):
        assert ("Rebuilt" in type(node).__name__) == (positions == 27)
    monkeypatch.setattr(fused, "ENABLED", False)
    y0, dx0, grads0, node0 = _run(plain, x)
    assert "Linear" not in type(node0).__name__
    torch.testing.assert_close(y, y0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dx, dx0, rtol=1e-5, atol=1e-6)
    assert grads.keys() == grads0.keys() and grads
    for name in grads:
        torch.testing.assert_close(grads[name], grads0[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("positions", [(1, 4), (3, 9)])
@pytest.mark.parametrize("method", sorted(CASES))
def test_inference_takes_the_cheaper_of_the_low_rank_path_and_the_rebuilt_weight(method, positions, monkeypatch):
    """Without gradients a layer runs through W + s U C D when the rebuild costs less than the
    low-rank path over its positions (here: 27 positions, not 4); same output either way,
    and the layer's weight is left as it was."""
    model = _model(method, True)
    x = torch.randn(*positions, 12)
    weights = [model.l0.weight.clone(), model.l1.weight.clone()]
    rebuilt = []
    real = fused._rebuilt_no_grad
    monkeypatch.setattr(fused, "_rebuilt_no_grad", lambda *a: rebuilt.append(a[1].shape) or real(*a))
    with torch.no_grad():
        y = model(x)
    expected = [(20, 12), (12, 20)] if positions == (3, 9) else []
    assert rebuilt == expected
    assert torch.equal(model.l0.weight, weights[0]) and torch.equal(model.l1.weight, weights[1])
    monkeypatch.setattr(fused, "ENABLED", False)
    with torch.no_grad():
        torch.testing.assert_close(y, model(x), rtol=1e-5, atol=1e-6)


def test_rebuilt_weight_kept_or_rebuilt_for_the_input_gradient_gives_the_same_gradients(monkeypatch):
    model = _model("ssvd", True)
    x = torch.randn(3, 9, 12)
    kept = _run(copy.deepcopy(model), x)
    monkeypatch.setattr(fused, "KEEP_REBUILT", False)
    again = _run(model, x)
    assert "Rebuilt" in type(kept[3]).__name__ and "Rebuilt" in type(again[3]).__name__
    assert torch.equal(kept[0], again[0]) and torch.equal(kept[1], again[1])
    assert all(torch.equal(kept[2][n], again[2][n]) for n in kept[2])


def test_dora_with_a_zero_magnitude_keeps_the_pre_scale_activation(monkeypatch):
    model = _model("dora", True)
    with torch.no_grad():
        model.l0.lora_magnitude[3] = 0.0  # the output cannot be divided back
    plain = copy.deepcopy(model)
    x = torch.randn(5, 12)
    y, dx, grads, _ = _run(model, x)
    monkeypatch.setattr(fused, "ENABLED", False)
    y0, dx0, grads0, _ = _run(plain, x)
    torch.testing.assert_close(dx, dx0)
    torch.testing.assert_close(grads["l0.lora_magnitude"], grads0["l0.lora_magnitude"])


def test_an_in_place_edit_of_a_saved_output_is_refused_not_silently_wrong():
    layer = _model("dora", True).l0
    y = layer(torch.randn(4, 12))
    y.mul_(2)  # DoRA's fused node saved its output for the backward pass
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_plain_path_when_the_base_weight_trains_or_dropout_is_active():
    model = _model("lora", True)
    x = torch.randn(2, 12)
    model.l0.weight.requires_grad_(True)
    assert "LowRankLinear" not in type(model.l0(x).grad_fn).__name__
    with_dropout = nn.Sequential(nn.Linear(12, 4))
    espnet_peft.inject_adapters(with_dropout, "lora", target_modules=["0"], r=2, dropout=0.5)
    espnet_peft.mark_only_adapters_trainable(with_dropout)
    assert "LowRankLinear" not in type(with_dropout(x).grad_fn).__name__  # training: dropout acts
    assert "LowRankLinear" in type(with_dropout.eval()(x).grad_fn).__name__
