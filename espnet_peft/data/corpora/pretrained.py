"""The pretrained base models of the corpus recipes, fetched with espnet_model_zoo.

    python espnet_peft/data/corpora/launch.py pretrained --model owsm_v3.1_1b --cache_dir downloads/models
    # prints: owsm_v3.1_1b=<checkpoint>:<config.yaml>   (the form of reproduce.sh --models)

``MODELS`` maps the labels used by ``conf/tuning/ssvd_paper/grid.sh`` to the Hugging Face
repositories (ESPnet S2T models) and to the shape-only architecture configs in
``egs2/TEMPLATE/peft1/conf`` that build the same model with random weights, for
parameter counts and tests, without downloading anything. This module downloads only
when run (several GB for the larger models); nothing in the tests calls it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MODELS = {  # label: (Hugging Face repository, architecture config or None)
    "owsm_v3.1_0.1b": ("espnet/owsm_v3.1_ebf_base", "owsm_v3.1_base_arch.yaml"),
    "owsm_v3.1_0.37b": ("espnet/owsm_v3.1_ebf_small", "owsm_v3.1_small_arch.yaml"),
    "owsm_v3.1_1b": ("espnet/owsm_v3.1_ebf", "owsm_v3.1_medium_arch.yaml"),
    # Transformer encoder-decoder: its shapes follow the OWLS paper, not yet the released
    # config.yaml (see the comments in owls_2b_arch.yaml)
    "owls_2b": ("espnet/owls_2B_180K", "owls_2b_arch.yaml"),
}


def fetch(label: str, cache_dir) -> tuple:
    """(checkpoint, config.yaml) of ``label``, downloaded into ``cache_dir`` once."""
    if label not in MODELS:
        raise ValueError(f"unknown model {label!r}; known: {', '.join(MODELS)}")
    from espnet_model_zoo.downloader import ModelDownloader

    files = ModelDownloader(cachedir=str(Path(cache_dir).resolve())).download_and_unpack(MODELS[label][0])
    ckpt = files.get("s2t_model_file") or files.get("asr_model_file")
    config = files.get("s2t_train_config") or files.get("asr_train_config")
    if not ckpt or not config:
        raise RuntimeError(f"{MODELS[label][0]}: the download has no model file/config ({sorted(files)})")
    return ckpt, config


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=sorted(MODELS))
    parser.add_argument("--cache_dir", default="downloads/models")
    args = parser.parse_args(argv)
    ckpt, config = fetch(args.model, args.cache_dir)
    print(f"{args.model}={ckpt}:{config}")


def cli(argv=None):
    main(argv)


if __name__ == "__main__":
    cli()
