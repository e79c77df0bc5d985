"""Dump the per-layer rank distribution of an S2-LoRA or AdaLoRA adapter as JSON.

    python -m espnet_peft.bin.dump_ranks --task asr --config exp/x/config.yaml \
        --model_file exp/x/valid.acc.ave.pth [--base_model_file base.pth] --out ranks.json
    python -m espnet_peft.bin.dump_ranks --adapter_file exp/x/adapter.safetensors --out ranks.json

Writes ``{"method": "s2lora"|"adalora", "layers": [{"name": <module>, "shape": [out, in],
"rank": <effective rank>, "values": [per-rank magnitudes]}]}`` (layers in model order; from
an adapter file alone, in natural name order):

- AdaLoRA: ``values`` = |Lambda_i| of every triplet (0 where masked), ``rank`` = number
  of triplets the allocation keeps (``adalora_mask``);
- S2-LoRA: ``values`` = |lambda_l,i|, ``rank`` = how many exceed ``--threshold`` times the
  largest |lambda| of the whole model (default 1e-2; ``--absolute`` makes it a plain
  value). Model-wide, so a layer whose coefficients all shrink counts as low-rank;
  1e-2 rather than smaller because Adam moves a coefficient that the L1 term pushes
  to 0 by up to about the learning rate per step instead of letting it settle at 0.

A checkpoint (``.pth``, full or adapter-only, or an exported ``.safetensors``) is loaded
with its training config through the same safe loader as decoding (``--config``; the base
comes from ``--base_model_file`` or the config's init_param). A ``.safetensors`` adapter
file alone (``--adapter_file``) needs no config or base for AdaLoRA, whose tensors carry
the layer shapes; S2-LoRA files do not record which shape each layer has, so they need
``--config``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Dict, List

import torch

RANK_METHODS = ("s2lora", "adalora")
DEFAULT_THRESHOLD = 1e-2


def _adalora_layer(name: str, tensors: Dict[str, torch.Tensor]) -> dict:
    a, e, b = (tensors[f"{name}.{t}"] for t in ("lora_A", "lora_E", "lora_B"))
    mask = tensors[f"{name}.adalora_mask"]
    return {"name": name, "shape": [int(b.shape[0]), int(a.shape[1])],
            "rank": int((mask > 0).sum()), "values": e.detach().abs().view(-1).float().tolist()}


def _s2lora_layers(records, threshold: float, absolute: bool) -> List[dict]:
    """records: (name, shape, lambda) per layer."""
    values = [lam.detach().abs().float().view(-1) for _, _, lam in records]
    peak = max((float(v.max()) for v in values if v.numel()), default=0.0)
    cut = threshold if absolute else threshold * peak
    return [{"name": name, "shape": [int(s) for s in shape], "rank": int((v > cut).sum()),
             "values": v.tolist()} for (name, shape, _), v in zip(records, values)]


def natural_key(name: str):
    """Sort key that puts ``blocks.2`` before ``blocks.10``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def _unsupported(method) -> ValueError:
    return ValueError(f"rank dumps exist for {' and '.join(RANK_METHODS)} adapters; this one is {method!r}")


def rank_report(model, threshold: float = DEFAULT_THRESHOLD, absolute: bool = False) -> dict:
    """The JSON-ready rank report of a model carrying s2lora or adalora adapters."""
    from espnet_peft.core.inject import adapter_layers

    from espnet_peft.core.state import peft_state

    method = getattr(peft_state(model), "method", None)
    layers = list(adapter_layers(model))
    if method == "adalora":
        state = {f"{n}.{t}": getattr(m, t) for n, m in layers
                 for t in ("lora_A", "lora_E", "lora_B", "adalora_mask")}
        return {"method": method, "layers": [_adalora_layer(n, state) for n, _ in layers]}
    if method == "s2lora":
        records = [(n, (m.out_features, m.in_features), m.s2lora_lambda) for n, m in layers]
        return {"method": method, "layers": _s2lora_layers(records, threshold, absolute)}
    raise _unsupported(method)


def rank_report_from_file(path, threshold: float = DEFAULT_THRESHOLD, absolute: bool = False) -> dict:
    """The rank report of a ``.safetensors`` adapter file, without building a model."""
    from espnet_peft.checkpoint.adapter_file import read_adapter_file

    meta, tensors = read_adapter_file(path)
    method = meta["method"]
    if method == "s2lora":
        raise ValueError(
            f"{path}: an S2-LoRA adapter file does not record the shape of each layer; give the "
            "training config as well (--config CONFIG --model_file ADAPTER_FILE)")
    if method != "adalora":
        raise _unsupported(method)
    names = sorted((k[: -len(".lora_E")] for k in tensors if k.endswith(".lora_E")), key=natural_key)
    return {"method": method, "layers": [_adalora_layer(n, tensors) for n in names]}


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter_file", help="a .safetensors adapter file (AdaLoRA without --config)")
    parser.add_argument("--task", choices=["asr", "s2t"], default="asr")
    parser.add_argument("--config", help="training config.yaml of the adapted model")
    parser.add_argument("--model_file",
                        help="checkpoint (.pth, full or adapter-only) or .safetensors adapter")
    parser.add_argument("--base_model_file", default=None,
                        help="pretrained base checkpoint (default: the config's init_param)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="S2-LoRA: a coefficient counts if |lambda| > threshold x the model-wide max")
    parser.add_argument("--absolute", action="store_true", help="S2-LoRA: --threshold is an absolute value")
    parser.add_argument("--out", help="output JSON file (default: standard output)")
    args = parser.parse_args(cmd)

    from espnet_peft.checkpoint.adapter_file import AdapterFileError

    try:
        if args.config:
            from espnet_peft.bin._common import load_adapted_model

            if args.model_file is None:
                args.model_file = args.adapter_file
            if args.model_file is None:
                parser.error("--config needs --model_file (a checkpoint or adapter file)")
            model, _ = load_adapted_model(args)
            report = rank_report(model, args.threshold, args.absolute)
        elif args.adapter_file:
            report = rank_report_from_file(args.adapter_file, args.threshold, args.absolute)
        else:
            parser.error("give --adapter_file FILE, or --config CONFIG --model_file CHECKPOINT")
    except (ValueError, AdapterFileError) as e:
        raise SystemExit(f"dump_ranks: {e}") from None
    text = json.dumps(report, indent=1) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
