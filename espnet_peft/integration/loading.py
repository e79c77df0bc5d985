"""Loading ESPnet models that carry espnet_peft adapters (decoding, merging, export).

ESPnet's own ``build_model_from_file`` loads checkpoints with ``strict=False``, so an
adapter-only checkpoint would load silently onto the *randomly initialised* base. This
loader instead decides what the checkpoint is and gets the base weights explicitly:

- a full checkpoint (every base tensor present): loaded strictly;
- an adapter-only checkpoint (ESPnet ``.pth`` from ``--save_strategy adapter_only`` or
  ``required_grad_only``, or our ``.safetensors`` adapter file): the base weights come
  from ``base_model_file`` or else the training config's ``--init_param`` entries, loaded
  with ESPnet's ``load_pretrained_model`` exactly as in training (but with
  ``torch.load(weights_only=True)``: no pickled code runs); then the adapter is loaded
  and the base is checked against the fingerprint recorded at training time.
  A missing base is an error, never a silent fallback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path
from typing import Dict, List, Optional

import torch
import yaml

from espnet_peft.integration.adapters import ESPNET_BUILTIN_LORA, is_peft_method
from espnet_peft.integration.run_files import read_fingerprint
from espnet_peft.core.inject import inject_adapters
from espnet_peft.checkpoint.safe_io import load_tensors, weights_only_torch_load
from espnet_peft.checkpoint.adapter_file import load_adapter
from espnet_peft.checkpoint.state_dict import adapter_state_dict, load_adapter_state_dict
from espnet_peft.core.errors import AdapterFileError

ADAPTER_SUFFIX = ".safetensors"


def read_config(config_file) -> argparse.Namespace:
    path = Path(config_file)
    if not path.is_file():
        raise FileNotFoundError(f"training config not found: {path}")
    with path.open(encoding="utf-8") as f:
        return argparse.Namespace(**yaml.safe_load(f))


def uses_peft_adapter(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "use_adapter", False)) and is_peft_method(getattr(args, "adapter", None))


def _load_base(model, args, base_model_file: Optional[str], device: str) -> List[str]:
    from espnet2.torch_utils.load_pretrained_model import load_pretrained_model

    sources = [base_model_file] if base_model_file else list(getattr(args, "init_param", []) or [])
    if not sources:
        raise AdapterFileError(
            "the checkpoint holds only adapter tensors and the training config names no "
            "--init_param; give the base model with --base_model_file")
    for src in sources:
        path = Path(src.split(":", 1)[0])
        if not path.is_file():
            raise AdapterFileError(
                f"base model {path} (from {'--base_model_file' if base_model_file else 'init_param'}) "
                "not found; give the pretrained checkpoint with --base_model_file")
        logging.info("espnet_peft: loading base weights from %s", src)
        with weights_only_torch_load():
            load_pretrained_model(init_param=src, model=model,
                                  ignore_init_mismatch=bool(getattr(args, "ignore_init_mismatch", False)),
                                  map_location=device)
    return sources


def _checkpoint(model_file: Path, device: str) -> Dict[str, torch.Tensor]:
    state = load_tensors(model_file, map_location=device)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # checkpoint.pth from the trainer
    return state


def build_model(task_cls, config_file, model_file=None, device: str = "cpu",
                base_model_file: Optional[str] = None, espnet_loader=None):
    """Like ``task_cls.build_model_from_file`` but safe for adapter checkpoints.

    Returns ``(model, train_args)``. Configs without an espnet_peft adapter are handed
    to ESPnet's own loader unchanged (``espnet_loader``: that loader where
    ``patched_task`` has put this function in its place).
    """
    if config_file is None:
        config_file = Path(model_file).parent / "config.yaml"
    args = read_config(config_file)
    if not uses_peft_adapter(args):
        return (espnet_loader or task_cls.build_model_from_file)(config_file, model_file, device)

    model = task_cls.build_model(args)
    if device != "mps":
        model.to(device)
    base_keys = set(model.state_dict())
    map_location = "cpu" if device in ("mps", "cuda") else device
    model_file = Path(model_file) if model_file is not None else None

    if model_file is not None and model_file.suffix == ADAPTER_SUFFIX:
        _load_base(model, args, base_model_file, map_location)
        load_adapter(model, model_file)
        return model, args

    inject_adapters(model, args.adapter, **(args.adapter_conf or {}))
    if model_file is None:
        logging.warning("espnet_peft: no model file given; adapters keep their initial values")
        return model, args
    if not model_file.is_file():
        raise FileNotFoundError(f"model file not found: {model_file}")
    state = _checkpoint(model_file, map_location)
    missing_base = sorted(base_keys - set(state))
    if not missing_base:
        logging.info("espnet_peft: %s is a full checkpoint; loading it strictly", model_file)
        model.load_state_dict(state, strict=True)
        return model, args

    logging.info("espnet_peft: %s is adapter-only (%d base tensors absent); loading the base first",
                 model_file, len(missing_base))
    _load_base(model, args, base_model_file, map_location)
    expected = set(adapter_state_dict(model))
    own = set(model.state_dict())
    unknown = sorted(set(state) - own)
    if unknown:
        raise AdapterFileError(
            f"{model_file} holds tensors this model does not have: {unknown[:5]} "
            f"(was it trained with another method, config or target_modules than {config_file}?)")
    fingerprint = read_fingerprint(model_file.parent)
    if fingerprint is None:
        logging.warning(
            "espnet_peft: %s has no base_fingerprint.safetensors; the base model cannot be "
            "verified against the one used in training", model_file.parent)
    adapter = {k: v for k, v in state.items() if k in expected}
    load_adapter_state_dict(model, adapter, fingerprint, what=str(model_file))
    return model, args


@contextlib.contextmanager
def patched_task(task_cls, base_model_file: Optional[str] = None):
    """Inside the block, ``task_cls.build_model_from_file`` (what ESPnet's inference
    binaries call) goes through ``build_model``; ESPnet's own loader is back afterwards,
    so a process that also runs ESPnet's binaries directly loads models ESPnet's way."""
    own = task_cls.__dict__.get("build_model_from_file")  # None: inherited from AbsTask
    espnet_loader = task_cls.build_model_from_file

    def build_model_from_file(cls, config_file=None, model_file=None, device="cpu"):
        return build_model(cls, config_file, model_file, device, base_model_file, espnet_loader)

    task_cls.build_model_from_file = classmethod(build_model_from_file)
    try:
        yield
    finally:
        if own is None:
            del task_cls.build_model_from_file
        else:
            task_cls.build_model_from_file = own


def plain_config(args: argparse.Namespace) -> dict:
    """The training config of a merged model: no adapter, no init_param."""
    conf = dict(vars(args))
    conf.update(use_adapter=False, adapter=ESPNET_BUILTIN_LORA.replace("espnet_", ""),
                adapter_conf={}, init_param=[])
    return conf
