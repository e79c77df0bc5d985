"""The shared base of every adapter layer: a frozen ``nn.Linear`` plus a trainable delta.

An adapter layer *is* an ``nn.Linear`` (subclass) that keeps the wrapped layer's
``weight`` and ``bias`` Parameter objects under the same names, so the model's
state-dict keys do not change and ESPnet's ``--init_param`` (which loads *after*
adapters are created) still finds the pretrained weights.

Life cycle of a layer:

1. construction (``from_linear``): adapter tensors get their shapes and any
   value that does not depend on the pretrained weight (LoRA's Kaiming A, zero B);
2. ``init_from_base()``: values that depend on the pretrained weight (PiSSA factors,
   DoRA magnitude). Runs once per model in ``initialize_adapters`` -- on the first
   forward pass, i.e. after ESPnet has loaded ``--init_param``;
3. ``prepare()``: non-persistent caches rebuilt from the weights (SSVD bases), lazily
   before the first forward and again after every ``load_state_dict``.
"""

from __future__ import annotations

import math
from typing import ClassVar, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from espnet_peft.config import AdapterConfig


class AdapterNotInitializedError(RuntimeError):
    pass


class AdapterLinear(nn.Linear):
    """Base class: ``y = base(x) + delta(x)``; subclasses define the delta."""

    method: ClassVar[str] = ""
    # Names (relative to the layer) of the tensors that make up the adapter; they are
    # what ``adapter_state_dict`` saves and what becomes trainable.
    adapter_tensor_names: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, base: nn.Linear, config: AdapterConfig):
        nn.Module.__init__(self)
        self.in_features = base.in_features
        self.out_features = base.out_features
        self.weight = base.weight
        self.bias = base.bias
        self.config = config
        self.merged = False
        self._prepared = False
        # Persisted "initialised" flag. An integer so that ESPnet's checkpoint averaging
        # (which sums integer tensors instead of averaging them) keeps it non-zero.
        self.register_buffer("adapter_initialized", torch.zeros((), dtype=torch.int64))

    # ----- construction ---------------------------------------------------------
    @classmethod
    def from_linear(cls, base: nn.Linear, config: AdapterConfig, shared: nn.ModuleDict,
                    name: str) -> "AdapterLinear":
        """Build the adapter around ``base``. ``shared`` holds tensors that several
        layers share (S2-LoRA); most methods ignore it."""
        return cls(base, config)

    @property
    def max_rank(self) -> int:
        return min(self.in_features, self.out_features)

    # ----- initialisation -------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return bool(self.adapter_initialized)

    @torch.no_grad()
    def init_from_base(self) -> None:
        """Fill values that depend on the pretrained weight. Default: nothing."""

    @torch.no_grad()
    def prepare(self) -> None:
        """Rebuild non-persistent caches from the current weights. Default: nothing."""

    def _ensure_prepared(self) -> None:
        if not self.initialized:
            raise AdapterNotInitializedError(
                f"{self.method} adapter on a {self.out_features}x{self.in_features} Linear "
                "is used before initialisation: call espnet_peft.initialize_adapters(model) "
                "after the pretrained weights are loaded (a forward pass of the root model "
                "does it automatically)."
            )
        self.prepare()
        self._prepared = True

    def _load_from_state_dict(self, *args, **kwargs):
        # New weights invalidate caches derived from them (SSVD bases).
        self._prepared = False
        super()._load_from_state_dict(*args, **kwargs)

    # ----- the delta -----------------------------------------------------------
    def delta_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def delta_weight(self) -> torch.Tensor:
        """The dense ``out x in`` update this adapter adds to ``weight``."""
        raise NotImplementedError

    def regularization_loss(self) -> Optional[torch.Tensor]:
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._prepared:
            self._ensure_prepared()
        out = F.linear(x, self.weight, self.bias)
        if self.merged:
            return out
        return out + self.delta_forward(x)

    # ----- merge / unmerge -------------------------------------------------------
    @torch.no_grad()
    def merge(self) -> None:
        if self.merged:
            return
        if not self._prepared:
            self._ensure_prepared()
        self._fold_into_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if not self.merged:
            return
        self._unfold_from_weight()
        self.merged = False

    def _fold_into_weight(self) -> None:
        self.weight.data += self.delta_weight().to(self.weight.dtype)

    def _unfold_from_weight(self) -> None:
        self.weight.data -= self.delta_weight().to(self.weight.dtype)

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding the merged weight."""
        self.merge()
        plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                          device=self.weight.device, dtype=self.weight.dtype)
        plain.weight = nn.Parameter(self.weight.data.clone(), requires_grad=False)
        if self.bias is not None:
            plain.bias = nn.Parameter(self.bias.data.clone(), requires_grad=False)
        return plain

    def closed_form_num_params(self) -> int:
        """Trainable parameters this layer adds (shared tensors excluded)."""
        return sum(
            t.numel() for n, t in self.named_parameters(recurse=True)
            if n not in ("weight", "bias")
        )

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"method={self.method}, merged={self.merged}")


def kaiming_uniform_(tensor: torch.Tensor) -> torch.Tensor:
    """The Kaiming-uniform init ``nn.Linear`` (and loralib/peft's lora_A) use."""
    return nn.init.kaiming_uniform_(tensor, a=math.sqrt(5))


def adapter_dropout(p: float) -> nn.Module:
    return nn.Dropout(p) if p > 0 else nn.Identity()
