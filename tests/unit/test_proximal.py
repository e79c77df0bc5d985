"""Proximal steps (espnet_peft.core.proximal) and S2-LoRA's sparsity through them."""

import copy

import pytest
import torch

import espnet_peft
from espnet_peft.core.proximal import optimizer_step_sizes
from espnet_peft.methods.rank_report import rank_report
from helpers.matrix import adapted_copy


def _lambdas(model):
    return {n: m.s2lora_lambda for n, m in espnet_peft.adapter_layers(model)}


def test_adam_step_size_is_its_preconditioner():
    p = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    assert optimizer_step_sizes(opt)(p) is None  # no step taken yet
    grads = [torch.tensor([0.5, -2.0, 1e-3]), torch.tensor([0.1, 1.0, 3.0])]
    for g in grads:
        p.grad = g.clone()
        opt.step()
    v = 0.01 * 0.99 * grads[0] ** 2 + 0.01 * grads[1] ** 2  # (1 - beta2) sum beta2^(t-i) g_i^2
    expected = 0.01 / ((v / (1 - 0.99 ** 2)).sqrt() + 1e-8)
    torch.testing.assert_close(optimizer_step_sizes(opt)(p), expected)
    sgd = torch.optim.SGD([p], lr=0.3)
    assert optimizer_step_sizes(sgd)(p) == 0.3
    assert optimizer_step_sizes(sgd)(torch.nn.Parameter(torch.zeros(1))) is None


def test_a_coefficient_enters_only_when_its_gradient_exceeds_l1_weight(base_model):
    """One Adam step from lambda = 0 moves each coefficient by lr against its gradient; the
    proximal step then removes l1_weight * lr / |g|: what is left is non-zero iff |g| > l1."""
    model = adapted_copy(base_model, "s2lora", l1_weight=1.0)
    layer = model.blocks[0].linear_q
    lam = layer.s2lora_lambda
    assert torch.count_nonzero(lam) == 0  # lambda starts at 0: the model is the base
    opt = torch.optim.Adam([lam], lr=0.01)
    espnet_peft.install_proximal_steps(model, opt)
    g = torch.tensor([0.5, -2.0, 4.0, -0.9])
    (lam * g).sum().backward()
    opt.step()
    expected = torch.where(g.abs() > 1.0, -g.sign() * 0.01 * (1 - 1.0 / g.abs()), torch.zeros(4))
    torch.testing.assert_close(lam.detach(), expected)
    assert lam[0] == 0 and lam[3] == 0  # exactly


def _s2lora(base_model, l1_weight, seed=0):
    torch.manual_seed(seed)  # the shared factors' initialisation
    return adapted_copy(base_model, "s2lora", l1_weight=l1_weight)


def _median_first_gradient(model, inputs, target) -> float:
    """The median |d loss / d lambda| at the start: an l1_weight that half the
    coefficients exceed at the first step."""
    model = copy.deepcopy(model)
    torch.nn.functional.mse_loss(model(inputs), target).backward()
    return float(torch.cat([lam.grad.abs() for lam in _lambdas(model).values()]).median())


def _train(model, steps, inputs, target, lr=0.02):
    espnet_peft.mark_only_adapters_trainable(model)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    espnet_peft.install_proximal_steps(model, opt)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), target).backward()
        opt.step()
    return model


def _sparse_model(base_model, task, seed=0):
    l1 = _median_first_gradient(_s2lora(base_model, 0.0, seed), *task)
    return _train(_s2lora(base_model, l1, seed), 30, *task)


@pytest.fixture
def task(base_model, inputs):
    """A regression target that a low-rank change of the model reaches."""
    teacher = copy.deepcopy(base_model)
    with torch.no_grad():
        teacher.blocks[0].w_1.weight.add_(0.5 * torch.randn(20, 1) @ torch.randn(1, 12))
    return inputs, teacher(inputs).detach()


def test_l1_weight_prunes_exactly_and_zero_l1_does_not(base_model, task):
    dense = _train(_s2lora(base_model, 0.0), 60, *task)
    assert all(torch.count_nonzero(lam) == lam.numel() for lam in _lambdas(dense).values())
    sparse = _sparse_model(base_model, task)
    counts = {n: int(torch.count_nonzero(lam)) for n, lam in _lambdas(sparse).items()}
    total = sum(lam.numel() for lam in _lambdas(sparse).values())
    assert 0 < sum(counts.values()) < total, counts  # some pruned, not all
    everything = _train(_s2lora(base_model, 1e6), 20, *task)
    assert all(torch.count_nonzero(lam) == 0 for lam in _lambdas(everything).values())
    torch.testing.assert_close(everything(task[0]), base_model(task[0]))


def test_pruned_ranks_stay_pruned_in_merged_and_exported_models(base_model, task, tmp_path):
    model = _sparse_model(base_model, task)
    ranks = {e["name"]: e["rank"] for e in rank_report(model)["layers"]}
    assert ranks == {n: int(torch.count_nonzero(lam)) for n, lam in _lambdas(model).items()}
    path = espnet_peft.save_adapter(model, tmp_path / "s2lora.safetensors")
    loaded = copy.deepcopy(base_model)
    espnet_peft.load_adapter(loaded, path)
    for name, lam in _lambdas(loaded).items():
        assert torch.equal(lam, _lambdas(model)[name])  # the zeros are exact in the file
    espnet_peft.merge_and_unload(loaded)
    for name in ranks:
        delta = loaded.get_submodule(name).weight - base_model.get_submodule(name).weight
        assert torch.linalg.matrix_rank(delta.double(), atol=1e-6) <= ranks[name], name
        if ranks[name] == 0:
            assert torch.count_nonzero(delta) == 0, name
