"""A miniature ESPnet ASR experiment for the integration tests: espeak-ng audio, a
character token list, a 1-block Conformer (with BatchNorm) and helpers that run the
real ESPnet / espnet_peft entry points' ``main`` in this process (``train``, ``decode``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from espnet_peft.data.kaldi_dir import Utterance, write_data_dir
from espnet_peft.data.synth import synthesize

SENTENCES = [
    "a cat sat on the mat", "the dog ran home", "we like red apples", "she can see the sea",
    "my hat is blue", "he has a big box", "it is a sunny day", "they sing a song",
]

# Trainer options every miniature experiment shares (no plots, no TensorBoard, tiny batches).
TRAINER_CONFIG = {
    "batch_type": "unsorted",
    "batch_size": 4,
    "num_workers": 0,
    "optim": "adam",
    "best_model_criterion": [["valid", "loss", "min"]],
    "keep_nbest_models": 1,
    "num_att_plot": 0,
    "use_tensorboard": False,
    "use_matplotlib": False,
    "log_interval": 1,
}

MODEL_CONFIG = {
    "frontend": "default",
    "frontend_conf": {"n_fft": 400, "win_length": 400, "hop_length": 320, "n_mels": 20},
    "normalize": "utterance_mvn",
    "encoder": "conformer",
    "encoder_conf": {"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 1,
                     "input_layer": "conv2d", "cnn_module_kernel": 3, "macaron_style": False,
                     "use_cnn_module": True, "dropout_rate": 0.0, "attention_dropout_rate": 0.0,
                     "positional_dropout_rate": 0.0},
    "decoder": "transformer",
    "decoder_conf": {"attention_heads": 2, "linear_units": 64, "num_blocks": 1,
                     "dropout_rate": 0.0, "self_attention_dropout_rate": 0.0,
                     "src_attention_dropout_rate": 0.0},
    "model_conf": {"ctc_weight": 0.3, "lsm_weight": 0.0},
    **TRAINER_CONFIG,
}


def make_experiment(root: Path) -> dict:
    """Write audio, data dir, token list and config; return paths."""
    utts = []
    for i, text in enumerate(SENTENCES):
        wav = synthesize(text, root / "wav" / f"spk1-{i:02d}.wav", voice="en-us", speed=170)
        utts.append(Utterance(f"spk1-{i:02d}", "spk1", str(wav), text))
    data = write_data_dir(root / "data", utts)
    chars = sorted(set("".join(SENTENCES).replace(" ", "")))
    tokens = root / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", "<space>", *chars, "<sos/eos>"]) + "\n")
    config = root / "asr.yaml"
    config.write_text(yaml.safe_dump(MODEL_CONFIG))
    return {"root": root, "data": data, "tokens": tokens, "config": config}


def data_args(exp: dict):
    d = exp["data"]
    args = []
    for split in ("train", "valid"):
        args += [f"--{split}_data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
                 f"--{split}_data_path_and_name_and_type", f"{d}/text,text,text",
                 f"--{split}_shape_file", f"{d}/wav.scp"]
    return args + ["--token_list", str(exp["tokens"]), "--token_type", "char", "--ngpu", "0"]


def train(exp: dict, output_dir: Path, *extra, module="espnet_peft.bin.asr_train") -> str:
    """Train with an entry point's ``main`` in this process (one thread, like the killed
    and Slurm runs' ``OMP_NUM_THREADS=1`` subprocesses, so their weights are comparable),
    its output in ``output_dir/train.log`` as recipe stage 6 writes it
    (``espnet_peft.recipe.train_runs.output_to``); returns that log."""
    import torch

    from espnet_peft.recipe.train_runs import LOG_FILE, output_to

    Path(output_dir).mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with output_to(Path(output_dir) / LOG_FILE):
            call(module, "--config", exp["config"], "--output_dir", output_dir, *data_args(exp), *extra)
    finally:
        torch.set_num_threads(threads)
    return (Path(output_dir) / LOG_FILE).read_text()


def call(module: str, *args) -> None:
    """Run an entry point's ``main`` in this process: the same code as ``python -m module``
    without a new interpreter and a second ESPnet import (~13 s each on 2 cores)."""
    import importlib

    importlib.import_module(module).main([str(a) for a in args])


def decode(exp: dict, config: Path, model_file: Path, output_dir: Path, *extra,
           module="espnet_peft.bin.asr_inference"):
    """Decode the miniature data set with an inference entry point (in this process)."""
    d = exp["data"]
    call(module, "--asr_train_config", config, "--asr_model_file", model_file,
         "--data_path_and_name_and_type", f"{d}/wav.scp,speech,sound",
         "--output_dir", output_dir, "--ngpu", "0", "--beam_size", "2",
         "--ctc_weight", "0.3", "--batch_size", "1", *extra)


def read_hyps(decode_dir: Path):
    """{utt: (text, score)} from ESPnet's 1best_recog directory."""
    best = decode_dir / "1best_recog"
    texts = dict(line.partition(" ")[::2] for line in (best / "text").read_text().splitlines())
    scores = {}
    for line in (best / "score").read_text().splitlines():
        key, _, value = line.partition(" ")
        scores[key] = float(value.strip().strip("tensor()").split(",")[0])
    return {k: (texts.get(k, ""), scores[k]) for k in scores}
