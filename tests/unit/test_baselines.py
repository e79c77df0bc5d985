"""The seeds' baselines as methods: full fine-tuning, BitFit, bottleneck adapters and the
semi-orthogonal factorisation -- behaviour beyond the method matrix, on ESPnet's real
encoder/decoder classes (Conformer, E-Branchformer, Transformer, Whisper, HF wav2vec2)."""

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import espnet_peft
from espnet_peft.core.state import peft_state
from espnet_peft.core.config import AdapterConfigError
from espnet_peft.core.inject import adapted_model_size
from espnet_peft.core.layer import OUTPUT_ADAPTER_ATTR
from helpers.matrix import TinyModel, adapted_copy, perturb_adapters


# ----- semiorth ------------------------------------------------------------------------

def test_semiorth_is_the_rank_r_truncation_with_semi_orthogonal_v(base_model, inputs):
    model = adapted_copy(base_model, "semiorth", rank=3)
    layer = model.blocks[0].w_1  # 20 x 12
    w = base_model.blocks[0].w_1.weight.detach()
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    torch.testing.assert_close(layer.semiorth_U @ layer.semiorth_V, (u[:, :3] * s[:3]) @ vh[:3],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.semiorth_V @ layer.semiorth_V.t(), torch.eye(3), atol=1e-5, rtol=0)
    x = torch.randn(5, 12)
    torch.testing.assert_close(layer(x), x @ ((u[:, :3] * s[:3]) @ vh[:3]).t() + layer.bias,
                               atol=1e-5, rtol=1e-5)
    # At full rank nothing is truncated: the model is unchanged.
    full = adapted_copy(base_model, "semiorth", rank_fraction=1.0)
    torch.testing.assert_close(full(inputs), base_model(inputs), atol=1e-5, rtol=1e-5)
    # The adapted model computes with U and V instead of W0: it is smaller.
    dense = sum(m.weight.numel() for _, m in espnet_peft.adapter_layers(model))
    factors = sum(m.semiorth_U.numel() + m.semiorth_V.numel() for _, m in espnet_peft.adapter_layers(model))
    assert adapted_model_size(model) == sum(p.numel() for p in base_model.parameters()) - dense + factors
    assert factors < dense


def test_semiorth_stays_semi_orthogonal_under_training(base_model, inputs):
    model = adapted_copy(base_model, "semiorth", rank_fraction=0.5)
    espnet_peft.mark_only_adapters_trainable(model)
    layers = [m for _, m in espnet_peft.adapter_layers(model)]
    v0 = [m.semiorth_V.detach().clone() for m in layers]
    opt = torch.optim.AdamW([p for _, p in espnet_peft.adapter_parameters(model)], lr=0.02)
    model.train()
    for _ in range(15):
        opt.zero_grad()
        model(inputs).sin().sum().backward()
        opt.step()
        # right after a step the constraint is violated by the step itself ...
    drift = max(torch.linalg.matrix_norm(m.semiorth_V @ m.semiorth_V.t() - torch.eye(m.rank)) for m in layers)
    assert drift > 1e-3, "the optimiser step did not move V off the constraint (test too weak)"
    model(inputs)  # ... and the next training forward restores it (Kaldi's update)
    for m, v in zip(layers, v0):
        torch.testing.assert_close(m.semiorth_V @ m.semiorth_V.t(), torch.eye(m.rank), atol=1e-4, rtol=0)
        assert not torch.allclose(m.semiorth_V, v, atol=1e-3), "V did not train"
    model.eval()  # evaluation never changes parameters
    before = [m.semiorth_V.detach().clone() for m in layers]
    with torch.no_grad():
        layers[0].semiorth_V.mul_(1.1)
        before[0] = layers[0].semiorth_V.clone()
    model(inputs)
    assert all(torch.equal(m.semiorth_V, b) for m, b in zip(layers, before))


def test_semiorth_with_lora_on_frozen_factors(base_model, inputs, tmp_path):
    model = adapted_copy(base_model, "semiorth", rank=3, train_factors=False, lora_r=2, lora_alpha=4.0)
    truncated = adapted_copy(base_model, "semiorth", rank=3)
    torch.testing.assert_close(model(inputs), truncated(inputs))  # B = 0 at start
    espnet_peft.mark_only_adapters_trainable(model)
    layer = model.blocks[0].w_1
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "blocks.0.w_1.lora_A" in trainable and "blocks.0.w_1.semiorth_U" not in trainable
    assert {"blocks.0.w_1.semiorth_U", "blocks.0.w_1.semiorth_V"} <= set(espnet_peft.adapter_state_dict(model))
    assert espnet_peft.count_parameters(model)[0] == sum(2 * (m.in_features + m.out_features)
                                                         for _, m in espnet_peft.adapter_layers(model))
    perturb_adapters(model)
    expected = model(inputs)
    assert not torch.allclose(expected, truncated(inputs), atol=1e-3)
    x = torch.randn(4, 12)
    w = layer.semiorth_U @ layer.semiorth_V + 2.0 * layer.lora_B @ layer.lora_A
    torch.testing.assert_close(layer(x), x @ w.t() + layer.bias, atol=1e-5, rtol=1e-5)
    again = copy.deepcopy(base_model)
    espnet_peft.load_adapter(again, espnet_peft.save_adapter(model, tmp_path / "a.safetensors"))
    torch.testing.assert_close(again(inputs), expected)
    plain = espnet_peft.merge_and_unload(model)
    torch.testing.assert_close(plain(inputs), expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(AdapterConfigError, match="nothing to train"):
        adapted_copy(base_model, "semiorth", train_factors=False)


# ----- bitfit --------------------------------------------------------------------------

def test_bitfit_equals_training_the_biases_directly(base_model, inputs):
    adapted = adapted_copy(base_model, "bitfit")
    espnet_peft.mark_only_adapters_trainable(adapted)
    plain = copy.deepcopy(base_model)
    for p in plain.parameters():
        p.requires_grad = False
    biased = ("linear_q", "w_1", "w_2")  # linear_v has no bias
    for b in plain.blocks:
        for n in biased:
            getattr(b, n).bias.requires_grad = True
    adapted(inputs).pow(2).sum().backward()
    plain(inputs).pow(2).sum().backward()
    for i, b in enumerate(plain.blocks):
        for n in biased:
            torch.testing.assert_close(getattr(adapted.blocks[i], n).bitfit_bias.grad,
                                       getattr(b, n).bias.grad)
    assert not hasattr(adapted.blocks[0].linear_v, "bitfit_bias")  # no bias: skipped
    with pytest.raises(AdapterConfigError, match="has a bias"):
        espnet_peft.inject_adapters(copy.deepcopy(base_model), "bitfit", target_modules=["linear_v"])


def test_bitfit_norm_bias_option_trains_norm_biases_in_place(base_model, inputs, tmp_path):
    model = adapted_copy(base_model, "bitfit", norm_bias=True)
    espnet_peft.mark_only_adapters_trainable(model)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {"blocks.0.norm.bias", "blocks.1.norm.bias"} <= trainable
    assert "blocks.0.norm.weight" not in trainable
    perturb_adapters(model)
    expected = model(inputs)
    path = espnet_peft.save_adapter(model, tmp_path / "bitfit.safetensors")
    again = copy.deepcopy(base_model)
    espnet_peft.load_adapter(again, path)
    torch.testing.assert_close(again(inputs), expected)


# ----- full ----------------------------------------------------------------------------

def test_full_saves_the_whole_model_and_loads_onto_any_same_architecture(base_model, inputs, tmp_path):
    model = copy.deepcopy(base_model)
    espnet_peft.inject_adapters(model, "full")
    espnet_peft.mark_only_adapters_trainable(model)
    trainable, total = espnet_peft.count_parameters(model)
    assert trainable == total == sum(p.numel() for p in base_model.parameters())
    assert set(espnet_peft.adapter_state_dict(model)) == set(base_model.state_dict())
    perturb_adapters(model)
    expected = model(inputs)
    path = espnet_peft.save_adapter(model, tmp_path / "full.safetensors")
    other = TinyModel().eval()  # different (random) weights, same architecture
    espnet_peft.load_adapter(other, path)
    torch.testing.assert_close(other(inputs), expected)
    wider = TinyModel(ff=24).eval()
    before = copy.deepcopy(wider.state_dict())
    with pytest.raises(espnet_peft.AdapterFileError, match=r"w_1\.(weight|bias) has shape"):
        espnet_peft.load_adapter(wider, path)
    assert all(torch.equal(v, before[k]) for k, v in wider.state_dict().items()), "partly loaded"
    plain = espnet_peft.merge_and_unload(model)
    torch.testing.assert_close(plain(inputs), expected)


# ----- bottleneck on ESPnet / Whisper / wav2vec2 layers --------------------------------

def _hosts(model):
    names = [n for n, _ in espnet_peft.adapter_layers(model)]
    targets = list(peft_state(model).targets)
    assert len(names) == len(targets)
    for host in targets:  # a child of the host, or of its parent for containers
        assert f"{host}.{OUTPUT_ADAPTER_ATTR}" in names or f"{host}_{OUTPUT_ADAPTER_ATTR}" in names
    return targets


def _check_bottleneck(model, run, expected_hosts, **conf):
    """Inject, check the hosts, that the output is unchanged at start, changes once the
    adapters move, and that gradients reach them."""
    model.eval()
    ref = run(model)
    espnet_peft.inject_adapters(model, "bottleneck", bottleneck_dim=8, **conf)
    espnet_peft.mark_only_adapters_trainable(model)
    espnet_peft.initialize_adapters(model)  # ``run`` calls a submodule, not the root
    assert _hosts(model) == expected_hosts
    torch.testing.assert_close(run(model), ref, atol=1e-5, rtol=1e-5)
    perturb_adapters(model, scale=0.5)
    out = run(model)
    assert not torch.allclose(out, ref, atol=1e-3)
    out.pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in espnet_peft.adapter_parameters(model) if n.endswith(".up"))


def _espnet_input():
    torch.manual_seed(0)
    return torch.randn(2, 40, 20), torch.tensor([40, 33])


def _espnet_encoder(kind):
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder
    from espnet2.asr.encoder.transformer_encoder import TransformerEncoder

    torch.manual_seed(0)
    common = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=3,
                  input_layer="linear", dropout_rate=0.0)
    wrapper = nn.Module()
    if kind == "conformer":
        wrapper.encoder = ConformerEncoder(20, macaron_style=True, cnn_module_kernel=3, **common)
    elif kind == "e_branchformer":
        wrapper.encoder = EBranchformerEncoder(20, use_ffn=True, macaron_ffn=True, cgmlp_linear_units=32,
                                               cgmlp_conv_kernel=3, **common)
    else:
        wrapper.encoder = TransformerEncoder(20, **common)
    return wrapper


@pytest.mark.parametrize("kind", ["conformer", "e_branchformer", "transformer"])
def test_bottleneck_top_k_layers_of_espnet_encoders(kind):
    wrapper = _espnet_encoder(kind)
    subs = ["attention", "feed_forward"] + (["macaron"] if kind != "transformer" else [])
    blocks = {"attention": "attn" if kind == "e_branchformer" else "self_attn",
              "feed_forward": "feed_forward", "macaron": "feed_forward_macaron"}
    order = [n for n, _ in wrapper.named_modules()]
    expected = sorted((f"encoder.encoders.{i}.{blocks[s]}" for i in (1, 2) for s in subs), key=order.index)
    x, lens = _espnet_input()
    _check_bottleneck(wrapper, lambda m: m.encoder(x, lens)[0], expected, top_k_layers=2, sub_blocks=subs)
    with pytest.raises(AdapterConfigError, match="has only 3 layers"):
        espnet_peft.inject_adapters(_espnet_encoder(kind), "bottleneck", top_k_layers=4)


def test_bottleneck_on_the_transformer_decoder_and_errors():
    from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

    torch.manual_seed(0)
    wrapper = nn.Module()
    wrapper.decoder = TransformerDecoder(vocab_size=11, encoder_output_size=16, attention_heads=2,
                                         linear_units=32, num_blocks=2, dropout_rate=0.0)
    mem, mem_lens = torch.randn(2, 7, 16), torch.tensor([7, 5])
    ys, ys_lens = torch.randint(1, 10, (2, 4)), torch.tensor([4, 3])
    _check_bottleneck(wrapper, lambda m: m.decoder(mem, mem_lens, ys, ys_lens)[0],
                      ["decoder.decoders.1.self_attn", "decoder.decoders.1.src_attn"],
                      stacks=["decoder"], top_k_layers=1, sub_blocks=["attention", "src_attn"])
    fresh = nn.Module()
    fresh.decoder = TransformerDecoder(vocab_size=11, encoder_output_size=16, attention_heads=2,
                                       linear_units=32, num_blocks=2)
    with pytest.raises(AdapterConfigError, match="no layer stack under 'encoder'"):
        espnet_peft.inject_adapters(copy.deepcopy(fresh), "bottleneck")
    with pytest.raises(AdapterConfigError, match="'macaron' is in none"):
        espnet_peft.inject_adapters(copy.deepcopy(fresh), "bottleneck", stacks=["decoder"],
                                    sub_blocks=["attention", "macaron"])
    with pytest.raises(espnet_peft.AdapterConfigError, match="unknown adapter_conf key"):
        espnet_peft.inject_adapters(copy.deepcopy(fresh), "bottleneck", layers=2)


def test_bottleneck_on_espnet_whisper_encoder(monkeypatch):
    """ESPnet's OpenAIWhisperEncoder around a tiny openai-whisper model built from
    dimensions (its load_model would download weights): attention blocks return
    ``(out, qk)`` tuples."""
    whisper = pytest.importorskip("whisper", reason="openai-whisper is not installed")
    from espnet2.asr.encoder.whisper_encoder import OpenAIWhisperEncoder

    dims = whisper.model.ModelDimensions(n_mels=80, n_audio_ctx=100, n_audio_state=16, n_audio_head=2,
                                         n_audio_layer=3, n_vocab=60, n_text_ctx=8, n_text_state=16,
                                         n_text_head=2, n_text_layer=1)
    torch.manual_seed(0)
    monkeypatch.setattr(whisper, "load_model", lambda *a, **k: whisper.model.Whisper(dims))
    wrapper = nn.Module()
    wrapper.encoder = OpenAIWhisperEncoder(whisper_model="tiny")
    audio, lens = torch.randn(2, 8000), torch.tensor([8000, 6000])
    _check_bottleneck(wrapper, lambda m: m.encoder(audio, lens)[0],
                      [f"encoder.encoders.blocks.2.{s}" for s in ("attn", "mlp")], top_k_layers=1)


def test_bottleneck_on_hf_wav2vec2():
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=3, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, hidden_dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0)
    torch.manual_seed(0)
    model = transformers.Wav2Vec2Model(config)
    audio = torch.randn(2, 1600)
    _check_bottleneck(model, lambda m: m(audio).last_hidden_state,
                      [f"encoder.layers.{i}.{s}" for i in (1, 2) for s in ("attention", "feed_forward")],
                      top_k_layers=2)


# ----- end to end through ESPnet -------------------------------------------------------

E2E_ADAPTERS = {
    "full": {},
    "bitfit": {},
    "bottleneck": {"top_k_layers": 1, "bottleneck_dim": 8, "sub_blocks": ["attention", "feed_forward"]},
    "semiorth": {"rank_fraction": 0.5},
}

# Runs several entry-point calls in one interpreter: each ESPnet start costs 10-25 s.
CALLS = """
import json, sys, time
for module, argv in json.loads(sys.argv[1]):
    start = time.time()
    try:
        __import__(module, fromlist=["main"]).main(argv)
        print(f"CALL {module} {time.time() - start:.1f} s", flush=True)
    except Exception as e:
        print(f"CALL FAILED {module}: {type(e).__name__}: {e}", flush=True)
        if module != "espnet_peft.bin.merge":
            raise
"""


def _run_calls(calls):
    import json
    import os
    import subprocess
    import sys

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-c", CALLS, json.dumps(calls)], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-2000:]
    return proc


@pytest.mark.integration  # a real ESPnet training and decoding run (~15 s)
@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None or __import__("shutil").which("sox") is None,
                    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")
def test_baselines_train_save_adapter_only_and_decode_with_espnet(tmp_path):
    """One training step per method through ``espnet_peft.bin.asr_train`` with
    ``--save_strategy adapter_only``, decoding through ``espnet_peft.bin.asr_inference``
    (base from the config's init_param); full, bitfit and semiorth also merge into a
    plain model that ESPnet's own decoder decodes identically, bottleneck refuses to
    merge. (``full`` as a method: its adapter-only checkpoint is the whole model.)"""
    import yaml

    from espnet_peft.integration.arch import build_base
    from helpers.espnet_recipe import MODEL_CONFIG, data_args, make_experiment, read_hyps

    exp = make_experiment(tmp_path)
    conf = tmp_path / "base.yaml"
    conf.write_text(yaml.safe_dump(dict(MODEL_CONFIG, token_list=str(exp["tokens"]), token_type="char")))
    torch.manual_seed(0)
    base = build_base("asr", str(conf))
    base_ckpt = tmp_path / "base.pth"
    torch.save(base.state_dict(), base_ckpt)
    base_params = {n for n, _ in base.named_parameters()}

    d = exp["data"]
    decode_opts = ["--data_path_and_name_and_type", f"{d}/wav.scp,speech,sound", "--ngpu", "0",
                   "--beam_size", "2", "--ctc_weight", "0.3", "--batch_size", "1"]
    train_calls, decode_calls = [], []
    for method, adapter_conf in E2E_ADAPTERS.items():
        out = tmp_path / method
        train_calls.append(("espnet_peft.bin.asr_train", [
            "--config", str(exp["config"]), "--output_dir", str(out), *map(str, data_args(exp)),
            "--init_param", str(base_ckpt), "--use_adapter", "true", "--adapter", method,
            "--adapter_conf", json.dumps(adapter_conf), "--save_strategy", "adapter_only",
            "--max_epoch", "1", "--batch_size", "8", "--seed", "0", "--optim_conf", "{lr: 0.01}"]))
        ckpt = out / "valid.loss.best.pth"
        decode_calls.append(("espnet_peft.bin.asr_inference", [
            "--asr_train_config", str(out / "config.yaml"), "--asr_model_file", str(ckpt),
            "--output_dir", str(out / "decode"), *decode_opts]))
        decode_calls.append(("espnet_peft.bin.merge", [
            "--task", "asr", "--config", str(out / "config.yaml"), "--model_file", str(ckpt),
            "--out_dir", str(out / "merged")]))
        if method != "bottleneck":
            decode_calls.append(("espnet2.bin.asr_inference", [
                "--asr_train_config", str(out / "merged" / "config.yaml"),
                "--asr_model_file", str(out / "merged" / "model.pth"),
                "--output_dir", str(out / "decode_merged"), *decode_opts]))
    proc = _run_calls(train_calls + decode_calls)

    n_utts = len((d / "wav.scp").read_text().splitlines())
    markers = {"bitfit": "bitfit_bias", "bottleneck": "peft_output_adapter", "semiorth": "semiorth_"}
    n_base = sum(p.numel() for p in base.parameters())
    for method in E2E_ADAPTERS:
        out = tmp_path / method
        state = torch.load(out / "valid.loss.best.pth", weights_only=True)
        summary = json.loads((out / "peft_summary.json").read_text())
        assert summary["method"] == method and summary["base_params"] == n_base, summary
        if method == "full":
            assert base_params <= set(state) and summary["trainable_params"] == n_base
        else:
            assert not base_params & set(state), (method, sorted(base_params & set(state))[:5])
            adapter = {k: v for k, v in state.items() if markers[method] in k}
            assert adapter, (method, sorted(state)[:10])
        if method == "bitfit":  # zero at start: one step moved them
            assert any(v.abs().sum() > 0 for v in adapter.values())
        hyps = read_hyps(out / "decode")
        assert len(hyps) == n_utts
        if method == "bottleneck":
            assert "CALL FAILED espnet_peft.bin.merge: AdapterMergeError" in proc.stdout
            assert not (out / "merged" / "model.pth").exists()
        else:
            merged = read_hyps(out / "decode_merged")
            for k in hyps:
                assert merged[k][0] == hyps[k][0], (method, k, merged[k], hyps[k])
                assert merged[k][1] == pytest.approx(hyps[k][1], abs=1e-3)
    # semiorth's factors came from the SVD of the --init_param weights (loaded after the
    # adapters were created) and are what the checkpoint holds.
    state = torch.load(tmp_path / "semiorth" / "valid.loss.best.pth", weights_only=True)
    w = base.encoder.encoders[0].feed_forward.w_1.weight.detach()
    uv = state["encoder.encoders.0.feed_forward.w_1.semiorth_U"] @ state["encoder.encoders.0.feed_forward.w_1.semiorth_V"]
    r = state["encoder.encoders.0.feed_forward.w_1.semiorth_V"].shape[0]
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    truncated = (u[:, :r] * s[:r]) @ vh[:r]
    assert (uv - truncated).norm() / truncated.norm() < 0.2


RECIPE_CONF = Path(__file__).resolve().parents[2] / "egs2" / "mini_synth" / "peft1" / "conf"


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory):
    """The mini_synth demo's base architecture (random weights), built from its config."""
    import yaml

    from espnet_peft.integration.arch import build_base

    base_conf = yaml.safe_load((RECIPE_CONF / "train_base.yaml").read_text())
    base_conf["normalize"] = None  # global_mvn needs the recipe's statistics file
    path = tmp_path_factory.mktemp("demo") / "base.yaml"
    path.write_text(yaml.safe_dump(base_conf))
    return build_base("asr", str(path), vocab_size=150)


@pytest.mark.parametrize("method", ["bitfit", "bottleneck", "semiorth"])
def test_demo_adapter_confs_fit_the_demo_architecture(method, demo_base):
    """conf/adapter/<method>.yaml of the mini_synth demo injects into its base model."""
    import yaml

    model = copy.deepcopy(demo_base)
    adapter_conf = yaml.safe_load((RECIPE_CONF / "adapter" / f"{method}.yaml").read_text())["adapter_conf"]
    total = sum(p.numel() for p in model.parameters())
    espnet_peft.inject_adapters(model, method, **adapter_conf)
    espnet_peft.mark_only_adapters_trainable(model)
    trainable, _ = espnet_peft.count_parameters(model)
    layers = [n for n, _ in espnet_peft.adapter_layers(model)]
    if method == "bottleneck":  # attention + feed-forward of encoder blocks 2 and 3
        assert list(peft_state(model).targets) == [f"encoder.encoders.{i}.{s}" for i in (2, 3)
                                       for s in ("self_attn", "feed_forward")]
    else:
        assert len(layers) > 40  # the blocks' projections (every biased Linear for bitfit)
    assert 0 < trainable < total
    if method == "semiorth":
        assert adapted_model_size(model) < 0.7 * total
