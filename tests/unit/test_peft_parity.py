"""LoRA, DoRA and PiSSA against HF peft (a test-only dependency) on the same weights:
outputs and gradients must agree to 1e-5, and adapter state dicts convert both ways."""

import copy

import pytest
import torch

import espnet_peft
from espnet_peft.checkpoint.hf_peft import from_peft_state_dict, to_peft_state_dict
from helpers.matrix import TARGETS, perturb_adapters

peft = pytest.importorskip("peft")

CASES = {
    "lora": dict(ours=dict(r=4, alpha=8.0), theirs=dict(r=4, lora_alpha=8)),
    "dora": dict(ours=dict(r=4, alpha=8.0), theirs=dict(r=4, lora_alpha=8, use_dora=True)),
    "pissa": dict(ours=dict(r=4, alpha=4.0), theirs=dict(r=4, lora_alpha=4, init_lora_weights="pissa")),
}


def build_pair(method, base_model):
    ours = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(ours, method, target_modules=TARGETS, **CASES[method]["ours"])
    espnet_peft.initialize_adapters(ours)
    config = peft.LoraConfig(target_modules=TARGETS, lora_dropout=0.0, **CASES[method]["theirs"])
    theirs = peft.get_peft_model(copy.deepcopy(base_model), config)
    return ours, theirs


def bn_stats(model):
    return {k: v for k, v in model.state_dict().items()
            if k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")}


@pytest.mark.parametrize("method", list(CASES))
def test_outputs_and_gradients_match_peft(method, base_model, inputs):
    ours, theirs = build_pair(method, base_model)
    if method == "pissa":
        # Same SVD-based initialisation on both sides: residual weights agree, and so do
        # the factors up to the sign of each singular pair (ours fixes the signs
        # canonically, peft keeps LAPACK's; flipping row i of A with column i of B leaves
        # B @ A and the whole training trajectory unchanged).
        mine, peft_sd = espnet_peft.adapter_state_dict(ours), from_peft_state_dict(
            peft.get_peft_model_state_dict(theirs))
        for key_a in [k for k in mine if k.endswith("lora_A")]:
            key_b = key_a[:-1] + "B"
            sign = torch.sign((mine[key_a] * peft_sd[key_a]).sum(1))
            assert bool((sign != 0).all())
            torch.testing.assert_close(mine[key_a], peft_sd[key_a] * sign[:, None], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(mine[key_b], peft_sd[key_b] * sign[None, :], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ours.blocks[0].w_1.weight,
                                   theirs.base_model.model.blocks[0].w_1.base_layer.weight,
                                   atol=1e-5, rtol=1e-5)
    # Move the adapter off its (zero-delta) start, then give peft the very same tensors.
    perturb_adapters(ours, scale=0.2)
    state = to_peft_state_dict(espnet_peft.adapter_state_dict(ours))
    result = peft.set_peft_model_state_dict(theirs, state)
    assert not [k for k in result.unexpected_keys]
    ours.train(), theirs.train()

    out_ours, out_theirs = ours(inputs), theirs(inputs)
    torch.testing.assert_close(out_ours, out_theirs, atol=1e-5, rtol=1e-5)
    target = torch.randn_like(out_ours)
    (out_ours - target).pow(2).mean().backward()
    (out_theirs - target).pow(2).mean().backward()

    theirs_params = dict(theirs.named_parameters())
    compared = 0
    for name, p in espnet_peft.adapter_parameters(ours):
        peft_key = next(iter(to_peft_state_dict({name: p})))
        peft_key = peft_key.replace(".lora_A.weight", ".lora_A.default.weight") \
                           .replace(".lora_B.weight", ".lora_B.default.weight") \
                           .replace(".lora_magnitude_vector", ".lora_magnitude_vector.default.weight")
        torch.testing.assert_close(p.grad, theirs_params[peft_key].grad, atol=1e-5, rtol=1e-5)
        compared += 1
    assert compared == len(TARGETS) * 2 * (3 if method == "dora" else 2)


@pytest.mark.parametrize("method", ["lora", "dora"])
def test_peft_adapter_loads_into_espnet_peft(method, base_model, inputs):
    ours, theirs = build_pair(method, base_model)
    with torch.no_grad():
        for n, p in theirs.named_parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn_like(p))
    fresh = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(fresh, method, target_modules=TARGETS, **CASES[method]["ours"])
    state = from_peft_state_dict(peft.get_peft_model_state_dict(theirs))
    state.update(bn_stats(base_model))
    espnet_peft.load_adapter_state_dict(fresh, state)
    theirs.eval()
    torch.testing.assert_close(fresh(inputs), theirs(inputs), atol=1e-5, rtol=1e-5)
