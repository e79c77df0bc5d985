"""The defaults that follow the papers: PiSSA's alpha = r, SSVD's rotated side."""

import copy
import json

import pytest
import torch

import espnet_peft
from espnet_peft.checkpoint.adapter_file import read_adapter_file, tensors_digest
from espnet_peft.core.config import parse_config
from espnet_peft.core.registry import get_method
from helpers.matrix import adapted_copy, perturb_adapters



def test_pissa_alpha_defaults_to_r():
    config = parse_config(get_method("pissa").config_cls, "pissa", {"r": 4})
    assert config.alpha == 4.0 and config.scaling == 1.0
    assert parse_config(get_method("pissa").config_cls, "pissa", {"r": 4, "alpha": 8}).scaling == 2.0
    with pytest.raises(espnet_peft.AdapterConfigError, match="'alpha'.*number"):
        parse_config(get_method("pissa").config_cls, "pissa", {"alpha": "r"})


def test_ssvd_side_rotates_the_input_or_the_smaller_side(base_model, inputs, tmp_path):
    """w_2 is 12x20 (out < in): ``input`` rotates its right singular vectors, ``smaller``
    its left ones (ESPnet's code); an adapter file written before ``side`` existed (its
    stored config has no ``side``) meant ``smaller``."""
    layers = {}
    for side in ("input", "smaller"):
        model = adapted_copy(base_model, "ssvd", side=side)
        layers[side] = model.blocks[0].w_2
        assert model.blocks[0].w_1.rot_in is not None  # 20x12: the input side is the smaller one
    assert layers["input"].rot_in is not None and layers["input"].rot_out is None
    assert layers["smaller"].rot_out is not None and layers["smaller"].rot_in is None
    assert layers["input"].closed_form_num_params() == layers["smaller"].closed_form_num_params()
    with pytest.raises(espnet_peft.AdapterConfigError, match="side must be one of"):
        adapted_copy(base_model, "ssvd", side="output")

    old = adapted_copy(base_model, "ssvd", side="smaller")
    perturb_adapters(old)
    path = espnet_peft.save_adapter(old, tmp_path / "ssvd.safetensors")
    meta, tensors = read_adapter_file(path)
    del meta["config"]["side"]  # as written before the field existed
    from safetensors.torch import save_file

    meta["tensors_sha256"] = tensors_digest(tensors)
    save_file(tensors, str(path), metadata={"espnet_peft": json.dumps(meta)})
    loaded = copy.deepcopy(base_model)
    espnet_peft.load_adapter(loaded, path)
    assert loaded.blocks[0].w_2.config.side == "smaller"
    torch.testing.assert_close(loaded(inputs), old(inputs))
