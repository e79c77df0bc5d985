"""The pretrained bases of the recipes (OWSM v3.1 base/small/medium, OWLS 2B), built with
ESPnet's own ``S2TTask.build_model`` from the shape-only configs in
``egs2/TEMPLATE/peft1/conf`` (the weights cannot be downloaded here).

1. Each full-size config builds, on the meta device (shapes only), exactly the parameter
   count docs/reproducing.md reports, close to the release's published size.
2. A narrow, shallow copy of each config keeps the layer types and projections (every
   Linear layer name and module type of the full model, up to block indices) and is
   small enough for every method to inject, train a step, save adapter-only, reload onto
   a fresh copy of the base and decode there exactly as before saving.
3. One method at full size: SSVD 40 % (the papers' setting) on the 101M OWSM v3.1 base.
"""

import copy
import re
from pathlib import Path

import pytest
import torch
import yaml

import espnet_peft
from helpers.matrix import METHOD_CONFIGS, METHOD_NAMES
from espnet_peft.core.param_counts import targets_present, with_targets
from espnet_peft.integration.arch import build_base
from espnet_peft.checkpoint.adapter_file import read_adapter_file

CONF = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/peft1/conf"
# The SSVD papers' targets (conf/tuning/ssvd_paper): attention, feed-forward and, in an
# E-Branchformer encoder, the cgMLP and merge projections.
PAPER_TARGETS = ["linear_q", "linear_k", "linear_v", "linear_out", "w_1", "w_2",
                 "channel_proj1.0", "channel_proj2", "merge_proj"]
# config: (parameters it builds, the release's published size, Linear layers PAPER_TARGETS
# select). OWLS 2B's published size is the nominal "2B" of its name (see owls_2b_arch.yaml).
ARCHS = {
    "owsm_v3.1_base_arch.yaml": (101_182_628, 101e6, 126),
    "owsm_v3.1_small_arch.yaml": (366_653_348, 367e6, 189),
    "owsm_v3.1_medium_arch.yaml": (1_016_891_044, 1.02e9, 378),
    "owls_2b_arch.yaml": (2_304_882_340, 2e9, 256),
}


def write_config(conf: dict, path: Path) -> str:
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return str(path)


def narrow(conf: dict) -> dict:
    """``conf`` at width 32 with two blocks a side: the same modules, smaller matrices."""
    conf = copy.deepcopy(conf)
    enc, dec = conf["encoder_conf"], conf["decoder_conf"]
    enc.update(output_size=32, attention_heads=2, linear_units=64, num_blocks=2)
    if "cgmlp_linear_units" in enc:
        enc.update(cgmlp_linear_units=64, cgmlp_conv_kernel=3, merge_conv_kernel=3)
    dec.update(attention_heads=2, linear_units=64, num_blocks=2)
    conf["frontend_conf"]["n_mels"] = 20
    conf["vocab_size"] = 40
    return conf


def layer_kinds(model) -> set:
    """Every module's name (block indices folded) and type: the architecture's layout."""
    return {(re.sub(r"\.\d+(?=\.|$)", ".#", name), type(m).__name__)
            for name, m in model.named_modules() if name}


def batch(model, seconds: float = 0.5, tokens: int = 4, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    text = torch.randint(2, model.vocab_size - 8, (1, tokens), generator=gen)
    n = int(16000 * seconds)
    return dict(speech=torch.randn(1, n, generator=gen), speech_lengths=torch.tensor([n]),
                text=text, text_lengths=torch.tensor([tokens]),
                text_prev=torch.tensor([[model.na]]), text_prev_lengths=torch.tensor([1]),
                text_ctc=text.clone(), text_ctc_lengths=torch.tensor([tokens]))


@torch.no_grad()
def greedy_decode(model, speech, steps: int = 3):
    """Greedy attention decoding from <sos>: the tokens and their log-probabilities."""
    from espnet.nets.pytorch_backend.transformer.mask import subsequent_mask

    enc, _ = model.encode(speech, torch.tensor([speech.shape[1]]))
    ys, scores = torch.tensor([[model.sos]]), []
    for _ in range(steps):
        logp, _ = model.decoder.forward_one_step(ys, subsequent_mask(ys.shape[1]).unsqueeze(0), enc)
        scores.append(logp)
        ys = torch.cat([ys, logp.argmax(-1, keepdim=True)], dim=1)
    return ys[0, 1:].tolist(), torch.cat(scores)


def train_step(model, data, lr: float = 1e-2):
    espnet_peft.mark_only_adapters_trainable(model)
    params = [p for p in model.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    model.train()
    # The S2T model's train-mode forward edits text in place: give it copies.
    loss = model(**{k: v.clone() for k, v in data.items()})[0]
    reg = espnet_peft.adapter_regularization(model)
    if reg is not None:
        loss = loss + reg
    optimizer = torch.optim.Adam(params, lr=lr)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert any(not torch.equal(b, p) for b, p in zip(before, params)), "nothing trained"
    return model.eval()


@pytest.mark.parametrize("arch", list(ARCHS))
def test_full_size_config_builds_the_published_shapes(arch):
    count, published, layers = ARCHS[arch]
    model = build_base("s2t", str(CONF / arch), device="meta")
    total = sum(p.numel() for p in model.parameters())
    assert total == count
    if arch.startswith("owsm"):  # the releases state three significant digits
        assert abs(total - published) / published < 0.005
    targets = targets_present(model, PAPER_TARGETS)   # all of them on E-Branchformer only
    assert (targets == PAPER_TARGETS) == (type(model.encoder).__name__ == "EBranchformerEncoder")
    # The paper grid's adapter config as is: one file for E-Branchformer and Transformer
    # encoders (the cgMLP/merge projections are optional targets).
    paper = yaml.safe_load((CONF / "tuning/ssvd_paper/adapter/ssvd.yaml").read_text())["adapter_conf"]
    espnet_peft.inject_adapters(model, "ssvd", **paper)
    assert sum(1 for _ in espnet_peft.adapter_layers(model)) == layers


@pytest.fixture(scope="module", params=list(ARCHS))
def narrow_base(request, tmp_path_factory):
    conf = yaml.safe_load((CONF / request.param).read_text())
    full = build_base("s2t", str(CONF / request.param), device="meta")
    torch.manual_seed(0)
    model = build_base("s2t", write_config(narrow(conf), tmp_path_factory.mktemp("arch") / "arch.yaml"))
    assert layer_kinds(model) == layer_kinds(full)
    return model.eval()


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_method_trains_saves_reloads_and_decodes(narrow_base, method, tmp_path):
    targets = targets_present(narrow_base, PAPER_TARGETS)
    model = copy.deepcopy(narrow_base)
    espnet_peft.inject_adapters(model, method, **with_targets(method, METHOD_CONFIGS[method], targets))
    data = batch(model)
    train_step(model, data)
    hyp, scores = greedy_decode(model, data["speech"])

    path = espnet_peft.save_adapter(model, tmp_path / "adapter.safetensors")
    if method != "full":  # adapter-only: no base tensor in the file
        _, tensors = read_adapter_file(path)
        assert not set(tensors) & set(narrow_base.state_dict())
    reloaded = copy.deepcopy(narrow_base)
    espnet_peft.load_adapter(reloaded, path)
    hyp2, scores2 = greedy_decode(reloaded.eval(), data["speech"])
    assert hyp2 == hyp
    torch.testing.assert_close(scores2, scores, rtol=1e-4, atol=1e-4)
    # ... and the adapter changed the model (the base decodes differently).
    _, base_scores = greedy_decode(narrow_base, data["speech"])
    assert not torch.allclose(base_scores, scores, atol=1e-6)


def test_ssvd_step_on_the_full_size_owsm_base(tmp_path):
    """SSVD k = 40 % (153 of 384) on the papers' 126 layers of the real-size 0.1B model:
    the docs/reproducing.md count, one step, adapter-only save and reload, same greedy decoding."""
    torch.manual_seed(0)
    base = build_base("s2t", str(CONF / "owsm_v3.1_base_arch.yaml")).eval()
    model = copy.deepcopy(base)
    espnet_peft.inject_adapters(model, "ssvd", k_fraction=0.4, rotation="approx",
                                target_modules=targets_present(base, PAPER_TARGETS))
    espnet_peft.mark_only_adapters_trainable(model)
    assert espnet_peft.count_parameters(model) == (1_484_406, 101_182_628 + 1_484_406)
    data = batch(model, seconds=1.0, tokens=5)
    train_step(model, data, lr=1e-3)
    hyp, scores = greedy_decode(model, data["speech"], steps=2)
    path = espnet_peft.save_adapter(model, tmp_path / "ssvd.safetensors")
    assert path.stat().st_size < 8 * 1_484_406 + 4 * 10**6   # adapter and fingerprint only
    del model
    espnet_peft.load_adapter(base, path)
    hyp2, scores2 = greedy_decode(base.eval(), data["speech"], steps=2)
    assert hyp2 == hyp
    torch.testing.assert_close(scores2, scores, rtol=1e-4, atol=1e-4)
