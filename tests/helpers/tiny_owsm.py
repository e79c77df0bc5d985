"""A miniature OWSM-style ESPnet S2T model with random weights, saved the way a
downloaded OWSM release looks (``model.pth`` + an ESPnet-written ``config.yaml`` with
an inline token list and a SentencePiece model), for tests of the S2T recipe path.

The layout follows OWSM v3.1: E-Branchformer encoder, Transformer decoder, a token list
that starts with ``<blank> <unk> <na> <nospeech>``, language and task symbols,
``<notimestamps>`` and timestamps, then the BPE pieces and ``<sos> <eos> <sop>``. The
special symbols are user-defined SentencePiece symbols, so that ``<eng><asr>...`` in a
transcript tokenises into single tokens (as in OWSM's tokenizer). Only the sizes are tiny.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, List

import yaml

LANGS = ["<eng>", "<nld>"]
TASKS = ["<asr>", "<st_eng>"]
SPEECH_SECONDS = 6  # OWSM pads/trims to 30 s; tiny here to keep the tests fast
RESOLUTION = 0.1    # timestamp step (OWSM: 0.02)
TIMESTAMPS = [f"<{i * RESOLUTION:.2f}>" for i in range(int(SPEECH_SECONDS / RESOLUTION) + 1)]
SPECIALS = ["<na>", "<nospeech>", *LANGS, *TASKS, "<notimestamps>", *TIMESTAMPS]

ARCH = {
    "frontend": "default",
    "frontend_conf": {"n_fft": 512, "win_length": 400, "hop_length": 320, "n_mels": 20},
    "normalize": "utterance_mvn",
    "encoder": "e_branchformer",
    "encoder_conf": {"output_size": 32, "attention_heads": 2, "attention_layer_type": "rel_selfattn",
                     "pos_enc_layer_type": "rel_pos", "rel_pos_type": "latest",
                     "cgmlp_linear_units": 64, "cgmlp_conv_kernel": 3, "use_linear_after_conv": False,
                     "gate_activation": "identity", "num_blocks": 1, "input_layer": "conv2d",
                     "linear_units": 64, "positionwise_layer_type": "linear", "use_ffn": True,
                     "macaron_ffn": True, "merge_conv_kernel": 3},
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 64, "num_blocks": 1},
    "model_conf": {"ctc_weight": 0.3, "lsm_weight": 0.1, "length_normalized_loss": False,
                   "sym_na": "<na>"},
    "preprocessor": "s2t",
    "preprocessor_conf": {"text_prev_name": "text_prev", "text_ctc_name": "text_ctc", "fs": 16000,
                          "na_symbol": "<na>", "speech_length": SPEECH_SECONDS,
                          "speech_resolution": RESOLUTION, "speech_init_silence": 1,
                          "text_prev_apply_prob": 0.5, "time_apply_prob": 0.5,
                          "notime_symbol": "<notimestamps>", "first_time_symbol": TIMESTAMPS[0],
                          "last_time_symbol": TIMESTAMPS[-1]},
    "batch_type": "unsorted",
    "batch_size": 4,
    "num_workers": 0,
    "num_att_plot": 0,
    "use_matplotlib": False,
    "best_model_criterion": [["valid", "acc", "max"]],
    "keep_nbest_models": 1,
    "seed": 0,
    # settings of OWSM's own training run, which its released config.yaml carries and an
    # adaptation run must not inherit (espnet_peft.recipe.plan.PRETRAINING_RUN)
    "num_iters_per_epoch": 15000,
    "nbest_averaging_interval": 5,
    "use_tensorboard": True,
    "use_amp": True,
}


def train_tokenizer(texts: Iterable[str], out_dir: Path, vocab_size: int = 60) -> List[str]:
    """SentencePiece unigram model with the special symbols as user-defined pieces;
    returns the ESPnet token list."""
    import sentencepiece as spm

    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / "train_text.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out_dir / "bpe"), vocab_size=vocab_size + len(SPECIALS),
        model_type="unigram", character_coverage=1.0, user_defined_symbols=SPECIALS,
        unk_surface="<unk>", hard_vocab_limit=False, minloglevel=2)
    proc = spm.SentencePieceProcessor(model_file=str(out_dir / "bpe.model"))
    pieces = [proc.id_to_piece(i) for i in range(proc.get_piece_size())
              if not (proc.is_unknown(i) or proc.is_control(i))]
    return ["<blank>", "<unk>", *pieces, "<sos>", "<eos>", "<sop>"]


def make_pretrained(out_dir: Path, texts: Iterable[str]) -> dict:
    """Write ``model.pth``, ``config.yaml`` and ``bpe.model`` of a random tiny OWSM."""
    import torch
    from espnet2.tasks.s2t import S2TTask

    out_dir = Path(out_dir).resolve()
    tokens = train_tokenizer(texts, out_dir)
    (out_dir / "arch.yaml").write_text(yaml.safe_dump(ARCH), encoding="utf-8")
    token_file = out_dir / "tokens.txt"
    token_file.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    parser = S2TTask.get_parser()
    args = parser.parse_args(["--config", str(out_dir / "arch.yaml"), "--token_list", str(token_file),
                              "--token_type", "bpe", "--bpemodel", str(out_dir / "bpe.model"),
                              "--output_dir", str(out_dir)])
    torch.manual_seed(0)
    model = S2TTask.build_model(args)  # turns args.token_list into the inline list
    torch.save(model.state_dict(), out_dir / "model.pth")
    conf = {k: v for k, v in vars(args).items() if k not in ("config", "output_dir")}
    (out_dir / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False), encoding="utf-8")
    token_file.unlink()
    return {"model": out_dir / "model.pth", "config": out_dir / "config.yaml", "tokens": tokens}
