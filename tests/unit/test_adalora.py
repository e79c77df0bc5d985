"""AdaLoRA: parity with HF peft's AdaLoRA on the same weights (loss with the
orthogonality term, parameters and rank masks through the warm-up, budgeting and final
phases under identical SGD steps), step counting from optimizer steps, persistence of
the schedule state, and config errors."""

import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn

import espnet_peft
from helpers.matrix import TARGETS

peft = pytest.importorskip("peft")

SCHEDULE = dict(init_r=4, target_r=2, total_step=12, tinit=2, tfinal=4, deltaT=2, orth_reg_weight=0.3)


class WithLoss(nn.Module):
    """Returns an object with ``.loss``, which is what makes peft's AdaLoraModel add
    its orthogonality term."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x, target):
        out = self.net(x)
        return SimpleNamespace(loss=(out - target).pow(2).mean(), logits=out)


def layers(model):
    return dict(espnet_peft.adapter_layers(model))


def test_losses_parameters_and_masks_match_peft_step_by_step(base_model, inputs):
    ours = WithLoss(copy.deepcopy(base_model))
    espnet_peft.inject_adapters(ours, "adalora", target_modules=TARGETS, alpha=8.0, **SCHEDULE)
    espnet_peft.mark_only_adapters_trainable(ours)
    config = peft.AdaLoraConfig(target_modules=TARGETS, lora_alpha=8, lora_dropout=0.0, **SCHEDULE)
    theirs = peft.get_peft_model(WithLoss(copy.deepcopy(base_model)), config)
    theirs_params = dict(theirs.named_parameters())

    def peft_twin(name, tensor):
        return theirs_params[f"base_model.model.{name}.{tensor}.default"]

    with torch.no_grad():  # same starting factors (E = 0 on both sides)
        for name, layer in layers(ours).items():
            for t in ("lora_A", "lora_E", "lora_B"):
                peft_twin(name, t).copy_(getattr(layer, t))
    opt_ours = torch.optim.SGD([p for _, p in espnet_peft.adapter_parameters(ours)], lr=0.5)
    opt_theirs = torch.optim.SGD([p for p in theirs.parameters() if p.requires_grad], lr=0.5)
    ours.train(), theirs.train()
    target = torch.randn(inputs.shape[0], 5, generator=torch.Generator().manual_seed(2))
    masked_steps = 0
    for step in range(1, SCHEDULE["total_step"] + 3):
        loss_ours = ours(inputs, target).loss + espnet_peft.adapter_regularization(ours)
        loss_theirs = theirs.base_model(inputs, target).loss
        torch.testing.assert_close(loss_ours, loss_theirs, atol=1e-5, rtol=1e-5)
        loss_ours.backward()
        loss_theirs.backward()
        opt_ours.step()  # our allocation runs in the optimizer's post-step hook
        opt_theirs.step()
        theirs.base_model.update_and_allocate(step)
        opt_ours.zero_grad(), opt_theirs.zero_grad()

        assert int(ours.peft_shared.adalora.global_step) == step
        for name, layer in layers(ours).items():
            e_theirs = peft_twin(name, "lora_E").view(-1)
            assert torch.equal(layer.lora_E.view(-1) == 0, e_theirs == 0), (step, name)
            for t in ("lora_A", "lora_E", "lora_B"):
                torch.testing.assert_close(getattr(layer, t), peft_twin(name, t), atol=1e-5, rtol=1e-4)
        masked_steps += any(layer.rank < SCHEDULE["init_r"] for layer in layers(ours).values())

    ranks = [layer.rank for layer in layers(ours).values()]
    assert sum(ranks) == SCHEDULE["target_r"] * len(ranks)
    assert len(set(ranks)) > 1, "the global allocation should give layers different ranks"
    assert masked_steps >= SCHEDULE["total_step"] - SCHEDULE["tinit"]
    pattern = theirs.peft_config["default"].rank_pattern  # peft's final allocation
    for name, layer in layers(ours).items():
        key = f"{name}.lora_E.default"
        assert [bool(v) for v in pattern[key]] == (layer.adalora_mask > 0).tolist()


def test_counts_optimizer_steps_and_persists_the_schedule_state(base_model, inputs, tmp_path):
    model = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(model, "adalora", target_modules=TARGETS, **SCHEDULE)
    espnet_peft.mark_only_adapters_trainable(model)
    opt = torch.optim.Adam([p for _, p in espnet_peft.adapter_parameters(model)], lr=0.05)
    model.train()
    for _ in range(7):  # 7 optimizer steps, each over 2 accumulated backward passes
        for half in inputs.chunk(2):
            (model(half).pow(2).mean() + espnet_peft.adapter_regularization(model)).backward()
        opt.step()
        opt.zero_grad()
    # Another optimizer over other parameters must not advance this model's schedule.
    other = nn.Linear(3, 3)
    torch.optim.SGD(other.parameters(), lr=0.1).step()
    allocator = model.peft_shared.adalora
    assert int(allocator.global_step) == 7
    ranks = [layer.rank for layer in layers(model).values()]
    budget, _ = allocator.budget(7)
    assert sum(ranks) == budget < SCHEDULE["init_r"] * len(ranks)

    model.eval()
    expected = model(inputs)
    path = espnet_peft.save_adapter(model, tmp_path / "adalora.safetensors")
    resumed = copy.deepcopy(base_model)
    espnet_peft.load_adapter(resumed, path)
    assert int(resumed.peft_shared.adalora.global_step) == 7
    for (name, a), (_, b) in zip(espnet_peft.adapter_layers(model), espnet_peft.adapter_layers(resumed)):
        assert torch.equal(a.adalora_mask, b.adalora_mask), name
        assert torch.equal(a.adalora_importance.ipt_lora_A, b.adalora_importance.ipt_lora_A), name
    torch.testing.assert_close(resumed(inputs), expected, atol=1e-6, rtol=1e-6)

    # Training the resumed copy continues the schedule at step 8.
    espnet_peft.mark_only_adapters_trainable(resumed)
    opt = torch.optim.Adam([p for _, p in espnet_peft.adapter_parameters(resumed)], lr=0.05)
    resumed.train()
    resumed(inputs).pow(2).mean().backward()
    opt.step()
    assert int(resumed.peft_shared.adalora.global_step) == 8
    assert sum(layer.rank for layer in layers(resumed).values()) == resumed.peft_shared.adalora.budget(8)[0]

    # A deep copy has its own allocator over its own layers, and still follows its optimizer.
    twin = copy.deepcopy(resumed)
    assert twin.peft_shared.adalora.layers[0] is twin.blocks[0].linear_q
    opt = torch.optim.SGD([p for _, p in espnet_peft.adapter_parameters(twin)], lr=0.01)
    twin(inputs).pow(2).mean().backward()
    opt.step()
    assert int(twin.peft_shared.adalora.global_step) == 9
    assert int(resumed.peft_shared.adalora.global_step) == 8


def test_config_errors_name_the_field(base_model):
    def inject(**conf):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "adalora", target_modules=TARGETS, **conf)

    with pytest.raises(espnet_peft.AdapterConfigError, match="adalora needs total_step"):
        inject(init_r=4, target_r=2)
    with pytest.raises(espnet_peft.AdapterConfigError, match="no budgeting phase"):
        inject(init_r=4, target_r=2, total_step=10, tinit=6, tfinal=4)
    with pytest.raises(espnet_peft.AdapterConfigError, match="target_r .* must not exceed init_r"):
        inject(init_r=2, target_r=4, total_step=10)
    with pytest.raises(espnet_peft.AdapterConfigError, match="init_r=16 exceeds the rank"):
        inject(init_r=16, target_r=2, total_step=10)
