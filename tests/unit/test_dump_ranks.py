"""dump_ranks: the JSON schema the rank heatmaps read, for AdaLoRA and S2-LoRA."""

import copy
import json

import pytest
import torch

import espnet_peft
from espnet_peft.bin import dump_ranks
from espnet_peft.methods.rank_report import natural_key, rank_report
from helpers.matrix import METHOD_CONFIGS, TARGETS, adapted_copy


def trained_adalora(base_model, inputs, steps):
    model = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(model, "adalora", target_modules=TARGETS, **METHOD_CONFIGS["adalora"])
    espnet_peft.mark_only_adapters_trainable(model)
    opt = torch.optim.Adam([p for _, p in espnet_peft.adapter_parameters(model)], lr=0.05)
    model.train()
    for _ in range(steps):
        (model(inputs).sin().sum() + espnet_peft.adapter_regularization(model)).backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


def test_adalora_file_dump_matches_the_allocation(base_model, inputs, tmp_path):
    model = trained_adalora(base_model, inputs, steps=METHOD_CONFIGS["adalora"]["total_step"])
    path = espnet_peft.save_adapter(model, tmp_path / "adalora.safetensors")
    out = tmp_path / "ranks.json"
    dump_ranks.main(["--adapter_file", str(path), "--out", str(out)])
    report = json.loads(out.read_text())

    assert set(report) == {"method", "layers"} and report["method"] == "adalora"
    layers = sorted(espnet_peft.adapter_layers(model), key=lambda item: natural_key(item[0]))
    assert [entry["name"] for entry in report["layers"]] == [n for n, _ in layers]
    for entry, (name, layer) in zip(report["layers"], layers):
        assert set(entry) == {"name", "shape", "rank", "values"}
        assert entry["shape"] == [layer.out_features, layer.in_features]
        assert entry["rank"] == layer.rank == sum(v != 0 for v in entry["values"])
        assert entry["values"] == pytest.approx(layer.lora_E.abs().view(-1).tolist())
    # After the final allocation the ranks add up to the target budget, unevenly.
    ranks = [entry["rank"] for entry in report["layers"]]
    assert sum(ranks) == METHOD_CONFIGS["adalora"]["target_r"] * len(ranks)
    from_model = rank_report(model)
    assert sorted(from_model["layers"], key=lambda e: e["name"]) == \
        sorted(report["layers"], key=lambda e: e["name"])


def test_s2lora_ranks_count_the_nonzero_coefficients(base_model, tmp_path, capsys):
    model = adapted_copy(base_model, "s2lora")
    lambdas = {n: m.s2lora_lambda for n, m in espnet_peft.adapter_layers(model)}
    with torch.no_grad():
        for lam in lambdas.values():
            lam.fill_(0.5)
        lambdas["blocks.0.linear_q"].copy_(torch.tensor([2.0, -0.5, 1e-6, 0.0]))
        lambdas["blocks.1.w_2"].copy_(torch.tensor([0.0, 0.0, -0.001, 0.0]))
    report = rank_report(model)
    by_name = {e["name"]: e for e in report["layers"]}
    assert by_name["blocks.0.linear_q"]["rank"] == 3
    assert by_name["blocks.0.linear_q"]["values"] == pytest.approx([2.0, 0.5, 1e-6, 0.0])
    assert by_name["blocks.1.w_2"]["rank"] == 1 and by_name["blocks.1.w_2"]["shape"] == [12, 20]
    assert by_name["blocks.0.w_1"]["rank"] == 4 and by_name["blocks.0.w_1"]["shape"] == [20, 12]

    path = espnet_peft.save_adapter(model, tmp_path / "s2lora.safetensors")
    with pytest.raises(SystemExit, match="does not record the shape"):
        dump_ranks.main(["--adapter_file", str(path)])
    lora = espnet_peft.save_adapter(adapted_copy(base_model, "lora"), tmp_path / "lora.safetensors")
    with pytest.raises(SystemExit, match="rank dumps exist for s2lora and adalora.*'lora'"):
        dump_ranks.main(["--adapter_file", str(lora)])
