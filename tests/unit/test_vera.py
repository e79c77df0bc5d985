"""VeRA: projections regenerated from the seed (not saved), and parity with HF peft's
VeRA on the same base: identical frozen A/B, then outputs and gradients to 1e-5."""

import copy

import pytest
import torch

import espnet_peft
from helpers.matrix import METHOD_CONFIGS, TARGETS, adapted_copy, perturb_adapters

peft = pytest.importorskip("peft")

CONF = METHOD_CONFIGS["vera"]


def test_adapter_file_holds_only_the_vectors_and_projections_come_from_the_seed(base_model, inputs, tmp_path):
    model = adapted_copy(base_model, "vera")
    perturb_adapters(model)
    expected = model(inputs)
    path = espnet_peft.save_adapter(model, tmp_path / "vera.safetensors")
    meta, tensors = espnet_peft.checkpoint.adapter_file.read_adapter_file(path)
    assert meta["config"]["projection_seed"] == CONF["projection_seed"]
    adapter = {k: v for k, v in tensors.items() if "vera" in k}
    assert sorted({k.rsplit(".", 1)[1] for k in adapter}) == \
        ["projection_probe", "vera_lambda_b", "vera_lambda_d"]
    layers = list(espnet_peft.adapter_layers(model))
    assert sum(v.numel() for k, v in adapter.items() if "lambda" in k) == \
        sum(CONF["r"] + m.out_features for _, m in layers)
    assert adapter["peft_shared.vera.projection_probe"].numel() == 16  # all that is kept of A/B

    again = copy.deepcopy(base_model)
    espnet_peft.load_adapter(again, path)
    assert torch.equal(again.peft_shared.vera.vera_A, model.peft_shared.vera.vera_A)
    torch.testing.assert_close(again(inputs), expected, atol=1e-6, rtol=1e-6)

    # Largest in/out over the targets (w_2 is 12x20, w_1 20x12), and another seed draws others.
    assert tuple(model.peft_shared.vera.vera_A.shape) == (CONF["r"], 20)
    assert tuple(model.peft_shared.vera.vera_B.shape) == (20, CONF["r"])
    other = adapted_copy(base_model, "vera", projection_seed=CONF["projection_seed"] + 1)
    assert not torch.equal(other.peft_shared.vera.vera_A, model.peft_shared.vera.vera_A)


def test_projections_from_another_random_stream_are_refused(base_model, inputs, tmp_path, monkeypatch):
    model = adapted_copy(base_model, "vera")
    path = espnet_peft.save_adapter(model, tmp_path / "vera.safetensors")
    from espnet_peft.methods import vera

    drawn = vera.seeded_kaiming_uniform
    monkeypatch.setattr(vera, "seeded_kaiming_uniform", lambda shape, gen: drawn(shape, gen).flip(0))
    other = copy.deepcopy(base_model)
    espnet_peft.load_adapter(other, path)
    with pytest.raises(espnet_peft.AdapterFileError, match="projection_seed=3 differ"):
        other(inputs)


def test_projections_outputs_and_gradients_match_peft(base_model, inputs):
    ours = adapted_copy(base_model, "vera")
    config = peft.VeraConfig(r=CONF["r"], target_modules=TARGETS, projection_prng_key=CONF["projection_seed"],
                             d_initial=CONF["d_initial"], save_projection=False, vera_dropout=0.0)
    theirs = peft.get_peft_model(copy.deepcopy(base_model), config)
    tuner = theirs.base_model
    assert torch.equal(ours.peft_shared.vera.vera_A, tuner.vera_A["default"])
    assert torch.equal(ours.peft_shared.vera.vera_B, tuner.vera_B["default"])

    perturb_adapters(ours, scale=0.3)
    theirs_params = dict(theirs.named_parameters())
    pairs = []
    with torch.no_grad():
        for name, p in espnet_peft.adapter_parameters(ours):
            module, tensor = name.rsplit(".", 1)
            q = theirs_params[f"base_model.model.{module}.{tensor}.default"]
            q.copy_(p)
            pairs.append((p, q))
    assert len(pairs) == 2 * len(TARGETS) * 2
    ours.train(), theirs.train()
    out_ours, out_theirs = ours(inputs), theirs(inputs)
    torch.testing.assert_close(out_ours, out_theirs, atol=1e-5, rtol=1e-5)
    target = torch.randn_like(out_ours)
    (out_ours - target).pow(2).mean().backward()
    (out_theirs - target).pow(2).mean().backward()
    for p, q in pairs:
        torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-5)
        assert p.grad.abs().sum() > 0
