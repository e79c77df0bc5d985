"""Fold an adapter into its base: write a full, plain ESPnet model.

    python -m espnet_peft.bin.merge --task asr --config exp/lora/config.yaml \
        --model_file exp/lora/valid.acc.ave.pth --out_dir exp/lora_merged

Writes ``model.pth`` (state dict of the base architecture, adapters merged, no adapter
tensors) and ``config.yaml`` (``use_adapter: false``), which ESPnet's own
``espnet2.bin.<task>_inference`` decodes with no plugin installed. Existing files in
``--out_dir`` are not overwritten unless ``--overwrite`` is given; files are written
atomically.
"""

import argparse
import logging
from pathlib import Path

import torch
import yaml

from espnet_peft.bin._common import load_adapted_model, model_arguments


def main(cmd=None):
    parser = model_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    import espnet_peft
    from espnet_peft.integration.loading import plain_config
    from espnet_peft.core.atomic import atomic_write

    out = Path(args.out_dir)
    targets = [out / "model.pth", out / "config.yaml"]
    if not args.overwrite and any(t.exists() for t in targets):
        raise SystemExit(f"{out} already holds a merged model; pass --overwrite to replace it")
    model, train_args = load_adapted_model(args)
    n = sum(1 for _ in espnet_peft.adapter_layers(model))
    espnet_peft.merge_and_unload(model)
    state = model.state_dict()
    leftovers = [k for k in state if k.endswith("adapter_initialized")]
    assert not leftovers, leftovers
    atomic_write(targets[0], lambda tmp: torch.save(state, tmp))
    text = yaml.safe_dump(plain_config(train_args), sort_keys=False, allow_unicode=True)
    atomic_write(targets[1], lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    logging.info("merged %d %s adapter layers into %s", n, train_args.adapter, targets[0])
    print(targets[0])


if __name__ == "__main__":
    main()
