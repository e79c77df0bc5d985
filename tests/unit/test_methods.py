"""Invariants every method must satisfy (one matrix over every registered method)."""

import copy

import pytest
import torch
import torch.nn as nn

import espnet_peft
from espnet_peft import AdapterLinear
from espnet_peft import AdapterMergeError
from helpers.matrix import CLOSED_FORM_TRAINABLE, METHOD_CONFIGS, METHOD_NAMES, TARGETS, adapted_copy
from helpers.matrix import method_property, perturb_adapters


def _targeted_linears(model):
    return [(m.in_features, m.out_features, m.bias is not None)
            for n, m in model.named_modules() if n.rsplit(".", 1)[-1] in TARGETS]


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_injection_keeps_output(method, base_model, inputs):
    ref = base_model(inputs)
    model = adapted_copy(base_model, method)
    assert sum(1 for _ in espnet_peft.adapter_layers(model)) == method_property(method, "adapted")
    if method_property(method, "exact_at_injection"):
        torch.testing.assert_close(model(inputs), ref, atol=2e-5, rtol=1e-5)
    else:  # a truncation (semiorth); test_baselines checks it is the rank-r one
        assert not torch.allclose(model(inputs), ref, atol=1e-3)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_merge_unmerge_and_unload(method, base_model, inputs):
    model = adapted_copy(base_model, method)
    perturb_adapters(model)
    adapted = model(inputs)
    assert not torch.allclose(adapted, base_model(inputs), atol=1e-3), "perturbation had no effect"
    if not method_property(method, "mergeable"):  # adds layers: refused, nothing changes
        before = copy.deepcopy(model.state_dict())
        for op in (espnet_peft.merge_adapters, espnet_peft.merge_and_unload):
            with pytest.raises(AdapterMergeError, match="cannot be merged"):
                op(model)
        assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
        torch.testing.assert_close(model(inputs), adapted)
        return
    weights = {n: m.weight.detach().clone() for n, m in espnet_peft.adapter_layers(model)}

    espnet_peft.merge_adapters(model)
    torch.testing.assert_close(model(inputs), adapted, atol=1e-5, rtol=1e-5)
    espnet_peft.unmerge_adapters(model)
    for n, m in espnet_peft.adapter_layers(model):
        torch.testing.assert_close(m.weight, weights[n], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(model(inputs), adapted, atol=1e-5, rtol=1e-5)

    plain = espnet_peft.merge_and_unload(model)
    assert not any(isinstance(m, AdapterLinear) for m in plain.modules())
    assert all(type(plain.get_submodule(n)) is nn.Linear for n in weights)
    assert set(plain.state_dict()) == set(base_model.state_dict())
    torch.testing.assert_close(plain(inputs), adapted, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_state_dict_round_trip(method, base_model, inputs, tmp_path):
    model = adapted_copy(base_model, method)
    perturb_adapters(model)
    expected = model(inputs)
    sd = espnet_peft.adapter_state_dict(model)
    if method_property(method, "trains_base"):  # full: the trained modules are the adapter
        assert {f"blocks.0.{t}.weight" for t in TARGETS} <= set(sd)
    else:
        assert all("weight" != k.rsplit(".", 1)[-1] for k in sd if not k.startswith("peft_shared")), \
            "base weights leaked into the adapter state dict"

    fresh = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(fresh, method, target_modules=TARGETS, **METHOD_CONFIGS[method])
    espnet_peft.load_adapter_state_dict(fresh, sd)
    torch.testing.assert_close(fresh(inputs), expected, atol=1e-6, rtol=1e-6)

    # The same through an adapter file, onto an untouched copy of the base.
    path = espnet_peft.save_adapter(model, tmp_path / "adapter.safetensors")
    again = copy.deepcopy(base_model)
    meta = espnet_peft.load_adapter(again, path)
    assert meta["method"] == method
    torch.testing.assert_close(again(inputs), expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_only_adapters_train_and_counts_match_closed_form(method, base_model, inputs):
    model = adapted_copy(base_model, method)
    espnet_peft.mark_only_adapters_trainable(model)
    trainable, total = espnet_peft.count_parameters(model)
    assert trainable == CLOSED_FORM_TRAINABLE[method](_targeted_linears(base_model), METHOD_CONFIGS[method])
    added = 0 if method_property(method, "trains_base") else trainable
    assert total == sum(p.numel() for p in base_model.parameters()) + added

    model.train()
    model(inputs).pow(2).mean().backward()
    adapter_ids = {id(p) for _, p in espnet_peft.adapter_parameters(model)}
    for name, p in model.named_parameters():
        if id(p) in adapter_ids:
            assert p.requires_grad and p.grad is not None, name
        else:
            assert not p.requires_grad and p.grad is None, name
    # A zero-initialised factor (B) gets a gradient even though the delta is zero.
    assert any(p.grad.abs().sum() > 0 for _, p in espnet_peft.adapter_parameters(model))


@pytest.mark.parametrize("method", ["ssvd", "ssvd_o"])
def test_strict_rotations_stay_orthogonal(method, base_model, inputs):
    model = adapted_copy(base_model, method, rotation="strict")
    espnet_peft.mark_only_adapters_trainable(model)
    opt = torch.optim.Adam([p for _, p in espnet_peft.adapter_parameters(model)], lr=0.05)
    model.train()
    for _ in range(20):
        opt.zero_grad()
        model(inputs).sin().sum().backward()
        opt.step()
    rotations = [m for m in model.modules() if isinstance(m, espnet_peft.ops.rotation.Rotation)]
    assert rotations
    moved = 0
    for rot in rotations:
        g = rot()
        eye = torch.eye(rot.k)
        torch.testing.assert_close(g @ g.t(), eye, atol=1e-5, rtol=0)
        moved += int(not torch.allclose(g, eye, atol=1e-3))
    assert moved == len(rotations), "optimiser steps did not move the rotations"


def test_approx_rotation_is_first_order_cayley():
    rot = espnet_peft.ops.rotation.Rotation(4, "approx")
    with torch.no_grad():
        rot.skew.copy_(torch.arange(1.0, 7.0) * 1e-3)
    k = rot.skew_matrix()
    torch.testing.assert_close(k, -k.t())
    torch.testing.assert_close(rot(), torch.eye(4) - 2 * k)


@pytest.mark.parametrize("method", ["pissa", "ssvd", "ssvd_o", "dora"])
def test_initialises_from_weights_loaded_after_injection(method, base_model, inputs):
    """ESPnet creates adapters before --init_param loads: initialisation must use the
    weights present at the first forward, not those present at injection."""
    random_model = type(base_model)().eval()
    espnet_peft.inject_adapters(random_model, method, target_modules=TARGETS, **METHOD_CONFIGS[method])
    random_model.load_state_dict(base_model.state_dict(), strict=False)  # like --init_param
    torch.testing.assert_close(random_model(inputs), base_model(inputs), atol=2e-5, rtol=1e-5)
    layer = random_model.blocks[0].w_1
    if method == "pissa":
        s = torch.linalg.svdvals(base_model.blocks[0].w_1.weight)
        torch.testing.assert_close(torch.linalg.svdvals(layer.scaling * layer.lora_B @ layer.lora_A)[:4],
                                   s[:4], atol=1e-5, rtol=1e-5)
    elif method == "dora":
        torch.testing.assert_close(layer.lora_magnitude, base_model.blocks[0].w_1.weight.norm(dim=1))
    else:
        torch.testing.assert_close(layer.s_k, torch.linalg.svdvals(base_model.blocks[0].w_1.weight)[:layer.k])


def test_s2lora_shares_factors_and_has_no_loss_penalty(base_model, inputs):
    model = adapted_copy(base_model, "s2lora")
    shared = model.peft_shared
    # linear_q and linear_v are 12x12 (one pair), w_1 20x12 and w_2 12x20 one pair each.
    assert sorted(shared) == ["s2lora_12x12", "s2lora_12x20", "s2lora_20x12"]
    assert model.blocks[0].linear_q.shared is model.blocks[1].linear_v.shared
    # Its L1 term is a proximal step after the optimiser step (tests/unit/test_proximal.py).
    assert espnet_peft.adapter_regularization(model) is None


def test_target_patterns_suffix_regex_and_errors(base_model):
    m = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(m, "lora", target_modules=[r"blocks\.1\.w_[12]", "out"], r=2)
    assert [n for n, _ in espnet_peft.adapter_layers(m)] == ["blocks.1.w_1", "blocks.1.w_2", "out"]
    with pytest.raises(espnet_peft.AdapterConfigError, match="matches no module"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "lora", target_modules=["linear_k"])
    # Optional patterns adapt what exists and skip what does not; the strict list stays strict.
    m = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(m, "lora", target_modules=["out"], r=2,
                                optional_target_modules=["linear_k", r"blocks\.0\.w_1"])
    assert [n for n, _ in espnet_peft.adapter_layers(m)] == ["blocks.0.w_1", "out"]
    with pytest.raises(espnet_peft.AdapterConfigError, match="'linear_k' matches no module"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "lora", target_modules=["linear_k"],
                                    optional_target_modules=["out"])
    with pytest.raises(espnet_peft.AdapterConfigError, match="cannot wrap"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "lora", target_modules=["norm"])
    with pytest.raises(espnet_peft.AdapterConfigError, match="unknown adapter_conf key"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "lora", rank=4)
    with pytest.raises(espnet_peft.AdapterConfigError, match="exceeds the rank"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "lora", target_modules=["out"], r=6)
    with pytest.raises(ValueError, match="unknown adapter method"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "qlora")
