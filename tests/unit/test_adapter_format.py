"""Adapter files written before the package was restructured (tests/unit/fixtures) still
load, onto a base built the same way, and give the outputs recorded when they were written."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import espnet_peft
from espnet_peft.checkpoint.adapter_file import FORMAT_VERSION, read_adapter_file
from helpers.matrix import pretrained_tiny_model

FIXTURES = Path(__file__).parent / "fixtures"
# Every method there was when the files were written (a method added later has none).
WRITTEN = ["lora", "dora", "pissa", "ssvd", "ssvd_o", "s2lora", "full", "bitfit", "bottleneck", "semiorth",
           "vera", "adalora"]


@pytest.mark.parametrize("method", WRITTEN)
def test_file_from_before_the_restructure_loads_and_computes_the_same(method):
    expected = load_file(str(FIXTURES / "adapter_outputs.safetensors"))
    path = FIXTURES / f"adapter_{method}.safetensors"
    meta, _ = read_adapter_file(path)
    assert meta["method"] == method and meta["format_version"] == FORMAT_VERSION
    assert meta["extra"] == {"written_by": "espnet_peft 16af4aa"}
    model = pretrained_tiny_model()
    espnet_peft.load_adapter(model, path)
    with torch.no_grad():
        out = model(expected["inputs"])
    torch.testing.assert_close(out, expected[method], rtol=1e-5, atol=1e-6)
