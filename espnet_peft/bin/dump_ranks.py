"""Dump the per-layer rank distribution of an S2-LoRA or AdaLoRA adapter as JSON.

    python -m espnet_peft.bin.dump_ranks --task asr --config exp/x/config.yaml \
        --model_file exp/x/valid.acc.ave.pth [--base_model_file base.pth] --out ranks.json
    python -m espnet_peft.bin.dump_ranks --adapter_file exp/x/adapter.safetensors --out ranks.json

Writes the JSON of ``espnet_peft.methods.rank_report`` (per layer: name, shape, rank,
per-rank magnitudes): AdaLoRA's ``values`` are |Lambda_i| (0 where masked) and its
``rank`` the triplets the allocation keeps; S2-LoRA's ``values`` are |lambda_l,i| and its
``rank`` how many are not 0 (its proximal L1 step prunes coefficients exactly).

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
import sys


def main(cmd=None):
    from espnet_peft.checkpoint.adapter_file import read_adapter_file
    from espnet_peft.core.errors import AdapterFileError
    from espnet_peft.methods.rank_report import rank_report, rank_report_from_tensors

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--adapter_file", help="a .safetensors adapter file (AdaLoRA without --config)")
    parser.add_argument("--task", choices=["asr", "s2t"], default="asr")
    parser.add_argument("--config", help="training config.yaml of the adapted model")
    parser.add_argument("--model_file",
                        help="checkpoint (.pth, full or adapter-only) or .safetensors adapter")
    parser.add_argument("--base_model_file", default=None,
                        help="pretrained base checkpoint (default: the config's init_param)")
    parser.add_argument("--out", help="output JSON file (default: standard output)")
    args = parser.parse_args(cmd)
    try:
        if args.config:
            from espnet_peft.bin._common import load_adapted_model

            if args.model_file is None:
                args.model_file = args.adapter_file
            if args.model_file is None:
                parser.error("--config needs --model_file (a checkpoint or adapter file)")
            model, _ = load_adapted_model(args)
            report = rank_report(model)
        elif args.adapter_file:
            meta, tensors = read_adapter_file(args.adapter_file)
            report = rank_report_from_tensors(meta["method"], tensors, args.adapter_file)
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
