"""An ESPnet model built from an architecture config alone: random weights, or none at all
on PyTorch's meta device (shapes only; a 2B model in seconds and a few hundred MB)."""

from __future__ import annotations

import yaml

from espnet_peft.integration.tasks import task_class

# Special tokens of the placeholder vocabulary (OWSM's order: blank/unk first, sos/eos last).
_SPECIALS = ["<blank>", "<unk>", "<na>", "<nolang>", "<notimestamps>", "<sop>", "<sos>", "<eos>", "<sos/eos>"]


def build_base(task: str, config: str, vocab_size=None, device=None):
    """The model of ``config`` with random weights (or none, on ``device="meta"``)."""
    import torch

    with open(config, encoding="utf-8") as f:
        conf = yaml.safe_load(f)
    size = vocab_size or conf.pop("vocab_size", None)
    if not conf.get("token_list"):
        if not size:
            raise SystemExit(f"{config} has no token_list; give --vocab_size")
        conf["token_list"] = _SPECIALS[:2] + [f"tok{i}" for i in range(size - len(_SPECIALS))] + _SPECIALS[2:]
    conf.setdefault("token_type", "bpe")
    conf.setdefault("bpemodel", None)
    conf.setdefault("input_size", None)
    task_cls = task_class(task)
    parser = task_cls.get_parser()
    args = parser.parse_args([])
    for key, value in conf.items():
        setattr(args, key, value)
    with torch.device(device or torch.get_default_device()):
        return task_cls.build_model(args)
