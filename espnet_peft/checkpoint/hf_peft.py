"""Mapping LoRA-family adapter state dicts to and from HF peft's saved format.

LoRA, DoRA and PiSSA layers name their tensors as peft does, so the mapping is a
rename only (the tensors are identical):

======================================  =================================================
espnet_peft (``adapter_state_dict``)     peft (``get_peft_model_state_dict`` /
                                         ``adapter_model.safetensors``)
======================================  =================================================
``<module>.lora_A``  (r x in)            ``base_model.model.<module>.lora_A.weight``
``<module>.lora_B``  (out x r)           ``base_model.model.<module>.lora_B.weight``
``<module>.lora_magnitude`` (out,)       ``base_model.model.<module>.lora_magnitude_vector``
======================================  =================================================

peft's ``lora_alpha`` is our ``alpha``, ``init_lora_weights="pissa"`` is our ``pissa``
and ``use_dora=True`` our ``dora``. A PiSSA adapter also needs the residual base
weights, which peft keeps in the base model; ``espnet_peft`` recomputes them from the
pretrained checkpoint. BatchNorm running statistics, which our adapter state dicts
carry, are not part of a peft adapter: ``to_peft_state_dict`` drops them, and after
``from_peft_state_dict`` take them from the base model's state dict.
SSVD, SSVD-O and S2-LoRA have no peft counterpart.
"""

from __future__ import annotations

from typing import Dict

import torch

PEFT_PREFIX = "base_model.model."
_TO_PEFT = {"lora_A": "lora_A.weight", "lora_B": "lora_B.weight",
            "lora_magnitude": "lora_magnitude_vector"}
_FROM_PEFT = {v: k for k, v in _TO_PEFT.items()}
# Not adapter tensors for peft: our "initialised" flags, and BatchNorm statistics (which
# peft leaves in the base model).
_SKIP = ("adapter_initialized", "running_mean", "running_var", "num_batches_tracked")


def to_peft_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Our adapter state dict (LoRA/DoRA/PiSSA) in peft's saved key format."""
    out = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if leaf in _SKIP:
            continue
        if leaf not in _TO_PEFT:
            raise ValueError(f"{key}: only LoRA, DoRA and PiSSA tensors have a peft equivalent")
        out[f"{PEFT_PREFIX}{module}.{_TO_PEFT[leaf]}"] = value
    return out


def from_peft_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """peft's saved LoRA/DoRA state dict with our key names (no ``adapter_initialized``
    flags: load it with ``load_adapter_state_dict`` into freshly injected adapters)."""
    out = {}
    for key, value in state.items():
        if not key.startswith(PEFT_PREFIX):
            raise ValueError(f"{key}: expected peft keys starting with {PEFT_PREFIX!r}")
        rest = key[len(PEFT_PREFIX):]
        for suffix, ours in _FROM_PEFT.items():
            if rest.endswith("." + suffix):
                out[f"{rest[: -len(suffix) - 1]}.{ours}"] = value
                break
        else:
            raise ValueError(f"{key}: not a LoRA/DoRA tensor")
    return out
