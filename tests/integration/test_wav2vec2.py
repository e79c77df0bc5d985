"""The ``hf_wav2vec2`` ESPnet encoder choice on a tiny random ``Wav2Vec2Model`` saved like
a downloaded Hugging Face directory: a base (wav2vec2 + CTC head) trained one epoch with
``espnet_peft.bin.asr_train``, LoRA on HF's attention/feed-forward names with an
adapter-only checkpoint, decoded with ``espnet_peft.bin.asr_inference``.

The real use is the same with ``model_dir`` pointing at e.g. facebook/wav2vec2-xls-r-300m;
only this random tiny model has been run here (espeak-ng and sox make the audio).
"""

import json
import shutil

import pytest
import torch
import yaml

from helpers.espnet_recipe import TRAINER_CONFIG, decode, make_experiment, train

transformers = pytest.importorskip("transformers", reason="transformers is not installed")

from espnet_peft.models.hf_wav2vec2 import TARGET_MODULES, HFWav2Vec2Encoder, Wav2Vec2DirectoryError  # noqa: E402

CONFIG = {
    "frontend": None,
    "input_size": 1,
    "normalize": None,
    "specaug": None,
    "model_conf": {"ctc_weight": 1.0},  # CTC only: no decoder is built
    **TRAINER_CONFIG,
    "max_epoch": 1,
}


def tiny_model_dir(path, feat_extract_norm="layer"):
    """A random model of XLS-R's kind (layer-norm CNN, stable-layer-norm transformer) with
    its 20 ms frames (CNN stride 320)."""
    config = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8, 8, 8), conv_stride=(5, 4, 4, 4), conv_kernel=(10, 4, 4, 4), num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2, feat_extract_norm=feat_extract_norm,
        do_stable_layer_norm=feat_extract_norm == "layer", hidden_dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, feat_proj_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0)
    torch.manual_seed(0)
    transformers.Wav2Vec2Model(config).save_pretrained(path)
    return path


def test_missing_or_incomplete_directory_is_a_clear_error(tmp_path):
    with pytest.raises(Wav2Vec2DirectoryError, match=r"nowhere not found.*config\.json.*model\.safetensors"):
        HFWav2Vec2Encoder(model_dir=str(tmp_path / "nowhere"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "config.json").write_text("{}")
    with pytest.raises(Wav2Vec2DirectoryError, match=r"half lacks weights"):
        HFWav2Vec2Encoder(model_dir=str(tmp_path / "half"))
    with pytest.raises(Wav2Vec2DirectoryError, match="model_dir is not set"):
        HFWav2Vec2Encoder()


@pytest.mark.parametrize("norm", ["layer", "group"])
def test_padding_does_not_change_an_utterance(tmp_path, norm):
    enc = HFWav2Vec2Encoder(model_dir=str(tiny_model_dir(tmp_path / "m", norm))).eval()
    assert enc.use_attention_mask == (norm == "layer") and enc.output_size() == 16
    torch.manual_seed(1)
    audio, lens = torch.randn(2, 16000), torch.tensor([16000, 9000])
    with torch.no_grad():
        hidden, olens, _ = enc(audio, lens)
        alone, alone_lens, _ = enc(audio[1:, :9000], lens[1:])
    assert olens.tolist() == [hidden.size(1), alone_lens.item()] == [49, 28]
    n = alone_lens.item()
    # With the mask (XLS-R) the padded utterance is the utterance alone; group-norm models
    # (wav2vec2-base) normalise the CNN over the padding too, as in HF without a mask.
    if norm == "layer":
        assert torch.allclose(hidden[1, :n], alone[0], atol=1e-4)


@pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                    reason="needs espeak-ng and sox (apt-get install espeak-ng sox)")
def test_lora_on_wav2vec2_through_espnet_adapter_only_and_decode(tmp_path):
    exp = make_experiment(tmp_path)
    model_dir = tiny_model_dir(tmp_path / "w2v")
    exp["config"] = tmp_path / "w2v.yaml"
    exp["config"].write_text(yaml.safe_dump(CONFIG))
    encoder = ["--encoder", "hf_wav2vec2", "--encoder_conf", json.dumps({"model_dir": str(model_dir)})]

    # 1. The base: wav2vec2 (CNN frozen) + a new CTC head, one epoch of full training.
    train(exp, tmp_path / "base", *encoder, "--optim_conf", "{lr: 0.001}")
    base_ckpt = tmp_path / "base" / "valid.loss.best.pth"
    base_state = torch.load(base_ckpt, weights_only=True)
    assert "encoder.model.encoder.layers.0.attention.q_proj.weight" in base_state
    base_config = yaml.safe_load((tmp_path / "base" / "config.yaml").read_text())
    assert base_config["encoder"] == "hf_wav2vec2" and base_config["frontend"] is None

    # 2. LoRA on HF's projection names, adapter-only checkpoint.
    out = tmp_path / "adapt"
    train(exp, out, *encoder, "--init_param", base_ckpt, "--use_adapter", "true", "--adapter", "lora",
          "--adapter_conf", json.dumps({"r": 2, "alpha": 4, "target_modules": TARGET_MODULES}),
          "--save_strategy", "adapter_only", "--optim_conf", "{lr: 0.01}")
    state = torch.load(out / "valid.loss.best.pth", weights_only=True)
    lora = {k for k in state if k.endswith((".lora_A", ".lora_B"))}
    assert len(lora) == 2 * 2 * len(TARGET_MODULES)  # 2 layers, A and B per target
    assert not set(state) & set(base_state), sorted(set(state) & set(base_state))[:5]
    assert all(k in lora or not state[k].is_floating_point() or state[k].dim() == 0 for k in state), \
        sorted(set(state) - lora)
    assert any(state[k].abs().sum() > 0 for k in lora if k.endswith("lora_B"))

    # 3. Decoding the adapter-only file (base from the config's init_param, CTC only).
    decode(exp, out / "config.yaml", out / "valid.loss.best.pth", tmp_path / "decode", "--ctc_weight", "1.0")
    hyps = (tmp_path / "decode" / "1best_recog" / "text").read_text().splitlines()
    assert len(hyps) == 8


def test_sample_config_builds_with_adapters(tmp_path):
    """egs2/TEMPLATE/peft1/conf/wav2vec2_xlsr_300m_ctc.yaml, its model_dir pointed at the
    tiny random model, through ESPnet's parser and ASRTask.build_model."""
    from pathlib import Path

    from espnet2.tasks.asr import ASRTask

    import espnet_peft  # noqa: F401  (registers hf_wav2vec2)
    from espnet_peft.core.inject import inject_adapters

    sample = Path(__file__).parents[2] / "egs2/TEMPLATE/peft1/conf/wav2vec2_xlsr_300m_ctc.yaml"
    conf = yaml.safe_load(sample.read_text())
    assert conf["encoder"] == "hf_wav2vec2" and conf["frontend"] is None and conf["input_size"] == 1
    conf["encoder_conf"]["model_dir"] = str(tiny_model_dir(tmp_path / "w2v"))
    (tmp_path / "conf.yaml").write_text(yaml.safe_dump(conf))
    (tmp_path / "tokens.txt").write_text("<blank>\n<unk>\na\nb\n<sos/eos>\n")
    args = ASRTask.get_parser().parse_args(["--config", str(tmp_path / "conf.yaml"), "--token_list",
                                            str(tmp_path / "tokens.txt"), "--token_type", "char"])
    model = ASRTask.build_model(args)
    assert model.frontend is None and model.decoder is None
    assert not any(p.requires_grad for p in model.encoder.model.feature_extractor.parameters())
    assert model.encoder.model.config.mask_time_prob == 0.05
    inject_adapters(model, "lora", r=2, alpha=4, target_modules=TARGET_MODULES)
    speech = torch.randn(2, 8000)
    loss, _, _ = model(speech, torch.tensor([8000, 6000]), torch.tensor([[2, 3], [3, -1]]), torch.tensor([2, 1]))
    assert torch.isfinite(loss)
