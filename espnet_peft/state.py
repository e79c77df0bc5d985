"""Adapter-only state: which tensors make an adapter, a fingerprint of the base model,
and the adapter file format (safetensors tensors + JSON metadata, written atomically).

What an adapter state dict holds: every adapter tensor (the methods'
``adapter_tensor_names``, and ``peft_shared.*`` for S2-LoRA's shared factors) plus the
running statistics of BatchNorm layers, which change during adapter training even though
no base parameter does (Conformer convolution modules). Everything else comes from the
base model, which is identified by its fingerprint: a SHA-256 of the names and shapes of
all base tensors (the architecture, exactly) and, per tensor, the float64 sum and sum of
squares (the values, to a tolerance that absorbs rounding of every element to
bfloat16/float16 -- e.g. a base loaded for ``--train_dtype bfloat16`` -- or CPU/GPU
differences, but not a rescaled, different or re-trained checkpoint).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn

from espnet_peft.inject import (
    SHARED_ATTR, _adapter_prefixes, adapter_layers, initialize_adapters, under_prefix,
)

FORMAT_NAME = "espnet_peft.adapter"
FORMAT_VERSION = 1
FINGERPRINT_KEY = "__base_fingerprint__"
# Per-element relative rounding the value fingerprint tolerates: bfloat16's unit
# roundoff. |sum error| <= eps * sum|x| <= eps * sqrt(n * sumsq) and
# |sumsq error| <= (2 eps + eps^2) * sumsq bound what rounding alone can do.
FINGERPRINT_EPS = 2.0 ** -8


class AdapterFileError(RuntimeError):
    pass


class BaseModelMismatchError(AdapterFileError):
    pass


def _batchnorm_stat_names(model: nn.Module):
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            prefix = f"{name}." if name else ""
            for buf in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, buf, None) is not None:
                    yield prefix + buf


def adapter_state_dict(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The tensors an adapter consists of (see module docstring), detached."""
    prefixes = _adapter_prefixes(model)
    keep = set(_batchnorm_stat_names(model))
    out = {}
    for name, tensor in model.state_dict(keep_vars=False).items():
        if name in keep or under_prefix(name, prefixes):
            out[name] = tensor.detach()
    return out


def _base_tensors(model: nn.Module):
    prefixes = _adapter_prefixes(model)
    skip = set(_batchnorm_stat_names(model))
    for name, tensor in model.state_dict().items():
        if name in skip or name.endswith("adapter_initialized"):
            continue
        if under_prefix(name, prefixes):
            continue
        yield name, tensor


def base_fingerprint(model: nn.Module) -> Tuple[str, torch.Tensor]:
    """(structure hash, per-tensor [sum, sum of squares] float64 table) of the base."""
    cached = getattr(model, "_peft_base_fingerprint", None)
    if cached is not None:
        return cached
    if any(getattr(m, "_weight_is_residual", False) for _, m in adapter_layers(model)):
        raise AdapterFileError(
            "the base weights of this model were modified by PiSSA and its fingerprint was "
            "not recorded; load the base checkpoint, inject, then load the adapter")
    h = hashlib.sha256()
    rows = []
    for name, tensor in sorted(_base_tensors(model)):
        h.update(f"{name}:{tuple(tensor.shape)};".encode())
        # float32 sums (cascade summation: relative error ~1e-7, far inside the bf16-sized
        # tolerance of check_fingerprint) -- 15 times faster than float64 copies of a 102M model.
        t = tensor.detach().float() if tensor.is_floating_point() else tensor.detach().double()
        rows.append(torch.stack([t.sum().double(), t.square().sum().double(),
                                 torch.tensor(float(t.numel()), dtype=torch.float64, device=t.device)]).cpu())
    table = torch.stack(rows) if rows else torch.zeros(0, 3, dtype=torch.float64)
    return h.hexdigest(), table


def check_fingerprint(expected: Tuple[str, torch.Tensor], actual: Tuple[str, torch.Tensor],
                      what: str) -> None:
    (e_hash, e_tab), (a_hash, a_tab) = expected, actual
    if e_hash != a_hash:
        raise BaseModelMismatchError(
            f"{what} was trained on a base model with a different architecture (tensor names "
            "or shapes differ). Load it onto the base model it was trained from.")
    sums, sq, n = a_tab[:, 0], a_tab[:, 1], a_tab[:, 2]
    eps = FINGERPRINT_EPS
    tol_sq = (2 * eps + eps * eps) * sq + 1e-12
    tol_sum = eps * (n * sq).sqrt() + 1e-12
    bad = ((e_tab[:, 1] - sq).abs() > tol_sq) | ((e_tab[:, 0] - sums).abs() > tol_sum)
    if bool(bad.any()):
        raise BaseModelMismatchError(
            f"{what} was trained on different base weights ({int(bad.sum())} of {len(bad)} "
            "base tensors differ). Load the base checkpoint the adapter was trained from "
            "(the recipe's --init_param / base_model_file) before the adapter.")


def load_adapter_state_dict(model: nn.Module, state: Dict[str, torch.Tensor],
                            fingerprint: Optional[Tuple[str, torch.Tensor]] = None,
                            what: str = "adapter") -> None:
    """Load ``state`` (from ``adapter_state_dict``) into a model with freshly injected
    adapters whose base weights are already loaded. With ``fingerprint``, refuse a base
    that is not the one the adapter was trained on. Keys must match exactly."""
    if any(m.initialized for _, m in adapter_layers(model)):
        raise AdapterFileError(
            "load_adapter_state_dict needs freshly injected adapters on the base model "
            "(these are already initialised or loaded)")
    expected = set(adapter_state_dict(model))
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise AdapterFileError(
            f"{what} does not fit this model: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''} "
            "(was it trained with another method, config or target_modules?)")
    if fingerprint is not None:
        check_fingerprint(fingerprint, base_fingerprint(model), what)
    own = model.state_dict(keep_vars=True)
    # All shapes first, so that a wrong file changes nothing (full fine-tuning has no
    # base fingerprint to catch another architecture).
    for name, value in state.items():
        if tuple(own[name].shape) != tuple(value.shape):
            raise AdapterFileError(
                f"{what}: tensor {name} has shape {tuple(value.shape)}, the model expects "
                f"{tuple(own[name].shape)}")
    initialize_adapters(model)
    with torch.no_grad():
        for name, value in state.items():
            own[name].copy_(value.to(own[name].device, own[name].dtype))
    for _, layer in adapter_layers(model):
        layer._prepared = False


# ----- files ---------------------------------------------------------------------------

def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_adapter(model: nn.Module, path, extra_metadata: Optional[Dict[str, Any]] = None) -> Path:
    """Write the adapter of ``model`` to ``path`` (safetensors + JSON metadata)."""
    from safetensors.torch import save_file

    method = getattr(model, "_peft_method", None)
    if method is None:
        raise AdapterFileError("the model has no adapters (inject_adapters was not called)")
    structure, table = base_fingerprint(model)
    tensors = {k: v.contiguous().cpu() for k, v in adapter_state_dict(model).items()}
    tensors[FINGERPRINT_KEY] = table.contiguous()
    meta = {
        "tensors_sha256": tensors_digest(tensors),
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "method": method,
        "config": model._peft_config.to_dict(),
        "targets": list(model._peft_targets),
        "base_structure_sha256": structure,
        "extra": extra_metadata or {},
    }
    path = Path(path)
    _atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"espnet_peft": json.dumps(meta)}))
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
    from espnet_peft.inject import inject_adapters

    meta, tensors = read_adapter_file(path)
    table = tensors.pop(FINGERPRINT_KEY)
    if getattr(model, "_peft_method", None) is None:
        inject_adapters(model, meta["method"], **meta["config"])
    elif model._peft_method != meta["method"]:
        raise AdapterFileError(
            f"{path} holds a {meta['method']} adapter but the model has {model._peft_method} adapters")
    load_adapter_state_dict(model, tensors, (meta["base_structure_sha256"], table), what=str(path))
    return meta
