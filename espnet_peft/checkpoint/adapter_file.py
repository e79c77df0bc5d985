"""The adapter file: safetensors tensors + JSON metadata, written atomically.

Tensors: the adapter state dict (``espnet_peft.checkpoint.state_dict``) and the base
fingerprint table under ``__base_fingerprint__``. Metadata (key ``espnet_peft``):
format name and version, method, config, targets, the base's structure hash and a
SHA-256 of every tensor, so that an edited or truncated file is refused on load.
Reading never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn

from espnet_peft.checkpoint.state_dict import adapter_state_dict, load_adapter_state_dict
from espnet_peft.core.atomic import atomic_write
from espnet_peft.core.errors import AdapterFileError
from espnet_peft.core.fingerprint import base_fingerprint
from espnet_peft.core.inject import inject_adapters
from espnet_peft.core.registry import get_method
from espnet_peft.core.state import peft_state

FORMAT_NAME = "espnet_peft.adapter"
FORMAT_VERSION = 1
FINGERPRINT_KEY = "__base_fingerprint__"


def save_adapter(model: nn.Module, path, extra_metadata: Optional[Dict[str, Any]] = None) -> Path:
    """Write the adapter of ``model`` to ``path`` (safetensors + JSON metadata)."""
    from safetensors.torch import save_file

    state = peft_state(model)
    if state is None:
        raise AdapterFileError("the model has no adapters (inject_adapters was not called)")
    structure, table = base_fingerprint(model)
    tensors = {k: v.contiguous().cpu() for k, v in adapter_state_dict(model).items()}
    tensors[FINGERPRINT_KEY] = table.contiguous()
    meta = {
        "tensors_sha256": tensors_digest(tensors),
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "method": state.method,
        "config": state.config.to_dict(),
        "targets": list(state.targets),
        "base_structure_sha256": structure,
        "extra": extra_metadata or {},
    }
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"espnet_peft": json.dumps(meta)}))
    return path


def read_adapter_file(path) -> Tuple[Dict[str, Any], Dict[str, torch.Tensor]]:
    """Metadata and tensors of an adapter file; never unpickles anything."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise AdapterFileError(f"adapter file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get("espnet_peft")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise AdapterFileError(f"{path} is not a readable safetensors adapter file ({e}); "
                               "it may be truncated or corrupted: re-export it") from None
    if raw is None:
        raise AdapterFileError(f"{path} has no espnet_peft metadata: not an espnet_peft adapter file")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT_NAME:
        raise AdapterFileError(f"{path}: unknown format {meta.get('format')!r}")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise AdapterFileError(
            f"{path} uses adapter format version {meta['format_version']}, newer than this "
            f"espnet_peft understands ({FORMAT_VERSION}); upgrade espnet_peft")
    if FINGERPRINT_KEY not in tensors:
        raise AdapterFileError(f"{path} lacks the base-model fingerprint")
    if "tensors_sha256" in meta and meta["tensors_sha256"] != tensors_digest(tensors):
        raise AdapterFileError(
            f"{path}: the tensors do not match the checksum recorded when the file was written "
            "(edited or corrupted after export); re-export the adapter from its checkpoint")
    return meta, tensors


def tensors_digest(tensors: Dict[str, torch.Tensor]) -> str:
    """SHA-256 over names, dtypes, shapes and bytes of ``tensors`` (in name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def load_adapter(model: nn.Module, path) -> Dict[str, Any]:
    """Inject the adapter described by ``path`` into ``model`` (base weights already
    loaded), check the base fingerprint and load the adapter tensors. Returns metadata."""
    meta, tensors = read_adapter_file(path)
    table = tensors.pop(FINGERPRINT_KEY)
    state = peft_state(model)
    if state is None:
        inject_adapters(model, meta["method"], **get_method(meta["method"]).config_cls.upgrade_stored(meta["config"]))
    elif state.method != meta["method"]:
        raise AdapterFileError(
            f"{path} holds a {meta['method']} adapter but the model has {state.method} adapters")
    load_adapter_state_dict(model, tensors, (meta["base_structure_sha256"], table), what=str(path))
    return meta
