"""ESPnet ASR configs for a converted Whisper (the ``whisper_ckpt`` choices).

``whisper_model_conf`` is the part a training ``--config`` needs; ``write_train_config``
expands it with every other ``asr_train`` option at its default into a complete
``config.yaml``, the file ESPnet's ``Speech2Text`` and ``--init_param`` adaptation read,
so the zero-shot model is decodable without a training run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Union

import yaml

from espnet_peft.convert.whisper_tokenizer import EOS, SOS, TASK_PREFIX
from espnet_peft.core.config import deep_merge


def prefix_ids(token_list: List[str]) -> List[int]:
    """Ids of Whisper's prompt tokens before ``sos`` (``<|notimestamps|>``)."""
    missing = [t for t in TASK_PREFIX + (SOS, EOS) if t not in token_list]
    if missing:
        raise ValueError(f"token list lacks Whisper's special tokens {missing}")
    return [token_list.index(t) for t in TASK_PREFIX]


def whisper_model_conf(model_dir: Union[str, Path], lsm_weight: float = 0.0) -> Dict:
    """Model/tokenizer part of an asr_train config for ``model_dir`` as written by
    ``convert_ct2_whisper`` (``model.pt``, ``tokenizer/``, ``tokens.txt``)."""
    model_dir = Path(model_dir).resolve()
    tokens = [line.rstrip("\n") for line in (model_dir / "tokens.txt").read_text(encoding="utf-8").splitlines()]
    ckpt = str(model_dir / "model.pt")
    return {
        "token_list": str(model_dir / "tokens.txt"),
        "token_type": "hugging_face",
        "bpemodel": str(model_dir / "tokenizer"),
        "input_size": 1,
        "frontend": None,
        "specaug": None,
        "normalize": None,
        "encoder": "whisper_ckpt",
        "encoder_conf": {"checkpoint": ckpt},
        "decoder": "whisper_ckpt",
        "decoder_conf": {"checkpoint": ckpt, "prefix_ids": prefix_ids(tokens)},
        "model_conf": {"ctc_weight": 0.0, "lsm_weight": lsm_weight, "length_normalized_loss": False,
                       "sym_sos": SOS, "sym_eos": EOS},
    }


def write_train_config(path: Union[str, Path], model_dir: Union[str, Path],
                       overrides: Optional[Dict] = None) -> Dict:
    """Write a complete ``config.yaml`` (all asr_train options) for the converted model."""
    import espnet_peft  # noqa: F401  (registers whisper_ckpt)
    from espnet2.tasks.asr import ASRTask

    conf = deep_merge(whisper_model_conf(model_dir), overrides or {})
    parser = ASRTask.get_parser()
    args = parser.parse_args(["--output_dir", str(Path(path).parent), "--token_list", conf["token_list"]])
    full = vars(args)
    full.update(conf)
    for key in ("encoder", "decoder", "frontend", "specaug", "normalize"):
        full.setdefault(f"{key}_conf", {})
    full["use_tensorboard"], full["use_matplotlib"] = False, False
    full["config"] = None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(full, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return full


def write_espnet_base(model_dir: Union[str, Path], overrides: Optional[Dict] = None) -> Path:
    """``model_dir/config.yaml`` (complete asr_train config) and ``model_dir/model.pth``
    (the ESPnetASRModel's state dict): a ``--base_model``/``--base_train_config`` pair for
    the recipes, so adaptation's ``--init_param`` and zero-shot decoding need nothing else."""
    import argparse

    import torch
    from espnet2.tasks.asr import ASRTask

    model_dir = Path(model_dir)
    full = write_train_config(model_dir / "config.yaml", model_dir, overrides)
    model = ASRTask.build_model(argparse.Namespace(**full))
    tmp = model_dir / "model.pth.tmp"
    torch.save(model.state_dict(), tmp)
    tmp.replace(model_dir / "model.pth")
    return model_dir / "model.pth"
