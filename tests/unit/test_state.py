"""The one state object on an adapted model, and roots of any kind."""

import copy

import pytest
import torch
import torch.nn as nn

import espnet_peft
from espnet_peft.core.fingerprint import base_fingerprint, compute_fingerprint
from espnet_peft.core.state import STATE_ATTR, peft_state
from helpers.matrix import METHOD_CONFIGS, METHOD_NAMES, TARGETS, adapted_copy, method_property, perturb_adapters


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_state_is_one_object_and_merge_and_unload_removes_it(base_model, method):
    model = adapted_copy(base_model, method)
    state = peft_state(model)
    assert state.method == method and state.pending_init is False
    # recorded when adapter layers are initialised (full fine-tuning adds none)
    assert (state.base_fingerprint is not None) == bool(list(espnet_peft.adapter_layers(model)))
    assert [k for k in vars(model) if k.startswith("_peft")] == [STATE_ATTR]
    if not method_property(method, "mergeable"):
        return
    espnet_peft.merge_and_unload(model)
    assert peft_state(model) is None and not [k for k in vars(model) if "peft" in k]
    assert not hasattr(model, "peft_shared")


def test_reinjecting_a_merged_model_fingerprints_the_merged_weights(base_model, inputs, tmp_path):
    model = adapted_copy(base_model, "lora")
    perturb_adapters(model)
    before = base_fingerprint(model)
    espnet_peft.merge_and_unload(model)  # the merged weights are the new base
    merged_model = copy.deepcopy(model)
    merged = compute_fingerprint(model)
    assert not torch.equal(merged[1], before[1])
    espnet_peft.inject_adapters(model, "lora", target_modules=TARGETS, **METHOD_CONFIGS["lora"])
    assert torch.equal(base_fingerprint(model)[1], merged[1])  # before initialisation too
    espnet_peft.initialize_adapters(model)
    assert base_fingerprint(model)[0] == merged[0] and torch.equal(base_fingerprint(model)[1], merged[1])
    # so its adapter loads onto the merged model and is refused on the original base
    perturb_adapters(model, seed=1)
    path = espnet_peft.save_adapter(model, tmp_path / "second.safetensors")
    espnet_peft.load_adapter(merged_model, path)
    with torch.no_grad():
        torch.testing.assert_close(merged_model(inputs), model(inputs))
    with pytest.raises(espnet_peft.BaseModelMismatchError):
        espnet_peft.load_adapter(copy.deepcopy(base_model), path)


def sequential_root():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 20), nn.Tanh(), nn.Linear(20, 12), nn.Tanh(), nn.Linear(12, 5)).eval()


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_any_method_on_a_sequential_root(method, inputs):
    """Shared tensors (S2-LoRA, VeRA, AdaLoRA) live in the root's ``peft_shared``; a
    Sequential root runs every child, so that container passes its input through."""
    base = sequential_root()
    conf = dict(METHOD_CONFIGS[method])
    targets = {"full": None, "bottleneck": ["0", "2"]}.get(method, ["0", "2", "4"])
    model = copy.deepcopy(base)
    espnet_peft.inject_adapters(model, method, target_modules=targets, **conf)
    with torch.no_grad():
        out = model(inputs)
    assert out.shape == (16, 5)
    if method_property(method, "exact_at_injection"):
        torch.testing.assert_close(out, base(inputs), rtol=1e-4, atol=1e-5)
    perturb_adapters(model)
    with torch.no_grad():
        moved = model(inputs)
    assert not torch.allclose(moved, base(inputs))
    state = espnet_peft.adapter_state_dict(model)
    fresh = copy.deepcopy(base)
    espnet_peft.inject_adapters(fresh, method, target_modules=targets, **conf)
    espnet_peft.load_adapter_state_dict(fresh, state)
    with torch.no_grad():
        torch.testing.assert_close(fresh(inputs), moved)
