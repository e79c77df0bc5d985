"""What the package remembers about an adapted model, in one object attached once.

``inject_adapters`` attaches a ``PeftState`` as ``model._peft_state`` (a plain attribute,
not a submodule: it holds no tensors the model computes with); ``merge_and_unload``
removes it whole, so nothing of the adapted model -- the base fingerprint included --
outlives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

import torch.nn as nn

STATE_ATTR = "_peft_state"


@dataclass
class PeftState:
    method: str
    config: Any                    # the method's parsed AdapterConfig
    targets: Tuple[str, ...]       # names of the adapted modules
    in_place: Tuple[str, ...]      # base tensors trained directly (full, BitFit's norm biases)
    pending_init: bool = True      # initialize_adapters still to run (first forward does it)
    # (structure hash, per-tensor table) of the base, taken before any method edits a
    # weight (PiSSA); None until the adapters are initialised.
    base_fingerprint: Optional[Tuple[str, Any]] = field(default=None, repr=False)


def peft_state(model: nn.Module) -> Optional[PeftState]:
    """The model's state, or None for a model without adapters."""
    return model.__dict__.get(STATE_ATTR)


def attach_state(model: nn.Module, state: PeftState) -> None:
    model.__dict__[STATE_ATTR] = state


def remove_state(model: nn.Module) -> None:
    model.__dict__.pop(STATE_ATTR, None)
