"""Adapter files: refusing the wrong base, damaged files, and the wrong model."""

import copy

import pytest
import torch

import espnet_peft
from helpers.matrix import METHOD_CONFIGS, TARGETS, adapted_copy, perturb_adapters


@pytest.mark.parametrize("method", ["lora", "pissa", "ssvd", "bitfit", "bottleneck", "semiorth"])
def test_adapter_refuses_a_different_base(method, base_model, tmp_path):
    model = adapted_copy(base_model, method)
    perturb_adapters(model)
    path = espnet_peft.save_adapter(model, tmp_path / "a.safetensors")

    other = copy.deepcopy(base_model)
    with torch.no_grad():
        other.blocks[1].w_2.weight.mul_(1.01)  # a slightly different checkpoint
    with pytest.raises(espnet_peft.BaseModelMismatchError, match="different base weights"):
        espnet_peft.load_adapter(other, path)

    from helpers.matrix import TinyModel
    wider = TinyModel(ff=24).eval()
    with pytest.raises(espnet_peft.AdapterFileError):
        espnet_peft.load_adapter(wider, path)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fingerprint_tolerates_rounding_of_the_base(dtype, base_model, tmp_path):
    model = adapted_copy(base_model, "lora")
    path = espnet_peft.save_adapter(model, tmp_path / "a.safetensors")
    rounded = copy.deepcopy(base_model)
    with torch.no_grad():
        for p in rounded.parameters():
            p.copy_(p.to(dtype).float())
    espnet_peft.load_adapter(rounded, path)  # must not raise


def test_damaged_and_foreign_files_are_rejected(base_model, tmp_path):
    model = adapted_copy(base_model, "dora")
    path = espnet_peft.save_adapter(model, tmp_path / "a.safetensors")
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(espnet_peft.AdapterFileError, match="truncated or corrupted"):
        espnet_peft.load_adapter(copy.deepcopy(base_model), truncated)

    from safetensors.torch import save_file
    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(2)}, str(foreign))
    with pytest.raises(espnet_peft.AdapterFileError, match="not an espnet_peft adapter"):
        espnet_peft.load_adapter(copy.deepcopy(base_model), foreign)
    with pytest.raises(espnet_peft.AdapterFileError, match="not found"):
        espnet_peft.load_adapter(copy.deepcopy(base_model), tmp_path / "missing.safetensors")


def test_loading_into_wrong_method_or_config_is_refused(base_model):
    model = adapted_copy(base_model, "lora")
    sd = espnet_peft.adapter_state_dict(model)
    other = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(other, "dora", target_modules=TARGETS, **METHOD_CONFIGS["dora"])
    with pytest.raises(espnet_peft.AdapterFileError, match="missing"):
        espnet_peft.load_adapter_state_dict(other, sd)


def test_save_is_atomic_and_keeps_old_file_on_failure(base_model, tmp_path, monkeypatch):
    model = adapted_copy(base_model, "lora")
    path = espnet_peft.save_adapter(model, tmp_path / "a.safetensors")
    before = path.read_bytes()
    import safetensors.torch

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError):
        espnet_peft.save_adapter(model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]


def test_tampered_tensors_are_refused(base_model, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    model = adapted_copy(base_model, "lora")
    path = espnet_peft.save_adapter(model, tmp_path / "a.safetensors")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    name = next(k for k in tensors if k.endswith("lora_A"))
    tensors[name][0, 0] += 1.0  # an edit that keeps the file well-formed
    save_file(tensors, str(tmp_path / "edited.safetensors"), metadata=meta)
    with pytest.raises(espnet_peft.AdapterFileError, match="do not match the checksum"):
        espnet_peft.load_adapter(copy.deepcopy(base_model), tmp_path / "edited.safetensors")
    espnet_peft.load_adapter(copy.deepcopy(base_model), path)  # the untouched file still loads
